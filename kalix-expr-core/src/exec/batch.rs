//! Batch evaluation: one compiled expression over columns of inputs.
//!
//! Why it is cheaper than a loop of single calls: the expression is compiled a second time into
//! a tree of closures that each work on a chunk of [`CHUNK`] rows at once. One indirect call then
//! serves 64 rows instead of one, and the inner loops (`out[i] = a[i] + b[i]`) are plain loops
//! over arrays that the compiler vectorises. Every operation calls the same function from
//! [`builtins`] as the single-row interpreter, row by row, so results are bit-identical.
//!
//! Only pure expressions take this path: no block, assert, stateful call, offset other than
//! step 0 reads, and the default (IEEE, NaN) options. Anything else falls back to one
//! [`Compiled::eval`](crate::Compiled::eval) per row, with the same results.

use std::sync::Arc;

use crate::ast::BinaryOp;
use crate::builtins::{self, Imp};
use crate::host::NativeFn;
use crate::ir::{Ir, IrNode};
use crate::options::{DivByZero, DomainErrors, Options};
use crate::span::Span;
#[cfg(feature = "jit")]
use crate::table::Table;

/// Rows evaluated together; the chunk's temporaries live on the stack.
pub const CHUNK: usize = 64;

type Col = Box<dyn Fn(&Frame<'_>, &mut [f64]) + Send + Sync>;

/// The rows of one chunk: `cols[slot][start..start + len]`.
pub(crate) struct Frame<'a> {
    cols: &'a [&'a [f64]],
    start: usize,
}

impl Frame<'_> {
    #[inline(always)]
    fn col(&self, slot: usize, len: usize) -> &[f64] {
        &self.cols[slot][self.start..self.start + len]
    }
}

/// A column-wise program, or `None` when the expression needs the row-by-row interpreter.
pub(crate) struct BatchProgram {
    root: Col,
}

impl BatchProgram {
    /// Evaluates rows `0..out.len()` of `cols` (checked by the caller to be long enough).
    pub(crate) fn run(&self, cols: &[&[f64]], out: &mut [f64]) {
        for (k, chunk) in out.chunks_mut(CHUNK).enumerate() {
            let frame = Frame { cols, start: k * CHUNK };
            (self.root)(&frame, chunk);
        }
    }
}

/// The resolved form of an expression as far as batch evaluation reads it, in post-order at 4
/// bytes a node (constants and natives beside): what a [`Compiled`](crate::Compiled) keeps so
/// that its batch program is built from its own resolution (never from its source again, so
/// calls of natives stay resolved) without keeping the whole `Ir` tree, which would more than
/// double its memory. Past 65,535 slots, constants or arguments of one call an expression has
/// no tape, and batch evaluation takes the row-by-row path (the same bits, only slower).
/// Table lookups are on the tape for the JIT; batch evaluation runs them row by row.
pub(crate) struct Tape {
    /// The operations, in post-order (read by the JIT's translation too).
    pub(crate) ops: Box<[Op]>,
    /// The constants they point into.
    pub(crate) consts: Box<[f64]>,
    /// The natives they call.
    pub(crate) natives: Box<[Arc<NativeFn>]>,
    /// The tables they look up.
    #[cfg(feature = "jit")]
    pub(crate) tables: Box<[Arc<Table>]>,
    /// The options' division by zero and domain errors: batch evaluation runs only the
    /// default ones (IEEE, NaN); the JIT checks for the others' errors.
    pub(crate) div_by_zero: DivByZero,
    pub(crate) domain_errors: DomainErrors,
}

/// One node of a [`Tape`]; indices point into the tape's constants, the built-in table and the
/// tape's natives and tables.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    Const(u16),
    Slot(u16),
    Neg,
    Not,
    And,
    Or,
    If,
    Binary(BinaryOp),
    Call(u8, u16),
    Native(u8, u16),
    #[cfg(feature = "jit")]
    Table(u8, u16),
    /// Push a local.
    #[cfg(feature = "jit")]
    Local(u16),
    /// Pop a value into a local.
    #[cfg(feature = "jit")]
    SetLocal(u16),
    /// Pop a condition that must hold (not 0, not NaN).
    #[cfg(feature = "jit")]
    Assert,
}

