//! Every built-in function and operator, defined once (LANGUAGE.md §3–§4).
//!
//! The interpreter and the closures that `kexpr!` generates both call these functions, so the two
//! cannot drift apart. Each is a plain `fn` on `f64`, `#[inline]` so that generated code compiles
//! to the same instructions as hand-written Rust.
//!
//! ```
//! use kalix_expr_core::builtins::{self, lookup};
//! assert_eq!(builtins::eq(0.1 + 0.2, 0.3), 1.0);
//! assert_eq!(builtins::round(-2.5), -3.0);
//! let max = lookup("MAX").unwrap();
//! assert_eq!(max.name, "max");
//! ```

/// How many arguments a function accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exact(usize),
    /// This many or more.
    AtLeast(usize),
    /// An odd number, this many or more (`interp`).
    OddAtLeast(usize),
}

impl Arity {
    /// Whether `n` arguments are accepted.
    ///
    /// ```
    /// use kalix_expr_core::builtins::Arity;
    /// assert!(Arity::OddAtLeast(5).accepts(7));
    /// assert!(!Arity::OddAtLeast(5).accepts(6));
    /// ```
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exact(k) => n == k,
            Arity::AtLeast(k) => n >= k,
            Arity::OddAtLeast(k) => n >= k && n % 2 == 1,
        }
    }

    /// The accepted counts in words: `1 argument`, `at least 2 arguments`.
    pub fn describe(self) -> String {
        let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
        match self {
            Arity::Exact(k) => format!("{k} {}", plural(k)),
            Arity::AtLeast(k) => format!("at least {k} {}", plural(k)),
            Arity::OddAtLeast(k) => format!("an odd number of arguments, at least {k}"),
        }
    }
}

/// How a built-in is implemented.
#[derive(Debug, Clone, Copy)]
pub enum Imp {
    /// A pure function of one argument.
    F1(fn(f64) -> f64),
    /// A pure function of two arguments.
    F2(fn(f64, f64) -> f64),
    /// A pure function of three arguments.
    F3(fn(f64, f64, f64) -> f64),
    /// A left fold of a pure two-argument function over the arguments (`min`, `max`, `sum`).
    Fold(fn(f64, f64) -> f64),
    /// The mean of the arguments: their left-to-right sum divided by their count.
    Mean,
    /// A pure function of all arguments as a slice.
    Slice(fn(&[f64]) -> f64),
    /// `if(c, a, b)`: evaluates only the branch taken.
    If,
    /// A function with per-call-site state (LANGUAGE.md §8), run by the stepping runtime.
    Stateful(Stateful),
    /// A function of the simulation calendar (`month_at`, `days_in_month_at`).
    Calendar,
}

/// The stateful functions of LANGUAGE.md §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stateful {
    /// `moving_sum(x, n, default)`
    MovingSum,
    /// `moving_mean(x, n, default)`
    MovingMean,
    /// `moving_min(x, n, default)`
    MovingMin,
    /// `moving_max(x, n, default)`
    MovingMax,
    /// `sum_since(x, reset)`
    SumSince,
    /// `min_since(x, reset)`
    MinSince,
    /// `max_since(x, reset)`
    MaxSince,
    /// `count_since(cond, reset)`
    CountSince,
    /// `steps_since(reset)`
    StepsSince,
}

/// A built-in function: its name, arity, implementation and one line of documentation.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Lower-case name (calls match it case-insensitively).
    pub name: &'static str,
    /// Accepted argument counts.
    pub arity: Arity,
    /// The implementation.
    pub imp: Imp,
    /// Whether the result depends only on the arguments (so constant calls can be folded).
    pub pure: bool,
    /// One line for `--help` listings and error messages.
    pub doc: &'static str,
}

