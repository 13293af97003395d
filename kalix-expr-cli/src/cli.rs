//! The command line: clap definitions and the `NAME=VALUE` argument.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;

use clap::builder::{OsStringValueParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use kalix_expr::ast::{Ast, NodeKind};
use kalix_expr::{Date, Expr};

const EXIT_STATUS: &str = "\
Exit status:
  0  success (`check`: no errors; warnings are allowed)
  1  the expression or model does not parse, check or compile
  2  evaluation or the run failed (a failed assert, missing or bad input data),
     a file cannot be read or written, or the command line is wrong";

/// Parse, check and evaluate kalix-expr expressions.
#[derive(Debug, Parser)]
#[command(name = "kexpr", version, after_help = EXIT_STATUS)]
pub struct Cli {
    /// The function library's directory, whose functions expressions call as `fn.name(…)`
    ///
    /// `fn` uses this, else the directory named by KALIX_FUNCTIONS, else the per-user one.
    /// `parse`, `eval`, `check` and `run` use this (it must exist), else KALIX_FUNCTIONS,
    /// else no library: a model checks and runs the same everywhere unless asked otherwise.
    #[arg(long, global = true, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands: two for single expressions, two for model files, one for the function
/// library.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an expression and print it fully parenthesised
    #[command(long_about = "\
Check an expression and print it fully parenthesised.

Checks the syntax, the functions and their arity, blocks and offsets, with the
rules of model files; variables are not bound, so any name is accepted.
Prints the canonical form, e.g. `-2^2` prints `((-2) ^ 2)`.")]
    Parse(ParseArgs),
    /// Evaluate an expression with variables given as NAME=VALUE
    #[command(long_about = "\
Evaluate an expression with variables given as NAME=VALUE.

Follows model files: names are case-insensitive (`DATA.Evap` reads `data.evap`),
division by zero gives inf or NaN, and domain errors give NaN. Every variable
the expression reads must be given. Prints the shortest text that reads back
to the same number, in plain decimal unless the exponent is 21 or more or -7 or
less (`0.30000000000000004`, `1000`, `-0`, `NaN`, `inf`, `1e300`).")]
    Eval(EvalArgs),
    /// Check every expression and definition of a Kalix model file
    #[command(long_about = "\
Check every expression and definition of a Kalix model file.

Reports every problem at once, each at its file, line and column: syntax,
unknown names (with suggestions), arity, recursive functions, offsets, reads of
series computed later in the step; and warnings for unused constants, tables and
functions, names with a trailing dot, unknown node types and properties, and
missing data files. Names in the `data.` and `node.` namespaces that the model
does not define are inputs (from data files or the hydrological simulation).")]
    Check(CheckArgs),
    /// Run the expressions of a Kalix model file over input data
    #[command(long_about = "\
Run the expressions of a Kalix model file over input data.

Evaluates every `[var.*]` key and node expression property once per step, in
file order, and writes a CSV: a `date` column, then one column per series.
Inputs come from CSV files: those of the model's `[data]` section (as
`data.<file>.by_name.<column>` and `data.<file>.by_index.<n>`) and those given
with --data, whose column headers are the names expressions use (`data.rain`,
`node.up.dsflow`). An optional first column `date` (YYYY-MM-DD) gives the
dates. Cells are numbers; an empty cell is NaN.

The run covers the period every input the model reads has data for, unless
--start and --steps say otherwise; a run that reaches outside an input's rows is
refused (--nan-outside-data reads NaN there instead). With no input files it
starts at --start, or the model's `[kalix] start`, or 2000-01-01, and runs
--steps steps (or to `[kalix] end`). Steps are daily. A column of a --data file
that no expression reads is a warning.")]
    Run(RunArgs),
    /// Explain a series' value at a date: every part of its expression with its value
    #[command(long_about = "\
Explain a series' value at a date: every part of its expression with its value.

Runs the model up to that date (with the inputs and range of `kexpr run`) and
prints the series' expression as a tree: each sub-expression with its value at
that step, each input with where it came from (a data file's column, a constant,
another series, the calendar), the date an offset read, the rows a table lookup
read, a window's contents, and which branch each `if` took. --depth N explains
the series it reads too, N levels down. --format json gives the same as data.")]
    Why(WhyArgs),
    /// Print the dependency graph of a model's expressions (DOT), or draw it as SVG
    #[command(long_about = "\
Print the dependency graph of a model's expressions in Graphviz's DOT language,
or draw it as an SVG file (--svg FILE; no Graphviz needed).

Each series, input, constant, table, user function and calendar field is a
vertex; an edge goes from what is read to the series (or function) reading it.
A read of another step (`x[-1, 0]`) is dashed and labelled with its offset;
feedback loops (series reading each other through offsets) are orange; a read of
a series before it is computed in the step is red (`kexpr check` reports it).
--format json gives the vertices and edges as data.")]
    Graph(GraphArgs),
    /// Serve the Language Server Protocol on stdin and stdout, for editors
    #[command(long_about = "\
Serve the Language Server Protocol on stdin and stdout, for editors.

An editor starts `kexpr lsp` for Kalix model files (`.ini`) and gets, as you
type, exactly the errors and warnings of `kexpr check` (with quick fixes for its
suggestions), hover over every name, completion, signature help, go to
definition, find references, document symbols and rename. The README shows how
to set up VS Code, Neovim and Helix. The function library (--library DIR or
KALIX_FUNCTIONS) is used as by `kexpr check`.")]
    Lsp,
    /// Add, change, remove, list and show the functions of the function library
    #[command(long_about = "\
Add, change, remove, list and show the functions of the function library.

The library is a directory holding `functions.ini`: user functions, called in
expressions as `fn.<name>(…)` (by `parse`, `eval`, `check` and `run`, given
--library DIR or KALIX_FUNCTIONS).
It is --library DIR, else the directory named by KALIX_FUNCTIONS, else the
per-user one (e.g. ~/.local/share/kalix/functions).

Every change is checked against the whole library first and made all or
nothing: a refused change leaves the file exactly as it was, and says why.
Changes from several processes at once are serialised, and none is lost.")]
    Fn(FnArgs),
    /// List the built-in functions (and the library's), with signatures and descriptions
    #[command(long_about = "\
List the built-in functions, with their signatures and one line each, from the
same table the engine evaluates with; and the function library's, when there is
one (--library DIR or KALIX_FUNCTIONS). With NAME, that function alone, or the
closest names when it is unknown.")]
    Functions(FunctionsArgs),
}

