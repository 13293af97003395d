//! Native functions called by bare name, and the function references a compiled expression
//! records.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kalix_expr_core::library::{fnv1a64, Library};
use kalix_expr_core::{ErrorKind, Expr, FnDef, FnKind, FnRef, Functions, Host, IrNode, NativeFn, Options};

fn lin_range() -> NativeFn {
    NativeFn::pure("lin_range", 3, |a| a[1] + a[0] * (a[2] - a[1])).unwrap()
}

fn compile(
    src: &str,
    names: &[&str],
    natives: &[Arc<NativeFn>],
) -> Result<kalix_expr_core::Compiled, kalix_expr_core::Error> {
    let host = Host { natives, ..Host::default() };
    Expr::parse(src)?.compile_with_host(names, &host, &Options::default())
}

#[test]
fn natives_are_called_by_bare_name_case_insensitively() {
    let natives = [Arc::new(lin_range())];
    let c = compile("LIN_RANGE(x, 10, 20) + lin_range(0.5, 0, y)", &["x", "y"], &natives).unwrap();
    assert_eq!(c.eval(&[0.25, 4.0]).unwrap(), 14.5);
}

#[test]
fn a_wrong_arity_is_reported_with_the_description() {
    let natives = [Arc::new(lin_range().with_description("x in [0, 1] onto [lo, hi]"))];
    let e = compile("lin_range(x, 1)", &["x"], &natives).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::ArityMismatch { found: 2, .. }), "{e}");
    assert_eq!(e.help(), Some("lin_range: x in [0, 1] onto [lo, hi]"));
}

#[test]
fn an_unknown_call_suggests_a_close_native() {
    let natives = [Arc::new(lin_range())];
    let e = compile("lin_rang(x, 1, 2)", &["x"], &natives).unwrap_err();
    assert_eq!(e.help(), Some("did you mean `lin_range`?"));
}

#[test]
fn a_pure_native_with_constant_arguments_is_folded_and_an_impure_one_is_not() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = {
        let calls = Arc::clone(&calls);
        move |a: &[f64]| {
            calls.fetch_add(1, Ordering::Relaxed);
            a[0] + 1.0
        }
    };
    let pure = Arc::new(NativeFn::pure("p", 1, counted.clone()).unwrap());
    let impure = Arc::new(NativeFn::impure("q", 1, counted).unwrap());
    let host = Host { natives: &[Arc::clone(&pure), Arc::clone(&impure)], ..Host::default() };
    let ir = Expr::parse("p(1) + q(1)").unwrap();
    let ast = kalix_expr_core::parse(ir.source(), &Default::default()).unwrap();
    let (ir, _) = kalix_expr_core::sema::resolve_with(
        &ast,
        ir.source(),
        &kalix_expr_core::Scope::Free,
        &host,
        &Options::default(),
    )
    .unwrap();
    match &ir.result {
        IrNode::Binary { lhs, rhs, .. } => {
            assert_eq!(**lhs, IrNode::Const(2.0));
            assert!(matches!(&**rhs, IrNode::Native { f, .. } if f.name() == "q"));
        }
        other => panic!("{other:?}"),
    }
    let c = Expr::parse("p(1) + q(1)").unwrap().compile_with_host(&[], &host, &Options::default()).unwrap();
    let folded = calls.load(Ordering::Relaxed);
    for _ in 0..3 {
        assert_eq!(c.eval(&[]).unwrap(), 4.0);
    }
    assert_eq!(calls.load(Ordering::Relaxed), folded + 3, "only the impure native runs at evaluation");
}

#[test]
fn arguments_are_evaluated_left_to_right_into_the_slice() {
    let natives: Vec<Arc<NativeFn>> = (0..=NativeFn::MAX_ARITY)
        .map(|n| {
            Arc::new(
                NativeFn::pure(&format!("f{n}"), n, |a| a.iter().enumerate().map(|(i, x)| (i as f64 + 1.0) * x).sum())
                    .unwrap(),
            )
        })
        .collect();
    for n in 0..=NativeFn::MAX_ARITY {
        let args: Vec<String> = (0..n).map(|i| format!("x + {i}")).collect();
        let src = format!("f{n}({})", args.join(", "));
        let c = compile(&src, &["x"], &natives).unwrap();
        let expected: f64 = (0..n).map(|i| (i as f64 + 1.0) * (10.0 + i as f64)).sum();
        assert_eq!(c.eval(&[10.0]).unwrap(), expected, "{src}");
    }
}

#[test]
fn names_of_builtins_stateful_and_reserved_functions_are_refused() {
    for name in ["max", "if", "moving_mean", "steps_since", "month_at", "assert", "this", "e", "fn.g", "g(x)"] {
        assert!(NativeFn::pure(name, 1, |a| a[0]).is_err(), "{name}");
    }
    let e = NativeFn::pure("f", NativeFn::MAX_ARITY + 1, |a| a[0]).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::LimitExceeded { .. }));
}

