//! The `kexpr` command: parse and evaluate kalix-expr expressions from the shell, and check and
//! run the expressions of Kalix model files.
//!
//! ```text
//! $ kexpr parse -- "-2^2"
//! ((-2) ^ 2)
//! $ kexpr eval "max(0, rain - loss)" rain=5 loss=2
//! 3
//! $ kexpr check model.ini
//! $ kexpr run model.ini --data inputs.csv --output results.csv
//! $ kexpr fn add 'half(x) = x / 2' --library fns
//! added fn.half
//! library version 1
//! $ kexpr eval "fn.half(3)" --library fns
//! 1.5
//! ```
//!
//! The binary is a thin wrapper around [`run`], which takes the arguments and the three standard
//! streams, so every behaviour of the command can be tested in-process. Results go to stdout,
//! errors (rendered rustc-style, with `line:column`) to stderr, and the [`Exit`] status says
//! which kind of failure it was. The model files behind `check` and `run` are the model library's
//! (`kalix_expr::model`, the `kalix-expr-model` crate). `kexpr fn` manages a function library (kalix-expr's `library` module),
//! whose functions `eval`, `check` and `run` call when given `--library DIR` (or when
//! `KALIX_FUNCTIONS` is set).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Parser;
use kalix_expr::library::Snapshot;
use kalix_expr::{ErrorKind, Expr, Options};

pub mod cli;
mod commands;
mod inspect;
mod library;
mod plot;
mod profile;

pub use cli::{Binding, Cli, Command};
pub use commands::Terminal;
pub use kalix_expr::model::format_value;

/// The exit status of `kexpr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what was asked.
    Ok = 0,
    /// 1: the expression or model does not parse, check or compile (syntax, unknown names,
    /// arity, ...).
    Invalid = 1,
    /// 2: evaluation or a run failed (a failed `assert`, missing or bad input data), a file
    /// cannot be read or written, or the command line itself is wrong.
    Failed = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// Runs `kexpr` with `args` (the program name first, as in [`std::env::args_os`]).
///
/// Reads `stdin` only when the expression (or a `kexpr fn` definition) is given as `-`. Never
/// panics: every problem becomes a message on `stderr` and an [`Exit`] status. A closed pipe on
/// `stdout` is ignored; any other failure to write the output fails the command.
///
/// ```
/// use kalix_expr_cli::{run, Exit};
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// let exit = run(["kexpr", "eval", "rain * 2", "RAIN=1.5"], &mut &b""[..], &mut out, &mut err);
/// assert_eq!((exit, String::from_utf8(out).unwrap()), (Exit::Ok, "3\n".to_string()));
/// ```
pub fn run<I, T>(args: I, stdin: &mut dyn Read, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_in(args, stdin, stdout, stderr, Terminal::default())
}

