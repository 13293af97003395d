//! `kexpr run --profile`: where a run's time went, series by series.

use std::fmt::Write;

use kalix_expr::model::count;

/// The seconds each phase of `kexpr run` took.
#[derive(Debug, Clone, Copy)]
pub struct Phases {
    /// Reading and loading the model file.
    pub load: f64,
    /// Reading the input data.
    pub read: f64,
    /// Checking and compiling the model.
    pub compile: f64,
    /// The run, writing the results included.
    pub run: f64,
}

/// The profile: the phases, then each series (`nanos[i]` for `names[i]`) with its total time,
/// its time per step and its share of the series' time, slowest first. `nanos[names.len()]`,
/// when there, is what timing nothing took over the run (the clock's own cost), taken off
/// each series' time.
pub fn table(names: &[&str], nanos: &[u64], steps: usize, phases: &Phases) -> String {
    let cost = nanos.get(names.len()).copied().unwrap_or(0) as f64;
    let times: Vec<f64> = nanos.iter().map(|&n| (n as f64 - cost).max(0.0)).collect();
    let total: f64 = times.iter().sum();
    let ms = |s: f64| if s < 1e-3 { format!("{:.1} µs", s * 1e6) } else { format!("{:.1} ms", s * 1e3) };
    let mut out = String::new();
    let _ = writeln!(out, "profile: {} of {} series", count(steps, "step"), names.len());
    let _ = writeln!(out, "  load the model        {:>10}", ms(phases.load));
    let _ = writeln!(out, "  read the data         {:>10}", ms(phases.read));
    let _ = writeln!(out, "  check and compile     {:>10}", ms(phases.compile));
    let _ = writeln!(
        out,
        "  run                   {:>10}  (the series {}, writing and stepping {})",
        ms(phases.run),
        ms(total / 1e9),
        ms((phases.run - total / 1e9).max(0.0))
    );
    let width = names.iter().map(|n| n.len()).max().unwrap_or(6).max(6);
    let _ = writeln!(out, "\n  {:<width$}  {:>12}  {:>10}  {:>6}", "series", "total", "ns/step", "share");
    let mut order: Vec<usize> = (0..names.len().min(times.len())).collect();
    order.sort_by(|&a, &b| times[b].total_cmp(&times[a]).then(a.cmp(&b)));
    for i in order {
        let share = if total > 0.0 { 100.0 * times[i] / total } else { 0.0 };
        let per_step = if steps > 0 { times[i] / steps as f64 } else { 0.0 };
        let _ =
            writeln!(out, "  {:<width$}  {:>12}  {:>10.0}  {:>5.1}%", names[i], ms(times[i] / 1e9), per_step, share);
    }
    let _ =
        writeln!(out, "  (each series' time less the clock's own cost, {:.0} ns a read)", cost / steps.max(1) as f64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_series_comes_first_with_its_share() {
        let phases = Phases { load: 0.001, read: 0.002, compile: 0.003, run: 1.0 };
        let text = table(&["var.a.x", "var.a.slow"], &[100_000_000, 300_000_000, 0], 1000, &phases);
        let lines: Vec<&str> = text.lines().collect();
        let slow = lines.iter().position(|l| l.contains("var.a.slow")).unwrap();
        let fast = lines.iter().position(|l| l.contains("var.a.x")).unwrap();
        assert!(slow < fast, "{text}");
        assert!(lines[slow].trim_end().ends_with("75.0%"), "{text}");
        assert!(text.contains("check and compile"), "{text}");
    }
}
