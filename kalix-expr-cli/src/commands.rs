//! `kexpr check` and `kexpr run`: model files from the command line.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use kalix_expr::library::Snapshot;
use kalix_expr::{Date, Outputs, Program, RunError};

use crate::cli::{CheckArgs, Format, RunArgs};
use crate::model::data::{self, Csv, DataError, DateColumn};
use crate::model::{self, analyze_with, count, render_all, sanitize_name, Analysis, Diagnostic, ModelFile};
use crate::{format_value, Exit};

/// The most values (steps × series and inputs) a run may hold in memory: about 2 GB. Protects
/// against `--steps 1000000000000` exhausting memory instead of giving an error.
const MAX_RUN_VALUES: usize = 250_000_000;

/// The environment, for `${NAME}` in model files.
fn env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Loads the model, or says why the file cannot be read.
fn load(path: &Path, stderr: &mut dyn Write) -> Option<ModelFile> {
    let name = path.display().to_string();
    match model::load_path(path, &name, &env) {
        Ok(m) => Some(m),
        Err(e) => {
            let _ = writeln!(stderr, "error: cannot read `{name}`: {e}");
            None
        }
    }
}

/// Checks the model, with the library's functions if there is one.
fn analyze(m: &ModelFile, library: Option<&Snapshot>) -> Analysis {
    let library = library.map(crate::library::for_models);
    analyze_with(m, library.as_ref())
}

/// `kexpr check`: every diagnostic, then a summary line; exit 1 if any is an error.
pub fn check(args: &CheckArgs, library: Option<&Snapshot>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Exit {
    let Some(m) = load(&args.model, stderr) else { return Exit::Failed };
    let a = analyze(&m, library);
    let (errors, warnings) = a.counts();
    let written = match args.format {
        Format::Human => writeln!(
            stdout,
            "{}{}: {}, {} ({} checked)",
            render_all(&a.diagnostics),
            m.file.name(),
            count(errors, "error"),
            count(warnings, "warning"),
            count(a.expressions, "expression"),
        ),
        Format::Json => {
            let items: Vec<_> = a.diagnostics.iter().map(Diagnostic::to_json).collect();
            let text = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into());
            writeln!(stdout, "{text}")
        }
    };
    if let Err(e) = written {
        if e.kind() != io::ErrorKind::BrokenPipe {
            let _ = writeln!(stderr, "error: cannot write the report: {e}");
        }
    }
    if errors > 0 {
        Exit::Invalid
    } else {
        Exit::Ok
    }
}

/// What `kexpr run` knows about its terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal {
    /// Whether stderr is a terminal, so a progress bar may be drawn there.
    pub progress: bool,
}

/// A failure of `kexpr run`: its exit status and the diagnostics to print.
type Failure = (Exit, Vec<Diagnostic>);

fn fail(exit: Exit, message: impl Into<String>) -> Failure {
    (exit, vec![Diagnostic::error(None, message)])
}

/// `kexpr run`: check, read the inputs, run, write the CSV.
pub fn run(
    args: &RunArgs,
    library: Option<&Snapshot>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: Terminal,
) -> Exit {
    let Some(m) = load(&args.model, stderr) else { return Exit::Failed };
    match run_model(&m, library, args, stdout, stderr, terminal) {
        Ok(()) => Exit::Ok,
        Err((exit, diags)) => {
            let _ = write!(stderr, "{}", render_all(&diags));
            exit
        }
    }
}

