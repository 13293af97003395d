//! What a change costs the language server on a 5,000-line model: reading the buffer and
//! checking it (the diagnostics it publishes once the typing rests). Target: with the 15 ms
//! debounce (`kalix_expr_lsp::DEBOUNCE`) added, within the 100 ms a change may take to show
//! fresh diagnostics.
//!
//! `cargo bench -p kalix-expr-lsp --bench change -- --warm-up-time 1 --measurement-time 3`

use std::fmt::Write;

use criterion::{criterion_group, criterion_main, Criterion};
use lsp_types::Url;

/// A model of about `lines` lines in the shapes of real Kalix models: constants, functions, a
/// table, `[var.*]` blocks whose keys read each other, and nodes with expression properties.
fn model(lines: usize) -> String {
    let mut m = String::from("[kalix]\nstart = 2000-01-01\n[const]\n");
    for i in 0..50 {
        let _ = writeln!(m, "const.c{i} = {}", i as f64 * 0.5);
    }
    m.push_str("[fn]\n");
    for i in 0..20 {
        let _ = writeln!(m, "f{i}(x, y) = max(0, min(x * {i}.5, y - {i}))");
    }
    m.push_str("[table.curve]\nvalues = 0, 0, 10, 100, 20, 150, 30, 170\n");
    let mut block = 0;
    while m.lines().count() < lines {
        let _ = writeln!(m, "[var.b{block}]");
        for k in 0..40 {
            let prev = if k == 0 { "data.rain".to_string() } else { format!("var.b{block}.k{}", k - 1) };
            let _ = writeln!(
                m,
                "k{k} = fn.f{}({prev}, const.c{}) + table.curve(data.flow{}) * 0.35 + moving_mean(data.rain, 7, 0)",
                k % 20,
                k % 50,
                k % 8
            );
        }
        let _ = writeln!(m, "[node.n{block}]\ntype = user\nloc = 0, 0\ndemand = max(0, this.usflow - {block})\n");
        block += 1;
    }
    m
}

fn change(c: &mut Criterion) {
    let text = model(5000);
    let uri = Url::parse("file:///models/big.ini").unwrap();
    // Same answer first: the model checks without errors.
    let published = kalix_expr_lsp::diagnostics(&uri, &text, None);
    let errors = published[0].diagnostics.iter().filter(|d| d.severity == Some(lsp_types::DiagnosticSeverity::ERROR));
    assert_eq!(errors.count(), 0, "{:?}", published[0].diagnostics.first());
    c.bench_function("diagnostics_of_a_5000_line_model", |b| {
        // The server frees the old model on another thread: the drop is not timed.
        b.iter_with_large_drop(|| kalix_expr_lsp::diagnostics(&uri, &text, None))
    });
}

criterion_group!(benches, change);
criterion_main!(benches);
