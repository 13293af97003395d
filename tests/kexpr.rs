//! `kexpr!`'s contract beyond the case tables: parameter order, the closure's type (plain or
//! stepping), constants kept bit for bit, failed asserts, and code that compiles without
//! warnings.
#![cfg(feature = "macro")]
#![deny(warnings)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use kalix_expr::{kexpr, Expr};

fn bits(x: f64) -> u64 {
    x.to_bits()
}

#[test]
fn bare_form_takes_the_variables_in_order_of_first_appearance() {
    // `rain` appears first, so it is the first parameter.
    let f = kexpr!("max(0, rain - loss)");
    assert_eq!(f(5.0, 2.0), 3.0);
    assert_eq!(f(2.0, 5.0), 0.0);
    // The order is that of `Expr::variables`: each name once, locals and `pi`/`e` left out,
    // offsets counted where they appear.
    let src = "{ a = z * pi; a + y[-1, 0] + x + z + e }";
    assert_eq!(Expr::parse(src).unwrap().variables(), ["z", "y", "x"]);
    let g = kexpr!("{ a = z * pi; a + y[-1, 0] + x + z + e }");
    assert_eq!(g(1.0, 100.0, 10.0), 1.0 * std::f64::consts::PI + 0.0 + 10.0 + 1.0 + std::f64::consts::E);
    let h = kexpr!("b * 10 + a - b");
    assert_eq!(h(1.0, 2.0), 1.0 * 10.0 + 2.0 - 1.0);
}

#[test]
fn header_form_takes_the_parameters_in_the_order_written() {
    let f = kexpr!(|loss, rain| "max(0, rain - loss)");
    assert_eq!(f(2.0, 5.0), 3.0);
    let g = kexpr!(|sim.month, data.rain| "if(sim.month > 10, data.rain, 0)");
    assert_eq!(g(11.0, 4.0), 4.0);
    assert_eq!(g(4.0, 11.0), 0.0);
}

#[test]
fn listed_but_unused_parameters_are_taken_and_ignored() {
    // `#![deny(warnings)]` above: no unused-variable warning reaches the caller.
    let f = kexpr!(|a, b, c| "b * 2");
    assert_eq!(f(f64::NAN, 3.0, f64::NAN), 6.0);
    let g = kexpr!(|x| "1 + 2");
    assert_eq!(g(5.0), 3.0);
    let h = kexpr!(|| "1 + 2");
    assert_eq!(h(), 3.0);
}

#[test]
fn the_closure_is_a_plain_fn_of_f64() {
    fn apply2(f: impl Fn(f64, f64) -> f64) -> f64 {
        f(1.0, 2.0)
    }
    fn apply_mut(mut f: impl FnMut(f64) -> f64) -> f64 {
        f(1.0)
    }
    assert_eq!(apply2(kexpr!("a + b")), 3.0);
    assert_eq!(apply_mut(kexpr!("a * 4")), 4.0);
    // It captures nothing, so it is `Copy`, `Send`, `Sync` and coerces to a function pointer.
    let f = kexpr!("x ^ 2");
    let copy = f;
    let pointer: fn(f64) -> f64 = f;
    assert_eq!(copy(3.0) + pointer(3.0), 18.0);
    fn send_sync<T: Send + Sync + Copy + 'static>(_: &T) {}
    send_sync(&f);
    let table: [fn(f64) -> f64; 2] = [kexpr!("x + 1"), kexpr!("x * 2")];
    assert_eq!(table.iter().map(|g| g(3.0)).sum::<f64>(), 10.0);
    // Called in place.
    assert_eq!(kexpr!("x - 1")(1.0), 0.0);
}

#[test]
fn constants_keep_their_bits() {
    assert_eq!(bits(kexpr!("-0")()), bits(-0.0));
    assert_eq!(bits(kexpr!("0 * -1")()), bits(-0.0));
    assert_eq!(kexpr!("1e400")(), f64::INFINITY);
    assert_eq!(kexpr!("-1e400")(), f64::NEG_INFINITY);
    assert!(kexpr!("0/0")().is_nan());
    assert_eq!(bits(kexpr!("5e-324")()), 1);
    assert_eq!(kexpr!("1.7976931348623157e308")(), f64::MAX);
    assert_eq!(kexpr!("0.1")(), 0.1);
    assert_eq!(bits(kexpr!("x[-1, -0]")(1.0)), bits(-0.0));
    assert!(kexpr!("x[1, nan]")(1.0).is_nan());
}

