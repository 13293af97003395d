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
