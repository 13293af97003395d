//! Kalix model files as a library: load, check, compile and run the expressions of a model.
//!
//! A host (the Kalix simulator, an editor, a notebook) writes:
//!
//! ```
//! use kalix_expr_model::{Data, ModelFile, RunRange};
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("creek.ini");
//! # std::fs::write(&path, "[var.b]\nrunoff = max(0, data.rain - 2)\n").unwrap();
//! let model = ModelFile::load(&path)?;
//! let report = model.check();                       // every error and warning at once
//! assert!(!report.has_errors());
//! let program = model.compile()?;                   // checked and compiled once
//! let inputs = Data::from_columns(None, vec![("data.rain".into(), vec![5.0, 1.0])])?;
//! let out = program.run(&inputs, RunRange::default())?;
//! assert_eq!(out.column("var.b.runoff"), Some(&[3.0, 0.0][..]));
//! # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
//! ```
//!
//! [`ModelFile::load`] reads a model file (the INI dialect: sections, continuation lines,
//! `${NAME}` from the environment) into constants, user functions, tables, computed series
//! (`[var.*]` keys and node expression properties) and `[data]` files. [`ModelFile::check`]
//! checks it as a whole, every expression and definition at once, and [`ModelFile::compile`]
//! turns it into a [`CompiledModel`] that runs over [`Data`] read from CSV files or given by
//! the host. Every problem is a [`Diagnostic`]: data (file, line, column, span, severity,
//! message, help), placed in the model file through continuation lines and `${NAME}`
//! substitutions, and rendered rustc-style by [`render_all`]:
//!
//! ```
//! let model = kalix_expr_model::ModelFile::from_text("m.ini", "[var.b]\nx = sim.stpe\n");
//! let report = model.check();
//! let d = &report.diagnostics[0];
//! assert_eq!((d.line(), d.column()), (Some(2), Some(5)));
//! assert_eq!(d.help_text(), Some("did you mean `sim.step`?"));
//! ```
//!
//! The lower-level functions stay available:
//!
//! ```
//! use kalix_expr_model::{analyze, load_text};
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

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod analyze;
pub mod data;
mod diag;
mod explain;
mod format;
mod graph;
pub mod ini;
mod load;
pub(crate) mod names;
mod run;
pub mod schema;

use std::path::Path;

pub use analyze::{analyze, analyze_with, Analysis, FunctionLibrary};
pub use diag::{count, render_all, sort_and_dedup, Diagnostic, JsonDiagnostic, Kind, Location, Severity, SourceFile};
pub use explain::{Explanation, Trace, What, MAX_WINDOW_SHOWN};
pub use format::format_value;
pub use graph::{Edge, Graph, Vertex, VertexKind};
pub use kalix_expr_core::Help;
pub use load::{
    load_path, load_text, parse_date, Constant, DataFile, Function, ModelFile, RasAction, Series, SeriesKind, TableDef,
    MAX_MODEL_BYTES,
};
pub use names::{closest, sanitize_name};
pub use run::{csv_header, csv_row, CompiledModel, Data, Results, RunRange, Summary, MAX_RUN_VALUES};

/// The process environment, for `${NAME}` in model files.
fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

impl ModelFile {
    /// Loads the model file at `path`, with `${NAME}` taken from the process environment.
    /// `Err` only when the file cannot be read at all (it does not exist, or is a folder);
    /// problems with its content are diagnostics, reported by [`ModelFile::check`].
    pub fn load(path: impl AsRef<Path>) -> Result<ModelFile, Vec<Diagnostic>> {
        let path = path.as_ref();
        let name = path.display().to_string();
        load_path(path, &name, &process_env)
            .map_err(|e| vec![Diagnostic::error(Kind::File, None, format!("cannot read `{name}`: {e}"))])
    }

    /// A model from its text (`name` is how messages call it); relative `[data]` paths are
    /// resolved against the current folder and `${NAME}` against the process environment.
    ///
    /// ```
    /// let model = kalix_expr_model::ModelFile::from_text("m.ini", "[const]\nconst.k = 2\n");
    /// assert_eq!(model.constants[0].value, 2.0);
    /// ```
    pub fn from_text(name: &str, text: &str) -> ModelFile {
        load_text(name, text, Path::new("."), &process_env)
    }

    /// Checks everything in the model at once: the diagnostics of loading, every expression and
    /// definition, and the `[data]` files' headers.
    pub fn check(&self) -> Analysis {
        analyze(self)
    }

    /// [`ModelFile::check`], with the functions of a function library callable as well.
    pub fn check_with(&self, library: Option<&FunctionLibrary>) -> Analysis {
        analyze_with(self, library)
    }

    /// Checks the model and, when it has no errors, compiles it for runs; `Err` holds the
    /// errors (the warnings stay on the [`CompiledModel`]).
    pub fn compile(&self) -> Result<CompiledModel<'_>, Vec<Diagnostic>> {
        self.compile_with(None)
    }

    /// [`ModelFile::compile`] with the functions of a function library callable as well.
    pub fn compile_with(&self, library: Option<&FunctionLibrary>) -> Result<CompiledModel<'_>, Vec<Diagnostic>> {
        let (analysis, program) = analyze_with(self, library).into_program()?;
        Ok(CompiledModel::new(self, analysis, program))
    }

    /// [`ModelFile::compile_with`] for a run over `data` ([`Data::read_all`]): the check takes
    /// the `[data]` files' headers from it, so a run reads each data file once, and a file
    /// that could not be read is reported as the check reports it.
    ///
    /// ```
    /// use kalix_expr_model::{Data, ModelFile};
    /// let model = ModelFile::from_text("m.ini", "[data]\nnowhere.csv\n[var.b]\nk = 1\n");
    /// let data = Data::read_all(&model, &[])?;
    /// let compiled = model.compile_with_data(None, &data)?;
    /// assert!(compiled.warnings()[0].message.contains("not found"));
    /// # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
    /// ```
    pub fn compile_with_data(
        &self,
        library: Option<&FunctionLibrary>,
        data: &Data,
    ) -> Result<CompiledModel<'_>, Vec<Diagnostic>> {
        let headers: Vec<_> = (0..self.data.len()).map(|i| data.model_file(i)).collect();
        let (analysis, program) = analyze::analyze_full(self, library, Some(headers)).into_program()?;
        Ok(CompiledModel::new(self, analysis, program))
    }
}
