//! Why a series has its value at a step ([`CompiledModel::explain`]): every part of its
//! expression with its value at that step, where each input came from, which branch each `if`
//! took, which rows a table lookup read and what a window held.
//!
//! Each part is computed by the run itself, not by a second evaluator: the model is compiled
//! again with one probe series per part ([`kalix_expr_core::Model::probe`]), evaluated in the
//! context of the series it belongs to, right after it. A probe of a window or an accumulator
//! has its own state, advanced with the same arguments at every step, so it holds what the
//! series' own call holds. Runs are deterministic, so any step can be explained after the fact.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

use kalix_expr_core::ast::{Ast, Node, NodeKind, Stmt};
use kalix_expr_core::builtins::{self, Imp};
use kalix_expr_core::{Calendar, Date, Expr};
use serde::Serialize;

use crate::analyze::{build_probed, series_exprs};
use crate::diag::{Diagnostic, Kind};
use crate::format::format_value;
use crate::run::{CompiledModel, Data, RunRange};

/// The most values of a window's contents an explanation keeps (the newest).
pub const MAX_WINDOW_SHOWN: usize = 10_000;

/// Why series `series` has its value at `date`: its expression as a tree of parts, each with
/// its value, and (to the depth asked) the same for each series it reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The series' name.
    pub series: String,
    /// The date explained.
    pub date: String,
    /// Its 0-based step in the run.
    pub step: usize,
    /// The series' value at that step, as the run computed it.
    pub value: f64,
    /// The expression as written.
    pub expression: String,
    /// Its line in the model file.
    pub line: usize,
    /// The expression's parts.
    pub tree: Trace,
    /// The series it reads, explained in turn (empty past the depth asked).
    pub reads: Vec<Explanation>,
}

/// One part of an expression: its text, its value at the step, what it is, and its parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// The part as written.
    pub text: String,
    /// Its value at the step.
    pub value: f64,
    /// What it is and where its value came from.
    #[serde(flatten)]
    pub what: What,
    /// Its parts, in the order written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Trace>,
}

/// What a part of an expression is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum What {
    /// A number written in the expression.
    Literal,
    /// An operator applied to its operands.
    Operation,
    /// A block's value (its children are its statements, then its result).
    Block,
    /// A block's local, or a statement assigning one.
    Local {
        /// The local's name.
        name: String,
    },
    /// An input series: a data column or a value the simulator gives.
    Input {
        /// The name read.
        name: String,
        /// Where the run took it from (a data file's column), when known.
        source: Option<String>,
    },
    /// A `[const]` constant or a built-in constant (`pi`).
    Constant {
        /// Its name.
        name: String,
    },
    /// Another computed series, at this step.
    Series {
        /// Its name.
        name: String,
    },
    /// A field of the simulation calendar (`sim.month`).
    Calendar {
        /// The field's name.
        name: String,
    },
    /// `x[step, default]`: a value of another step.
    Offset {
        /// The series read.
        name: String,
        /// Steps away (negative is the past).
        step: i64,
        /// The date read, or `None` when that step is outside the run (the default is used).
        date: Option<String>,
    },
    /// A call of a pure built-in or a user function.
    Call {
        /// The function's name.
        function: String,
    },
    /// `if(c, a, b)`.
    If {
        /// `"then"` or `"else"`: the branch whose value it took.
        taken: String,
    },
    /// A lookup table.
    Table {
        /// The table.
        table: String,
        /// The rows (and columns) it read.
        lookup: String,
    },
    /// A `moving_*` window.
    Window {
        /// The function.
        function: String,
        /// The window's length.
        n: usize,
        /// Its values at the step, oldest first (the newest [`MAX_WINDOW_SHOWN`] of them),
        /// pre-fills included.
        contents: Vec<f64>,
    },
    /// A `*_since` accumulator.
    Accumulator {
        /// The function.
        function: String,
    },
}

