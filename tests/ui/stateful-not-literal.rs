// A moving window's length and pre-fill must be literals.
use kalix_expr::kexpr;

fn main() {
    let _ = kexpr!("moving_mean(x, n, 0)");
    let _ = kexpr!("moving_sum(x, 0, 0)");
    let _ = kexpr!("moving_max(x, 3, d)");
}