/// Arguments of `kexpr fn`.
#[derive(Debug, Args)]
pub struct FnArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: FnCommand,
}

/// The subcommands of `kexpr fn`.
#[derive(Debug, Subcommand)]
pub enum FnCommand {
    /// Add a function: 'name(a, b) = body'
    #[command(long_about = "\
Add a function: 'name(a, b) = body'.

The definition is one argument (quote it), or `-` to read it from stdin, where
it may span lines: comment lines above it (`# description: …`, `# tags: a, b`)
give its description and tags, and indented lines continue the body.
--description and --tag take precedence over those comment lines.")]
    Add(DefineArgs),
    /// Replace a function's definition, keeping its description and tags unless given
    Update(UpdateArgs),
    /// Remove a function
    Rm(RemoveArgs),
    /// Rename a function, keeping its definition
    Rename(RenameArgs),
    /// List the functions: name, arity, kind, purity, tags and description
    List(ListArgs),
    /// Show a function's entry as written, its content hash and the functions calling it
    Show(ShowArgs),
}

/// A definition and its description and tags: the arguments of `kexpr fn add`.
#[derive(Debug, Args)]
pub struct DefineArgs {
    /// The definition, `name(a, b) = body`, or `-` to read it from stdin
    #[arg(value_name = "DEFINITION")]
    pub definition: String,
    /// What the function computes, in a sentence (an empty text removes it)
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// A label to find it by; may be given more than once
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

/// Arguments of `kexpr fn update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The definition and its description and tags.
    #[command(flatten)]
    pub define: DefineArgs,
    /// Remove its tags
    #[arg(long, conflicts_with = "tags")]
    pub no_tags: bool,
    /// Change the number of parameters even though other functions call it: they stay in the
    /// library, invalid until fixed
    #[arg(long)]
    pub force: bool,
}

