//! Writes never clobber what is not ours, a special file never hangs the command, and a write
//! that fails is a failure.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn kexpr(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kexpr"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn example() -> (String, String) {
    let dir = root().join("examples/model");
    (dir.join("creek.ini").display().to_string(), dir.join("creek.csv").display().to_string())
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

#[test]
fn output_through_a_symlink_replaces_the_file_and_keeps_the_link_and_the_mode() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.csv");
    std::fs::write(&real, "old\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink("real.csv", &link).unwrap();
    let (model, data) = example();
    let out = kexpr(&["run", "-q", &model, "--data", &data, "-o", link.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert!(std::fs::read_to_string(&real).unwrap().starts_with("date,var.catchment.runoff"));
    assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640);
}

#[test]
fn output_to_a_device_or_a_fifo_is_written_there_not_replaced() {
    let (model, data) = example();
    let out = kexpr(&["run", "-q", &model, "--data", &data, "-o", "/dev/null"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file(), "/dev/null is still a device");

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.csv");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = kexpr(&["run", "-q", &model, "--data", &data, "-o", fifo.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(reader.join().unwrap().lines().count(), 61);
    assert!(!std::fs::metadata(&fifo).unwrap().is_file(), "the FIFO is still a FIFO");
}

#[test]
fn a_failed_write_of_the_output_is_a_failure() {
    for args in [&["eval", "1"][..], &["parse", "1 + 2"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_kexpr"))
            .args(args)
            .stdout(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the output"), "{args:?}");
    }
}

#[test]
fn a_fifo_where_the_library_file_should_be_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("functions.ini"));
    let started = Instant::now();
    let out = kexpr(&["fn", "list", "--library", dir.path().to_str().unwrap()], &[]);
    assert!(started.elapsed() < Duration::from_secs(10), "it did not block");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a regular file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_locked_library_says_it_is_waiting_and_gives_up_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().to_str().unwrap();
    let out = kexpr(&["fn", "add", "half(x) = x / 2", "--library", lib], &[]);
    assert_eq!(out.status.code(), Some(0));
    let lock = std::fs::OpenOptions::new().write(true).open(dir.path().join("functions.ini.lock")).unwrap();
    lock.lock().unwrap();
    let out = kexpr(&["fn", "add", "dbl(x) = x * 2", "--library", lib], &[("KALIX_LOCK_TIMEOUT", "0.5")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("Blocking waiting for the lock"), "{stderr}");
    assert!(stderr.contains("giving up"), "{stderr}");
    lock.unlock().unwrap();
    let out = kexpr(&["fn", "add", "dbl(x) = x * 2", "--library", lib], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_library_file_is_written_through_a_symlink_keeping_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    std::fs::write(store.join("real.ini"), "[library]\nformat = 1\nversion = 1\n\n[fn]\n").unwrap();
    std::fs::set_permissions(store.join("real.ini"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(store.join("real.ini"), dir.path().join("functions.ini")).unwrap();
    let out = kexpr(&["fn", "add", "half(x) = x / 2", "--library", dir.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::symlink_metadata(dir.path().join("functions.ini")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(store.join("real.ini")).unwrap().contains("half(x) = x / 2"));
    assert_eq!(std::fs::metadata(store.join("real.ini")).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_run_that_fails_midway_leaves_the_old_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.ini");
    std::fs::write(&model, "[var.b]\nk = { assert(sim.step < 5); sim.step }\n").unwrap();
    let out = dir.path().join("out.csv");
    std::fs::write(&out, "old results\n").unwrap();
    let run = kexpr(&["run", model.to_str().unwrap(), "--steps", "10", "-o", out.to_str().unwrap()], &[]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("at step 5"), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old results\n");
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temporary file is left: {leftovers:?}");
}