#[test]
fn a_failed_assert_panics_with_the_interpreters_message() {
    let src = "{ a = x * 2; assert(a > 0); assert(x != 3); a }";
    let f = kexpr!("{ a = x * 2; assert(a > 0); assert(x != 3); a }");
    let compiled = Expr::parse(src).unwrap().compile(&["x"]).unwrap();
    assert_eq!(f(1.0), 2.0);
    for x in [-1.0, 0.0, -0.0, f64::NAN, 3.0] {
        let expected = compiled.eval(&[x]).unwrap_err().to_string();
        let payload = catch_unwind(AssertUnwindSafe(|| f(x))).unwrap_err();
        let message = payload.downcast_ref::<String>().expect("a formatted panic message");
        assert_eq!(message, &expected, "x = {x}");
    }
    let first = catch_unwind(|| f(-1.0)).unwrap_err();
    assert_eq!(
        first.downcast_ref::<String>().unwrap(),
        "error: assertion failed: `assert(a > 0)` is 0\n --> 1:14\n  |\n1 | { a = x * 2; assert(a > 0); assert(x != 3); a }\n  |              ^^^^^^^^^^^^^"
    );
}

#[test]
fn an_assert_that_holds_costs_nothing_visible() {
    let f = kexpr!("{ assert(x); x }");
    assert_eq!(f(0.5), 0.5);
    // NaN is true in a condition but fails an assert.
    let g = kexpr!("if(x, 1, 2)");
    assert_eq!(g(f64::NAN), 1.0);
    assert!(catch_unwind(|| f(f64::NAN)).is_err());
}

#[test]
fn a_calendar_call_that_constant_folding_removes_is_no_error() {
    let f = kexpr!("if(1, x, month_at(3))");
    assert_eq!(f(2.0), 2.0);
}

#[test]
fn raw_strings_and_escapes_are_read_as_their_value() {
    let f = kexpr!(
        r#"{
        excess = max(0, rain - evap);
        excess * 0.5
    }"#
    );
    assert_eq!(f(10.0, 4.0), 3.0);
    let g = kexpr!("x\t+\u{a0}1");
    assert_eq!(g(1.0), 2.0);
}

#[test]
fn a_stateful_closure_starts_at_step_0_and_steps_once_per_call() {
    let src = "moving_mean(x, 3, 1) + steps_since(x > 5) + count_since(x, 0)";
    let single_step = kalix_expr::Options { single_step: true, ..Default::default() };
    let compiled = Expr::parse(src).unwrap().compile_with(&["x"], &single_step).unwrap();
    // The first call of a fresh closure is `Compiled::eval`'s single evaluation.
    for x in [4.0, -0.0, f64::NAN, 7.0] {
        let mut f = kexpr!("moving_mean(x, 3, 1) + steps_since(x > 5) + count_since(x, 0)");
        let (a, b) = (f(x), compiled.eval(&[x]).unwrap());
        assert!(bits(a) == bits(b) || (a.is_nan() && b.is_nan()), "{x}: {a} vs {b}");
    }
    let mut f = kexpr!("moving_mean(x, 3, 1) + steps_since(x > 5) + count_since(x, 0)");
    assert_eq!(f(4.0), (1.0 + 1.0 + 4.0) / 3.0 + 0.0 + 1.0);
    assert_eq!(f(0.0), (1.0 + 4.0 + 0.0) / 3.0 + 1.0 + 1.0);
    assert_eq!(f(6.0), (4.0 + 0.0 + 6.0) / 3.0 + 0.0 + 2.0);
    assert_eq!(f(3.0), (0.0 + 6.0 + 3.0) / 3.0 + 1.0 + 3.0);
}

