//! The stepping runtime: a model's expressions evaluated once per timestep over input series.
//!
//! Two phases. [`Model::compile`] checks everything and builds an immutable [`Program`]
//! (`Send + Sync`, shareable between threads and runs). [`Program::run`] creates the small
//! per-run state — stateful windows and accumulators, the history that offsets read — resets it,
//! and steps through the run. A step allocates nothing and looks no name up.
//!
//! ```
//! use kalix_expr_core::{Calendar, Date, Expr, Model};
//! let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
//! model.input("data.rain");
//! model.constant("const.loss", 1.0);
//! model.series("var.b.runoff", Expr::parse("max(0, data.rain - const.loss)")?);
//! model.series("var.b.total", Expr::parse("this[-1, 0] + var.b.runoff")?);
//! model.series("var.b.avg3", Expr::parse("moving_mean(data.rain, 3, 0)")?);
//! let program = model.compile().map_err(|e| e.errors[0].clone())?;
//! let out = program.run(&[&[2.0, 0.5, 4.0]], 3).unwrap();
//! assert_eq!(out.column("var.b.total"), Some(&[1.0, 1.0, 4.0][..]));
//! assert_eq!(out.column("var.b.avg3"), Some(&[2.0 / 3.0, 2.5 / 3.0, 6.5 / 3.0][..]));
//! # Ok::<(), kalix_expr_core::Error>(())
//! ```

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::ast::NodeKind;
use crate::calendar::{Calendar, Date, SIM_FIELDS};
use crate::error::{Error, ErrorKind};
use crate::exec::flat::{Arena, Member};
use crate::exec::interp::{self, InputsAt, Rings, Rt, SlotSource, Stepping};
use crate::exec::temporal::{cells_needed, Site};
use crate::expr::Expr;
use crate::host::Functions;
use crate::host::NativeFn;
use crate::host::{Host, Scope, SlotIndex};
use crate::ir::IrNode;
use crate::options::Options;
use crate::sema::resolve_shared;
use crate::span::Span;
use crate::table::{Extrapolation, Table};

/// A computed series: its name, expression and the node `this.` refers to.
#[derive(Debug, Clone)]
struct SeriesDef {
    name: String,
    expr: Expr,
    node: Option<String>,
    /// The series a bare `this` means (a `[var.*]` key's own; none in a node's properties).
    this: Option<String>,
}

/// A model to compile: input series, constants, tables, user functions, and computed series in
/// evaluation order (a series sees this step's value of the series before it; reading one
/// computed later needs an offset `[-1, d]`).
#[derive(Debug, Clone)]
pub struct Model {
    calendar: Calendar,
    options: Options,
    inputs: Vec<String>,
    constants: Vec<(String, f64)>,
    tables: Vec<Arc<Table>>,
    functions: Functions,
    natives: Vec<Arc<NativeFn>>,
    series: Vec<SeriesDef>,
    state_budget: usize,
}

/// Every problem a model has, each against its own expression.
#[derive(Debug, Clone)]
pub struct ModelError {
    /// The series (or `""` for the model itself) and its error.
    pub errors: Vec<Error>,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelError {}

impl Model {
    /// The default [`Model::state_budget`]: 256 MiB, 32 million values of window state, far
    /// beyond a real model's (a window of 30 years of days is 10,958 values).
    pub const DEFAULT_STATE_BUDGET: usize = 256 << 20;

    /// Bounds the memory a run's state may take, in bytes: every call site of a stateful
    /// function (`moving_mean(x, n, d)` keeps `n` values, and a user function calling one has
    /// a site per call) adds to it. A model over the budget does not compile: its error says
    /// how much it needs. Protects a host from a few lines that ask for gigabytes.
    ///
    /// ```
    /// use kalix_expr_core::{Calendar, Date, Expr, Model};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.series("var.b.m", Expr::parse("moving_mean(data.x, 10000000, 0)")?).input("data.x");
    /// let err = model.state_budget(1 << 20).compile().unwrap_err();
    /// assert!(err.to_string().contains("80 MB"), "{err}");
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn state_budget(&mut self, bytes: usize) -> &mut Self {
        self.state_budget = bytes;
        self
    }

    /// An empty model on `calendar`, with model-file options (case-insensitive names).
    pub fn new(calendar: Calendar) -> Model {
        Model {
            calendar,
            options: Options::model(),
            inputs: Vec::new(),
            constants: Vec::new(),
            tables: Vec::new(),
            functions: Functions::default(),
            natives: Vec::new(),
            series: Vec::new(),
            state_budget: Model::DEFAULT_STATE_BUDGET,
        }
    }

    /// Replaces the options (division, domain errors, name case).
    pub fn options(&mut self, options: Options) -> &mut Self {
        self.options = options;
        self
    }

    /// Adds an input series (a column given to [`Program::run`], in the order added).
    pub fn input(&mut self, name: impl Into<String>) -> &mut Self {
        self.inputs.push(name.into());
        self
    }

    /// Adds a constant, fixed for a run (`const.k`).
    pub fn constant(&mut self, name: impl Into<String>, value: f64) -> &mut Self {
        self.constants.push((name.into(), value));
        self
    }

    /// Adds a lookup table, called as `table.<name>(…)`.
    pub fn table(&mut self, table: Table) -> &mut Self {
        self.tables.push(Arc::new(table));
        self
    }

    /// Sets the user functions, called as `fn.<name>(…)`.
    pub fn functions(&mut self, functions: Functions) -> &mut Self {
        self.functions = functions;
        self
    }

    /// Adds native functions from Rust, called by their bare names (`lin_range(x, lo, hi)`).
    ///
    /// ```
    /// use kalix_expr_core::{Calendar, Date, Expr, Model, NativeFn};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.natives(vec![NativeFn::pure("twice", 1, |a| a[0] * 2.0)?]);
    /// model.series("var.b.k", Expr::parse("twice(sim.step)")?);
    /// assert_eq!(model.compile().unwrap().run(&[], 2).unwrap().column_at(0), &[0.0, 2.0]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn natives(&mut self, natives: Vec<NativeFn>) -> &mut Self {
        self.natives.extend(natives.into_iter().map(Arc::new));
        self
    }

    /// Adds a computed series (`var.<block>.<key>`); a bare `this` in it is the series itself.
    pub fn series(&mut self, name: impl Into<String>, expr: Expr) -> &mut Self {
        let name = name.into();
        self.series.push(SeriesDef { this: Some(name.clone()), name, expr, node: None });
        self
    }

