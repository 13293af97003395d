//! The harness shared by kalix-expr's benchmarks: the two expression sets, their inputs, the
//! same expressions hand-written in Rust, one adapter per engine, and the checks that every
//! engine computes what hand-written Rust computes before anything is timed.
//!
//! ```
//! use kalix_expr_bench::{check, engines::Engine, Set, Size, Verdict};
//! let inputs = Set::Kalix.inputs(Size::Test);
//! assert_eq!(check(Engine::KalixExpr, Set::Kalix, 0, &inputs), Verdict::Agrees);
//! ```
//!
//! - The Kalix function-dispatch set (`data/kalix_dispatch.txt`): 8 expressions over 73,000
//!   daily steps, bound as the file's header says ([`kalix`]).
//! - The ExprTk set (`data/exprtk.txt`): 17 expressions over an x, y grid ([`exprtk`]).
//!
//! kalix-expr must match hand-written Rust bit for bit; a peer must match within a relative
//! 1e-12, or it is reported as a mismatch and not timed on that expression.

use std::hint::black_box;
use std::time::Duration;

pub mod engines;
pub mod hand;
#[cfg(feature = "peers")]
mod peers;
pub mod translate;

use engines::{Engine, Eval, Hand, KalixExpr, Skip};
#[cfg(feature = "peers")]
use engines::{Exmex, Fasteval, Meval};
use hand::WithHand;

/// The Kalix function-dispatch set, as shipped in `data/`.
pub const KALIX_TEXT: &str = include_str!("../data/kalix_dispatch.txt");
/// The ExprTk set, as shipped in `data/`.
pub const EXPRTK_TEXT: &str = include_str!("../data/exprtk.txt");

/// A ~100-character expression typical of a Kalix model file, for compile time and memory.
pub const TYPICAL: &str =
    "max(0, data.rain.by_name.value * const.a - node.dam.dsflow) + min(const.b, sin(sim.day_of_year * 0.0172))";
/// The names [`TYPICAL`] is compiled against.
pub const TYPICAL_NAMES: [&str; 5] =
    ["data.rain.by_name.value", "const.a", "node.dam.dsflow", "const.b", "sim.day_of_year"];

