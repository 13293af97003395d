//! The interpreter: an [`Ir`] compiled once into a tree of closures, then run over a slice of
//! slot values. A pure result (no statement, local, assert, stateful call, table, native or
//! offset into a run) takes the contiguous node array of [`crate::exec::flat`] instead, which stays
//! fast when thousands of different expressions are evaluated in turn; this module keeps the
//! statements, the advance pass of stateful calls and everything that can fail.
//!
//! Why closures: each node becomes one boxed closure that calls its children directly, so a
//! step costs one indirect call per node and no `match` on an opcode. The common shapes are
//! specialised so that they cost a single closure: `slot op const`, `const op slot`,
//! `slot op slot`, and a one-argument built-in on a slot. Built-ins and operators are passed to
//! generic helpers as function items, so each specialised closure calls them inline.
//!
//! Evaluation allocates nothing: locals live in a small array on the stack, and errors (strict
//! division, domain errors, failed asserts) are recorded in a `Cell` and turned into an
//! [`Error`](crate::Error) only after the run.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::ast::BinaryOp;
use crate::builtins::{self, Imp, Stateful};
use crate::calendar::{days_in_month, Calendar};
use crate::exec::flat::{Arena, Flat, Member};
use crate::exec::temporal::{self, Site};
use crate::ir::{Ir, IrNode, IrStmt};
use crate::options::{DivByZero, DomainErrors, Options};
use crate::span::Span;
use crate::table::{Axis, Interpolation, Miss, Table};

/// Why an [`Ir`] cannot become a [`Program`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unsupported {
    /// A size limit of the program.
    Limit(&'static str),
    /// A calendar function, which needs the stepping runtime's date.
    Calendar(&'static str, Span),
}

/// The most locals a block may assign; they live in an array on the stack.
pub const MAX_LOCALS: usize = 64;
/// The most arguments of a slice built-in (`interp`) whose arguments are not all constants.
pub const MAX_SLICE_ARGS: usize = 64;

/// What one evaluation reads and where it records a failure.
pub(crate) struct Ctx<'a> {
    values: &'a [f64],
    locals: &'a [Cell<f64>],
    fault: &'a Cell<Option<Fault>>,
    /// The run, for the stepping runtime; `None` for a single evaluation.
    rt: Option<&'a Rt<'a>>,
}

/// What a step of a run adds to an evaluation: the step, the values of other steps (inputs and
/// computed series), the stateful functions' state and the calendar.
pub(crate) struct Rt<'a> {
    pub(crate) step: usize,
    /// Inputs at other steps.
    pub(crate) inputs: InputsAt<'a>,
    /// Computed series' past values, a ring each, by series index.
    pub(crate) history: &'a Rings,
    pub(crate) state: &'a [Cell<f64>],
    pub(crate) calendar: &'a Calendar,
    /// Per model table: lookups outside its keys so far and the first step of one.
    pub(crate) outside: &'a [Cell<(u64, usize)>],
}

impl Rt<'_> {
    /// Counts a lookup of model table `table` outside its keys.
    fn note_outside(&self, table: usize) {
        if let Some(cell) = self.outside.get(table) {
            let (count, first) = cell.get();
            cell.set((count + 1, if count == 0 { self.step } else { first }));
        }
    }
}

/// Where an offset reads an input from.
#[derive(Clone, Copy)]
pub(crate) enum InputsAt<'a> {
    /// The whole columns, past and future (a run over given inputs).
    Columns(&'a [&'a [f64]]),
    /// The past only, a ring each (a run stepped by its host, who sets each step's inputs).
    Past(&'a Rings),
}

/// One ring of past values per series (or input): as many as the largest offset that reads
/// it, so a run keeps bounded history however long it goes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rings {
    data: Vec<f64>,
    /// Per ring: its first cell in `data` and its length (0: nothing reads its past).
    layout: Vec<(usize, usize)>,
}

impl Rings {
    /// Rings of `lengths` cells.
    pub(crate) fn new(lengths: &[usize]) -> Rings {
        let mut layout = Vec::with_capacity(lengths.len());
        let mut at = 0usize;
        for &n in lengths {
            layout.push((at, n));
            at = at.saturating_add(n);
        }
        Rings { data: vec![f64::NAN; at], layout }
    }

    /// The value of ring `r` at step `t`, if the ring still holds it (`t` at most its length
    /// before `now`).
    #[inline]
    pub(crate) fn get(&self, r: usize, t: usize, now: usize) -> Option<f64> {
        let &(at, n) = self.layout.get(r)?;
        (t < now && now - t <= n).then(|| self.data[at + t % n])
    }

    /// Records the value of ring `r` at step `t`.
    #[inline]
    pub(crate) fn set(&mut self, r: usize, t: usize, value: f64) {
        if let Some(&(at, n)) = self.layout.get(r) {
            if n > 0 {
                self.data[at + t % n] = value;
            }
        }
    }

    /// Whether ring `r` keeps any past.
    pub(crate) fn keeps(&self, r: usize) -> bool {
        self.layout.get(r).is_some_and(|&(_, n)| n > 0)
    }
}

/// Where an offset `x[k, d]` on a slot reads from in a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SlotSource {
    /// Input column `n`: past and future.
    Input(usize),
    /// Computed series `n`: the past only.
    Computed(usize),
    /// Constants and `sim.*` take no offsets.
    Fixed,
}

/// How a model's expression is compiled for the stepping runtime.
pub(crate) struct Stepping<'a> {
    /// Per slot.
    pub(crate) sources: &'a [SlotSource],
    /// Per stateful call site of this expression (its `site` index).
    pub(crate) sites: &'a [Site],
    /// The model's tables: a reporting table's index here is its counter in [`Rt::outside`].
    pub(crate) tables: &'a [Arc<Table>],
}

/// Tables and assert texts met while compiling, for errors reported after a run fails.
#[derive(Default)]
struct Registry {
    tables: RefCell<Vec<Arc<Table>>>,
    asserts: RefCell<Vec<Option<Arc<str>>>>,
}

