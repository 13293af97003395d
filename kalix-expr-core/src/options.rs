//! Compile and evaluation options (docs/language.md). Defaults come first in each enum.

use crate::parse::ParseOptions;

/// What division by zero gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DivByZero {
    /// IEEE: `5/0 = inf`, `-5/0 = -inf`, `0/0 = NaN`, `x % 0 = NaN`.
    #[default]
    Ieee,
    /// An evaluation error naming the division. Protects models from silently carrying `inf`.
    Error,
    /// NaN for any division or remainder by zero.
    Nan,
}

/// What a function outside its domain (`sqrt(-1)`, `ln(-1)`, `asin(2)`, `(-8)^(1/3)`) gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DomainErrors {
    /// NaN, as `f64` does.
    #[default]
    Nan,
    /// An evaluation error naming the function and the argument: a NaN result from arguments
    /// that are not NaN.
    Error,
}

/// What a variable without a value gives, where names are bound at evaluation time
/// ([`Expr::eval_map`](crate::Expr::eval_map)).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum MissingVariable {
    /// An evaluation error naming the variable.
    #[default]
    Error,
    /// This value.
    Default(f64),
}

/// Options for compiling and evaluating an expression.
///
/// ```
/// use kalix_expr_core::{Expr, Options, DivByZero};
/// let opts = Options { div_by_zero: DivByZero::Error, ..Options::default() };
/// let c = Expr::parse("1 / x")?.compile_with(&["x"], &opts)?;
/// assert!(c.eval(&[0.0]).is_err());
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    /// Limits on the source text.
    pub parse: ParseOptions,
    /// Match variable names case-insensitively, as model files do. Off by default: in the Rust
    /// API `Rain` and `rain` are different variables.
    pub case_insensitive: bool,
    /// Division by zero.
    pub div_by_zero: DivByZero,
    /// Domain errors.
    pub domain_errors: DomainErrors,
    /// Variables without a value (only where names are bound at evaluation time).
    pub missing_variable: MissingVariable,
    /// Which engine evaluates a [`Compiled`](crate::Compiled) (see [`Engine`]).
    pub engine: Engine,
}

/// Which engine evaluates a compiled expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Engine {
    /// The interpreter (closures and node arrays over the resolved form).
    #[default]
    Interpreter,
    /// Native code from the Cranelift JIT (feature `jit`), for pure expressions under options
    /// whose errors it need not report (division by zero and domain errors not `Error`);
    /// anything else, or a machine Cranelift does not support, falls back to the interpreter.
    /// The same bits either way: the JIT calls the interpreter's own functions.
    Jit,
}

impl Options {
    /// The options model files use: case-insensitive names, IEEE division, NaN domain errors.
    ///
    /// ```
    /// assert!(kalix_expr_core::Options::model().case_insensitive);
    /// ```
    pub fn model() -> Self {
        Options { case_insensitive: true, ..Options::default() }
    }
}