    /// Adds a probe: series `name` evaluating `expr` as if it were written in series `of`
    /// (added before it), so that `this` and `this.x` mean what they mean there. A tool that
    /// explains a series' value computes each part of it as a probe; nothing else reads one.
    /// Returns `false` (adding nothing) when there is no series `of`.
    ///
    /// ```
    /// # use kalix_expr_core::{Calendar, Date, Expr, Model};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.series("var.b.k", Expr::parse("this[-1, 0] + 1")?);
    /// assert!(model.probe("var.why.k0", Expr::parse("this[-1, 0]")?, "var.b.k"));
    /// let out = model.compile().unwrap().run(&[], 3).unwrap();
    /// assert_eq!(out.column_at(1), [0.0, 1.0, 2.0]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn probe(&mut self, name: impl Into<String>, expr: Expr, of: &str) -> bool {
        let Some(of) = self.series.iter().find(|s| s.name.eq_ignore_ascii_case(of)) else { return false };
        let (node, this) = (of.node.clone(), of.this.clone());
        self.series.push(SeriesDef { name: name.into(), expr, node, this });
        true
    }

    /// Adds a node property `node.<node>.<property>`; `this.x` in it is `node.<node>.x`.
    pub fn node_series(&mut self, node: &str, property: &str, expr: Expr) -> &mut Self {
        self.series.push(SeriesDef {
            name: format!("node.{node}.{property}"),
            expr,
            node: Some(format!("node.{node}")),
            this: None,
        });
        self
    }

    fn key(&self, name: &str) -> String {
        if self.options.case_insensitive {
            name.to_lowercase()
        } else {
            name.to_string()
        }
    }

    /// Checks every series at once and builds the [`Program`].
    pub fn compile(&self) -> Result<Program, ModelError> {
        let mut errors = Vec::new();
        // Slots: inputs, constants, sim fields, series.
        let mut names: Vec<&str> = Vec::new();
        let mut sources: Vec<SlotSource> = Vec::new();
        names.extend(self.inputs.iter().map(String::as_str));
        sources.extend((0..self.inputs.len()).map(SlotSource::Input));
        names.extend(self.constants.iter().map(|(n, _)| n.as_str()));
        sources.extend(self.constants.iter().map(|_| SlotSource::Fixed));
        names.extend(SIM_FIELDS.iter().copied());
        sources.extend(SIM_FIELDS.iter().map(|_| SlotSource::Fixed));
        let first_series = names.len();
        names.extend(self.series.iter().map(|s| s.name.as_str()));
        sources.extend((0..self.series.len()).map(SlotSource::Computed));
        let mut arena = Arena::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            if let Some(first) = seen.insert(self.key(n), i) {
                let src: Arc<str> = Arc::from(*n);
                errors.push(Error::new(
                    &src,
                    Span::new(0, n.len()),
                    ErrorKind::SeriesDuplicate { name: n.to_string() },
                    Some(format!("`{}` is defined more than once", names[first])),
                ));
            }
        }
        let series_index: HashMap<String, usize> =
            self.series.iter().enumerate().map(|(i, s)| (self.key(&s.name), i)).collect();

        let first_sim = self.inputs.len() + self.constants.len();
        let slots = SlotIndex::new(&names, self.options.case_insensitive);
        // The calendar fields are computed each step only when some expression reads one.
        let mut sim_used = false;
        let mut compiled = Vec::with_capacity(self.series.len());
        let mut all_sites: Vec<Site> = Vec::new();
        let mut state_len = 0;
        let mut max_locals = 0;
        // How far back offsets read each input and series, so a run keeps only that much.
        let mut input_lookback = vec![0usize; self.inputs.len()];
        let mut series_lookback = vec![0usize; self.series.len()];
        let mut future_inputs = false;
        // The offsets read at the start of each step (see below), and where each one is.
        let mut prefetch: Vec<(Prefetch, i64, f64, usize)> = Vec::new();
        let mut prefetch_at: HashMap<(Prefetch, i64, u64), usize> = HashMap::new();
        // Slots past the model's names: offsets read when a step starts, and the outputs of
        // stateful calls written after a series' advance pass.
        let mut extra = 0usize;
        // Per series the JIT can compile: its index in evaluation order, its slot, its program.
        #[cfg(feature = "jit")]
        let mut jit_programs: Vec<(usize, usize, Vec<kalix_expr_jit::Op>, bool)> = Vec::new();
        // The tables and natives their native code calls.
        #[cfg(feature = "jit")]
        let mut jit_callouts: Vec<Arc<dyn kalix_expr_jit::Callout>> = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let host = Host {
                tables: &self.tables,
                functions: Some(&self.functions),
                this_node: s.node.as_deref(),
                this_series: s.this.as_deref(),
                natives: &self.natives,
            };
            let resolved =
                resolve_shared(s.expr.ast(), s.expr.shared_source(), &Scope::Indexed(&slots), &host, &self.options);
            let mut ir = match resolved {
                Ok((ir, _)) => ir,
                Err(e) => {
                    errors.push(e.with_origin(s.name.clone()));
                    continue;
                }
            };
            if let Some(e) = self.read_ahead(i, s, &series_index) {
                errors.push(e.with_origin(s.name.clone()));
                continue;
            }
            let mut sites = Vec::new();
            ir.walk(&mut |n| match n {
                IrNode::Stateful { f, window, default, param, site, .. } => {
                    sites.push((*site, (*f, *window, *default, *param)))
                }
                IrNode::Slot(slot) if (first_sim..first_series).contains(slot) => sim_used = true,
                IrNode::Offset { slot, step, .. } => match sources.get(*slot) {
                    Some(SlotSource::Input(_)) if *step > 0 => future_inputs = true,
                    Some(SlotSource::Input(i)) => {
                        input_lookback[*i] = input_lookback[*i].max(step.unsigned_abs() as usize)
                    }
                    Some(SlotSource::Computed(k)) => {
                        series_lookback[*k] = series_lookback[*k].max(step.unsigned_abs() as usize);
                    }
                    _ => {}
                },
                _ => {}
            });
            // Indexed by site id. Folding can drop a call (`if(0, moving_sum(…), x)`), leaving a
            // gap: such ids get an empty placeholder that nothing reads.
            let n_ids = sites.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
            let mut by_id: Vec<Option<(crate::builtins::Stateful, usize, f64, f64)>> = vec![None; n_ids];
            for (id, site) in sites {
                by_id[id] = Some(site);
            }
            let sites: Vec<Site> = by_id
                .into_iter()
                .map(|site| match site {
                    Some((kind, window, default, param)) => {
                        let site = Site { kind, window, default, param, offset: state_len };
                        state_len = state_len.saturating_add(cells_needed(kind, window));
                        all_sites.push(site);
                        site
                    }
                    None => Site {
                        kind: crate::builtins::Stateful::StepsSince,
                        window: 0,
                        default: 0.0,
                        param: f64::NAN,
                        offset: 0,
                    },
                })
                .collect();
            // Offsets read only earlier steps (or an input's whole column), never a value of this
            // step: each distinct one is read once when the step starts, into a slot of its own
            // past the model's names, and the expression reads that slot. An expression whose
            // only link to the run was an offset is then pure: a node array, and native code.
            ir.rewrite(&mut |n| {
                let IrNode::Offset { slot, step, default } = *n else { return None };
                let source = match sources.get(slot) {
                    Some(SlotSource::Input(i)) if step != 0 => Prefetch::Input(*i),
                    Some(SlotSource::Computed(k)) if step < 0 => Prefetch::Series(*k),
                    _ => return None,
                };
                let slot = *prefetch_at.entry((source, step, default.to_bits())).or_insert_with(|| {
                    extra += 1;
                    prefetch.push((source, step, default, names.len() + extra - 1));
                    names.len() + extra - 1
                });
                Some(IrNode::Slot(slot))
            });
            // A result with stateful calls and no statement: its advance pass moves every call
            // site to this step, then the result reads each call's output, which the run writes
            // to a slot of its own, so the rest of the result can be a node array (and native).
            // Likewise a Kalix table of one key and a calendar call (which cannot fail): the
            // interpreter evaluates each into a slot just before the rest of the result.
            let mut outputs: Vec<(Site, usize)> = Vec::new();
            let mut pre: Vec<(IrNode, usize)> = Vec::new();
            let mut split = None;
            if ir.stmts.is_empty() && ir.n_locals == 0 {
                let mut result = ir.clone();
                result.rewrite(&mut |n| {
                    match n {
                        IrNode::Stateful { site, .. } => outputs.push((*sites.get(*site)?, names.len() + extra)),
                        IrNode::Table { table, args, .. } if args.len() == 1 && table.is_kalix() => {
                            pre.push((n.clone(), names.len() + extra))
                        }
                        IrNode::Calendar { .. } => pre.push((n.clone(), names.len() + extra)),
                        _ => return None,
                    }
                    extra += 1;
                    Some(IrNode::Slot(names.len() + extra - 1))
                });
                if !outputs.is_empty() || !pre.is_empty() {
                    split = Some(result);
                }
            }
            ir.n_slots = ir.n_slots.max(names.len() + extra);
            if let Some(r) = &mut split {
                r.n_slots = ir.n_slots;
            }
            let stepping = Stepping { sources: &sources, sites: &sites, tables: &self.tables };
            let compiled_program = match &split {
                Some(result) => interp::Program::compile_stepping_split(&ir, result, &pre, &self.options, &stepping),
                None => interp::Program::compile_stepping(&ir, &self.options, &stepping),
            };
            match compiled_program {
                Ok(mut program) => {
                    max_locals = max_locals.max(program.n_locals);
                    // A node array joins the model's arena, so a step reads the series' nodes
                    // front to back (see `flat::Arena`).
                    let flat = program.move_into(&mut arena);
                    // Outputs are written only for a node array run after its advance pass; a
                    // closure tree reads the call sites itself.
                    let pre = flat.is_some() && program.advances();
                    if !pre {
                        outputs.clear();
                    }
                    // The JIT compiles what has a node array (pure once its offsets are slots,
                    // nothing that can fail), after its advance pass when it has one; and an
                    // expression with lookups that can miss (or be counted), asserts, or
                    // errors that strict options report, and nothing stateful: a lookup that
                    // would fail or count, or an error, makes the call bail, and the
                    // interpreter evaluates the series.
                    #[cfg(feature = "jit")]
                    {
                        let result = if flat.is_some() { split.as_ref().unwrap_or(&ir) } else { &ir };
                        let tape = crate::exec::batch::Tape::record(result, &self.options);
                        if let Some(ops) = tape.and_then(|t| crate::exec::jit::program(&t, &mut jit_callouts, true)) {
                            jit_programs.push((compiled.len(), first_series + i, ops, pre));
                        }
                    }
                    compiled.push(CompiledSeries {
                        name: s.name.clone(),
                        slot: first_series + i,
                        program,
                        flat,
                        outputs,
                        source: s.expr.shared_source().clone(),
                    });
                }
                Err(_) => {
                    let src = s.expr.shared_source();
                    let what = "an expression that cannot be compiled for the runtime";
                    errors.push(
                        Error::new(src, Span::new(0, src.len()), ErrorKind::LimitExceeded { what }, None)
                            .with_origin(s.name.clone()),
                    );
                }
            }
        }
        let state_bytes = state_len.saturating_mul(std::mem::size_of::<f64>());
        if state_bytes > self.state_budget {
            let src: Arc<str> = Arc::from("");
            let what = "the state of the model's windows is larger than its budget";
            let help = format!(
                "its stateful calls keep {} of values, over the budget of {} (Model::state_budget, \
                 --state-budget): shorten the windows, or call them from fewer places",
                megabytes(state_bytes),
                megabytes(self.state_budget)
            );
            errors.push(Error::new(&src, Span::default(), ErrorKind::LimitExceeded { what }, Some(help)));
        }
        if !errors.is_empty() {
            return Err(ModelError { errors });
        }
        let plan = compiled.iter().map(|s| (s.slot as u32, s.flat, s.flat.is_some() && s.program.advances())).collect();
        Ok(Program {
            calendar: self.calendar,
            inputs: self.inputs.clone(),
            constants: self.constants.iter().map(|(_, v)| *v).collect(),
            n_slots: names.len() + extra,
            prefetch,
            series: compiled,
            arena,
            state_len,
            sites: all_sites,
            sim_used,
            plan,
            kept: series_lookback
                .iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(|(k, _)| (k, first_series + k))
                .collect(),
            input_lookback,
            series_lookback,
            future_inputs,
            max_locals,
            tables: self.tables.clone(),
            engine: self.options.engine,
            #[cfg(feature = "jit")]
            jit_programs,
            #[cfg(feature = "jit")]
            jit_callouts,
            #[cfg(feature = "jit")]
            native: std::sync::OnceLock::new(),
        })
    }

    /// A series read without an offset before it is computed in the step.
    fn read_ahead(&self, i: usize, s: &SeriesDef, series_index: &HashMap<String, usize>) -> Option<Error> {
        for n in s.expr.ast().nodes() {
            let NodeKind::Var(name) = &n.kind else { continue };
            let lower = name.text.to_lowercase();
            let text = if lower == "this" {
                s.this.clone().unwrap_or_default()
            } else if let (Some(rest), Some(node)) = (lower.strip_prefix("this."), &s.node) {
                format!("{node}.{rest}")
            } else {
                name.text.clone()
            };
            if let Some(&j) = series_index.get(&self.key(&text)) {
                if j >= i {
                    let later = if j == i { "itself" } else { "a series computed later in the step" };
                    return Some(Error::new(
                        s.expr.shared_source(),
                        name.span,
                        ErrorKind::SeriesReadAhead { name: name.text.clone(), later },
                        Some(format!("read the previous step's value with an offset: `{}[-1, 0]`", name.text)),
                    ));
                }
            }
        }
        None
    }
}

