//! The benchmark expressions hand-written in Rust: the baseline every engine is measured against.
//!
//! Each function performs the same operations in the same order as the expression, so that it
//! gives the same bits as docs/language.md says the expression must: `+` and `*` chains fold left,
//! `max(a, b, c)` is `a.max(b).max(c)`, `pow(x, y)` and `x^y` are `x.powf(y)`, `clamp(x, lo, hi)`
//! is `x.max(lo).min(hi)`, `if(c, a, b)` takes `a` when `c` holds, and `pi` is
//! [`std::f64::consts::PI`]. No rewrite that could change a bit (such as `x^23` into
//! multiplications) is made here, and constant exponents are kept from the compiler, which would
//! make such rewrites itself (see `opaque`).
//!
//! Each reads its inputs from the same slot array the engines read: the Kalix set's
//! `[sim.step, sim.year, sim.month, sim.day, sim.day_of_year, const.a, …, const.e]` (see
//! [`crate::kalix::NAMES`]) and the ExprTk set's `[x, y]`.

use std::f64::consts::PI;
use std::hint::black_box;

/// A constant exponent hidden from the optimiser. LLVM rewrites `x.powf(2.0)` as `x * x` and
/// `x.powf(0.5)` as a square root, which do not always give the bits of `powf` (for 35 of the
/// 72,128 points of the ExprTk grid, `x * x` differs from `powf(x, 2.0)` in the last bit), so
/// the hand-written code would no longer compute what the expression means. (`x.powf(1.0)` is
/// left to the compiler: `x` is exactly what `powf` returns, its error being under one ulp.)
#[inline(always)]
fn opaque(exponent: f64) -> f64 {
    black_box(exponent)
}

/// A hand-written expression over a slot array.
pub type HandFn = fn(&[f64]) -> f64;

/// Something to do with one hand-written function, given as a generic parameter so that it is
/// called directly and inlined (an `fn` pointer would cost an indirect call that hand-written
/// Rust does not pay).
pub trait WithHand {
    /// What the visit returns.
    type Out;
    /// Uses `f`.
    fn with<F: Fn(&[f64]) -> f64 + Copy + 'static>(self, f: F) -> Self::Out;
}

macro_rules! bind {
    ($v:expr => [$($name:ident),*]) => {
        let &[$($name,)* ..] = $v else { panic!("too few values") };
    };
}

