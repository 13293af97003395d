// The caret snippet points at the right line of a multi-line expression (a raw string here).
use kalix_expr::kexpr;

fn main() {
    let _ = kexpr!(
        r#"{
    excess = max(0, rain - evap);
    lg10(excess)
}"#
    );
}
