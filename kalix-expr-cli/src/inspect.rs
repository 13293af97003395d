//! `kexpr why` and `kexpr graph`: looking into a model. The model library computes; this file
//! turns arguments into its calls and its answers into output.

use std::io::Write;

use kalix_expr::library::Snapshot;
use kalix_expr::model::{count, render_all, Data, Diagnostic, FunctionLibrary, Graph, Kind, ModelFile, RunRange};

use crate::cli::{Format, GraphArgs, InputArgs, WhyArgs};
use crate::commands::load;
use crate::Exit;

impl InputArgs {
    /// The range these arguments ask for.
    pub(crate) fn range(&self) -> RunRange {
        RunRange { start: self.start, steps: self.steps, nan_outside_data: self.nan_outside_data }
    }
}

/// Prints `diags` and the count of errors, and gives `exit`.
fn report(m: &ModelFile, diags: &[Diagnostic], stderr: &mut dyn Write, exit: Exit) -> Exit {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let _ = writeln!(stderr, "{}{}: {}", render_all(diags), m.file.name(), count(errors, "error"));
    exit
}

/// `kexpr why`: the value of a series at a date, part by part.
pub fn why(args: &WhyArgs, library: Option<&Snapshot>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Exit {
    let Some(m) = load(&args.model, None, stderr) else { return Exit::Failed };
    let library = library.map(FunctionLibrary::from_snapshot);
    let data = match Data::read_all(&m, &args.inputs.data) {
        Ok(data) => data,
        Err(d) => return report(&m, &d, stderr, Exit::Failed),
    };
    let compiled = match m.compile_with_data(library.as_ref(), &data) {
        Ok(c) => c,
        Err(errors) => {
            let exit = if errors.iter().all(|d| d.kind == Kind::Data) { Exit::Failed } else { Exit::Invalid };
            return report(&m, &errors, stderr, exit);
        }
    };
    let explanation = match compiled.explain(&data, args.inputs.range(), &args.series, args.at, args.depth) {
        Ok(e) => e,
        Err(d) => return report(&m, &d, stderr, Exit::Failed),
    };
    let text = match args.format {
        Format::Human => explanation.to_string(),
        Format::Json => match serde_json::to_string_pretty(&explanation) {
            Ok(json) => json + "\n",
            Err(e) => {
                let _ = writeln!(stderr, "error: cannot write the explanation: {e}");
                return Exit::Failed;
            }
        },
    };
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            let _ = writeln!(stderr, "error: cannot write the explanation: {e}");
            Exit::Failed
        }
    }
}

/// Writes `text` to stdout, or says why it cannot.
fn print(stdout: &mut dyn Write, stderr: &mut dyn Write, text: &str, what: &str) -> Exit {
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Exit::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            let _ = writeln!(stderr, "error: cannot write the {what}: {e}");
            Exit::Failed
        }
    }
}

/// `kexpr graph`: the model's dependency graph, as DOT, JSON or an SVG drawing.
pub fn graph(args: &GraphArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Exit {
    let Some(m) = load(&args.model, None, stderr) else { return Exit::Failed };
    let graph = Graph::of(&m);
    if let Some(path) = &args.svg {
        if graph.edges.len() > MAX_DRAWN_EDGES {
            let _ = writeln!(
                stderr,
                "error: the graph has {} vertices and {} edges, more than this drawing lays out (at most {MAX_DRAWN_EDGES} edges)",
                graph.vertices.len(),
                graph.edges.len()
            );
            let _ = writeln!(
                stderr,
                "help: draw it with Graphviz: `kexpr graph {} | dot -Tsvg -o {}`",
                args.model.display(),
                path.display()
            );
            return Exit::Failed;
        }
        let svg = match draw(&graph.to_dot()) {
            Ok(svg) => svg,
            Err(e) => {
                let _ = writeln!(stderr, "error: cannot draw the graph: {e}");
                let _ = writeln!(stderr, "help: `kexpr graph {}` prints it as DOT for Graphviz", args.model.display());
                return Exit::Failed;
            }
        };
        return match kalix_expr::files::replace_file(path, &mut |f| f.write_all(svg.as_bytes())) {
            Ok(()) => Exit::Ok,
            Err(e) => {
                let _ = writeln!(stderr, "error: cannot write `{}`: {e}", path.display());
                Exit::Failed
            }
        };
    }
    let text = match args.format {
        Format::Human => graph.to_dot(),
        Format::Json => serde_json::to_string_pretty(&graph).map(|j| j + "\n").unwrap_or_default(),
    };
    print(stdout, stderr, &text, "graph")
}

/// The most edges `--svg` lays out: the layout crate's edge-crossing work grows fast with dense
/// graphs (a model whose every series reads the same constants and functions), and a drawing
/// that takes minutes is worse than a pointer to Graphviz.
const MAX_DRAWN_EDGES: usize = 250;

/// How long the layout may take before the command gives up on it.
const DRAW_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// An SVG drawing of a DOT graph (laid out by the `layout-rs` crate, no Graphviz needed), or
/// why not, within [`DRAW_TIME_LIMIT`].
fn draw(dot: &str) -> Result<String, String> {
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};
    let ast = DotParser::new(dot).process()?;
    let (tx, rx) = std::sync::mpsc::channel();
    // On a thread of its own: a layout past the time limit is abandoned (the process exits
    // with the error), and a panic in the layout crate is a drawing that failed, not a crash.
    std::thread::spawn(move || {
        let drawn = std::panic::catch_unwind(move || {
            let mut builder = GraphBuilder::new();
            builder.visit_graph(&ast);
            let mut graph = builder.get();
            let mut svg = SVGWriter::new();
            graph.do_it(false, false, false, &mut svg);
            svg.finalize()
        });
        let _ = tx.send(drawn.map_err(|_| "the layout failed".to_string()));
    });
    match rx.recv_timeout(DRAW_TIME_LIMIT) {
        Ok(result) => result,
        Err(_) => Err(format!("the layout took longer than {} s", DRAW_TIME_LIMIT.as_secs())),
    }
}
