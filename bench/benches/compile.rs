//! Parse + compile time: kalix-expr's `Expr::parse` + `compile`, and the peers' equivalents on
//! the same expression already translated into their syntax, for a typical ~100-character
//! expression and for the first expression of the Kalix set.
//!
//! `cargo bench -p kalix-expr-bench --bench compile`

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use kalix_expr_bench::engines::{Exmex, Fasteval, Meval};
use kalix_expr_bench::translate::{translate, Dialect};
use kalix_expr_bench::{timed, Layout, Set, TYPICAL, TYPICAL_NAMES};
use kalix_expr_core::{Engine, Expr, Options};

/// One benchmark of `f`, timed in the thread's CPU time (as the report is).
fn bench<T>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut f: impl FnMut() -> T) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            timed(|| {
                for _ in 0..iters {
                    black_box(f());
                }
            })
        })
    });
}

fn compile(c: &mut Criterion) {
    let typical = Layout { names: TYPICAL_NAMES.to_vec(), varying: TYPICAL_NAMES.len(), fixed: Vec::new() };
    let cases = [("typical", TYPICAL, typical), ("kalix-01", Set::Kalix.sources()[0], Set::Kalix.layout())];
    for (label, src, layout) in &cases {
        let mut group = c.benchmark_group(format!("compile/{label}"));
        let interp = Options { engine: Engine::Interpreter, ..Options::default() };
        bench(&mut group, "kalix-expr", || {
            Expr::parse(black_box(src)).unwrap().compile_with(&layout.names, &interp).unwrap()
        });
        bench(&mut group, "kalix-expr parse only", || Expr::parse(black_box(src)).unwrap());
        let jit = Options { engine: Engine::Jit, ..Options::default() };
        bench(&mut group, "kalix-expr JIT", || {
            // The native code is built after a warm-up; `jit_now` builds it at once.
            let c = Expr::parse(black_box(src)).unwrap().compile_with(&layout.names, &jit).unwrap();
            assert_eq!(c.jit_now(), Engine::Jit);
            c
        });
        // The peers parse text already in their syntax: translating it is ours, not theirs.
        let fasteval = translate(src, Dialect::Fasteval).unwrap();
        bench(&mut group, "fasteval", || Fasteval::from_translation(black_box(&fasteval), layout).unwrap());
        let exmex = translate(src, Dialect::Exmex).unwrap().source;
        bench(&mut group, "exmex", || Exmex::from_peer_source(black_box(&exmex), layout).unwrap());
        let meval = translate(src, Dialect::Meval).unwrap().source;
        let slots: Vec<usize> =
            Expr::parse(src).unwrap().variables().iter().map(|n| layout.slot_of(n).unwrap()).collect();
        bench(&mut group, "meval", || Meval::from_peer_source(black_box(&meval), &slots, layout).unwrap());
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    targets = compile
}
criterion_main!(benches);
