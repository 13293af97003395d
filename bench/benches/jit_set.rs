//! A step of model-sized expressions in an `ExprSet`: the interpreter, the JIT (members
//! compiled with `Engine::Jit`, run as one native module in blocks), and the same expressions
//! as Rust closures in a `Vec` (what `kexpr!` closures of a host would be), at 1,000 and 10,000
//! members. Target: the JIT within 1.3× the closures. Also the time to build a 1,000-member
//! set's native module (target: 100 ms). And the cost of strict options on each engine, on
//! 1,000 members with divisions and built-ins.
//!
//! `cargo bench -p kalix-expr-bench --bench jit_set -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kalix_expr_core::{DivByZero, DomainErrors, Engine, Expr, ExprSet, Options};

const INPUTS: usize = 8;

/// A member: its source, and the same as a Rust closure of the values.
type Member = (String, Box<dyn Fn(&[f64]) -> f64>);

/// Member `i`.
fn member(i: usize) -> Member {
    let (a, b) = (i % INPUTS, (i + 3) % INPUTS);
    let k = i as f64 * 0.5;
    match i % 4 {
        0 => (format!("max(0, min(37.5, x{a} - 21))"), Box::new(move |v: &[f64]| 0f64.max(37.5f64.min(v[a] - 21.0)))),
        1 => (format!("x{a} * 0.35 + x{b} * 0.65"), Box::new(move |v: &[f64]| v[a] * 0.35 + v[b] * 0.65)),
        2 => (
            format!("if(x{a} > 10, x{a} - 10, 0)"),
            Box::new(move |v: &[f64]| if v[a] > 10.0 { v[a] - 10.0 } else { 0.0 }),
        ),
        _ => (format!("x{a} * {k:?} + 1"), Box::new(move |v: &[f64]| v[a] * k + 1.0)),
    }
}

fn sets(c: &mut Criterion) {
    let names: Vec<String> = (0..INPUTS).map(|i| format!("x{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let jit = Options { engine: Engine::Jit, ..Options::default() };
    let days: Vec<Vec<f64>> = (0..64).map(|d| (0..INPUTS).map(|k| ((d * 7 + k) % 50) as f64).collect()).collect();
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    let sources: Vec<Expr> = (0..1_000).map(|i| Expr::parse(&member(i).0).unwrap()).collect();
    group.bench_function("ExprSet of 1000, compile + native module", |bch| {
        bch.iter(|| {
            let set: ExprSet = sources.iter().map(|e| e.compile_with(&names, &jit).unwrap()).collect();
            assert_eq!(set.jit_now(), Engine::Jit);
            set
        })
    });
    group.finish();
    let mut group = c.benchmark_group("step");
    for n in [1_000, 10_000] {
        let members: Vec<Member> = (0..n).map(member).collect();
        let mut interp = ExprSet::new();
        let mut native = ExprSet::new();
        for (src, _) in &members {
            let e = Expr::parse(src).unwrap();
            interp
                .push(e.compile_with(&names, &Options { engine: Engine::Interpreter, ..Options::default() }).unwrap());
            native.push(e.compile_with(&names, &jit).unwrap());
        }
        // Same bits first (and the native module built before timing).
        assert_eq!(native.jit_now(), Engine::Jit);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        for day in &days {
            interp.eval_all(day, &mut a).unwrap();
            native.eval_all(day, &mut b).unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.to_bits(), y.to_bits());
            }
            for (x, (_, f)) in a.iter().zip(&members) {
                assert_eq!(x.to_bits(), f(day).to_bits());
            }
        }
        let mut d = 0;
        group.bench_with_input(BenchmarkId::new("ExprSet interpreter", n), &n, |bch, _| {
            bch.iter(|| {
                d = (d + 1) & 63;
                interp.eval_all(black_box(&days[d]), &mut a).unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("ExprSet JIT", n), &n, |bch, _| {
            bch.iter(|| {
                d = (d + 1) & 63;
                native.eval_all(black_box(&days[d]), &mut b).unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("Rust closures", n), &n, |bch, _| {
            bch.iter(|| {
                d = (d + 1) & 63;
                let v = black_box(&days[d]);
                for (o, (_, f)) in a.iter_mut().zip(&members) {
                    *o = f(v);
                }
            })
        });
    }
    group.finish();
}

/// Member `i` of a set with divisions and built-ins that strict options check: the divisor is
/// never zero and the logarithm's argument is positive, so no member fails.
fn checked_member(i: usize) -> String {
    let (a, b) = (i % INPUTS, (i + 3) % INPUTS);
    match i % 4 {
        0 => format!("x{a} / (x{b} + 1)"),
        1 => format!("sqrt(x{a}) * 0.35 + x{b} * 0.65"),
        2 => format!("ln(x{a} + 1) * {:?}", i as f64 * 0.5),
        _ => format!("max(0, min(37.5, x{a} - 21)) / 2"),
    }
}

/// The cost of strict options (`DivByZero::Error`, `DomainErrors::Error`) on each engine: the
/// JIT checks each divisor and each result for NaN, and bails to the interpreter on a failure.
fn strict(c: &mut Criterion) {
    let names: Vec<String> = (0..INPUTS).map(|i| format!("x{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let days: Vec<Vec<f64>> = (0..64).map(|d| (0..INPUTS).map(|k| ((d * 7 + k) % 50) as f64).collect()).collect();
    let strict = Options { div_by_zero: DivByZero::Error, domain_errors: DomainErrors::Error, ..Options::default() };
    let n = 1_000;
    let sources: Vec<Expr> = (0..n).map(|i| Expr::parse(&checked_member(i)).unwrap()).collect();
    let mut group = c.benchmark_group("strict");
    let mut first: Option<Vec<u64>> = None;
    for (label, opts) in [
        ("interpreter, default options", Options { engine: Engine::Interpreter, ..Options::default() }),
        ("interpreter, strict options", Options { engine: Engine::Interpreter, ..strict.clone() }),
        ("JIT, default options", Options { engine: Engine::Jit, ..Options::default() }),
        ("JIT, strict options", Options { engine: Engine::Jit, ..strict }),
    ] {
        let set: ExprSet = sources.iter().map(|e| e.compile_with(&names, &opts).unwrap()).collect();
        assert_eq!(set.jit_now(), opts.engine);
        // Same bits on every engine and options first.
        let mut out = vec![0.0; n];
        let mut all = Vec::new();
        for day in &days {
            set.eval_all(day, &mut out).unwrap();
            all.extend(out.iter().map(|v| v.to_bits()));
        }
        match &first {
            None => first = Some(all),
            Some(f) => assert!(*f == all, "{label} differs from the interpreter"),
        }
        let mut d = 0;
        group.bench_with_input(BenchmarkId::new(label, n), &n, |bch, _| {
            bch.iter(|| {
                d = (d + 1) & 63;
                set.eval_all(black_box(&days[d]), &mut out).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sets, strict);
criterion_main!(benches);
