// Parameter lists that are not `|name, data.name, …|`.
use kalix_expr::kexpr;

fn main() {
    let _ = kexpr!(|a b| "a + b");
    let _ = kexpr!(|a, a| "a");
    let _ = kexpr!(|1| "1");
    let _ = kexpr!(|data.| "data");
    let _ = kexpr!(|a..b| "a");
    let _ = kexpr!(|"a"| "a");
    let _ = kexpr!(|a|);
    let _ = kexpr!(|a| "a" "b");
}
