//! kalix-expr: the expression engine of the Kalix hydrological modelling platform.
//!
//! You get two ways to run the same language (docs/language.md), with the same results bit for bit:
//!
//! - at run time, for expressions read from model files: [`Expr::parse`] once,
//!   [`Expr::compile`] once, then [`Compiled::eval`] at every step (or, for thousands of
//!   expressions evaluated at every step, [`ExprSet::eval_all`], which keeps them all in one
//!   array);
//! - at build time, for expressions written in Rust source: [`kexpr!`] checks the expression
//!   when the crate compiles and turns it into a plain closure `Fn(f64, …) -> f64` (or, when it
//!   calls stateful functions, an `FnMut` that owns their state and steps once per call).
//!
//! ```
//! use kalix_expr::{kexpr, Expr};
//!
//! let compiled = Expr::parse("max(0, rain - loss)")?.compile(&["rain", "loss"])?;
//! assert_eq!(compiled.eval(&[12.5, 2.5])?, 10.0);
//!
//! let runoff = kexpr!("max(0, rain - loss)"); // |rain, loss|, in order of first appearance
//! assert_eq!(runoff(12.5, 2.5), 10.0);
//! # Ok::<(), kalix_expr::Error>(())
//! ```
//!
//! Errors render the way rustc's do, with every name error at once; `kexpr!` reports the same
//! text as a compile error:
//!
//! ```
//! let err = kalix_expr::Expr::parse("max(0, lg10(x))")?.compile(&["x"]).unwrap_err();
//! assert_eq!(err.to_string(), "\
//! error: unknown function `lg10`
//!  --> 1:8
//!   |
//! 1 | max(0, lg10(x))
//!   |        ^^^^
//!   |
//!   = help: did you mean `log10`?");
//! # Ok::<(), kalix_expr::Error>(())
//! ```
//!
//! Kalix model files are the [`model`] module: `ModelFile::load(path)?`, `.check()`,
//! `.compile()?`, `.run(&data, range)?`.
//!
//! Features: `macro` (default) is [`kexpr!`]; `library` (default) is the managed function
//! library, `library::Library`: user functions kept in a directory and called as `fn.name(…)`;
//! `model` (default) is the [`model`] module; `parallel` (default) is
//! [`Compiled::eval_batch_par`], batch evaluation on all cores; `serde` serialises an [`Expr`]
//! as its source text.
//!
//! This crate's surface is chosen: the types a host uses, documented with examples. The
//! resolver's entry points and the resolved form's node types live in `kalix-expr-core` for the
//! sibling crates (the macro) and are not part of this API.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Lets `kexpr!`'s `::kalix_expr::…` paths resolve inside this crate too.
extern crate self as kalix_expr;

pub use kalix_expr_core::{
    edit_distance, Calendar, Compiled, Date, DateError, Diagnostic, DivByZero, DomainErrors, Engine, Error, ErrorKind,
    EvalError, Expr, ExprSet, FnDef, FnKind, FnRef, Functions, Host, MissingVariable, Model, ModelError, NativeFn,
    Options, Outputs, ParseOptions, Program, RunError, Span, Table, TableError, JIT_AFTER, SIM_FIELDS,
};

/// The syntax tree of a parsed expression ([`Expr::ast`]), for tools that print or walk it.
pub use kalix_expr_core::ast;
/// Every built-in function and operator, with its arity and one line of documentation.
pub use kalix_expr_core::builtins;
/// Writing a file whole or not at all, without clobbering what is not ours (symlinks,
/// FIFOs, devices).
pub use kalix_expr_core::files;
/// The managed function library: user functions kept in a directory shared by processes.
#[cfg(feature = "library")]
pub use kalix_expr_core::library;
/// "Did you mean" suggestions, the rule every message of the project uses.
pub use kalix_expr_core::suggest;

/// Kalix model files: load, check, compile and run the expressions of a model (the
/// `kalix-expr-model` crate).
///
/// ```
/// use kalix_expr::model::{ModelFile, RunRange};
/// let model = ModelFile::from_text("m.ini", "[var.b]\nk = sim.step * 2\n");
/// assert!(!model.check().has_errors());
/// let range = RunRange { steps: Some(2), ..RunRange::default() };
/// let out = model.compile()?.run(&Default::default(), range)?;
/// assert_eq!(out.column("var.b.k"), Some(&[0.0, 2.0][..]));
/// # Ok::<(), Vec<kalix_expr::model::Diagnostic>>(())
/// ```
#[cfg(feature = "model")]
pub mod model {
    pub use kalix_expr_model::*;
}

/// The closure calls the same built-in functions as [`Compiled::eval`], so both give the same
/// bits:
///
/// ```
/// use kalix_expr::kexpr;
///
/// let f = kexpr!(|loss, rain| "max(0, rain - loss)");
/// assert_eq!(f(2.0, 5.0), 3.0);
/// let g = kexpr!("{ a = x * 2; a + 1 }");
/// assert_eq!(g(4.0), 9.0);
/// let mut h = kexpr!("moving_sum(x, 2, 0)"); // stateful: `FnMut`, one step per call
/// assert_eq!([h(1.0), h(2.0), h(3.0)], [1.0, 3.0, 5.0]);
/// ```
#[cfg(feature = "macro")]
#[doc(inline)]
pub use kalix_expr_macro::kexpr;

/// What the code that `kexpr!` generates calls. Not public API: it changes with the macro.
#[doc(hidden)]
pub mod __private {
    pub use kalix_expr_core::builtins;
    pub use kalix_expr_core::builtins::Stateful;
    pub use kalix_expr_core::SiteState;
    /// A literal argument the optimiser must not rewrite around (`builtins::KEEP_LITERALS_OPAQUE`).
    pub use std::hint::black_box as opaque;

    /// A block's `assert(cond);`: panics with the interpreter's error text when `value` is 0 or
    /// NaN. `head` and `tail` are that text before and after the value, rendered by the macro.
    #[inline(always)]
    #[track_caller]
    pub fn assert(value: f64, head: &'static str, tail: &'static str) {
        if value == 0.0 || value.is_nan() {
            assert_failed(value, head, tail)
        }
    }

    #[cold]
    #[inline(never)]
    #[track_caller]
    fn assert_failed(value: f64, head: &str, tail: &str) -> ! {
        panic!("{head}{value}{tail}")
    }
}