struct CompiledSeries {
    name: String,
    slot: usize,
    /// Its program; when `flat` is set, its nodes are in the model's arena and only its advance
    /// pass is run (see `outputs`).
    program: interp::Program,
    flat: Option<Member>,
    /// With `flat`, its stateful calls: after its advance pass, each one's output is written to
    /// its slot, where the nodes read it. Empty when there is no advance pass to run.
    outputs: Vec<(Site, usize)>,
    source: Arc<str>,
}

/// A compiled model: immutable and `Send + Sync`. Each [`Program::run`] has its own state.
pub struct Program {
    calendar: Calendar,
    inputs: Vec<String>,
    constants: Vec<f64>,
    n_slots: usize,
    series: Vec<CompiledSeries>,
    /// The node arrays of every series that has one, in order of evaluation.
    arena: Arena,
    state_len: usize,
    sites: Vec<Site>,
    sim_used: bool,
    max_locals: usize,
    /// Per input and per series: the largest offset into its past that an expression reads.
    input_lookback: Vec<usize>,
    series_lookback: Vec<usize>,
    /// Whether an expression reads an input's future (`x[1, d]`), which only a run over whole
    /// input columns can give.
    future_inputs: bool,
    /// Per series, in evaluation order, what a step reads: its slot, for a series in the arena
    /// where, and whether its advance pass runs first (a compact array, so a step walks 16
    /// bytes a series, not the whole series).
    plan: Vec<(u32, Option<Member>, bool)>,
    /// The series whose past some offset reads: their index and slot.
    kept: Vec<(usize, usize)>,
    /// The model's tables, for the report of lookups outside their keys.
    tables: Vec<Arc<Table>>,
    /// The engine its runs use (see [`Program::set_engine`]).
    engine: crate::Engine,
    /// The offsets `x[k, d]` of the model, each read into its slot when a step starts: what,
    /// how many steps away, the default, the slot.
    prefetch: Vec<(Prefetch, i64, f64, usize)>,
    /// The series the JIT can compile: index in evaluation order, slot, program, and whether
    /// its advance pass runs first.
    #[cfg(feature = "jit")]
    jit_programs: Vec<(usize, usize, Vec<kalix_expr_jit::Op>, bool)>,
    /// The tables and natives their code calls.
    #[cfg(feature = "jit")]
    jit_callouts: Vec<Arc<dyn kalix_expr_jit::Callout>>,
    /// Their native code, built when the first run under the JIT starts.
    #[cfg(feature = "jit")]
    native: std::sync::OnceLock<Option<StepNative>>,
}

