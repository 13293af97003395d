//! Parse + compile time: kalix-expr's `Expr::parse` + `compile`, and the peers' equivalents
//! (which include translating into their syntax), on a typical ~100-character expression and on
//! the first expression of the Kalix set.
//!
//! `cargo bench -p kalix-expr-bench --bench compile`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use kalix_expr_bench::engines::{Exmex, Fasteval, Meval};
use kalix_expr_bench::{Layout, Set, TYPICAL, TYPICAL_NAMES};
use kalix_expr_core::Expr;

fn compile(c: &mut Criterion) {
    let typical = Layout { names: TYPICAL_NAMES.to_vec(), varying: TYPICAL_NAMES.len(), fixed: Vec::new() };
    let cases = [("typical", TYPICAL, typical), ("kalix-01", Set::Kalix.sources()[0], Set::Kalix.layout())];
    for (label, src, layout) in &cases {
        let mut group = c.benchmark_group(format!("compile/{label}"));
        group.bench_function("kalix-expr", |b| {
            b.iter(|| Expr::parse(black_box(src)).unwrap().compile(&layout.names).unwrap())
        });
        group.bench_function("kalix-expr parse only", |b| b.iter(|| Expr::parse(black_box(src)).unwrap()));
        group.bench_function("fasteval", |b| b.iter(|| Fasteval::new(black_box(src), layout).unwrap()));
        group.bench_function("exmex", |b| b.iter(|| Exmex::new(black_box(src), layout).unwrap()));
        group.bench_function("meval", |b| b.iter(|| Meval::new(black_box(src), layout).unwrap()));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    targets = compile
}
criterion_main!(benches);
