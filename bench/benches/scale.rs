//! Loading and checking a model against its size: near-linear time is the target (a model of
//! 100,000 series checks in about a second). Three shapes, each at 1,000, 10,000 and 100,000:
//! series (`s{i} = {i} + sim.step`), empty `[var.*]` sections, and a chain of `[fn]` functions
//! (each calling the one before, the deepest past the expansion limit).
//!
//! `cargo bench -p kalix-expr-bench --bench scale`: criterion prints the time per size; the
//! time per element (its "thrpt" line) should stay about the same as the size grows tenfold.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kalix_expr::model::ModelFile;
use std::fmt::Write as _;

fn series(n: usize) -> String {
    let mut text = String::from("[var.b]\n");
    for i in 0..n {
        writeln!(text, "s{i} = {i} + sim.step").unwrap();
    }
    text
}

fn sections(n: usize) -> String {
    (0..n).map(|i| format!("[var.v{i}]\n")).collect()
}

fn chain(n: usize) -> String {
    let mut text = String::from("[fn]\nf0(x) = x + 1\n");
    for i in 1..n {
        writeln!(text, "f{i}(x) = fn.f{}(x) + 1", i - 1).unwrap();
    }
    text.push_str("[var.b]\nk = fn.f10(1)\n");
    text
}

fn scale(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    for (shape, make) in [("series", series as fn(usize) -> String), ("sections", sections), ("fn_chain", chain)] {
        for n in [1_000, 10_000, 100_000] {
            let text = make(n);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(shape, n), &text, |b, text| {
                b.iter(|| ModelFile::from_text("m.ini", text).check().diagnostics.len())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
