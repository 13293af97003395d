//! Limits that hold (issue: hostile input): each hostile input gives a clear error or a correct
//! result. Timings and memory are measured by `cargo run --release --example limits` and written
//! down in LIMITS.md; these tests assert behaviour only.

use kalix_expr_core::{Calendar, Date, ErrorKind, Expr, Model, ParseOptions, Table};

fn unlimited_len() -> ParseOptions {
    ParseOptions { max_len: usize::MAX, ..ParseOptions::default() }
}

#[test]
fn nested_parentheses_hit_the_nesting_limit() {
    let src = "(".repeat(100_000) + "1" + &")".repeat(100_000);
    let err = Expr::parse_with(&src, &unlimited_len()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NestLimitExceeded { limit: 256 });
    assert_eq!(err.span().start, 256);
}

#[test]
fn a_million_term_sum_is_refused_by_length_then_depth() {
    let src = vec!["1"; 1_000_000].join("+");
    assert!(matches!(Expr::parse(&src).unwrap_err().kind(), ErrorKind::LengthLimitExceeded { .. }));
    assert_eq!(
        Expr::parse_with(&src, &unlimited_len()).unwrap_err().kind(),
        &ErrorKind::DepthLimitExceeded { limit: 1024 }
    );
}

#[test]
fn a_million_argument_sum_call_is_correct_when_the_length_limit_allows_it() {
    let src = format!("sum({})", vec!["1"; 1_000_000].join(","));
    let expr = Expr::parse_with(&src, &unlimited_len()).unwrap();
    assert_eq!(expr.compile(&[]).unwrap().eval(&[]).unwrap(), 1e6);
    let src = format!("sum({})", vec!["x"; 100_000].join(","));
    let c = Expr::parse_with(&src, &unlimited_len()).unwrap().compile(&["x"]).unwrap();
    assert_eq!(c.eval(&[0.5]).unwrap(), 50_000.0);
}

#[test]
fn a_ten_megabyte_string_is_refused_quickly() {
    let src = "x".repeat(10 << 20);
    let err = Expr::parse(&src).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::LengthLimitExceeded { len, limit: 65_536 } if *len == 10 << 20));
    assert!(err.to_string().lines().all(|l| l.len() < 200));
}

#[test]
fn a_million_row_table_interpolates_correctly() {
    let cells: Vec<String> = (0..1_000_000).flat_map(|i| [i.to_string(), (i * 2).to_string()]).collect();
    let table = Table::from_cells("big", &cells, 2).unwrap();
    assert_eq!(table.lookup1(123_456.5), 246_913.0);
    let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    model.table(table);
    model.series("var.b.v", Expr::parse("table.big(sim.step * 1000 + 0.25)").unwrap());
    let out = model.compile().unwrap().run(&[], 3).unwrap();
    assert_eq!(out.column_at(0), &[0.5, 2000.5, 4000.5]);
}

#[test]
fn a_table_over_the_cell_limit_is_refused() {
    let cells = vec!["1"; Table::MAX_CELLS + 2];
    assert!(Table::from_cells("huge", &cells, 2).is_err());
}

#[test]
fn deep_unary_chains_hit_the_depth_limit() {
    let src = "-".repeat(100_000) + "x";
    let err = Expr::parse_with(&src, &unlimited_len()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DepthLimitExceeded { limit: 1024 });
}

#[test]
fn expressions_up_to_the_limits_compile_and_evaluate_on_a_small_stack() {
    // 256 nested calls and a 1000-deep chain, compiled and evaluated on a 1 MiB thread (half of
    // what `std::thread::spawn` gives), in a debug build.
    let nested = "abs(".repeat(250) + "x" + &")".repeat(250);
    let chain = vec!["x"; 1000].join("-");
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let a = Expr::parse(&nested).unwrap().compile(&["x"]).unwrap().eval(&[-2.0]).unwrap();
            let b = Expr::parse(&chain).unwrap().compile(&["x"]).unwrap().eval(&[1.0]).unwrap();
            (a, b)
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), (2.0, -998.0));
}

#[test]
fn ten_thousand_chained_functions_give_one_clear_error() {
    use kalix_expr_core::{FnDef, Functions};
    let n = 10_000;
    let defs: Vec<FnDef> = (0..n)
        .map(|i| {
            let body = if i + 1 < n { format!("fn.f{}(x) + 1", i + 1) } else { "x".to_string() };
            FnDef::parse(&format!("f{i}(x)"), &body).unwrap()
        })
        .collect();
    let errors = Functions::new(defs).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(matches!(errors[0].kind(), ErrorKind::LimitExceeded { .. }));
    assert!(errors[0].to_string().contains("`fn.f0` starts a chain of 10000 calls"), "{}", errors[0]);
    // A chain within the limit expands and evaluates.
    let defs: Vec<FnDef> = (0..60)
        .map(|i| {
            FnDef::parse(&format!("f{i}(x)"), &if i < 59 { format!("fn.f{}(x) + 1", i + 1) } else { "x".into() })
                .unwrap()
        })
        .collect();
    let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    model.functions(Functions::new(defs).unwrap());
    model.series("var.b.a", Expr::parse("fn.f0(1)").unwrap());
    assert_eq!(model.compile().unwrap().run(&[], 1).unwrap().column_at(0), &[60.0]);
}

#[test]
fn functions_that_fan_out_exponentially_hit_the_expansion_budget() {
    use kalix_expr_core::{FnDef, Functions};
    let defs: Vec<FnDef> = (0..30)
        .map(|i| {
            let body = if i < 29 { format!("fn.f{0}(x) + fn.f{0}(x)", i + 1) } else { "x".to_string() };
            FnDef::parse(&format!("f{i}(x)"), &body).unwrap()
        })
        .collect();
    let errors = Functions::new(defs).unwrap_err();
    assert!(!errors.is_empty());
    assert!(errors.iter().all(|e| matches!(e.kind(), ErrorKind::LimitExceeded { .. })), "{}", errors[0]);
}
