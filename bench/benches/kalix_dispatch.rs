//! The Kalix function-dispatch set: 8 expressions over 73,000 daily steps, per evaluation.
//!
//! `cargo bench -p kalix-expr-bench --bench kalix_dispatch`

use criterion::{criterion_group, criterion_main, Criterion};
use kalix_expr_bench::Set;

mod common;

fn kalix_dispatch(c: &mut Criterion) {
    common::bench_set(c, Set::Kalix, "kalix");
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = kalix_dispatch
}
criterion_main!(benches);