/// Why an evaluation failed, and where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fault {
    pub(crate) span: Span,
    pub(crate) kind: FaultKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FaultKind {
    DivisionByZero,
    Domain(&'static str, f64),
    /// The condition's value and the assert's index in [`Program::assert_context`].
    Assert(f64, usize),
    /// The table's index in [`Program::table`] and why its lookup has no value.
    Table(usize, Miss),
}

type Code = Box<dyn Fn(&Ctx<'_>) -> f64 + Send + Sync>;

enum Step {
    Let(usize, Code),
    Assert(Code, Span, usize),
}

/// How the result is computed.
enum Body {
    /// A pure expression's node array (see [`crate::exec::flat`]).
    Flat(Flat),
    /// A closure tree: everything else.
    Tree(Code),
}

/// A compiled, immutable program: `Send + Sync`, so one can be evaluated from many threads.
///
/// `repr(C)` keeps the fields a single evaluation reads (`pure`, `result`) first, in the first
/// cache line of a [`Compiled`](crate::Compiled), which also starts with its slot count: a host
/// evaluating thousands of expressions in turn then misses one line of each, not three.
#[repr(C)]
pub(crate) struct Program {
    /// Nothing can record a fault (strict options, asserts, 2D tables, inlined bodies), no
    /// statements, no locals, not stepping: see [`Program::is_pure`].
    pure: bool,
    result: Body,
    /// Each statement, after the advance of the stateful calls it holds (stepping only).
    steps: Vec<(Option<Code>, Step)>,
    result_advance: Option<Code>,
    /// Of a split program (see [`Program::compile_stepping_split`]): the parts of its result
    /// evaluated after the advance pass into slots the node array reads (table and calendar
    /// calls), each with its slot.
    pre: Vec<(Code, usize)>,
    pub(crate) n_locals: usize,
    pub(crate) n_slots: usize,
    tables: Vec<Arc<Table>>,
    asserts: Vec<Option<Arc<str>>>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program").field("statements", &self.steps.len()).field("slots", &self.n_slots).finish()
    }
}

impl Program {
    /// Compiles `ir`. `None` if the block has more than [`MAX_LOCALS`] locals or a slice
    /// built-in has more than [`MAX_SLICE_ARGS`] non-constant arguments.
    /// Compiles `ir` for single evaluations.
    pub(crate) fn compile(ir: &Ir, opts: &Options) -> Result<Program, Unsupported> {
        if ir.n_locals > MAX_LOCALS {
            return Err(Unsupported::Limit("a block may assign at most 64 locals"));
        }
        Program::build(ir, None, &[], opts, None)
    }

    /// Compiles `ir` for the stepping runtime: offsets read the run's columns and stateful
    /// calls keep state in the run.
    pub(crate) fn compile_stepping(ir: &Ir, opts: &Options, stepping: &Stepping<'_>) -> Result<Program, Unsupported> {
        Program::build(ir, None, &[], opts, Some(stepping))
    }

    /// [`Program::compile_stepping`] of an expression with no statement whose stateful calls
    /// write their outputs to slots: the advance pass is built from `ir` and the result from
    /// `result` (`ir` with each stateful call replaced by the slot its output is written to
    /// after the pass, by the runtime, and each of `pre`'s nodes, a table or calendar call, by
    /// the slot given with it). A result with nothing else of the run takes a node array (and
    /// the JIT); its program is then the advance pass and the `pre` nodes
    /// ([`Program::advance_step`], [`Program::pre_values`]).
    pub(crate) fn compile_stepping_split(
        ir: &Ir,
        result: &Ir,
        pre: &[(IrNode, usize)],
        opts: &Options,
        stepping: &Stepping<'_>,
    ) -> Result<Program, Unsupported> {
        Program::build(ir, Some(result), pre, opts, Some(stepping))
    }

    fn build(
        ir: &Ir,
        split: Option<&Ir>,
        pre: &[(IrNode, usize)],
        opts: &Options,
        stepping: Option<&Stepping<'_>>,
    ) -> Result<Program, Unsupported> {
        let reg = Registry::default();
        let o = Opts { div: opts.div_by_zero, domain: opts.domain_errors, stepping, reg: &reg };
        let mut steps = Vec::with_capacity(ir.stmts.len());
        for s in &ir.stmts {
            let step = match s {
                IrStmt::Let { local, value } => (advance(value, o)?, Step::Let(*local, code(value, o)?)),
                IrStmt::Assert { cond, span, context } => {
                    let id = o.assert_id(context);
                    (advance(cond, o)?, Step::Assert(code(cond, o)?, *span, id))
                }
            };
            steps.push(step);
        }
        let result_advance = advance(&ir.result, o)?;
        // The result evaluated after the advance pass: with its stateful calls read from slots
        // when split (the same values: the pass has moved every call site to this step).
        let split = split.filter(|_| ir.stmts.is_empty());
        let result_ir = split.map_or(&ir.result, |r| &r.result);
        let strict = opts.div_by_zero == DivByZero::Error || opts.domain_errors == DomainErrors::Error;
        let may_fault = strict || !ir.stmts.is_empty() || may_fault(result_ir);
        // One expression, no statement or local, nothing that can fail.
        let simple = !may_fault && ir.n_locals == 0 && steps.is_empty();
        let pure = simple && stepping.is_none();
        // The node array serves simple results in single evaluations and in runs alike (a run's
        // step reads its slot array as a single evaluation does; offsets and stateful calls
        // keep the closure tree).
        let flat = simple && if split.is_some() { !has_sites(result_ir) } else { result_advance.is_none() };
        // The pre nodes are evaluated only for a node array: a closure tree reads them itself.
        let pre: Vec<(Code, usize)> = match (flat, split) {
            (true, Some(_)) => pre.iter().map(|(n, slot)| Ok((code(n, o)?, *slot))).collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        let result = match flat.then(|| Flat::compile(result_ir, opts.div_by_zero, stepping.is_none())).flatten() {
            Some(flat) => Body::Flat(flat),
            None => Body::Tree(code(&ir.result, o)?),
        };
        Ok(Program {
            pure,
            steps,
            result,
            result_advance,
            pre,
            n_locals: ir.n_locals,
            n_slots: ir.n_slots,
            tables: reg.tables.into_inner(),
            asserts: reg.asserts.into_inner(),
        })
    }

    /// Moves the node array of a program whose result is one into `arena` (an
    /// [`ExprSet`](crate::ExprSet)'s or a model's); where it is there, or `None` when the
    /// program has no node array or the arena is full (then the program keeps it). After a
    /// move the program holds an empty array (it evaluates to NaN, and the owner never runs
    /// it). Such a program is all result: no statement, no local, nothing that can fail, so
    /// evaluating the nodes is all of a run, after its advance pass if it is split
    /// ([`Program::advance_step`]).
    pub(crate) fn move_into(&mut self, arena: &mut Arena) -> Option<Member> {
        match &mut self.result {
            Body::Flat(flat) => {
                let m = arena.push(flat)?;
                *flat = Flat::default();
                Some(m)
            }
            Body::Tree(_) => None,
        }
    }

    /// Whether a single evaluation is one call of the result (its node array or closure tree):
    /// no statements, no locals, nothing that can fail. Then [`Program::run_pure`] is all of it.
    #[inline(always)]
    pub(crate) fn is_pure(&self) -> bool {
        self.pure
    }

    /// Evaluates a pure program (see [`Program::is_pure`]) over `values` (at least `n_slots`
    /// long; checked by the caller).
    ///
    /// This is the hot path of [`Compiled::eval`](crate::Compiled::eval), kept small enough to
    /// inline into the caller's loop: one indirect call and nothing else. The general
    /// [`Program::run`] is out of line, because its stack array of locals and its fault checks
    /// made every evaluation pay a large stack frame (six saved registers, a 600-byte frame)
    /// even when it took the short path.
    #[inline(always)]
    pub(crate) fn run_pure(&self, values: &[f64]) -> f64 {
        match &self.result {
            Body::Flat(flat) => flat.eval(values),
            Body::Tree(code) => {
                let fault = Cell::new(None);
                code(&Ctx { values, locals: &[], fault: &fault, rt: None })
            }
        }
    }

    /// Evaluates over `values` (at least `n_slots` long; checked by the caller).
    #[inline(never)]
    pub(crate) fn run(&self, values: &[f64]) -> Result<f64, Fault> {
        if self.pure {
            return Ok(self.run_pure(values));
        }
        let fault = Cell::new(None);
        let value = if self.n_locals == 0 {
            let ctx = Ctx { values, locals: &[], fault: &fault, rt: None };
            self.run_steps(&ctx)
        } else {
            let locals: [Cell<f64>; MAX_LOCALS] = [const { Cell::new(0.0) }; MAX_LOCALS];
            let ctx = Ctx { values, locals: &locals, fault: &fault, rt: None };
            self.run_steps(&ctx)
        };
        match fault.get() {
            None => Ok(value),
            Some(f) => Err(f),
        }
    }

    /// Evaluates one step of a run: advances this expression's stateful calls, then evaluates.
    /// `locals` holds at least `n_locals` cells.
    /// Runs the advance pass of a split program ([`Program::compile_stepping_split`]) whose
    /// node array is in an arena: what a step does before the nodes are evaluated. Nothing
    /// in it can fail (its result has no statement).
    pub(crate) fn advance_step(&self, values: &[f64], locals: &[Cell<f64>], rt: &Rt<'_>) {
        if let Some(adv) = &self.result_advance {
            let fault = Cell::new(None);
            adv(&Ctx { values, locals, fault: &fault, rt: Some(rt) });
        }
    }

    /// Whether the program has an advance pass or pre nodes to run before its result.
    pub(crate) fn advances(&self) -> bool {
        self.result_advance.is_some() || !self.pre.is_empty()
    }

    /// Evaluates the pre nodes of a split program (after [`Program::advance_step`]) into
    /// `out`, a cell per node: what the runtime then writes to each node's slot (see
    /// [`Program::pre_slots`]). Nothing in them can fail (Kalix tables of one key, calendar
    /// calls).
    pub(crate) fn pre_values(&self, values: &[f64], locals: &[Cell<f64>], rt: &Rt<'_>, out: &[Cell<f64>]) {
        let fault = Cell::new(None);
        let ctx = Ctx { values, locals, fault: &fault, rt: Some(rt) };
        for ((code, _), cell) in self.pre.iter().zip(out) {
            cell.set(code(&ctx));
        }
    }

    /// The slots of the pre nodes, in order.
    pub(crate) fn pre_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.pre.iter().map(|(_, slot)| *slot)
    }

    /// How many pre nodes.
    pub(crate) fn n_pre(&self) -> usize {
        self.pre.len()
    }

    pub(crate) fn run_step(&self, values: &[f64], locals: &[Cell<f64>], rt: &Rt<'_>) -> Result<f64, Fault> {
        let fault = Cell::new(None);
        let ctx = Ctx { values, locals, fault: &fault, rt: Some(rt) };
        let value = self.run_steps(&ctx);
        match fault.get() {
            None => Ok(value),
            Some(f) => Err(f),
        }
    }

    #[inline(always)]
    fn run_steps(&self, ctx: &Ctx<'_>) -> f64 {
        for (adv, step) in &self.steps {
            if let Some(adv) = adv {
                adv(ctx);
            }
            match step {
                Step::Let(l, c) => ctx.locals[*l].set(c(ctx)),
                Step::Assert(c, span, id) => {
                    let v = c(ctx);
                    if v == 0.0 || v.is_nan() {
                        ctx.fault.set(Some(Fault { span: *span, kind: FaultKind::Assert(v, *id) }));
                        return f64::NAN;
                    }
                }
            }
            if ctx.fault.get().is_some() {
                return f64::NAN;
            }
        }
        if let Some(adv) = &self.result_advance {
            adv(ctx);
        }
        match &self.result {
            Body::Flat(flat) => flat.eval(ctx.values),
            Body::Tree(code) => code(ctx),
        }
    }

    /// The error a fault of this program reports, against `source` (the expression's text).
    pub(crate) fn fault_error(&self, source: &Arc<str>, f: Fault) -> crate::error::Error {
        use crate::error::ErrorKind;
        let kind = match f.kind {
            FaultKind::DivisionByZero => ErrorKind::DivisionByZero,
            FaultKind::Domain(function, arg) => ErrorKind::DomainError { function, arg },
            FaultKind::Assert(value, id) => ErrorKind::AssertFailed {
                condition: match self.assert_context(id) {
                    Some(text) => text.to_string(),
                    None => source.get(f.span.range()).unwrap_or_default().to_string(),
                },
                value,
            },
            FaultKind::Table(id, miss) => {
                let t = self.table(id);
                let table = t.map(|t| t.name().to_string()).unwrap_or_default();
                let join = |keys: &[f64]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ");
                match miss {
                    // Kalix's own error: a 2D column key matched exactly and missing.
                    Miss::NoKey { axis: Axis::Column, key }
                        if t.is_some_and(|t| t.interpolation().1 == Interpolation::Exact) =>
                    {
                        ErrorKind::TableKeyUnknown {
                            table,
                            key,
                            keys: t.map(|t| join(t.column_keys())).unwrap_or_default(),
                        }
                    }
                    Miss::NoKey { axis, key } => ErrorKind::TableKeyMissing {
                        table,
                        axis: axis.as_str(),
                        key,
                        nearest: t.map(|t| join(&t.nearest_keys(axis, key))).unwrap_or_default(),
                    },
                    Miss::OutOfRange { axis, key } => {
                        let (first, last) = t.map_or((f64::NAN, f64::NAN), |t| t.key_range(axis));
                        ErrorKind::TableOutOfRange { table, axis: axis.as_str(), key, first, last }
                    }
                }
            }
        };
        let help = match &kind {
            ErrorKind::TableOutOfRange { .. } => {
                Some("the table says `extrapolation = error`; `clamp` holds the end values, `linear` extends the end segments".into())
            }
            ErrorKind::TableKeyMissing { .. } => {
                Some("the table says its keys match exactly; `step` takes the next-lower key, `linear` interpolates".into())
            }
            _ => None,
        };
        crate::error::Error::new(source, f.span, kind, help)
    }

    /// The text a failed assert shows when it is not its source at its span.
    pub(crate) fn assert_context(&self, id: usize) -> Option<&str> {
        self.asserts.get(id).and_then(|c| c.as_deref())
    }

    /// A table met while compiling.
    pub(crate) fn table(&self, id: usize) -> Option<&Table> {
        self.tables.get(id).map(|t| &**t)
    }
}

#[derive(Clone, Copy)]
struct Opts<'a> {
    div: DivByZero,
    domain: DomainErrors,
    stepping: Option<&'a Stepping<'a>>,
    reg: &'a Registry,
}

