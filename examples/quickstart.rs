//! Quickstart: parse a Kalix expression once, compile it against named slots once, then
//! evaluate it at every step of a daily series.
//!
//! Run with `cargo run --example quickstart`. The series is `examples/data/quickstart.csv`,
//! bundled into the binary so the example runs from any directory.

use std::error::Error;

use kalix_expr::Expr;

/// A month of daily rainfall and evaporation (mm): `date,rain_mm,evap_mm`.
const SERIES: &str = include_str!("data/quickstart.csv");

fn main() -> Result<(), Box<dyn Error>> {
    // Effective rainfall: what is left of the rain after 80% of the day's evaporation.
    let expr = Expr::parse("max(0, data.rain - 0.8 * data.evap)")?;

    // Slot `i` is `names[i]`: name lookup happens here, once, not at every step.
    let names = ["data.rain", "data.evap"];
    let compiled = expr.compile(&names)?;

    println!("{expr}\n");
    println!("{:<10}  {:>7}  {:>7}  {:>9}", "date", "rain", "evap", "effective");
    let mut total = 0.0;
    for (i, line) in SERIES.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let [date, rain, evap] = fields[..] else {
            return Err(format!("quickstart.csv line {}: expected 3 fields", i + 1).into());
        };
        let values = [rain.parse::<f64>()?, evap.parse::<f64>()?];
        let effective = compiled.eval(&values)?;
        total += effective;
        println!("{date:<10}  {:>7.1}  {:>7.1}  {effective:>9.2}", values[0], values[1]);
    }
    println!("{:<10}  {:>7}  {:>7}  {total:>9.2}\n", "total", "", "");

    // A typo in a name is caught when compiling, with a suggestion.
    let typo = Expr::parse("max(0, data.rian - 0.8 * data.evap)")?;
    if let Err(err) = typo.compile(&names) {
        println!("A misspelt name gives:\n\n{err}");
    }
    Ok(())
}
