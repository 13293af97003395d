//! The model library gives what `kexpr run` prints, byte for byte: a host that loads, checks,
//! compiles and runs a model through `kalix_expr::model` sees the command's numbers.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kalix_expr::model::{Data, ModelFile, RunRange};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The bundled example, and the real Kalix models of `../shared/kalix-models/` where that folder
/// is beside the checkout (it is for the project's CI).
fn models() -> Vec<PathBuf> {
    let mut models = vec![root().join("examples/model/creek.ini")];
    if let Ok(dir) = std::fs::read_dir(root().join("../shared/kalix-models")) {
        let mut real: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ini"))
            .collect();
        real.sort();
        models.extend(real);
    }
    models
}

/// A CSV of every input the model reads over 40 days, with values that vary by input and day.
fn generated_inputs(names: &[String]) -> String {
    let mut csv = String::from("date");
    for n in names {
        write!(csv, ",{n}").unwrap();
    }
    csv.push('\n');
    for t in 0..40 {
        let date = kalix_expr::Date::new(2001, 2, 1).unwrap().add_days(t);
        write!(csv, "{date}").unwrap();
        for (k, _) in names.iter().enumerate() {
            let v = ((t as f64) * 0.37 + k as f64 * 1.9).sin() * 50.0 + 40.0;
            write!(csv, ",{v}").unwrap();
        }
        csv.push('\n');
    }
    csv
}

#[test]
fn the_library_runs_every_model_as_kexpr_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for path in models() {
        let model = ModelFile::load(&path).unwrap();
        let report = model.check();
        let Ok(compiled) = model.compile() else {
            // A model with errors: the library says so, as `kexpr check` does.
            assert!(report.has_errors(), "{}", path.display());
            continue;
        };
        let inputs: Vec<String> = compiled.inputs().map(str::to_string).collect();
        let data_path = dir.path().join("inputs.csv");
        std::fs::write(&data_path, generated_inputs(&inputs)).unwrap();
        let data = Data::read(&model, std::slice::from_ref(&data_path)).unwrap();
        let results = compiled.run(&data, RunRange::default()).unwrap();
        let mut library = Vec::new();
        results.write_csv(&mut library).unwrap();

        let out = Command::new(env!("CARGO_BIN_EXE_kexpr"))
            .args(["run", "-q"])
            .arg(&path)
            .arg("--data")
            .arg(&data_path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(library).unwrap(), String::from_utf8(out.stdout).unwrap(), "{}", path.display());
        if !inputs.is_empty() {
            // The run covers the inputs' 40 days (a model that reads none runs to `[kalix] end`).
            assert_eq!(results.steps(), 40, "{}", path.display());
        }
        compared += 1;
    }
    assert!(compared >= 1, "the bundled example at least runs");
}

#[test]
fn a_missing_model_file_is_an_error_that_names_it() {
    let err = ModelFile::load("no/such/model.ini").unwrap_err();
    assert!(err[0].message.contains("no/such/model.ini"), "{}", err[0].message);
}

#[test]
fn a_model_with_errors_does_not_compile_and_says_why() {
    let model = ModelFile::from_text("m.ini", "[var.b]\nx = max(1)\n");
    let errors = model.compile().unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line(), errors[0].column()), (Some(2), Some(5)));
}

#[test]
fn one_compiled_model_runs_from_any_start_date() {
    let model = ModelFile::from_text("m.ini", "[var.b]\nm = sim.month\n");
    let compiled = model.compile().unwrap();
    let from = |y, m, d| RunRange { start: kalix_expr::Date::new(y, m, d), steps: Some(2), ..RunRange::default() };
    let march = compiled.run(&Data::default(), from(2003, 2, 28)).unwrap();
    assert_eq!(march.column("var.b.m"), Some(&[2.0, 3.0][..]));
    let december = compiled.run(&Data::default(), from(1999, 12, 1)).unwrap();
    assert_eq!(december.column("var.b.m"), Some(&[12.0, 12.0][..]));
    assert_eq!(december.date(1).to_string(), "1999-12-02");
}
