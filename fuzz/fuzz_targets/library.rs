//! Load a function library whose `functions.ini` holds arbitrary bytes: never a panic; a bad
//! file is reported and the rest loads; a change on top of it is either refused or written.
#![no_main]

use kalix_expr_core::library::{parse_definition, Library};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A directory in memory-backed /dev/shm when there is one, one per fuzzing process.
    let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" };
    let dir = std::path::PathBuf::from(format!("{base}/kalix-fuzz-library-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    if std::fs::write(dir.join("functions.ini"), data).is_err() {
        return;
    }
    let Ok((lib, report)) = Library::open(&dir) else { return };
    let _ = report.to_string();
    let snap = lib.snapshot();
    let _ = snap.list();
    if let Ok(def) = parse_definition("fuzz_probe(x) = x * 2") {
        let _ = lib.add(def);
    }
});
