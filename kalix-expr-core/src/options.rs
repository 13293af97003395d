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
    /// Let a [`Compiled`](crate::Compiled) (and so an [`ExprSet`](crate::ExprSet)) hold what
    /// reads a run's history, evaluating each call as a run's first step: `x[-1, d]` reads
    /// `d`, a window its first value (`moving_mean(x, n, d)` is `(x + (n-1)·d) / n`), a
    /// `*_since` its value at a reset. Off by default: then such an expression is an error at
    /// compile time pointing to the stepping API ([`Model`](crate::Model),
    /// [`Program::start`](crate::Program::start)), which keeps the history, because a plain
    /// evaluation would give the same number at every step, silently.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, Options};
    /// let e = Expr::parse("x[-1, 5] + 1")?;
    /// assert!(e.compile(&["x"]).is_err());
    /// let first_step = Options { single_step: true, ..Options::default() };
    /// assert_eq!(e.compile_with(&["x"], &first_step)?.eval(&[2.0])?, 6.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub single_step: bool,
}

/// Which engine evaluates a compiled expression or a model's step.
///
/// The default is [`Engine::Jit`] when the crate is built with the `jit` feature (the facade
/// `kalix-expr` and the `kexpr` command turn it on), else [`Engine::Interpreter`]. Both give
/// the same bits; [`Compiled::engine`](crate::Compiled::engine) says which one an expression
/// uses.
///
/// ```
/// use kalix_expr_core::{Engine, Options};
/// // A host that wants no native code asks for the interpreter.
/// let opts = Options { engine: Engine::Interpreter, ..Options::default() };
/// assert_eq!(opts.engine, Engine::Interpreter);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Engine {
    /// The interpreter (closures and node arrays over the resolved form).
    Interpreter,
    /// Native code from the Cranelift JIT (feature `jit`), under any options: where an error
    /// must be reported (a division by zero or domain error under strict options, a failed
    /// `assert`, a table lookup that misses) the native call gives up and the interpreter
    /// evaluates it again and reports it. What it does not compile (an impure native), or a
    /// machine Cranelift does not support, falls back to the interpreter. The same bits either
    /// way: the JIT calls the interpreter's own functions.
    ///
    /// Tiered: the interpreter evaluates the first [`JIT_AFTER`] evaluations of an expression
    /// (calls of an [`ExprSet`](crate::ExprSet)'s `eval_all`, steps of a model's run), and
    /// the native code is generated then, so compiling to check, or to evaluate a few times,
    /// never pays the JIT's cost (tens of microseconds an expression). Asking for the engine
    /// ([`Compiled::engine`](crate::Compiled::engine), [`Program::engine`](crate::Program::engine))
    /// generates it at once.
    Jit,
}

/// How many evaluations the interpreter makes before [`Engine::Jit`] generates native code:
/// about what compiling one expression costs in evaluations of it.
pub const JIT_AFTER: u32 = 1000;

impl Default for Engine {
    /// The JIT where it is built in, else the interpreter.
    fn default() -> Engine {
        if cfg!(feature = "jit") {
            Engine::Jit
        } else {
            Engine::Interpreter
        }
    }
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
