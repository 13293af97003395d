//! The JIT against the interpreter: arbitrary text compiled by both engines and evaluated with
//! arbitrary values (each variable its own), under the default and strict options; never a
//! crash, never another bit, never another error.
#![no_main]

use kalix_expr_core::{DivByZero, DomainErrors, Engine, Expr, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 25 {
        return;
    }
    let (head, text) = data.split_at(24);
    let Ok(src) = std::str::from_utf8(text) else { return };
    let Ok(expr) = Expr::parse(src) else { return };
    let names: Vec<String> = expr.variables().iter().map(|s| s.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let seeds: Vec<f64> = head.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default())).collect();
    let values: Vec<f64> = (0..names.len()).map(|i| seeds[i % seeds.len()]).collect();
    let strict = Options { div_by_zero: DivByZero::Error, domain_errors: DomainErrors::Error, ..Options::default() };
    // Under the default options, and under strict ones, where the native code bails to the
    // interpreter on a division by zero or a NaN and the error must be the interpreter's.
    for opts in [Options::default(), strict] {
        let interp_opts = Options { engine: Engine::Interpreter, ..opts.clone() };
        let Ok(interp) = expr.compile_with(&names, &interp_opts) else { return };
        let jit = Options { engine: Engine::Jit, ..opts };
        let Ok(native) = expr.compile_with(&names, &jit) else {
            panic!("the JIT refused what the interpreter compiled: {src:?}")
        };
        let _ = native.jit_now(); // native code at once, not after the warm-up
        match (interp.eval(&values), native.eval(&values)) {
            (Ok(a), Ok(b)) => {
                assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{src:?} {values:?}: {a} vs JIT {b}")
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{src:?} {values:?}"),
            (a, b) => panic!("{src:?} {values:?}: {a:?} vs JIT {b:?}"),
        }
    }
});
