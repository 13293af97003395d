// A name the expression uses but the parameter list does not give.
use kalix_expr::kexpr;

fn main() {
    let f = kexpr!(|rain, loss| "rain - lss");
    let _: f64 = f(1.0, 2.0);
    let _ = kexpr!(|data.rain| "data.rian * 2");
    let _ = kexpr!(|| "inf + nan + max");
}
