//! The full rendered text of the error kinds the function library adds, each from the input its
//! doc names.

use kalix_expr_core::library::{Dependents, Library};
use kalix_expr_core::{FnDef, NativeFn};

fn def(sig: &str, body: &str) -> FnDef {
    FnDef::parse(sig, body).unwrap()
}

#[test]
fn function_exists() {
    let lib = Library::in_memory();
    lib.add(def("f(x)", "x")).unwrap();
    let err = lib.add(def("f(x)", "x")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the change was refused:\nin `fn.f`:\nerror: `fn.f` already exists\n --> 1:1\n  |\n1 | fn.f\n  | ^^^^\n  |\n  = help: update it, or choose another name"
    );
}

#[test]
fn dependency_invalid() {
    let dir = std::env::temp_dir().join(format!("kalix-library-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("functions.ini"), "[fn]\nb(x) = x +\na(x) = 1 + fn.b(x)\n").unwrap();
    let (_, report) = Library::open(&dir).unwrap();
    assert_eq!(
        report.problems[1].error.to_string(),
        "error: `fn.b` is defined but invalid\n --> 1:5\n  |\n1 | 1 + fn.b(x)\n  |     ^^^^\n  |\n  = help: fix `fn.b` first: it has its own error"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dependents_exist() {
    let lib = Library::in_memory();
    lib.add(def("b(x)", "x")).unwrap();
    lib.add(def("a(x)", "fn.b(x)")).unwrap();
    let err = lib.remove("b", Dependents::Refuse).unwrap_err();
    assert_eq!(
        err.problems()[0].error.to_string(),
        "error: `fn.b` is called by `fn.a`\n --> 1:1\n  |\n1 | fn.b\n  | ^^^^\n  |\n  = help: change the callers first, or go ahead and cascade (remove them, or rewrite their calls on a rename) or break them (leave them invalid)"
    );
    assert!(
        err.to_string().starts_with(
            "the change was refused: it breaks 1 other function(s)\nin `fn.b`:\nerror: `fn.b` is called by `fn.a`"
        ),
        "{err}"
    );
}

#[test]
fn library_invalid() {
    let dir = std::env::temp_dir().join(format!("kalix-library-errors-invalid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("functions.ini"), "[fn]\ngarbage\n").unwrap();
    let (_, report) = Library::open(&dir).unwrap();
    assert_eq!(
        report.to_string(),
        format!(
            "{}:2:\nerror: invalid function library text: expected a definition `name(a, b) = body`, a comment or a section\n --> 1:1\n  |\n1 | garbage\n  | ^^^^^^^",
            dir.join("functions.ini").display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn native_name_taken() {
    let e = NativeFn::pure("moving_sum", 3, |a| a[0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error: `moving_sum` cannot be defined: it is a stateful function\n --> 1:1\n  |\n1 | moving_sum\n  | ^^^^^^^^^^"
    );
}