/// How a part is computed: the probe series holding its value, or a literal.
#[derive(Debug, Clone)]
enum Part {
    Literal(f64),
    Probe(String),
}

/// A part of a traced series, before the run: its node's text, what it is, its value's source
/// and its parts.
#[derive(Debug, Clone)]
struct Plan {
    text: String,
    what: What,
    part: Part,
    children: Vec<Plan>,
    /// For a window: the probe of its first argument and the window's length and pre-fill.
    window: Option<(String, usize, f64)>,
}

/// What names mean in a model: series, constants, inputs.
struct Names {
    series: HashMap<String, usize>,
    constants: HashSet<String>,
}

impl CompiledModel<'_> {
    /// Explains the value of series `series` at `date` in a run over `data` for `range`:
    /// the run goes up to that step. `depth` follows the series it reads (0: this one only).
    ///
    /// ```
    /// use kalix_expr_model::{Data, ModelFile, RunRange};
    /// let model = ModelFile::from_text("m.ini", "[var.b]\nk = max(0, sim.step - 2) * 10\n");
    /// let range = RunRange { steps: Some(10), ..RunRange::default() };
    /// let date = kalix_expr_model::parse_date("2000-01-06").unwrap();
    /// let why = model.compile()?.explain(&Data::default(), range, "var.b.k", date, 0)?;
    /// assert_eq!((why.step, why.value), (5, 30.0));
    /// let max = &why.tree.children[0];
    /// assert_eq!((max.text.as_str(), max.value), ("max(0, sim.step - 2)", 3.0));
    /// # Ok::<(), Vec<kalix_expr_model::Diagnostic>>(())
    /// ```
    pub fn explain(
        &self,
        data: &Data,
        range: RunRange,
        series: &str,
        date: Date,
        depth: usize,
    ) -> Result<Explanation, Vec<Diagnostic>> {
        let m = self.model;
        let names = Names {
            series: m.series.iter().enumerate().map(|(i, s)| (s.name.to_lowercase(), i)).collect(),
            constants: m.constants.iter().map(|c| c.name.to_lowercase()).collect(),
        };
        let Some(&target) = names.series.get(&series.to_lowercase()) else {
            let close = crate::names::closest(series, m.series.iter().map(|s| s.name.as_str()));
            let d = Diagnostic::error(Kind::Run, None, format!("the model has no series `{series}`"));
            return Err(vec![match close {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help("name a `[var.*]` key (`var.block.key`) or a node property (`node.name.property`)"),
            }]);
        };
        // The series explained: the target, then those it reads, to `depth`.
        let mut order = vec![(target, 0)];
        let mut seen: HashSet<usize> = HashSet::from([target]);
        let mut plans: HashMap<usize, Plan> = HashMap::new();
        let mut probes: HashMap<usize, Vec<(String, Expr)>> = HashMap::new();
        let mut k = 0;
        while k < order.len() {
            let (i, d) = order[k];
            k += 1;
            let Some(expr) = m.series[i].expr.as_ref() else { continue };
            let mut planner = Planner { names: &names, series: i, expr, probes: Vec::new(), locals: Vec::new() };
            let plan = planner.plan_root();
            probes.insert(i, planner.probes);
            if d < depth {
                for r in reads(&plan, &names) {
                    if seen.insert(r) {
                        order.push((r, d + 1));
                    }
                }
            }
            plans.insert(i, plan);
        }
        // The model again, with the probes.
        let exprs = series_exprs(m);
        let calendar = Calendar::daily(m.start.unwrap_or(Date { year: 2000, month: 1, day: 1 }));
        let probed = build_probed(m, &self.analysis, &exprs, calendar, &probes);
        let program = probed
            .compile()
            .map_err(|e| vec![Diagnostic::error(Kind::Run, None, format!("cannot explain `{series}`: {e}"))])?;
        let (start, steps, columns) = self.prepare(data, range, self.analysis.inputs.len(), "inputs")?;
        let step = date.to_days() - start.to_days();
        if step < 0 || step >= steps as i64 {
            let last = start.add_days(steps as i64 - 1);
            return Err(vec![Diagnostic::error(
                Kind::Run,
                None,
                format!("{date} is outside the run ({start} to {last})"),
            )
            .with_help("give a date the run covers, or move the run with --start and --steps")]);
        }
        let step = step as usize;
        // The windows' contents: their first argument's values over the last n steps.
        let mut windows: HashMap<String, (usize, VecDeque<f64>)> = HashMap::new();
        for plan in plans.values() {
            collect_windows(plan, &mut windows);
        }
        let index = |name: &str| program.series_index(name);
        let window_index: Vec<(String, Option<usize>)> = windows.keys().map(|k| (k.clone(), index(k))).collect();
        let inputs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let mut run = program.start_over(start, &inputs);
        for t in 0..=step {
            run.eval_all().map_err(|e| vec![self.run_error(&e)])?;
            for (name, i) in &window_index {
                if let (Some((n, ring)), Some(i)) = (windows.get_mut(name), i) {
                    if ring.len() == (*n).min(MAX_WINDOW_SHOWN) {
                        ring.pop_front();
                    }
                    ring.push_back(run.value(*i));
                }
            }
            if t < step {
                run.next_step().map_err(|e| vec![self.run_error(&e)])?;
            }
        }
        let cal = Calendar::daily(start);
        let value_of = |name: &str| index(name).map_or(f64::NAN, |i| run.value(i));
        let tables: HashMap<String, &kalix_expr_core::Table> =
            m.tables.iter().map(|t| (t.name.to_lowercase(), &t.table)).collect();
        let ctx = Fill { value_of: &value_of, windows: &windows, calendar: &cal, step, tables: &tables, data };
        let mut done: HashMap<usize, Trace> = plans.iter().map(|(i, plan)| (*i, ctx.fill(plan))).collect();
        Ok(assemble(target, &mut done, &names, &|i| {
            let s = &m.series[i];
            let (line, _) = m.file.line_col(s.value.whole(&m.file).start);
            Explanation {
                series: s.name.clone(),
                date: cal.date(step).to_string(),
                step,
                value: value_of(&s.name),
                expression: s.value.as_str().to_string(),
                line,
                tree: Trace { text: String::new(), value: f64::NAN, what: What::Literal, children: Vec::new() },
                reads: Vec::new(),
            }
        }))
    }
}

