//! Checking a loaded model as a whole: user functions, which names are inputs, the core
//! [`Model`] compiled with every error mapped back into the file, and the warnings (unused
//! definitions, trailing dots, data files).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kalix_expr_core::ast::{Ast, NodeKind};
use kalix_expr_core::sema::resolve_with;
use kalix_expr_core::{
    Calendar, Date, ErrorKind, Expr, FnDef, Functions, Host, Model, Options, Program, Scope, SIM_FIELDS,
};

use crate::data::{self, DateColumn};
use crate::diag::{Diagnostic, Kind, Location};
use crate::ini::Text;
use crate::load::ModelFile;
use crate::names::closest;
use kalix_expr_core::Help;

/// Namespaces whose names the model itself defines (or that are functions): an unknown name in
/// them is an error. A name in any other namespace that nothing defines is an input.
const DEFINED_NAMESPACES: &[&str] = &["const", "var", "sim", "fn", "table", "this"];

/// User functions from outside the model file, which its expressions may call as
/// `fn.<name>(…)`: those of a function library (`kexpr check --library DIR`).
///
/// A definition in the model's `[fn]` section wins over a library function of the same name,
/// with a warning; the library functions that call the one it replaces (directly or through
/// others) are then left out too, so that no library function silently changes meaning.
#[derive(Debug, Clone, Default)]
pub struct FunctionLibrary {
    /// How messages name it: the library file.
    pub name: String,
    /// Its valid user functions.
    pub functions: Functions,
    /// The names of the functions it defines that are not valid, lower-case: calling one is an
    /// error that says so.
    pub invalid: Vec<String>,
}

#[cfg(feature = "library")]
impl FunctionLibrary {
    /// The functions of a managed function library's snapshot, as a model sees them.
    pub fn from_snapshot(snapshot: &kalix_expr_core::library::Snapshot) -> FunctionLibrary {
        FunctionLibrary {
            name: snapshot.path().map_or_else(|| "the function library".into(), |p| p.display().to_string()),
            functions: snapshot.functions().clone(),
            invalid: snapshot.invalid().to_vec(),
        }
    }
}

/// A checked model: every diagnostic, the inputs it needs, and, when it has no errors, its
/// compiled program (see [`ModelFile::compile`]).
#[derive(Debug)]
pub struct Analysis {
    /// Every problem, sorted by place.
    pub diagnostics: Vec<Diagnostic>,
    /// The inputs (lower-case names), in order of first use, each with the place of that use.
    pub inputs: Vec<(String, Location)>,
    /// How many expressions were checked (series and function bodies).
    pub expressions: usize,
    /// The user functions (definitions that have errors replaced by stand-ins), the library's
    /// included.
    functions: Functions,
    /// Why a library function cannot be called here, by name (lower-case, without `fn.`).
    unavailable: Unavailable,
    /// The program, compiled once by the check; `None` when the model has errors.
    program: Option<Program>,
}

/// Library functions that cannot be called, each with the help line that says why.
type Unavailable = HashMap<String, String>;