/// What to do with the functions calling one that is removed or renamed.
#[derive(Debug, Args)]
pub struct DependentsArgs {
    /// Carry the change through to the functions calling it: remove them too (`rm`), or
    /// rewrite their calls to the new name (`rename`)
    #[arg(long, conflicts_with = "force")]
    pub cascade: bool,
    /// Go ahead and leave the functions calling it as they are: they stay in the library,
    /// invalid until fixed
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `kexpr fn rm`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The function (`name` or `fn.name`)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// What to do with the functions calling it.
    #[command(flatten)]
    pub dependents: DependentsArgs,
}

/// Arguments of `kexpr fn rename`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The function's name (`name` or `fn.name`)
    #[arg(value_name = "OLD")]
    pub from: String,
    /// Its new name
    #[arg(value_name = "NEW")]
    pub to: String,
    /// What to do with the functions calling it.
    #[command(flatten)]
    pub dependents: DependentsArgs,
}

/// How `kexpr fn list` prints the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table with a header line
    Human,
    /// A JSON array of {name, call, arity, kind, valid, pure, tags, description}
    Json,
}

/// Arguments of `kexpr fn list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the functions with this tag; may be given more than once (then: with every one)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

/// Arguments of `kexpr fn show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The function (`name` or `fn.name`)
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// How `kexpr check` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// rustc-style text: the line, a caret under the problem, a help line
    Human,
    /// A JSON array of {file, line, column, end_line, end_column, severity, message, help}
    Json,
}

/// Arguments of `kexpr check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The model file (`.ini`), or `-` to read it from stdin (an editor's unsaved buffer)
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// With `-`: the file the text stands for, which names it in messages and is where its
    /// relative `[data]` paths are found
    #[arg(long, value_name = "FILE")]
    pub path: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// The most memory, in MB, the state of the model's windows may take (default 256 MiB)
    #[arg(long, value_name = "MB")]
    pub state_budget: Option<u64>,
}

/// Arguments of `kexpr run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The model file (`.ini`)
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// The inputs and the range of the run.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// The most memory, in MB, the state of the model's windows may take (default 256 MiB)
    #[arg(long, value_name = "MB")]
    pub state_budget: Option<u64>,
    /// Write the results to this file instead of stdout (written whole or not at all)
    #[arg(long, short, value_name = "OUT.csv")]
    pub output: Option<PathBuf>,
    /// No progress bar and no note about warnings
    #[arg(long, short)]
    pub quiet: bool,
    /// After the run, print to stderr the time each series took (total, per step, share of
    /// the run), slowest first, and the time spent loading, checking and reading data
    #[arg(long)]
    pub profile: bool,
    /// Draw a line chart of the series over the run's dates into this SVG file
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// The series --plot draws, comma-separated (default: the first six)
    #[arg(long, value_name = "A,B,…", value_delimiter = ',', requires = "plot")]
    pub series: Vec<String>,
    /// The engine: native code from the JIT (Cranelift), after 1,000 steps, for the series
    /// it compiles (all but impure natives, and windows or calendar calls inside a block or
    /// beside a lookup that can fail), the interpreter for the rest; or the interpreter for
    /// all (the same results, bit for bit). `--profile` times each series alone, so it runs
    /// them all in the interpreter
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    pub engine: EngineArg,
}

/// Arguments of `kexpr why`.
#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The model file (`.ini`)
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// The series to explain (`var.dam.release`, `node.dam.demand`)
    #[arg(value_name = "SERIES")]
    pub series: String,
    /// The date to explain
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub at: Date,
    /// Explain the series it reads too, this many levels down
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub depth: usize,
    /// The inputs and range, as for `kexpr run`.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Arguments of `kexpr graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The model file (`.ini`)
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// Draw the graph into this SVG file instead of printing DOT
    #[arg(long, value_name = "FILE.svg")]
    pub svg: Option<PathBuf>,
    /// Output format of what is printed: `human` (DOT) or `json` (vertices and edges)
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// The inputs and range of a run (`kexpr run`, `kexpr why`).
#[derive(Debug, Args)]
pub struct InputArgs {
    /// A CSV file of input series, one column per series, headed by its name; may be given
    /// more than once
    #[arg(long, value_name = "FILE.csv")]
    pub data: Vec<PathBuf>,
    /// The date of the first step (default: the first date on which every input the model reads
    /// has data, else the model's `[kalix] start`, else 2000-01-01)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub start: Option<Date>,
    /// How many steps to run (default: to the last date on which every input has data, else to
    /// `[kalix] end`)
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// Read an input as NaN at steps outside its data, instead of refusing a run that starts
    /// before or ends after an input's rows
    #[arg(long)]
    pub nan_outside_data: bool,
}

