//! Load and check an arbitrary model file (any bytes, through the INI reader, the node-type
//! schema, every expression and definition): never a panic; every diagnostic points inside the
//! file.
#![no_main]

use std::path::Path;

use kalix_expr_cli::model::{analyze, load_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| (name == "HOME").then(|| "/home/fuzz".to_string());
    let model = load_text("fuzz.ini", &text, Path::new("/nonexistent"), &env);
    let analysis = analyze(&model);
    let _ = format!("{analysis:?}");
});