/// What an offset reads: an input's column or past, or a series' past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Prefetch {
    Input(usize),
    Series(usize),
}

/// A model's series compiled by the JIT: runs of consecutive series in evaluation order, each
/// run in blocks of up to [`kalix_expr_jit::NativeSet::BLOCK`] series, one function a block,
/// writing each series' value into the step's values in place.
#[cfg(feature = "jit")]
struct StepNative {
    set: kalix_expr_jit::NativeSet,
    /// Per series in evaluation order: the block that starts at it, or `u32::MAX`.
    starts: Vec<u32>,
    /// Per block: how many series it computes.
    lens: Vec<u32>,
}

#[cfg(feature = "jit")]
impl StepNative {
    /// Compiles `programs` (see `Program::jit_programs`) of a model with `n_series` series
    /// reading `n_slots` values; `None` when there are none or Cranelift fails.
    fn compile(
        programs: &[(usize, usize, Vec<kalix_expr_jit::Op>, bool)],
        callouts: &[Arc<dyn kalix_expr_jit::Callout>],
        n_series: usize,
        n_slots: usize,
    ) -> Option<Self> {
        use kalix_expr_jit::NativeSet;
        // Runs of consecutive series, cut into blocks.
        let mut blocks: Vec<Vec<(usize, Vec<kalix_expr_jit::Op>)>> = Vec::new();
        let mut firsts = Vec::new();
        let mut last: Option<usize> = None;
        for (index, slot, ops, pre) in programs {
            let follows = last.is_some_and(|l| l + 1 == *index);
            let full = blocks.last().is_some_and(|b| b.len() >= NativeSet::BLOCK);
            // A series with an advance pass starts a block: the pass runs before the call.
            if !follows || full || *pre {
                blocks.push(Vec::new());
                firsts.push(*index);
            }
            if let Some(b) = blocks.last_mut() {
                b.push((*slot, ops.clone()));
            }
            last = Some(*index);
        }
        if blocks.is_empty() {
            return None;
        }
        let refs: Vec<&[(usize, Vec<kalix_expr_jit::Op>)]> = blocks.iter().map(Vec::as_slice).collect();
        let set = NativeSet::compile_blocks(&refs, n_slots, n_slots, callouts).ok()?;
        let mut starts = vec![u32::MAX; n_series];
        for (b, &first) in firsts.iter().enumerate() {
            *starts.get_mut(first)? = u32::try_from(b).ok()?;
        }
        let lens = blocks.iter().map(|b| u32::try_from(b.len()).ok()).collect::<Option<Vec<_>>>()?;
        Some(StepNative { set, starts, lens })
    }
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program")
            .field("inputs", &self.inputs)
            .field("series", &self.series_names().collect::<Vec<_>>())
            .finish()
    }
}