/// The explanation of series `i` and (recursively) of the traced series it reads, each once.
fn assemble(
    i: usize,
    done: &mut HashMap<usize, Trace>,
    names: &Names,
    head: &dyn Fn(usize) -> Explanation,
) -> Explanation {
    let mut e = head(i);
    let Some(tree) = done.remove(&i) else { return e };
    let mut read = Vec::new();
    walk(&tree, &mut |t| {
        if let What::Series { name } | What::Offset { name, .. } = &t.what {
            if let Some(&r) = names.series.get(&name.to_lowercase()) {
                if !read.contains(&r) {
                    read.push(r);
                }
            }
        }
    });
    e.tree = tree;
    for r in read {
        if done.contains_key(&r) {
            e.reads.push(assemble(r, done, names, head));
        }
    }
    e
}

fn walk(t: &Trace, f: &mut dyn FnMut(&Trace)) {
    f(t);
    for c in &t.children {
        walk(c, f);
    }
}

/// The series a plan reads (by `Series` and `Offset` parts).
fn reads(plan: &Plan, names: &Names) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![plan];
    while let Some(p) = stack.pop() {
        if let What::Series { name } | What::Offset { name, .. } = &p.what {
            if let Some(&i) = names.series.get(&name.to_lowercase()) {
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
        stack.extend(p.children.iter().rev());
    }
    out
}

fn collect_windows(plan: &Plan, out: &mut HashMap<String, (usize, VecDeque<f64>)>) {
    if let Some((arg, n, _)) = &plan.window {
        out.entry(arg.clone()).or_insert_with(|| (*n, VecDeque::new()));
    }
    for c in &plan.children {
        collect_windows(c, out);
    }
}

/// What filling a plan with the run's values at `step` reads.
struct Fill<'a> {
    value_of: &'a dyn Fn(&str) -> f64,
    windows: &'a HashMap<String, (usize, VecDeque<f64>)>,
    calendar: &'a Calendar,
    step: usize,
    tables: &'a HashMap<String, &'a kalix_expr_core::Table>,
    data: &'a Data,
}

