//! The bundled example and the real Kalix models give the same bits on the JIT and on the
//! interpreter, over inputs made up for them (every input the model reads, with NaNs).

use std::path::{Path, PathBuf};

use kalix_expr_core::Engine;
use kalix_expr_model::{Data, ModelFile, RunRange};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The models: the bundled example, and the real ones where the shared folder is present.
fn models() -> Vec<PathBuf> {
    let mut models = vec![root().join("examples/model/creek.ini")];
    match std::fs::read_dir(root().join("../shared/kalix-models")) {
        Ok(entries) => {
            let mut real: Vec<PathBuf> =
                entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "ini")).collect();
            real.sort();
            models.extend(real);
        }
        Err(_) => eprintln!("note: the real Kalix models are absent; only the example is run"),
    }
    models
}

#[test]
fn every_model_gives_the_same_bits_on_both_engines() {
    const STEPS: usize = 1500;
    let mut native_total = 0;
    for path in models() {
        let m = ModelFile::load(&path).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
        let mut compiled = m.compile().unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
        // Every input, made up: smooth, with a NaN now and then and a different phase each.
        let columns: Vec<(String, Vec<f64>)> = compiled
            .inputs()
            .enumerate()
            .map(|(k, name)| {
                let values = (0..STEPS)
                    .map(|t| {
                        if (t + k) % 97 == 3 {
                            f64::NAN
                        } else {
                            ((t as f64 * 0.05 + k as f64).sin() * 50.0 + 40.0).max(0.0)
                        }
                    })
                    .collect();
                (name.to_string(), values)
            })
            .collect();
        let data = Data::from_columns(None, columns).unwrap();
        let range = RunRange { steps: Some(STEPS), nan_outside_data: true, ..RunRange::default() };
        compiled.set_engine(Engine::Interpreter);
        let interp = compiled.run(&data, range).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
        assert_eq!(compiled.program().native_series(), 0);
        compiled.set_engine(Engine::Jit);
        let native = compiled.run(&data, range).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
        native_total += compiled.program().native_series();
        // Every series of these models compiles: blocks, user functions, tables and windows.
        assert_eq!(compiled.program().native_series(), compiled.series_names().count(), "{}", path.display());
        assert_eq!(interp.names(), native.names());
        for (k, name) in interp.names().iter().enumerate() {
            for (t, (a, b)) in interp.column_at(k).iter().zip(native.column_at(k)).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "{}: {name} at step {t}: {a} vs JIT {b}",
                    path.display()
                );
            }
        }
    }
    // The real models' series are mostly pure: the JIT compiles a good share of them.
    assert!(native_total > 0, "the JIT compiled no series");
}

#[test]
fn tables_calendar_calls_windows_and_offsets_run_as_native_code_with_the_same_bits() {
    let text = "[table.rating]\nvalues = 0, 0, 10, 5, 20, 30, 50, 120\n\n[var.b]\n\
        x = max(0, data.a - 30)\n\
        r = table.rating(var.b.x) + if(data.b > 1, table.rating(data.a), 0) * 0.5\n\
        m = month_at(3) + days_in_month_at(-40) * 0.01 + table.rating(moving_mean(var.b.x, 5, 1))\n\
        q = if(sim.month > 6, table.rating(var.b.r[-1, 2]), month_at(var.b.x)) + this[-1, 0] * 0.1\n";
    let m = ModelFile::from_text("t.ini", text);
    let mut compiled = m.compile().unwrap_or_else(|d| panic!("{d:?}"));
    const STEPS: usize = 1200;
    let a: Vec<f64> =
        (0..STEPS).map(|t| if t % 37 == 5 { f64::NAN } else { (t as f64 * 0.21).sin() * 40.0 + 45.0 }).collect();
    let b: Vec<f64> = (0..STEPS).map(|t| (t as f64 * 0.13).cos() * 3.0 + 1.0).collect();
    let data = Data::from_columns(None, vec![("data.a".into(), a), ("data.b".into(), b)]).unwrap();
    let range = RunRange { steps: Some(STEPS), ..RunRange::default() };
    compiled.set_engine(Engine::Interpreter);
    let interp = compiled.run(&data, range).unwrap();
    compiled.set_engine(Engine::Jit);
    assert_eq!(compiled.program().jit_now(), Engine::Jit);
    // Every series: the table lookups and calendar calls are evaluated into slots first.
    assert_eq!(compiled.program().native_series(), 4);
    let native = compiled.run(&data, range).unwrap();
    for (k, name) in interp.names().iter().enumerate() {
        for (t, (p, q)) in interp.column_at(k).iter().zip(native.column_at(k)).enumerate() {
            assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "{name} at step {t}: {p} vs JIT {q}");
        }
    }
    // Spot values the language fixes, at step 0: `data.a` is 45 and `data.b` 4, so `x` is 15,
    // the rating of 15 is 5 + (15 - 10) * (30 - 5) / (20 - 10) = 17.5 and of 45 is
    // 30 + (45 - 20) * (120 - 30) / (50 - 20) = 105.
    assert_eq!(native.column("var.b.x").unwrap()[0], 15.0);
    assert_eq!(native.column("var.b.r").unwrap()[0], 17.5 + 105.0 * 0.5);
}

