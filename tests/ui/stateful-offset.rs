// A closure with stateful calls steps through time but keeps no history of its parameters, so
// it cannot read an offset other than `[0, d]`.
use kalix_expr::kexpr;

fn main() {
    let _ = kexpr!("moving_sum(x, 3, 0) - x[-1, 0]");
    let mut f = kexpr!(|x, y| "{ a = y[2, 0]; steps_since(x) + a + x[0, 1] }");
    let _: f64 = f(1.0, 2.0);
}