impl Analysis {
    /// The bytes a run's state will take (the windows of stateful calls), when the model
    /// compiles: what `kexpr check` reports, bounded by [`ModelFile::state_budget`].
    pub fn state_bytes(&self) -> Option<usize> {
        self.program.as_ref().map(kalix_expr_core::Program::state_bytes)
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// How many errors and warnings.
    pub fn counts(&self) -> (usize, usize) {
        let errors = self.diagnostics.iter().filter(|d| d.is_error()).count();
        (errors, self.diagnostics.len() - errors)
    }
}

/// The expression of every series, with a stand-in `0` for those that do not parse (their
/// errors are reported), so that references to them resolve.
pub(crate) fn series_exprs(m: &ModelFile) -> Vec<Expr> {
    m.series.iter().map(|s| s.expr.clone().unwrap_or_else(zero)).collect()
}

fn zero() -> Expr {
    Expr::parse("0").expect("the literal `0` parses")
}

/// Builds the core [`Model`] on `calendar`: inputs, constants, tables, functions, then the series
/// in file order.
fn build(m: &ModelFile, a: &Analysis, exprs: &[Expr], calendar: Calendar) -> Model {
    build_probed(m, a, exprs, calendar, &HashMap::new())
}

/// [`build`], with probes ([`Model::probe`]) after the series they belong to, by series index.
pub(crate) fn build_probed(
    m: &ModelFile,
    a: &Analysis,
    exprs: &[Expr],
    calendar: Calendar,
    probes: &HashMap<usize, Vec<(String, Expr)>>,
) -> Model {
    let mut model = Model::new(calendar);
    model.options(Options::model()).state_budget(m.state_budget);
    for (name, _) in &a.inputs {
        model.input(name.clone());
    }
    for c in &m.constants {
        model.constant(c.name.clone(), c.value);
    }
    for t in &m.tables {
        model.table(t.table.clone());
    }
    model.functions(a.functions.clone());
    for (i, (s, expr)) in m.series.iter().zip(exprs).enumerate() {
        match &s.kind {
            crate::load::SeriesKind::Var => model.series(s.name.clone(), expr.clone()),
            crate::load::SeriesKind::Node { node, property } => model.node_series(node, property, expr.clone()),
        };
        for (name, probe) in probes.get(&i).into_iter().flatten() {
            model.probe(name.clone(), probe.clone(), &s.name);
        }
    }
    model
}

impl Analysis {
    /// The compiled program, taken out of a check that found no errors; the errors otherwise.
    pub(crate) fn into_program(mut self) -> Result<(Analysis, Program), Vec<Diagnostic>> {
        match self.program.take() {
            Some(p) if !self.has_errors() => Ok((self, p)),
            _ => Err(self.diagnostics.into_iter().filter(Diagnostic::is_error).collect()),
        }
    }
}

/// Checks everything in `m` at once. The diagnostics include those of loading.
pub fn analyze(m: &ModelFile) -> Analysis {
    analyze_with(m, None)
}

/// [`analyze`], with the functions of a function library callable as well.
///
/// ```
/// use kalix_expr_core::{FnDef, Functions};
/// use kalix_expr_model::{analyze_with, load_text, FunctionLibrary};
/// let functions = Functions::new(vec![FnDef::parse("half(x)", "x / 2").unwrap()]).unwrap();
/// let library = FunctionLibrary { name: "functions.ini".into(), functions, invalid: Vec::new() };
/// let m = load_text("m.ini", "[var.b]\nk = fn.half(sim.step)\n", ".".as_ref(), &|_| None);
/// assert!(!analyze_with(&m, Some(&library)).has_errors());
/// ```
pub fn analyze_with(m: &ModelFile, library: Option<&FunctionLibrary>) -> Analysis {
    analyze_full(m, library, None)
}

/// What reading each `[data]` file of a model gave (its header, or why not), in the order of
/// the model's `[data]` lines; `None` for a file not read.
pub(crate) type DataHeaders = Vec<Option<Result<data::Header, data::DataError>>>;

/// [`analyze_with`], taking the `[data]` files' headers from `headers` (read for a run) instead
/// of reading them again.
pub(crate) fn analyze_full(m: &ModelFile, library: Option<&FunctionLibrary>, headers: Option<DataHeaders>) -> Analysis {
    let mut diags = m.diagnostics.clone();
    let mut unavailable = Unavailable::new();
    let called = functions_kalix_expands(m);
    let functions = user_functions(m, library, &called, &mut unavailable, &mut diags);
    let exprs = series_exprs(m);
    // The functions each series calls, directly or not, found once for the passes below.
    let calls: Vec<Vec<String>> = exprs
        .iter()
        .map(|e| called_functions(e, &functions).into_iter().map(|d| d.name().to_string()).collect())
        .collect();
    let inputs = collect_inputs(m, &functions, &exprs, &calls);
    let expressions = m.series.len() + m.functions.len() + m.ras_actions.len();
    let mut a = Analysis { diagnostics: Vec::new(), inputs, expressions, functions, unavailable, program: None };
    // The calendar is only the default: each run gives its own (`Program::run_on`).
    let model = build(m, &a, &exprs, Calendar::daily(m.start.unwrap_or(Date { year: 2000, month: 1, day: 1 })));
    match model.compile() {
        Ok(program) => a.program = Some(program),
        Err(e) => map_model_errors(m, &a.unavailable, &e.errors, &mut diags),
    }
    check_bodies(m, &a, &called, &mut diags);
    check_ras_actions(m, &a, &mut diags);
    read_ahead_in_bodies(m, &a.functions, &calls, &mut diags);
    unused(m, &mut diags);
    trailing_dots(m, &mut diags);
    data_files(m, &a, headers, &mut diags);
    crate::diag::sort_and_dedup(&mut diags);
    a.diagnostics = diags;
    a
}

/// The diagnostics of a core error, placed through `text`'s map into the file. A call of a
/// library function that cannot be called here says why.
fn place(
    m: &ModelFile,
    unavailable: &Unavailable,
    e: &kalix_expr_core::Error,
    text: &Text,
    keep: impl Fn(&kalix_expr_core::Diagnostic) -> bool,
) -> Vec<Diagnostic> {
    e.diagnostics()
        .iter()
        .filter(|d| keep(d))
        .map(|d| {
            let at = text.location(&m.file, d.span().start, d.span().end);
            let why = match d.kind() {
                ErrorKind::FunctionUnknown { name } => {
                    name.to_lowercase().strip_prefix("fn.").and_then(|n| unavailable.get(n)).cloned()
                }
                _ => None,
            };
            Diagnostic::error(Kind::Expression(d.kind().clone()), Some(at), d.kind().to_string())
                .with_help_opt(why.map(Help::from).or_else(|| d.suggestion().cloned()))
        })
        .collect()
}

/// Maps the errors of `Model::compile` to their series by the series name each error gives as
/// its origin.
fn map_model_errors(
    m: &ModelFile,
    unavailable: &Unavailable,
    errors: &[kalix_expr_core::Error],
    out: &mut Vec<Diagnostic>,
) {
    let by_name: HashMap<&str, usize> = m.series.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    for e in errors {
        match e.origin().and_then(|name| by_name.get(name)) {
            // An unknown name inside a body is reported once, in the body (see `check_bodies`).
            Some(&i) => out.extend(place(m, unavailable, e, &m.series[i].value, |d| {
                !(d.inside().is_some() && matches!(d.kind(), ErrorKind::VariableUnknown { .. }))
            })),
            None => {
                for d in e.diagnostics() {
                    // A problem of the model as a whole (its state budget) has no text of its own.
                    let message = match e.source_text() {
                        "" => d.kind().to_string(),
                        text => format!("{} (in `{text}`)", d.kind()),
                    };
                    out.push(
                        Diagnostic::error(
                            Kind::Expression(d.kind().clone()),
                            Some(Location::new(&m.file, 0, 0)),
                            message,
                        )
                        .with_help_opt(d.suggestion().cloned()),
                    );
                }
            }
        }
    }
}

/// Where a definition of the set comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `m.functions[i]`.
    Model(usize),
    Library,
}

