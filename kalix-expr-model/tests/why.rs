//! `explain`: the value of a series at a step, part by part. The values shown are the run's, and
//! each part can be recomputed from the parts under it.

use kalix_expr_core::{Expr, Options};
use kalix_expr_model::{parse_date, Data, Explanation, ModelFile, RunRange, Trace, What};

const MODEL: &str = "\
[const]
const.loss = 2
[table.curve]
values = 0, 0, 10, 100, 20, 120
[var.b]
wet = max(0, data.rain - const.loss)
week = moving_mean(data.rain, 3, 0)
store = { before = this[-1, 5]; after = before + var.b.wet * 0.5 - var.b.release[-1, 0]; max(after, 0) }
release = if(var.b.store > 10, table.curve(var.b.store), sim.month / 4)
spell = steps_since(data.rain > 1) + moving_percentile(data.rain, 4, 75, 1)
";

fn rain() -> Vec<f64> {
    (0..40).map(|t| ((t * 37) % 11) as f64 * 1.5).collect()
}

fn data() -> Data {
    Data::from_columns(None, vec![("data.rain".into(), rain())]).unwrap()
}

fn range() -> RunRange {
    RunRange { steps: Some(40), ..RunRange::default() }
}

fn explain(series: &str, day: usize, depth: usize) -> Explanation {
    let model = ModelFile::from_text("m.ini", MODEL);
    let compiled = model.compile().unwrap();
    let date = parse_date("2000-01-01").unwrap().add_days(day as i64);
    compiled.explain(&data(), range(), series, date, depth).unwrap()
}

fn walk<'a>(t: &'a Trace, out: &mut Vec<&'a Trace>) {
    out.push(t);
    for c in &t.children {
        walk(c, out);
    }
}

#[test]
fn the_value_explained_is_the_runs_value_at_that_date() {
    let model = ModelFile::from_text("m.ini", MODEL);
    let results = model.compile().unwrap().run(&data(), range()).unwrap();
    for series in ["var.b.wet", "var.b.week", "var.b.store", "var.b.release", "var.b.spell"] {
        for day in [0, 1, 7, 23, 39] {
            let e = explain(series, day, 0);
            let want = results.column(series).unwrap()[day];
            assert_eq!(e.value.to_bits(), want.to_bits(), "{series} on day {day}");
            assert_eq!(e.tree.value.to_bits(), want.to_bits(), "{series} on day {day}: the tree's root");
            assert_eq!(e.step, day);
        }
    }
}

/// Writes a value so that it parses back to the same bits.
fn literal(v: f64) -> String {
    format!("({v:?})")
}

