//! `kexpr!` closures against the same expressions hand-written in Rust, in the same loop: the
//! 8 Kalix-set expressions and 4 of the ExprTk set. Each closure is checked against hand-written
//! Rust bit for bit over all inputs before it is timed.
//!
//! `cargo bench -p kalix-expr-bench --bench kexpr -- --warm-up-time 1 --measurement-time 2`

use criterion::{criterion_group, criterion_main, Criterion};
use kalix_expr::kexpr;
use kalix_expr_bench::engines::Hand;
use kalix_expr_bench::{outputs, Set, Size};

mod common;

/// A `kexpr!` closure of `n` parameters as a function of the slot array.
macro_rules! kexpr_slice {
    (10, $k:expr) => {{
        let k = $k;
        move |v: &[f64]| k(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9])
    }};
    (2, $k:expr) => {{
        let k = $k;
        move |v: &[f64]| k(v[0], v[1])
    }};
}

/// A closure of the slot array.
type SlotFn = Box<dyn Fn(&[f64]) -> f64>;

/// Each benchmark's name, its set and index there, and its `kexpr!` closure.
fn closures() -> Vec<(&'static str, Set, usize, SlotFn)> {
    let list: Vec<(&str, Set, usize, SlotFn)> = vec![
        (
            "kalix/01",
            Set::Kalix,
            0,
            Box::new(kexpr_slice!(
                10,
                kexpr!(|sim.step, sim.year, sim.month, sim.day, sim.day_of_year, const.a, const.b, const.c, const.d, const.e| "abs(sin(sim.step * 0.01) + cos(sim.step * 0.02)) * sqrt(abs(sim.day_of_year)) + max(const.a, const.b) * min(const.c, sin(const.a + sim.month)) + pow(abs(cos(sim.year * 0.001)), 0.5) + exp(-abs(sim.step * 0.0001))")
            )),
        ),
        (
            "kalix/02",
            Set::Kalix,
            1,
            Box::new(kexpr_slice!(
                10,
                kexpr!(|sim.step, sim.year, sim.month, sim.day, sim.day_of_year, const.a, const.b, const.c, const.d, const.e| "sqrt(abs(sin(sim.step * 0.02))) + cos(sim.day_of_year * const.d) * sin(const.b * sim.month) + max(abs(const.e), min(const.a, const.c)) + pow(abs(cos(sim.step * 0.005)), const.d) + exp(-abs(sin(sim.year * 0.01)))")
            )),
        ),
        (
            "kalix/03",
            Set::Kalix,
            2,
            Box::new(kexpr_slice!(
                10,
                kexpr!(|sim.step, sim.year, sim.month, sim.day, sim.day_of_year, const.a, const.b, const.c, const.d, const.e| "abs(cos(sim.step * 0.015)) + sqrt(abs(sin(sim.day_of_year * 0.02))) * max(const.a, const.b, const.c) + min(sin(sim.month), cos(sim.month)) * pow(abs(const.e), 0.7) + exp(-abs(cos(sim.step * 0.0002)))")
            )),
        ),
        (
            "kalix/04",
            Set::Kalix,
            3,
            Box::new(kexpr_slice!(
                10,
                kexpr!(|sim.step, sim.year, sim.month, sim.day, sim.day_of_year, const.a, const.b, const.c, const.d, const.e| "sin(const.a * sim.step * 0.003) + cos(const.b * sim.step * 0.004) + sqrt(abs(const.c + sin(sim.day_of_year * 0.01))) + max(abs(const.a), abs(const.b)) * min(const.d, const.e) + pow(abs(sin(sim.year * 0.05)), 0.3) + exp(-abs(const.a + sim.step * 0.0003))")
            )),
        ),
        (
            "kalix/05",
            Set::Kalix,
            4,
            Box::new(kexpr_slice!(
                10,
                kexpr!(|sim.step, sim.year, sim.month, sim.day, sim.day_of_year, const.a, const.b, const.c, const.d, const.e| "abs(sin(sim.step * 0.007) * cos(sim.step * 0.009)) + sqrt(abs(sim.day_of_year)) + max(sin(const.a), cos(const.b)) * min(sin(const.c), cos(const.d)) + pow(abs(sim.month - 6.5), 0.8) + exp(-abs(sim.step * 0.00015))")
            )),
        ),
        (
            "kalix/06",
            Set::Kalix,
            5,
            Box::new(kexpr_slice!(
                10,
                kexpr!(|sim.step, sim.year, sim.month, sim.day, sim.day_of_year, const.a, const.b, const.c, const.d, const.e| "sqrt(abs(const.a * sin(sim.step * 0.011))) + abs(cos(const.b * sim.day_of_year * 0.013)) + max(const.a, const.b, const.c, const.d, const.e) * sin(sim.month * 0.5) + pow(abs(cos(sim.year * 0.002)), const.e) + exp(-abs(sim.step * 0.00012))")
            )),
        ),
        (
            "kalix/07",
            Set::Kalix,
            6,
            Box::new(kexpr_slice!(
                10,
                kexpr!(|sim.step, sim.year, sim.month, sim.day, sim.day_of_year, const.a, const.b, const.c, const.d, const.e| "abs(sin(sim.step * 0.0025) - cos(sim.step * 0.0035)) * sqrt(abs(sim.day_of_year + const.a)) + min(abs(const.a), abs(const.b)) * max(sin(const.c), cos(const.d)) + pow(abs(sin(sim.month * const.d)), 0.4) + exp(-abs(cos(sim.year * 0.0007)))")
            )),
        ),
        (
            "kalix/08",
            Set::Kalix,
            7,
            Box::new(kexpr_slice!(
                10,
                kexpr!(|sim.step, sim.year, sim.month, sim.day, sim.day_of_year, const.a, const.b, const.c, const.d, const.e| "abs(sin(sim.step * 0.0125)) + sqrt(abs(cos(sim.day_of_year * 0.025))) * max(const.b, const.c) + min(sin(const.a + sim.month), cos(const.b * sim.month)) + pow(abs(const.e + sim.day * 0.01), 0.6) + exp(-abs(sin(sim.year * 0.003)))")
            )),
        ),
        ("exprtk/01", Set::ExprTk, 0, Box::new(kexpr_slice!(2, kexpr!(|x, y| "(y + x)")))),
        ("exprtk/05", Set::ExprTk, 4, Box::new(kexpr_slice!(2, kexpr!(|x, y| "(y + x / y) * (x - y / x)")))),
        (
            "exprtk/08",
            Set::ExprTk,
            7,
            Box::new(kexpr_slice!(2, kexpr!(|x, y| "(5.5 + x) + (2 * x - 2 / 3 * y) * (x / 3 + y / 4) + (y + 7.7)"))),
        ),
        ("exprtk/10", Set::ExprTk, 9, Box::new(kexpr_slice!(2, kexpr!(|x, y| "sin(2 * x) + cos(pi / y)")))),
    ];
    list
}

fn kexpr_vs_hand(c: &mut Criterion) {
    for (name, set, i, closure) in closures() {
        let inputs = set.inputs(Size::Full);
        let want = outputs(&mut Hand(set.hand(i)), &inputs);
        let got = outputs(&mut Hand(&*closure), &inputs);
        for (r, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                "{name} row {r}: kexpr! {g} vs hand-written {w}"
            );
        }
        let mut group = c.benchmark_group(format!("kexpr/{name}"));
        common::bench(&mut group, "hand-written", Hand(set.hand(i)), &inputs);
        common::bench(&mut group, "kexpr!", Hand(&*closure), &inputs);
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = kexpr_vs_hand
}
criterion_main!(benches);