/// [`run`] in a terminal: `kexpr run` draws a progress bar on the process's stderr when
/// `terminal.progress` says that is a terminal.
pub fn run_in<I, T>(
    args: I,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: Terminal,
) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` arrive here too, as "errors" bound for stdout.
            if e.use_stderr() {
                let _ = write!(stderr, "{}", e.render());
                return Exit::Failed;
            }
            let _ = write!(stdout, "{}", e.render());
            return Exit::Ok;
        }
    };
    let explicit = cli.library.as_deref();
    // A change waiting for another process's lock says so, as cargo does.
    kalix_expr::library::on_lock_wait(|dir| {
        eprintln!("Blocking waiting for the lock on the function library in {}", dir.display());
    });
    if let Command::Fn(args) = &cli.command {
        return library::command(args, explicit, stdin, stdout, stderr);
    }
    let snapshot = match library::for_expressions(explicit, stderr) {
        Ok(snapshot) => snapshot,
        Err((exit, message)) => {
            let _ = writeln!(stderr, "{message}");
            return exit;
        }
    };
    let snapshot = snapshot.as_deref();
    let outcome = match &cli.command {
        Command::Parse(args) if args.format == cli::Format::Json => {
            return json_outcome(parse(&args.expr, snapshot, stdin), "parsed", stdout, stderr)
        }
        Command::Eval(args) if args.format == cli::Format::Json => {
            return json_outcome(eval(args, snapshot, stdin), "value", stdout, stderr)
        }
        Command::Parse(args) => parse(&args.expr, snapshot, stdin).map_err(Failure::into_text),
        Command::Eval(args) => eval(args, snapshot, stdin).map_err(Failure::into_text),
        Command::Check(args) => return commands::check(args, snapshot, stdin, stdout, stderr),
        Command::Run(args) => return commands::run(args, snapshot, stdout, stderr, terminal),
        Command::Why(args) => return inspect::why(args, snapshot, stdout, stderr),
        Command::Graph(args) => return inspect::graph(args, stdout, stderr),
        Command::Lsp => {
            let library = snapshot.map(kalix_expr::model::FunctionLibrary::from_snapshot);
            return match kalix_expr_lsp::run_stdio(library.as_ref()) {
                Ok(()) => Exit::Ok,
                Err(e) => {
                    let _ = writeln!(stderr, "error: the language server stopped: {e}");
                    Exit::Failed
                }
            };
        }
        Command::Functions(args) => functions(args, snapshot),
        Command::Fn(_) => unreachable!("handled above"),
    };
    match outcome {
        Ok(text) => print_result(stdout, stderr, &format!("{text}\n")),
        Err((exit, message)) => {
            let _ = writeln!(stderr, "{message}");
            exit
        }
    }
}

/// One function as `kexpr functions` lists it.
#[derive(serde::Serialize)]
struct Listed {
    name: String,
    signature: String,
    kind: &'static str,
    description: String,
}

/// `kexpr functions [NAME]`: the built-ins from the one table, then the library's functions.
fn functions(args: &cli::FunctionsArgs, library: Option<&Snapshot>) -> Outcome {
    let mut all: Vec<Listed> = kalix_expr::builtins::BUILTINS
        .iter()
        .map(|b| {
            let signature = b.signature();
            // The doc line may start with the call itself; it is shown once.
            let description =
                b.doc.strip_prefix(signature.as_str()).map_or(b.doc, |d| d.trim_start_matches(':').trim());
            Listed {
                name: b.name.to_string(),
                signature,
                kind: if b.pure { "built-in" } else { "built-in, stateful or calendar" },
                description: description.to_string(),
            }
        })
        .collect();
    if let Some(snap) = library {
        all.extend(snap.functions().iter().map(|d| Listed {
            name: format!("fn.{}", d.name()),
            signature: format!("fn.{}({})", d.name(), d.params().join(", ")),
            kind: "user (library)",
            description: d.description().unwrap_or("").to_string(),
        }));
    }
    if let Some(name) = &args.name {
        let wanted = name.to_lowercase();
        match all.iter().position(|l| l.name == wanted) {
            Some(i) => all = vec![all.swap_remove(i)],
            None => {
                let close = kalix_expr::suggest::closest(&wanted, all.iter().map(|l| l.name.as_str()));
                let synonyms = kalix_expr::builtins::SYNONYMS.iter().find(|(s, _)| *s == wanted).map(|(_, to)| *to);
                let options: Vec<&str> = synonyms.map_or(close, <[&str]>::to_vec);
                let help = kalix_expr::suggest::did_you_mean(&options)
                    .map_or_else(|| "`kexpr functions` lists them all".to_string(), |h| h.text().to_string());
                return Err((Exit::Invalid, format!("error: no function `{name}`\nhelp: {help}")));
            }
        }
    }
    Ok(match args.format {
        cli::Format::Json => serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into()),
        cli::Format::Human => {
            let width = all.iter().map(|l| l.signature.chars().count()).max().unwrap_or(0);
            all.iter()
                .map(|l| format!("{:width$}  {}", l.signature, l.description).trim_end().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        }
    })
}

/// Writes a command's result to `stdout`. A reader that closed the pipe is its choice, but any
/// other failure (a full disk, `> /dev/full`) is said on `stderr` and fails the command: a
/// result that was not written is not a success.
pub(crate) fn print_result(stdout: &mut dyn Write, stderr: &mut dyn Write, text: &str) -> Exit {
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            let _ = writeln!(stderr, "error: cannot write the output: {e}");
            Exit::Failed
        }
        _ => Exit::Ok,
    }
}

/// What a command prints on success, or its exit status and message on failure.
type Outcome = Result<String, (Exit, String)>;

/// Why `parse` or `eval` failed: an expression's errors (kept as data for `--format json`),
/// with notes, or a message.
enum Failure {
    Expr(Exit, kalix_expr::Error, Vec<String>),
    Message(Exit, String),
}

impl Failure {
    /// The text `kexpr` prints on stderr.
    fn into_text(self) -> (Exit, String) {
        match self {
            Failure::Expr(exit, e, notes) => {
                let mut text = e.to_string();
                for n in notes {
                    text.push_str("\nnote: ");
                    text.push_str(&n);
                }
                (exit, text)
            }
            Failure::Message(exit, m) => (exit, m),
        }
    }
}

impl From<(Exit, String)> for Failure {
    fn from((exit, m): (Exit, String)) -> Failure {
        Failure::Message(exit, m)
    }
}

/// One diagnostic of an expression as JSON, with the shape of `kexpr check --format json`'s
/// (without `file`; lines and columns 1-based, in `char`s, the end exclusive).
#[derive(serde::Serialize)]
struct ExprDiagnostic {
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    severity: &'static str,
    message: String,
    help: Option<String>,
    code: String,
    replacements: Vec<String>,
}

/// `--format json` for `parse` and `eval`: `{"<key>": result}` or `{"diagnostics": […]}`, on
/// stdout; the exit status is the same as without it.
fn json_outcome(outcome: Result<String, Failure>, key: &str, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Exit {
    let (exit, value) = match outcome {
        Ok(text) => {
            // A value is a number, except the ones JSON has no number for.
            let value = match text.parse::<f64>() {
                Ok(v) if key == "value" && v.is_finite() => serde_json::json!(v),
                _ => serde_json::json!(text),
            };
            (Exit::Ok, serde_json::json!({ key: value }))
        }
        Err(Failure::Expr(exit, e, notes)) => {
            // Lines and columns as model diagnostics count them.
            let source = kalix_expr::model::SourceFile::new("", e.source_text());
            let diagnostics: Vec<ExprDiagnostic> = e
                .diagnostics()
                .iter()
                .map(|d| {
                    let (line, column) = source.line_col(d.span().start);
                    let (end_line, end_column) = source.line_col(d.span().end);
                    let mut help = d.suggestion().map(|h| h.text().to_string());
                    for n in &notes {
                        let h = help.get_or_insert_with(String::new);
                        if !h.is_empty() {
                            h.push_str("; ");
                        }
                        h.push_str(n);
                    }
                    ExprDiagnostic {
                        line,
                        column,
                        end_line,
                        end_column,
                        severity: "error",
                        message: d.kind().to_string(),
                        help,
                        code: d.kind().code(),
                        replacements: d.suggestion().map(|h| h.replacements().to_vec()).unwrap_or_default(),
                    }
                })
                .collect();
            (exit, serde_json::json!({ "diagnostics": diagnostics }))
        }
        Err(Failure::Message(exit, message)) => {
            let message = message.strip_prefix("error: ").unwrap_or(&message).to_string();
            let d = serde_json::json!({"line": 0, "column": 0, "end_line": 0, "end_column": 0, "severity": "error",
                "message": message, "help": null, "code": "usage", "replacements": []});
            (exit, serde_json::json!({ "diagnostics": [d] }))
        }
    };
    let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    match print_result(stdout, stderr, &text) {
        Exit::Ok => exit,
        failed => failed,
    }
}

/// `kexpr parse`: the canonical fully parenthesised form of a checked expression (its `fn.*`
/// calls checked against the library, if there is one).
fn parse(expr: &OsString, library: Option<&Snapshot>, stdin: &mut dyn Read) -> Result<String, Failure> {
    let text = expression_text(expr, stdin)?;
    let opts = Options::model();
    let expr = Expr::parse_with(&text, &opts.parse).map_err(invalid)?;
    // Names are not bound here, and neither is `this`: `this.usflow` (a node's property) and
    // `this[-1, 0]` (a `[var.*]` key's own past) are accepted as they are in a model.
    let host = library.map(Snapshot::host).unwrap_or_default();
    let host = kalix_expr::Host { this_node: Some("this"), this_series: Some("this"), ..host };
    expr.check_with_host(&host, &opts).map_err(|e| no_library(e, library))?;
    Ok(expr.ast().to_string())
}

/// `kexpr eval`: compile against the bound names (model-file rules), and the library's
/// functions if there is one, and evaluate once.
fn eval(args: &cli::EvalArgs, library: Option<&Snapshot>, stdin: &mut dyn Read) -> Result<String, Failure> {
    let (expr, vars) = (&args.expr, &args.vars);
    // Usage errors come before anything is read or parsed.
    if let Some((first, again)) = cli::find_duplicate(vars) {
        let message = if first.name == again.name {
            format!("error: variable `{}` is given twice", again.name)
        } else {
            format!(
                "error: variable `{}` is given twice, as `{}` and `{}` (names are case-insensitive)",
                again.name, first.name, again.name
            )
        };
        return Err(Failure::Message(Exit::Failed, message));
    }
    let text = expression_text(expr, stdin)?;
    let opts = Options { engine: args.engine.into(), single_step: args.single_step, ..Options::model() };
    let expr = Expr::parse_with(&text, &opts.parse).map_err(invalid)?;
    let names: Vec<&str> = vars.iter().map(|b| b.name.as_str()).collect();
    let compiled = match library {
        Some(snap) => snap.compile(&expr, &names, &opts),
        None => expr.compile_with(&names, &opts),
    }
    .map_err(|e| no_library(e, library))?;
    let values: Vec<f64> = vars.iter().map(|b| b.value).collect();
    let value = compiled.eval(&values).map_err(|e| Failure::Expr(Exit::Failed, e, Vec::new()))?;
    Ok(format_value(value))
}

fn invalid(e: kalix_expr::Error) -> Failure {
    Failure::Expr(Exit::Invalid, e, Vec::new())
}

/// [`invalid`], with a note when an unknown `fn.*` function may be the library's: no library
/// was given, or the library's is invalid.
fn no_library(e: kalix_expr::Error, library: Option<&Snapshot>) -> Failure {
    let unknown: Vec<String> = e
        .diagnostics()
        .iter()
        .filter_map(|d| match d.kind() {
            ErrorKind::FunctionUnknown { name } => name.to_lowercase().strip_prefix("fn.").map(str::to_string),
            _ => None,
        })
        .collect();
    let mut notes = Vec::new();
    match library {
        None if !unknown.is_empty() => {
            notes.push("to call the functions of a function library, pass --library DIR".into())
        }
        None => {}
        Some(snap) => {
            for name in unknown.iter().filter(|n| snap.invalid().contains(n)) {
                notes.push(format!("the function library's `fn.{name}` is invalid: see `kexpr fn show {name}`"));
            }
        }
    }
    Failure::Expr(Exit::Invalid, e, notes)
}

/// The expression's text: the argument itself, or all of stdin for `-`. Text that is not UTF-8
/// is an invalid expression, reported at the first bad byte.
fn expression_text(arg: &OsString, stdin: &mut dyn Read) -> Result<String, (Exit, String)> {
    let bytes = if arg == "-" {
        let mut bytes = Vec::new();
        stdin.read_to_end(&mut bytes).map_err(|e| (Exit::Failed, format!("error: cannot read stdin: {e}")))?;
        bytes
    } else {
        arg.as_encoded_bytes().to_vec()
    };
    String::from_utf8(bytes).map_err(|e| {
        let valid = std::str::from_utf8(&e.as_bytes()[..e.utf8_error().valid_up_to()]).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let column = valid.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        (Exit::Invalid, format!("error: the expression is not valid UTF-8\n --> {line}:{column}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs in-process and returns the exit status, stdout and stderr.
    fn kexpr(args: &[&str]) -> (Exit, String, String) {
        kexpr_os(args.iter().map(OsString::from).collect(), b"")
    }

    fn kexpr_os(args: Vec<OsString>, stdin: &[u8]) -> (Exit, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let argv = std::iter::once(OsString::from("kexpr")).chain(args);
        let exit = run(argv, &mut &stdin[..], &mut out, &mut err);
        (exit, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    #[test]
    fn parse_prints_the_canonical_form() {
        assert_eq!(kexpr(&["parse", "1+2*3"]), (Exit::Ok, "(1 + (2 * 3))\n".into(), String::new()));
    }

    #[test]
    fn parse_accepts_a_leading_hyphen_without_double_dash() {
        assert_eq!(kexpr(&["parse", "-2^2"]).1, "((-2) ^ 2)\n");
        assert_eq!(kexpr(&["parse", "-x"]).1, "(-x)\n");
        // After `--`, even a flag's spelling is an expression.
        assert_eq!(kexpr(&["parse", "--", "-h"]).1, "(-h)\n");
        assert_eq!(kexpr(&["eval", "--", "--x", "x=2"]).1, "2\n");
    }

    #[test]
    fn help_still_works_with_hyphen_values() {
        let (exit, out, _) = kexpr(&["parse", "--help"]);
        assert_eq!(exit, Exit::Ok);
        assert!(out.contains("Usage: kexpr parse"), "{out}");
        let (exit, out, _) = kexpr(&["eval", "--help"]);
        assert_eq!(exit, Exit::Ok);
        assert!(out.contains("twice"), "{out}");
    }

    #[test]
    fn parse_reads_stdin_for_a_dash() {
        let (exit, out, _) = kexpr_os(vec!["parse".into(), "-".into()], b"{ a = 1;\n  a + 1 }\n");
        assert_eq!((exit, out.as_str()), (Exit::Ok, "{ a = 1; (a + 1) }\n"));
    }

    #[test]
    fn parse_checks_functions_without_binding_variables() {
        let (exit, out, err) = kexpr(&["parse", "sin(x, y)"]);
        assert_eq!((exit, out.as_str()), (Exit::Invalid, ""));
        assert!(err.contains("`sin` takes 1 argument, found 2"), "{err}");
    }

    #[test]
    fn a_ten_megabyte_argument_is_an_error_not_a_crash() {
        let (exit, _, err) = kexpr_os(vec!["parse".into(), "1+".repeat(5_000_000).into()], b"");
        assert_eq!(exit, Exit::Invalid);
        assert!(err.contains("longer than the limit") && err.contains("--> 1:"), "{err}");
    }

    #[test]
    fn a_nul_byte_is_an_invalid_character() {
        let (exit, _, err) = kexpr(&["parse", "1 +\0 2"]);
        assert_eq!(exit, Exit::Invalid);
        assert!(err.contains("--> 1:4"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn invalid_utf8_is_reported_at_its_line_and_column() {
        use std::os::unix::ffi::OsStringExt;
        let arg = OsString::from_vec(b"1 +\n 2\xff".to_vec());
        let (exit, _, err) = kexpr_os(vec!["parse".into(), arg], b"");
        assert_eq!((exit, err.as_str()), (Exit::Invalid, "error: the expression is not valid UTF-8\n --> 2:3\n"));
    }

    #[cfg(unix)]
    #[test]
    fn invalid_utf8_in_a_binding_is_a_usage_error() {
        use std::os::unix::ffi::OsStringExt;
        let arg = OsString::from_vec(b"x\xff=1".to_vec());
        let (exit, _, err) = kexpr_os(vec!["eval".into(), "x".into(), arg], b"");
        assert_eq!(exit, Exit::Failed);
        assert!(err.contains("NAME=VALUE"), "{err}");
    }

    #[test]
    fn eval_matches_names_case_insensitively() {
        assert_eq!(kexpr(&["eval", "DATA.Evap * 2", "data.evap=3"]).1, "6\n");
    }

    #[test]
    fn eval_rejects_a_name_given_twice() {
        let (exit, _, err) = kexpr(&["eval", "x", "x=1", "X=2"]);
        assert_eq!(exit, Exit::Failed);
        assert_eq!(err, "error: variable `X` is given twice, as `x` and `X` (names are case-insensitive)\n");
        let (exit, _, err) = kexpr(&["eval", "x", "x=1", "x=1"]);
        assert_eq!((exit, err.as_str()), (Exit::Failed, "error: variable `x` is given twice\n"));
    }

    #[test]
    fn a_binding_without_equals_names_the_argument() {
        let (exit, _, err) = kexpr(&["eval", "x", "x"]);
        assert_eq!(exit, Exit::Failed);
        assert!(err.contains("'[NAME=VALUE]...'") && err.contains("`=`"), "{err}");
    }

    #[test]
    fn a_failed_assert_is_an_evaluation_error() {
        let (exit, out, err) = kexpr(&["eval", "{ assert(x > 0); x }", "x=-1"]);
        assert_eq!((exit, out.as_str()), (Exit::Failed, ""));
        assert!(err.starts_with("error: assertion failed"), "{err}");
    }

    #[test]
    fn a_missing_subcommand_is_a_usage_error() {
        assert_eq!(kexpr(&[]).0, Exit::Failed);
        assert_eq!(kexpr(&["frobnicate"]).0, Exit::Failed);
    }
}
