//! The ExprTk set: 17 expressions over a 1127 × 64 x, y grid, per evaluation.
//!
//! `cargo bench -p kalix-expr-bench --bench exprtk`

use criterion::{criterion_group, criterion_main, Criterion};
use kalix_expr_bench::Set;

mod common;

fn exprtk(c: &mut Criterion) {
    common::bench_set(c, Set::ExprTk, "exprtk");
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = exprtk
}
criterion_main!(benches);