/// The expressions of a set file: every line that is neither blank nor a `#` comment.
pub fn expressions(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// The binding rules of the Kalix function-dispatch set (from its file header).
pub mod kalix {
    /// The slots, in order: the per-step `sim.*` fields, then the constants.
    pub const NAMES: [&str; 10] = [
        "sim.step",
        "sim.year",
        "sim.month",
        "sim.day",
        "sim.day_of_year",
        "const.a",
        "const.b",
        "const.c",
        "const.d",
        "const.e",
    ];
    /// `const.a` … `const.e`: bound as variables, never folded.
    pub const CONSTS: [f64; 5] = [1.234, 2.345, 3.456, 0.123, 0.789];
    /// The daily steps of a run.
    pub const STEPS: usize = 73_000;

    /// Days in each month of a non-leap year.
    const MONTH_DAYS: [usize; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

    /// `[sim.step, sim.year, sim.month, sim.day, sim.day_of_year]` at 0-based step `i`, from the
    /// header's 365-day approximation: `day_of_year = i % 365 + 1`, `year = 1 + i / 365`, and the
    /// month and day of that day of a non-leap year.
    ///
    /// ```
    /// assert_eq!(kalix_expr_bench::kalix::sim_fields(0), [0.0, 1.0, 1.0, 1.0, 1.0]);
    /// assert_eq!(kalix_expr_bench::kalix::sim_fields(59), [59.0, 1.0, 3.0, 1.0, 60.0]);
    /// assert_eq!(kalix_expr_bench::kalix::sim_fields(365), [365.0, 2.0, 1.0, 1.0, 1.0]);
    /// ```
    pub fn sim_fields(i: usize) -> [f64; 5] {
        let day_of_year = i % 365 + 1;
        let year = 1 + i / 365;
        let (mut month, mut day) = (1, day_of_year);
        for days in MONTH_DAYS {
            if day <= days {
                break;
            }
            day -= days;
            month += 1;
        }
        [i as f64, year as f64, month as f64, day as f64, day_of_year as f64]
    }
}

/// The grid of the ExprTk set.
pub mod exprtk {
    /// The slots.
    pub const NAMES: [&str; 2] = ["x", "y"];
    /// Points along each axis: every 16th point of ExprTk's step of 0.0111 over [-100, 100].
    pub const AXIS_POINTS: usize = 1127;
    /// The y points timed: 64 of the 1127, evenly spread, to keep benchmark runs short.
    pub const Y_POINTS: usize = 64;

    /// Point `k` of an axis: `-100 + k · 16 · 0.0111` (never exactly 0, so no division by 0).
    pub fn axis(k: usize) -> f64 {
        -100.0 + k as f64 * (16.0 * 0.0111)
    }
}

/// Which slots an expression reads, which of them change at every evaluation, and the values of
/// the others.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Slot `i` is `names[i]`.
    pub names: Vec<&'static str>,
    /// Slots `0..varying` change at every evaluation.
    pub varying: usize,
    /// The values of slots `varying..`.
    pub fixed: Vec<f64>,
}

impl Layout {
    /// A slot array with the fixed values in place (and zero in the varying slots).
    pub fn initial_values(&self) -> Vec<f64> {
        let mut v = vec![0.0; self.varying];
        v.extend_from_slice(&self.fixed);
        v
    }

    /// The slot of `name`.
    pub fn slot_of(&self, name: &str) -> Result<usize, Skip> {
        self.names.iter().position(|n| *n == name).ok_or_else(|| Skip(format!("no slot `{name}`")))
    }

    /// The slot of `name` as the peers spell it (`sim_step` for `sim.step`).
    pub fn slot_of_peer_name(&self, name: &str) -> Result<usize, Skip> {
        self.names.iter().position(|n| translate::peer_name(n) == name).ok_or_else(|| Skip(format!("no slot `{name}`")))
    }
}

/// The inputs of a run: the varying values of every evaluation, one row each.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The slots.
    pub layout: Layout,
    /// Row `r` is `rows[r * varying..(r + 1) * varying]`.
    pub rows: Vec<f64>,
}

impl Inputs {
    /// The number of evaluations in a run.
    pub fn len(&self) -> usize {
        self.rows.len() / self.layout.varying
    }

    /// Whether there is nothing to evaluate.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The slot array of evaluation `r`.
    pub fn values(&self, r: usize) -> Vec<f64> {
        let mut v = self.layout.initial_values();
        let w = self.layout.varying;
        v[..w].copy_from_slice(&self.rows[r * w..(r + 1) * w]);
        v
    }
}

/// How many evaluations a run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// What is timed: all 73,000 steps; a 1127 × 64 grid (x every point, y every ~18th).
    Full,
    /// Quick checks for `cargo test` in debug builds: every 97th step; a 47 × 41 grid.
    Test,
}

/// An expression set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// The Kalix function-dispatch set.
    Kalix,
    /// The ExprTk set.
    ExprTk,
}

impl Set {
    /// Both sets.
    pub const ALL: [Set; 2] = [Set::Kalix, Set::ExprTk];

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Set::Kalix => "Kalix function dispatch",
            Set::ExprTk => "ExprTk",
        }
    }

    /// The expressions, in file order.
    pub fn sources(self) -> Vec<&'static str> {
        expressions(match self {
            Set::Kalix => KALIX_TEXT,
            Set::ExprTk => EXPRTK_TEXT,
        })
    }

    /// The slots.
    pub fn layout(self) -> Layout {
        match self {
            Set::Kalix => Layout { names: kalix::NAMES.to_vec(), varying: 5, fixed: kalix::CONSTS.to_vec() },
            Set::ExprTk => Layout { names: exprtk::NAMES.to_vec(), varying: 2, fixed: Vec::new() },
        }
    }

    /// Expression `i` hand-written in Rust, as an `fn` pointer (for checks).
    pub fn hand(self, i: usize) -> hand::HandFn {
        match self {
            Set::Kalix => hand::KALIX[i],
            Set::ExprTk => hand::EXPRTK[i],
        }
    }

    /// Calls `w` with expression `i` hand-written in Rust, directly callable (for timing).
    pub fn with_hand<W: WithHand>(self, i: usize, w: W) -> W::Out {
        match self {
            Set::Kalix => hand::with_kalix(i, w),
            Set::ExprTk => hand::with_exprtk(i, w),
        }
    }

    /// The inputs of a run.
    pub fn inputs(self, size: Size) -> Inputs {
        let layout = self.layout();
        let rows = match (self, size) {
            (Set::Kalix, Size::Full) => (0..kalix::STEPS).flat_map(kalix::sim_fields).collect(),
            (Set::Kalix, Size::Test) => (0..kalix::STEPS).step_by(97).flat_map(kalix::sim_fields).collect(),
            (Set::ExprTk, size) => {
                let (xs, ys) = match size {
                    Size::Full => (exprtk::AXIS_POINTS, exprtk::Y_POINTS),
                    Size::Test => (47, 41),
                };
                let n = exprtk::AXIS_POINTS;
                let mut rows = Vec::with_capacity(xs * ys * 2);
                for i in 0..xs {
                    for j in 0..ys {
                        rows.extend([exprtk::axis(i * n / xs), exprtk::axis(j * n / ys)]);
                    }
                }
                rows
            }
        };
        Inputs { layout, rows }
    }
}