impl PartialEq for Builtin {
    /// Built-ins are identified by name: there is one of each.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

macro_rules! table {
    ($($name:literal, $arity:expr, $imp:expr, $pure:expr, $doc:literal;)*) => {
        /// Every built-in function, sorted by name.
        pub static BUILTINS: &[Builtin] = &[
            $(Builtin { name: $name, arity: $arity, imp: $imp, pure: $pure, doc: $doc },)*
        ];
    };
}

use Arity::*;
use Imp::*;

table! {
    "abs", Exact(1), F1(abs), true, "absolute value";
    "acos", Exact(1), F1(acos), true, "arc cosine (radians); NaN outside [-1, 1]";
    "asin", Exact(1), F1(asin), true, "arc sine (radians); NaN outside [-1, 1]";
    "atan", Exact(1), F1(atan), true, "arc tangent (radians)";
    "atan2", Exact(2), F2(atan2), true, "atan2(y, x): angle of the point (x, y)";
    "avg", AtLeast(1), Mean, true, "alias of mean";
    "ceil", Exact(1), F1(ceil), true, "smallest integer not below x";
    "clamp", Exact(3), F3(clamp), true, "clamp(x, lo, hi) = min(max(x, lo), hi)";
    "cos", Exact(1), F1(cos), true, "cosine (radians)";
    "count_since", Exact(2), Stateful(Stateful::CountSince), false, "count_since(cond, reset): steps with cond true since the last reset";
    "days_in_month_at", Exact(1), Calendar, false, "days_in_month_at(n): days in the month round(n) days from today";
    "exp", Exact(1), F1(exp), true, "e raised to x";
    "floor", Exact(1), F1(floor), true, "largest integer not above x";
    "if", Exact(3), If, true, "if(c, a, b): a when c is non-zero (NaN included), else b";
    "interp", OddAtLeast(5), Slice(interp), true, "interp(x, x1, y1, x2, y2, ...): clamped linear interpolation";
    "is_leap_year", Exact(1), F1(is_leap_year), true, "1 if round(y) is a Gregorian leap year, else 0";
    "ln", Exact(1), F1(ln), true, "natural logarithm; ln(0) = -inf";
    "log10", Exact(1), F1(log10), true, "base-10 logarithm";
    "log2", Exact(1), F1(log2), true, "base-2 logarithm";
    "max", AtLeast(2), Fold(max2), true, "largest argument, ignoring NaN";
    "max_since", Exact(2), Stateful(Stateful::MaxSince), false, "max_since(x, reset): largest x since the last reset";
    "mean", AtLeast(1), Mean, true, "arithmetic mean of the arguments";
    "min", AtLeast(2), Fold(min2), true, "smallest argument, ignoring NaN";
    "min_since", Exact(2), Stateful(Stateful::MinSince), false, "min_since(x, reset): smallest x since the last reset";
    "month_at", Exact(1), Calendar, false, "month_at(n): month of the date round(n) days from today";
    "moving_max", Exact(3), Stateful(Stateful::MovingMax), false, "moving_max(x, n, default): largest of the last n values";
    "moving_mean", Exact(3), Stateful(Stateful::MovingMean), false, "moving_mean(x, n, default): mean of the last n values";
    "moving_min", Exact(3), Stateful(Stateful::MovingMin), false, "moving_min(x, n, default): smallest of the last n values";
    "moving_sum", Exact(3), Stateful(Stateful::MovingSum), false, "moving_sum(x, n, default): sum of the last n values";
    "pow", Exact(2), F2(pow), true, "pow(x, y) = x ^ y";
    "round", Exact(1), F1(round), true, "nearest integer, halves away from zero";
    "sign", Exact(1), F1(sign), true, "-1, 0 or 1; sign(±0) is its argument, sign(NaN) is NaN";
    "sin", Exact(1), F1(sin), true, "sine (radians)";
    "sqrt", Exact(1), F1(sqrt), true, "square root; NaN below 0";
    "steps_since", Exact(1), Stateful(Stateful::StepsSince), false, "steps_since(reset): steps since the last reset";
    "sum", AtLeast(1), Fold(add), true, "left-to-right sum of the arguments";
    "sum_since", Exact(2), Stateful(Stateful::SumSince), false, "sum_since(x, reset): sum of x since the last reset";
    "tan", Exact(1), F1(tan), true, "tangent (radians)";
}

/// The built-in named `name`, matched case-insensitively.
///
/// ```
/// use kalix_expr_core::builtins::lookup;
/// assert!(lookup("Sin").is_some());
/// assert!(lookup("log").is_none());
/// ```
pub fn lookup(name: &str) -> Option<&'static Builtin> {
    if name.len() > 16 {
        return None;
    }
    BUILTINS.iter().find(|b| b.name.eq_ignore_ascii_case(name))
}

/// The built-in constants (`pi`, `e`); a variable bound under the same name wins.
///
/// ```
/// use kalix_expr_core::builtins::constant;
/// assert_eq!(constant("pi"), Some(std::f64::consts::PI));
/// assert_eq!(constant("PI"), Some(std::f64::consts::PI));
/// ```
pub fn constant(name: &str) -> Option<f64> {
    if name.eq_ignore_ascii_case("pi") {
        Some(std::f64::consts::PI)
    } else if name.eq_ignore_ascii_case("e") {
        Some(std::f64::consts::E)
    } else {
        None
    }
}

/// Names that are neither functions nor variables.
pub const RESERVED: &[&str] = &["assert", "this", "self"];

