//! Many compiled expressions, each evaluated once per step: per evaluation, 10,000 expressions
//! in an `ExprSet` (their nodes in one array), the same in a `Vec<Compiled>`, and the first 8 of
//! them, which stay in cache. The target: 10,000 cost no more per evaluation than 8.
//!
//! ```text
//! cargo bench -p kalix-expr-bench --bench many -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kalix_expr_bench::{kalix, Set, Size};
use kalix_expr_core::{Compiled, Engine, Expr, ExprSet, Options};

const MANY: usize = 10_000;
const STEPS: usize = 8;

fn many(c: &mut Criterion) {
    let sources = Set::Kalix.sources();
    let inputs = Set::Kalix.inputs(Size::Full);
    let steps: Vec<Vec<f64>> = (0..STEPS).map(|s| inputs.values(s * 365 + 17)).collect();
    // The interpreter: `jit_set` measures the JIT's sets.
    let opts = Options { engine: Engine::Interpreter, ..Options::default() };
    let compile =
        |i: usize| Expr::parse(sources[i % sources.len()]).unwrap().compile_with(&kalix::NAMES, &opts).unwrap();
    let mut group = c.benchmark_group("many");
    for n in [sources.len(), MANY] {
        let set: ExprSet = (0..n).map(compile).collect();
        let vec: Vec<Compiled> = (0..n).map(compile).collect();
        let mut out = vec![0.0; n];
        // The set gives each member's own bits before anything is timed.
        for values in &steps {
            set.eval_all(values, &mut out).unwrap();
            for (o, c) in out.iter().zip(&vec) {
                assert_eq!(o.to_bits(), c.eval(values).unwrap().to_bits());
            }
        }
        group.throughput(Throughput::Elements((n * STEPS) as u64));
        group.bench_function(BenchmarkId::new("ExprSet::eval_all", n), |b| {
            b.iter(|| {
                for values in &steps {
                    set.eval_all(black_box(values), &mut out).unwrap();
                    black_box(&mut out);
                }
            })
        });
        group.bench_function(BenchmarkId::new("Vec<Compiled> eval", n), |b| {
            b.iter(|| {
                for values in &steps {
                    for (o, c) in out.iter_mut().zip(&vec) {
                        *o = c.eval(black_box(values)).unwrap();
                    }
                    black_box(&mut out);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, many);
criterion_main!(benches);
