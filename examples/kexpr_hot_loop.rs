//! `kexpr!` in a hot loop, next to the runtime engine on the same expression.
//!
//! ```sh
//! cargo run --release --example kexpr_hot_loop
//! ```
//!
//! Both run a runoff formula over 73,000 daily steps (about 200 years) of synthetic rain and
//! evaporation. The closure from `kexpr!` was checked and compiled with the crate; the runtime
//! engine parses and compiles the same text when the program runs. They call the same built-in
//! functions, so the two sums agree bit for bit.
//!
//! Then a formula with a stateful function (a weekly moving mean): its `kexpr!` closure owns the
//! window and steps once per call, next to the stepping runtime (`Model` → `Program::run`) on
//! the same series, again bit for bit.

use std::hint::black_box;
use std::time::Instant;

use kalix_expr::{kexpr, Calendar, Date, Expr, Model};

const STEPS: usize = 73_000;

/// The formula, once for the runtime engine; `kexpr!` below must be given the same literal.
const RUNOFF: &str = "{ excess = max(0, rain - 0.8 * evap); if(excess > 5, excess * 0.6, excess ^ 2 / 10) }";

/// A stateful formula, for the stepping runtime; `kexpr!` below must be given the same literal.
const WEEKLY: &str = "moving_mean(max(0, data.rain - 0.8 * data.evap), 7, 0)";

fn main() -> Result<(), kalix_expr::Error> {
    let (rain, evap) = weather();

    // Build time: parameters in order of first appearance, `|rain, evap|`.
    let runoff = kexpr!("{ excess = max(0, rain - 0.8 * evap); if(excess > 5, excess * 0.6, excess ^ 2 / 10) }");
    let start = Instant::now();
    let mut macro_sum = 0.0;
    for (&r, &e) in rain.iter().zip(&evap) {
        macro_sum += runoff(black_box(r), black_box(e));
    }
    let macro_time = start.elapsed();

    // Run time: parse and compile once, evaluate at every step.
    let compiled = Expr::parse(RUNOFF)?.compile(&["rain", "evap"])?;
    let start = Instant::now();
    let mut engine_sum = 0.0;
    for (&r, &e) in rain.iter().zip(&evap) {
        engine_sum += compiled.eval(black_box(&[r, e]))?;
    }
    let engine_time = start.elapsed();

    println!("{STEPS} steps of {RUNOFF}");
    println!("kexpr! closure     sum = {macro_sum:<22} in {macro_time:?}");
    println!("Compiled::eval     sum = {engine_sum:<22} in {engine_time:?}");
    assert_eq!(macro_sum.to_bits(), engine_sum.to_bits(), "the two engines disagree");
    println!("the sums agree bit for bit");

    // A stateful closure: `FnMut`, one step per call, from step 0 for a fresh closure.
    let mut weekly = kexpr!(|data.rain, data.evap| "moving_mean(max(0, data.rain - 0.8 * data.evap), 7, 0)");
    let start = Instant::now();
    let mut macro_sum = 0.0;
    for (&r, &e) in rain.iter().zip(&evap) {
        macro_sum += weekly(black_box(r), black_box(e));
    }
    let macro_time = start.elapsed();

    // The stepping runtime: the inputs as series, the formula as a computed series.
    let mut model = Model::new(Calendar::daily(Date::new(1900, 1, 1).expect("a valid date")));
    model.input("data.rain").input("data.evap").series("var.flow.weekly", Expr::parse(WEEKLY)?);
    let program = model.compile().map_err(|e| e.errors[0].clone())?;
    let start = Instant::now();
    let outputs = program.run(&[&rain, &evap], STEPS).map_err(|e| e.error)?;
    let engine_sum: f64 = outputs.column_at(0).iter().sum();
    let engine_time = start.elapsed();

    println!("\n{STEPS} steps of {WEEKLY}");
    println!("kexpr! closure     sum = {macro_sum:<22} in {macro_time:?}");
    println!("Program::run       sum = {engine_sum:<22} in {engine_time:?}");
    assert_eq!(macro_sum.to_bits(), engine_sum.to_bits(), "the stepping closure and the runtime disagree");
    println!("the sums agree bit for bit");
    Ok(())
}

/// Deterministic synthetic daily rain (mm, mostly dry days with occasional storms) and
/// evaporation (mm, seasonal), from a small linear congruential generator.
fn weather() -> (Vec<f64>, Vec<f64>) {
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut uniform = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut rain = Vec::with_capacity(STEPS);
    let mut evap = Vec::with_capacity(STEPS);
    for day in 0..STEPS {
        let u = uniform();
        rain.push(if u < 0.7 { 0.0 } else { -12.0 * (1.0 - uniform()).ln() });
        let season = (day as f64 / 365.25 * std::f64::consts::TAU).cos();
        evap.push(4.0 + 2.5 * season + uniform());
    }
    (rain, evap)
}
