//! The core of kalix-expr: the parser, resolver and interpreter of the Kalix expression language.
//!
//! You get [`Expr`] (parse once), [`Compiled`] (resolve names to slots once) and
//! [`Compiled::eval`] (evaluate at every timestep, with no allocation and no name lookup):
//!
//! ```
//! use kalix_expr_core::Expr;
//! let expr = Expr::parse("max(0, data.rain - data.loss)")?;
//! let compiled = expr.compile(&["data.rain", "data.loss"])?;
//! assert_eq!(compiled.eval(&[12.5, 2.5])?, 10.0);
//! # Ok::<(), kalix_expr_core::Error>(())
//! ```
//!
//! A host evaluating thousands of expressions at every step keeps them in an [`ExprSet`] and
//! calls [`ExprSet::eval_all`] once a step: their nodes sit in one array, so 10,000 of them
//! cost per evaluation what 8 do.
//!
//! Errors render the way rustc's do, with a suggestion where one helps:
//!
//! ```
//! let err = kalix_expr_core::Expr::parse("max(0, lg10(x))")?.compile(&["x"]).unwrap_err();
//! assert_eq!(err.to_string(), "\
//! error: unknown function `lg10`
//!  --> 1:8
//!   |
//! 1 | max(0, lg10(x))
//!   |        ^^^^
//!   |
//!   = help: did you mean `log10`?");
//! # Ok::<(), kalix_expr_core::Error>(())
//! ```
//!
//! User functions (`fn.name(…)`) and native Rust functions (called by bare name) can live in a
//! managed [`library`]: validated as a whole on every change, kept crash-safely in a
//! directory shared by processes, announced to subscribers, and read through consistent
//! snapshots while it changes.
//!
//! Features: `interp` (default) is the interpreter; without it the crate parses and resolves
//! only, which is all the `kexpr!` macro needs. `library` (default) is the managed function
//! library ([`library::Library`]; natives and [`FnRef`] work without it). `serde` serialises
//! an [`Expr`] as its source text.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The pipeline, bottom up: text → `Ast` → (`host` supplies names) → `sema` → `Ir` → `exec`.
pub mod ast;
pub mod builtins;
mod calendar;
#[cfg(feature = "interp")]
mod compiled;
mod error;
#[cfg(feature = "interp")]
mod exec;
mod expr;
pub mod files;
mod functions;
pub mod host;
pub mod ir;
pub mod library;
mod options;
mod parse;
#[cfg(feature = "interp")]
mod runtime;
pub mod sema;
#[cfg(feature = "interp")]
mod set;
mod span;
pub mod suggest;
pub mod table;
#[cfg(feature = "interp")]
pub use exec::temporal::SiteState;

pub use ast::Ast;
pub use calendar::{sim_field_doc, Calendar, Date, DateError, SIM_FIELDS};
#[cfg(feature = "interp")]
pub use compiled::Compiled;
pub use error::{render_snippet, Diagnostic, Error, ErrorKind, Help, Place, Snippet};
pub use expr::Expr;
pub use host::{FnDef, FnKind, FnRef, Functions, Host, NativeFn, Scope, SlotIndex};
pub use ir::{Ir, IrNode, IrStmt};
pub use options::{DivByZero, DomainErrors, Engine, MissingVariable, Options, JIT_AFTER};
pub use parse::{parse, ParseOptions};
#[cfg(feature = "interp")]
pub use runtime::{Model, ModelError, Outputs, OutsideLookups, Program, Run, RunError};
pub use sema::resolve;
#[cfg(feature = "interp")]
pub use set::ExprSet;
pub use span::Span;
pub use suggest::distance as edit_distance;
pub use table::{Table, TableError};

/// The error of evaluation: the same [`Error`] type as every other phase, with an evaluation
/// [`ErrorKind`] (division by zero, domain error, failed assert, missing variable).
pub type EvalError = Error;
