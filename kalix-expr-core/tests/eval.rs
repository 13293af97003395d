//! Evaluation options, evaluation errors and the single-evaluation rules (offsets, stateful
//! functions). The semantics of every operator and built-in are in the shared case table.

use std::collections::HashMap;

use kalix_expr_core::{DivByZero, DomainErrors, ErrorKind, Expr, MissingVariable, Options};

/// A single evaluation, as a run's first step where the expression reads other steps.
fn eval(src: &str, names: &[&str], values: &[f64]) -> f64 {
    let opts = Options { single_step: true, ..Options::default() };
    Expr::parse(src).unwrap().compile_with(names, &opts).unwrap().eval(values).unwrap()
}

fn eval_with(src: &str, names: &[&str], values: &[f64], opts: &Options) -> Result<f64, kalix_expr_core::Error> {
    Expr::parse(src).unwrap().compile_with(names, opts).unwrap().eval(values)
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn division_by_zero_is_ieee_by_default() {
    assert_eq!(eval("x / 0", &["x"], &[5.0]), f64::INFINITY);
    assert_eq!(eval("x / y", &["x", "y"], &[-5.0, 0.0]), f64::NEG_INFINITY);
    assert!(eval("x / y", &["x", "y"], &[0.0, 0.0]).is_nan());
    assert_eq!(eval("1 / -0", &[], &[]), f64::NEG_INFINITY);
}

#[test]
fn strict_division_reports_the_operation() {
    let opts = Options { div_by_zero: DivByZero::Error, ..Options::default() };
    let err = eval_with("1 + x / y", &["x", "y"], &[1.0, 0.0], &opts).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DivisionByZero);
    assert_eq!(err.span().range(), 4..9);
    assert_eq!(eval_with("x % y", &["x", "y"], &[1.0, 0.0], &opts).unwrap_err().kind(), &ErrorKind::DivisionByZero);
    assert_eq!(eval_with("x / y", &["x", "y"], &[1.0, 2.0], &opts).unwrap(), 0.5);
    // A constant division is not folded away in strict mode: it fails when evaluated.
    let c = Expr::parse("1 / 0").unwrap().compile_with(&[], &opts).unwrap();
    assert_eq!(c.eval(&[]).unwrap_err().kind(), &ErrorKind::DivisionByZero);
}

#[test]
fn nan_division_gives_nan() {
    let opts = Options { div_by_zero: DivByZero::Nan, ..Options::default() };
    assert!(eval_with("x / y", &["x", "y"], &[1.0, 0.0], &opts).unwrap().is_nan());
    assert!(Expr::parse("1 / 0").unwrap().compile_with(&[], &opts).unwrap().eval(&[]).unwrap().is_nan());
    assert_eq!(eval_with("x / y", &["x", "y"], &[1.0, 4.0], &opts).unwrap(), 0.25);
}

#[test]
fn domain_errors_are_nan_or_errors() {
    assert!(eval("sqrt(x)", &["x"], &[-1.0]).is_nan());
    let opts = Options { domain_errors: DomainErrors::Error, ..Options::default() };
    let err = eval_with("2 * sqrt(x)", &["x"], &[-1.0], &opts).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::DomainError { function: "sqrt", arg } if *arg == -1.0));
    assert!(err.to_string().contains("`sqrt` is not defined for -1"), "{err}");
    assert!(matches!(
        eval_with("x ^ (1/3)", &["x"], &[-8.0], &opts).unwrap_err().kind(),
        ErrorKind::DomainError { function: "^", .. }
    ));
    // NaN in, NaN out is not a domain error.
    assert!(eval_with("sqrt(x)", &["x"], &[f64::NAN], &opts).unwrap().is_nan());
    assert_eq!(eval_with("ln(x)", &["x"], &[0.0], &opts).unwrap(), f64::NEG_INFINITY);
}

#[test]
fn names_are_case_sensitive_unless_asked() {
    let e = Expr::parse("Rain + rain").unwrap();
    assert_eq!(e.variables(), vec!["Rain", "rain"]);
    assert!(e.compile(&["rain"]).is_err());
    let c = e.compile_with(&["RAIN"], &Options::model()).unwrap();
    assert_eq!(c.eval(&[2.0]).unwrap(), 4.0);
}

#[test]
fn pi_and_e_are_constants_unless_bound() {
    assert_eq!(eval("pi", &[], &[]), std::f64::consts::PI);
    assert_eq!(eval("e", &[], &[]), std::f64::consts::E);
    assert_eq!(eval("e * 2", &["e"], &[3.0]), 6.0);
    assert_eq!(Expr::parse("2 * pi * r").unwrap().variables(), vec!["r"]);
}

#[test]
fn eval_map_binds_names_at_evaluation() {
    let vars = HashMap::from([("rain".to_string(), 5.0), ("loss".to_string(), 2.0)]);
    assert_eq!(Expr::parse("max(0, rain - loss)").unwrap().eval_map(&vars).unwrap(), 3.0);
    let err = Expr::parse("rain + evap").unwrap().eval_map(&vars).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::VariableMissing { name } if name == "evap"));
    assert_eq!(err.span().range(), 7..11);
    let opts = Options { missing_variable: MissingVariable::Default(10.0), ..Options::default() };
    assert_eq!(Expr::parse("rain + evap").unwrap().eval_map_with(&vars, &opts).unwrap(), 15.0);
    let opts = Options::model();
    assert_eq!(Expr::parse("RAIN").unwrap().eval_map_with(&vars, &opts).unwrap(), 5.0);
}

