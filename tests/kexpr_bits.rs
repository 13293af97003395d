//! `kexpr!` closures give the interpreter's bits on every input, not only on the case table:
//! every built-in and operator, each argument a parameter or a literal, over a dense grid and
//! random values (subnormals, ±0, ±inf, NaN, huge and tiny magnitudes).
//!
//! A literal argument is where rustc's optimiser is tempted: given `powf(x, 2.0)` it may
//! compute `x * x`, given `powf(2.0, x)` an `exp2`, given `powf(x, 0.5)` a square root, and
//! those round differently from the library call the interpreter (and Kalix) makes.
#![cfg(feature = "macro")]

use kalix_expr::{kexpr, Expr};
use proptest::prelude::*;

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// A case: its source and the closure `kexpr!` made of it.
type Case<F> = (&'static str, Box<F>);

/// Every case: its source and the closure `kexpr!` made of it (one parameter, `x`).
macro_rules! cases {
    ($($src:literal),* $(,)?) => {
        vec![$(($src, Box::new(kexpr!(|x| $src)) as Box<dyn Fn(f64) -> f64>)),*]
    };
}

fn one_parameter_cases() -> Vec<Case<dyn Fn(f64) -> f64>> {
    cases![
        // Powers with a literal exponent or base: each one an optimiser rewrite to rule out.
        "x ^ 2",
        "x ** 2",
        "pow(x, 2)",
        "x ^ 3",
        "x ^ 4",
        "x ^ 0.5",
        "pow(x, 0.5)",
        "x ^ -1",
        "x ^ -2",
        "x ^ -0.5",
        "x ^ 1",
        "x ^ 0",
        "x ^ 1.5",
        "x ^ 10",
        "x ^ 0.25",
        "x ^ (1/3)",
        "2 ^ x",
        "pow(2, x)",
        "10 ^ x",
        "pow(10, x)",
        "0.5 ^ x",
        "4 ^ x",
        "1024 ^ x",
        "e ^ x",
        "pi ^ x",
        "1.0001 ^ x",
        "(-2) ^ x",
        "0 ^ x",
        "1 ^ x",
        // Two-argument functions with one literal.
        "atan2(x, 1)",
        "atan2(1, x)",
        "atan2(x, -1)",
        "atan2(0, x)",
        "atan2(x, 0)",
        // One-argument functions of a parameter, and of a parameter scaled by literals.
        "abs(x)",
        "sqrt(x)",
        "exp(x)",
        "ln(x)",
        "log10(x)",
        "log2(x)",
        "sin(x)",
        "cos(x)",
        "tan(x)",
        "asin(x)",
        "acos(x)",
        "atan(x)",
        "ceil(x)",
        "floor(x)",
        "round(x)",
        "sign(x)",
        "is_leap_year(x)",
        "exp(2 * x)",
        "exp(x) - 1",
        "ln(1 + x)",
        "ln(x) / ln(2)",
        "log10(x * 1000)",
        "sqrt(x * x)",
        "sin(x) * sin(x) + cos(x) * cos(x)",
        "sin(x) / cos(x)",
        "exp(ln(x))",
        "ln(exp(x))",
        "sqrt(x) * sqrt(x)",
        "exp(x) * exp(x)",
        "1 / sqrt(x)",
        "x / 10",
        "x / 3",
        "x * 0.1",
        "x % 2",
        "x % 0.3",
        "2 % x",
        "-x % 3",
        // Operators with a literal side.
        "x + 0",
        "x - 0",
        "0 - x",
        "x * 1",
        "x * -1",
        "x / 1",
        "x / -1",
        "1 / x",
        "0 / x",
        "x == 0.3",
        "x != 0.1",
        "x < 1",
        "x >= -2",
        "!x",
        "-x",
        "x && 1",
        "x || 0",
        // Folds and the rest of the table with literals.
        "min(x, 1)",
        "max(x, 1)",
        "min(x, 0, -0)",
        "max(-0, x)",
        "sum(x, 0.1, 0.2)",
        "mean(x, 1, 2)",
        "avg(x, 3)",
        "clamp(x, -1, 1)",
        "clamp(2, x, 1)",
        "interp(x, 0, 0, 10, 100)",
        "interp(5, x, 0, 10, 100)",
        "if(x, 1, 2)",
        "if(x > 0, sqrt(x), x ^ 2)",
    ]
}

fn two_parameter_cases() -> Vec<Case<dyn Fn(f64, f64) -> f64>> {
    macro_rules! cases2 {
        ($($src:literal),* $(,)?) => {
            vec![$(($src, Box::new(kexpr!(|x, y| $src)) as Box<dyn Fn(f64, f64) -> f64>)),*]
        };
    }
    cases2![
        "x ^ y",
        "pow(x, y)",
        "atan2(x, y)",
        "x % y",
        "x / y",
        "min(x, y)",
        "max(x, y)",
        "clamp(x, y, 1)",
        "x == y",
        "x != y",
    ]
}

/// A dense grid over [-100, 100], every special value, and magnitudes from subnormal to huge.
fn grid() -> Vec<f64> {
    let mut xs: Vec<f64> = (-100_000..=100_000).map(|i| i as f64 * 0.001).collect();
    xs.extend((0..2000).map(|i| (i as f64 * 0.37).sin() * 1e-3));
    xs.extend([
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 4.0,
        5e-324,
        -5e-324,
        f64::MAX,
        f64::MIN,
        1e300,
        -1e300,
        1e-300,
        0.5,
        -0.5,
        1.0,
        -1.0,
        2.0,
        1e16,
        -1e16,
    ]);
    xs
}

fn interpreter(src: &str, names: &[&str]) -> kalix_expr::Compiled {
    let opts = kalix_expr::Options { engine: kalix_expr::Engine::Interpreter, ..Default::default() };
    Expr::parse(src).unwrap().compile_with(names, &opts).unwrap()
}

#[test]
fn one_parameter_closures_give_the_interpreters_bits_on_a_dense_grid() {
    let xs = grid();
    let mut wrong = Vec::new();
    for (src, f) in one_parameter_cases() {
        let c = interpreter(src, &["x"]);
        let bad = xs.iter().filter(|&&x| !same(f(x), c.eval(&[x]).unwrap())).count();
        if bad > 0 {
            let x = xs.iter().copied().find(|&x| !same(f(x), c.eval(&[x]).unwrap())).unwrap();
            wrong.push(format!("`{src}`: {bad} of {} differ, first at x = {x:e}", xs.len()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn two_parameter_closures_give_the_interpreters_bits_on_a_grid() {
    let xs: Vec<f64> = grid().into_iter().step_by(97).collect();
    let ys: Vec<f64> = grid().into_iter().step_by(389).collect();
    for (src, f) in two_parameter_cases() {
        let c = interpreter(src, &["x", "y"]);
        for &x in &xs {
            for &y in &ys {
                let (a, b) = (f(x, y), c.eval(&[x, y]).unwrap());
                assert!(same(a, b), "`{src}` at ({x:e}, {y:e}): closure {a:e}, interpreter {b:e}");
            }
        }
    }
}

/// Any `f64`, from its bits: subnormals, NaNs with payloads and infinities included.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![any::<u64>().prop_map(f64::from_bits), -1e3..1e3f64, -1.0..1.0f64]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn closures_give_the_interpreters_bits_on_random_values(x in any_f64()) {
        for (src, f) in one_parameter_cases() {
            let c = interpreter(src, &["x"]);
            let (a, b) = (f(x), c.eval(&[x]).unwrap());
            prop_assert!(same(a, b), "`{}` at x = {:e}: closure {:e}, interpreter {:e}", src, x, a, b);
        }
    }
}