#[test]
fn a_stateful_closure_is_fn_mut_clone_and_send_and_owns_its_state() {
    fn run(mut f: impl FnMut(f64) -> f64, xs: &[f64]) -> Vec<f64> {
        xs.iter().map(|&x| f(x)).collect()
    }
    fn clone_send<T: Clone + Send + 'static>(_: &T) {}
    let mut sum2 = kexpr!("moving_sum(x, 2, 0)");
    clone_send(&sum2);
    assert_eq!(sum2(1.0), 1.0);
    // A clone continues the run from here, independently of the original.
    let mut fork = sum2.clone();
    assert_eq!(sum2(2.0), 3.0);
    assert_eq!(fork(10.0), 11.0);
    assert_eq!(sum2(3.0), 5.0);
    // Each evaluation of `kexpr!` is a fresh run.
    fn fresh() -> impl FnMut(f64) -> f64 {
        kexpr!("moving_sum(x, 2, 0)")
    }
    assert_eq!(run(fresh(), &[1.0, 2.0, 3.0]), [1.0, 3.0, 5.0]);
    assert_eq!(run(fresh(), &[1.0, 2.0, 3.0]), [1.0, 3.0, 5.0]);
    let runs: Vec<Vec<f64>> = (0..2).map(|_| run(kexpr!("steps_since(x)"), &[1.0, 0.0, 0.0])).collect();
    assert_eq!(runs, [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]);
    // Boxed, as a host would keep several.
    let mut boxed: Vec<Box<dyn FnMut(f64, f64) -> f64>> =
        vec![Box::new(kexpr!("sum_since(x, r)")), Box::new(kexpr!("x + r")), Box::new(kexpr!("count_since(x, r)"))];
    let first: Vec<f64> = boxed.iter_mut().map(|f| f(2.0, 0.0)).collect();
    let second: Vec<f64> = boxed.iter_mut().map(|f| f(3.0, 0.0)).collect();
    assert_eq!((first, second), (vec![2.0, 2.0, 1.0], vec![5.0, 3.0, 2.0]));
}

#[test]
fn stateful_calls_that_constant_folding_removes_leave_a_plain_fn() {
    // The untaken branch of a constant condition is never resolved, so no state is left.
    let f: fn(f64) -> f64 = kexpr!("if(1, x, moving_sum(x, 3, 0))");
    assert_eq!(f(2.0), 2.0);
    // Without stateful calls, an offset reads its default, as in `Compiled::eval`.
    let g: fn(f64) -> f64 = kexpr!("x - x[-1, 0.5]");
    assert_eq!((g(2.0), g(2.0)), (1.5, 1.5));
}

#[test]
fn a_stateful_closure_advances_every_branch_each_step() {
    // The window fills on every step, whichever branch is taken.
    let mut f = kexpr!(|c, x| "if(c, moving_sum(x, 3, 0), -1)");
    assert_eq!([f(0.0, 1.0), f(0.0, 2.0), f(1.0, 3.0)], [-1.0, -1.0, 6.0]);
    let mut g = kexpr!(|c, r| "c && steps_since(r) > 1 || c || count_since(1, r) > 1");
    assert_eq!([g(0.0, 1.0), g(0.0, 0.0), g(1.0, 0.0)], [0.0, 1.0, 1.0]);
}

#[test]
fn a_failed_assert_in_a_stepping_closure_has_the_interpreters_message() {
    let src = "{ m = moving_max(x, 2, 0);\n  assert(m >\n 1); m }";
    let single_step = kalix_expr::Options { single_step: true, ..Default::default() };
    let compiled = Expr::parse(src).unwrap().compile_with(&["x"], &single_step).unwrap();
    let expected = compiled.eval(&[0.5]).unwrap_err().to_string();
    let mut f = kexpr!("{ m = moving_max(x, 2, 0);\n  assert(m >\n 1); m }");
    assert_eq!(f(3.0), 3.0);
    assert_eq!(f(0.0), 3.0);
    let payload = catch_unwind(AssertUnwindSafe(|| kexpr!("{ m = moving_max(x, 2, 0);\n  assert(m >\n 1); m }")(0.5)))
        .unwrap_err();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), &expected);
    assert!(expected.starts_with("error: assertion failed: `assert(m >\n 1)` is 0\n --> 2:3"), "{expected}");
}

#[test]
fn usable_in_statics() {
    static RUNOFF: fn(f64, f64) -> f64 = kexpr!("max(0, rain - loss)");
    assert_eq!(RUNOFF(3.0, 1.0), 2.0);
}
