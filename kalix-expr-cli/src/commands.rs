//! `kexpr check` and `kexpr run`: model files from the command line. Everything about models is
//! the model library's (`kalix_expr::model`); this file turns arguments into its calls and its
//! answers into output.

use std::io::{self, Read, Write};
use std::path::Path;

use kalix_expr::library::Snapshot;
use kalix_expr::model::{
    count, csv_header, csv_row, render_all, Analysis, Data, Diagnostic, FunctionLibrary, Kind, ModelFile,
};

use crate::cli::{CheckArgs, Format, RunArgs};
use crate::Exit;

/// Loads the model, or says why the file cannot be read; `state_budget` in MB.
pub(crate) fn load(path: &Path, state_budget: Option<u64>, stderr: &mut dyn Write) -> Option<ModelFile> {
    match ModelFile::load(path) {
        Ok(mut m) => {
            if let Some(mb) = state_budget {
                m.state_budget = usize::try_from(mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
            }
            Some(m)
        }
        Err(diags) => {
            let _ = write!(stderr, "{}", render_all(&diags));
            None
        }
    }
}

/// Checks the model, with the library's functions if there is one.
fn analyze(m: &ModelFile, library: Option<&Snapshot>) -> Analysis {
    let library = library.map(FunctionLibrary::from_snapshot);
    m.check_with(library.as_ref())
}

/// The model text from stdin, named by `--path` (whose folder holds its relative `[data]`
/// files), for `kexpr check -`.
fn load_stdin(args: &CheckArgs, stdin: &mut dyn io::Read, stderr: &mut dyn Write) -> Option<ModelFile> {
    let mut bytes = Vec::new();
    if let Err(e) = (&mut *stdin).take(kalix_expr::model::MAX_MODEL_BYTES + 1).read_to_end(&mut bytes) {
        let _ = writeln!(stderr, "error: cannot read stdin: {e}");
        return None;
    }
    if bytes.len() as u64 > kalix_expr::model::MAX_MODEL_BYTES {
        let _ = writeln!(stderr, "error: the model on stdin is larger than the limit of 16 MiB");
        return None;
    }
    let name = args.path.as_ref().map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string());
    let dir = args.path.as_deref().and_then(Path::parent).unwrap_or(Path::new("."));
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let text = String::from_utf8_lossy(&bytes);
    let mut m = kalix_expr::model::load_text(&name, &text, dir, &env);
    if let Some(mb) = args.state_budget {
        m.state_budget = usize::try_from(mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    }
    Some(m)
}

/// `kexpr check`: every diagnostic, then a summary line; exit 1 if any is an error.
pub fn check(
    args: &CheckArgs,
    library: Option<&Snapshot>,
    stdin: &mut dyn io::Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Exit {
    let loaded = if args.model.as_os_str() == "-" {
        load_stdin(args, stdin, stderr)
    } else {
        load(&args.model, args.state_budget, stderr)
    };
    let Some(m) = loaded else { return Exit::Failed };
    let a = analyze(&m, library);
    let (errors, warnings) = a.counts();
    let written = match args.format {
        Format::Human => writeln!(
            stdout,
            "{}{}: {}, {} ({} checked{})",
            render_all(&a.diagnostics),
            m.file.name(),
            count(errors, "error"),
            count(warnings, "warning"),
            count(a.expressions, "expression"),
            state_note(a.state_bytes()),
        ),
        Format::Json => {
            let items: Vec<_> = a.diagnostics.iter().map(Diagnostic::to_json).collect();
            let text = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into());
            writeln!(stdout, "{text}")
        }
    };
    if let Err(e) = written.and_then(|()| stdout.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            let _ = writeln!(stderr, "error: cannot write the report: {e}");
            return Exit::Failed;
        }
    }
    if errors > 0 {
        Exit::Invalid
    } else {
        Exit::Ok
    }
}