impl Opts<'_> {
    fn assert_id(&self, context: &Option<Arc<str>>) -> usize {
        let mut a = self.reg.asserts.borrow_mut();
        a.push(context.clone());
        a.len() - 1
    }

    fn table_id(&self, table: &Arc<Table>) -> usize {
        let mut t = self.reg.tables.borrow_mut();
        match t.iter().position(|x| Arc::ptr_eq(x, table)) {
            Some(i) => i,
            None => {
                t.push(table.clone());
                t.len() - 1
            }
        }
    }
}

fn constant(c: f64) -> Code {
    Box::new(move |_| c)
}

/// A one-argument function, specialised for a slot argument.
fn un<F>(f: F, a: &IrNode, o: Opts<'_>) -> Result<Code, Unsupported>
where
    F: Fn(f64) -> f64 + Copy + Send + Sync + 'static,
{
    // Fused shapes: the argument is computed inside this closure instead of by a child one.
    // They cover most of the Kalix set: `sin(x * k)`, `exp(-a)`, `abs(sin(x * k))`. Only
    // operations that cannot fault (`+ - *`, and a one-argument built-in under default domain
    // rules) are fused, so strict options keep their checks.
    if let Some(arg) = leaf_arith(a) {
        return Ok(arg.fuse(f));
    }
    Ok(match a {
        IrNode::Neg(inner) => {
            let a = code(inner, o)?;
            Box::new(move |c| f(builtins::neg(a(c))))
        }
        IrNode::Call { f: g, args, .. } if o.domain == DomainErrors::Nan && matches!(g.imp, Imp::F1(_)) => {
            let Imp::F1(g) = g.imp else { unreachable!("matched above") };
            match leaf_arith(&args[0]) {
                Some(arg) => arg.fuse(move |x| f(g(x))),
                None => {
                    let a = code(&args[0], o)?;
                    Box::new(move |c| f(g(a(c))))
                }
            }
        }
        _ => {
            let a = code(a, o)?;
            Box::new(move |c| f(a(c)))
        }
    })
}

/// `slot`, or `slot op constant` with `op` one of `+ - *`: an argument a closure can compute
/// inline.
#[derive(Clone, Copy)]
enum LeafArith {
    Slot(usize),
    SlotConst(BinaryOp, usize, f64),
}

fn leaf_arith(a: &IrNode) -> Option<LeafArith> {
    match a {
        IrNode::Slot(i) => Some(LeafArith::Slot(*i)),
        IrNode::Binary { op: op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul), lhs, rhs, .. } => {
            match (&**lhs, &**rhs) {
                (IrNode::Slot(i), IrNode::Const(k)) => Some(LeafArith::SlotConst(*op, *i, *k)),
                _ => None,
            }
        }
        _ => None,
    }
}

