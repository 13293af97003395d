//! The state machines of the stateful functions (docs/language.md), reproducing Kalix's
//! arithmetic bit for bit.
//!
//! Each call site owns a run of `Cell<f64>`s in the run's state (cells hold indices too, exact
//! below 2^53). Cell 0 is the site's output, read by the evaluation pass after the advance pass
//! has updated it for the step.

use std::cell::Cell;

use crate::builtins::{truthy, Stateful};

/// The state of one stateful call site, owned: each [`SiteState::advance`] is one step.
///
/// This is what a `kexpr!` closure keeps for each stateful call it makes; the stepping runtime
/// keeps the same state machines in one array per run.
///
/// ```
/// use kalix_expr_core::builtins::Stateful;
/// use kalix_expr_core::SiteState;
/// let mut s = SiteState::new(Stateful::MovingSum, 3, 0.0);
/// assert_eq!(s.advance([5.0, 0.0]), 5.0);
/// assert_eq!(s.advance([6.0, 0.0]), 11.0);
/// ```
#[derive(Debug, Clone)]
pub struct SiteState {
    site: Site,
    cells: Vec<Cell<f64>>,
    step: usize,
}

impl SiteState {
    /// A fresh state (before step 0) for `kind` with its window length and pre-fill (both
    /// ignored by the `*_since` family).
    pub fn new(kind: Stateful, window: usize, default: f64) -> SiteState {
        let window = match kind {
            Stateful::MovingSum | Stateful::MovingMean | Stateful::MovingMin | Stateful::MovingMax => window.max(1),
            _ => 0,
        };
        let site = Site { kind, window, default, offset: 0 };
        let cells = (0..cells_needed(kind, window)).map(|_| Cell::new(0.0)).collect();
        let state = SiteState { site, cells, step: 0 };
        state.site.reset(&state.cells);
        state
    }

    /// Advances one step with the call's arguments — `[x, _]` for the moving windows,
    /// `[x, reset]` / `[cond, reset]` for `*_since`, `[reset, _]` for `steps_since` — and
    /// returns the new output.
    pub fn advance(&mut self, args: [f64; 2]) -> f64 {
        self.site.advance(&self.cells, self.step, args);
        self.step += 1;
        self.output()
    }

    /// The output of the last advance (NaN before the first).
    pub fn output(&self) -> f64 {
        self.site.output(&self.cells)
    }
}

/// Where one call site's state lives and what it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Site {
    pub(crate) kind: Stateful,
    pub(crate) window: usize,
    pub(crate) default: f64,
    /// Index of the site's first cell in the run's state.
    pub(crate) offset: usize,
}

/// How many cells a site of `kind` with `window` needs.
pub(crate) fn cells_needed(kind: Stateful, window: usize) -> usize {
    match kind {
        // out, sum, head, NaNs in the ring, ring[n]
        Stateful::MovingSum | Stateful::MovingMean => 4 + window,
        // out, head, len, values[n + 1], expiries[n + 1]
        Stateful::MovingMin | Stateful::MovingMax => 3 + 2 * (window + 1),
        // out, accumulator
        _ => 2,
    }
}

