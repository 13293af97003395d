//! `kexpr run --plot`: a line chart of chosen series over the run's dates, as SVG, drawn with
//! the `plotters` crate.

use std::io;

use kalix_expr::model::{closest, Diagnostic, Kind};
use kalix_expr::Date;
use plotters::prelude::*;

/// How many series `--plot` draws when `--series` does not say.
const DEFAULT_SERIES: usize = 6;

/// Distinct line colours (a colour-blind-safe palette), reused past the eighth series.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// The chosen series' values, kept as the run streams its rows.
#[derive(Debug)]
pub struct Chart {
    names: Vec<String>,
    /// Each chosen series' column in a row.
    columns: Vec<usize>,
    start: Option<Date>,
    values: Vec<Vec<f64>>,
}

impl Chart {
    /// The chart of `wanted` among the run's series `names` (case-insensitive; the first
    /// six when `wanted` is empty); an unknown name is an error with the closest one.
    pub fn choose(names: &[&str], wanted: &[String]) -> Result<Chart, Vec<Diagnostic>> {
        let mut columns = Vec::new();
        let mut errors = Vec::new();
        if wanted.is_empty() {
            columns.extend(0..names.len().min(DEFAULT_SERIES));
        }
        for w in wanted.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
            match names.iter().position(|n| n.eq_ignore_ascii_case(w)) {
                Some(i) => columns.push(i),
                None => {
                    let d = Diagnostic::error(Kind::Run, None, format!("--series: the model has no series `{w}`"));
                    errors.push(match closest(w, names.iter().copied()) {
                        Some(c) => d.with_help(format!("did you mean `{c}`?")),
                        None => {
                            d.with_help("name series as the CSV header does: `var.block.key`, `node.name.property`")
                        }
                    });
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let names = columns.iter().map(|&i| names[i].to_string()).collect();
        let values = vec![Vec::new(); columns.len()];
        Ok(Chart { names, columns, start: None, values })
    }

    /// Keeps a step's values of the chosen series.
    pub fn push(&mut self, date: Date, row: &[f64]) {
        self.start.get_or_insert(date);
        for (v, &c) in self.values.iter_mut().zip(&self.columns) {
            v.push(row.get(c).copied().unwrap_or(f64::NAN));
        }
    }

    /// The SVG text of the chart: a line per series (broken where it is NaN), dates on the x
    /// axis, values on the y axis, a legend, and `title` above.
    pub fn draw(&self, title: &str) -> io::Result<String> {
        let fail = |e: &dyn std::fmt::Display| io::Error::other(format!("cannot draw the chart: {e}"));
        let steps = self.values.first().map_or(0, Vec::len);
        let start = self.start.unwrap_or(Date { year: 2000, month: 1, day: 1 });
        let finite = self.values.iter().flatten().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = match (lo.is_finite(), hi - lo) {
            (false, _) => (0.0, 1.0),
            (true, 0.0) => (lo - 1.0, hi + 1.0),
            (true, d) => (lo - 0.05 * d, hi + 0.05 * d),
        };
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (1100, 550)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| fail(&e))?;
            let last = steps.saturating_sub(1).max(1) as f64;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(80)
                .build_cartesian_2d(0.0..last, lo..hi)
                .map_err(|e| fail(&e))?;
            let date = |x: &f64| start.add_days(x.round() as i64).to_string();
            chart
                .configure_mesh()
                .x_desc("date")
                .y_desc("value")
                .x_labels(8)
                .x_label_formatter(&date)
                .draw()
                .map_err(|e| fail(&e))?;
            for (k, (name, values)) in self.names.iter().zip(&self.values).enumerate() {
                let colour = COLOURS[k % COLOURS.len()];
                // A NaN breaks the line: each run of numbers is drawn on its own.
                let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                for (t, v) in thin(values) {
                    match (v.is_finite(), segments.last_mut()) {
                        (true, Some(seg)) => seg.push((t as f64, v)),
                        (false, Some(seg)) if !seg.is_empty() => segments.push(Vec::new()),
                        _ => {}
                    }
                }
                for (j, seg) in segments.into_iter().enumerate() {
                    let drawn =
                        chart.draw_series(LineSeries::new(seg, colour.stroke_width(2))).map_err(|e| fail(&e))?;
                    if j == 0 {
                        drawn
                            .label(name.as_str())
                            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
                    }
                }
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| fail(&e))?;
            root.present().map_err(|e| fail(&e))?;
        }
        Ok(svg)
    }
}

/// The most points a line of the chart has: a long run is drawn from the smallest and the
/// largest value of each of `MAX_POINTS / 2` stretches of steps, so a peak is never lost and
/// the file stays small (a million steps would otherwise be a million points a line).
const MAX_POINTS: usize = 4000;

/// The points of a line: every step of a short run; of a long one, each stretch's smallest and
/// largest value in the order they occur (a stretch with a NaN keeps one NaN, which breaks the
/// line as the NaN itself would).
fn thin(values: &[f64]) -> Vec<(usize, f64)> {
    if values.len() <= MAX_POINTS {
        return values.iter().copied().enumerate().collect();
    }
    let stretch = values.len().div_ceil(MAX_POINTS / 2);
    let mut out = Vec::with_capacity(MAX_POINTS + 2);
    for (k, chunk) in values.chunks(stretch).enumerate() {
        let start = k * stretch;
        if let Some(i) = chunk.iter().position(|v| !v.is_finite()) {
            out.push((start + i, f64::NAN));
            continue;
        }
        let (mut lo, mut hi) = (0, 0);
        for (i, v) in chunk.iter().enumerate() {
            if *v < chunk[lo] {
                lo = i;
            }
            if *v > chunk[hi] {
                hi = i;
            }
        }
        let (a, b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        out.push((start + a, chunk[a]));
        if b != a {
            out.push((start + b, chunk[b]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_keeps_every_peak_in_at_most_max_points() {
        let mut values: Vec<f64> = (0..1_000_000).map(|i| (i as f64 / 1000.0).sin()).collect();
        values[123_457] = 50.0;
        values[800_001] = -50.0;
        values[500_000] = f64::NAN;
        let points = thin(&values);
        assert!(points.len() <= MAX_POINTS, "{}", points.len());
        assert!(points.contains(&(123_457, 50.0)) && points.contains(&(800_001, -50.0)));
        assert!(points.iter().any(|(t, v)| *t == 500_000 && v.is_nan()));
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0), "in step order");
        let short = [1.0, f64::NAN, 3.0];
        assert_eq!(thin(&short).len(), 3);
    }
}