impl Fill<'_> {
    fn fill(&self, plan: &Plan) -> Trace {
        let children: Vec<Trace> = plan.children.iter().map(|c| self.fill(c)).collect();
        let value = match &plan.part {
            Part::Literal(v) => *v,
            Part::Probe(name) => (self.value_of)(name),
        };
        let what = match &plan.what {
            What::If { .. } => {
                let cond = children.first().map_or(f64::NAN, |c| c.value);
                What::If { taken: if builtins::truthy(cond) { "then" } else { "else" }.into() }
            }
            What::Table { table, .. } => {
                let args: Vec<f64> = children.iter().map(|c| c.value).collect();
                let lookup = self.tables.get(&table.to_lowercase()).map(|t| t.describe_lookup(&args));
                What::Table { table: table.clone(), lookup: lookup.unwrap_or_default() }
            }
            What::Window { function, n, .. } => {
                let (arg, _, default) = plan.window.clone().unwrap_or_default();
                let seen: Vec<f64> =
                    self.windows.get(&arg).map(|(_, ring)| ring.iter().copied().collect()).unwrap_or_default();
                // Before the window has seen n steps, its oldest values are the pre-fill.
                let shown = (*n).min(MAX_WINDOW_SHOWN);
                let mut contents = vec![default; shown.saturating_sub(seen.len())];
                contents.extend(seen.iter().skip(seen.len().saturating_sub(shown)));
                What::Window { function: function.clone(), n: *n, contents }
            }
            What::Offset { name, step: k, .. } => {
                let at = self.step as i64 + k;
                let date = (at >= 0).then(|| self.calendar.date(at as usize).to_string());
                What::Offset { name: name.clone(), step: *k, date }
            }
            What::Input { name, .. } => What::Input { name: name.clone(), source: self.data.source_of(name) },
            other => other.clone(),
        };
        Trace { text: plan.text.clone(), value, what, children }
    }
}

/// Builds the plan of one series: a probe for each part.
struct Planner<'a> {
    names: &'a Names,
    series: usize,
    expr: &'a Expr,
    probes: Vec<(String, Expr)>,
    /// The block's statements so far: each local's name and its `name = value` text.
    locals: Vec<(String, String)>,
}

