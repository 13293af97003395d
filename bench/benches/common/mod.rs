//! What the per-expression benchmarks share: one criterion group per expression, with one
//! benchmark per engine that agrees with hand-written Rust, timed per evaluation.

// Each bench target uses part of this module.
#![allow(dead_code)]

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use kalix_expr_bench::engines::{Engine, Eval, Exmex, Fasteval, Hand, KalixExpr, Meval};
use kalix_expr_bench::hand::WithHand;
use kalix_expr_bench::{check, sweep, timed, Inputs, Set, Size, Verdict};

/// Short measurements: the machine is shared.
pub fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2))
}

/// One benchmark whose iteration is one evaluation, cycling through the inputs. Timed in the
/// thread's CPU time, as the report is.
pub fn bench<E: Eval>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut e: E, inputs: &Inputs) {
    group.bench_function(name, |b| b.iter_custom(|iters| timed(|| sweep(&mut e, inputs, iters))));
}

struct HandBench<'a, 'g> {
    group: &'a mut BenchmarkGroup<'g, WallTime>,
    inputs: &'a Inputs,
}

impl WithHand for HandBench<'_, '_> {
    type Out = ();
    fn with<F: Fn(&[f64]) -> f64 + Copy + 'static>(self, f: F) {
        bench(self.group, Engine::Hand.name(), Hand(f), self.inputs);
    }
}

/// Benchmarks every expression of `set` with every engine that agrees with hand-written Rust.
/// Panics if kalix-expr does not agree bit for bit.
pub fn bench_set(c: &mut Criterion, set: Set, short: &str) {
    let inputs = set.inputs(Size::Full);
    let layout = set.layout();
    for (i, src) in set.sources().into_iter().enumerate() {
        let mut group = c.benchmark_group(format!("{short}/{:02}", i + 1));
        set.with_hand(i, HandBench { group: &mut group, inputs: &inputs });
        for engine in [Engine::KalixExpr, Engine::KalixJit, Engine::Fasteval, Engine::Exmex, Engine::Meval] {
            match check(engine, set, i, &inputs) {
                Verdict::Agrees => {}
                Verdict::Mismatch { .. } if matches!(engine, Engine::KalixExpr | Engine::KalixJit) => {
                    panic!("kalix-expr differs from hand-written Rust on {short} #{}: {src}", i + 1)
                }
                v => {
                    eprintln!("{short} #{}: {} not timed: {v:?}", i + 1, engine.name());
                    continue;
                }
            }
            let name = engine.name();
            match engine {
                Engine::KalixExpr => bench(&mut group, name, KalixExpr::new(src, &layout).unwrap(), &inputs),
                Engine::KalixJit => bench(&mut group, name, KalixExpr::jit(src, &layout).unwrap(), &inputs),
                Engine::Fasteval => bench(&mut group, name, Fasteval::new(src, &layout).unwrap(), &inputs),
                Engine::Exmex => bench(&mut group, name, Exmex::new(src, &layout).unwrap(), &inputs),
                Engine::Meval => bench(&mut group, name, Meval::new(src, &layout).unwrap(), &inputs),
                Engine::Hand => unreachable!(),
            }
        }
        group.finish();
    }
}
