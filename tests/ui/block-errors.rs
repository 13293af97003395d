// Block locals: used before assignment, or given a name a local cannot take.
use kalix_expr::kexpr;

fn main() {
    let _ = kexpr!("{ b = a + 1; a = 2; b }");
    let _ = kexpr!("{ max = 1; max }");
    let _ = kexpr!("{ this = 1; this }");
    let _ = kexpr!("1 + assert(x)");
}