/// What the state of a model's windows will take, when it is worth saying (1 MB or more).
fn state_note(bytes: Option<usize>) -> String {
    match bytes {
        Some(b) if b >= 1_000_000 => format!("; a run keeps {:.0} MB of window state", b as f64 / 1e6),
        _ => String::new(),
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

fn failed(diags: Vec<Diagnostic>) -> Failure {
    (Exit::Failed, diags)
}

/// `kexpr run`: check, read the inputs, run, write the CSV.
pub fn run(
    args: &RunArgs,
    library: Option<&Snapshot>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: Terminal,
) -> Exit {
    let loading = std::time::Instant::now();
    let Some(m) = load(&args.model, args.state_budget, stderr) else { return Exit::Failed };
    let loaded = loading.elapsed().as_secs_f64();
    match run_model(&m, library, args, stdout, stderr, terminal, loaded) {
        Ok(()) => Exit::Ok,
        Err((exit, diags)) => {
            // The list ends with its count, as `kexpr check`'s does.
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let _ = writeln!(stderr, "{}{}: {}", render_all(&diags), m.file.name(), count(errors, "error"));
            exit
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_model(
    m: &ModelFile,
    library: Option<&Snapshot>,
    args: &RunArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: Terminal,
    loaded: f64,
) -> Result<(), Failure> {
    let library = library.map(FunctionLibrary::from_snapshot);
    // The data first, each file read once: the check takes the `[data]` headers from it.
    let reading = std::time::Instant::now();
    let data = Data::read_all(m, &args.inputs.data).map_err(failed)?;
    let read = reading.elapsed().as_secs_f64();
    let compiling = std::time::Instant::now();
    let mut compiled = m.compile_with_data(library.as_ref(), &data).map_err(|errors| {
        // Errors only in the data files' content are bad input data (exit 2), not a bad model.
        let exit = if errors.iter().all(|d| d.kind == Kind::Data) { Exit::Failed } else { Exit::Invalid };
        (exit, errors)
    })?;
    compiled.set_engine(args.engine.into());
    let compiled_in = compiling.elapsed().as_secs_f64();
    let names: Vec<&str> = compiled.series_names().collect();
    let mut chart = match &args.plot {
        Some(_) => Some(crate::plot::Chart::choose(&names, &args.series).map_err(failed)?),
        None => None,
    };
    // One per series, and one for the clock's own cost.
    let mut nanos = vec![0u64; if args.profile { names.len() + 1 } else { 0 }];
    if let Some(summary) = compiled.warning_summary().filter(|_| !args.quiet) {
        let _ = writeln!(stderr, "note: {summary}: see them with `kexpr check {}`", m.file.name());
    }
    let range = args.inputs.range();
    let mut bar = None;
    let show = terminal.progress && !args.quiet;
    let mut progress = |done: usize, steps: usize| {
        if done == 0 && show && steps > kalix_expr::Program::PROGRESS_EVERY {
            let b =
                indicatif::ProgressBar::with_draw_target(Some(steps as u64), indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps, {eta} left") {
                b.set_style(style);
            }
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(done as u64);
        }
    };
    // Rows are written as they are computed: memory stays flat however long the run.
    let pipe_closed = std::cell::Cell::new(false);
    let closed = |e: &io::Error| pipe_closed.set(pipe_closed.get() || e.kind() == io::ErrorKind::BrokenPipe);
    let mut stream = |out: &mut dyn Write| {
        let mut out = io::BufWriter::new(out);
        // The header goes with the first row, so a run refused before it starts writes nothing.
        let mut started = false;
        let mut each = |date, row: &[f64]| {
            if !started {
                started = true;
                csv_header(&mut out, names.iter().copied()).inspect_err(closed)?;
            }
            if let Some(chart) = chart.as_mut() {
                chart.push(date, row);
            }
            csv_row(&mut out, date, row).inspect_err(closed)
        };
        let summary = if args.profile {
            compiled.run_each_profiled(&data, range, &mut progress, &mut each, &mut nanos)?
        } else {
            compiled.run_each(&data, range, &mut progress, &mut each)?
        };
        out.flush()
            .inspect_err(closed)
            .map_err(|e| vec![Diagnostic::error(Kind::Output, None, format!("cannot write the results: {e}"))])?;
        Ok(summary)
    };
    let (summary, place) = match args.output.as_deref() {
        None => match stream(stdout) {
            Ok(summary) => (summary, "stdout".to_string()),
            // A reader that closed the pipe has what it wanted.
            Err(_) if pipe_closed.get() => return Ok(()),
            Err(d) => return Err(failed(d)),
        },
        Some(path) => {
            let mut outcome = None;
            let written = kalix_expr::files::replace_file(path, &mut |f| match stream(f) {
                Ok(summary) => {
                    outcome = Some(Ok(summary));
                    Ok(())
                }
                Err(d) => {
                    outcome = Some(Err(d));
                    Err(io::Error::other("the run failed"))
                }
            });
            match (outcome, written) {
                (Some(Err(d)), _) => return Err(failed(d)),
                (_, Err(e)) => {
                    return Err(failed(vec![Diagnostic::error(
                        Kind::Output,
                        None,
                        format!("cannot write `{}`: {e}", path.display()),
                    )]))
                }
                (Some(Ok(summary)), Ok(())) => (summary, format!("`{}`", path.display())),
                (None, Ok(())) => return Ok(()),
            }
        }
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if !args.quiet {
        let _ = write!(stderr, "{}", render_all(&summary.warnings));
    }
    if let (Some(chart), Some(path)) = (&chart, &args.plot) {
        let title = m.file.name().to_string();
        let written = chart
            .draw(&title)
            .and_then(|svg| kalix_expr::files::replace_file(path, &mut |f| f.write_all(svg.as_bytes())));
        if let Err(e) = written {
            let message = format!("cannot write the plot `{}`: {e}", path.display());
            return Err(failed(vec![Diagnostic::error(Kind::Output, None, message)]));
        }
    }
    if args.profile {
        let phases = crate::profile::Phases { load: loaded, read, compile: compiled_in, run: summary.seconds };
        let _ = write!(stderr, "{}", crate::profile::table(&names, &nanos, summary.steps, &phases));
    }
    // On a terminal, a line ends the run; piped, the command stays quiet.
    if show {
        // The JIT compiles a run's series once it is past its warm-up.
        let native = match compiled.program().native_series() {
            0 => String::new(),
            n => format!(" ({n} as native code)"),
        };
        let _ = writeln!(
            stderr,
            "ran {} of {} series{native} from {} in {:.2} s; results on {place}",
            count(summary.steps, "step"),
            summary.series,
            summary.start,
            summary.seconds
        );
    }
    Ok(())
}
