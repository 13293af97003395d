// Offsets the namespace rules forbid.
use kalix_expr::kexpr;

fn main() {
    let _ = kexpr!(|const.k| "const.k[-1, 0]");
    let _ = kexpr!(|sim.month| "sim.month[-1, 0]");
    let _ = kexpr!(|node.a.dsflow| "node.a.dsflow[1, 0]");
    let _ = kexpr!("{ a = 1; a[-1, 0] }");
}
