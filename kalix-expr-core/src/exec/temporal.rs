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
        SiteState::with_param(kind, window, default, f64::NAN)
    }

    /// As [`SiteState::new`], with the call's literal parameter: `p` of
    /// `moving_percentile(x, n, p, default)` (ignored by the other functions).
    ///
    /// ```
    /// use kalix_expr_core::builtins::Stateful;
    /// use kalix_expr_core::SiteState;
    /// let mut s = SiteState::with_param(Stateful::MovingPercentile, 3, 0.0, 50.0);
    /// assert_eq!(s.advance([6.0, 0.0]), 0.0);
    /// s.advance([2.0, 0.0]);
    /// assert_eq!(s.advance([4.0, 0.0]), 4.0);
    /// ```
    pub fn with_param(kind: Stateful, window: usize, default: f64, param: f64) -> SiteState {
        let window = if kind.is_window() { window.max(1) } else { 0 };
        let site = Site { kind, window, default, param, offset: 0 };
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
    /// The literal parameter: `p` of `moving_percentile` (NaN for the others).
    pub(crate) param: f64,
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
        // out, head, NaNs in the ring, ring[n], heap[n] (ring slots), position[n] (heap places)
        Stateful::MovingMedian | Stateful::MovingPercentile => 3 + 3 * window,
        // out, mean, sum of squared deviations, head, non-finite values in the ring, ring[n]
        Stateful::MovingStd => 5 + window,
        // out, count, head, ring[n] of 0/1
        Stateful::MovingCount => 3 + window,
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
            Stateful::MovingMedian | Stateful::MovingPercentile => {
                c[1].set(0.0);
                c[2].set(if d.is_nan() { n as f64 } else { 0.0 });
                for i in 0..n {
                    c[3 + i].set(d);
                    c[3 + n + i].set(i as f64);
                    c[3 + 2 * n + i].set(i as f64);
                }
            }
            Stateful::MovingStd => {
                // Every value equal: the mean is `d` and the deviations are 0, exactly.
                c[1].set(d);
                c[2].set(0.0);
                c[3].set(0.0);
                c[4].set(if d.is_finite() { 0.0 } else { n as f64 });
                c[5..].iter().for_each(|x| x.set(d));
            }
            Stateful::MovingCount => {
                let hit = hit(d);
                c[1].set(hit * n as f64);
                c[2].set(0.0);
                c[3..].iter().for_each(|x| x.set(hit));
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
            Stateful::MovingMedian | Stateful::MovingPercentile => {
                let x = args[0];
                let head = c[1].get() as usize;
                let evicted = c[3 + head].get();
                c[1].set(if head + 1 == n { 0.0 } else { (head + 1) as f64 });
                let nans = c[2].get() + f64::from(u8::from(x.is_nan())) - f64::from(u8::from(evicted.is_nan()));
                c[2].set(nans);
                let heaps = Heaps { cells: &c[3..], n, lower: lower_len(self.kind, n, self.param) };
                heaps.replace(head, x);
                if nans > 0.0 {
                    f64::NAN
                } else {
                    order_output(self.kind, n, self.param, |rank| heaps.rank(rank))
                }
            }
            Stateful::MovingStd => {
                let x = args[0];
                let ring = &c[5..5 + n];
                let head = c[3].get() as usize;
                let evicted = ring[head].replace(x);
                let next = if head + 1 == n { 0 } else { head + 1 };
                c[3].set(next as f64);
                let bad = c[4].get() + f64::from(u8::from(!x.is_finite())) - f64::from(u8::from(!evicted.is_finite()));
                c[4].set(bad);
                if bad > 0.0 {
                    // The mean and deviations are stale until the last non-finite value leaves,
                    // when they are recomputed from the ring.
                    f64::NAN
                } else {
                    let (mean, m2) = if next == 0 || !evicted.is_finite() {
                        two_pass(ring.iter().map(Cell::get), n)
                    } else {
                        welford_replace(c[1].get(), c[2].get(), evicted, x, n)
                    };
                    c[1].set(mean);
                    c[2].set(m2);
                    std_of(m2, n)
                }
            }
            Stateful::MovingCount => {
                let ring = &c[3..3 + n];
                let head = c[2].get() as usize;
                let h = hit(args[0]);
                let evicted = ring[head].replace(h);
                c[2].set(if head + 1 == n { 0.0 } else { (head + 1) as f64 });
                // Whole numbers below 2^53: exact in any order.
                let count = c[1].get() + h - evicted;
                c[1].set(count);
                count
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

/// 1 for a value counted by `moving_count` (non-zero, NaN included), else 0.
fn hit(x: f64) -> f64 {
    if truthy(x) {
        1.0
    } else {
        0.0
    }
}

/// How many of the window's `n` values the lower (max-) heap of `moving_median` or
/// `moving_percentile` holds: its top is the order statistic the output starts from.
fn lower_len(kind: Stateful, n: usize, p: f64) -> usize {
    match kind {
        Stateful::MovingPercentile => (percentile_index(n, p).0 + 1).min(n),
        // Odd n: the middle value tops the lower heap; even n: the lower middle does.
        _ => n.div_ceil(2),
    }
}

/// numpy's default ("linear") percentile position in a sorted window of `n`: the index below
/// `(n - 1) * p / 100` and the fraction past it.
fn percentile_index(n: usize, p: f64) -> (usize, f64) {
    let virtual_index = (n - 1) as f64 * (p / 100.0);
    let below = virtual_index.floor();
    (below as usize, virtual_index - below)
}

/// numpy's `_lerp`: `a + (b - a) t`, computed from `b`'s side when `t >= 0.5`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The output of `moving_median` or `moving_percentile` over a NaN-free window of `n` values,
/// given its order statistics (`rank(0)` the smallest), as numpy's `median` and `percentile`.
pub(crate) fn order_output(kind: Stateful, n: usize, p: f64, rank: impl Fn(usize) -> f64) -> f64 {
    if kind == Stateful::MovingPercentile {
        let (k, t) = percentile_index(n, p);
        let a = rank(k);
        let b = if k + 1 < n { rank(k + 1) } else { a };
        lerp(a, b, t)
    } else if n % 2 == 1 {
        rank(n / 2)
    } else {
        (rank(n / 2 - 1) + rank(n / 2)) / 2.0
    }
}

/// The mean and the sum of squared deviations of `n` values, in two passes from +0.0.
fn two_pass(values: impl Iterator<Item = f64> + Clone, n: usize) -> (f64, f64) {
    let mean = values.clone().fold(0.0, |s, v| s + v) / n as f64;
    let m2 = values.fold(0.0, |s, v| s + (v - mean) * (v - mean));
    (mean, m2)
}

/// Welford's update of a window's mean and sum of squared deviations when `old` is replaced by
/// `new`.
fn welford_replace(mean: f64, m2: f64, old: f64, new: f64, n: usize) -> (f64, f64) {
    let delta = new - old;
    let next = mean + delta / n as f64;
    (next, m2 + delta * ((new - next) + (old - mean)))
}

/// The population standard deviation from the sum of squared deviations (rounding can leave a
/// tiny negative sum, which is 0).
fn std_of(m2: f64, n: usize) -> f64 {
    if m2 > 0.0 {
        (m2 / n as f64).sqrt()
    } else {
        0.0
    }
}

/// The output of a window function's first step from a fresh state (a window of `n - 1`
/// pre-fills and `x`), computed directly, with the bits of a fresh [`SiteState`] advanced once:
/// what a single evaluation (no past) gives. `None` for the functions the interpreter writes
/// out itself.
pub(crate) fn first_output(kind: Stateful, n: usize, d: f64, p: f64, x: f64) -> Option<f64> {
    let n = n.max(1);
    Some(match kind {
        Stateful::MovingMedian | Stateful::MovingPercentile => {
            if x.is_nan() || (n > 1 && d.is_nan()) {
                return Some(f64::NAN);
            }
            let below = n > 1 && x.total_cmp(&d).is_lt();
            let rank = |r: usize| match (n, below) {
                (1, _) => x,
                (_, true) if r == 0 => x,
                (_, false) if r == n - 1 => x,
                _ => d,
            };
            order_output(kind, n, p, rank)
        }
        Stateful::MovingStd => {
            if !x.is_finite() || (n > 1 && !d.is_finite()) {
                f64::NAN
            } else if n == 1 {
                std_of(two_pass(std::iter::once(x), 1).1, 1)
            } else {
                std_of(welford_replace(d, 0.0, d, x, n).1, n)
            }
        }
        Stateful::MovingCount => hit(d) * (n - 1) as f64 + hit(x),
        _ => return None,
    })
}

/// The two heaps of `moving_median` / `moving_percentile` over a window's ring, in cells:
/// `ring[n]` (the values), `heap[n]` (ring slots: `heap[..lower]` a max-heap, `heap[lower..]` a
/// min-heap, every lower value at most every upper value, under `f64::total_cmp`) and
/// `position[n]` (each slot's place in `heap`). Replacing one value costs O(log n).
struct Heaps<'a> {
    cells: &'a [Cell<f64>],
    n: usize,
    lower: usize,
}

impl Heaps<'_> {
    fn value(&self, slot: usize) -> f64 {
        self.cells[slot].get()
    }

    fn slot_at(&self, place: usize) -> usize {
        self.cells[self.n + place].get() as usize
    }

    fn place_of(&self, slot: usize) -> usize {
        self.cells[2 * self.n + slot].get() as usize
    }

    fn put(&self, place: usize, slot: usize) {
        self.cells[self.n + place].set(slot as f64);
        self.cells[2 * self.n + slot].set(place as f64);
    }

    fn swap(&self, a: usize, b: usize) {
        let (sa, sb) = (self.slot_at(a), self.slot_at(b));
        self.put(a, sb);
        self.put(b, sa);
    }

    /// Whether the value at heap place `a` belongs above the one at `b` in its heap.
    fn above(&self, a: usize, b: usize) -> bool {
        let order = self.value(self.slot_at(a)).total_cmp(&self.value(self.slot_at(b)));
        if a < self.lower {
            order.is_gt()
        } else {
            order.is_lt()
        }
    }

    /// Restores the heap holding `place` (its root `base`, `len` places) after its value changed.
    fn fix(&self, place: usize) {
        let (base, len) = if place < self.lower { (0, self.lower) } else { (self.lower, self.n - self.lower) };
        let mut i = place - base;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.above(base + i, base + parent) {
                break;
            }
            self.swap(base + i, base + parent);
            i = parent;
        }
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut top = i;
            if l < len && self.above(base + l, base + top) {
                top = l;
            }
            if r < len && self.above(base + r, base + top) {
                top = r;
            }
            if top == i {
                break;
            }
            self.swap(base + i, base + top);
            i = top;
        }
    }

    /// Replaces the value in ring slot `slot` and restores both heaps.
    fn replace(&self, slot: usize, x: f64) {
        self.cells[slot].set(x);
        self.fix(self.place_of(slot));
        let (lo, hi) = (0, self.lower);
        if self.lower > 0
            && self.lower < self.n
            && self.value(self.slot_at(lo)).total_cmp(&self.value(self.slot_at(hi))).is_gt()
        {
            // Only the changed value can be on the wrong side: swapping the tops and sifting
            // both down restores the order between the heaps.
            self.swap(lo, hi);
            self.fix(lo);
            self.fix(hi);
        }
    }

    /// The window's order statistic `rank` (0 the smallest): only the two the output reads,
    /// the lower heap's top (`lower - 1`) and the upper heap's (`lower`).
    fn rank(&self, rank: usize) -> f64 {
        let place = if rank + 1 == self.lower { 0 } else { self.lower };
        self.value(self.slot_at(place))
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
        run_p(kind, window, default, f64::NAN, xs)
    }

    fn run_p(kind: Stateful, window: usize, default: f64, param: f64, xs: &[[f64; 2]]) -> Vec<f64> {
        let site = Site { kind, window, default, param, offset: 1 };
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

    /// A random series: values spread over ±1000 with repeats, NaNs at `nan_percent`, and a few
    /// infinities.
    fn series(seed: u64, len: usize, nan_percent: u64) -> Vec<f64> {
        let mut seed = seed | 1;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..len)
            .map(|_| match next() % 1000 {
                r if r < nan_percent * 10 => f64::NAN,
                999 => f64::INFINITY,
                _ => (next() % 4001) as f64 / 4.0 - 500.0,
            })
            .collect()
    }

    /// The window ending at step `t`: `n - 1 - t` pre-fills (while any are left) then the values.
    fn window(d: f64, n: usize, values: &[f64], t: usize) -> Vec<f64> {
        let start = (t + 1).saturating_sub(n);
        let mut w = vec![d; (n - 1).saturating_sub(t)];
        w.extend_from_slice(&values[start..=t]);
        w
    }

    /// numpy's `percentile(w, p)` (linear) and `median(w)`, written from their definitions.
    fn numpy_order(kind: Stateful, w: &[f64], p: f64) -> f64 {
        if w.iter().any(|v| v.is_nan()) {
            return f64::NAN;
        }
        let mut s = w.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        if kind == Stateful::MovingMedian {
            return if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
        }
        let vi = (n - 1) as f64 * (p / 100.0);
        let k = vi.floor() as usize;
        let t = vi - vi.floor();
        let (a, b) = (s[k], s[(k + 1).min(n - 1)]);
        if t >= 0.5 {
            b - (b - a) * (1.0 - t)
        } else {
            a + (b - a) * t
        }
    }

    #[test]
    fn median_and_percentile_match_numpy_over_long_series_with_nans() {
        for (n, d) in [(1, 0.0), (2, 0.0), (3, 5.0), (4, f64::NAN), (7, -1.0), (30, 0.0), (365, 2.5)] {
            for nan_percent in [0, 1, 20] {
                let values = series(n as u64 * 31 + nan_percent, 3000, nan_percent);
                let args = xs(&values);
                let mut cases = vec![(Stateful::MovingMedian, f64::NAN)];
                cases.extend([0.0, 10.0, 25.0, 50.0, 90.0, 99.5, 100.0].map(|p| (Stateful::MovingPercentile, p)));
                for (kind, p) in cases {
                    let got = run_p(kind, n, d, p, &args);
                    for (t, g) in got.iter().enumerate() {
                        let want = numpy_order(kind, &window(d, n, &values, t), p);
                        assert!(
                            g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                            "{kind:?} p {p} n {n} d {d} step {t}: {g} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn moving_std_is_the_population_deviation_and_nan_while_a_nan_or_infinity_is_in_the_window() {
        for (n, d) in [(1, 0.0), (2, 1.0), (5, f64::NAN), (30, 0.0), (400, -3.0)] {
            for nan_percent in [0, 2, 30] {
                let values = series(n as u64 * 7 + nan_percent, 4000, nan_percent);
                let got = run(Stateful::MovingStd, n, d, &xs(&values));
                for (t, g) in got.iter().enumerate() {
                    let w = window(d, n, &values, t);
                    if w.iter().any(|v| !v.is_finite()) {
                        assert!(g.is_nan(), "n {n} step {t}: {g}");
                        continue;
                    }
                    let mean = w.iter().sum::<f64>() / n as f64;
                    let want = (w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
                    assert!((g - want).abs() <= 1e-9 * (1.0 + want), "n {n} step {t}: {g} vs {want}");
                }
            }
        }
        // A large level with a small spread keeps its digits (no sum-of-squares cancellation).
        let values: Vec<f64> = (0..1000).map(|i| 1.0e9 + f64::from(i % 3)).collect();
        let got = run(Stateful::MovingStd, 3, 1.0e9, &xs(&values));
        let want = (2.0f64 / 3.0).sqrt();
        assert!((got[999] - want).abs() < 1e-6, "{}", got[999]);
    }

    #[test]
    fn moving_count_counts_non_zero_and_nan_values_in_the_window() {
        let values = [1.0, 0.0, f64::NAN, -2.0, 0.0, 0.0, 0.0];
        assert_eq!(run(Stateful::MovingCount, 3, 0.0, &xs(&values)), vec![1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 0.0]);
        assert_eq!(run(Stateful::MovingCount, 3, 1.0, &xs(&[0.0, 0.0, 0.0])), vec![2.0, 1.0, 0.0]);
    }

    #[test]
    fn a_window_of_a_nan_default_gives_nan_until_it_is_full_of_values() {
        let out = run(Stateful::MovingMedian, 3, f64::NAN, &xs(&[1.0, 2.0, 3.0, 4.0]));
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(&out[2..], &[2.0, 3.0]);
    }

    #[test]
    fn the_first_output_of_a_fresh_window_is_what_a_fresh_state_gives() {
        let mut kinds = vec![(Stateful::MovingMedian, f64::NAN), (Stateful::MovingStd, f64::NAN)];
        kinds.push((Stateful::MovingCount, f64::NAN));
        kinds.extend([0.0, 33.3, 50.0, 75.0, 100.0].map(|p| (Stateful::MovingPercentile, p)));
        let points = [0.0, -0.0, 1.0, -7.5, 1e300, f64::NAN, f64::INFINITY, 0.1];
        for (kind, p) in kinds {
            for n in [1, 2, 3, 4, 10] {
                for d in points {
                    for x in points {
                        let want = SiteState::with_param(kind, n, d, p).advance([x, 0.0]);
                        let got = first_output(kind, n, d, p, x).unwrap_or(0.5);
                        assert!(
                            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                            "{kind:?} p {p} n {n} d {d} x {x}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