/// Validates the `[fn]` section, with the library's functions, as a set. A definition with an
/// error is reported and replaced by a stand-in of the same name and arity (a later duplicate
/// is dropped), so that its callers raise no follow-up errors.
fn user_functions(
    m: &ModelFile,
    library: Option<&FunctionLibrary>,
    called: &HashSet<String>,
    unavailable: &mut Unavailable,
    diags: &mut Vec<Diagnostic>,
) -> Functions {
    let mut defs: Vec<(Origin, FnDef)> =
        m.functions.iter().enumerate().filter_map(|(i, f)| f.def.clone().map(|d| (Origin::Model(i), d))).collect();
    if let Some(library) = library {
        let reachable = library_functions(m, library, unavailable, diags);
        defs.extend(reachable.into_iter().map(|d| (Origin::Library, d)));
    }
    let tables: Vec<Arc<kalix_expr_core::Table>> = m.tables.iter().map(|t| Arc::new(t.table.clone())).collect();
    for _ in 0..=defs.len() + 1 {
        let errors = match Functions::with_host(defs.iter().map(|(_, d)| d.clone()).collect(), &[], &tables) {
            Ok(set) => return set,
            Err(errors) => errors,
        };
        let mut stub: HashSet<usize> = HashSet::new();
        let mut drop: HashSet<usize> = HashSet::new();
        let mut duplicates_seen: HashMap<String, usize> = HashMap::new();
        for e in &errors {
            let ptr = e.source_text().as_ptr() as usize;
            if let Some(k) = defs.iter().position(|(_, d)| d.body().source().as_ptr() as usize == ptr) {
                let found = placed_in(m, unavailable, e, &defs[k], |f| &f.body);
                let name = defs[k].1.name();
                let is_called = matches!(defs[k].0, Origin::Library) || called.contains(name);
                diags.extend(found.into_iter().map(|d| if is_called { d } else { uncalled(d, name) }));
                stub.insert(k);
                continue;
            }
            let k = match e.kind() {
                ErrorKind::FunctionDuplicate { name } => {
                    let nth = duplicates_seen.entry(name.clone()).or_insert(0);
                    *nth += 1;
                    let k = defs.iter().enumerate().filter(|(_, (_, d))| d.name() == name).nth(*nth).map(|(k, _)| k);
                    drop.extend(k);
                    k
                }
                _ => {
                    let k = defs.iter().position(|(from, d)| match from {
                        Origin::Model(i) => m.functions[*i].signature.as_str() == e.source_text(),
                        Origin::Library => e.source_text().starts_with(&format!("{}(", d.name())),
                    });
                    stub.extend(k);
                    k
                }
            };
            match k {
                Some(k) => diags.extend(placed_in(m, unavailable, e, &defs[k], |f| &f.signature)),
                None => diags.extend(e.diagnostics().iter().map(|d| {
                    let at = m.functions.first().map(|f| f.signature.whole(&m.file));
                    Diagnostic::error(Kind::Expression(d.kind().clone()), at, d.kind().to_string())
                })),
            }
        }
        if stub.is_empty() && drop.is_empty() {
            break;
        }
        // A chain too deep to expand is reported once, at its head; every function whose own
        // chain is too deep is set aside at once too, or each would be found in turn, one
        // validation of the whole set each (quadratic in a 2,000-function chain).
        if errors.iter().any(|e| matches!(e.kind(), ErrorKind::LimitExceeded { .. })) {
            stub.extend(too_deep(&defs));
        }
        defs = defs
            .into_iter()
            .enumerate()
            .filter(|(k, _)| !drop.contains(k))
            .filter_map(|(k, (from, d))| {
                if !stub.contains(&k) {
                    return Some((from, d));
                }
                FnDef::parse(&format!("{}({})", d.name(), d.params().join(", ")), "0").ok().map(|s| (from, s))
            })
            .collect();
    }
    Functions::default()
}

/// The definitions (by index) whose chain of calls is deeper than expansion allows.
fn too_deep(defs: &[(Origin, FnDef)]) -> Vec<usize> {
    let index: HashMap<&str, usize> = defs.iter().enumerate().map(|(k, (_, d))| (d.name(), k)).collect();
    let calls: Vec<Vec<usize>> =
        defs.iter().map(|(_, d)| d.calls().iter().filter_map(|c| index.get(c.as_str()).copied()).collect()).collect();
    // Depth by memoised search; a cycle (reported elsewhere) counts as too deep.
    let mut depth: Vec<Option<usize>> = vec![None; defs.len()];
    let mut visiting = vec![false; defs.len()];
    fn visit(k: usize, calls: &[Vec<usize>], depth: &mut [Option<usize>], visiting: &mut [bool]) -> usize {
        if let Some(d) = depth[k] {
            return d;
        }
        if visiting[k] {
            return usize::MAX / 2;
        }
        visiting[k] = true;
        let mut d = 1;
        for &c in &calls[k] {
            // Iterative deepening is not needed: a chain is at most the set's size long, and
            // the stack grows with it only as far as the memo has not reached.
            d = d.max(1 + stacker::maybe_grow(64 * 1024, 1024 * 1024, || visit(c, calls, depth, visiting)));
        }
        visiting[k] = false;
        depth[k] = Some(d);
        d
    }
    (0..defs.len()).filter(|&k| visit(k, &calls, &mut depth, &mut visiting) > Functions::MAX_DEPTH).collect()
}

