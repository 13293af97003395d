//! Atomic changes: every change validates the whole resulting library first, and applies all
//! or nothing.

use kalix_expr_core::library::{Change, Dependents, Edit, Library, LibraryError};
use kalix_expr_core::{ErrorKind, Expr, FnDef, NativeFn, Options};

fn def(sig: &str, body: &str) -> FnDef {
    FnDef::parse(sig, body).unwrap_or_else(|e| panic!("{sig} = {body}: {e}"))
}

/// A library with `base(x)`, `mid(x)` calling it, `top(x)` calling `mid`, and `other(x)`.
fn chain() -> Library {
    let lib = Library::in_memory();
    lib.apply(
        vec![
            Edit::Add(def("base(x)", "x + 1")),
            Edit::Add(def("mid(x)", "fn.base(x) * 2")),
            Edit::Add(def("top(x)", "fn.mid(x) - 1")),
            Edit::Add(def("other(x)", "x")),
        ],
        Dependents::Refuse,
    )
    .unwrap();
    lib
}

fn names(lib: &Library) -> Vec<String> {
    lib.snapshot().functions().iter().map(|d| d.name().to_string()).collect()
}

fn eval(lib: &Library, src: &str) -> f64 {
    lib.snapshot().compile(&Expr::parse(src).unwrap(), &[], &Options::default()).unwrap().eval(&[]).unwrap()
}

#[test]
fn add_update_remove_and_rename_commit_new_versions() {
    let lib = chain();
    assert_eq!(lib.version(), 1);
    assert_eq!(eval(&lib, "fn.top(1)"), 3.0);
    let c = lib.update(def("base(x)", "x + 10"), Dependents::Refuse).unwrap();
    assert_eq!((c.version, c.changes.as_slice()), (2, &[Change::Updated("base".into())][..]));
    assert_eq!(eval(&lib, "fn.top(1)"), 21.0);
    lib.rename("other", "same", Dependents::Refuse).unwrap();
    lib.remove("same", Dependents::Refuse).unwrap();
    assert_eq!(names(&lib), ["base", "mid", "top"]);
    assert_eq!(lib.version(), 4);
}

