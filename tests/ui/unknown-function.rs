// An unknown function, with the nearest known name as help.
use kalix_expr::kexpr;

fn main() {
    let f = kexpr!("max(0, lg10(x))");
    let _: f64 = f(1.0);
    let _ = kexpr!("log(x)");
    let _ = kexpr!("average(x, 1)");
}