/// The diagnostics of an error in a definition of the set: placed in the model file for one of
/// its own (through `text`: its signature or body), named for a library function (which is
/// valid in its library, so this is not expected).
fn placed_in(
    m: &ModelFile,
    unavailable: &Unavailable,
    e: &kalix_expr_core::Error,
    (from, def): &(Origin, FnDef),
    text: impl Fn(&crate::load::Function) -> &Text,
) -> Vec<Diagnostic> {
    match from {
        Origin::Model(i) => place(m, unavailable, e, text(&m.functions[*i]), |_| true),
        Origin::Library => e
            .diagnostics()
            .iter()
            .map(|d| {
                Diagnostic::error(
                    Kind::Expression(d.kind().clone()),
                    None,
                    format!("{} (in the function library's `fn.{}`)", d.kind(), def.name()),
                )
            })
            .collect(),
    }
}

/// The library functions the model may call: all but those its `[fn]` section redefines, and
/// those calling one of these (directly or through others). Each redefinition is a warning;
/// each function left out, and each invalid one, gets a line in `unavailable` saying why.
fn library_functions(
    m: &ModelFile,
    library: &FunctionLibrary,
    unavailable: &mut Unavailable,
    diags: &mut Vec<Diagnostic>,
) -> Vec<FnDef> {
    let mut left_out: HashSet<String> = HashSet::new();
    for f in &library.functions.iter().collect::<Vec<_>>() {
        let name = f.name();
        let Some(own) = m.functions.iter().find(|g| g.name.as_ref().is_some_and(|(n, _)| n == name)) else { continue };
        // The library functions that call it, directly or through others, in library order.
        let mut reached: HashSet<&str> = HashSet::from([name]);
        let mut grew = true;
        while grew {
            grew = false;
            for d in library.functions.iter() {
                if !reached.contains(d.name()) && d.calls().iter().any(|c| reached.contains(c.as_str())) {
                    reached.insert(d.name());
                    grew = true;
                }
            }
        }
        let callers: Vec<&str> =
            library.functions.iter().map(FnDef::name).filter(|n| *n != name && reached.contains(n)).collect();
        let at = own.signature.location(&m.file, 0, own.signature.as_str().find('(').unwrap_or(0));
        let help = if callers.is_empty() {
            format!("this model's definition is used, not the one in `{}`", library.name)
        } else {
            let list: Vec<String> = callers.iter().map(|c| format!("`fn.{c}`")).collect();
            let (verb, pronoun) = if callers.len() == 1 { ("calls", "it is") } else { ("call", "they are") };
            format!(
                "this model's definition is used, not the one in `{}`; the library's {} {verb} it, so {pronoun} left \
                 out too",
                library.name,
                list.join(", ")
            )
        };
        diags.push(
            Diagnostic::warning(
                Kind::Definition,
                Some(at),
                format!("function `fn.{name}` is also defined in the function library"),
            )
            .with_help(help),
        );
        for c in callers {
            unavailable.entry(c.to_string()).or_insert_with(|| {
                format!(
                    "the function library's `fn.{c}` calls `fn.{name}`, which this model redefines, so it is left out"
                )
            });
        }
        left_out.extend(reached.into_iter().map(str::to_string));
    }
    for name in &library.invalid {
        unavailable
            .entry(name.clone())
            .or_insert_with(|| format!("the function library's `fn.{name}` is invalid: see `kexpr fn show {name}`"));
    }
    library.functions.iter().filter(|d| !left_out.contains(d.name())).cloned().collect()
}

/// `name` lower-cased, with `this.x` read as `node.<n>.x` inside node `n`'s properties.
fn rewrite_this(name: &str, this_node: Option<&str>) -> String {
    let lower = name.to_lowercase();
    match (lower.strip_prefix("this."), this_node) {
        (Some(rest), Some(node)) => format!("{}.{rest}", node.to_lowercase()),
        _ => lower,
    }
}

/// The `fn.*` functions an expression calls, directly or through other functions, each once.
fn called_functions<'f>(expr: &Expr, functions: &'f Functions) -> Vec<&'f FnDef> {
    let mut out: Vec<&FnDef> = Vec::new();
    let mut stack: Vec<String> = calls(expr, "fn.");
    while let Some(name) = stack.pop() {
        if out.iter().any(|d| d.name() == name) {
            continue;
        }
        if let Some(def) = functions.get(&name) {
            stack.extend(def.calls());
            out.push(def);
        }
    }
    out
}

/// The names (lower-case, without the prefix) of the calls in `expr` whose name starts with
/// `prefix` (`fn.` or `table.`).
fn calls(expr: &Expr, prefix: &str) -> Vec<String> {
    expr.ast()
        .nodes()
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Call { name, .. } => name.text.to_lowercase().strip_prefix(prefix).map(str::to_string),
            _ => None,
        })
        .collect()
}

/// The `[fn]` functions a series calls, directly or through other functions, and those named in
/// sections this tool does not check (lower-case, without `fn.`): the ones Kalix expands.
fn functions_kalix_expands(m: &ModelFile) -> HashSet<String> {
    let mut called: HashSet<String> =
        m.references.iter().filter_map(|r| r.strip_prefix("fn.")).map(str::to_string).collect();
    called.extend(m.series.iter().filter_map(|s| s.expr.as_ref()).flat_map(|e| calls(e, "fn.")));
    let bodies: HashMap<&str, &FnDef> =
        m.functions.iter().filter_map(|f| f.def.as_ref()).map(|d| (d.name(), d)).collect();
    let mut todo: Vec<String> = called.iter().cloned().collect();
    while let Some(f) = todo.pop() {
        for g in bodies.get(f.as_str()).map(|d| d.calls()).unwrap_or_default() {
            if called.insert(g.clone()) {
                todo.push(g);
            }
        }
    }
    called
}

