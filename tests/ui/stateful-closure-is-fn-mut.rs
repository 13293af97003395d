// A closure with stateful calls steps once per call: it is `FnMut`, not `Fn`, so it is called
// through a `mut` binding and cannot go where an `Fn` is required.
use kalix_expr::kexpr;

fn apply(f: impl Fn(f64) -> f64) -> f64 {
    f(1.0)
}

fn main() {
    apply(kexpr!("steps_since(x)"));
    let f = kexpr!("count_since(x, 0)");
    f(1.0);
}
