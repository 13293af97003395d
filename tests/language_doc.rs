//! Every example of the language reference (`docs/language.md`) runs, and its table of built-in
//! functions is the engine's table: every built-in and nothing else.
#![cfg(feature = "model")]

use kalix_expr::builtins::BUILTINS;
use kalix_expr::model::{format_value, ModelFile};
use kalix_expr::{Expr, Options};

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/language.md")).unwrap()
}

/// The fenced blocks of `lang`, each as its lines.
fn blocks(text: &str, lang: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match (&mut current, line.trim()) {
            (None, l) if l == format!("```{lang}") => current = Some(Vec::new()),
            (Some(_), "```") => out.extend(current.take()),
            (Some(block), _) => block.push(line.to_string()),
            (None, _) => {}
        }
    }
    out
}

#[test]
fn every_expression_example_gives_its_value() {
    let examples: Vec<String> =
        blocks(&doc(), "kexpr").into_iter().flatten().filter(|l| !l.trim().is_empty()).collect();
    assert!(examples.len() >= 40, "{} examples", examples.len());
    for line in examples {
        let (src, want) = line.split_once(" => ").unwrap_or_else(|| panic!("`{line}` is not `expression => value`"));
        let expr = Expr::parse(src).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
        let names = expr.variables();
        // Examples with windows and offsets show a single evaluation: a run's first step.
        let opts = Options { single_step: true, ..Options::model() };
        let compiled = expr.compile_with(&names, &opts).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
        // Every variable of an example is 0.
        let got = compiled.eval(&vec![0.0; names.len()]).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
        assert_eq!(format_value(got), want.trim(), "`{src}`");
    }
}

#[test]
fn every_model_example_checks_without_errors() {
    // The CSV examples, each named by its first line (`# storage.csv`), sit beside the models.
    let dir = tempfile::tempdir().unwrap();
    for lines in blocks(&doc(), "csv") {
        let name = lines[0].trim().strip_prefix("# ").unwrap_or_else(|| panic!("a csv example starts `# name.csv`"));
        std::fs::write(dir.path().join(name), lines.join("\n") + "\n").unwrap();
    }
    let models = blocks(&doc(), "ini");
    assert!(models.len() >= 4);
    for lines in models {
        let text = lines.join("\n") + "\n";
        let path = dir.path().join("example.ini");
        std::fs::write(&path, &text).unwrap();
        let report = ModelFile::load(&path).unwrap().check();
        assert!(!report.has_errors(), "{text}\n{:?}", report.diagnostics);
    }
}

#[test]
fn the_table_file_example_loads_as_a_table() {
    let csv = blocks(&doc(), "csv").into_iter().next().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("storage.csv"), csv.join("\n")).unwrap();
    std::fs::write(dir.path().join("m.ini"), "[table.storage]\nfile = storage.csv\n[var.d]\nv = table.storage(2.25)\n")
        .unwrap();
    let model = ModelFile::load(dir.path().join("m.ini")).unwrap();
    assert!(!model.check().has_errors());
    assert_eq!(model.tables[0].table.lookup1(2.25), 300.0);
}

#[test]
fn the_builtin_table_lists_every_builtin_and_nothing_else() {
    let text = doc();
    let section = text.split("## Built-in functions").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut documented: Vec<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('(').next())
        .map(str::to_string)
        .collect();
    documented.sort();
    let mut engine: Vec<String> = BUILTINS.iter().map(|b| b.name.to_string()).collect();
    engine.sort();
    assert_eq!(documented, engine);
}