/// A problem in the body of a `[fn]` function that nothing calls is a warning: Kalix loads such
/// a model, and reports the problem only when the function is called (then it is an error here
/// too).
fn uncalled(mut d: Diagnostic, name: &str) -> Diagnostic {
    d.severity = crate::diag::Severity::Warning;
    d.with_note(format!("`fn.{name}` is never called, so the model still runs; calling it is an error"))
}

/// A body's free variables: its variables that are not parameters.
fn free_variables(def: &FnDef) -> Vec<&str> {
    def.body().variables().into_iter().filter(|v| !def.params().iter().any(|p| p.eq_ignore_ascii_case(v))).collect()
}

/// The names expressions read that nothing defines, outside the namespaces the model defines:
/// `data.*`, `node.*` (the hydrological simulation's outputs) and any other dotted namespace.
fn collect_inputs(
    m: &ModelFile,
    functions: &Functions,
    exprs: &[Expr],
    calls: &[Vec<String>],
) -> Vec<(String, Location)> {
    let mut defined: HashSet<String> = m.series.iter().map(|s| s.name.to_lowercase()).collect();
    defined.extend(m.constants.iter().map(|c| c.name.clone()));
    defined.extend(SIM_FIELDS.iter().map(|f| f.to_string()));
    let mut inputs: Vec<(String, Location)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    // Each body's free variables, once (not once per series calling it).
    let mut free: HashMap<&str, Vec<&str>> = HashMap::new();
    for ((s, expr), called) in m.series.iter().zip(exprs).zip(calls) {
        let this = s.this_node();
        // `true`: the series' own variable, placed at its first read (found only when needed).
        let own = expr.variables().into_iter().map(|v| (v, true));
        let mut body_vars: Vec<&str> = Vec::new();
        for d in called.iter().filter_map(|name| functions.get(name)) {
            body_vars.extend(free.entry(d.name()).or_insert_with(|| free_variables(d)).iter().copied());
        }
        for (v, is_own) in own.chain(body_vars.into_iter().map(|v| (v, false))) {
            let name = rewrite_this(v, this.as_deref());
            let namespace = name.split_once('.').map(|(ns, _)| ns);
            let Some(namespace) = namespace else { continue };
            if DEFINED_NAMESPACES.contains(&namespace) || defined.contains(&name) || !seen.insert(name.clone()) {
                continue;
            }
            let place = if is_own { name_span(expr, v).map(|(a, b)| s.value.location(&m.file, a, b)) } else { None };
            inputs.push((name, place.unwrap_or_else(|| s.value.whole(&m.file))));
        }
    }
    inputs
}

/// The span of the first read of variable `v` in `expr`.
fn name_span(expr: &Expr, v: &str) -> Option<(usize, usize)> {
    expr.ast().nodes().iter().find_map(|n| match &n.kind {
        NodeKind::Var(name) | NodeKind::Offset { name, .. } if name.text == v => Some((name.span.start, name.span.end)),
        _ => None,
    })
}

