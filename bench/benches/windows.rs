//! The per-step cost of each window function as its window grows: 30, 365 and 3,650 daily
//! steps. The median and percentile keep two heaps (O(log n) a step) and the standard deviation
//! a running update (O(1)); a window of ten years must not cost ten years of work a step.
//!
//! `cargo bench -p kalix-expr-bench --bench windows -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kalix_expr_core::builtins::Stateful;
use kalix_expr_core::SiteState;

fn windows(c: &mut Criterion) {
    // A daily-flow-like series: a slow seasonal swing with noise, fixed so runs compare.
    let xs: Vec<f64> = (0..8192).map(|i| 100.0 + 50.0 * (i as f64 / 58.0).sin() + ((i * 7919) % 97) as f64).collect();
    let kinds = [
        ("moving_mean", Stateful::MovingMean, f64::NAN),
        ("moving_max", Stateful::MovingMax, f64::NAN),
        ("moving_median", Stateful::MovingMedian, f64::NAN),
        ("moving_percentile_90", Stateful::MovingPercentile, 90.0),
        ("moving_std", Stateful::MovingStd, f64::NAN),
        ("moving_count", Stateful::MovingCount, f64::NAN),
    ];
    let mut group = c.benchmark_group("window_step");
    for n in [30, 365, 3650] {
        for (name, kind, p) in kinds {
            let mut state = SiteState::with_param(kind, n, 0.0, p);
            let mut t = 0;
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    t = (t + 1) & 8191;
                    black_box(state.advance([black_box(xs[t]), 0.0]))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, windows);
criterion_main!(benches);
