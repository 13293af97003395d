//! Persistence: the directory format, crash safety, the lock between handles (standing in for
//! processes), and loading bad files without failing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use kalix_expr_core::library::{Change, Dependents, Library, LibraryError, MAX_FILE_BYTES};
use kalix_expr_core::{ErrorKind, Expr, FnDef, Options};

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kalix-library-store-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn def(sig: &str, body: &str) -> FnDef {
    FnDef::parse(sig, body).unwrap()
}

/// Every file of a directory with its bytes.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap())
        })
        .collect()
}

fn file(dir: &Path) -> String {
    fs::read_to_string(dir.join("functions.ini")).unwrap()
}

#[test]
fn the_file_is_the_documented_format() {
    let dir = temp_dir("format");
    let (lib, report) = Library::open(&dir).unwrap();
    assert!(report.is_clean());
    lib.add(
        def("frac(v, cap)", "clamp(v / cap, 0, 1)").with_description("Fill fraction.").with_tags(["storage", "ratio"]),
    )
    .unwrap();
    lib.add(def("spill(v, cap)", "{ over = max(0, v - cap);\n  over * fn.frac(v, cap) }")).unwrap();
    assert_eq!(
        file(&dir),
        "# Kalix function library: user functions, called in expressions as `fn.<name>(…)`.\n\
         # Edit it with `kexpr fn`, or by hand: the format is described in kalix-expr-core's `library` module.\n\
         [library]\nformat = 1\nversion = 2\n\n[fn]\n\
         \n# description: Fill fraction.\n# tags: storage, ratio\nfrac(v, cap) = clamp(v / cap, 0, 1)\n\
         \nspill(v, cap) = { over = max(0, v - cap);\n    over * fn.frac(v, cap) }\n"
    );
    let (again, report) = Library::open(&dir).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(again.version(), 2);
    let c = again.snapshot().compile(&Expr::parse("fn.spill(12, 10)").unwrap(), &[], &Options::default()).unwrap();
    assert_eq!(c.eval(&[]).unwrap(), 2.0);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn untouched_entries_are_written_back_byte_for_byte() {
    let dir = temp_dir("verbatim");
    let hand = "[fn]\n# my notes about f\n#   (aligned)\nf(x)   =   x*2   # double\n\t+ 0\n\n# a loose comment\n\nbroken(x) = x +\n";
    fs::write(dir.join("functions.ini"), hand).unwrap();
    let (lib, report) = Library::open(&dir).unwrap();
    assert_eq!(report.problems.len(), 1);
    lib.add(def("g()", "1")).unwrap();
    let text = file(&dir);
    for kept in [
        "# my notes about f\n#   (aligned)\nf(x)   =   x*2   # double\n\t+ 0\n",
        "# a loose comment\n",
        "broken(x) = x +\n",
    ] {
        assert!(text.contains(kept), "{kept:?} not kept in:\n{text}");
    }
    assert!(text.ends_with("\ng() = 1\n"), "{text}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_invalid_update_leaves_the_directory_byte_for_byte_unchanged() {
    let dir = temp_dir("unchanged");
    let (lib, _) = Library::open(&dir).unwrap();
    lib.add(def("b(x)", "x")).unwrap();
    lib.add(def("a(x)", "fn.b(x) + 1")).unwrap();
    let before = contents(&dir);
    assert!(lib.update(def("b(x)", "lg10(x)"), Dependents::Refuse).is_err());
    assert!(lib.update(def("b(x, y)", "x"), Dependents::Refuse).is_err());
    assert!(lib.remove("b", Dependents::Refuse).is_err());
    assert!(lib.rename("b", "c", Dependents::Refuse).is_err());
    assert!(lib.add(def("a(z)", "z")).is_err());
    assert_eq!(contents(&dir), before);
    assert_eq!(lib.version(), 2);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_handles_adding_at_once_lose_nothing() {
    let dir = temp_dir("concurrent");
    const EACH: usize = 25;
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|who| {
            let (dir, barrier) = (dir.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                // Its own handle, as another process would have.
                let (lib, _) = Library::open(&dir).unwrap();
                barrier.wait();
                for i in 0..EACH {
                    lib.add(def(&format!("{who}{i}(x)"), &format!("x + {i}"))).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let (lib, report) = Library::open(&dir).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(lib.version(), 2 * EACH as u64);
    assert_eq!(lib.snapshot().functions().len(), 2 * EACH);
    let leftovers: Vec<String> = contents(&dir).into_keys().filter(|n| n.ends_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_change_applies_on_top_of_what_another_handle_wrote() {
    let dir = temp_dir("on-top");
    let (mine, _) = Library::open(&dir).unwrap();
    let (theirs, _) = Library::open(&dir).unwrap();
    let rx = mine.subscribe();
    theirs.add(def("theirs()", "1")).unwrap();
    let c = mine.add(def("mine()", "fn.theirs() + 1")).unwrap();
    assert_eq!(c.version, 2);
    let seen: Vec<_> = rx.try_iter().map(|c| (c.version, c.external, c.changes)).collect();
    assert_eq!(seen, [(1, true, vec![Change::Added("theirs".into())]), (2, false, vec![Change::Added("mine".into())])]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_crash_before_the_rename_leaves_the_previous_version_loadable() {
    let dir = temp_dir("crash");
    let (lib, _) = Library::open(&dir).unwrap();
    lib.add(def("f(x)", "x * 2")).unwrap();
    let good = file(&dir);
    // A writer died after writing (part of) its temporary file, before renaming it.
    let stray = dir.join(format!(".functions.ini.{}.999.tmp", std::process::id() + 1));
    fs::write(&stray, "[library]\nversion = 2\n[fn]\nf(x) = x *").unwrap();
    let (again, report) = Library::open(&dir).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!((again.version(), file(&dir)), (1, good));
    // The next change removes the stray file under the lock.
    again.add(def("g()", "1")).unwrap();
    assert!(!stray.exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_files_are_reported_by_line_and_the_rest_loads() {
    let dir = temp_dir("bad");
    let mut bytes =
        b"[library]\nformat = 1\nversion = 4\nflavour = odd\n\n[fn]\nok(x) = x\n\ngarbage here\n\n".to_vec();
    bytes.extend_from_slice(
        b"# description: caf\xe9\nlatin(x) = x\n\nuses_bad(x) = fn.syntax(x)\n\nsyntax(x) = x +\n\n",
    );
    bytes.extend_from_slice(b"dup(x) = 1\n\ndup(y) = 2\n\ncut(x) = max(x,");
    fs::write(dir.join("functions.ini"), &bytes).unwrap();
    let (lib, report) = Library::open(&dir).unwrap();
    let snap = lib.snapshot();
    let valid: Vec<&str> = snap.functions().iter().map(|d| d.name()).collect();
    assert_eq!(valid, ["ok", "dup"]);
    assert_eq!(lib.version(), 4);
    let found: Vec<(usize, Option<&str>)> = report.problems.iter().map(|p| (p.line, p.function.as_deref())).collect();
    assert_eq!(
        found,
        [
            (4, None),
            (9, None),
            (11, Some("latin")),
            (14, Some("uses_bad")),
            (16, Some("syntax")),
            (20, Some("dup")),
            (22, Some("cut"))
        ]
    );
    assert!(matches!(report.problems[3].error.kind(), ErrorKind::DependencyInvalid { name } if name == "fn.syntax"));
    let path = dir.join("functions.ini");
    assert!(report.problems[1].to_string().starts_with(&format!("{}:9:\n", path.display())), "{}", report.problems[1]);
    // Changing the library keeps the bad entries as they are, and the original bytes aside.
    lib.update(def("syntax(x)", "x + 1"), Dependents::Refuse).unwrap();
    // The bytes that were not UTF-8 are U+FFFD in the rewritten file; the original is kept.
    assert_eq!(lib.snapshot().invalid(), ["cut"]);
    assert_eq!(lib.snapshot().get("latin").unwrap().description(), Some("caf\u{fffd}"));
    assert_eq!(fs::read(dir.join("functions.ini.corrupt")).unwrap(), bytes);
    assert_eq!(lib.version(), 5);
    let text = file(&dir);
    assert!(
        text.contains("garbage here\n") && text.contains("dup(y) = 2\n") && text.contains("cut(x) = max(x,\n"),
        "{text}"
    );
    assert!(text.contains("uses_bad(x) = fn.syntax(x)"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_files_never_panic() {
    let dir = temp_dir("hostile");
    let cases: Vec<Vec<u8>> = vec![
        vec![0xff; 1000],
        b"[fn]\n\0\0\0 = \0".to_vec(),
        b"[library]\nversion = 99999999999999999999999\n".to_vec(),
        b"\r\n\r\n[fn]\r\nf(x) = x\r\n".to_vec(),
        "[fn]\nf(x) = ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((x".repeat(50).into_bytes(),
        format!("[fn]\nf(x) = {}\n", "1+".repeat(100_000) + "1").into_bytes(),
        b"[fn]\n    \n\t\n=\n(\n)\n=(\nf()=\n".to_vec(),
        (0..2000).map(|i| format!("f{i}(x) = fn.f{}(x)\n", i + 1)).collect::<String>().into_bytes(),
    ];
    for bytes in cases {
        fs::write(dir.join("functions.ini"), &bytes).unwrap();
        let (lib, _report) = Library::open(&dir).unwrap();
        let _ = lib.snapshot().list();
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_too_large_is_reported_and_never_rewritten() {
    let dir = temp_dir("large");
    let path = dir.join("functions.ini");
    let f = fs::File::create(&path).unwrap();
    f.set_len(MAX_FILE_BYTES + 1).unwrap();
    drop(f);
    let (lib, report) = Library::open(&dir).unwrap();
    assert!(matches!(report.problems[0].error.kind(), ErrorKind::LibraryInvalid { .. }));
    assert!(lib.snapshot().functions().is_empty());
    let err = lib.add(def("f()", "1")).unwrap_err();
    assert!(matches!(err, LibraryError::FileUnusable { .. }), "{err}");
    assert_eq!(fs::metadata(&path).unwrap().len(), MAX_FILE_BYTES + 1);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn natives_given_at_open_make_their_callers_load() {
    let dir = temp_dir("natives");
    fs::write(dir.join("functions.ini"), "[fn]\nf(i) = g(i) + 1\n").unwrap();
    let (plain, report) = Library::open(&dir).unwrap();
    assert_eq!(report.problems.len(), 1, "unknown without the native");
    // Registering it later validates again.
    plain.register_native(kalix_expr_core::NativeFn::impure("g", 1, |a| a[0]).unwrap()).unwrap();
    assert_eq!(plain.snapshot().functions().len(), 1);
    let g = kalix_expr_core::NativeFn::impure("g", 1, |a| a[0]).unwrap();
    let (lib, report) = Library::open_with_natives(&dir, vec![g]).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(lib.snapshot().functions().len(), 1);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_definition_added_to_a_file_with_another_section_after_fn_is_kept() {
    let dir = temp_dir("section-after-fn");
    fs::write(
        dir.join("functions.ini"),
        "[library]\nformat = 1\nversion = 3\n\n[fn]\nhalf(x) = x / 2\n\n[extra]\nnote = hello\n",
    )
    .unwrap();
    let (library, _) = Library::open(&dir).unwrap();
    library.add(def("dbl(x)", "x * 2")).unwrap();
    let (again, _) = Library::open(&dir).unwrap();
    assert!(again.snapshot().get("dbl").is_some(), "the added definition loads back");
    assert!(again.snapshot().get("half").is_some());
    let text = fs::read_to_string(dir.join("functions.ini")).unwrap();
    assert!(text.find("dbl(x)").unwrap() < text.find("[extra]").unwrap(), "{text}");
    assert!(text.contains("note = hello"), "the other section is kept: {text}");
}

#[test]
fn a_file_in_a_newer_format_is_refused_not_rewritten() {
    let dir = temp_dir("newer-format");
    let text = "[library]\nformat = 2\nversion = 3\n\n[fn]\nhalf(x) = x / 2\n";
    fs::write(dir.join("functions.ini"), text).unwrap();
    let (library, _) = Library::open(&dir).unwrap();
    let err = library.add(def("dbl(x)", "x * 2")).unwrap_err();
    assert!(matches!(err, LibraryError::FileUnusable { .. }), "{err}");
    assert!(err.to_string().contains("newer format"), "{err}");
    assert_eq!(fs::read_to_string(dir.join("functions.ini")).unwrap(), text);
}
