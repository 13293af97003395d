//! Load and check an arbitrary model file (any bytes, through the INI reader, the node-type
//! schema, every expression and definition): never a panic; every diagnostic points inside the
//! file, on `char` boundaries, and renders.
#![no_main]

use std::path::Path;

use kalix_expr_model::{analyze, load_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| (name == "HOME").then(|| "/home/fuzz".to_string());
    let model = load_text("fuzz.ini", &text, Path::new("/nonexistent"), &env);
    let analysis = analyze(&model);
    for d in &analysis.diagnostics {
        if let Some(at) = &d.at {
            let file = at.file.text();
            assert!(at.start <= at.end && at.end <= file.len(), "{}..{} outside the file", at.start, at.end);
            assert!(file.is_char_boundary(at.start) && file.is_char_boundary(at.end), "{}..{} splits a char", at.start, at.end);
        }
        let _ = d.to_string();
    }
});