fn run_model(
    m: &ModelFile,
    library: Option<&Snapshot>,
    args: &RunArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: Terminal,
) -> Result<(), Failure> {
    let a = analyze(m, library);
    if a.has_errors() {
        let errors: Vec<Diagnostic> = a.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
        return Err((Exit::Invalid, errors));
    }
    let (_, warnings) = a.counts();
    if warnings > 0 && !args.quiet {
        let _ = writeln!(
            stderr,
            "note: the model has {}: see them with `kexpr check {}`",
            count(warnings, "warning"),
            m.file.name()
        );
    }
    let sources = read_sources(m, &args.data)?;
    let (start, steps) = run_range(m, args, &sources)?;
    let width = a.inputs.len() + m.series.len();
    if steps.saturating_mul(width.max(1)) > MAX_RUN_VALUES {
        return Err(fail(
            Exit::Failed,
            format!("a run of {steps} steps over {width} series is too large (more than {MAX_RUN_VALUES} values)"),
        ));
    }
    let columns = input_columns(&a, &sources, start, steps)?;
    let program = model::compile(m, &a, start).map_err(|d| (Exit::Invalid, d))?;
    let inputs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let bar = (terminal.progress && !args.quiet && steps > Program::PROGRESS_EVERY).then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(Some(steps as u64), indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {eta} left") {
            bar.set_style(style);
        }
        bar
    });
    let result = program.run_with(&inputs, steps, &mut |done| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let outputs = result.map_err(|e| (Exit::Failed, vec![run_error(m, &e)]))?;
    write_outputs(&program, &outputs, args.output.as_deref(), stdout)
}

/// A run error placed in the model file, with the step and date.
fn run_error(m: &ModelFile, e: &RunError) -> Diagnostic {
    let series = m.series.iter().find(|s| s.name.eq_ignore_ascii_case(&e.series));
    let d = &e.error.diagnostics()[0];
    let at = series.map(|s| s.value.location(&m.file, d.span().start, d.span().end));
    Diagnostic::error(at, d.kind().to_string())
        .with_help_opt(d.help().map(Into::into))
        .with_note(format!("at step {} ({}), in `{}`", e.step, e.date, e.series))
}

/// One input file, read.
struct Source {
    /// How messages name it.
    name: String,
    csv: Csv,
}

/// Every input file read, and which (file, column) each series name reads.
struct Sources {
    files: Vec<Source>,
    columns: HashMap<String, (usize, usize)>,
}

/// Reads the model's `[data]` files (those that exist: a missing one was a warning of the
/// check) and the `--data` files, whose columns take precedence.
fn read_sources(m: &ModelFile, extra: &[PathBuf]) -> Result<Sources, Failure> {
    let mut s = Sources { files: Vec::new(), columns: HashMap::new() };
    for f in &m.data {
        let csv = match data::read_csv(&f.path, &f.written, DateColumn::First) {
            Ok(csv) => csv,
            Err(DataError::Io(_)) => continue,
            Err(DataError::Content(d)) => return Err((Exit::Failed, vec![*d])),
        };
        let file_name = Path::new(&f.written).file_name().map(|n| sanitize_name(&n.to_string_lossy()));
        let prefixes: Vec<String> = file_name.into_iter().chain(f.alias.as_deref().map(sanitize_name)).collect();
        let i = s.files.len();
        for prefix in prefixes {
            for (c, header) in csv.headers.iter().enumerate() {
                s.columns.insert(format!("data.{prefix}.by_name.{}", sanitize_name(header)), (i, c));
                s.columns.insert(format!("data.{prefix}.by_index.{}", c + 1), (i, c));
            }
        }
        s.files.push(Source { name: f.written.clone(), csv });
    }
    let mut given: HashMap<String, usize> = HashMap::new();
    for path in extra {
        let name = path.display().to_string();
        let csv = match data::read_csv(path, &name, DateColumn::IfNamedDate) {
            Ok(csv) => csv,
            Err(DataError::Io(e)) => return Err(fail(Exit::Failed, format!("cannot read `{name}`: {e}"))),
            Err(DataError::Content(d)) => return Err((Exit::Failed, vec![*d])),
        };
        let i = s.files.len();
        for (c, header) in csv.headers.iter().enumerate() {
            let key = header.to_lowercase();
            if key.is_empty() {
                // A column without a header (a trailing comma) cannot be read by any expression.
                continue;
            }
            if let Some(&j) = given.get(&key) {
                let other = if j == i { "twice" } else { &format!("in `{}` too", s.files[j].name) };
                return Err(fail(Exit::Failed, format!("column `{header}` of `{name}` is given {other}")));
            }
            given.insert(key.clone(), i);
            s.columns.insert(key, (i, c));
        }
        s.files.push(Source { name, csv });
    }
    Ok(s)
}

