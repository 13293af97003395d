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
    /// Compiles `ir` if it is pure and default options are in force.
    pub(crate) fn compile(ir: &Ir, default_options: bool) -> Option<BatchProgram> {
        if !default_options || !ir.stmts.is_empty() || ir.n_locals > 0 {
            return None;
        }
        Some(BatchProgram { root: col(&ir.result)? })
    }

    /// Evaluates rows `0..out.len()` of `cols` (checked by the caller to be long enough).
    pub(crate) fn run(&self, cols: &[&[f64]], out: &mut [f64]) {
        for (k, chunk) in out.chunks_mut(CHUNK).enumerate() {
            let frame = Frame { cols, start: k * CHUNK };
            (self.root)(&frame, chunk);
        }
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
