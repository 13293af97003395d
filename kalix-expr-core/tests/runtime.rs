//! The stepping runtime (docs/language.md): offsets, calendar, blocks and asserts, tables,
//! stateful functions and user functions, run over several steps.

use kalix_expr_core::{Calendar, Date, ErrorKind, Expr, FnDef, Functions, Model, Table};

fn model(start: &str) -> Model {
    Model::new(Calendar::daily(start.parse::<Date>().unwrap()))
}

fn expr(src: &str) -> Expr {
    Expr::parse(src).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `series` (name, source) over one input `data.x` and returns each series' column.
fn run(series: &[(&str, &str)], x: &[f64]) -> Vec<Vec<f64>> {
    let mut m = model("2000-01-01");
    m.input("data.x");
    for (name, src) in series {
        m.series(*name, expr(src));
    }
    let program = m.compile().unwrap_or_else(|e| panic!("{e}"));
    let out = program.run(&[x], x.len()).unwrap_or_else(|e| panic!("{e}"));
    (0..series.len()).map(|i| out.column_at(i).to_vec()).collect()
}

fn bits(a: &[f64]) -> Vec<u64> {
    a.iter().map(|v| if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() }).collect()
}

#[test]
fn offsets_read_the_past_and_the_future_of_inputs() {
    let out = run(&[("var.a.prev", "data.x[-1, 100]"), ("var.a.next", "data.x[2, nan]")], &[1.0, 2.0, 3.0]);
    assert_eq!(out[0], vec![100.0, 1.0, 2.0]);
    assert_eq!(bits(&out[1]), bits(&[3.0, f64::NAN, f64::NAN]));
}