/// Arguments of `kexpr functions`.
#[derive(Debug, Args)]
pub struct FunctionsArgs {
    /// One function to show (`max`, `moving_mean`, `fn.half`)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Output format: `human` (a table) or `json` (an array of {name, signature, kind, description})
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Arguments of `kexpr parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The expression, or `-` to read it from stdin. Text starting with `-` may
    /// be given as is or after `--`
    #[arg(value_name = "EXPR", allow_hyphen_values = true, value_parser = OsStringValueParser::new())]
    pub expr: OsString,
    /// Output format: `json` prints `{"parsed": …}`, or `{"diagnostics": […]}` (each with a
    /// stable `code`) on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Arguments of `kexpr eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The expression, or `-` to read it from stdin. Text starting with `-` may
    /// be given as is or after `--`
    #[arg(value_name = "EXPR", allow_hyphen_values = true, value_parser = OsStringValueParser::new())]
    pub expr: OsString,
    /// A variable's value: a number in Rust syntax (`2.5`, `1e-3`), or `nan`,
    /// `inf`, `-inf`. Giving the same name twice (in any case) is an error
    #[arg(value_name = "NAME=VALUE", value_parser = OsStringValueParser::new().try_map(|s| Binding::parse(&s)))]
    pub vars: Vec<Binding>,
    /// Output format: `json` prints `{"value": …}` (NaN and infinities as strings), or
    /// `{"diagnostics": […]}` (each with a stable `code`) on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// The engine: native code from the JIT (Cranelift) for a pure expression, or the
    /// interpreter (the same value, bit for bit)
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    pub engine: EngineArg,
    /// Evaluate offsets and windows as at a run's first step (`x[-1, d]` is `d`, a window its
    /// first value) instead of refusing them: one evaluation has no earlier steps
    #[arg(long)]
    pub single_step: bool,
}

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// The interpreter
    Interp,
    /// Native code from the Cranelift JIT, where it compiles the expression
    Jit,
}

impl From<EngineArg> for kalix_expr::Engine {
    fn from(e: EngineArg) -> kalix_expr::Engine {
        match e {
            EngineArg::Interp => kalix_expr::Engine::Interpreter,
            EngineArg::Jit => kalix_expr::Engine::Jit,
        }
    }
}

/// A `NAME=VALUE` argument of `kexpr eval`.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The variable's name as written.
    pub name: String,
    /// Its value.
    pub value: f64,
}

/// Why a `NAME=VALUE` argument is wrong. Clap adds the argument's name and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingError(String);

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BindingError {}

impl Binding {
    /// Parses `NAME=VALUE`, split at the first `=`. `NAME` must be a single variable name of the
    /// language (`rain`, `data.climate_csv.by_index.1`); `VALUE` is anything
    /// [`str::parse::<f64>`] reads, which includes `nan`, `inf`, `-inf` and `+inf` in any case.
    ///
    /// ```
    /// use kalix_expr_cli::Binding;
    /// let b = Binding::parse("data.evap=-inf".as_ref()).unwrap();
    /// assert_eq!((b.name.as_str(), b.value), ("data.evap", f64::NEG_INFINITY));
    /// assert!(Binding::parse("2x=1".as_ref()).is_err());
    /// ```
    pub fn parse(arg: &OsStr) -> Result<Binding, BindingError> {
        let fail = |why: String| Err(BindingError(why));
        let Some(arg) = arg.to_str() else { return fail("not valid UTF-8".into()) };
        let Some((name, value)) = arg.split_once('=') else {
            return fail("expected NAME=VALUE, found no `=`".into());
        };
        if !is_variable_name(name) {
            return fail(format!("`{name}` is not a variable name"));
        }
        let Ok(value) = value.parse::<f64>() else {
            return fail(format!("`{value}` is not a number (write e.g. `2.5`, `1e-3`, `nan`, `inf` or `-inf`)"));
        };
        Ok(Binding { name: name.to_string(), value })
    }
}

