//! The resolved form, [`Ir`]: what every back-end (closures, node array, batch, `kexpr!`)
//! works from. Names are slots, calls point at their definitions, and no strings remain.
//! Built by [`crate::sema`]; nothing here resolves.

use std::sync::Arc;

use crate::ast::BinaryOp;
use crate::builtins::{Builtin, Stateful};
use crate::host::{FnRef, NativeFn};
use crate::span::Span;
use crate::table::Table;

/// A resolved expression or block: statements, then the result.
///
/// ```
/// use kalix_expr_core::{parse, resolve, Scope, Options, ParseOptions};
/// let ast = parse("max(0, rain - 2 * 3)", &ParseOptions::default())?;
/// let (ir, names) = resolve(&ast, "max(0, rain - 2 * 3)", &Scope::Free, &Options::default())?;
/// assert_eq!(names, vec!["rain".to_string()]);
/// assert_eq!(ir.n_slots, 1);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Ir {
    /// Statements of a block, in order (empty for a plain expression).
    pub stmts: Vec<IrStmt>,
    /// The value.
    pub result: IrNode,
    /// How many locals the statements assign.
    pub n_locals: usize,
    /// How many variable slots the expression reads (`values.len()` must be at least this).
    pub n_slots: usize,
    /// Every function the expression calls, each once in order of first call, including those
    /// called inside the user functions it expands: the definitions it was built from.
    /// Metadata only; evaluation never reads it.
    pub functions: Vec<FnRef>,
}

/// A statement of a resolved block.
#[derive(Debug, Clone, PartialEq)]
pub enum IrStmt {
    /// Assign a local.
    Let {
        /// The local's index.
        local: usize,
        /// Its new value.
        value: IrNode,
    },
    /// Fail when the condition is 0 or NaN.
    Assert {
        /// The condition.
        cond: IrNode,
        /// The statement in the expression's source (for an assert inside a user function, the
        /// call), for the error's position.
        span: Span,
        /// For an assert inside a user function: `fn.<name>: assert(…)`, the text the error
        /// shows. Used only to report a failure.
        context: Option<Arc<str>>,
    },
}

/// A resolved expression node.
#[derive(Debug, Clone, PartialEq)]
pub enum IrNode {
    /// A constant.
    Const(f64),
    /// The value of variable slot `n`.
    Slot(usize),
    /// The value of local `n`.
    Local(usize),
    /// `slot[step, default]`: outside a stepping runtime, a step other than 0 reads `default`.
    Offset {
        /// The series' slot.
        slot: usize,
        /// Steps away (negative is the past).
        step: i64,
        /// The value outside the run.
        default: f64,
    },
    /// `-x` (`+x` resolves to `x`).
    Neg(Box<IrNode>),
    /// `!x`
    Not(Box<IrNode>),
    /// An arithmetic or comparison operator (`&&` and `||` are [`IrNode::And`]/[`IrNode::Or`]).
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<IrNode>,
        /// Right operand.
        rhs: Box<IrNode>,
        /// The operation, for evaluation errors.
        span: Span,
    },
    /// `a && b`, short-circuit.
    And(Box<IrNode>, Box<IrNode>),
    /// `a || b`, short-circuit.
    Or(Box<IrNode>, Box<IrNode>),
    /// `if(c, a, b)`, only the branch taken is evaluated.
    If(Box<IrNode>, Box<IrNode>, Box<IrNode>),
    /// A pure built-in (`Imp::F1`, `F2`, `F3`, `Fold`, `Mean` or `Slice`).
    Call {
        /// The function.
        f: &'static Builtin,
        /// Its arguments.
        args: Vec<IrNode>,
        /// The call, for evaluation errors.
        span: Span,
    },
    /// A calendar function (`month_at`, `days_in_month_at`) of the simulation date.
    Calendar {
        /// The function.
        f: &'static Builtin,
        /// The day offset.
        arg: Box<IrNode>,
        /// The function's name, for the error where no calendar exists.
        span: Span,
    },
    /// A lookup table `table.t(x)` or `table.t(col, row)` (docs/language.md).
    Table {
        /// The table.
        table: Arc<Table>,
        /// One argument (1D) or two (2D: column key, row).
        args: Vec<IrNode>,
        /// The call, for a 2D key error.
        span: Span,
    },
    /// A user function call expanded in place: the arguments are bound to fresh locals once,
    /// then the body's statements run (only when the call is evaluated), then its result.
    Inline {
        /// Each parameter's local and its argument.
        params: Vec<(usize, IrNode)>,
        /// The body's statements, with its locals renamed to fresh ones.
        stmts: Vec<IrStmt>,
        /// The body's value.
        result: Box<IrNode>,
    },
    /// A native function registered from Rust, called by its bare name (`g(i)`).
    Native {
        /// The function.
        f: Arc<NativeFn>,
        /// Its arguments (at most [`NativeFn::MAX_ARITY`]).
        args: Vec<IrNode>,
        /// The call.
        span: Span,
    },
    /// A stateful function (docs/language.md) with its own state.
    Stateful {
        /// Which function.
        f: Stateful,
        /// The evaluated arguments: `[x]` for the moving windows, all arguments otherwise.
        args: Vec<IrNode>,
        /// Window length of the moving functions (0 otherwise).
        window: usize,
        /// Window pre-fill of the moving functions (0 otherwise).
        default: f64,
        /// The literal parameter: `p` of `moving_percentile` (NaN otherwise).
        param: f64,
        /// The call site's index among the expression's stateful calls.
        site: usize,
    },
}