impl Tape {
    /// The tape of `ir`, or `None` when batch evaluation could not run it anyway (statements,
    /// locals, stateful and calendar calls, user functions, impure natives) under `opts`.
    pub(crate) fn record(ir: &Ir, opts: &Options) -> Option<Tape> {
        // Statements and locals are for the JIT only: batch evaluation runs them row by row.
        #[cfg(not(feature = "jit"))]
        if !ir.stmts.is_empty() || ir.n_locals > 0 {
            return None;
        }
        let mut r = Recorder {
            ops: Vec::new(),
            consts: Vec::new(),
            natives: Vec::new(),
            #[cfg(feature = "jit")]
            tables: Vec::new(),
        };
        #[cfg(feature = "jit")]
        r.stmts(&ir.stmts)?;
        r.node(&ir.result)?;
        Some(Tape {
            ops: r.ops.into_boxed_slice(),
            consts: r.consts.into_boxed_slice(),
            natives: r.natives.into_boxed_slice(),
            #[cfg(feature = "jit")]
            tables: r.tables.into_boxed_slice(),
            div_by_zero: opts.div_by_zero,
            domain_errors: opts.domain_errors,
        })
    }

    /// The batch program of the recorded expression, under the default options only.
    pub(crate) fn program(&self) -> Option<BatchProgram> {
        if (self.div_by_zero, self.domain_errors) != (DivByZero::Ieee, DomainErrors::Nan) {
            return None;
        }
        let mut stack: Vec<IrNode> = Vec::new();
        let span = Span::default();
        let args = |stack: &mut Vec<IrNode>, n: u16| Some(stack.split_off(stack.len().checked_sub(usize::from(n))?));
        for op in self.ops.iter() {
            let node = match *op {
                Op::Const(k) => IrNode::Const(*self.consts.get(usize::from(k))?),
                Op::Slot(i) => IrNode::Slot(usize::from(i)),
                Op::Neg => IrNode::Neg(Box::new(stack.pop()?)),
                Op::Not => IrNode::Not(Box::new(stack.pop()?)),
                Op::And | Op::Or | Op::Binary(_) => {
                    let (b, a) = (Box::new(stack.pop()?), Box::new(stack.pop()?));
                    match *op {
                        Op::And => IrNode::And(a, b),
                        Op::Or => IrNode::Or(a, b),
                        Op::Binary(op) => IrNode::Binary { op, lhs: a, rhs: b, span },
                        _ => return None,
                    }
                }
                Op::If => {
                    let (b, a, c) = (stack.pop()?, stack.pop()?, stack.pop()?);
                    IrNode::If(Box::new(c), Box::new(a), Box::new(b))
                }
                Op::Call(f, n) => {
                    IrNode::Call { f: builtins::BUILTINS.get(usize::from(f))?, args: args(&mut stack, n)?, span }
                }
                Op::Native(f, n) => {
                    let f = Arc::clone(self.natives.get(usize::from(f))?);
                    IrNode::Native { f, args: args(&mut stack, n)?, span }
                }
                // A lookup can fail or be counted, a block is in order: row by row.
                #[cfg(feature = "jit")]
                Op::Table(..) | Op::Local(_) | Op::SetLocal(_) | Op::Assert => return None,
            };
            stack.push(node);
        }
        let root = stack.pop()?;
        Some(BatchProgram { root: col(&root)? })
    }
}

struct Recorder {
    ops: Vec<Op>,
    consts: Vec<f64>,
    natives: Vec<Arc<NativeFn>>,
    #[cfg(feature = "jit")]
    tables: Vec<Arc<Table>>,
}

impl Recorder {
    fn node(&mut self, n: &IrNode) -> Option<()> {
        stacker::maybe_grow(crate::parse::STACK_RED_ZONE, crate::parse::STACK_GROWTH, || self.node_inner(n))
    }