/// Builds `engine` for expression `i` of `set` (not [`Engine::Hand`], which needs no building).
pub fn build(engine: Engine, set: Set, i: usize) -> Result<Box<dyn Eval>, Skip> {
    let src = set.sources()[i];
    let layout = set.layout();
    Ok(match engine {
        Engine::Hand => Box::new(Hand(set.hand(i))),
        Engine::KalixExpr => Box::new(KalixExpr::new(src, &layout).map_err(|e| Skip(e.to_string()))?),
        Engine::KalixJit => {
            let e = KalixExpr::jit(src, &layout).map_err(|e| Skip(e.to_string()))?;
            if !e.is_native() {
                return Err(Skip("the JIT does not compile it".into()));
            }
            Box::new(e)
        }
        #[cfg(feature = "peers")]
        Engine::Fasteval => Box::new(Fasteval::new(src, &layout)?),
        #[cfg(feature = "peers")]
        Engine::Exmex => Box::new(Exmex::new(src, &layout)?),
        #[cfg(feature = "peers")]
        Engine::Meval => Box::new(Meval::new(src, &layout)?),
        #[cfg(not(feature = "peers"))]
        Engine::Fasteval | Engine::Exmex | Engine::Meval => {
            return Err(Skip(format!("{} needs the `peers` feature", engine.name())))
        }
    })
}

/// Runs `evals` evaluations of `e`, cycling through the rows of `inputs`. The slot array and each
/// result pass through [`black_box`], so nothing is hoisted out of the loop or thrown away: even
/// hand-written Rust recomputes `max(const.a, const.b)` at every step, as every engine must.
#[inline(always)]
pub fn sweep<E: Eval + ?Sized>(e: &mut E, inputs: &Inputs, evals: u64) {
    let w = inputs.layout.varying;
    let mut values = inputs.layout.initial_values();
    let mut rows = inputs.rows.chunks_exact(w);
    for _ in 0..evals {
        let row = match rows.next() {
            Some(row) => row,
            None => {
                rows = inputs.rows.chunks_exact(w);
                rows.next().expect("no inputs")
            }
        };
        values[..w].copy_from_slice(row);
        black_box(e.eval(black_box(&values)));
    }
}

/// The results of `e` over all rows of `inputs`.
pub fn outputs<E: Eval + ?Sized>(e: &mut E, inputs: &Inputs) -> Vec<f64> {
    (0..inputs.len()).map(|r| e.eval(&inputs.values(r))).collect()
}

/// Whether two results are the same bits (any two NaNs count as the same).
pub fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Whether `got` is within a relative 1e-12 of `expected` (or both are NaN, or equal).
pub fn close(expected: f64, got: f64) -> bool {
    expected == got
        || (expected.is_nan() && got.is_nan())
        || (expected - got).abs() <= 1e-12 * expected.abs().max(got.abs())
}