/// A run that stopped: the step, its date, the series and why.
#[derive(Debug, Clone)]
pub struct RunError {
    /// The 0-based step.
    pub step: usize,
    /// The step's date.
    pub date: Date,
    /// The series whose expression failed.
    pub series: String,
    /// What failed and where in the series' expression.
    pub error: Error,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "run stopped at step {} ({}) in `{}`:", self.step, self.date, self.series)?;
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for RunError {}

/// The computed series of a run, one column each, in model order.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    names: Vec<String>,
    steps: usize,
    data: Vec<f64>,
    outside: Vec<OutsideLookups>,
}

/// How often a run looked up a table (one that reports them, [`Table::reports_outside`])
/// outside its keys, clamping or extrapolating.
#[derive(Debug, Clone, PartialEq)]
pub struct OutsideLookups {
    /// The table's name.
    pub table: String,
    /// What the lookups gave.
    pub extrapolation: Extrapolation,
    /// How many lookups.
    pub count: u64,
    /// The step of the first.
    pub first_step: usize,
    /// Its date.
    pub first_date: Date,
}

impl fmt::Display for OutsideLookups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.extrapolation {
            Extrapolation::Linear => "extrapolated",
            _ => "clamped",
        };
        let s = if self.count == 1 { "" } else { "s" };
        write!(
            f,
            "`table.{}`: {} lookup{s} outside its keys {what}, the first on {}",
            self.table, self.count, self.first_date
        )
    }
}

impl Outputs {
    /// The series names, in model order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// The number of steps.
    pub fn steps(&self) -> usize {
        self.steps
    }
    /// The column of series `i`.
    pub fn column_at(&self, i: usize) -> &[f64] {
        &self.data[i * self.steps..(i + 1) * self.steps]
    }
    /// The column of the series named `name` (matched case-insensitively).
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name)).map(|i| self.column_at(i))
    }
    /// The lookups outside a reporting table's keys, one entry per table that had any.
    pub fn outside_lookups(&self) -> &[OutsideLookups] {
        &self.outside
    }
}

/// `bytes` in words: `80 MB`, `1.5 GB`, `512 kB`.
fn megabytes(bytes: usize) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

impl Program {
    /// The bytes a run's state takes (the windows and accumulators of stateful calls), as
    /// bounded by [`Model::state_budget`]; what `kexpr check` reports.
    pub fn state_bytes(&self) -> usize {
        self.state_len * std::mem::size_of::<f64>()
    }

    /// The most values (steps × series) one run may produce: about 2 GB of outputs. A larger
    /// run is an error before anything is allocated, never an abort.
    pub const MAX_RUN_VALUES: usize = 250_000_000;

    /// How many steps pass between two calls of [`Program::run_with`]'s progress callback.
    pub const PROGRESS_EVERY: usize = 4096;

    /// The input series, in the order [`Program::run`] takes their columns.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The computed series, in evaluation order.
    pub fn series_names(&self) -> impl Iterator<Item = &str> {
        self.series.iter().map(|s| s.name.as_str())
    }

    /// The calendar.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Runs `steps` steps over `inputs` (one column per input, in [`Program::inputs`] order;
    /// a column shorter than the run reads NaN past its end) and returns every series.
    ///
    /// Allocates the run's state and output once; the steps themselves allocate nothing.
    pub fn run(&self, inputs: &[&[f64]], steps: usize) -> Result<Outputs, RunError> {
        self.run_with(inputs, steps, &mut |_| {})
    }

    /// [`Program::run`], calling `progress(steps_done)` every [`Program::PROGRESS_EVERY`] steps
    /// and at the end (for a progress bar).
    ///
    /// ```
    /// # use kalix_expr_core::{Calendar, Date, Expr, Model};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.series("var.b.k", Expr::parse("sim.step * 2")?);
    /// let mut seen = Vec::new();
    /// model.compile().unwrap().run_with(&[], 5000, &mut |done| seen.push(done)).unwrap();
    /// assert_eq!(seen, vec![4096, 5000]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn run_with(
        &self,
        inputs: &[&[f64]],
        steps: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Outputs, RunError> {
        self.run_on(&self.calendar, inputs, steps, progress)
    }

    /// [`Program::run_with`] on another calendar: the same compiled program runs from any
    /// start date, so a host compiles a model once however many runs it makes.
    ///
    /// ```
    /// # use kalix_expr_core::{Calendar, Date, Expr, Model};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.series("var.b.m", Expr::parse("sim.month")?);
    /// let program = model.compile().unwrap();
    /// let july = Calendar::daily(Date::new(2001, 7, 31).unwrap());
    /// let out = program.run_on(&july, &[], 2, &mut |_| {}).unwrap();
    /// assert_eq!(out.column_at(0), [7.0, 8.0]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn run_on(
        &self,
        calendar: &Calendar,
        inputs: &[&[f64]],
        steps: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Outputs, RunError> {
        let n_series = self.series.len();
        let cells = n_series.checked_mul(steps).filter(|&c| c <= Self::MAX_RUN_VALUES);
        let Some(cells) = cells else {
            return Err(self.too_large(calendar, steps));
        };
        if n_series == 0 {
            // Nothing to compute: no step is run, however many are asked for.
            return Ok(Outputs { names: Vec::new(), steps, data: Vec::new(), outside: Vec::new() });
        }
        let mut data = vec![f64::NAN; cells];
        let mut run = Run::new(self, *calendar, Some(inputs));
        for t in 0..steps {
            run.eval_all()?;
            for (k, v) in run.series_values().enumerate() {
                data[k * steps + t] = v;
            }
            run.advance();
            if (t + 1) % Self::PROGRESS_EVERY == 0 {
                progress(t + 1);
            }
        }
        if steps % Self::PROGRESS_EVERY != 0 {
            progress(steps);
        }
        let outside = run.outside_lookups();
        Ok(Outputs { names: self.series.iter().map(|s| s.name.clone()).collect(), steps, data, outside })
    }