impl Site {
    fn cells<'a>(&self, state: &'a [Cell<f64>]) -> &'a [Cell<f64>] {
        &state[self.offset..self.offset + cells_needed(self.kind, self.window)]
    }

    /// Puts the site in its state before step 0.
    pub(crate) fn reset(&self, state: &[Cell<f64>]) {
        let c = self.cells(state);
        let (n, d) = (self.window, self.default);
        c[0].set(f64::NAN);
        match self.kind {
            Stateful::MovingSum | Stateful::MovingMean => {
                // One multiplication, not n additions, as Kalix initialises it.
                c[1].set(d * n as f64);
                c[2].set(0.0);
                c[3].set(if d.is_nan() { n as f64 } else { 0.0 });
                c[4..].iter().for_each(|x| x.set(d));
            }
            Stateful::MovingMin | Stateful::MovingMax => {
                c[1].set(0.0);
                c[2].set(0.0);
                // One entry stands for the n - 1 defaults "sampled" before step 0; it expires
                // after step n - 2.
                if n >= 2 && !d.is_nan() {
                    c[3].set(d);
                    c[3 + n + 1].set((n - 2) as f64);
                    c[2].set(1.0);
                }
            }
            Stateful::SumSince | Stateful::CountSince => c[1].set(0.0),
            Stateful::MinSince | Stateful::MaxSince => c[1].set(f64::NAN),
            Stateful::StepsSince => c[1].set(-1.0),
        }
    }

    /// Advances one step with the site's arguments (`[x]` for windows, `[x, reset]`,
    /// `[cond, reset]` or `[reset]` for the `*_since` family) and stores the output.
    pub(crate) fn advance(&self, state: &[Cell<f64>], step: usize, args: [f64; 2]) {
        let c = self.cells(state);
        let n = self.window;
        let out = match self.kind {
            Stateful::MovingSum | Stateful::MovingMean => {
                let x = args[0];
                let ring = &c[4..4 + n];
                let head = c[2].get() as usize;
                let evicted = ring[head].replace(x);
                let next = if head + 1 == n { 0 } else { head + 1 };
                c[2].set(next as f64);
                let nans = c[3].get() + f64::from(u8::from(x.is_nan())) - f64::from(u8::from(evicted.is_nan()));
                c[3].set(nans);
                // Recompute from +0.0 in ring order whenever the ring wraps or a NaN leaves it
                // (Kalix's rule, on which the bits depend); otherwise add the difference. While
                // a NaN is still in the window the recomputed sum would be NaN, so it is not
                // recomputed: a window of NaNs costs one step's work, not n.
                let sum = if next == 0 || (evicted.is_nan() && nans == 0.0) {
                    ring.iter().fold(0.0, |s, v| s + v.get())
                } else if evicted.is_nan() {
                    f64::NAN
                } else {
                    c[1].get() + (x - evicted)
                };
                c[1].set(sum);
                if self.kind == Stateful::MovingMean {
                    sum / n as f64
                } else {
                    sum
                }
            }
            Stateful::MovingMin | Stateful::MovingMax => {
                let x = args[0];
                let cap = n + 1;
                let (values, expiries) = (&c[3..3 + cap], &c[3 + cap..3 + 2 * cap]);
                let mut head = c[1].get() as usize;
                let mut len = c[2].get() as usize;
                while len > 0 && expiries[head].get() < step as f64 {
                    head = (head + 1) % cap;
                    len -= 1;
                }
                if !x.is_nan() {
                    let dominated = |back: f64| if self.kind == Stateful::MovingMin { back >= x } else { back <= x };
                    while len > 0 && dominated(values[(head + len - 1) % cap].get()) {
                        len -= 1;
                    }
                    let at = (head + len) % cap;
                    values[at].set(x);
                    expiries[at].set((step + n - 1) as f64);
                    len += 1;
                }
                c[1].set(head as f64);
                c[2].set(len as f64);
                if len > 0 {
                    values[head].get()
                } else {
                    f64::NAN
                }
            }
            Stateful::SumSince => since(c, args[1], args[0], args[0], |acc, x| acc + x),
            Stateful::MinSince => since(c, args[1], args[0], args[0], f64::min),
            Stateful::MaxSince => since(c, args[1], args[0], args[0], f64::max),
            Stateful::CountSince => {
                let hit = if truthy(args[0]) { 1.0 } else { 0.0 };
                since(c, args[1], hit, hit, |acc, hit| acc + hit)
            }
            Stateful::StepsSince => since(c, args[0], 0.0, 1.0, |acc, one| acc + one),
        };
        c[0].set(out);
    }

    /// The output of the last advance.
    pub(crate) fn output(&self, state: &[Cell<f64>]) -> f64 {
        state[self.offset].get()
    }
}

