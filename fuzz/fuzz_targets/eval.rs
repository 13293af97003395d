//! Parse, compile and evaluate arbitrary text with arbitrary values, in every option mode and
//! through batch evaluation: never a panic; batch and single evaluation agree bit for bit.
#![no_main]

use kalix_expr_core::{DivByZero, DomainErrors, Expr, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let (head, text) = data.split_at(9);
    let Ok(src) = std::str::from_utf8(text) else { return };
    let Ok(expr) = Expr::parse(src) else { return };
    let names: Vec<String> = expr.variables().iter().map(|s| s.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let value = f64::from_le_bytes(head[1..9].try_into().unwrap_or_default());
    let values = vec![value; names.len()];
    let opts = Options {
        case_insensitive: head[0] & 1 == 1,
        div_by_zero: [DivByZero::Ieee, DivByZero::Error, DivByZero::Nan][usize::from(head[0] >> 1) % 3],
        domain_errors: if head[0] & 8 == 8 { DomainErrors::Error } else { DomainErrors::Nan },
        // Offsets and windows compile only as a single step; otherwise they are an error.
        single_step: head[0] & 16 == 16,
        ..Options::default()
    };
    let Ok(compiled) = expr.compile_with(&names, &opts) else { return };
    let single = compiled.eval(&values);
    let columns: Vec<Vec<f64>> = values.iter().map(|v| vec![*v; 3]).collect();
    let columns: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let mut out = [0.0; 3];
    let batch = compiled.eval_batch(&columns, &mut out);
    match (single, batch) {
        (Ok(a), Ok(())) => assert!(out.iter().all(|b| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("single {a:?} vs batch {b:?} for {src:?}"),
    }
});
