// A closure with stateful calls owns their state, so unlike a plain `kexpr!` closure it cannot
// coerce to a `fn` pointer.
use kalix_expr::kexpr;

fn main() {
    let _: fn(f64) -> f64 = kexpr!("moving_sum(x, 3, 0)");
}