/// Reset-then-accumulate: a firing reset (non-zero, NaN included) restarts the accumulator at
/// `on_reset`, which includes this step; otherwise `value` is accumulated with `add`.
fn since(c: &[Cell<f64>], reset: f64, on_reset: f64, value: f64, add: fn(f64, f64) -> f64) -> f64 {
    let acc = if truthy(reset) { on_reset } else { add(c[1].get(), value) };
    c[1].set(acc);
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: Stateful, window: usize, default: f64, xs: &[[f64; 2]]) -> Vec<f64> {
        let site = Site { kind, window, default, offset: 1 };
        let state: Vec<Cell<f64>> = (0..cells_needed(kind, window) + 1).map(|_| Cell::new(0.0)).collect();
        site.reset(&state);
        xs.iter()
            .enumerate()
            .map(|(t, a)| {
                site.advance(&state, t, *a);
                site.output(&state)
            })
            .collect()
    }

    fn xs(v: &[f64]) -> Vec<[f64; 2]> {
        v.iter().map(|x| [*x, 0.0]).collect()
    }

    #[test]
    fn moving_sum_starts_prefilled_and_keeps_a_running_sum() {
        assert_eq!(run(Stateful::MovingSum, 3, 1.0, &xs(&[5.0, 6.0, 7.0, 8.0])), vec![7.0, 12.0, 18.0, 21.0]);
        assert_eq!(run(Stateful::MovingMean, 2, 0.0, &xs(&[2.0, 4.0, 6.0])), vec![1.0, 3.0, 5.0]);
    }

    /// The rule the bits come from, written plainly: a ring and a running sum, recomputed from
    /// +0.0 in ring order on every wrap and whenever a NaN leaves the ring.
    fn reference_sum(n: usize, d: f64, xs: &[f64]) -> Vec<f64> {
        let (mut ring, mut sum, mut head) = (vec![d; n], d * n as f64, 0);
        xs.iter()
            .map(|&x| {
                let evicted = std::mem::replace(&mut ring[head], x);
                head = (head + 1) % n;
                sum = if evicted.is_nan() || head == 0 {
                    ring.iter().fold(0.0, |s, v| s + v)
                } else {
                    sum + (x - evicted)
                };
                sum
            })
            .collect()
    }

    #[test]
    fn counting_nans_gives_the_bits_of_recomputing_whenever_a_nan_leaves() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [1, 2, 3, 5, 8, 13, 40] {
            for (density, d) in [(0, 0.0), (10, 1.5), (50, f64::NAN), (90, -2.0), (100, 0.0)] {
                let values: Vec<f64> = (0..3000)
                    .map(|_| if next() % 100 < density { f64::NAN } else { (next() % 20_000) as f64 / 7.0 - 1000.0 })
                    .collect();
                let got = run(Stateful::MovingSum, n, d, &xs(&values));
                let want = reference_sum(n, d, &values);
                for (t, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "n {n}, step {t}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn a_nan_poisons_sum_for_exactly_n_steps() {
        let out = run(Stateful::MovingSum, 2, 0.0, &xs(&[1.0, f64::NAN, 2.0, 3.0, 4.0]));
        assert_eq!(out[0], 1.0);
        assert!(out[1].is_nan() && out[2].is_nan());
        assert_eq!(&out[3..], &[5.0, 7.0]);
    }

    #[test]
    fn moving_min_and_max_ignore_nan_and_expire_the_default() {
        assert_eq!(run(Stateful::MovingMin, 3, 0.0, &xs(&[5.0, 6.0, 7.0, 8.0])), vec![0.0, 0.0, 5.0, 6.0]);
        assert_eq!(run(Stateful::MovingMax, 2, 9.0, &xs(&[5.0, f64::NAN, 1.0])), vec![9.0, 5.0, 1.0]);
        let out = run(Stateful::MovingMax, 1, 0.0, &xs(&[f64::NAN, 2.0]));
        assert!(out[0].is_nan());
        assert_eq!(out[1], 2.0);
    }

    #[test]
    fn since_functions_reset_then_accumulate() {
        let a = [[1.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 0.0]];
        assert_eq!(run(Stateful::SumSince, 0, 0.0, &a), vec![1.0, 3.0, 3.0, 7.0]);
        assert_eq!(run(Stateful::MaxSince, 0, 0.0, &a), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(run(Stateful::CountSince, 0, 0.0, &[[1.0, 0.0], [0.0, 0.0], [f64::NAN, 1.0]]), vec![1.0, 1.0, 1.0]);
        assert_eq!(
            run(Stateful::StepsSince, 0, 0.0, &[[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]),
            vec![0.0, 1.0, 0.0, 1.0]
        );
        // A NaN reset fires.
        assert_eq!(run(Stateful::StepsSince, 0, 0.0, &[[0.0, 0.0], [f64::NAN, 0.0]]), vec![0.0, 0.0]);
    }
}