/// Runs `text` over `data.x` on each engine (the JIT from the first step); both results.
fn both_engines(text: &str, xs: &[f64]) -> [Result<kalix_expr_model::Results, Vec<kalix_expr_model::Diagnostic>>; 2] {
    let m = ModelFile::from_text("t.ini", text);
    let mut compiled = m.compile().unwrap_or_else(|d| panic!("{d:?}"));
    let data = Data::from_columns(None, vec![("data.x".into(), xs.to_vec())]).unwrap();
    let range = RunRange { steps: Some(xs.len()), ..RunRange::default() };
    compiled.set_engine(Engine::Interpreter);
    let interp = compiled.run(&data, range);
    compiled.set_engine(Engine::Jit);
    assert_eq!(compiled.program().jit_now(), Engine::Jit);
    assert_eq!(compiled.program().native_series(), compiled.series_names().count(), "every series is native");
    [interp, compiled.run(&data, range)]
}

#[test]
fn lookups_that_can_miss_or_are_counted_run_natively_and_fail_and_count_as_the_interpreter_does() {
    // A 2D table (a column key that is not one of its keys misses), a table whose lookups
    // outside its keys are an error, and one that counts them: in branches taken and not.
    let tables = "[table.pump]\nn_cols = 3\nvalues = head, 10, 20, 0, 0, 0, 5, 50, 80, 10, 60, 100\n\
        [table.curve]\nvalues = 0, 0, 10, 100\nextrapolation = error\n\
        [table.counted]\nvalues = 0, 0, 10, 100\nextrapolation = linear\n";
    let series = "[var.t]\np = table.pump(if(data.x > 5, 10, 20), data.x * 4)\n\
        u = if(data.x > 100, table.pump(15, data.x), var.t.p / 2)\n\
        c = if(data.x >= 0 && data.x <= 10, table.curve(data.x), -1) + table.pump(10, 2)\n\
        k = table.counted(data.x) + if(data.x > 8, table.counted(data.x * 3), 0) + var.t.c\n";
    let xs: Vec<f64> =
        (0..1500).map(|t| if t % 101 == 7 { f64::NAN } else { ((t as f64) * 0.31).sin() * 8.0 + 5.0 }).collect();
    let [interp, native] = both_engines(&format!("{tables}{series}"), &xs);
    let (interp, native) = (interp.unwrap(), native.unwrap());
    for (k, name) in interp.names().iter().enumerate() {
        for (t, (p, q)) in interp.column_at(k).iter().zip(native.column_at(k)).enumerate() {
            assert!(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()), "{name} at step {t}: {p} vs JIT {q}");
        }
    }
    let warnings = |r: &kalix_expr_model::Results| r.warnings().iter().map(|d| d.to_string()).collect::<Vec<_>>();
    assert_eq!(warnings(&interp), warnings(&native));
    assert!(warnings(&native)[0].contains("lookups outside its keys extrapolated"), "{:?}", warnings(&native));
    // Spot values: x = 5 at step 0, so p = pump(20, 20), clamped to the last row: 100.
    assert_eq!(native.column("var.t.p").unwrap()[0], 100.0);
    assert_eq!(native.column("var.t.u").unwrap()[0], 50.0);

    // The same lookups failing, and a user function's assert, well after the warm-up: the
    // same error, step and place.
    let cases = [
        ("e = table.curve(data.x)\n", 5.0, 10.5),
        ("e = table.pump(data.x, 5)\n", 10.0, 15.0),
        ("e = { v = fn.checked(data.x); v * 2 }\n", 1.0, -1.0),
    ];
    for (series, good, bad) in cases {
        let mut xs = vec![good; 1500];
        xs[1234] = bad;
        let text = format!("[fn]\nchecked(v) = {{ assert(v >= 0); sqrt(v) }}\n{tables}[var.t]\n{series}");
        let [interp, native] = both_engines(&text, &xs);
        let (interp, native) = (interp.unwrap_err(), native.unwrap_err());
        let text = |d: &[kalix_expr_model::Diagnostic]| d.iter().map(|d| d.to_string()).collect::<Vec<_>>();
        assert_eq!(text(&interp), text(&native));
        assert!(text(&native)[0].contains("step 1234"), "{:?}", text(&native));
    }
}