impl Planner<'_> {
    fn plan_root(&mut self) -> Plan {
        match self.expr.ast() {
            Ast::Expr(node) => self.plan(node),
            Ast::Block(block) => {
                let mut children = Vec::new();
                for stmt in &block.stmts {
                    match stmt {
                        Stmt::Assign { name, value, span } => {
                            let value_plan = self.plan(value);
                            let text = self.text(*span);
                            children.push(Plan {
                                text: text.clone(),
                                what: What::Local { name: name.text.clone() },
                                part: value_plan.part.clone(),
                                children: vec![value_plan],
                                window: None,
                            });
                            self.locals.push((name.text.to_lowercase(), text));
                        }
                        Stmt::Assert { .. } => {}
                    }
                }
                let result = self.plan(&block.result);
                let part = result.part.clone();
                children.push(result);
                Plan { text: self.expr.source().to_string(), what: What::Block, part, children, window: None }
            }
        }
    }

    fn text(&self, span: kalix_expr_core::Span) -> String {
        self.expr.source().get(span.range()).unwrap_or_default().to_string()
    }

    /// A probe computing `node` in the series' context; with the block's statements so far in
    /// front when it reads one of their locals.
    fn probe(&mut self, node: &Node) -> Part {
        let text = self.text(node.span);
        let mut reads_local = false;
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            match &n.kind {
                NodeKind::Var(name) => reads_local |= self.locals.iter().any(|(l, _)| *l == name.text.to_lowercase()),
                NodeKind::Unary { operand, .. } => stack.push(operand),
                NodeKind::Binary { lhs, rhs, .. } => stack.extend([&**lhs, &**rhs]),
                NodeKind::Call { args, .. } => stack.extend(args),
                NodeKind::Number(_) | NodeKind::Offset { .. } => {}
            }
        }
        let source = if reads_local {
            let lets: Vec<&str> = self.locals.iter().map(|(_, t)| t.as_str()).collect();
            format!("{{ {}; {text} }}", lets.join("; "))
        } else {
            text
        };
        match Expr::parse(&source) {
            Ok(expr) => {
                let name = format!("var.why__{}.p{}", self.series, self.probes.len());
                self.probes.push((name.clone(), expr));
                Part::Probe(name)
            }
            Err(_) => Part::Literal(f64::NAN),
        }
    }

    fn plan(&mut self, node: &Node) -> Plan {
        let text = self.text(node.span);
        let leaf = |what: What, part: Part| Plan { text: text.clone(), what, part, children: Vec::new(), window: None };
        match &node.kind {
            NodeKind::Number(v) => leaf(What::Literal, Part::Literal(*v)),
            NodeKind::Var(name) => {
                let what = self.classify(&name.text);
                let part = self.probe(node);
                leaf(what, part)
            }
            NodeKind::Offset { name, step, .. } => {
                let resolved = self.resolve_this(&name.text);
                let part = self.probe(node);
                leaf(What::Offset { name: resolved, step: *step, date: None }, part)
            }
            NodeKind::Unary { operand, .. } => {
                let children = vec![self.plan(operand)];
                let part = self.probe(node);
                Plan { text, what: What::Operation, part, children, window: None }
            }
            NodeKind::Binary { lhs, rhs, .. } => {
                let children = vec![self.plan(lhs), self.plan(rhs)];
                let part = self.probe(node);
                Plan { text, what: What::Operation, part, children, window: None }
            }
            NodeKind::Call { name, args } => {
                let lower = name.text.to_lowercase();
                let children: Vec<Plan> = args.iter().map(|a| self.plan(a)).collect();
                let part = self.probe(node);
                let mut window = None;
                let what = if let Some(table) = lower.strip_prefix("table.") {
                    What::Table { table: table.to_string(), lookup: String::new() }
                } else if lower.starts_with("fn.") {
                    What::Call { function: name.text.clone() }
                } else {
                    match builtins::lookup(&lower).map(|b| b.imp) {
                        Some(Imp::If) => What::If { taken: String::new() },
                        Some(Imp::Stateful(kind)) if kind.is_window() => {
                            let n = literal(args.get(1)).unwrap_or(1.0) as usize;
                            let default = literal(args.last()).unwrap_or(f64::NAN);
                            if let Some(Part::Probe(arg)) = children.first().map(|c| c.part.clone()) {
                                window = Some((arg, n, default));
                            }
                            What::Window { function: lower.clone(), n, contents: Vec::new() }
                        }
                        Some(Imp::Stateful(_)) => What::Accumulator { function: lower.clone() },
                        _ => What::Call { function: lower.clone() },
                    }
                };
                Plan { text, what, part, children, window }
            }
        }
    }

    /// A bare `this` or `this.x` as the name it means in this series.
    fn resolve_this(&self, text: &str) -> String {
        let lower = text.to_lowercase();
        let s = &self.names.series.iter().find(|(_, &i)| i == self.series).map(|(n, _)| n.clone()).unwrap_or_default();
        if lower == "this" {
            return s.clone();
        }
        if let Some(rest) = lower.strip_prefix("this.") {
            // `node.<name>.<property>` → `node.<name>.<rest>`.
            if let Some(node) = s.strip_prefix("node.").and_then(|r| r.split_once('.')).map(|(n, _)| n) {
                return format!("node.{node}.{rest}");
            }
        }
        text.to_string()
    }

    /// What a name read without an offset is.
    fn classify(&self, text: &str) -> What {
        let name = self.resolve_this(text);
        let lower = name.to_lowercase();
        if self.locals.iter().any(|(l, _)| *l == lower) {
            What::Local { name }
        } else if self.names.series.contains_key(&lower) {
            What::Series { name }
        } else if self.names.constants.contains(&lower) || builtins::constant(&lower).is_some() {
            What::Constant { name }
        } else if lower.starts_with("sim.") {
            What::Calendar { name }
        } else {
            What::Input { source: None, name }
        }
    }
}

