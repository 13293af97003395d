//! Batch evaluation against a loop of single evaluations, per row: `Compiled::eval_batch`
//! (column-wise over 64-row chunks), `eval_batch_par` (rayon) and `Compiled::eval` row by row,
//! on 100,000 rows.
//!
//! ```text
//! cargo bench -p kalix-expr-bench --bench batch -- --warm-up-time 1 --measurement-time 2
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kalix_expr_core::Expr;

const ROWS: usize = 100_000;

fn batch(c: &mut Criterion) {
    let x: Vec<f64> = (0..ROWS).map(|i| -100.0 + i as f64 * 0.002).collect();
    let y: Vec<f64> = (0..ROWS).map(|i| 100.0 - i as f64 * 0.0017).collect();
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(ROWS as u64));
    for src in ["y + x", "2 * (y + x)", "(y + x / y) * (x - y / x)", "sin(2 * x) + cos(pi / y)"] {
        let compiled = Expr::parse(src).unwrap().compile(&["x", "y"]).unwrap();
        let mut out = vec![0.0; ROWS];
        // Every way gives the same bits before anything is timed.
        compiled.eval_batch(&[&x, &y], &mut out).unwrap();
        for (r, o) in out.iter().enumerate() {
            assert_eq!(o.to_bits(), compiled.eval(&[x[r], y[r]]).unwrap().to_bits(), "{src} row {r}");
        }
        group.bench_with_input(BenchmarkId::new("eval per row", src), &compiled, |b, c| {
            b.iter(|| {
                let mut row = [0.0; 2];
                for r in 0..ROWS {
                    row[0] = x[r];
                    row[1] = y[r];
                    out[r] = c.eval(black_box(&row)).unwrap();
                }
                black_box(&out);
            })
        });
        group.bench_with_input(BenchmarkId::new("eval_batch", src), &compiled, |b, c| {
            b.iter(|| {
                c.eval_batch(black_box(&[&x, &y]), &mut out).unwrap();
                black_box(&out);
            })
        });
        group.bench_with_input(BenchmarkId::new("eval_batch_par", src), &compiled, |b, c| {
            b.iter(|| {
                c.eval_batch_par(black_box(&[&x, &y]), &mut out).unwrap();
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
