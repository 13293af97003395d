//! A compiled expression is `Send + Sync` and gives the same results from many threads at once.

use std::sync::Arc;

use kalix_expr_core::{Compiled, Expr};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn compiled_expressions_are_send_and_sync() {
    assert_send_sync::<Compiled>();
    assert_send_sync::<Expr>();
}

#[test]
fn eight_threads_agree_with_one_bit_for_bit() {
    let src = "{ a = sin(x * 0.01) * 100; b = if(a > 0, sqrt(a), -a ^ 1.5); clamp(b + y % 7, -50, 50) }";
    let compiled = Arc::new(Expr::parse(src).unwrap().compile(&["x", "y"]).unwrap());
    let run = |c: &Compiled| -> Vec<u64> {
        (0..20_000).map(|i| c.eval(&[i as f64, (i * 7) as f64]).unwrap().to_bits()).collect()
    };
    let expected = run(&compiled);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let c = Arc::clone(&compiled);
            std::thread::spawn(move || run(&c))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), expected);
    }
}