    fn node_inner(&mut self, n: &IrNode) -> Option<()> {
        let count = |args: &[IrNode]| u16::try_from(args.len()).ok();
        let op = match n {
            IrNode::Const(k) => self.constant(*k)?,
            IrNode::Slot(i) | IrNode::Offset { slot: i, step: 0, .. } => Op::Slot(u16::try_from(*i).ok()?),
            // Outside a stepping runtime another step reads the default.
            IrNode::Offset { default, .. } => self.constant(*default)?,
            IrNode::Neg(a) => {
                self.node(a)?;
                Op::Neg
            }
            IrNode::Not(a) => {
                self.node(a)?;
                Op::Not
            }
            IrNode::And(a, b) | IrNode::Or(a, b) | IrNode::Binary { lhs: a, rhs: b, .. } => {
                self.node(a)?;
                self.node(b)?;
                match n {
                    IrNode::And(..) => Op::And,
                    IrNode::Or(..) => Op::Or,
                    IrNode::Binary { op, .. } => Op::Binary(*op),
                    _ => return None,
                }
            }
            IrNode::If(c, a, b) => {
                for x in [c, a, b] {
                    self.node(x)?;
                }
                Op::If
            }
            IrNode::Call { f, args, .. } => {
                let index = builtins::BUILTINS.iter().position(|b| std::ptr::eq(b, *f))?;
                args.iter().try_for_each(|a| self.node(a))?;
                Op::Call(u8::try_from(index).ok()?, count(args)?)
            }
            IrNode::Native { f, args, .. } if f.is_pure() => {
                let index = u8::try_from(self.natives.len()).ok()?;
                self.natives.push(Arc::clone(f));
                args.iter().try_for_each(|a| self.node(a))?;
                Op::Native(index, count(args)?)
            }
            // For the JIT only: batch evaluation runs lookups row by row.
            #[cfg(feature = "jit")]
            IrNode::Table { table, args, .. } => {
                let index = u8::try_from(self.tables.len()).ok()?;
                self.tables.push(Arc::clone(table));
                args.iter().try_for_each(|a| self.node(a))?;
                Op::Table(index, count(args)?)
            }
            // An inlined function: its arguments into its parameters' locals, its statements,
            // then its result, which is the node's value (there is no operation of its own).
            #[cfg(feature = "jit")]
            IrNode::Local(l) => Op::Local(u16::try_from(*l).ok()?),
            #[cfg(feature = "jit")]
            IrNode::Inline { params, stmts, result } => {
                for (local, arg) in params {
                    self.node(arg)?;
                    self.ops.push(Op::SetLocal(u16::try_from(*local).ok()?));
                }
                self.stmts(stmts)?;
                return self.node(result);
            }
            #[cfg(not(feature = "jit"))]
            IrNode::Table { .. } | IrNode::Local(_) | IrNode::Inline { .. } => return None,
            IrNode::Native { .. } | IrNode::Stateful { .. } | IrNode::Calendar { .. } => return None,
        };
        self.ops.push(op);
        Some(())
    }

    /// A block's statements, in order.
    #[cfg(feature = "jit")]
    fn stmts(&mut self, stmts: &[crate::ir::IrStmt]) -> Option<()> {
        for s in stmts {
            match s {
                crate::ir::IrStmt::Let { local, value } => {
                    self.node(value)?;
                    self.ops.push(Op::SetLocal(u16::try_from(*local).ok()?));
                }
                crate::ir::IrStmt::Assert { cond, .. } => {
                    self.node(cond)?;
                    self.ops.push(Op::Assert);
                }
            }
        }
        Some(())
    }

    fn constant(&mut self, k: f64) -> Option<Op> {
        let index = u16::try_from(self.consts.len()).ok()?;
        self.consts.push(k);
        Some(Op::Const(index))
    }
}

/// Applies `f` element-wise: `out[i] = f(out[i], rhs[i])`.
#[inline(always)]
fn zip_in_place(out: &mut [f64], rhs: &[f64], f: impl Fn(f64, f64) -> f64) {
    for (o, r) in out.iter_mut().zip(rhs) {
        *o = f(*o, *r);
    }
}