    /// Starts a run that its host steps, one timestep at a time: the simulator's loop. At each
    /// step the host sets the inputs it computed ([`Run::set_input`], by the index
    /// [`Program::input_index`] gives once), evaluates the series ([`Run::eval_until`] for a
    /// group, so it can interleave its own computations, or [`Run::eval_all`]), reads them
    /// ([`Run::value`]) and moves on ([`Run::next_step`]). Offsets read the inputs' and series'
    /// past, windows and `*_since` advance once a step, and `sim.*` follows the calendar from
    /// `start`. A step allocates nothing; the run keeps of each series only as many past values
    /// as the largest offset that reads it. `Run` is `Send`: independent runs go on threads.
    ///
    /// Refused when an expression reads an input's future (`x[1, d]`): only
    /// [`Program::run`], over whole input columns, can give it.
    ///
    /// ```
    /// # use kalix_expr_core::{Calendar, Date, Expr, Model};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.input("node.dam.dsflow");
    /// model.series("var.b.avg", Expr::parse("moving_mean(node.dam.dsflow, 2, 0)")?);
    /// model.series("var.b.prev", Expr::parse("node.dam.dsflow[-1, -1] + var.b.avg[-1, 0]")?);
    /// let program = model.compile().unwrap();
    /// let dsflow = program.input_index("node.dam.dsflow").unwrap();
    /// let mut run = program.start(Date::new(2000, 1, 1).unwrap()).unwrap();
    /// let mut seen = Vec::new();
    /// for flow in [10.0, 20.0, 30.0] {
    ///     run.set_input(dsflow, flow); // computed by the simulation during the step
    ///     run.eval_all().unwrap();
    ///     seen.push((run.value(0), run.value(1)));
    ///     run.next_step().unwrap();
    /// }
    /// assert_eq!(seen, [(5.0, -1.0), (15.0, 15.0), (25.0, 35.0)]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn start(&self, start: Date) -> Result<Run<'_>, RunError> {
        let calendar = Calendar { start, ..self.calendar };
        if self.future_inputs {
            let what = "an expression reads an input's future (`x[1, d]`), which a stepped run cannot give";
            let help = "run it over whole input columns with Program::run".to_string();
            return Err(RunError {
                step: 0,
                date: start,
                series: String::new(),
                error: Error::from_parts("", Span::default(), ErrorKind::LimitExceeded { what }, Some(help)),
            });
        }
        Ok(Run::new(self, calendar, None))
    }

    /// [`Program::start`] over whole input columns (in [`Program::inputs`] order; NaN past a
    /// column's end), which also give the inputs' future: the host evaluates and reads each
    /// step as from `start`, and the inputs come from the columns (what [`Program::run`] and a
    /// streaming `kexpr run` do).
    pub fn start_over<'p>(&'p self, start: Date, columns: &[&'p [f64]]) -> Run<'p> {
        Run::new(self, Calendar { start, ..self.calendar }, Some(columns))
    }

    /// Sets the engine its runs use from now on: [`Engine::Jit`](crate::Engine::Jit) (the
    /// default where the `jit` feature is built) compiles the series the JIT can compile
    /// (all but impure natives, and windows or calendar calls inside a block or beside a
    /// lookup that can fail) when a run
    /// reaches step [`JIT_AFTER`](crate::JIT_AFTER), or at once when asked
    /// ([`Program::engine`]), and the interpreter evaluates the rest; [`Engine::Interpreter`]
    /// (crate::Engine::Interpreter) evaluates them all. The results are the same bits.
    ///
    /// ```
    /// # use kalix_expr_core::{Calendar, Date, Engine, Expr, Model};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.series("var.b.k", Expr::parse("sim.step * 2")?);
    /// let mut program = model.compile().unwrap();
    /// program.set_engine(Engine::Interpreter);
    /// assert_eq!(program.jit_now(), Engine::Interpreter);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn set_engine(&mut self, engine: crate::Engine) -> &mut Self {
        self.engine = engine;
        self
    }

    /// The engine of its runs now: [`Engine::Jit`](crate::Engine::Jit) once the series the
    /// JIT compiles are compiled (by a run reaching step [`JIT_AFTER`](crate::JIT_AFTER), or
    /// by [`Program::jit_now`]) and its engine is the JIT, else the interpreter.
    /// [`Program::native_series`] says how many series are native.
    pub fn engine(&self) -> crate::Engine {
        if self.native_series() > 0 {
            crate::Engine::Jit
        } else {
            crate::Engine::Interpreter
        }
    }

    /// Compiles the series the JIT compiles now, skipping the warm-up, when its engine is the
    /// JIT: runs started after it are native from their first step. The engine it gives runs.
    ///
    /// ```
    /// # use kalix_expr_core::{Calendar, Date, Engine, Expr, Model};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.input("rain");
    /// model.series("var.a", Expr::parse("max(0, rain - 2)")?);
    /// let program = model.compile().unwrap();
    /// let engine = program.jit_now(); // the JIT where it is built in
    /// assert_eq!(engine, program.engine());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn jit_now(&self) -> crate::Engine {
        #[cfg(feature = "jit")]
        let _ = self.native();
        self.engine()
    }

    /// How many series a run evaluates as native code: 0 under the interpreter, and until
    /// they are compiled (see [`Program::engine`]).
    ///
    /// ```
    /// # use kalix_expr_core::{Calendar, Date, Engine, Expr, Model};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.input("rain");
    /// model.series("var.a", Expr::parse("max(0, rain - 2)")?); // pure: native under the JIT
    /// model.series("var.b", Expr::parse("{ r = rain; assert(r >= 0); r }")?); // a block: native too
    /// let program = model.compile().unwrap();
    /// let native = if program.jit_now() == Engine::Jit { 2 } else { 0 };
    /// assert_eq!(program.native_series(), native);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn native_series(&self) -> usize {
        #[cfg(feature = "jit")]
        if let Some(n) = self.native.get().and_then(Option::as_ref).filter(|_| self.engine == crate::Engine::Jit) {
            return n.lens.iter().map(|&l| l as usize).sum();
        }
        0
    }

    /// Its native code, built on first use when its engine is the JIT.
    #[cfg(feature = "jit")]
    fn native(&self) -> Option<&StepNative> {
        if self.engine != crate::Engine::Jit {
            return None;
        }
        self.native
            .get_or_init(|| {
                StepNative::compile(&self.jit_programs, &self.jit_callouts, self.series.len(), self.n_slots)
            })
            .as_ref()
    }

    /// The index of input `name` (matched as the model matches names), for [`Run::set_input`].
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|n| n.eq_ignore_ascii_case(name))
    }

    /// The index of series `name` in evaluation order, for [`Run::value`] and
    /// [`Run::eval_until`].
    pub fn series_index(&self, name: &str) -> Option<usize> {
        self.series.iter().position(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// A run whose outputs would not fit the bound: an error, before anything is allocated.
    #[cold]
    fn too_large(&self, calendar: &Calendar, steps: usize) -> RunError {
        let what = "a run of more than 250,000,000 values (steps × series)";
        let help = format!("{steps} steps of {} series: run fewer steps at a time", self.series.len());
        RunError {
            step: 0,
            date: calendar.date(0),
            series: self.series.first().map(|s| s.name.clone()).unwrap_or_default(),
            error: Error::from_parts("", Span::default(), ErrorKind::LimitExceeded { what }, Some(help)),
        }
    }

    #[cold]
    fn run_error(&self, calendar: &Calendar, s: &CompiledSeries, step: usize, f: interp::Fault) -> RunError {
        RunError {
            step,
            date: calendar.date(step),
            series: s.name.clone(),
            error: s.program.fault_error(&s.source, f).with_origin(s.name.clone()),
        }
    }
}

/// A run stepped by its host, one timestep at a time (see [`Program::start`]).
pub struct Run<'p> {
    program: &'p Program,
    calendar: Calendar,
    /// The whole input columns, one per input, for a run over given inputs (they give the
    /// inputs' future).
    columns: Option<Vec<&'p [f64]>>,
    step: usize,
    /// Series evaluated so far in this step, in evaluation order.
    done: usize,
    values: Vec<f64>,
    state: Vec<Cell<f64>>,
    locals: Vec<Cell<f64>>,
    history: Rings,
    input_history: Rings,
    /// Per model table: lookups outside its keys and the first step of one.
    outside: Vec<Cell<(u64, usize)>>,
    /// The model's native code, when the run uses the JIT.
    #[cfg(feature = "jit")]
    native: Option<&'p StepNative>,
    /// Room for the values of a series' pre nodes (see `Run::advance_series`).
    scratch: Vec<Cell<f64>>,
}

