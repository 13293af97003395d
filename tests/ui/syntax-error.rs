// A syntax error is one compile error on the literal, with the caret snippet and help.
use kalix_expr::kexpr;

fn main() {
    let f = kexpr!("max(0, rain");
    let _: f64 = f(1.0);
}
