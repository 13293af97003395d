//! Readers compile and evaluate against consistent snapshots while a writer changes the
//! library from another thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kalix_expr_core::library::{Dependents, Edit, Library};
use kalix_expr_core::{Expr, FnDef, Options};

fn def(sig: &str, body: &str) -> FnDef {
    FnDef::parse(sig, body).unwrap()
}

#[test]
fn readers_see_consistent_snapshots_while_a_writer_changes_the_library() {
    let lib = Library::in_memory();
    // Invariant of every version n: fn.a() = n and fn.b() = 2n, changed in one commit.
    lib.apply(vec![Edit::Add(def("a()", "0")), Edit::Add(def("b()", "fn.a() * 2"))], Dependents::Refuse).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (lib, done) = (lib.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let expr = Expr::parse("fn.b() - 2 * fn.a() + fn.a()").unwrap();
                let mut checked = 0u64;
                let mut last = 0;
                while !done.load(Ordering::Acquire) || checked < 10 {
                    let snap = lib.snapshot();
                    assert!(snap.version() >= last, "versions never go back");
                    last = snap.version();
                    let c = snap.compile(&expr, &[], &Options::default()).unwrap();
                    // Compiled against one snapshot: a, b and the version agree.
                    let a = c.eval(&[]).unwrap();
                    assert_eq!(a, snap.version() as f64 - 1.0, "version {}", snap.version());
                    checked += 1;
                }
                checked
            })
        })
        .collect();
    let writer = {
        let lib = lib.clone();
        std::thread::spawn(move || {
            for n in 1..=200u32 {
                lib.apply(
                    vec![
                        Edit::Update(def("a()", &n.to_string())),
                        Edit::Update(def("b()", &format!("fn.a() + {n}"))),
                        // Churn: something added and removed too.
                        if n % 2 == 1 { Edit::Add(def("tmp()", "1")) } else { Edit::Remove("tmp".into()) },
                    ],
                    Dependents::Refuse,
                )
                .unwrap();
            }
        })
    };
    writer.join().unwrap();
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() >= 10);
    }
    assert_eq!(lib.version(), 201);
}

#[test]
fn a_compiled_expression_keeps_working_after_its_functions_change() {
    let lib = Library::in_memory();
    lib.add(def("k()", "1")).unwrap();
    let c = lib.snapshot().compile(&Expr::parse("fn.k() + x").unwrap(), &["x"], &Options::default()).unwrap();
    let worker = std::thread::spawn(move || (0..1000).map(|i| c.eval(&[i as f64]).unwrap()).sum::<f64>());
    lib.update(def("k()", "1000"), Dependents::Refuse).unwrap();
    lib.remove("k", Dependents::Refuse).unwrap();
    assert_eq!(worker.join().unwrap(), (0..1000).map(|i| i as f64 + 1.0).sum::<f64>());
}

#[test]
fn libraries_and_snapshots_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Library>();
    check::<kalix_expr_core::library::Snapshot>();
    check::<kalix_expr_core::library::Commit>();
}