impl fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run").field("step", &self.step).field("date", &self.date()).finish()
    }
}

impl<'p> Run<'p> {
    fn new(program: &'p Program, calendar: Calendar, columns: Option<&[&'p [f64]]>) -> Run<'p> {
        // One column per input, an empty one for each not given (it reads NaN).
        let columns = columns
            .map(|c| (0..program.inputs.len()).map(|i| c.get(i).copied().unwrap_or(&[][..])).collect::<Vec<_>>());
        let mut values = vec![0.0; program.n_slots];
        let first_const = program.inputs.len();
        values[first_const..first_const + program.constants.len()].copy_from_slice(&program.constants);
        let state: Vec<Cell<f64>> = (0..program.state_len).map(|_| Cell::new(0.0)).collect();
        for site in &program.sites {
            site.reset(&state);
        }
        let input_lookback: Vec<usize> =
            if columns.is_some() { vec![0; program.inputs.len()] } else { program.input_lookback.clone() };
        let mut run = Run {
            program,
            calendar,
            columns,
            step: 0,
            done: 0,
            values,
            state,
            locals: (0..program.max_locals).map(|_| Cell::new(0.0)).collect(),
            scratch: (0..program.series.iter().map(|s| s.program.n_pre()).max().unwrap_or(0))
                .map(|_| Cell::new(0.0))
                .collect(),
            history: Rings::new(&program.series_lookback),
            input_history: Rings::new(&input_lookback),
            outside: program.tables.iter().map(|_| Cell::new((0, 0))).collect(),
            // Native from the first step when a run (or `Program::engine`) built it already;
            // else from step `JIT_AFTER` (see `Run::advance`).
            #[cfg(feature = "jit")]
            native: program.native.get().and_then(Option::as_ref).filter(|_| program.engine == crate::Engine::Jit),
        };
        run.set_step_values();
        run
    }

    /// The values a step starts with: the calendar's fields, and the inputs of a run over
    /// whole columns (NaN past a column's end).
    fn set_step_values(&mut self) {
        if let Some(columns) = &self.columns {
            for (i, col) in columns.iter().enumerate() {
                self.values[i] = col.get(self.step).copied().unwrap_or(f64::NAN);
            }
        }
        self.set_calendar_fields();
        self.read_offsets();
    }

    /// Reads the model's offsets for this step into their slots: `k` steps away from an input's
    /// column (a run over whole columns) or past, or from a series' past; the default where that
    /// step is outside the run or the kept history.
    fn read_offsets(&mut self) {
        let p = self.program;
        let now = self.step;
        for &(source, step, default, slot) in &p.prefetch {
            let t = now as i64 + step;
            let v = if t < 0 {
                default
            } else {
                let t = t as usize;
                match (source, &self.columns) {
                    (Prefetch::Input(i), Some(columns)) => {
                        columns.get(i).and_then(|c| c.get(t)).copied().unwrap_or(default)
                    }
                    (Prefetch::Input(i), None) => self.input_history.get(i, t, now).unwrap_or(default),
                    (Prefetch::Series(k), _) => self.history.get(k, t, now).unwrap_or(default),
                }
            };
            self.values[slot] = v;
        }
    }

    fn set_calendar_fields(&mut self) {
        if self.program.sim_used {
            let first_sim = self.program.inputs.len() + self.program.constants.len();
            let fields = self.calendar.fields(self.step);
            self.values[first_sim..first_sim + fields.len()].copy_from_slice(&fields);
        }
    }

    /// The 0-based step.
    pub fn step(&self) -> usize {
        self.step
    }

    /// The date of the step.
    pub fn date(&self) -> Date {
        self.calendar.date(self.step)
    }

    /// Sets input `input` (an index from [`Program::input_index`]) for this step. An input not
    /// set keeps its value of the step before (NaN before it is first set is not guaranteed:
    /// it starts at 0). An index past the inputs is ignored.
    pub fn set_input(&mut self, input: usize, value: f64) {
        if input < self.program.inputs.len() {
            self.values[input] = value;
        }
    }

    /// Evaluates the series of this step that come before series `end` in evaluation order and
    /// are not evaluated yet: a group, so the host can compute its own values between groups
    /// (set the inputs a later group reads, then evaluate it). Each series is evaluated once a
    /// step, so its windows advance once.
    pub fn eval_until(&mut self, end: usize) -> Result<(), RunError> {
        let end = end.min(self.program.series.len());
        while self.done < end {
            #[cfg(feature = "jit")]
            if let Some(n) = self.native {
                // A block of native series that starts here and ends by `end`: one call. (A
                // group that ends inside a block is finished by the interpreter: same bits.)
                if let Some(&block) = n.starts.get(self.done) {
                    let len = n.lens.get(block as usize).map_or(usize::MAX, |&l| l as usize);
                    if block != u32::MAX && self.done + len <= end {
                        // Only a block's first series may have an advance pass (see
                        // `StepNative::compile`).
                        if self.program.plan[self.done].2 {
                            self.advance_series(self.done);
                        }
                        if n.set.call_block_in_place(block as usize, &mut self.values) {
                            self.done += len;
                            continue;
                        }
                        // The call bailed (a lookup missed, or would be counted): the
                        // interpreter evaluates the block's series again, which writes each
                        // one's value over what the call left, and reports the error or counts
                        // the lookup. The first must not advance twice: its node array reads
                        // the outputs the pass wrote.
                        let block_end = self.done + len;
                        let (slot, flat, pre) = self.program.plan[self.done];
                        if let (true, Some(m)) = (pre, flat) {
                            self.values[slot as usize] = self.program.arena.eval_in_pass(m, &self.values);
                            self.done += 1;
                        }
                        while self.done < block_end {
                            self.eval_next()?;
                        }
                        continue;
                    }
                }
            }
            self.eval_next()?;
        }
        Ok(())
    }

    /// Evaluates the next series of the step in evaluation order.
    #[inline(always)]
    fn eval_next(&mut self) -> Result<(), RunError> {
        let p = self.program;
        let (slot, flat, pre) = p.plan[self.done];
        let v = match flat {
            // `values` holds every slot of the model, so the arena reads in bounds.
            Some(m) => {
                if pre {
                    self.advance_series(self.done);
                }
                p.arena.eval_in_pass(m, &self.values)
            }
            None => {
                let s = &p.series[self.done];
                s.program
                    .run_step(&self.values, &self.locals, &self.rt())
                    .map_err(|f| p.run_error(&self.calendar, s, self.step, f))?
            }
        };
        self.values[slot as usize] = v;
        self.done += 1;
        Ok(())
    }

    /// What the interpreter's step reads of the run.
    fn rt(&self) -> Rt<'_> {
        let inputs = match &self.columns {
            Some(columns) => InputsAt::Columns(columns),
            None => InputsAt::Past(&self.input_history),
        };
        Rt {
            step: self.step,
            inputs,
            history: &self.history,
            state: &self.state,
            calendar: &self.calendar,
            outside: &self.outside,
        }
    }

    /// Runs the advance pass of series `i` (split, its nodes in the arena) and writes its
    /// stateful calls' outputs to their slots, where its nodes read them.
    fn advance_series(&mut self, i: usize) {
        let s = &self.program.series[i];
        s.program.advance_step(&self.values, &self.locals, &self.rt());
        for &(site, slot) in &s.outputs {
            self.values[slot] = site.output(&self.state);
        }
        if s.program.n_pre() > 0 {
            s.program.pre_values(&self.values, &self.locals, &self.rt(), &self.scratch);
            for (slot, cell) in s.program.pre_slots().zip(&self.scratch) {
                self.values[slot] = cell.get();
            }
        }
    }

    /// [`Run::eval_all`], adding the nanoseconds each series took to `nanos` (one per series,
    /// in evaluation order; a shorter slice times the first ones only): a profile of the
    /// model. A slice one longer than the series gets in that last element what timing
    /// nothing took, measured the same way each step: the clock's own cost, for the host to
    /// take off each series' time (a cheap series costs less than reading the clock). Only a
    /// profiling host pays for the clock; [`Run::eval_all`] reads none.
    ///
    /// ```
    /// # use kalix_expr_core::{Calendar, Date, Expr, Model};
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.series("var.b.k", Expr::parse("sim.step * 2")?);
    /// let program = model.compile().unwrap();
    /// let mut run = program.start(Date::new(2000, 1, 1).unwrap()).unwrap();
    /// let mut nanos = vec![0u64; 2];
    /// run.eval_all_profiled(&mut nanos).unwrap();
    /// assert_eq!(run.value(0), 0.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn eval_all_profiled(&mut self, nanos: &mut [u64]) -> Result<(), RunError> {
        let end = self.program.series.len();
        if let Some(n) = nanos.get_mut(end) {
            let started = std::time::Instant::now();
            *n += std::hint::black_box(started).elapsed().as_nanos() as u64;
        }
        while self.done < end {
            let i = self.done;
            let started = std::time::Instant::now();
            self.eval_next()?;
            if let Some(n) = nanos.get_mut(i) {
                *n += started.elapsed().as_nanos() as u64;
            }
        }
        Ok(())
    }

    /// Evaluates every series of this step not evaluated yet.
    pub fn eval_all(&mut self) -> Result<(), RunError> {
        self.eval_until(self.program.series.len())
    }

    /// The value of series `series` (an index from [`Program::series_index`]) at this step, once
    /// evaluated (before, its value at the step before); NaN for an index past the series.
    pub fn value(&self, series: usize) -> f64 {
        self.program.series.get(series).map_or(f64::NAN, |s| self.values[s.slot])
    }

    /// The lookups so far outside the keys of the tables that report them
    /// ([`Table::reports_outside`]), one entry per table that had any: what a host reports at
    /// the end of a run.
    pub fn outside_lookups(&self) -> Vec<OutsideLookups> {
        self.program
            .tables
            .iter()
            .zip(&self.outside)
            .filter_map(|(t, cell)| {
                let (count, first) = cell.get();
                (count > 0).then(|| OutsideLookups {
                    table: t.name().to_string(),
                    extrapolation: t.extrapolation(),
                    count,
                    first_step: first,
                    first_date: self.calendar.date(first),
                })
            })
            .collect()
    }

    /// Every series' value, in evaluation order.
    pub fn series_values(&self) -> impl Iterator<Item = f64> + '_ {
        self.program.series.iter().map(|s| self.values[s.slot])
    }

    /// Finishes the step (evaluating any series not evaluated yet) and moves to the next one.
    pub fn next_step(&mut self) -> Result<(), RunError> {
        self.eval_all()?;
        self.advance();
        Ok(())
    }

    /// Records this step's values as history and moves on (every series is evaluated).
    fn advance(&mut self) {
        let p = self.program;
        for &(k, slot) in &p.kept {
            self.history.set(k, self.step, self.values[slot]);
        }
        if self.columns.is_none() {
            for i in 0..p.inputs.len() {
                if self.input_history.keeps(i) {
                    self.input_history.set(i, self.step, self.values[i]);
                }
            }
        }
        self.step += 1;
        self.done = 0;
        self.set_step_values();
        #[cfg(feature = "jit")]
        if self.step == crate::options::JIT_AFTER as usize && self.native.is_none() {
            // Past the warm-up: the run is long enough to pay for the native code.
            self.native = p.native();
        }
    }
}