/// Resolves each function body on its own against every name the model binds, so an unknown
/// variable in a body is reported once, in the body, even when nothing calls it.
fn check_bodies(m: &ModelFile, a: &Analysis, called: &HashSet<String>, diags: &mut Vec<Diagnostic>) {
    // Every name the model binds, lower-case. A body is resolved with only the ones it reads
    // bound (the rest are unknown either way), so a model of thousands of series does not
    // cost thousands of bindings per function.
    let mut bound: HashSet<String> = a.inputs.iter().map(|(n, _)| n.to_lowercase()).collect();
    bound.extend(m.constants.iter().map(|c| c.name.to_lowercase()));
    bound.extend(SIM_FIELDS.iter().map(|f| f.to_string()));
    bound.extend(m.series.iter().map(|s| s.name.to_lowercase()));
    let tables: Vec<Arc<kalix_expr_core::Table>> = m.tables.iter().map(|t| Arc::new(t.table.clone())).collect();
    // In a body alone, `this.x` and `this` are names like any other; they are bound below.
    let host = Host { tables: &tables, functions: Some(&a.functions), ..Host::default() };
    let host = Host { this_node: Some("this"), this_series: Some("this"), ..host };
    for f in &m.functions {
        let Some(def) = &f.def else { continue };
        let mut names: Vec<String> = def.params().to_vec();
        names.push("this".into());
        for v in free_variables(def) {
            let lower = v.to_lowercase();
            let namespace = lower.split_once('.').map(|(ns, _)| ns);
            if bound.contains(&lower) || namespace.is_some_and(|ns| ns == "this" || !DEFINED_NAMESPACES.contains(&ns)) {
                names.push(lower);
            }
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let body = def.body();
        if let Err(e) = resolve_with(body.ast(), body.source(), &Scope::Bound(&names), &host, &Options::model()) {
            let found = place(m, &a.unavailable, &e, &f.body, |d| {
                matches!(d.kind(), ErrorKind::VariableUnknown { .. }) && d.inside().is_none()
            });
            let is_called = called.contains(def.name());
            diags.extend(found.into_iter().map(|d| if is_called { d } else { uncalled(d, def.name()) }));
        }
    }
}

/// The expressions of `[ras.*]` actions, against every name the model defines: unknown names,
/// functions, tables and arity are errors as in a series. What the expressions read from the
/// simulation (`node.*`, `data.*`) is free, as everywhere.
fn check_ras_actions(m: &ModelFile, a: &Analysis, diags: &mut Vec<Diagnostic>) {
    if m.ras_actions.is_empty() {
        return;
    }
    let mut bound: Vec<String> = a.inputs.iter().map(|(n, _)| n.clone()).collect();
    bound.extend(m.constants.iter().map(|c| c.name.clone()));
    bound.extend(SIM_FIELDS.iter().map(|f| f.to_string()));
    bound.extend(m.series.iter().map(|s| s.name.to_lowercase()));
    let tables: Vec<Arc<kalix_expr_core::Table>> = m.tables.iter().map(|t| Arc::new(t.table.clone())).collect();
    let host = Host { tables: &tables, functions: Some(&a.functions), ..Host::default() };
    for action in &m.ras_actions {
        let Some(expr) = &action.expr else { continue };
        let mut names = bound.clone();
        for v in expr.variables() {
            let lower = v.to_lowercase();
            let namespace = lower.split_once('.').map(|(ns, _)| ns);
            if namespace.is_some_and(|ns| !DEFINED_NAMESPACES.contains(&ns)) {
                names.push(lower);
            }
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Err(e) = resolve_with(expr.ast(), expr.source(), &Scope::Bound(&names), &host, &Options::model()) {
            diags.extend(place(m, &a.unavailable, &e, &action.text, |_| true));
        }
    }
}

/// A function body read, without an offset, of a series that its caller computes later in the
/// step (or of the caller itself). The core checks this for a series' own text; this follows it
/// into the bodies the series calls.
fn read_ahead_in_bodies(m: &ModelFile, functions: &Functions, calls: &[Vec<String>], diags: &mut Vec<Diagnostic>) {
    let index: HashMap<String, usize> = m.series.iter().enumerate().map(|(i, s)| (s.name.to_lowercase(), i)).collect();
    let bodies: HashMap<usize, &Text> = m
        .functions
        .iter()
        .filter_map(|f| f.def.as_ref().map(|d| (d.body().source().as_ptr() as usize, &f.body)))
        .collect();
    // Each body's reads of its free variables, found once (not once per series calling it).
    let mut free_reads: HashMap<&str, Vec<(String, kalix_expr_core::ast::Name)>> = HashMap::new();
    for (i, (s, called)) in m.series.iter().zip(calls).enumerate() {
        if s.expr.is_none() {
            continue;
        }
        let this = s.this_node();
        for def in called.iter().filter_map(|name| functions.get(name)) {
            // A library function's body is not in the model file: its reads are placed at the
            // series, and say where they are.
            let text = bodies.get(&(def.body().source().as_ptr() as usize));
            let reads = free_reads.entry(def.name()).or_insert_with(|| {
                let free: Vec<String> = free_variables(def).iter().map(|v| v.to_lowercase()).collect();
                def.body()
                    .ast()
                    .nodes()
                    .into_iter()
                    .filter_map(|n| match &n.kind {
                        NodeKind::Var(name) if free.contains(&name.text.to_lowercase()) => {
                            Some((name.text.to_lowercase(), name.clone()))
                        }
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            });
            for (lower, name) in reads.iter() {
                let lower = lower.clone();
                let target =
                    if lower == "this" { s.name.to_lowercase() } else { rewrite_this(&lower, this.as_deref()) };
                let Some(&j) = index.get(&target) else { continue };
                if j < i {
                    continue;
                }
                let later = if j == i { "itself" } else { "a series computed later in the step" };
                let (line, _) = m.file.line_col(s.value.file_offset(0));
                let (at, library) = match text {
                    Some(text) => (text.location(&m.file, name.span.start, name.span.end), ""),
                    None => (s.value.whole(&m.file), ", in the body of a function of the function library"),
                };
                diags.push(
                    Diagnostic::error(
                        Kind::Definition,
                        Some(at),
                        format!("`{}` is read before it is computed in the step: it is {later}{library}", name.text),
                    )
                    .with_help(format!(
                        "`fn.{}` is called from `{}` (line {line}); read the previous step's value with an offset: `{}[-1, 0]`",
                        def.name(),
                        s.name,
                        name.text
                    )),
                );
            }
        }
    }
}

/// Warnings for constants, tables and functions that nothing uses.
fn unused(m: &ModelFile, diags: &mut Vec<Diagnostic>) {
    let mut variables: HashSet<String> = m.references.iter().cloned().collect();
    let mut tables: HashSet<String> =
        m.references.iter().filter_map(|r| r.strip_prefix("table.")).map(str::to_string).collect();
    let mut fns: HashSet<String> =
        m.references.iter().filter_map(|r| r.strip_prefix("fn.")).map(str::to_string).collect();
    let series = m.series.iter().filter_map(|s| s.expr.as_ref().map(|e| (e, None)));
    let bodies = m.functions.iter().filter_map(|f| f.def.as_ref().map(|d| (d.body(), Some(d.name()))));
    for (expr, own) in series.chain(bodies) {
        variables.extend(expr.variables().iter().map(|v| v.to_lowercase()));
        tables.extend(calls(expr, "table."));
        fns.extend(calls(expr, "fn.").into_iter().filter(|f| Some(f.as_str()) != own));
    }
    // An expression that does not parse has its error; what it names still counts as used, so
    // that one mistake does not also call its constants, tables and functions unused.
    let unparsed = m.series.iter().filter(|s| s.expr.is_none()).map(|s| &s.value);
    let unparsed = unparsed.chain(m.functions.iter().filter(|f| f.def.is_none()).map(|f| &f.body));
    for name in unparsed.flat_map(|t| names_in_text(t.as_str())) {
        if let Some(t) = name.strip_prefix("table.") {
            tables.insert(t.to_string());
        }
        if let Some(f) = name.strip_prefix("fn.") {
            fns.insert(f.to_string());
        }
        variables.insert(name);
    }
    for c in &m.constants {
        if !variables.contains(&c.name) {
            diags.push(
                Diagnostic::warning(
                    Kind::Unused,
                    Some(c.key.whole(&m.file)),
                    format!("constant `{}` is never used", c.name),
                )
                .with_help("no expression reads it; remove it, or check the spelling where it is meant to be read"),
            );
        }
    }
    for t in &m.tables {
        if !tables.contains(&t.name.to_lowercase()) {
            diags.push(
                Diagnostic::warning(
                    Kind::Unused,
                    Some(t.at.clone()),
                    format!("table `table.{}` is never used", t.name),
                )
                .with_help(format!("no expression calls `table.{}(…)`", t.name)),
            );
        }
    }
    for f in &m.functions {
        let Some((name, _)) = &f.name else { continue };
        if !fns.contains(name) {
            let at = f.signature.location(&m.file, 0, f.signature.as_str().find('(').unwrap_or(0));
            diags.push(
                Diagnostic::warning(Kind::Unused, Some(at), format!("function `fn.{name}` is never called"))
                    .with_help(format!("no expression calls `fn.{name}(…)`")),
            );
        }
    }
}

/// Every name-like word of `text`, lower-case (for text that does not parse).
fn names_in_text(text: &str) -> Vec<String> {
    use kalix_expr_core::host::{is_name_char, is_name_start};
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_ascii_digit() {
            // A number (`1.5e3`) is no name, nor is what follows its digits.
            while chars.peek().is_some_and(|&(_, d)| d.is_alphanumeric() || d == '.') {
                chars.next();
            }
        } else if is_name_start(c) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek().filter(|&&(_, d)| is_name_char(d)) {
                end = j + d.len_utf8();
                chars.next();
            }
            out.push(text[i..end].trim_end_matches('.').to_lowercase());
        }
    }
    out
}

/// Warnings for names written with a trailing dot (`data.evap.`), which Kalix reads without it.
fn trailing_dots(m: &ModelFile, diags: &mut Vec<Diagnostic>) {
    let series = m.series.iter().filter_map(|s| s.expr.as_ref().map(|e| (e, &s.value)));
    let bodies = m.functions.iter().filter_map(|f| f.def.as_ref().map(|d| (d.body(), &f.body)));
    for (expr, text) in series.chain(bodies) {
        let names = expr.ast().nodes().into_iter().filter_map(|n| match &n.kind {
            NodeKind::Var(name) | NodeKind::Offset { name, .. } | NodeKind::Call { name, .. } => Some(name.clone()),
            _ => None,
        });
        let stmts = match expr.ast() {
            Ast::Block(b) => b
                .stmts
                .iter()
                .filter_map(|s| match s {
                    kalix_expr_core::ast::Stmt::Assign { name, .. } => Some(name.clone()),
                    kalix_expr_core::ast::Stmt::Assert { .. } => None,
                })
                .collect(),
            Ast::Expr(_) => Vec::new(),
        };
        for name in names.chain(stmts).filter(|n| n.trailing_dot) {
            diags.push(
                Diagnostic::warning(
                    Kind::Data,
                    Some(text.location(&m.file, name.span.start, name.span.end)),
                    format!("`{}.` ends with a dot", name.text),
                )
                .with_help(format!("Kalix drops the dot and reads `{}`; remove it", name.text)),
            );
        }
    }
}

/// Warnings about `[data]` files: missing ones, and `data.*` names that match no file or
/// column (a run can still supply them with `--data`).
fn data_files(m: &ModelFile, a: &Analysis, mut read: Option<DataHeaders>, diags: &mut Vec<Diagnostic>) {
    // Sanitised source name → its columns, when the file could be read (None: it could not).
    let mut sources: HashMap<String, Option<data::Header>> = HashMap::new();
    for (i, f) in m.data.iter().enumerate() {
        // A run has read the files already; a check reads only their header lines.
        let outcome = match read.as_mut().and_then(|h| h.get_mut(i)).and_then(Option::take) {
            Some(outcome) => outcome,
            None => data::read_header(&f.path, &f.written, DateColumn::First),
        };
        let header = match outcome {
            Ok(h) => Some(h),
            Err(data::DataError::Io(e)) => {
                let message = if e.kind() == std::io::ErrorKind::NotFound {
                    format!("data file `{}` not found", f.written)
                } else {
                    format!("cannot read data file `{}`: {e}", f.written)
                };
                diags.push(
                    Diagnostic::warning(Kind::Data, Some(f.at.clone()), message)
                        .with_help("`kexpr run` needs the columns it provides: supply them with `--data FILE.csv`"),
                );
                None
            }
            Err(data::DataError::Content(d)) => {
                diags.push(*d);
                None
            }
        };
        for name in data::source_names(f) {
            sources.insert(name, header.clone());
        }
    }
    for (input, at) in &a.inputs {
        let Some(rest) = input.strip_prefix("data.") else { continue };
        let Some((source, column)) = rest.split_once('.') else { continue };
        match sources.get(source) {
            None if !m.data.is_empty() => {
                let help = match closest(source, sources.keys().map(String::as_str)) {
                    Some(s) => format!("did you mean `data.{s}.…`? Otherwise supply it with `--data FILE.csv`"),
                    None => "no file in `[data]` has this name; supply it with `--data FILE.csv`".into(),
                };
                diags.push(
                    Diagnostic::warning(Kind::Data, Some(at.clone()), format!("`{input}` matches no `[data]` file"))
                        .with_help(help),
                );
            }
            Some(Some(header)) if !header.provides(column) => {
                let columns = header.columns();
                let help = match closest(column, columns.iter().map(String::as_str)) {
                    Some(c) => format!("did you mean `data.{source}.{c}`?"),
                    None => format!("its columns are {}", columns.join(", ")),
                };
                diags.push(
                    Diagnostic::warning(
                        Kind::Data,
                        Some(at.clone()),
                        format!("`{input}` is not a column of its data file"),
                    )
                    .with_help(help),
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_text;

    fn check(text: &str) -> (ModelFile, Analysis) {
        let m = load_text("m.ini", text, std::path::Path::new("."), &|_| None);
        let a = analyze(&m);
        (m, a)
    }

    /// `line:column message` of every diagnostic.
    fn problems(a: &Analysis) -> Vec<String> {
        a.diagnostics.iter().map(|d| format!("{} {}", d.position().unwrap_or_default(), d.message)).collect()
    }

    #[test]
    fn inputs_are_names_nothing_defines_outside_the_model_namespaces() {
        let (_, a) = check(
            "[fn]\nflow(x) = x + this.dsflow\n[var.b]\nx = DATA.A + node.n.usflow + acc.z.balance + var.b.y[-1, 0]\ny = 1\n\
             [node.n]\ntype = inflow\ninflow = this.usflow + fn.flow(var.b.x) + node.n.expected_inflow[-1, 0]\n\
             expected_inflow = 2\n",
        );
        assert_eq!(problems(&a), Vec::<String>::new());
        let inputs: Vec<&str> = a.inputs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(inputs, ["data.a", "node.n.usflow", "acc.z.balance", "node.n.dsflow"]);
    }

    #[test]
    fn a_broken_function_is_reported_once_and_its_callers_resolve() {
        let (_, a) = check("[fn]\nf(x) = lg10(x)\ng(x) = x\ng(y) = y\n[var.b]\nk = fn.f(1) + fn.g(2)\n");
        assert_eq!(problems(&a), ["m.ini:2:8 unknown function `lg10`", "m.ini:4:1 duplicate function `g`"]);
    }

    #[test]
    fn reads_ahead_are_followed_into_function_bodies() {
        let (_, a) = check("[fn]\nlater() = var.b.z * 2\n[var.b]\nx = fn.later()\nz = 1\ny = fn.later()\n");
        assert_eq!(
            problems(&a),
            ["m.ini:2:11 `var.b.z` is read before it is computed in the step: it is a series computed later in the step"]
        );
        assert!(a.diagnostics[0].help_text().unwrap().contains("called from `var.b.x` (line 4)"));
    }

    fn library(defs: &[(&str, &str)], invalid: &[&str]) -> FunctionLibrary {
        let defs = defs.iter().map(|(sig, body)| FnDef::parse(sig, body).unwrap()).collect();
        FunctionLibrary {
            name: "lib/functions.ini".into(),
            functions: Functions::new(defs).unwrap(),
            invalid: invalid.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn check_with(text: &str, lib: &FunctionLibrary) -> Analysis {
        analyze_with(&load_text("m.ini", text, std::path::Path::new("."), &|_| None), Some(lib))
    }

    #[test]
    fn library_functions_are_callable_and_their_free_names_are_inputs() {
        let lib = library(&[("frac(v, cap)", "clamp(v / cap, 0, 1)"), ("wet(x)", "x * data.rain")], &[]);
        let a = check_with("[fn]\nf(x) = fn.frac(x, 2)\n[var.b]\nk = fn.f(1) + fn.wet(2)\n", &lib);
        assert_eq!(problems(&a), Vec::<String>::new());
        assert_eq!(a.inputs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["data.rain"]);
    }

    #[test]
    fn a_model_definition_wins_over_the_library_and_leaves_out_its_callers() {
        let lib = library(&[("c(x)", "x"), ("b(x)", "fn.c(x) * 2"), ("a(x)", "fn.b(x) + 1"), ("d(x)", "-x")], &[]);
        let a = check_with("[fn]\nc(x, y) = x + y\n[var.b]\nk = fn.c(1, 2) + fn.a(1) + fn.d(1)\n", &lib);
        assert_eq!(
            problems(&a),
            ["m.ini:2:1 function `fn.c` is also defined in the function library", "m.ini:4:18 unknown function `fn.a`"]
        );
        assert_eq!(
            a.diagnostics[0].help_text(),
            Some(
                "this model's definition is used, not the one in `lib/functions.ini`; the library's `fn.b`, `fn.a` \
                 call it, so they are left out too"
            )
        );
        assert_eq!(
            a.diagnostics[1].help_text(),
            Some("the function library's `fn.a` calls `fn.c`, which this model redefines, so it is left out")
        );
    }

    #[test]
    fn calling_an_invalid_library_function_says_so() {
        let a = check_with("[var.b]\nk = fn.bad(1)\n", &library(&[], &["bad"]));
        assert_eq!(problems(&a), ["m.ini:2:5 unknown function `fn.bad`"]);
        assert_eq!(
            a.diagnostics[0].help_text(),
            Some("the function library's `fn.bad` is invalid: see `kexpr fn show bad`")
        );
    }

    #[test]
    fn reads_ahead_in_library_bodies_are_placed_at_the_series() {
        let a = check_with("[var.b]\nx = fn.later()\nz = 1\n", &library(&[("later()", "var.b.z * 2")], &[]));
        assert_eq!(
            problems(&a),
            ["m.ini:2:5 `var.b.z` is read before it is computed in the step: it is a series computed later in the \
              step, in the body of a function of the function library"]
        );
    }

    #[test]
    fn an_unknown_name_in_a_body_is_reported_in_the_body_only() {
        let (_, a) = check("[fn]\nf(x) = x + var.b.nope\n[var.b]\nk = fn.f(1)\nj = fn.f(2)\n");
        assert_eq!(problems(&a), ["m.ini:2:12 unknown variable `var.b.nope`"]);
    }
}
