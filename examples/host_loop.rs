//! A simulator's loop around the stepping API: the host routes water between two groups of
//! expressions every step.
//!
//! ```sh
//! cargo run --example host_loop
//! ```
//!
//! The model's first group decides a dam's release from its storage (read from the host) and a
//! weekly mean of the inflow; the host then routes the release down a river reach (its own
//! computation, a simple lag), and the second group reads the reach's outflow, computed during
//! the same step, to set a pump's take. The run keeps only the history its offsets and windows
//! need, and a step allocates nothing.

use kalix_expr::{Calendar, Date, Expr, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut model = Model::new(Calendar::daily(Date::new(2024, 1, 1).ok_or("date")?));
    for input in ["node.dam.storage", "data.inflow", "node.reach.dsflow"] {
        model.input(input);
    }
    model.constant("const.capacity", 500.0);
    // Group 1: the dam.
    model.series(
        "node.dam.release",
        Expr::parse("max(0, node.dam.storage - 0.8 * const.capacity) * 0.5 + moving_mean(data.inflow, 7, 0) * 0.2")?,
    );
    // Group 2: the pump, from what the reach delivers this step.
    model.series("node.pump.take", Expr::parse("min(node.reach.dsflow * 0.3, 25)")?);
    model.series(
        "var.report.shortfall",
        Expr::parse("max(0, 25 - node.pump.take) + var.report.shortfall[-1, 0] * 0.9")?,
    );
    let program = model.compile()?;

    // Names become indices once, before the loop: no string work per step.
    let storage_in = program.input_index("node.dam.storage").ok_or("storage")?;
    let inflow_in = program.input_index("data.inflow").ok_or("inflow")?;
    let reach_in = program.input_index("node.reach.dsflow").ok_or("reach")?;
    let release = program.series_index("node.dam.release").ok_or("release")?;
    let take = program.series_index("node.pump.take").ok_or("take")?;
    let shortfall = program.series_index("var.report.shortfall").ok_or("shortfall")?;

    let mut run = program.start(Date::new(2024, 1, 1).ok_or("date")?)?;
    let mut storage = 450.0;
    let mut in_reach = [0.0; 2]; // water released on each of the last two days
    for day in 0..10 {
        let inflow = 40.0 + 30.0 * ((day as f64) * 0.9).sin();
        run.set_input(storage_in, storage);
        run.set_input(inflow_in, inflow);
        run.eval_until(take)?; // group 1

        // The host's own routing: the reach delivers what was released two days ago.
        let released = run.value(release);
        let delivered = in_reach[0];
        in_reach = [in_reach[1], released];
        storage = (storage + inflow - released).max(0.0);

        run.set_input(reach_in, delivered);
        run.eval_all()?; // group 2, reading this step's `node.reach.dsflow`
        println!(
            "{}  release {:6.2}  delivered {:6.2}  take {:5.2}  shortfall {:6.2}",
            run.date(),
            released,
            delivered,
            run.value(take),
            run.value(shortfall)
        );
        run.next_step()?;
    }
    Ok(())
}