/// The first date and the number of steps of the run.
fn run_range(m: &ModelFile, args: &RunArgs, sources: &Sources) -> Result<(Date, usize), Failure> {
    let first_input = sources.files.iter().filter_map(|f| f.csv.first_date).min();
    let start = args.start.or(first_input).or(m.start).unwrap_or(Date { year: 2000, month: 1, day: 1 });
    let steps = match args.steps {
        Some(n) => n,
        None if !sources.files.is_empty() => {
            // To the end of the input that ends last.
            let end = sources
                .files
                .iter()
                .map(|f| {
                    let offset = f.csv.first_date.map_or(0, |d| d.to_days() - start.to_days());
                    offset + f.csv.rows as i64
                })
                .max()
                .unwrap_or(0);
            if end <= 0 {
                return Err(fail(Exit::Failed, format!("the input data ends before the start date {start}")));
            }
            end as usize
        }
        None => match m.end {
            Some(end) if end >= start => (end.to_days() - start.to_days() + 1) as usize,
            Some(end) => {
                return Err(fail(Exit::Failed, format!("`[kalix] end` ({end}) is before the start date {start}")))
            }
            None => {
                return Err(fail(
                    Exit::Failed,
                    "nothing says how long to run: give --steps N, input data with --data, or `[kalix] end`",
                ))
            }
        },
    };
    if steps == 0 {
        return Err(fail(Exit::Failed, "the run has no steps"));
    }
    Ok((start, steps))
}

/// The column of every input, aligned to the run: a dated file by its dates, an undated one
/// from the first step; NaN where a file has no row.
fn input_columns(a: &Analysis, sources: &Sources, start: Date, steps: usize) -> Result<Vec<Vec<f64>>, Failure> {
    let mut missing = Vec::new();
    let mut columns = Vec::with_capacity(a.inputs.len());
    for (name, at) in &a.inputs {
        let Some(&(f, c)) = sources.columns.get(name) else {
            missing.push(
                Diagnostic::error(Some(at.clone()), format!("no data for input `{name}`"))
                    .with_help(format!("supply it as a CSV column named `{name}`: --data FILE.csv")),
            );
            continue;
        };
        let csv = &sources.files[f].csv;
        let offset = csv.first_date.map_or(0, |d| start.to_days() - d.to_days());
        let values = &csv.columns[c];
        columns.push(
            (0..steps as i64)
                .map(|t| usize::try_from(t + offset).ok().and_then(|i| values.get(i)).copied().unwrap_or(f64::NAN))
                .collect(),
        );
    }
    if missing.is_empty() {
        Ok(columns)
    } else {
        Err((Exit::Failed, missing))
    }
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn write_csv(out: &mut dyn Write, program: &Program, outputs: &Outputs) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    out.write_all(b"date")?;
    for name in outputs.names() {
        write!(out, ",{}", csv_cell(name))?;
    }
    out.write_all(b"\n")?;
    let columns: Vec<&[f64]> = (0..outputs.names().len()).map(|i| outputs.column_at(i)).collect();
    for t in 0..outputs.steps() {
        write!(out, "{}", program.calendar().date(t))?;
        for column in &columns {
            write!(out, ",{}", format_value(column[t]))?;
        }
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Writes the results to stdout, or to `path` through a temporary file in the same folder that
/// is renamed into place only when complete (and removed on failure).
fn write_outputs(
    program: &Program,
    outputs: &Outputs,
    path: Option<&Path>,
    stdout: &mut dyn Write,
) -> Result<(), Failure> {
    let Some(path) = path else {
        return match write_csv(stdout, program, outputs) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                Err(fail(Exit::Failed, format!("cannot write the results: {e}")))
            }
            _ => Ok(()),
        };
    };
    let shown = path.display();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&temp).and_then(|mut f| {
        write_csv(&mut f, program, outputs)?;
        f.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&temp, path));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        fail(Exit::Failed, format!("cannot write `{shown}`: {e}"))
    })
}
