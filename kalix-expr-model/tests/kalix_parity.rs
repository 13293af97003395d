//! Where model files follow Kalix: `[fn]` bodies call tables, `[fn]` keys are written bare and in
//! lower case, and a broken function that nothing calls does not stop a model Kalix loads.

use kalix_expr_model::{Data, ModelFile, RunRange, Severity};

fn run(text: &str, steps: usize) -> Vec<f64> {
    let model = ModelFile::from_text("m.ini", text);
    let compiled = model.compile().unwrap_or_else(|e| panic!("{}", kalix_expr_model::render_all(&e)));
    let out = compiled.run(&Data::default(), RunRange { steps: Some(steps), ..RunRange::default() }).unwrap();
    out.column_at(0).to_vec()
}

#[test]
fn a_function_body_may_call_a_table() {
    let text =
        "[table.curve]\nvalues = 0, 0, 10, 100\n[fn]\nlook(x) = table.curve(x) * 2\n[var.b]\nk = fn.look(sim.step)\n";
    assert_eq!(run(text, 3), [0.0, 20.0, 40.0]);
}

#[test]
fn function_names_and_parameters_are_bare_and_lower_case() {
    for (sig, written, wanted) in [("Mixed(x)", "Mixed", "mixed"), ("f(A)", "A", "a"), ("fn.foo(x)", "fn.foo", "foo")] {
        let text = format!("[fn]\n{sig} = 1\n[var.b]\nk = 0\n");
        let report = ModelFile::from_text("m.ini", &text).check();
        let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 1, "{sig}: {:?}", report.diagnostics);
        assert!(errors[0].message.contains(&format!("`{written}` must be written `{wanted}`")), "{}", errors[0]);
        assert_eq!(errors[0].line(), Some(2));
    }
}

#[test]
fn a_broken_function_nothing_calls_is_a_warning_and_the_model_runs() {
    let text = "[fn]\nbroken(x) = x + nosuch(x)\n[var.b]\nk = sim.step * 2\n";
    let report = ModelFile::from_text("m.ini", text).check();
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let unknown = report.diagnostics.iter().find(|d| d.message.contains("nosuch")).unwrap();
    assert_eq!(unknown.severity, Severity::Warning);
    assert!(unknown.notes[0].contains("never called"), "{unknown}");
    assert_eq!(run(text, 2), [0.0, 2.0]);
}

#[test]
fn a_broken_function_that_is_called_is_an_error() {
    let text = "[fn]\nbroken(x) = x + nosuch(x)\n[var.b]\nk = fn.broken(sim.step)\n";
    let report = ModelFile::from_text("m.ini", text).check();
    let unknown = report.diagnostics.iter().find(|d| d.message.contains("nosuch")).unwrap();
    assert_eq!(unknown.severity, Severity::Error);
    // Called through another function counts as called.
    let text = "[fn]\nbroken(x) = x + nosuch(x)\nouter(x) = fn.broken(x)\n[var.b]\nk = fn.outer(1)\n";
    assert!(ModelFile::from_text("m.ini", text).check().has_errors());
}
