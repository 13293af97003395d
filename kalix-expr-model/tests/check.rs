//! `check` checks everything it can, and one cause gives one diagnostic.

use kalix_expr_model::{load_text, ModelFile, Severity};

fn problems(text: &str) -> Vec<(Severity, usize, usize, String)> {
    let report = ModelFile::from_text("m.ini", text).check();
    report
        .diagnostics
        .iter()
        .map(|d| (d.severity, d.line().unwrap_or(0), d.column().unwrap_or(0), d.message.clone()))
        .collect()
}

#[test]
fn ras_actions_are_checked_like_any_expression() {
    let text = "[const]\nconst.cap = 1\n[table.curve]\nvalues = 0, 0, 10, 100\n[ras.a]\ntrigger = start_water_year(7)\n\
                action  = allocate(table.cruve(min(const.capp, node.dam.volume[-1, 0])))\n[ras.b]\naction = reset_allocation\n\
                [var.b]\nk = table.curve(const.cap)\n";
    assert_eq!(
        problems(text),
        [
            (Severity::Error, 7, 20, "unknown function `table.cruve`".to_string()),
            (Severity::Error, 7, 36, "unknown variable `const.capp`".to_string()),
        ]
    );
    let report = ModelFile::from_text("m.ini", text).check();
    let help = report.diagnostics[1].help.as_ref().unwrap();
    assert_eq!(help.replacements(), ["const.cap"]);
    // A syntax error inside `allocate(…)` points into the action: the end of `1 +`.
    let found = problems("[ras.a]\naction = allocate(1 +)\n");
    assert_eq!((found[0].1, found[0].2), (2, 22), "{found:?}");
}

#[test]
fn an_unset_variable_is_one_error() {
    let env = |_: &str| None;
    let m = load_text(
        "m.ini",
        "[kalix]\nstart = ${START}\n[const]\nconst.k = ${K}\n[var.b]\nx = ${X} + const.k\n",
        ".".as_ref(),
        &env,
    );
    let report = kalix_expr_model::analyze(&m);
    let messages: Vec<&str> = report.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "environment variable `START` is not set",
            "environment variable `K` is not set",
            "environment variable `X` is not set"
        ]
    );
}

#[test]
fn a_syntax_error_does_not_make_its_names_unused() {
    let found = problems("[const]\nconst.k = 2\n[table.t]\nvalues = 0, 0, 1, 1\n[var.b]\nx = const.k and table.t(1)\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].3, "expected an operator, found `and`");
    let report = ModelFile::from_text("m.ini", "[var.b]\nx = 1 and 2\n").check();
    assert_eq!(report.diagnostics[0].help_text(), Some("use `&&` for \"and\": `a && b`"));
}

#[test]
fn an_unknown_section_is_an_error_with_the_closest_section() {
    let found = problems("[nodes.x]\ntype = inflow\n");
    assert_eq!(found, [(Severity::Error, 1, 2, "unknown section `[nodes.x]`".to_string())]);
    let report = ModelFile::from_text("m.ini", "[nodes.x]\n").check();
    assert_eq!(report.diagnostics[0].help_text(), Some("did you mean `node.x`?"));
}

#[test]
fn a_byte_order_mark_before_the_first_section_is_skipped() {
    let report = ModelFile::from_text("m.ini", "\u{feff}[var.b]\nk = 1\n").check();
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
}

#[test]
fn a_huge_name_is_not_echoed_in_full() {
    let text = format!("[var.b]\nk = 1\n[const]\nconst.{} = 1\n", "y".repeat(1_000_000));
    let report = ModelFile::from_text("m.ini", &text).check();
    let shown = report.diagnostics[0].to_string();
    assert!(shown.len() < 2_000, "{} bytes", shown.len());
    assert!(shown.contains("characters)…"), "{shown}");
}

#[test]
fn a_nul_byte_in_a_data_cell_is_shown_escaped() {
    let file = std::sync::Arc::new(kalix_expr_model::SourceFile::new("d.csv", "date,x\n2000-01-01,1\u{0}2\n"));
    let Err(kalix_expr_model::data::DataError::Content(d)) =
        kalix_expr_model::data::parse_csv(&file, kalix_expr_model::data::DateColumn::First)
    else {
        panic!("the cell is not a number")
    };
    assert_eq!(d.message, "`1\\02` is not a number");
}

#[test]
fn windows_past_the_state_budget_are_an_error_that_says_what_they_need() {
    let text: String = std::iter::once("[var.b]\n".to_string())
        .chain((0..20).map(|i| format!("m{i} = moving_mean(data.x, 10000000, 0)\n")))
        .collect();
    let report = ModelFile::from_text("m.ini", &text).check();
    assert!(report.has_errors());
    let d = &report.diagnostics[0];
    assert!(d.message.contains("larger than its budget"), "{d}");
    assert!(d.help_text().unwrap().contains("1.6 GB"), "{d}");
    // A model within the budget says what its windows keep.
    let mut small = ModelFile::from_text("m.ini", "[var.b]\nm = moving_mean(data.x, 1000000, 0)\n");
    assert_eq!(small.check().state_bytes(), Some((1_000_000 + 4) * 8));
    // The budget is the host's to set.
    small.state_budget = 1 << 20;
    assert!(small.check().has_errors());
}