fn literal(node: Option<&Node>) -> Option<f64> {
    match node?.kind {
        NodeKind::Number(v) => Some(v),
        _ => None,
    }
}

impl fmt::Display for Explanation {
    /// The explanation as `kexpr why` prints it: a line for the series, then its parts as a
    /// tree, each with its value and where it came from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} = {} on {} (step {}), line {}",
            self.series,
            format_value(self.value),
            self.date,
            self.step,
            self.line
        )?;
        write_trace(f, &self.tree, "", "", true)?;
        for r in &self.reads {
            writeln!(f)?;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// One part and its parts, indented as a tree.
fn write_trace(f: &mut fmt::Formatter<'_>, t: &Trace, lead: &str, branch: &str, root: bool) -> fmt::Result {
    let note = match &t.what {
        What::Literal | What::Operation | What::Block => String::new(),
        What::Local { name } if t.text.to_lowercase() == name.to_lowercase() => "local".to_string(),
        What::Local { .. } => String::new(),
        What::Input { source: Some(s), .. } => format!("input, {s}"),
        What::Input { .. } => "input".to_string(),
        What::Constant { .. } => "constant".to_string(),
        What::Series { .. } => "series, this step".to_string(),
        What::Calendar { .. } => "calendar".to_string(),
        What::Offset { name, date: Some(d), .. } => format!("`{name}` on {d}"),
        What::Offset { name, date: None, .. } => format!("`{name}` before the run: the default"),
        What::Call { .. } => String::new(),
        What::If { taken } => format!("took the `{taken}` branch"),
        What::Table { lookup, .. } => lookup.clone(),
        What::Window { n, contents, .. } => {
            let shown: Vec<String> = contents.iter().rev().take(8).rev().map(|v| format_value(*v)).collect();
            let more = if contents.len() > 8 { "…, " } else { "" };
            format!("window of {n}, oldest first: [{more}{}]", shown.join(", "))
        }
        What::Accumulator { .. } => "accumulated since the last reset".to_string(),
    };
    let note = if note.is_empty() { note } else { format!("   ({note})") };
    if root {
        writeln!(f, "{} = {}{note}", one_line(&t.text), format_value(t.value))?;
    } else {
        writeln!(f, "{lead}{branch}{} = {}{note}", one_line(&t.text), format_value(t.value))?;
    }
    // Literals add nothing under their parent.
    let shown: Vec<&Trace> = t.children.iter().filter(|c| !matches!(c.what, What::Literal)).collect();
    let next_lead =
        if root { String::new() } else { format!("{lead}{}", if branch == "└─ " { "   " } else { "│  " }) };
    for (i, c) in shown.iter().enumerate() {
        let last = i + 1 == shown.len();
        write_trace(f, c, &next_lead, if last { "└─ " } else { "├─ " }, false)?;
    }
    Ok(())
}

/// A part's text on one line (a block written over several lines is joined).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
