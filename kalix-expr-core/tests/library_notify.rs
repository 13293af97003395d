//! Change notification: every subscriber sees every committed change exactly once, in order;
//! and compiled expressions can be checked against a new version.

use kalix_expr_core::library::{Change, Commit, Dependents, Edit, Library, Revalidation};
use kalix_expr_core::{Compiled, Expr, FnDef, Options};

fn def(sig: &str, body: &str) -> FnDef {
    FnDef::parse(sig, body).unwrap()
}

#[test]
fn every_subscriber_sees_every_change_once_in_order() {
    let lib = Library::in_memory();
    let early = lib.subscribe();
    let second = lib.subscribe();
    lib.add(def("a(x)", "x")).unwrap();
    let late = lib.subscribe();
    lib.update(def("a(x)", "x + 1"), Dependents::Refuse).unwrap();
    assert!(lib.add(def("bad(x)", "nope(x)")).is_err(), "a refused change is not announced");
    lib.apply(vec![Edit::Rename { from: "a".into(), to: "b".into() }, Edit::Add(def("c()", "1"))], Dependents::Refuse)
        .unwrap();
    lib.remove("c", Dependents::Refuse).unwrap();
    let expected = vec![
        (1, vec![Change::Added("a".into())]),
        (2, vec![Change::Updated("a".into())]),
        (3, vec![Change::Renamed { from: "a".into(), to: "b".into() }, Change::Added("c".into())]),
        (4, vec![Change::Removed("c".into())]),
    ];
    let seen = |rx: &std::sync::mpsc::Receiver<Commit>| -> Vec<(u64, Vec<Change>)> {
        rx.try_iter().map(|c| (c.version, c.changes)).collect()
    };
    assert_eq!(seen(&early), expected);
    assert_eq!(seen(&second), expected);
    assert_eq!(seen(&late), expected[1..]);
    assert!(early.try_recv().is_err(), "nothing more");
}

#[test]
fn a_dropped_subscriber_is_forgotten_and_the_others_go_on() {
    let lib = Library::in_memory();
    let kept = lib.subscribe();
    drop(lib.subscribe());
    lib.add(def("a()", "1")).unwrap();
    lib.add(def("b()", "2")).unwrap();
    assert_eq!(kept.try_iter().count(), 2);
}

#[test]
fn commits_from_many_threads_arrive_exactly_once_in_version_order() {
    let lib = Library::in_memory();
    let rx = lib.subscribe();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let lib = lib.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    lib.add(def(&format!("f{t}_{i}()"), &format!("{i}"))).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let versions: Vec<u64> = rx.try_iter().map(|c| c.version).collect();
    assert_eq!(versions, (1..=100).collect::<Vec<u64>>());
}

#[test]
fn a_subscriber_reading_the_snapshot_sees_at_least_the_announced_version() {
    let lib = Library::in_memory();
    let rx = lib.subscribe();
    let reader = {
        let lib = lib.clone();
        std::thread::spawn(move || {
            for commit in rx.iter().take(20) {
                assert!(lib.snapshot().version() >= commit.version);
            }
        })
    };
    for i in 0..20 {
        lib.add(def(&format!("f{i}()"), "1")).unwrap();
    }
    reader.join().unwrap();
}

#[test]
fn revalidation_tells_current_stale_and_broken_expressions_apart() {
    let lib = Library::in_memory();
    lib.add(def("rate()", "0.5")).unwrap();
    lib.add(def("loss(x)", "x * fn.rate()")).unwrap();
    lib.add(def("unrelated(x)", "x")).unwrap();
    let opts = Options::model();
    let compile =
        |src: &str| -> Compiled { lib.snapshot().compile(&Expr::parse(src).unwrap(), &["data.rain"], &opts).unwrap() };
    let exprs =
        [compile("data.rain - fn.loss(data.rain)"), compile("fn.unrelated(data.rain)"), compile("fn.rate() * 2")];
    // `rate` changes: the first and third are stale (the first through `loss`), the second is not.
    lib.update(def("rate()", "0.25"), Dependents::Refuse).unwrap();
    let found = lib.snapshot().revalidate(&exprs, &opts);
    assert!(matches!(&found[0], Revalidation::Stale { changed, .. } if changed == &["fn.rate"]), "{found:?}");
    assert!(matches!(found[1], Revalidation::Current));
    let Revalidation::Stale { compiled, .. } = &found[2] else { panic!("{found:?}") };
    assert_eq!(compiled.eval(&[0.0]).unwrap(), 0.5);
    // `unrelated` goes: only the second breaks, and says why.
    lib.remove("unrelated", Dependents::Refuse).unwrap();
    let found = lib.snapshot().revalidate(&exprs, &opts);
    match &found[1] {
        Revalidation::Broken(e) => assert!(e.to_string().contains("unknown function `fn.unrelated`"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(!matches!(found[0], Revalidation::Broken(_)));
}

#[test]
fn a_subscriber_can_revalidate_on_each_commit() {
    let lib = Library::in_memory();
    lib.add(def("k()", "1")).unwrap();
    let opts = Options::default();
    let compiled = lib.snapshot().compile(&Expr::parse("fn.k() + 1").unwrap(), &[], &opts).unwrap();
    let rx = lib.subscribe();
    let verdict = |commit: Commit| -> &'static str {
        let snap = lib.snapshot();
        assert_eq!(snap.version(), commit.version);
        match snap.revalidate([&compiled], &opts).remove(0) {
            Revalidation::Current => "current",
            Revalidation::Stale { .. } => "stale",
            Revalidation::Broken(_) => "broken",
            _ => "other",
        }
    };
    lib.add(def("other()", "1")).unwrap();
    assert_eq!(verdict(rx.recv().unwrap()), "current");
    lib.update(def("k()", "2"), Dependents::Refuse).unwrap();
    assert_eq!(verdict(rx.recv().unwrap()), "stale");
    lib.remove("k", Dependents::Refuse).unwrap();
    assert_eq!(verdict(rx.recv().unwrap()), "broken");
}