/// The outcome of checking an engine against hand-written Rust.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every result agrees (bit for bit for kalix-expr, within 1e-12 for a peer).
    Agrees,
    /// The engine cannot run the expression.
    Skipped(String),
    /// The first evaluation that disagrees, how many do, and by how much at most.
    Mismatch {
        /// The slot array.
        values: Vec<f64>,
        /// Hand-written Rust's result.
        expected: f64,
        /// The engine's result.
        got: f64,
        /// How many evaluations disagree.
        count: usize,
        /// The largest relative difference (infinite where one result is NaN and the other not).
        max_rel: f64,
    },
}

/// A peer known to differ from hand-written Rust by more than 1e-12 somewhere on the full inputs.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// The peer.
    pub engine: Engine,
    /// The set.
    pub set: Set,
    /// The expression (0-based).
    pub index: usize,
    /// Why.
    pub why: &'static str,
}

const RECIPROCAL: &str = "fasteval computes `a / b` as `a * (1 / b)`, one more rounding, which the rest of the \
                          expression magnifies (cancellation, or `cos` of a large argument)";

/// The peers' known mismatches on the full inputs (the checks of `cargo test` in a debug build
/// use fewer points and may not meet them). They are reported, not timed.
pub const KNOWN_MISMATCHES: &[Known] = &[
    Known { engine: Engine::Fasteval, set: Set::ExprTk, index: 3, why: RECIPROCAL },
    Known { engine: Engine::Fasteval, set: Set::ExprTk, index: 7, why: RECIPROCAL },
    Known { engine: Engine::Fasteval, set: Set::ExprTk, index: 9, why: RECIPROCAL },
    Known { engine: Engine::Fasteval, set: Set::ExprTk, index: 10, why: RECIPROCAL },
    Known { engine: Engine::Fasteval, set: Set::ExprTk, index: 13, why: RECIPROCAL },
    Known {
        engine: Engine::Fasteval,
        set: Set::ExprTk,
        index: 15,
        why: "fasteval's `max` and `min` return NaN for a NaN argument (here `sqrt` of a negative number); \
              ours ignore NaN (docs/language.md)",
    },
];

/// Why `engine` is known to differ on expression `index` of `set`, if it is.
pub fn known_mismatch(engine: Engine, set: Set, index: usize) -> Option<&'static str> {
    KNOWN_MISMATCHES.iter().find(|k| k.engine == engine && k.set == set && k.index == index).map(|k| k.why)
}

/// The relative difference of two results (0 if they agree as [`close`] means it).
pub fn rel_diff(expected: f64, got: f64) -> f64 {
    if expected == got || (expected.is_nan() && got.is_nan()) {
        0.0
    } else if expected.is_nan() || got.is_nan() {
        f64::INFINITY
    } else {
        (expected - got).abs() / expected.abs().max(got.abs())
    }
}

/// Checks `engine` on expression `i` of `set` against hand-written Rust over `inputs`.
pub fn check(engine: Engine, set: Set, i: usize, inputs: &Inputs) -> Verdict {
    let mut e = match build(engine, set, i) {
        Ok(e) => e,
        Err(Skip(why)) => return Verdict::Skipped(why),
    };
    let expected = outputs(&mut Hand(set.hand(i)), inputs);
    let got = outputs(&mut *e, inputs);
    let agree = |a: f64, b: f64| {
        if matches!(engine, Engine::KalixExpr | Engine::KalixJit) {
            same_bits(a, b)
        } else {
            close(a, b)
        }
    };
    let bad: Vec<usize> = (0..expected.len()).filter(|&r| !agree(expected[r], got[r])).collect();
    match bad.first() {
        None => Verdict::Agrees,
        Some(&r) => Verdict::Mismatch {
            values: inputs.values(r),
            expected: expected[r],
            got: got[r],
            count: bad.len(),
            max_rel: bad.iter().map(|&r| rel_diff(expected[r], got[r])).fold(0.0, f64::max),
        },
    }
}