macro_rules! set {
    ($(#[$doc:meta])* $table:ident, $with:ident, $n:literal, [$($i:literal => $fn:ident),*]) => {
        $(#[$doc])*
        pub const $table: [HandFn; $n] = [$($fn),*];

        /// Calls `w` with expression `i` of the same set as a directly callable function.
        pub fn $with<W: WithHand>(i: usize, w: W) -> W::Out {
            match i {
                $($i => w.with($fn),)*
                _ => panic!("no expression {i}"),
            }
        }
    };
}

set!(
    /// The Kalix function-dispatch set, in file order.
    KALIX, with_kalix, 8, [0 => k1, 1 => k2, 2 => k3, 3 => k4, 4 => k5, 5 => k6, 6 => k7, 7 => k8]
);
set!(
    /// The ExprTk set, in file order.
    EXPRTK, with_exprtk, 17,
    [0 => t1, 1 => t2, 2 => t3, 3 => t4, 4 => t5, 5 => t6, 6 => t7, 7 => t8, 8 => t9, 9 => t10, 10 => t11,
     11 => t12, 12 => t13, 13 => t14, 14 => t15, 15 => t16, 16 => t17]
);

// ---- the Kalix function-dispatch set ----

/// `abs(sin(sim.step * 0.01) + cos(sim.step * 0.02)) * sqrt(abs(sim.day_of_year)) + max(const.a, const.b) * min(const.c, sin(const.a + sim.month)) + pow(abs(cos(sim.year * 0.001)), 0.5) + exp(-abs(sim.step * 0.0001))`
#[inline]
pub fn k1(v: &[f64]) -> f64 {
    bind!(v => [s, yr, mo, _dy, doy, a, b, c]);
    ((s * 0.01).sin() + (s * 0.02).cos()).abs() * doy.abs().sqrt()
        + a.max(b) * c.min((a + mo).sin())
        + (yr * 0.001).cos().abs().powf(opaque(0.5))
        + (-(s * 0.0001).abs()).exp()
}

/// `sqrt(abs(sin(sim.step * 0.02))) + cos(sim.day_of_year * const.d) * sin(const.b * sim.month) + max(abs(const.e), min(const.a, const.c)) + pow(abs(cos(sim.step * 0.005)), const.d) + exp(-abs(sin(sim.year * 0.01)))`
#[inline]
pub fn k2(v: &[f64]) -> f64 {
    bind!(v => [s, yr, mo, _dy, doy, a, b, c, d, e]);
    (s * 0.02).sin().abs().sqrt()
        + (doy * d).cos() * (b * mo).sin()
        + e.abs().max(a.min(c))
        + (s * 0.005).cos().abs().powf(d)
        + (-(yr * 0.01).sin().abs()).exp()
}

/// `abs(cos(sim.step * 0.015)) + sqrt(abs(sin(sim.day_of_year * 0.02))) * max(const.a, const.b, const.c) + min(sin(sim.month), cos(sim.month)) * pow(abs(const.e), 0.7) + exp(-abs(cos(sim.step * 0.0002)))`
#[inline]
pub fn k3(v: &[f64]) -> f64 {
    bind!(v => [s, _yr, mo, _dy, doy, a, b, c, _d, e]);
    (s * 0.015).cos().abs()
        + (doy * 0.02).sin().abs().sqrt() * a.max(b).max(c)
        + mo.sin().min(mo.cos()) * e.abs().powf(opaque(0.7))
        + (-(s * 0.0002).cos().abs()).exp()
}

/// `sin(const.a * sim.step * 0.003) + cos(const.b * sim.step * 0.004) + sqrt(abs(const.c + sin(sim.day_of_year * 0.01))) + max(abs(const.a), abs(const.b)) * min(const.d, const.e) + pow(abs(sin(sim.year * 0.05)), 0.3) + exp(-abs(const.a + sim.step * 0.0003))`
#[inline]
pub fn k4(v: &[f64]) -> f64 {
    bind!(v => [s, yr, _mo, _dy, doy, a, b, c, d, e]);
    (a * s * 0.003).sin()
        + (b * s * 0.004).cos()
        + (c + (doy * 0.01).sin()).abs().sqrt()
        + a.abs().max(b.abs()) * d.min(e)
        + (yr * 0.05).sin().abs().powf(opaque(0.3))
        + (-(a + s * 0.0003).abs()).exp()
}

/// `abs(sin(sim.step * 0.007) * cos(sim.step * 0.009)) + sqrt(abs(sim.day_of_year)) + max(sin(const.a), cos(const.b)) * min(sin(const.c), cos(const.d)) + pow(abs(sim.month - 6.5), 0.8) + exp(-abs(sim.step * 0.00015))`
#[inline]
pub fn k5(v: &[f64]) -> f64 {
    bind!(v => [s, _yr, mo, _dy, doy, a, b, c, d]);
    ((s * 0.007).sin() * (s * 0.009).cos()).abs()
        + doy.abs().sqrt()
        + a.sin().max(b.cos()) * c.sin().min(d.cos())
        + (mo - 6.5).abs().powf(opaque(0.8))
        + (-(s * 0.00015).abs()).exp()
}

/// `sqrt(abs(const.a * sin(sim.step * 0.011))) + abs(cos(const.b * sim.day_of_year * 0.013)) + max(const.a, const.b, const.c, const.d, const.e) * sin(sim.month * 0.5) + pow(abs(cos(sim.year * 0.002)), const.e) + exp(-abs(sim.step * 0.00012))`
#[inline]
pub fn k6(v: &[f64]) -> f64 {
    bind!(v => [s, yr, mo, _dy, doy, a, b, c, d, e]);
    (a * (s * 0.011).sin()).abs().sqrt()
        + (b * doy * 0.013).cos().abs()
        + a.max(b).max(c).max(d).max(e) * (mo * 0.5).sin()
        + (yr * 0.002).cos().abs().powf(e)
        + (-(s * 0.00012).abs()).exp()
}

/// `abs(sin(sim.step * 0.0025) - cos(sim.step * 0.0035)) * sqrt(abs(sim.day_of_year + const.a)) + min(abs(const.a), abs(const.b)) * max(sin(const.c), cos(const.d)) + pow(abs(sin(sim.month * const.d)), 0.4) + exp(-abs(cos(sim.year * 0.0007)))`
#[inline]
pub fn k7(v: &[f64]) -> f64 {
    bind!(v => [s, yr, mo, _dy, doy, a, b, c, d]);
    ((s * 0.0025).sin() - (s * 0.0035).cos()).abs() * (doy + a).abs().sqrt()
        + a.abs().min(b.abs()) * c.sin().max(d.cos())
        + (mo * d).sin().abs().powf(opaque(0.4))
        + (-(yr * 0.0007).cos().abs()).exp()
}

/// `abs(sin(sim.step * 0.0125)) + sqrt(abs(cos(sim.day_of_year * 0.025))) * max(const.b, const.c) + min(sin(const.a + sim.month), cos(const.b * sim.month)) + pow(abs(const.e + sim.day * 0.01), 0.6) + exp(-abs(sin(sim.year * 0.003)))`
#[inline]
pub fn k8(v: &[f64]) -> f64 {
    bind!(v => [s, yr, mo, dy, doy, a, b, c, _d, e]);
    (s * 0.0125).sin().abs()
        + (doy * 0.025).cos().abs().sqrt() * b.max(c)
        + (a + mo).sin().min((b * mo).cos())
        + (e + dy * 0.01).abs().powf(opaque(0.6))
        + (-(yr * 0.003).sin().abs()).exp()
}

// ---- the ExprTk set ----

/// `(y + x)`
#[inline]
pub fn t1(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    y + x
}

/// `2 * (y + x)`
#[inline]
pub fn t2(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    2.0 * (y + x)
}

/// `(2 * y + 2 * x)`
#[inline]
pub fn t3(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    2.0 * y + 2.0 * x
}

/// `((1.23 * x^2) / y) - 123.123`
#[inline]
pub fn t4(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    ((1.23 * x.powf(opaque(2.0))) / y) - 123.123
}

/// `(y + x / y) * (x - y / x)`
#[inline]
pub fn t5(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    (y + x / y) * (x - y / x)
}

/// `x / ((x + y) + (x - y)) / y`
#[inline]
pub fn t6(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    x / ((x + y) + (x - y)) / y
}

/// `1 - ((x * y) + (y / x)) - 3`
#[inline]
pub fn t7(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    1.0 - ((x * y) + (y / x)) - 3.0
}

/// `(5.5 + x) + (2 * x - 2 / 3 * y) * (x / 3 + y / 4) + (y + 7.7)`
#[inline]
pub fn t8(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    (5.5 + x) + (2.0 * x - 2.0 / 3.0 * y) * (x / 3.0 + y / 4.0) + (y + 7.7)
}

/// `1.1*x^1 + 2.2*y^2 - 3.3*x^3 + 4.4*y^15 - 5.5*x^23 + 6.6*y^55`
#[inline]
pub fn t9(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    1.1 * x.powf(1.0) + 2.2 * y.powf(opaque(2.0)) - 3.3 * x.powf(opaque(3.0)) + 4.4 * y.powf(opaque(15.0))
        - 5.5 * x.powf(opaque(23.0))
        + 6.6 * y.powf(opaque(55.0))
}

/// `sin(2 * x) + cos(pi / y)`
#[inline]
pub fn t10(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    (2.0 * x).sin() + (PI / y).cos()
}

/// `1 - sin(2 * x) + cos(pi / y)`
#[inline]
pub fn t11(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    1.0 - (2.0 * x).sin() + (PI / y).cos()
}

/// `sqrt(111.111 - sin(2 * x) + cos(pi / y) / 333.333)`
#[inline]
pub fn t12(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    (111.111 - (2.0 * x).sin() + (PI / y).cos() / 333.333).sqrt()
}

/// `(x^2 / sin(2 * pi / y)) - x / 2`
#[inline]
pub fn t13(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    (x.powf(opaque(2.0)) / (2.0 * PI / y).sin()) - x / 2.0
}

/// `x + (cos(y - sin(2 / x * pi)) - sin(x - cos(2 * y / pi))) - y`
#[inline]
pub fn t14(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    x + ((y - (2.0 / x * PI).sin()).cos() - (x - (2.0 * y / PI).cos()).sin()) - y
}

/// `clamp(sin(2 * pi * x) + cos(y / 2 * pi), -1.0, 1.0)`
// Not `f64::clamp`, which returns NaN for NaN where ours returns `lo`, and panics on NaN bounds.
#[allow(clippy::manual_clamp)]
#[inline]
pub fn t15(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    ((2.0 * PI * x).sin() + (y / 2.0 * PI).cos()).max(-1.0).min(1.0)
}

/// `max(3.33, min(sqrt(1 - sin(2 * x) + cos(pi / y) / 3), 1.11))`
// Always 3.33 (NaN included), as in ExprTk's benchmark; written out all the same.
#[allow(clippy::min_max)]
#[inline]
pub fn t16(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    3.33f64.max((1.0 - (2.0 * x).sin() + (PI / y).cos() / 3.0).sqrt().min(1.11))
}

/// `if((y + (x * 2.2)) <= (x + y + 1.1), x - y, x * y) + 2 * pi / x`
#[inline]
pub fn t17(v: &[f64]) -> f64 {
    bind!(v => [x, y]);
    (if (y + (x * 2.2)) <= (x + y + 1.1) { x - y } else { x * y }) + 2.0 * PI / x
}