impl IrNode {
    /// The node's direct children, in evaluation order (statements of an inlined body in
    /// order, then its result).
    ///
    /// ```
    /// use kalix_expr_core::{Expr, IrNode};
    /// let ir = Expr::parse("x + sin(y)")?.resolve(&["x", "y"], &Default::default())?;
    /// assert_eq!(ir.result.children().len(), 2);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn children(&self) -> Vec<&IrNode> {
        match self {
            IrNode::Neg(a) | IrNode::Not(a) => vec![a],
            IrNode::Binary { lhs, rhs, .. } | IrNode::And(lhs, rhs) | IrNode::Or(lhs, rhs) => vec![lhs, rhs],
            IrNode::If(c, a, b) => vec![c, a, b],
            IrNode::Call { args, .. }
            | IrNode::Table { args, .. }
            | IrNode::Stateful { args, .. }
            | IrNode::Native { args, .. } => args.iter().collect(),
            IrNode::Calendar { arg, .. } => vec![arg],
            IrNode::Inline { params, stmts, result } => {
                let mut v: Vec<&IrNode> = params.iter().map(|(_, a)| a).collect();
                v.extend(stmts.iter().map(IrStmt::node));
                v.push(result);
                v
            }
            IrNode::Const(_) | IrNode::Slot(_) | IrNode::Local(_) | IrNode::Offset { .. } => Vec::new(),
        }
    }
}

impl IrStmt {
    /// The statement's expression: the assigned value or the asserted condition.
    pub fn node(&self) -> &IrNode {
        match self {
            IrStmt::Let { value, .. } => value,
            IrStmt::Assert { cond, .. } => cond,
        }
    }
}

impl Ir {
    /// Replaces every node for which `f` returns a node (its children are not visited then);
    /// the others' children are visited in turn.
    #[cfg(feature = "interp")]
    pub(crate) fn rewrite(&mut self, f: &mut dyn FnMut(&IrNode) -> Option<IrNode>) {
        let mut stack: Vec<&mut IrNode> = self
            .stmts
            .iter_mut()
            .map(|s| match s {
                IrStmt::Let { value, .. } => value,
                IrStmt::Assert { cond, .. } => cond,
            })
            .chain(std::iter::once(&mut self.result))
            .collect();
        while let Some(n) = stack.pop() {
            if let Some(new) = f(n) {
                *n = new;
                continue;
            }
            match n {
                IrNode::Neg(a) | IrNode::Not(a) => stack.push(a),
                IrNode::Binary { lhs, rhs, .. } | IrNode::And(lhs, rhs) | IrNode::Or(lhs, rhs) => {
                    stack.push(lhs);
                    stack.push(rhs);
                }
                IrNode::If(c, a, b) => stack.extend([&mut **c, &mut **a, &mut **b]),
                IrNode::Call { args, .. }
                | IrNode::Table { args, .. }
                | IrNode::Stateful { args, .. }
                | IrNode::Native { args, .. } => stack.extend(args.iter_mut()),
                IrNode::Calendar { arg, .. } => stack.push(arg),
                IrNode::Inline { params, stmts, result } => {
                    stack.extend(params.iter_mut().map(|(_, a)| a));
                    stack.extend(stmts.iter_mut().map(|s| match s {
                        IrStmt::Let { value, .. } => value,
                        IrStmt::Assert { cond, .. } => cond,
                    }));
                    stack.push(result);
                }
                IrNode::Const(_) | IrNode::Slot(_) | IrNode::Local(_) | IrNode::Offset { .. } => {}
            }
        }
    }

    /// Calls `f` on every node, statements first, parents before children.
    pub fn walk(&self, f: &mut dyn FnMut(&IrNode)) {
        let mut stack: Vec<&IrNode> =
            self.stmts.iter().map(IrStmt::node).chain(std::iter::once(&self.result)).rev().collect();
        while let Some(n) = stack.pop() {
            f(n);
            stack.extend(n.children().into_iter().rev());
        }
    }
}

/// Whether a resolved body computes from its arguments alone as far as its calls go: no
/// stateful or calendar function and no impure native, itself or in what it expands. (Whether
/// it reads model variables is told by its free names.)
pub(crate) fn is_pure(ir: &Ir) -> bool {
    fn node(n: &IrNode) -> bool {
        stacker::maybe_grow(crate::parse::STACK_RED_ZONE, crate::parse::STACK_GROWTH, || node_inner(n))
    }
    fn node_inner(n: &IrNode) -> bool {
        match n {
            IrNode::Stateful { .. } | IrNode::Calendar { .. } => false,
            IrNode::Native { f, args, .. } => f.is_pure() && args.iter().all(node),
            IrNode::Call { f, args, .. } => f.pure && args.iter().all(node),
            IrNode::Table { args, .. } => args.iter().all(node),
            IrNode::Neg(a) | IrNode::Not(a) => node(a),
            IrNode::Binary { lhs, rhs, .. } | IrNode::And(lhs, rhs) | IrNode::Or(lhs, rhs) => node(lhs) && node(rhs),
            IrNode::If(c, a, b) => node(c) && node(a) && node(b),
            IrNode::Inline { params, stmts: body, result } => {
                params.iter().all(|(_, a)| node(a)) && stmts(body) && node(result)
            }
            IrNode::Const(_) | IrNode::Slot(_) | IrNode::Local(_) | IrNode::Offset { .. } => true,
        }
    }
    fn stmts(s: &[IrStmt]) -> bool {
        s.iter().all(|s| match s {
            IrStmt::Let { value, .. } => node(value),
            IrStmt::Assert { cond, .. } => node(cond),
        })
    }
    stmts(&ir.stmts) && node(&ir.result)
}
