//! A host running a Kalix model file through the model library, as `kexpr run` does:
//! `cargo run --example run_model` prints the bundled example's results as CSV.

use kalix_expr::model::{Data, ModelFile, RunRange};

fn main() -> Result<(), Vec<kalix_expr::model::Diagnostic>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/model");
    let model = ModelFile::load(dir.join("creek.ini"))?;
    let report = model.check(); // every error and warning, as data
    for d in &report.diagnostics {
        eprintln!("{d}"); // rendered rustc-style
    }
    let compiled = model.compile()?; // checked and compiled once
    let data = Data::read(&model, &[dir.join("creek.csv")])?;
    let results = compiled.run(&data, RunRange::default())?;
    if let Err(e) = results.write_csv(&mut std::io::stdout()) {
        eprintln!("error: cannot write the results: {e}");
    }
    Ok(())
}