/// Other engines' names for our functions, for the help line of an unknown function.
pub const SYNONYMS: &[(&str, &[&str])] = &[
    ("log", &["ln", "log10"]),
    ("log_e", &["ln"]),
    ("loge", &["ln"]),
    ("average", &["mean"]),
    ("power", &["pow"]),
    ("ceiling", &["ceil"]),
    ("arcsin", &["asin"]),
    ("arccos", &["acos"]),
    ("arctan", &["atan"]),
    ("arctan2", &["atan2"]),
    ("ifelse", &["if"]),
    ("iif", &["if"]),
    ("signum", &["sign"]),
    ("sgn", &["sign"]),
    ("fabs", &["abs"]),
    ("minimum", &["min"]),
    ("maximum", &["max"]),
    ("total", &["sum"]),
    ("interpolate", &["interp"]),
    ("lerp", &["interp"]),
];

// ---- operators (LANGUAGE.md §3) ----

/// Whether a condition holds: any value but ±0, so NaN is true.
#[inline(always)]
pub fn truthy(x: f64) -> bool {
    x != 0.0
}

/// 1.0 or 0.0.
#[inline(always)]
pub fn bool_to_f64(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `a + b`
#[inline(always)]
pub fn add(a: f64, b: f64) -> f64 {
    a + b
}
/// `a - b`
#[inline(always)]
pub fn sub(a: f64, b: f64) -> f64 {
    a - b
}
/// `a * b`
#[inline(always)]
pub fn mul(a: f64, b: f64) -> f64 {
    a * b
}
/// `a / b`, IEEE (`5/0 = inf`, `0/0 = NaN`).
#[inline(always)]
pub fn div(a: f64, b: f64) -> f64 {
    a / b
}
/// `a % b`: truncated remainder with the sign of the dividend; `x % 0` is NaN.
#[inline(always)]
pub fn rem(a: f64, b: f64) -> f64 {
    a % b
}
/// `a ^ b` and `a ** b`: `powf` (`0^0 = 1`, `(-8)^(1/3) = NaN`).
#[inline(always)]
pub fn pow(a: f64, b: f64) -> f64 {
    a.powf(b)
}
/// `-x`
#[inline(always)]
pub fn neg(x: f64) -> f64 {
    -x
}
/// `!x`: 1 when `x` is exactly ±0, else 0 (`!NaN` is 0).
#[inline(always)]
pub fn not(x: f64) -> f64 {
    bool_to_f64(x == 0.0)
}
/// `a == b`: **compat** `|a − b| < f64::EPSILON`, an absolute tolerance (`NaN == NaN` is 0,
/// `inf == inf` is 0).
#[inline(always)]
pub fn eq(a: f64, b: f64) -> f64 {
    bool_to_f64((a - b).abs() < f64::EPSILON)
}
/// `a != b`: **compat** `|a − b| >= f64::EPSILON` (so `NaN != NaN` is 0 too).
#[inline(always)]
pub fn ne(a: f64, b: f64) -> f64 {
    bool_to_f64((a - b).abs() >= f64::EPSILON)
}
/// `a < b` (0 if either is NaN).
#[inline(always)]
pub fn lt(a: f64, b: f64) -> f64 {
    bool_to_f64(a < b)
}
/// `a <= b` (0 if either is NaN).
#[inline(always)]
pub fn le(a: f64, b: f64) -> f64 {
    bool_to_f64(a <= b)
}
/// `a > b` (0 if either is NaN).
#[inline(always)]
pub fn gt(a: f64, b: f64) -> f64 {
    bool_to_f64(a > b)
}
/// `a >= b` (0 if either is NaN).
#[inline(always)]
pub fn ge(a: f64, b: f64) -> f64 {
    bool_to_f64(a >= b)
}

// ---- functions (LANGUAGE.md §4) ----

/// `abs(x)`
#[inline]
pub fn abs(x: f64) -> f64 {
    x.abs()
}
/// `sqrt(x)`
#[inline]
pub fn sqrt(x: f64) -> f64 {
    x.sqrt()
}
/// `exp(x)`
#[inline]
pub fn exp(x: f64) -> f64 {
    x.exp()
}
/// `ln(x)`
#[inline]
pub fn ln(x: f64) -> f64 {
    x.ln()
}
/// `log10(x)`
#[inline]
pub fn log10(x: f64) -> f64 {
    x.log10()
}
/// `log2(x)`
#[inline]
pub fn log2(x: f64) -> f64 {
    x.log2()
}
/// `sin(x)`
#[inline]
pub fn sin(x: f64) -> f64 {
    x.sin()
}
/// `cos(x)`
#[inline]
pub fn cos(x: f64) -> f64 {
    x.cos()
}
/// `tan(x)`
#[inline]
pub fn tan(x: f64) -> f64 {
    x.tan()
}
/// `asin(x)`
#[inline]
pub fn asin(x: f64) -> f64 {
    x.asin()
}
/// `acos(x)`
#[inline]
pub fn acos(x: f64) -> f64 {
    x.acos()
}
/// `atan(x)`
#[inline]
pub fn atan(x: f64) -> f64 {
    x.atan()
}
/// `atan2(y, x)`
#[inline]
pub fn atan2(y: f64, x: f64) -> f64 {
    y.atan2(x)
}
/// `ceil(x)`
#[inline]
pub fn ceil(x: f64) -> f64 {
    x.ceil()
}
/// `floor(x)`
#[inline]
pub fn floor(x: f64) -> f64 {
    x.floor()
}
/// `round(x)`: half away from zero (`round(-0.4) = -0`).
#[inline]
pub fn round(x: f64) -> f64 {
    x.round()
}
/// `sign(x)`: −1 or +1, but ±0 and NaN are returned as they are.
#[inline]
pub fn sign(x: f64) -> f64 {
    if x == 0.0 || x.is_nan() {
        x
    } else {
        x.signum()
    }
}
/// `min(a, b)`: `f64::min`, so a NaN argument is ignored.
#[inline(always)]
pub fn min2(a: f64, b: f64) -> f64 {
    a.min(b)
}
/// `max(a, b)`: `f64::max`, so a NaN argument is ignored.
#[inline(always)]
pub fn max2(a: f64, b: f64) -> f64 {
    a.max(b)
}
/// `clamp(x, lo, hi)`: exactly `min(max(x, lo), hi)`, which never panics (unlike `f64::clamp`).
#[inline]
pub fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}
/// `min(args…)`: left fold of `f64::min`.
pub fn min(args: &[f64]) -> f64 {
    fold(args, min2)
}
/// `max(args…)`: left fold of `f64::max`.
pub fn max(args: &[f64]) -> f64 {
    fold(args, max2)
}
/// `sum(args…)`: left-to-right sum, starting from the first argument (so `sum(-0) = -0`).
pub fn sum(args: &[f64]) -> f64 {
    fold(args, add)
}
/// `mean(args…)` and `avg(args…)`: `sum / n`.
pub fn mean(args: &[f64]) -> f64 {
    sum(args) / args.len() as f64
}
/// A left fold starting from the first element; NaN for no elements.
#[inline]
pub fn fold(args: &[f64], f: fn(f64, f64) -> f64) -> f64 {
    match args.split_first() {
        Some((first, rest)) => rest.iter().fold(*first, |acc, &x| f(acc, x)),
        None => f64::NAN,
    }
}
/// `is_leap_year(y)`: 1 when `round(y)` is a Gregorian leap year, else 0.
///
/// **compat**: the year is converted as Kalix does, `round(y) as i64`, which saturates: NaN
/// becomes year 0 (a leap year, so 1), `+inf` becomes `i64::MAX` (0) and `-inf` `i64::MIN` (1).
#[inline]
pub fn is_leap_year(y: f64) -> f64 {
    let y = y.round() as i64;
    bool_to_f64((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)
}

/// `interp(x, x1, y1, x2, y2, …)` with `args = [x, x1, y1, …]`: clamped linear interpolation
/// through the points (x ascending), computed as `y0 + (x − x0) * (y1 − y0) / (x1 − x0)` like a
/// 1D table. NaN `x` gives NaN.
pub fn interp(args: &[f64]) -> f64 {
    match args.split_first() {
        Some((&x, points)) => interp_points(x, points),
        None => f64::NAN,
    }
}

/// Clamped linear interpolation of `x` through `points = [x1, y1, x2, y2, …]` (LANGUAGE.md §7):
/// below the first x gives the first y, above the last x the last y, NaN gives NaN, and between
/// two points `y0 + (x − x0) * (y1 − y0) / (x1 − x0)`, evaluated in that order.
///
/// ```
/// use kalix_expr_core::builtins::interp_points;
/// let pts = [0.0, 0.0, 10.0, 100.0];
/// assert_eq!(interp_points(2.5, &pts), 25.0);
/// assert_eq!(interp_points(-1.0, &pts), 0.0);
/// assert_eq!(interp_points(99.0, &pts), 100.0);
/// ```
pub fn interp_points(x: f64, points: &[f64]) -> f64 {
    let n = points.len() / 2;
    if x.is_nan() || n == 0 {
        return f64::NAN;
    }
    // Both ends clamp exactly; an interior knot uses the segment to its left (as Kalix does).
    if x <= points[0] {
        return points[1];
    }
    if x >= points[2 * n - 2] {
        return points[2 * n - 1];
    }
    for k in 1..n {
        let (x1, y1) = (points[2 * k], points[2 * k + 1]);
        if x <= x1 {
            let (x0, y0) = (points[2 * k - 2], points[2 * k - 1]);
            return y0 + (x - x0) * (y1 - y0) / (x1 - x0);
        }
    }
    points[2 * n - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn table_is_sorted_and_names_are_lower_case() {
        let names: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')));
    }

    #[test]
    fn equality_uses_an_absolute_epsilon() {
        assert_eq!(eq(0.1 + 0.2, 0.3), 1.0);
        assert_eq!(eq(1e-17, 0.0), 1.0);
        assert_eq!(eq(1e16 + 2.0, 1e16), 0.0);
        assert_eq!(eq(f64::NAN, f64::NAN), 0.0);
        assert_eq!(ne(f64::NAN, f64::NAN), 0.0);
        assert_eq!(eq(f64::INFINITY, f64::INFINITY), 0.0);
        assert_eq!(ne(1.0, 2.0), 1.0);
    }

    #[test]
    fn remainder_is_truncated_with_the_sign_of_the_dividend() {
        assert_eq!(rem(-7.0, 3.0), -1.0);
        assert_eq!(rem(7.0, -3.0), 1.0);
        assert_eq!(rem(7.5, 2.0), 1.5);
        assert!(rem(7.0, 0.0).is_nan());
    }

    #[test]
    fn min_and_max_ignore_nan() {
        assert_eq!(min(&[f64::NAN, 2.0, 1.0]), 1.0);
        assert_eq!(max(&[3.0, f64::NAN]), 3.0);
        assert!(max(&[f64::NAN, f64::NAN]).is_nan());
        assert!(sum(&[1.0, f64::NAN]).is_nan());
        assert!(bits(sum(&[-0.0]), -0.0));
        assert_eq!(mean(&[1.0, 2.0, 4.0]), 7.0 / 3.0);
    }

    #[test]
    fn round_and_sign_keep_the_compat_corners() {
        assert_eq!(round(2.5), 3.0);
        assert_eq!(round(-2.5), -3.0);
        assert!(bits(round(-0.4), -0.0));
        assert!(bits(sign(-0.0), -0.0));
        assert!(bits(sign(0.0), 0.0));
        assert!(sign(f64::NAN).is_nan());
        assert_eq!(sign(-3.0), -1.0);
        assert_eq!(not(f64::NAN), 0.0);
        assert_eq!(not(-0.0), 1.0);
    }

    #[test]
    fn clamp_never_panics() {
        assert_eq!(clamp(5.0, 0.0, 1.0), 1.0);
        assert_eq!(clamp(5.0, 10.0, 1.0), 1.0);
        assert_eq!(clamp(f64::NAN, 0.0, 1.0), 0.0);
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert_eq!(is_leap_year(2000.0), 1.0);
        assert_eq!(is_leap_year(1900.0), 0.0);
        assert_eq!(is_leap_year(2024.4), 1.0);
        assert_eq!(is_leap_year(2023.0), 0.0);
        assert_eq!(is_leap_year(f64::NAN), 1.0);
        assert_eq!(is_leap_year(f64::INFINITY), 0.0);
        assert_eq!(is_leap_year(f64::NEG_INFINITY), 1.0);
    }

    #[test]
    fn interp_clamps_and_interpolates() {
        let a = [5.0, 0.0, 0.0, 10.0, 100.0, 20.0, 0.0];
        assert_eq!(interp(&a), 50.0);
        assert_eq!(interp(&[15.0, 0.0, 0.0, 10.0, 100.0, 20.0, 0.0]), 50.0);
        assert_eq!(interp(&[25.0, 0.0, 0.0, 10.0, 100.0, 20.0, 0.0]), 0.0);
        assert_eq!(interp(&[10.0, 0.0, 0.0, 10.0, 100.0, 20.0, 0.0]), 100.0);
        assert!(interp(&[f64::NAN, 0.0, 0.0, 10.0, 100.0]).is_nan());
    }

    #[test]
    fn lookup_is_case_insensitive_and_arity_is_described() {
        assert_eq!(lookup("MAX").map(|b| b.name), Some("max"));
        assert_eq!(Arity::Exact(1).describe(), "1 argument");
        assert_eq!(Arity::AtLeast(2).describe(), "at least 2 arguments");
    }
}