#[test]
fn stateful_calls_inside_native_arguments_are_evaluated() {
    let lib = Library::in_memory();
    lib.register_native(NativeFn::pure("twice", 1, |a| 2.0 * a[0]).unwrap()).unwrap();
    lib.add(FnDef::parse("acc(x)", "twice(sum_since(x, 0))").unwrap()).unwrap();
    let single_step = Options { single_step: true, ..Options::default() };
    // Without the opt-in, the stateful call in the function's body is refused.
    let refused = lib.snapshot().compile(&Expr::parse("fn.acc(x)").unwrap(), &["x"], &Options::default());
    assert!(refused.unwrap_err().to_string().contains("reads earlier steps of a run"));
    let c = lib.snapshot().compile(&Expr::parse("fn.acc(x)").unwrap(), &["x"], &single_step).unwrap();
    assert_eq!(c.eval(&[3.0]).unwrap(), 6.0);
    assert!(!lib.snapshot().get("acc").unwrap().is_pure());
}

#[test]
fn a_compiled_expression_lists_every_function_it_was_built_from() {
    let lib = Library::in_memory();
    lib.register_native(lin_range().with_tags(["calibration"])).unwrap();
    lib.add(FnDef::parse("inner(x)", "sqrt(x)").unwrap()).unwrap();
    lib.add(FnDef::parse("outer(x)", "fn.inner(x) + lin_range(x, 0, 1)").unwrap().with_tags(["shape"])).unwrap();
    let c = lib
        .snapshot()
        .compile(&Expr::parse("max(fn.outer(a), fn.inner(a), 0)").unwrap(), &["a"], &Options::default())
        .unwrap();
    let got: Vec<(FnKind, &str)> = c.functions().iter().map(|f| (f.kind(), f.name())).collect();
    assert_eq!(
        got,
        [
            (FnKind::Builtin, "max"),
            (FnKind::User, "outer"),
            (FnKind::User, "inner"),
            (FnKind::Builtin, "sqrt"),
            (FnKind::Native, "lin_range"),
        ]
    );
    let outer = &c.functions()[1];
    assert_eq!(outer.tags(), ["shape"]);
    assert_eq!(outer.arity(), kalix_expr_core::builtins::Arity::Exact(1));
    assert!(outer.is_pure());
    assert_eq!(outer.to_string(), "fn.outer");
    assert_eq!(outer.content_hash(), fnv1a64(b"outer(x) = fn.inner(x) + lin_range(x, 0, 1)"));
    assert_eq!(c.functions()[4].tags(), ["calibration"]);
}

#[test]
fn references_compare_and_hash_by_kind_and_name() {
    let a = Expr::parse("sin(x)").unwrap().compile(&["x"]).unwrap().functions()[0].clone();
    let b = Expr::parse("SIN(y) + 1").unwrap().compile(&["y"]).unwrap().functions()[0].clone();
    assert_eq!(a, b);
    let set: HashSet<FnRef> = [a, b].into_iter().collect();
    assert_eq!(set.len(), 1);
    // Same name, other kinds: a user function `sin` cannot exist, but a table can share a native's name.
    let natives = [Arc::new(NativeFn::pure("curve", 1, |a| a[0]).unwrap())];
    let tables = [Arc::new(kalix_expr_core::Table::from_cells("curve", &["0", "0", "1", "1"], 2).unwrap())];
    let host = Host { natives: &natives, tables: &tables, ..Host::default() };
    let c = Expr::parse("curve(x) + table.curve(x)")
        .unwrap()
        .compile_with_host(&["x"], &host, &Options::default())
        .unwrap();
    let [n, t] = c.functions() else { panic!("{:?}", c.functions()) };
    assert_ne!(n, t);
    assert_eq!((n.kind(), t.kind(), t.to_string()), (FnKind::Native, FnKind::Table, "table.curve".to_string()));
}

#[test]
fn purity_follows_what_a_body_reads_and_calls() {
    let g = Arc::new(NativeFn::impure("g", 1, |a| a[0]).unwrap());
    let set = Functions::with_natives(
        vec![
            FnDef::parse("pure_math(x)", "{ y = x * 2; assert(y > 0); max(y, 1) }").unwrap(),
            FnDef::parse("reads(x)", "x + data.rain").unwrap(),
            FnDef::parse("this_node()", "this.volume").unwrap(),
            FnDef::parse("windowed(x)", "moving_mean(x, 3, 0)").unwrap(),
            FnDef::parse("calendar()", "month_at(0)").unwrap(),
            FnDef::parse("param(i)", "g(i)").unwrap(),
            FnDef::parse("through(x)", "fn.reads(x)").unwrap(),
        ],
        &[g],
    )
    .unwrap();
    let pure: Vec<bool> = set.iter().map(|d| set.is_pure(d.name())).collect();
    assert_eq!(pure, [true, false, false, false, false, false, false]);
}
