// Calendar functions need the stepping runtime's simulation date: the interpreter's error.
use kalix_expr::kexpr;

fn main() {
    let f = kexpr!("month_at(3)");
    let _: f64 = f();
    let _ = kexpr!(|x| "days_in_month_at(x) + month_at(x + 1)");
}
