// Every name error of an expression is reported at once, and the macro still stands for a
// closure of the declared arity, so the code around it gets no follow-up errors.
use kalix_expr::kexpr;

fn takes_two(f: impl Fn(f64, f64) -> f64) -> f64 {
    f(1.0, 2.0)
}

fn main() {
    let f = kexpr!(|rain, loss| "max(0, lg10(rian) - sin(loss, 2)) + avrage(y)");
    let _: f64 = f(1.0, 2.0);
    takes_two(f);
    // Without a parameter list the arity is that of the variables found.
    let g = kexpr!("lg10(rain) + loss");
    let _: f64 = g(1.0, 2.0);
    // A syntax error in the bare form leaves the arity unknown: the error stands for any type.
    let h = kexpr!("rain +");
    let _: f64 = h(1.0, 2.0, 3.0);
}
