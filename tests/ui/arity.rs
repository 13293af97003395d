// Calls with the wrong number of arguments.
use kalix_expr::kexpr;

fn main() {
    let _ = kexpr!("sin(x, y)");
    let _ = kexpr!("max(1)");
    let _ = kexpr!("interp(x, 0, 0, 1)");
    let _ = kexpr!("{ assert(1, 2); 3 }");
}
