//! Batch evaluation of expressions that call user and native functions: a `Compiled` keeps its
//! resolved form, so the batch program sees the same calls as single evaluation and gives the
//! same bits.

use std::sync::Arc;

use kalix_expr_core::{Expr, FnDef, Functions, Host, NativeFn, Options};

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn check(src: &str, host: &Host<'_>) {
    let c = Expr::parse(src).unwrap().compile_with_host(&["x", "y"], host, &Options::default()).unwrap();
    let x: Vec<f64> = (0..300).map(|i| (i as f64 - 150.0) * 0.37).collect();
    let y: Vec<f64> = (0..300).map(|i| if i % 17 == 0 { f64::NAN } else { (i as f64).sin() * 9.0 }).collect();
    let mut out = vec![0.0; x.len()];
    c.eval_batch(&[&x, &y], &mut out).unwrap();
    for i in 0..x.len() {
        let one = c.eval(&[x[i], y[i]]).unwrap();
        assert!(same(out[i], one), "{src} at row {i}: batch {} vs eval {one}", out[i]);
    }
}

#[test]
fn batch_with_a_native_function_gives_the_single_evaluation_bits() {
    let natives = [Arc::new(NativeFn::pure("scale", 2, |a| a[0] * 1.5 - a[1]).unwrap())];
    let host = Host { natives: &natives, ..Host::default() };
    check("max(0, scale(x, y)) + scale(y, 2)", &host);
}

#[test]
fn batch_with_a_user_function_gives_the_single_evaluation_bits() {
    let functions = Functions::new(vec![FnDef::parse("half(v)", "v / 2").unwrap()]).unwrap();
    let host = Host { functions: Some(&functions), ..Host::default() };
    check("fn.half(x) - min(y, fn.half(y))", &host);
}

#[test]
fn an_impure_native_is_called_once_per_row_in_order() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let natives = [Arc::new(NativeFn::impure("tick", 0, move |_| seen.fetch_add(1, Ordering::SeqCst) as f64).unwrap())];
    let host = Host { natives: &natives, ..Host::default() };
    let c = Expr::parse("x + tick()").unwrap().compile_with_host(&["x"], &host, &Options::default()).unwrap();
    let x = vec![10.0; 5];
    let mut out = vec![0.0; 5];
    c.eval_batch(&[&x], &mut out).unwrap();
    assert_eq!(out, [10.0, 11.0, 12.0, 13.0, 14.0]);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}