/// The CPU time this thread has used. Every timing here is in CPU time, not wall time: on a
/// shared machine the time the OS gives other processes between two readings is not counted.
#[cfg(unix)]
pub fn cpu_time() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` through a pointer to a valid one.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The time since the first call (no thread CPU clock on this platform: wall time).
#[cfg(not(unix))]
pub fn cpu_time() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// The time `f` takes, in [`cpu_time`].
pub fn timed(f: impl FnOnce()) -> Duration {
    let t = cpu_time();
    f();
    cpu_time() - t
}

/// The best of `reps` runs of `f`, in nanoseconds per evaluation (`evals` evaluations a run),
/// after one untimed run.
pub fn best_ns(reps: usize, evals: u64, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps).map(|_| timed(&mut f).as_nanos() as f64 / evals as f64).fold(f64::INFINITY, f64::min)
}

/// A timed loop over one engine and one set of inputs.
pub struct Runner<'a> {
    /// Makes `k` sweeps of the inputs.
    sweeps: Box<dyn FnMut(u64) + 'a>,
    evals: u64,
}

impl<'a> Runner<'a> {
    /// A runner of `e` over `inputs` (the loop is [`sweep`], compiled for `E`).
    pub fn new<E: Eval + 'a>(mut e: E, inputs: &'a Inputs) -> Self {
        let n = inputs.len() as u64;
        Runner { sweeps: Box::new(move |k| sweep(&mut e, inputs, k * n)), evals: n }
    }
}

/// The best nanoseconds per evaluation of each runner over `reps` rounds. Each round runs every
/// runner in turn for at least `min_run` (whole sweeps), so a busy spell of a shared machine
/// hits all engines alike and a short sweep is not at the mercy of one interruption.
pub fn race(runners: &mut [Runner<'_>], reps: usize, min_run: Duration) -> Vec<f64> {
    let sweeps: Vec<u64> = runners
        .iter_mut()
        .map(|r| (min_run.as_nanos() / timed(|| (r.sweeps)(1)).as_nanos().max(1)).max(1) as u64)
        .collect();
    let mut best = vec![f64::INFINITY; runners.len()];
    for _ in 0..reps {
        for ((r, &k), b) in runners.iter_mut().zip(&sweeps).zip(&mut best) {
            let t = timed(|| (r.sweeps)(k));
            *b = b.min(t.as_nanos() as f64 / (k * r.evals) as f64);
        }
    }
    best
}

/// The geometric mean (`None` for no values).
pub fn geo_mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        None
    } else {
        Some((xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fewer evaluations in debug builds, where the engines are slow.
    fn size() -> Size {
        if cfg!(debug_assertions) {
            Size::Test
        } else {
            Size::Full
        }
    }

    #[test]
    fn sets_have_the_documented_sizes() {
        assert_eq!(Set::Kalix.sources().len(), 8);
        assert_eq!(Set::ExprTk.sources().len(), 17);
        assert!((95..=110).contains(&TYPICAL.len()), "{}", TYPICAL.len());
    }

    #[test]
    fn kalix_expr_agrees_with_hand_written_rust_bit_for_bit() {
        for set in Set::ALL {
            let inputs = set.inputs(size());
            for i in 0..set.sources().len() {
                let v = check(Engine::KalixExpr, set, i, &inputs);
                assert_eq!(v, Verdict::Agrees, "{} #{}: {}", set.name(), i + 1, set.sources()[i]);
            }
        }
    }

    #[test]
    #[cfg(feature = "peers")]
    fn peers_agree_with_hand_written_rust_within_1e_12() {
        for set in Set::ALL {
            let inputs = set.inputs(size());
            for (i, src) in set.sources().into_iter().enumerate() {
                for engine in Engine::PEERS {
                    match check(engine, set, i, &inputs) {
                        Verdict::Agrees => {}
                        // Only `if` is beyond the peers (none has it).
                        Verdict::Skipped(why) => assert!(src.contains("if("), "{}: {src}: {why}", engine.name()),
                        Verdict::Mismatch { .. } if known_mismatch(engine, set, i).is_some() => {}
                        v => panic!("{} on {} #{}: {src}: {v:?}", engine.name(), set.name(), i + 1),
                    }
                }
            }
        }
    }

    #[test]
    fn the_typical_expression_compiles() {
        let layout = Layout { names: TYPICAL_NAMES.to_vec(), varying: 5, fixed: Vec::new() };
        let mut e = KalixExpr::new(TYPICAL, &layout).unwrap();
        assert_eq!(e.eval(&[10.0, 0.5, 2.0, 1.0, 100.0]), 3.0 + 1.0f64.min((100.0 * 0.0172f64).sin()));
    }
}