#[test]
fn an_invalid_change_leaves_the_library_as_it_was_and_names_every_problem() {
    let lib = chain();
    let before = lib.snapshot();
    let err = lib
        .apply(
            vec![
                Edit::Update(def("other(x)", "lg10(x) + fn.nope(x)")),
                Edit::Add(def("extra(x)", "sin(x, x)")),
                Edit::Add(def("loop_a(x)", "fn.loop_b(x)")),
                Edit::Add(def("loop_b(x)", "fn.loop_a(x)")),
            ],
            Dependents::Refuse,
        )
        .unwrap_err();
    let LibraryError::ChangeRejected { problems } = &err else { panic!("{err}") };
    let text = err.to_string();
    for needle in [
        "unknown function `lg10`",
        "unknown function `fn.nope`",
        "`sin` takes 1 argument, found 2",
        "recursive functions: fn.loop_a -> fn.loop_b -> fn.loop_a",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let who: Vec<&str> = problems.iter().filter_map(|p| p.function.as_deref()).collect();
    assert!(who.contains(&"other") && who.contains(&"extra"), "{who:?}");
    assert!(std::sync::Arc::ptr_eq(&before, &lib.snapshot()), "the snapshot is untouched");
    assert_eq!(lib.version(), 1);
}

#[test]
fn a_batch_applies_all_or_nothing() {
    let lib = chain();
    let err = lib
        .apply(
            vec![Edit::Remove("other".into()), Edit::Add(def("fresh()", "1")), Edit::Update(def("missing(x)", "x"))],
            Dependents::Refuse,
        )
        .unwrap_err();
    assert!(matches!(err.problems()[0].error.kind(), ErrorKind::FunctionUnknown { name } if name == "fn.missing"));
    assert_eq!(names(&lib), ["base", "mid", "top", "other"]);
    // Edits see the ones before them.
    let c = lib
        .apply(
            vec![
                Edit::Rename { from: "other".into(), to: "spare".into() },
                Edit::Add(def("other()", "2")),
                Edit::Add(def("uses(x)", "fn.spare(x) + fn.other()")),
            ],
            Dependents::Refuse,
        )
        .unwrap();
    assert_eq!(c.version, 2);
    assert_eq!(c.changes.len(), 3);
    assert_eq!(eval(&lib, "fn.uses(5)"), 7.0);
}

#[test]
fn names_are_checked_against_the_library_and_its_natives() {
    let lib = chain();
    lib.register_native(NativeFn::pure("g", 1, |a| a[0]).unwrap()).unwrap();
    let e = lib.add(def("mid(y)", "y")).unwrap_err();
    assert!(matches!(e.problems()[0].error.kind(), ErrorKind::FunctionExists { name } if name == "fn.mid"));
    let e = lib.add(def("g(y)", "y")).unwrap_err();
    assert!(matches!(e.problems()[0].error.kind(), ErrorKind::FunctionExists { name } if name == "g"));
    let e = lib.rename("other", "base", Dependents::Refuse).unwrap_err();
    assert!(matches!(e.problems()[0].error.kind(), ErrorKind::FunctionExists { .. }));
    let e = lib.rename("other", "max", Dependents::Refuse).unwrap_err();
    assert!(matches!(e.problems()[0].error.kind(), ErrorKind::NameReserved { .. }));
    let e = lib.remove("nope", Dependents::Refuse).unwrap_err();
    assert!(matches!(e.problems()[0].error.kind(), ErrorKind::FunctionUnknown { .. }));
    let e = lib.add(def("tagged()", "1").with_tags(["a,b"])).unwrap_err();
    assert!(matches!(e.problems()[0].error.kind(), ErrorKind::LibraryInvalid { .. }));
    assert!(lib.register_native(NativeFn::pure("mid", 1, |a| a[0]).unwrap()).is_err());
    assert_eq!(lib.version(), 1);
}

#[test]
fn removing_a_called_function_is_refused_with_its_dependents() {
    let lib = chain();
    let err = lib.remove("base", Dependents::Refuse).unwrap_err();
    let LibraryError::DependentsBroken { dependents, problems } = &err else { panic!("{err}") };
    assert_eq!(dependents, &["mid", "top"]);
    assert!(matches!(
        problems[0].error.kind(),
        ErrorKind::DependentsExist { name, dependents } if name == "fn.base" && dependents == &["fn.mid", "fn.top"]
    ));
    assert!(err.to_string().contains("`fn.base` is called by `fn.mid` and `fn.top`"), "{err}");
    assert_eq!(lib.version(), 1);
}

#[test]
fn cascade_removes_the_dependents_too() {
    let lib = chain();
    let c = lib.remove("fn.base", Dependents::Cascade).unwrap();
    assert_eq!(
        c.changes,
        [Change::Removed("base".into()), Change::Removed("mid".into()), Change::Removed("top".into())]
    );
    assert_eq!(names(&lib), ["other"]);
}

#[test]
fn break_keeps_the_dependents_as_invalid_entries() {
    let lib = chain();
    let c = lib.remove("base", Dependents::Break).unwrap();
    assert_eq!(c.broken, ["mid", "top"]);
    let snap = lib.snapshot();
    assert_eq!(names(&lib), ["other"]);
    assert_eq!(snap.invalid(), ["mid", "top"]);
    assert!(snap.entry_text("mid").is_some(), "kept in the library");
    let why: Vec<String> = snap.problems().iter().map(|p| p.error.to_string()).collect();
    assert!(why[0].contains("unknown function `fn.base`"), "{why:?}");
    assert!(why[1].contains("`fn.mid` is defined but invalid"), "{why:?}");
    // Fixing the missing function makes them valid again.
    lib.add(def("base(x)", "x")).unwrap();
    assert!(lib.snapshot().invalid().is_empty());
    assert_eq!(eval(&lib, "fn.top(1)"), 1.0);
}

#[test]
fn an_arity_change_is_refused_unless_broken_on_purpose() {
    let lib = chain();
    let err = lib.update(def("base(x, y)", "x + y"), Dependents::Refuse).unwrap_err();
    assert!(matches!(&err, LibraryError::DependentsBroken { dependents, .. } if dependents == &["mid", "top"]));
    assert!(err.to_string().contains("`fn.base` takes 2 arguments, found 1"), "{err}");
    let err = lib.update(def("base(x, y)", "x + y"), Dependents::Cascade).unwrap_err();
    assert!(matches!(err, LibraryError::DependentsBroken { .. }), "an arity change cannot be carried through");
    // A body change that keeps the arity needs nothing.
    lib.update(def("base(z)", "z * 3"), Dependents::Refuse).unwrap();
    lib.update(def("base(x, y)", "x + y"), Dependents::Break).unwrap();
    assert_eq!(lib.snapshot().invalid(), ["mid", "top"]);
}

#[test]
fn rename_is_refused_or_rewrites_the_callers() {
    let lib = chain();
    let err = lib.rename("base", "root", Dependents::Refuse).unwrap_err();
    assert!(matches!(&err, LibraryError::DependentsBroken { dependents, .. } if dependents == &["mid", "top"]));
    let c = lib.rename("base", "root", Dependents::Cascade).unwrap();
    assert_eq!(c.changes, [Change::Renamed { from: "base".into(), to: "root".into() }, Change::Updated("mid".into())]);
    assert_eq!(lib.snapshot().entry_text("mid"), Some("mid(x) = fn.root(x) * 2"));
    assert_eq!(eval(&lib, "fn.top(1)"), 3.0);
}

#[test]
fn a_change_that_changes_nothing_makes_no_version() {
    let lib = chain();
    let rx = lib.subscribe();
    let c = lib.update(def("base(x)", "x + 1"), Dependents::Refuse).unwrap();
    assert!(c.changes.is_empty());
    assert_eq!((c.version, lib.version()), (1, 1));
    assert!(rx.try_recv().is_err());
}

#[test]
fn descriptions_and_tags_are_kept_through_rename() {
    let lib = Library::in_memory();
    lib.add(def("f(x)", "x").with_description("identity").with_tags(["basic", "math"])).unwrap();
    lib.rename("f", "id", Dependents::Refuse).unwrap();
    let f = lib.snapshot().get("id").unwrap();
    assert_eq!((f.description(), f.tags()), (Some("identity"), &["basic".to_string(), "math".to_string()][..]));
}

#[test]
fn user_functions_may_call_natives_registered_later() {
    let lib = Library::in_memory();
    assert!(lib.add(def("f(i)", "g(i) + 1")).is_err());
    lib.register_native(NativeFn::impure("g", 1, |a| a[0] * 100.0).unwrap()).unwrap();
    lib.add(def("f(i)", "g(i) + 1")).unwrap();
    assert_eq!(eval(&lib, "fn.f(2)"), 201.0);
}