#[test]
fn too_few_values_is_an_error_not_a_panic() {
    let c = Expr::parse("a + b").unwrap().compile(&["a", "b"]).unwrap();
    assert_eq!(c.eval(&[1.0]).unwrap_err().kind(), &ErrorKind::ValuesMissing { expected: 2, found: 1 });
    assert_eq!(c.eval(&[1.0, 2.0, 3.0]).unwrap(), 3.0);
}

#[test]
fn offsets_in_a_single_evaluation_read_the_default() {
    assert_eq!(eval("x[-1, 7]", &["x"], &[1.0]), 7.0);
    assert!(eval("x[3, nan]", &["x"], &[1.0]).is_nan());
    assert_eq!(eval("x[0, 7]", &["x"], &[1.0]), 1.0);
}

#[test]
fn asserts_stop_evaluation_with_the_statement() {
    let c = Expr::parse("{ a = x - 1; assert(a); assert(a > 0); a }").unwrap().compile(&["x"]).unwrap();
    assert_eq!(c.eval(&[3.0]).unwrap(), 2.0);
    let err = c.eval(&[1.0]).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::AssertFailed { condition: "assert(a)".into(), value: 0.0 });
    let err = c.eval(&[f64::NAN]).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::AssertFailed { value, .. } if value.is_nan()));
    let err = c.eval(&[0.5]).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::AssertFailed { condition, .. } if condition == "assert(a > 0)"));
}

#[test]
fn locals_can_be_reassigned_and_are_case_insensitive() {
    assert_eq!(eval("{ a = x; A = a * 2; a = A + 1; a }", &["x"], &[3.0]), 7.0);
}

#[test]
fn too_many_locals_is_a_clear_error() {
    let stmts: String = (0..65).map(|i| format!("l{i} = {i}; ")).collect();
    let err = Expr::parse(&format!("{{ {stmts} l0 }}")).unwrap().compile(&[]).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::LimitExceeded { .. }));
    let stmts: String = (0..64).map(|i| format!("l{i} = {i}; ")).collect();
    assert_eq!(eval(&format!("{{ {stmts} l63 }}"), &[], &[]), 63.0);
}

#[test]
fn stateful_functions_give_their_first_step_value() {
    // Window pre-filled with the default; running sum `d * n + (x - d)`.
    assert_eq!(eval("moving_sum(x, 3, 1)", &["x"], &[5.0]), 7.0);
    assert_eq!(eval("moving_mean(x, 4, 2)", &["x"], &[6.0]), 3.0);
    // n = 1 recomputes from +0.0, so -0 becomes +0.
    assert!(same(eval("moving_sum(x, 1, 0)", &["x"], &[-0.0]), 0.0));
    assert!(eval("moving_sum(x, 3, 0)", &["x"], &[f64::NAN]).is_nan());
    assert_eq!(eval("moving_min(x, 3, 1)", &["x"], &[5.0]), 1.0);
    assert_eq!(eval("moving_max(x, 3, 1)", &["x"], &[5.0]), 5.0);
    assert_eq!(eval("moving_min(x, 3, 1)", &["x"], &[f64::NAN]), 1.0);
    assert!(eval("moving_max(x, 1, 1)", &["x"], &[f64::NAN]).is_nan());
    // Step 0 with no reset: accumulators start at 0 / -1 / NaN.
    assert!(same(eval("sum_since(x, 0)", &["x"], &[-0.0]), 0.0));
    assert!(same(eval("sum_since(x, 1)", &["x"], &[-0.0]), -0.0));
    assert_eq!(eval("min_since(x, 0)", &["x"], &[4.0]), 4.0);
    assert_eq!(eval("count_since(x > 1, 0)", &["x"], &[4.0]), 1.0);
    assert_eq!(eval("count_since(x, 0)", &["x"], &[f64::NAN]), 1.0);
    assert_eq!(eval("steps_since(x)", &["x"], &[0.0]), 0.0);
}

#[test]
fn calendar_functions_need_a_calendar() {
    let e = Expr::parse("month_at(3)").unwrap();
    assert!(e.check(&Options::default()).is_ok());
    let err = e.compile(&[]).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::CalendarRequired { name } if name == "month_at"));
    assert_eq!(err.span().range(), 0..8);
}

#[test]
fn batch_evaluation_covers_blocks_and_checks_its_columns() {
    let c = Expr::parse("{ a = x * 2; clamp(a, 0, 5) }").unwrap().compile(&["x"]).unwrap();
    let xs = [1.0, 2.0, 3.0, -1.0];
    let mut out = [0.0; 4];
    c.eval_batch(&[&xs], &mut out).unwrap();
    assert_eq!(out, [2.0, 4.0, 5.0, 0.0]);
    let err = c.eval_batch(&[&xs[..2]], &mut out).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::ValuesMissing { expected: 4, found: 2 }));
    assert!(c.eval_batch(&[], &mut out).is_err());
    let strict = Options { div_by_zero: DivByZero::Error, ..Options::default() };
    let c = Expr::parse("1 / x").unwrap().compile_with(&["x"], &strict).unwrap();
    assert_eq!(c.eval_batch(&[&[1.0, 0.0]], &mut [0.0; 2]).unwrap_err().kind(), &ErrorKind::DivisionByZero);
}