impl LeafArith {
    /// A closure computing `f(self)`.
    fn fuse<F>(self, f: F) -> Code
    where
        F: Fn(f64) -> f64 + Copy + Send + Sync + 'static,
    {
        match self {
            LeafArith::Slot(i) => Box::new(move |c| f(c.values[i])),
            LeafArith::SlotConst(BinaryOp::Add, i, k) => Box::new(move |c| f(builtins::add(c.values[i], k))),
            LeafArith::SlotConst(BinaryOp::Sub, i, k) => Box::new(move |c| f(builtins::sub(c.values[i], k))),
            LeafArith::SlotConst(_, i, k) => Box::new(move |c| f(builtins::mul(c.values[i], k))),
        }
    }
}

/// A two-argument function, specialised for slot and constant operands.
fn bin<F>(f: F, a: &IrNode, b: &IrNode, o: Opts<'_>) -> Result<Code, Unsupported>
where
    F: Fn(f64, f64) -> f64 + Copy + Send + Sync + 'static,
{
    use IrNode::{Const, Slot};
    Ok(match (a, b) {
        (Slot(i), Const(k)) => {
            let (i, k) = (*i, *k);
            Box::new(move |c| f(c.values[i], k))
        }
        (Const(k), Slot(i)) => {
            let (i, k) = (*i, *k);
            Box::new(move |c| f(k, c.values[i]))
        }
        (Slot(i), Slot(j)) => {
            let (i, j) = (*i, *j);
            Box::new(move |c| f(c.values[i], c.values[j]))
        }
        (_, Const(k)) => {
            let (a, k) = (code(a, o)?, *k);
            Box::new(move |c| f(a(c), k))
        }
        (Const(k), _) => {
            let (k, b) = (*k, code(b, o)?);
            Box::new(move |c| f(k, b(c)))
        }
        (Slot(i), _) => {
            let (i, b) = (*i, code(b, o)?);
            Box::new(move |c| f(c.values[i], b(c)))
        }
        (_, Slot(j)) => {
            let (a, j) = (code(a, o)?, *j);
            Box::new(move |c| f(a(c), c.values[j]))
        }
        _ => {
            let (a, b) = (code(a, o)?, code(b, o)?);
            Box::new(move |c| f(a(c), b(c)))
        }
    })
}

/// Up to this many arguments, a fold is nested two-argument closures (specialised for slots and
/// constants); beyond it, one closure loops over the arguments, so a `sum` of 100,000 terms
/// neither nests 100,000 closures deep nor overflows the stack when called or dropped.
const NESTED_FOLD_MAX: usize = 8;

/// A left fold of `f` over `args`.
fn fold<F>(f: F, args: &[IrNode], o: Opts<'_>) -> Result<Code, Unsupported>
where
    F: Fn(f64, f64) -> f64 + Copy + Send + Sync + 'static,
{
    if args.len() > NESTED_FOLD_MAX {
        let codes: Vec<Code> = args.iter().map(|a| code(a, o)).collect::<Result<_, _>>()?;
        return Ok(Box::new(move |c| {
            let mut it = codes.iter();
            let first = it.next().map_or(f64::NAN, |a| a(c));
            it.fold(first, |acc, a| f(acc, a(c)))
        }));
    }
    let mut acc = match args {
        [a] => return code(a, o),
        [a, b, ..] => bin(f, a, b, o)?,
        [] => return Ok(constant(f64::NAN)),
    };
    for arg in &args[2..] {
        let next: Code = match arg {
            IrNode::Const(k) => {
                let k = *k;
                Box::new(move |c| f(acc(c), k))
            }
            IrNode::Slot(j) => {
                let j = *j;
                Box::new(move |c| f(acc(c), c.values[j]))
            }
            _ => {
                let b = code(arg, o)?;
                Box::new(move |c| f(acc(c), b(c)))
            }
        };
        acc = next;
    }
    Ok(acc)
}

/// Records a domain error when `f` gives NaN for an argument that is not NaN.
fn checked1(f: fn(f64) -> f64, name: &'static str, span: Span, a: Code) -> Code {
    Box::new(move |c| {
        let x = a(c);
        let y = f(x);
        if y.is_nan() && !x.is_nan() {
            c.fault.set(Some(Fault { span, kind: FaultKind::Domain(name, x) }));
        }
        y
    })
}

fn checked2(f: fn(f64, f64) -> f64, name: &'static str, span: Span, a: Code, b: Code) -> Code {
    Box::new(move |c| {
        let (x, y) = (a(c), b(c));
        let z = f(x, y);
        if z.is_nan() && !x.is_nan() && !y.is_nan() {
            c.fault.set(Some(Fault { span, kind: FaultKind::Domain(name, if name == "^" { y } else { x }) }));
        }
        z
    })
}

fn code(n: &IrNode, o: Opts<'_>) -> Result<Code, Unsupported> {
    stacker::maybe_grow(crate::parse::STACK_RED_ZONE, crate::parse::STACK_GROWTH, || code_inner(n, o))
}

fn code_inner(n: &IrNode, o: Opts<'_>) -> Result<Code, Unsupported> {
    Ok(match n {
        IrNode::Const(k) => constant(*k),
        IrNode::Slot(i) => {
            let i = *i;
            Box::new(move |c| c.values[i])
        }
        IrNode::Local(l) => {
            let l = *l;
            Box::new(move |c| c.locals[l].get())
        }
        IrNode::Offset { slot, step: 0, .. } => code(&IrNode::Slot(*slot), o)?,
        IrNode::Offset { slot, step, default } => match o.stepping.map(|s| s.sources[*slot]) {
            // A single evaluation has no past or future: a step other than 0 reads the default.
            None | Some(SlotSource::Fixed) => constant(*default),
            Some(SlotSource::Input(col)) => {
                let (step, default) = (*step, *default);
                Box::new(move |c| match c.rt {
                    Some(rt) => {
                        let t = rt.step as i64 + step;
                        match rt.inputs {
                            InputsAt::Columns(columns) => {
                                let column = columns[col];
                                if t >= 0 && (t as usize) < column.len() {
                                    column[t as usize]
                                } else {
                                    default
                                }
                            }
                            InputsAt::Past(rings) => {
                                if t >= 0 {
                                    rings.get(col, t as usize, rt.step).unwrap_or(default)
                                } else {
                                    default
                                }
                            }
                        }
                    }
                    None => default,
                })
            }
            Some(SlotSource::Computed(series)) => {
                let (step, default) = (*step, *default);
                Box::new(move |c| match c.rt {
                    Some(rt) if step < 0 => {
                        let t = rt.step as i64 + step;
                        if t >= 0 {
                            rt.history.get(series, t as usize, rt.step).unwrap_or(default)
                        } else {
                            default
                        }
                    }
                    _ => default,
                })
            }
        },
        IrNode::Neg(a) => un(builtins::neg, a, o)?,
        IrNode::Not(a) => un(builtins::not, a, o)?,
        IrNode::And(a, b) => {
            let (a, b) = (code(a, o)?, code(b, o)?);
            Box::new(move |c| builtins::bool_to_f64(builtins::truthy(a(c)) && builtins::truthy(b(c))))
        }
        IrNode::Or(a, b) => {
            let (a, b) = (code(a, o)?, code(b, o)?);
            Box::new(move |c| builtins::bool_to_f64(builtins::truthy(a(c)) || builtins::truthy(b(c))))
        }
        IrNode::If(cond, a, b) => {
            let (cond, a, b) = (code(cond, o)?, code(a, o)?, code(b, o)?);
            Box::new(move |c| if builtins::truthy(cond(c)) { a(c) } else { b(c) })
        }
        IrNode::Binary { op, lhs, rhs, span } => binary(*op, lhs, rhs, *span, o)?,
        IrNode::Call { f, args, span } => call(f, args, *span, o)?,
        IrNode::Native { f, args, .. } => native(f, args, o)?,
        IrNode::Stateful { f, args, window, default, param, site } => match o.stepping {
            None => first_step(*f, args, *window, *default, *param, o)?,
            Some(s) => {
                let site = s.sites[*site];
                // The advance pass has already moved this call site to this step.
                Box::new(move |c| c.rt.map_or(f64::NAN, |rt| site.output(rt.state)))
            }
        },
        IrNode::Calendar { f, arg, span } => {
            if o.stepping.is_none() {
                return Err(Unsupported::Calendar(f.name, *span));
            }
            let arg = code(arg, o)?;
            let month = f.name == "month_at";
            Box::new(move |c| match c.rt {
                Some(rt) => {
                    let d = rt.calendar.date_in_days(rt.step, arg(c));
                    if month {
                        f64::from(d.month)
                    } else {
                        f64::from(days_in_month(d.year, d.month))
                    }
                }
                None => f64::NAN,
            })
        }
        IrNode::Table { table, args, span } if !table.is_kalix() => {
            // A table with a chosen interpolation or extrapolation: the general lookup, which
            // can miss (an exact key, `extrapolation = error`) and counts lookups outside the
            // keys when the table reports them.
            let t = table.clone();
            let (span, id) = (*span, o.table_id(table));
            let note = match o.stepping {
                Some(s) if t.reports_outside() => s.tables.iter().position(|x| Arc::ptr_eq(x, table)),
                _ => None,
            };
            let codes: Vec<Code> = args.iter().map(|a| code(a, o)).collect::<Result<_, _>>()?;
            if codes.is_empty() || codes.len() > 2 {
                return Err(Unsupported::Limit("a table takes one or two arguments"));
            }
            Box::new(move |c| {
                let mut keys = [0.0; 2];
                for (k, a) in keys.iter_mut().zip(&codes) {
                    *k = a(c);
                }
                match t.lookup(&keys[..codes.len()]) {
                    Ok(found) => {
                        if let (true, Some(k), Some(rt)) = (found.outside, note, c.rt) {
                            rt.note_outside(k);
                        }
                        found.value
                    }
                    Err(miss) => {
                        c.fault.set(Some(Fault { span, kind: FaultKind::Table(id, miss) }));
                        f64::NAN
                    }
                }
            })
        }
        IrNode::Table { table, args, span } => {
            let t = table.clone();
            match args.as_slice() {
                [x] => {
                    let x = code(x, o)?;
                    Box::new(move |c| t.lookup1(x(c)))
                }
                [col, row] => {
                    let (col, row, span, id) = (code(col, o)?, code(row, o)?, *span, o.table_id(table));
                    Box::new(move |c| {
                        let key = col(c);
                        match t.lookup2(key, row(c)) {
                            Some(v) => v,
                            None => {
                                let miss = Miss::NoKey { axis: Axis::Column, key };
                                c.fault.set(Some(Fault { span, kind: FaultKind::Table(id, miss) }));
                                f64::NAN
                            }
                        }
                    })
                }
                _ => return Err(Unsupported::Limit("a table takes one or two arguments")),
            }
        }
        IrNode::Inline { params, stmts, result } => {
            let params: Vec<(usize, Code)> =
                params.iter().map(|(l, a)| Ok((*l, code(a, o)?))).collect::<Result<_, _>>()?;
            let stmts: Vec<Step> = stmts
                .iter()
                .map(|s| {
                    Ok(match s {
                        IrStmt::Let { local, value } => Step::Let(*local, code(value, o)?),
                        IrStmt::Assert { cond, span, context } => {
                            Step::Assert(code(cond, o)?, *span, o.assert_id(context))
                        }
                    })
                })
                .collect::<Result<_, _>>()?;
            let result = code(result, o)?;
            Box::new(move |c| {
                for (l, a) in &params {
                    c.locals[*l].set(a(c));
                }
                for s in &stmts {
                    match s {
                        Step::Let(l, v) => c.locals[*l].set(v(c)),
                        Step::Assert(cond, span, id) => {
                            let v = cond(c);
                            if v == 0.0 || v.is_nan() {
                                // Only the first failure is reported.
                                if c.fault.get().is_none() {
                                    c.fault.set(Some(Fault { span: *span, kind: FaultKind::Assert(v, *id) }));
                                }
                                return f64::NAN;
                            }
                        }
                    }
                }
                result(c)
            })
        }
    })
}

fn binary(op: BinaryOp, a: &IrNode, b: &IrNode, span: Span, o: Opts<'_>) -> Result<Code, Unsupported> {
    use BinaryOp::*;
    let strict_div = o.div == DivByZero::Error && matches!(op, Div | Rem);
    if strict_div {
        let f = if op == Div { builtins::div } else { builtins::rem };
        let (a, b) = (code(a, o)?, code(b, o)?);
        return Ok(Box::new(move |c| {
            let (x, y) = (a(c), b(c));
            if y == 0.0 {
                c.fault.set(Some(Fault { span, kind: FaultKind::DivisionByZero }));
            }
            f(x, y)
        }));
    }
    if op == Pow && o.domain == DomainErrors::Error {
        return Ok(checked2(builtins::pow, "^", span, code(a, o)?, code(b, o)?));
    }
    if op == Div && o.div == DivByZero::Nan {
        return bin(builtins::div_nan, a, b, o);
    }
    // `&&` and `||` resolve to `IrNode::And`/`IrNode::Or`, which short-circuit; their arms here
    // are never taken.
    macro_rules! arms {
        ($($v:ident = $f:ident),*) => {
            match op {
                $($v => bin(builtins::$f, a, b, o),)*
            }
        };
    }
    builtins::binary_ops!(arms!())
}

/// A one-argument built-in by name, so that each specialised closure calls its function inline
/// instead of through the table's function pointer (the built-in list of `builtins`).
fn call1(name: &str, g: fn(f64) -> f64, arg: &IrNode, o: Opts<'_>) -> Result<Code, Unsupported> {
    macro_rules! arms {
        ($($t:ident = $f:ident $name:literal),*) => {
            match name {
                $($name => un(builtins::$f, arg, o),)*
                _ => un(g, arg, o),
            }
        };
    }
    builtins::unary_builtins!(arms!())
}

fn call(f: &'static builtins::Builtin, args: &[IrNode], span: Span, o: Opts<'_>) -> Result<Code, Unsupported> {
    if o.domain == DomainErrors::Error {
        match f.imp {
            Imp::F1(g) => return Ok(checked1(g, f.name, span, code(&args[0], o)?)),
            Imp::F2(g) => return Ok(checked2(g, f.name, span, code(&args[0], o)?, code(&args[1], o)?)),
            _ => {}
        }
    }
    match f.imp {
        Imp::F1(g) => call1(f.name, g, &args[0], o),
        // The function the table names, called inline (the list of `builtins`).
        Imp::F2(g) => {
            macro_rules! arms {
                ($($t:ident = $f:ident),*) => {
                    match f.rust {
                        $(stringify!($f) => bin(builtins::$f, &args[0], &args[1], o),)*
                        _ => bin(g, &args[0], &args[1], o),
                    }
                };
            }
            builtins::binary_builtins!(arms!())
        }
        Imp::F3(g) => {
            let (a, b, d) = (code(&args[0], o)?, code(&args[1], o)?, code(&args[2], o)?);
            Ok(Box::new(move |c| g(a(c), b(c), d(c))))
        }
        Imp::Fold(g) => {
            macro_rules! arms {
                ($($t:ident = $f:ident),*) => {
                    match f.rust {
                        $(stringify!($f) => fold(builtins::$f, args, o),)*
                        _ => fold(g, args, o),
                    }
                };
            }
            builtins::binary_builtins!(arms!())
        }
        Imp::Mean => {
            let n = args.len() as f64;
            let sum = fold(builtins::add, args, o)?;
            Ok(Box::new(move |c| sum(c) / n))
        }
        Imp::Slice(g) => slice_call(g, args, o),
        Imp::If | Imp::Stateful(_) | Imp::Calendar => unreachable!("resolved to their own IR nodes"),
    }
}

/// A built-in over all its arguments as a slice. Constant points are gathered once at compile
/// time; otherwise the arguments are evaluated into an array on the stack.
fn slice_call(g: fn(&[f64]) -> f64, args: &[IrNode], o: Opts<'_>) -> Result<Code, Unsupported> {
    let tail: Option<Vec<f64>> =
        args[1..].iter().map(|a| if let IrNode::Const(k) = a { Some(*k) } else { None }).collect();
    if let Some(tail) = tail {
        let x = code(&args[0], o)?;
        // Constant points (the usual case): only `x` varies, and `interp` is the one slice
        // built-in, so the points are gathered once here.
        return Ok(Box::new(move |c| builtins::interp_points(x(c), &tail)));
    }
    if args.len() > MAX_SLICE_ARGS {
        return Err(Unsupported::Limit("a call with more than 64 arguments that are not all constants"));
    }
    let codes: Vec<Code> = args.iter().map(|a| code(a, o)).collect::<Result<_, _>>()?;
    Ok(Box::new(move |c| {
        let mut buf = [0.0; MAX_SLICE_ARGS];
        for (slot, a) in buf.iter_mut().zip(&codes) {
            *slot = a(c);
        }
        g(&buf[..codes.len()])
    }))
}

/// A native function: its arguments are evaluated in order into an array on the stack, then
/// it is called on them.
fn native(f: &Arc<crate::host::NativeFn>, args: &[IrNode], o: Opts<'_>) -> Result<Code, Unsupported> {
    const MAX: usize = crate::host::NativeFn::MAX_ARITY;
    if args.len() > MAX {
        return Err(Unsupported::Limit("a native function takes at most 16 arguments"));
    }
    let f = Arc::clone(f);
    Ok(match args {
        [] => Box::new(move |_| f.call(&[])),
        [a] => {
            let a = code(a, o)?;
            Box::new(move |c| f.call(&[a(c)]))
        }
        _ => {
            let codes: Vec<Code> = args.iter().map(|a| code(a, o)).collect::<Result<_, _>>()?;
            Box::new(move |c| {
                let mut buf = [0.0; MAX];
                for (slot, a) in buf.iter_mut().zip(&codes) {
                    *slot = a(c);
                }
                f.call(&buf[..codes.len()])
            })
        }
    })
}

/// The advance pass of a subtree (stepping only): every stateful call site in it moves to this
/// step, children before parents, in every branch (an untaken `if` branch included), so a
/// window never depends on branching history. `None` when the subtree has no call site.
fn advance(n: &IrNode, o: Opts<'_>) -> Result<Option<Code>, Unsupported> {
    let Some(s) = o.stepping else { return Ok(None) };
    if !has_sites(n) {
        return Ok(None);
    }
    let children = |nodes: &[&IrNode]| -> Result<Vec<Code>, Unsupported> {
        Ok(nodes.iter().map(|c| advance(c, o)).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect())
    };
    let seq = |parts: Vec<Code>| -> Code {
        Box::new(move |c| {
            for p in &parts {
                p(c);
            }
            0.0
        })
    };
    Ok(Some(match n {
        IrNode::Stateful { args, site, .. } => {
            let site = s.sites[*site];
            let inner = children(&args.iter().collect::<Vec<_>>())?;
            let args: Vec<Code> = args.iter().map(|a| code(a, o)).collect::<Result<_, _>>()?;
            Box::new(move |c| {
                for p in &inner {
                    p(c);
                }
                let a0 = args.first().map_or(f64::NAN, |a| a(c));
                let a1 = args.get(1).map_or(f64::NAN, |a| a(c));
                if let Some(rt) = c.rt {
                    site.advance(rt.state, rt.step, [a0, a1]);
                }
                0.0
            })
        }
        IrNode::Inline { params, stmts, result } => {
            // The body runs on the advance pass too (its asserts silenced), so that calls
            // inside it see its locals.
            let mut parts = children(&params.iter().map(|(_, a)| a).collect::<Vec<_>>())?;
            let binds: Vec<(usize, Code)> =
                params.iter().map(|(l, a)| Ok((*l, code(a, o)?))).collect::<Result<_, _>>()?;
            parts.push(Box::new(move |c| {
                for (l, a) in &binds {
                    c.locals[*l].set(a(c));
                }
                0.0
            }));
            for st in stmts {
                match st {
                    IrStmt::Let { local, value } => {
                        parts.extend(advance(value, o)?);
                        let (l, v) = (*local, code(value, o)?);
                        parts.push(Box::new(move |c| {
                            c.locals[l].set(v(c));
                            0.0
                        }));
                    }
                    IrStmt::Assert { cond, .. } => parts.extend(advance(cond, o)?),
                }
            }
            parts.extend(advance(result, o)?);
            seq(parts)
        }
        other => seq(children(&other.children())?),
    }))
}

/// Whether a subtree can record a fault under default options: a 2D table lookup or an inlined
/// body (which may assert).
fn may_fault(n: &IrNode) -> bool {
    matches!(n, IrNode::Table { table, args, .. } if args.len() == 2 || !table.is_kalix())
        || matches!(n, IrNode::Inline { .. })
        || n.children().into_iter().any(may_fault)
}

/// Whether a subtree holds a stateful call site.
fn has_sites(n: &IrNode) -> bool {
    matches!(n, IrNode::Stateful { .. }) || n.children().into_iter().any(has_sites)
}

/// A stateful function evaluated as on the first step of a fresh run (a single evaluation has
/// no past), with Kalix's exact initial state: windows pre-filled with the default and a running
/// sum of `default * n`; `*_since` accumulators at 0 (sum, count), -1 (steps) or NaN (min, max).
fn first_step(
    f: Stateful,
    args: &[IrNode],
    window: usize,
    default: f64,
    param: f64,
    o: Opts<'_>,
) -> Result<Code, Unsupported> {
    let n = window as f64;
    let d = default;
    let codes: Vec<Code> = args.iter().map(|a| code(a, o)).collect::<Result<_, _>>()?;
    let mut it = codes.into_iter();
    let mut next = || it.next().unwrap_or_else(|| constant(f64::NAN));
    // The deque of moving_min/max starts with one entry for the n-1 defaults when n >= 2.
    let prefilled = window >= 2 && !d.is_nan();
    Ok(match f {
        Stateful::MovingSum | Stateful::MovingMean => {
            let x = next();
            let divide = if f == Stateful::MovingMean { n } else { 1.0 };
            Box::new(move |c| {
                let x = x(c);
                // The ring wraps at once for n = 1, and a NaN default forces a recompute from
                // +0.0 in ring order; otherwise the running sum takes `+ (x - evicted)`.
                let sum = if window == 1 || d.is_nan() {
                    let mut s = 0.0 + x;
                    for _ in 1..window {
                        s += d;
                    }
                    s
                } else {
                    d * n + (x - d)
                };
                if divide == 1.0 {
                    sum
                } else {
                    sum / divide
                }
            })
        }
        Stateful::MovingMin | Stateful::MovingMax => {
            let x = next();
            // The pre-fill entry wins only if it is strictly better: the newest of equal values is
            // kept, as the runtime's deque does.
            let better: fn(f64, f64) -> bool = if f == Stateful::MovingMin { |d, x| d < x } else { |d, x| d > x };
            Box::new(move |c| {
                let x = x(c);
                match (x.is_nan(), prefilled) {
                    (true, true) => d,
                    (true, false) => f64::NAN,
                    (false, true) if better(d, x) => d,
                    (false, _) => x,
                }
            })
        }
        Stateful::SumSince => {
            let (x, reset) = (next(), next());
            Box::new(move |c| {
                let x = x(c);
                if builtins::truthy(reset(c)) {
                    x
                } else {
                    0.0 + x
                }
            })
        }
        Stateful::MinSince | Stateful::MaxSince => {
            let (x, reset) = (next(), next());
            Box::new(move |c| {
                let _ = reset(c);
                x(c)
            })
        }
        Stateful::CountSince => {
            let (cond, reset) = (next(), next());
            Box::new(move |c| {
                let _ = reset(c);
                builtins::bool_to_f64(builtins::truthy(cond(c)))
            })
        }
        Stateful::StepsSince => {
            let reset = next();
            Box::new(move |c| {
                let _ = reset(c);
                0.0
            })
        }
        Stateful::MovingMedian | Stateful::MovingPercentile | Stateful::MovingStd | Stateful::MovingCount => {
            let x = next();
            Box::new(move |c| temporal::first_output(f, window, d, param, x(c)).unwrap_or(f64::NAN))
        }
    })
}
