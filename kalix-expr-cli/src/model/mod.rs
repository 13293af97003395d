//! Kalix model files: the loader behind `kexpr check` and `kexpr run`.
//!
//! [`load_path`] reads a model file (the INI dialect of LANGUAGE.md §11) into a [`ModelFile`]:
//! constants, user functions, tables, computed series (`[var.*]` keys and node expression
//! properties) and data files. [`analyze`] checks it as a whole — every expression and
//! definition at once — and [`compile`] turns it into a core [`Program`](kalix_expr::Program).
//! Every problem is a [`Diagnostic`] placed in the model file (file, line and column), mapped
//! back through continuation lines and `${NAME}` substitutions.
//!
//! ```
//! use kalix_expr_cli::model::{analyze, load_text};
//! let text = "[const]\nconst.k = 2\n[var.b]\nx = const.k * sim.step\ny = fn.dbl(var.b.x)\n[fn]\ndbl(v) = v * 2\n";
//! let m = load_text("m.ini", text, ".".as_ref(), &|_| None);
//! let a = analyze(&m);
//! assert!(!a.has_errors(), "{:?}", a.diagnostics);
//! ```
//!
//! Which names are inputs: a name read by an expression that nothing in the model defines, in
//! the `data.` and `node.` namespaces (and any other dotted namespace but `const.`, `var.`,
//! `sim.`, `fn.` and `table.`), comes from the data files or the hydrological simulation
//! (`node.x.dsflow`, `this.usflow`). An unknown `var.*`, `const.*` or `sim.*` name, or an
//! undotted one, is an error with a suggestion.

mod analyze;
pub mod data;
mod diag;
pub mod ini;
mod load;
pub(crate) mod names;
pub mod schema;

pub use analyze::{analyze, analyze_with, compile, Analysis, FunctionLibrary};
pub use diag::{count, render_all, sort_and_dedup, Diagnostic, JsonDiagnostic, Location, Severity, SourceFile};
pub use load::{
    load_path, load_text, parse_date, Constant, DataFile, Function, ModelFile, Series, SeriesKind, TableDef,
    MAX_MODEL_BYTES,
};
pub use names::sanitize_name;