fn unary<F>(f: F, a: &IrNode) -> Option<Col>
where
    F: Fn(f64) -> f64 + Copy + Send + Sync + 'static,
{
    Some(match a {
        IrNode::Slot(i) => {
            let i = *i;
            Box::new(move |fr, out| {
                let n = out.len();
                for (o, x) in out.iter_mut().zip(fr.col(i, n)) {
                    *o = f(*x);
                }
            })
        }
        _ => {
            let a = col(a)?;
            Box::new(move |fr, out| {
                a(fr, out);
                for o in out.iter_mut() {
                    *o = f(*o);
                }
            })
        }
    })
}

fn binary<F>(f: F, a: &IrNode, b: &IrNode) -> Option<Col>
where
    F: Fn(f64, f64) -> f64 + Copy + Send + Sync + 'static,
{
    use IrNode::{Const, Slot};
    Some(match (a, b) {
        (Slot(i), Const(k)) => {
            let (i, k) = (*i, *k);
            Box::new(move |fr, out| {
                let n = out.len();
                for (o, x) in out.iter_mut().zip(fr.col(i, n)) {
                    *o = f(*x, k);
                }
            })
        }
        (Const(k), Slot(i)) => {
            let (i, k) = (*i, *k);
            Box::new(move |fr, out| {
                let n = out.len();
                for (o, x) in out.iter_mut().zip(fr.col(i, n)) {
                    *o = f(k, *x);
                }
            })
        }
        (Slot(i), Slot(j)) => {
            let (i, j) = (*i, *j);
            Box::new(move |fr, out| {
                let n = out.len();
                for ((o, x), y) in out.iter_mut().zip(fr.col(i, n)).zip(fr.col(j, n)) {
                    *o = f(*x, *y);
                }
            })
        }
        (_, Const(k)) => {
            let (a, k) = (col(a)?, *k);
            Box::new(move |fr, out| {
                a(fr, out);
                for o in out.iter_mut() {
                    *o = f(*o, k);
                }
            })
        }
        (_, Slot(j)) => {
            let (a, j) = (col(a)?, *j);
            Box::new(move |fr, out| {
                a(fr, out);
                let n = out.len();
                zip_in_place(out, fr.col(j, n), f);
            })
        }
        _ => {
            let (a, b) = (col(a)?, col(b)?);
            Box::new(move |fr, out| {
                let mut tmp = [0.0; CHUNK];
                let tmp = &mut tmp[..out.len()];
                a(fr, out);
                b(fr, tmp);
                zip_in_place(out, tmp, f);
            })
        }
    })
}

fn col(n: &IrNode) -> Option<Col> {
    stacker::maybe_grow(crate::parse::STACK_RED_ZONE, crate::parse::STACK_GROWTH, || col_inner(n))
}