#[test]
fn every_operation_can_be_recomputed_from_the_parts_shown() {
    let mut checked = 0;
    for series in ["var.b.wet", "var.b.store", "var.b.release", "var.b.spell"] {
        for day in [3, 11, 30] {
            let e = explain(series, day, 0);
            let mut parts = Vec::new();
            walk(&e.tree, &mut parts);
            for t in parts {
                let pure = match &t.what {
                    What::Operation => true,
                    What::Call { function } => !function.starts_with("fn."),
                    _ => false,
                };
                if !pure || t.children.iter().any(|c| !c.value.is_finite()) {
                    continue;
                }
                // The part's text with each part under it replaced by its value.
                let mut text = t.text.clone();
                let mut from = 0;
                for c in &t.children {
                    let at = text[from..].find(&c.text).map(|i| i + from).unwrap();
                    let lit = literal(c.value);
                    text.replace_range(at..at + c.text.len(), &lit);
                    from = at + lit.len();
                }
                let expr = Expr::parse(&text).unwrap();
                let v = expr.compile_with(&[], &Options::model()).unwrap().eval(&[]).unwrap();
                assert_eq!(v.to_bits(), t.value.to_bits(), "{series} day {day}: `{}` as `{text}`", t.text);
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn inputs_offsets_branches_tables_and_windows_say_where_their_values_came_from() {
    let e = explain("var.b.wet", 5, 0);
    let mut parts = Vec::new();
    walk(&e.tree, &mut parts);
    let rain = parts.iter().find(|t| t.text == "data.rain").unwrap();
    assert_eq!(rain.value, rain_at(5));
    assert!(matches!(&rain.what, What::Input { name, .. } if name == "data.rain"));
    let loss = parts.iter().find(|t| t.text == "const.loss").unwrap();
    assert_eq!((loss.value, &loss.what), (2.0, &What::Constant { name: "const.loss".into() }));

    let e = explain("var.b.store", 6, 0);
    let mut parts = Vec::new();
    walk(&e.tree, &mut parts);
    let before = parts.iter().find(|t| t.text == "this[-1, 5]").unwrap();
    assert!(
        matches!(&before.what, What::Offset { name, step: -1, date: Some(d) } if name == "var.b.store" && d == "2000-01-06"),
        "{:?}",
        before.what
    );
    let store = ModelFile::from_text("m.ini", MODEL).compile().unwrap().run(&data(), range()).unwrap();
    assert_eq!(before.value, store.column("var.b.store").unwrap()[5]);
    let first = explain("var.b.store", 0, 0);
    let mut parts = Vec::new();
    walk(&first.tree, &mut parts);
    let before = parts.iter().find(|t| t.text == "this[-1, 5]").unwrap();
    assert_eq!((before.value, &before.what), (5.0, &What::Offset { name: "var.b.store".into(), step: -1, date: None }));

    for day in 0..40 {
        let e = explain("var.b.release", day, 0);
        let What::If { taken } = &e.tree.what else { panic!("{:?}", e.tree.what) };
        let cond = e.tree.children[0].value;
        assert_eq!(taken, if cond != 0.0 { "then" } else { "else" });
        let chosen = if taken == "then" { &e.tree.children[1] } else { &e.tree.children[2] };
        assert_eq!(chosen.value.to_bits(), e.value.to_bits());
        if taken == "then" {
            let What::Table { lookup, .. } = &chosen.what else { panic!() };
            assert!(lookup.starts_with("between row") || lookup.contains("clamped"), "{lookup}");
        }
    }

    let e = explain("var.b.week", 1, 0);
    let What::Window { n, contents, .. } = &e.tree.what else { panic!("{:?}", e.tree.what) };
    assert_eq!((*n, contents.clone()), (3, vec![0.0, rain_at(0), rain_at(1)]));
    let e = explain("var.b.spell", 9, 0);
    let mut parts = Vec::new();
    walk(&e.tree, &mut parts);
    let p75 = parts.iter().find(|t| t.text.starts_with("moving_percentile")).unwrap();
    let What::Window { contents, .. } = &p75.what else { panic!() };
    assert_eq!(contents, &(6..10).map(rain_at).collect::<Vec<_>>());
}

fn rain_at(t: usize) -> f64 {
    rain()[t]
}

#[test]
fn depth_follows_the_series_read_each_once() {
    let e = explain("var.b.release", 12, 2);
    let read: Vec<&str> = e.reads.iter().map(|r| r.series.as_str()).collect();
    assert_eq!(read, ["var.b.store"]);
    let deeper: Vec<&str> = e.reads[0].reads.iter().map(|r| r.series.as_str()).collect();
    assert_eq!(deeper, ["var.b.wet"], "release, already explained, is not explained again");
    assert!(explain("var.b.release", 12, 0).reads.is_empty());
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["tree"]["kind"], "if");
    assert_eq!(json["reads"][0]["series"], "var.b.store");
}

#[test]
fn an_unknown_series_or_a_date_outside_the_run_is_an_error_that_says_what_to_do() {
    let model = ModelFile::from_text("m.ini", MODEL);
    let compiled = model.compile().unwrap();
    let date = parse_date("2000-01-05").unwrap();
    let e = compiled.explain(&data(), range(), "var.b.stor", date, 0).unwrap_err();
    assert_eq!(e[0].message, "the model has no series `var.b.stor`");
    assert_eq!(e[0].help_text(), Some("did you mean `var.b.store`?"));
    let late = parse_date("2000-03-01").unwrap();
    let e = compiled.explain(&data(), range(), "var.b.store", late, 0).unwrap_err();
    assert_eq!(e[0].message, "2000-03-01 is outside the run (2000-01-01 to 2000-02-09)");
}