#[test]
fn a_var_reads_its_own_previous_value_with_this() {
    let out =
        run(&[("var.b.total", "this[-1, 0] + data.x"), ("var.b.lag", "var.b.total[-2, -1]")], &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(out[0], vec![1.0, 3.0, 6.0, 10.0]);
    assert_eq!(out[1], vec![-1.0, -1.0, 1.0, 3.0]);
}

#[test]
fn later_keys_see_this_steps_earlier_keys() {
    let out = run(&[("var.b.a", "data.x * 2"), ("var.b.c", "var.b.a + 1")], &[1.0, 5.0]);
    assert_eq!(out[1], vec![3.0, 11.0]);
}

#[test]
fn reading_a_series_computed_later_needs_an_offset() {
    let mut m = model("2000-01-01");
    m.series("var.b.a", expr("var.b.c + 1"));
    m.series("var.b.c", expr("2"));
    m.series("var.b.d", expr("this + 1"));
    let err = m.compile().unwrap_err();
    assert_eq!(err.errors.len(), 2);
    assert!(matches!(
        err.errors[0].kind(),
        ErrorKind::SeriesReadAhead { later: "a series computed later in the step", .. }
    ));
    assert_eq!(err.errors[0].help(), Some("read the previous step's value with an offset: `var.b.c[-1, 0]`"));
    assert!(matches!(err.errors[1].kind(), ErrorKind::SeriesReadAhead { later: "itself", .. }));
    let mut m = model("2000-01-01");
    m.series("var.b.a", expr("var.b.c[-1, 0] + 1"));
    m.series("var.b.c", expr("var.b.a"));
    assert!(m.compile().is_ok());
}

#[test]
fn namespace_rules_hold_in_models() {
    let mut m = model("2000-01-01");
    m.constant("const.k", 2.0);
    m.series("var.b.a", expr("const.k[-1, 0]"));
    m.series("var.b.c", expr("var.b.a[1, 0]"));
    m.series("var.b.d", expr("sim.month[-1, 0] + lg10(1) + data.nope"));
    let err = m.compile().unwrap_err();
    let kinds: Vec<String> =
        err.errors.iter().flat_map(|e| e.diagnostics().iter().map(|d| format!("{:?}", d.kind()))).collect();
    assert_eq!(kinds.len(), 5, "{err}");
    assert!(
        kinds[0].starts_with("OffsetForbidden")
            && kinds[1].starts_with("OffsetForbidden")
            && kinds[2].starts_with("OffsetForbidden")
    );
    assert!(kinds[3].starts_with("FunctionUnknown") && kinds[4].starts_with("VariableUnknown"), "{kinds:?}");
}

#[test]
fn the_calendar_gives_sim_fields_and_month_at() {
    let mut m = model("2000-02-27");
    for f in ["sim.step", "sim.day", "sim.month", "sim.day_of_year", "sim.new_month", "sim.days_in_month"] {
        m.series(format!("var.s.{}", &f[4..]), expr(f));
    }
    m.series("var.s.in_5", expr("month_at(5)"));
    m.series("var.s.dim_back", expr("days_in_month_at(-30)"));
    let out = m.compile().unwrap().run(&[], 4).unwrap();
    assert_eq!(out.column("var.s.step").unwrap(), &[0.0, 1.0, 2.0, 3.0]);
    assert_eq!(out.column("var.s.day").unwrap(), &[27.0, 28.0, 29.0, 1.0]);
    assert_eq!(out.column("var.s.month").unwrap(), &[2.0, 2.0, 2.0, 3.0]);
    assert_eq!(out.column("var.s.day_of_year").unwrap(), &[58.0, 59.0, 60.0, 61.0]);
    assert_eq!(out.column("var.s.new_month").unwrap(), &[1.0, 0.0, 0.0, 1.0]);
    assert_eq!(out.column("var.s.days_in_month").unwrap(), &[29.0, 29.0, 29.0, 31.0]);
    assert_eq!(out.column("var.s.in_5").unwrap(), &[3.0, 3.0, 3.0, 3.0]);
    assert_eq!(out.column("var.s.dim_back").unwrap(), &[31.0, 31.0, 31.0, 31.0]);
}

#[test]
fn windows_advance_in_untaken_branches() {
    // The moving sum sees every step although its branch is taken only on the last one.
    let out = run(&[("var.b.s", "if(sim.step == 3, moving_sum(data.x, 2, 0), -1)")], &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(out[0], vec![-1.0, -1.0, -1.0, 7.0]);
}

#[test]
fn each_call_site_has_its_own_state() {
    let out = run(&[("var.b.s", "moving_sum(data.x, 2, 0) + moving_sum(data.x, 3, 0) * 100")], &[1.0, 2.0, 3.0]);
    assert_eq!(out[0], vec![101.0, 303.0, 605.0]);
}

#[test]
fn nested_windows_advance_inner_first() {
    let out = run(&[("var.b.s", "moving_max(moving_sum(data.x, 2, 0), 2, -1)")], &[1.0, 5.0, 1.0, 1.0]);
    assert_eq!(out[0], vec![1.0, 6.0, 6.0, 6.0]);
}

#[test]
fn since_functions_reset_then_accumulate_over_a_run() {
    let out = run(
        &[
            ("var.b.sum", "sum_since(data.x, data.x > 2)"),
            ("var.b.steps", "steps_since(data.x > 2)"),
            ("var.b.count", "count_since(data.x > 1, sim.step == 2)"),
        ],
        &[1.0, 2.0, 3.0, 1.0, 2.0],
    );
    assert_eq!(out[0], vec![1.0, 3.0, 3.0, 4.0, 6.0]);
    assert_eq!(out[1], vec![0.0, 1.0, 0.0, 1.0, 2.0]);
    assert_eq!(out[2], vec![0.0, 1.0, 1.0, 1.0, 2.0]);
}

#[test]
fn each_run_starts_from_fresh_state() {
    let mut m = model("2000-01-01");
    m.input("data.x");
    m.series("var.b.s", expr("moving_sum(data.x, 3, 0) + sum_since(data.x, 0)"));
    let p = m.compile().unwrap();
    let first = p.run(&[&[1.0, 2.0]], 2).unwrap();
    let second = p.run(&[&[1.0, 2.0]], 2).unwrap();
    assert_eq!(first, second);
    assert_eq!(first.column_at(0), &[2.0, 6.0]);
}

#[test]
fn blocks_run_with_locals_and_a_failing_assert_stops_the_run() {
    let mut m = model("2000-01-01");
    m.input("data.x");
    m.series("var.b.s", expr("{ a = data.x * 2;\n  assert(a < 5);\n  a + 1 }"));
    let p = m.compile().unwrap();
    let err = p.run(&[&[1.0, 2.0, 3.0]], 3).unwrap_err();
    assert_eq!((err.step, err.date.to_string(), err.series.as_str()), (2, "2000-01-03".to_string(), "var.b.s"));
    assert_eq!(err.error.kind(), &ErrorKind::AssertFailed { condition: "assert(a < 5)".into(), value: 0.0 });
    assert_eq!((err.error.line(), err.error.column()), (2, 3));
    let text = err.to_string();
    assert!(text.starts_with("run stopped at step 2 (2000-01-03) in `var.b.s`:\nerror: assertion failed"), "{text}");
}

#[test]
fn tables_interpolate_and_a_bad_2d_key_names_the_valid_keys() {
    let mut m = model("2000-01-01");
    m.input("data.x");
    m.table(Table::from_cells("curve", &["0", "0", "10", "100"], 2).unwrap());
    m.table(Table::from_cells("pump", &["x", "1", "2", "0", "0", "0", "100", "50", "30"], 3).unwrap());
    m.series("var.b.c", expr("table.curve(data.x)"));
    m.series("var.b.p", expr("table.PUMP(sim.month, data.x * 10)"));
    m.series("var.b.bad", expr("table.pump(data.x, 1)"));
    let p = m.compile().unwrap();
    let err = p.run(&[&[2.0, 1.5]], 2).unwrap_err();
    assert_eq!(err.step, 1);
    assert_eq!(err.error.kind(), &ErrorKind::TableKeyUnknown { table: "pump".into(), key: 1.5, keys: "1, 2".into() });
    let mut m = model("2000-01-01");
    m.input("data.x");
    m.table(Table::from_cells("curve", &["0", "0", "10", "100"], 2).unwrap());
    m.series("var.b.c", expr("table.curve(data.x) + table.curve(data.x, 1) + table.crve(1)"));
    let err = m.compile().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`table.curve` takes 1 argument, found 2"), "{text}");
    assert!(text.contains("did you mean `table.curve`?"), "{text}");
}

#[test]
fn user_functions_expand_in_place_with_their_own_locals_and_state() {
    let functions = Functions::new(vec![
        FnDef::parse("frac(v, cap)", "{ assert(cap > 0); a = v / cap; a }").unwrap(),
        FnDef::parse("smooth(x)", "moving_mean(x, 2, 0)").unwrap(),
        FnDef::parse("usflow_plus(k)", "this.usflow + k").unwrap(),
    ])
    .unwrap();
    let mut m = model("2000-01-01");
    m.input("data.x");
    m.input("node.n.usflow");
    m.functions(functions);
    // The caller's local `a` is not the body's `a`.
    m.series("var.b.f", expr("{ a = 100; fn.frac(data.x, 4) + a }"));
    // Two call sites, two windows.
    m.series("var.b.s", expr("fn.smooth(data.x) + fn.smooth(data.x * 10)"));
    m.node_series("n", "pump", expr("fn.usflow_plus(1)"));
    let p = m.compile().unwrap_or_else(|e| panic!("{e}"));
    let out = p.run(&[&[2.0, 4.0], &[7.0, 8.0]], 2).unwrap();
    assert_eq!(out.column("var.b.f").unwrap(), &[100.5, 101.0]);
    assert_eq!(out.column("var.b.s").unwrap(), &[11.0, 33.0]);
    assert_eq!(out.column("node.n.pump").unwrap(), &[8.0, 9.0]);
}

#[test]
fn an_assert_in_a_function_body_fires_only_when_the_call_is_evaluated() {
    let functions = Functions::new(vec![FnDef::parse("inv(v)", "{ assert(v != 0); 1 / v }").unwrap()]).unwrap();
    let mut m = model("2000-01-01");
    m.input("data.x");
    m.functions(functions);
    m.series("var.b.safe", expr("if(data.x == 0, 0, fn.inv(data.x))"));
    m.series("var.b.unsafe", expr("fn.inv(data.x)"));
    let err = m.compile().unwrap().run(&[&[2.0, 0.0]], 2).unwrap_err();
    assert_eq!((err.step, err.series.as_str()), (1, "var.b.unsafe"));
    assert_eq!(err.error.kind(), &ErrorKind::AssertFailed { condition: "fn.inv: assert(v != 0)".into(), value: 0.0 });
}

#[test]
fn errors_inside_a_function_body_point_at_the_call() {
    let functions = Functions::new(vec![FnDef::parse("f(v)", "v + data.missing").unwrap()]).unwrap();
    let mut m = model("2000-01-01");
    m.input("data.x");
    m.functions(functions);
    m.series("var.b.s", expr("1 + fn.f(data.x) + fn.g(1) + fn.f(1, 2)"));
    let err = m.compile().unwrap_err();
    let d = err.errors[0].diagnostics();
    assert_eq!(d.len(), 3, "{err}");
    assert!(matches!(d[0].kind(), ErrorKind::VariableUnknown { name } if name == "data.missing"));
    assert_eq!(d[0].span().range(), 4..16);
    assert_eq!(d[0].help(), Some("in the body of `fn.f`"));
    assert!(matches!(d[1].kind(), ErrorKind::FunctionUnknown { .. }));
    assert!(matches!(d[2].kind(), ErrorKind::ArityMismatch { found: 2, .. }));
}

#[test]
fn this_outside_a_node_is_an_error() {
    let mut m = model("2000-01-01");
    m.series("var.b.s", expr("this.usflow"));
    let err = m.compile().unwrap_err();
    assert!(matches!(err.errors[0].kind(), ErrorKind::ThisUnbound { .. }));
}

#[test]
fn a_program_is_shared_between_threads() {
    let mut m = model("2000-01-01");
    m.input("data.x");
    m.series("var.b.s", expr("moving_mean(data.x, 5, 0) + sum_since(data.x, sim.new_month)"));
    let p = std::sync::Arc::new(m.compile().unwrap());
    let xs: Vec<f64> = (0..400).map(|i| (i as f64 * 0.37).sin()).collect();
    let expected = p.run(&[&xs], xs.len()).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (p, xs) = (p.clone(), xs.clone());
            std::thread::spawn(move || p.run(&[&xs], xs.len()).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(bits(h.join().unwrap().column_at(0)), bits(expected.column_at(0)));
    }
}

#[test]
fn many_series_in_one_node_array_each_compute_their_own_value() {
    // A chain of pure series (their nodes share the model's array) with stateful and offset
    // series (closure trees) between them; each series' value follows from the one before.
    let names: Vec<String> = (0..300).map(|i| format!("var.s{i}.v")).collect();
    let mut series: Vec<(String, String)> = vec![(names[0].clone(), "data.x * 2".into())];
    for i in 1..names.len() {
        let prev = &names[i - 1];
        let src = match i % 3 {
            0 => format!("{prev} + {i}"),
            1 => format!("{prev} + this[-1, 0] * 0"),
            _ => format!("max({prev}, -1) + sin(data.x * 0) + {i} * 0"),
        };
        series.push((names[i].clone(), src));
    }
    let refs: Vec<(&str, &str)> = series.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let x = [1.0, 2.5, -4.0];
    let out = run(&refs, &x);
    for (t, xv) in x.iter().enumerate() {
        let mut want = xv * 2.0;
        for (i, col) in out.iter().enumerate().skip(1) {
            if i % 3 == 0 {
                want += i as f64;
            } else if i % 3 == 2 {
                want = want.max(-1.0);
            }
            assert_eq!(col[t], want, "series {i} at step {t}");
        }
    }
}
