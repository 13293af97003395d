//! `kexpr!`'s contract beyond the case table: parameter order, the closure's type, constants kept
//! bit for bit, failed asserts, and code that compiles without warnings.
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
fn stateful_functions_give_their_first_step() {
    let f = kexpr!("moving_mean(x, 3, 1) + steps_since(x > 5) + count_since(x, 0)");
    let compiled =
        Expr::parse("moving_mean(x, 3, 1) + steps_since(x > 5) + count_since(x, 0)").unwrap().compile(&["x"]).unwrap();
    for x in [4.0, -0.0, f64::NAN, 7.0] {
        let (a, b) = (f(x), compiled.eval(&[x]).unwrap());
        assert!(bits(a) == bits(b) || (a.is_nan() && b.is_nan()), "{x}: {a} vs {b}");
    }
    assert_eq!(f(4.0), (3.0 + 3.0) / 3.0 + 0.0 + 1.0);
}

#[test]
fn usable_in_statics() {
    static RUNOFF: fn(f64, f64) -> f64 = kexpr!("max(0, rain - loss)");
    assert_eq!(RUNOFF(3.0, 1.0), 2.0);
}