/// Whether `name` is exactly one variable name, as the language spells names (so it can be read
/// by an expression at all). A trailing dot is refused: the language drops it when reading.
fn is_variable_name(name: &str) -> bool {
    match Expr::parse(name) {
        Ok(expr) => match expr.ast() {
            Ast::Expr(node) => matches!(&node.kind, NodeKind::Var(v) if v.text == name && !v.trailing_dot),
            Ast::Block(_) => false,
        },
        Err(_) => false,
    }
}

/// The first binding whose name repeats an earlier one case-insensitively, with that earlier one.
pub(crate) fn find_duplicate(vars: &[Binding]) -> Option<(&Binding, &Binding)> {
    let mut seen = std::collections::HashMap::new();
    for b in vars {
        if let Some(first) = seen.insert(b.name.to_lowercase(), b) {
            return Some((first, b));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(arg: &str) -> Result<(String, f64), String> {
        Binding::parse(arg.as_ref()).map(|b| (b.name, b.value)).map_err(|e| e.to_string())
    }

    #[test]
    fn binding_values_read_rust_floats_and_special_values() {
        assert_eq!(binding("x=2.5"), Ok(("x".into(), 2.5)));
        assert_eq!(binding("x=1e-3"), Ok(("x".into(), 1e-3)));
        assert_eq!(binding("x=-inf"), Ok(("x".into(), f64::NEG_INFINITY)));
        assert_eq!(binding("x=+INF"), Ok(("x".into(), f64::INFINITY)));
        assert_eq!(binding("x=Inf"), Ok(("x".into(), f64::INFINITY)));
        assert!(binding("x=NaN").unwrap().1.is_nan());
        assert!(binding("x=-0").unwrap().1.is_sign_negative());
    }

    #[test]
    fn binding_splits_at_the_first_equals() {
        assert_eq!(
            binding("x==1"),
            Err("`=1` is not a number (write e.g. `2.5`, `1e-3`, `nan`, `inf` or `-inf`)".into())
        );
    }

    #[test]
    fn binding_rejects_what_no_expression_could_read() {
        assert_eq!(binding("x"), Err("expected NAME=VALUE, found no `=`".into()));
        assert_eq!(binding("=1"), Err("`` is not a variable name".into()));
        assert_eq!(binding("2x=1"), Err("`2x` is not a variable name".into()));
        assert_eq!(binding("a..b=1"), Err("`a..b` is not a variable name".into()));
        assert_eq!(binding("data.evap.=1"), Err("`data.evap.` is not a variable name".into()));
        assert_eq!(binding(" x=1"), Err("` x` is not a variable name".into()));
        assert_eq!(
            binding("x=1 "),
            Err("`1 ` is not a number (write e.g. `2.5`, `1e-3`, `nan`, `inf` or `-inf`)".into())
        );
        assert_eq!(binding("x="), Err("`` is not a number (write e.g. `2.5`, `1e-3`, `nan`, `inf` or `-inf`)".into()));
    }

    #[test]
    fn binding_accepts_model_file_names() {
        assert_eq!(binding("data.climate_csv.by_index.1=4"), Ok(("data.climate_csv.by_index.1".into(), 4.0)));
        assert_eq!(binding("node.0001_gauge.dsflow=1"), Ok(("node.0001_gauge.dsflow".into(), 1.0)));
    }

    #[test]
    fn duplicates_are_found_case_insensitively() {
        let vars: Vec<Binding> = ["a=1", "b=2", "A=3"].iter().map(|s| Binding::parse(s.as_ref()).unwrap()).collect();
        let (first, again) = find_duplicate(&vars).unwrap();
        assert_eq!((first.name.as_str(), again.name.as_str()), ("a", "A"));
        assert_eq!(find_duplicate(&vars[..2]), None);
    }

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
