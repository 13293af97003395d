//! `ExprSet`: many compiled expressions in one node array give each member's own results and
//! errors, and report misuse (short values, short output, an index past the end) as errors.

use kalix_expr_core::{DivByZero, ErrorKind, Expr, ExprSet, Options};

const NAMES: &[&str] = &["rain", "loss", "month", "x", "y"];

/// Pure members (one shared node array) and impure ones (their own closure trees) mixed.
const SOURCES: &[&str] = &[
    "max(0, rain - loss)",
    "if(month > 10, rain, loss) * 1.5",
    "{ a = rain * 2; b = a - loss; clamp(b, 0, 100) }",
    "abs(sin(x * 0.01) + cos(y * 0.02)) * sqrt(abs(x)) + pow(abs(cos(y * 0.001)), 0.5)",
    "interp(rain, 0, 0, 10, 100, 20, 150)",
    "(y + x / y) * (x - y / x)",
    "sum(x, y, rain, loss, month, 1, 2, 3, 4, 5, 6)",
    "rain[-1, 7] + x",
    "2 * y + 2 * x",
];

fn compile(src: &str, opts: &Options) -> kalix_expr_core::Compiled {
    // Members with offsets are evaluated as a run's first step.
    let opts = Options { single_step: true, ..opts.clone() };
    Expr::parse(src).unwrap().compile_with(NAMES, &opts).unwrap()
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn every_member_gives_its_own_bits_by_eval_all_and_by_index() {
    let opts = Options::default();
    let set: ExprSet = SOURCES.iter().map(|s| compile(s, &opts)).collect();
    let alone: Vec<_> = SOURCES.iter().map(|s| compile(s, &opts)).collect();
    assert_eq!(set.len(), SOURCES.len());
    let mut out = vec![0.0; set.len()];
    for step in 0..200 {
        let t = f64::from(step);
        let values = [t * 0.37 - 20.0, 3.0 - t * 0.01, f64::from(step % 12 + 1), t - 100.0, 0.5 * t - 7.0];
        set.eval_all(&values, &mut out).unwrap();
        for (i, c) in alone.iter().enumerate() {
            let want = c.eval(&values).unwrap();
            assert!(same(out[i], want), "{} at step {step}: set {} vs alone {want}", SOURCES[i], out[i]);
            assert!(same(set.eval(i, &values).unwrap(), want), "{}", SOURCES[i]);
        }
    }
}

#[test]
fn members_keep_their_source_and_names() {
    let mut set = ExprSet::new();
    let i = set.push(compile("x * 2", &Options::default()));
    let j = set.push(compile("{ a = x; a }", &Options::default()));
    assert_eq!((i, j), (0, 1));
    assert_eq!(set.source(1), Some("{ a = x; a }"));
    assert_eq!(set.names(0).map(<[String]>::len), Some(NAMES.len()));
    assert_eq!(set.source(2), None);
    assert_eq!(set.n_slots(), NAMES.len());
    assert!(format!("{set:?}").contains("len: 2"));
}

#[test]
fn an_index_past_the_end_is_an_error() {
    let set: ExprSet = [compile("x", &Options::default())].into_iter().collect();
    let err = set.eval(1, &[0.0; 5]).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::IndexOutOfRange { index: 1, len: 1 });
    assert!(err.to_string().contains("no expression 1 in a set of 1"), "{err}");
    assert!(ExprSet::new().eval(0, &[]).is_err());
}

#[test]
fn too_few_values_is_the_members_error_and_nothing_is_written() {
    let set: ExprSet = ["x + 1", "y + 1"].iter().map(|s| compile(s, &Options::default())).collect();
    let mut out = vec![-1.0; 2];
    let err = set.eval_all(&[1.0, 2.0], &mut out).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::ValuesMissing { expected: NAMES.len(), found: 2 });
    assert!(err.to_string().contains("the slots are"), "{err}");
    assert_eq!(out, [-1.0, -1.0]);
    // One member alone: the same error as its `Compiled::eval`.
    let alone = compile("x + 1", &Options::default()).eval(&[1.0]).unwrap_err();
    assert_eq!(set.eval(0, &[1.0]).unwrap_err().kind(), alone.kind());
}

#[test]
fn a_short_output_is_an_error_before_anything_runs() {
    let set: ExprSet = SOURCES.iter().map(|s| compile(s, &Options::default())).collect();
    let mut out = vec![-1.0; 3];
    let err = set.eval_all(&[1.0; 5], &mut out).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::OutputTooShort { expected: SOURCES.len(), found: 3 });
    assert!(err.to_string().contains("help: give `out` one place per member"), "{err}");
    assert_eq!(out, [-1.0; 3]);
    // A longer output is fine: the places past the set are left alone.
    let mut long = vec![-1.0; SOURCES.len() + 2];
    set.eval_all(&[1.0; 5], &mut long).unwrap();
    assert_eq!(long[SOURCES.len()..], [-1.0, -1.0]);
}

#[test]
fn a_failing_member_stops_the_pass_with_its_error() {
    let strict = Options { div_by_zero: DivByZero::Error, ..Options::default() };
    let mut set = ExprSet::new();
    set.push(compile("x + 1", &Options::default()));
    set.push(compile("rain / loss", &strict));
    set.push(compile("y + 1", &Options::default()));
    let mut out = vec![-1.0; 3];
    let err = set.eval_all(&[1.0, 0.0, 0.0, 4.0, 5.0], &mut out).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DivisionByZero);
    assert!(err.to_string().contains("rain / loss"), "{err}");
    assert_eq!(out, [5.0, -1.0, -1.0]);
    set.eval_all(&[1.0, 2.0, 0.0, 4.0, 5.0], &mut out).unwrap();
    assert_eq!(out, [5.0, 0.5, 6.0]);
}

#[test]
fn an_empty_set_evaluates_to_nothing() {
    let set = ExprSet::new();
    assert!(set.is_empty());
    set.eval_all(&[], &mut []).unwrap();
}

#[test]
fn thousands_of_members_each_give_their_own_value() {
    // Distinct constants, so a member reading another's nodes would show.
    let mut set = ExprSet::new();
    set.extend((0..5_000).map(|i| compile(&format!("x * {i} + sin(y + {i})"), &Options::default())));
    let mut out = vec![0.0; set.len()];
    set.eval_all(&[2.0, 0.0, 0.0, 3.0, 0.5], &mut out).unwrap();
    for (i, v) in out.iter().enumerate() {
        let k = i as f64;
        assert_eq!(*v, 3.0 * k + (0.5 + k).sin(), "member {i}");
    }
}
