//! The stepping API's cost per step against `ExprSet::eval_all` over the same expressions: a
//! host sets 8 inputs, evaluates 759 model-sized series (the size of a real Kalix model's step)
//! and moves on. Target: within 10% of the set. Both under the interpreter and under the JIT
//! (where the model's step is native code in blocks of 64 series, the set's members likewise).
//!
//! `cargo bench -p kalix-expr-bench --bench stepping -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kalix_expr_core::{Calendar, Date, Engine, Expr, ExprSet, Model, Options};

const SERIES: usize = 759;
const INPUTS: usize = 8;

/// Model-sized expressions over the inputs, in a few shapes.
fn source(i: usize) -> String {
    let x = format!("data.x{}", i % INPUTS);
    match i % 4 {
        0 => format!("max(0, min(37.5, {x} - 21))"),
        1 => format!("{x} * 0.35 + data.x{} * 0.65", (i + 3) % INPUTS),
        2 => format!("if({x} > 10, {x} - 10, 0)"),
        _ => format!("{}", i as f64 * 0.5),
    }
}

fn stepping(c: &mut Criterion) {
    let mut group = c.benchmark_group("step_of_759");
    for (label, engine) in [("interpreter", Engine::Interpreter), ("JIT", Engine::Jit)] {
        let inputs: Vec<String> = (0..INPUTS).map(|i| format!("data.x{i}")).collect();
        let names: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let opts = Options { engine, ..Options::model() };
        let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
        model.options(opts.clone());
        for n in &inputs {
            model.input(n.clone());
        }
        for i in 0..SERIES {
            model.series(format!("var.b.s{i}"), Expr::parse(&source(i)).unwrap());
        }
        let program = model.compile().unwrap();
        assert_eq!(program.jit_now(), engine);
        let set: ExprSet =
            (0..SERIES).map(|i| Expr::parse(&source(i)).unwrap().compile_with(&names, &opts).unwrap()).collect();
        let days: Vec<Vec<f64>> = (0..64).map(|d| (0..INPUTS).map(|k| ((d * 7 + k) % 50) as f64).collect()).collect();

        // Same bits first.
        let mut run = program.start(Date::new(2000, 1, 1).unwrap()).unwrap();
        let mut out = vec![0.0; SERIES];
        for day in &days {
            for (k, v) in day.iter().enumerate() {
                run.set_input(k, *v);
            }
            run.eval_all().unwrap();
            set.eval_all(day, &mut out).unwrap();
            for (a, b) in run.series_values().zip(&out) {
                assert_eq!(a.to_bits(), b.to_bits());
            }
            run.next_step().unwrap();
        }

        group.bench_function(format!("{label}: ExprSet::eval_all"), |b| {
            let mut d = 0;
            b.iter(|| {
                d = (d + 1) % days.len();
                set.eval_all(black_box(&days[d]), &mut out).unwrap();
                black_box(&mut out);
            })
        });
        group.bench_function(format!("{label}: Run (set inputs, eval_all, next_step)"), |b| {
            let mut d = 0;
            b.iter(|| {
                d = (d + 1) % days.len();
                for (k, v) in days[d].iter().enumerate() {
                    run.set_input(k, black_box(*v));
                }
                run.eval_all().unwrap();
                black_box(run.value(SERIES - 1));
                run.next_step().unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, stepping);
criterion_main!(benches);
