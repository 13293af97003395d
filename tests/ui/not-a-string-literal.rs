// The expression must be a string literal: the macro reads it at compile time.
use kalix_expr::kexpr;

fn main() {
    let src = "x + 1";
    let _ = kexpr!(src);
    let _ = kexpr!(42);
    let _ = kexpr!(concat!("x", " + 1"));
    let _ = kexpr!(b"x + 1");
    let _ = kexpr!(|x| src);
    let _ = kexpr!("x"suffix);
    let _ = kexpr!();
}