fn col_inner(n: &IrNode) -> Option<Col> {
    use BinaryOp::*;
    Some(match n {
        IrNode::Const(k) => {
            let k = *k;
            Box::new(move |_, out| out.fill(k))
        }
        IrNode::Slot(i) | IrNode::Offset { slot: i, step: 0, .. } => {
            let i = *i;
            Box::new(move |fr, out| {
                let n = out.len();
                out.copy_from_slice(fr.col(i, n));
            })
        }
        IrNode::Offset { default, .. } => col(&IrNode::Const(*default))?,
        IrNode::Neg(a) => unary(builtins::neg, a)?,
        IrNode::Not(a) => unary(builtins::not, a)?,
        // Pure operands, so evaluating both sides of every row gives the short-circuit result.
        IrNode::And(a, b) => binary(builtins::and, a, b)?,
        IrNode::Or(a, b) => binary(builtins::or, a, b)?,
        IrNode::If(c, a, b) => {
            let (c, a, b) = (col(c)?, col(a)?, col(b)?);
            Box::new(move |fr, out| {
                let n = out.len();
                let (mut ta, mut tb) = ([0.0; CHUNK], [0.0; CHUNK]);
                c(fr, out);
                a(fr, &mut ta[..n]);
                b(fr, &mut tb[..n]);
                for i in 0..n {
                    out[i] = if builtins::truthy(out[i]) { ta[i] } else { tb[i] };
                }
            })
        }
        IrNode::Binary { op, lhs, rhs, .. } => {
            macro_rules! arms {
                ($($v:ident = $f:ident),*) => {
                    match op {
                        $($v => binary(builtins::$f, lhs, rhs)?,)*
                    }
                };
            }
            builtins::binary_ops!(arms!())
        }
        IrNode::Call { f, args, .. } => match f.imp {
            Imp::F1(g) => match f.name {
                // The cheap ones inline into the loop (and vectorise); the rest are calls anyway.
                "abs" => unary(builtins::abs, &args[0])?,
                "sqrt" => unary(builtins::sqrt, &args[0])?,
                "floor" => unary(builtins::floor, &args[0])?,
                "ceil" => unary(builtins::ceil, &args[0])?,
                "round" => unary(builtins::round, &args[0])?,
                _ => unary(g, &args[0])?,
            },
            Imp::F2(g) => binary(g, &args[0], &args[1])?,
            // Long folds take the row interpreter's flat loop (nested closures would go as deep
            // as the argument list).
            Imp::Fold(_) if args.len() > 8 => return None,
            Imp::Fold(g) => {
                let mut acc = match (f.name, args.as_slice()) {
                    (_, [a]) => col(a)?,
                    ("min", [a, b, ..]) => binary(builtins::min2, a, b)?,
                    ("max", [a, b, ..]) => binary(builtins::max2, a, b)?,
                    ("sum", [a, b, ..]) => binary(builtins::add, a, b)?,
                    (_, [a, b, ..]) => binary(g, a, b)?,
                    (_, []) => return None,
                };
                for arg in args.iter().skip(2) {
                    let b = col(arg)?;
                    acc = Box::new(move |fr, out| {
                        let mut tmp = [0.0; CHUNK];
                        let tmp = &mut tmp[..out.len()];
                        acc(fr, out);
                        b(fr, tmp);
                        zip_in_place(out, tmp, g);
                    });
                }
                acc
            }
            Imp::Mean => {
                let sum =
                    col(&IrNode::Call { f: builtins::lookup("sum")?, args: args.clone(), span: Default::default() })?;
                let n = args.len() as f64;
                Box::new(move |fr, out| {
                    sum(fr, out);
                    for o in out.iter_mut() {
                        *o /= n;
                    }
                })
            }
            // Calls with three or more arguments are rare in batch work: the row interpreter
            // handles them.
            Imp::F3(_) | Imp::Slice(_) | Imp::If | Imp::Stateful(_) | Imp::Calendar => return None,
        },
        // A pure native, row by row over its argument columns: the same call, in the same
        // order, as the interpreter's.
        IrNode::Native { f, args, .. } if f.is_pure() && args.len() <= NativeFn::MAX_ARITY => {
            let cols: Vec<Col> = args.iter().map(col).collect::<Option<_>>()?;
            let f = Arc::clone(f);
            Box::new(move |fr, out| {
                let n = out.len();
                let mut bufs = [[0.0; CHUNK]; NativeFn::MAX_ARITY];
                for (b, c) in bufs.iter_mut().zip(&cols) {
                    c(fr, &mut b[..n]);
                }
                let mut row = [0.0; NativeFn::MAX_ARITY];
                for (i, o) in out.iter_mut().enumerate() {
                    for (r, b) in row.iter_mut().zip(&bufs[..cols.len()]) {
                        *r = b[i];
                    }
                    *o = f.call(&row[..cols.len()]);
                }
            })
        }
        IrNode::Local(_)
        | IrNode::Stateful { .. }
        | IrNode::Calendar { .. }
        | IrNode::Table { .. }
        | IrNode::Native { .. }
        | IrNode::Inline { .. } => return None,
    })
}
