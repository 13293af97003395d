//! The compiled form of a pure expression: one contiguous array of nodes.
//!
//! Why: the closure tree of [`interp`](crate::exec::interp) puts every node in its own heap block.
//! That costs nothing while a few expressions stay in cache, but a host evaluating thousands of
//! different expressions each step (a model with thousands of nodes) chases pointers through
//! scattered blocks and waits on memory at every node. Here an expression is one array of
//! 32-byte nodes laid out in pre-order (a parent, then its first subtree, then its second), so
//! an evaluation reads memory front to back, as the hardware prefetcher expects, and one
//! expression is one allocation. An [`Arena`] goes one step further for an
//! [`ExprSet`](crate::ExprSet) or a model: many expressions' arrays end to end, in the order
//! they are evaluated.
//!
//! Each node holds a plain function pointer, `run`, and its operands: child indices, slots and
//! constants. The functions are generic over the operation (a zero-sized type per built-in and
//! operator), so each one is specialised with its operation inlined. Nodes are few and fat, as
//! ExprTk's synthesised nodes are, because each costs an indirect call:
//! - operands that are slots or constants are read in place: `x * 2`, `k - x`, `x + y`;
//! - so are pairs of them, with the pair's operation a two-bit code: `(y + x / y)` is one node;
//! - a one-argument built-in reads a slot, a pair, or another one-argument built-in of a slot:
//!   `abs(sin(x * 0.01))` is one node;
//! - a left-nested chain of one operator over 3–5 subexpressions, `t1 + t2 + t3 + t4`, is one.
//!
//! Only pure expressions under the default error options take this form, in single evaluations
//! and in runs: no block, local, assert, table, native, inlined body, stateful call or offset
//! into a run's columns, and no `interp` (its points are a slice). Everything else keeps the
//! closure tree. Both call the same [`builtins`] in the same order, so the results are the same
//! bits (property-tested against a reference walker, and by the macro's case table).

use crate::ast::BinaryOp;
use crate::builtins::{self, Imp};
use crate::ir::IrNode;
use crate::options::DivByZero;

/// A node's code: evaluates `node` (an element of `env.nodes`) over `env.values`.
type Run = fn(env: &Env<'_>, node: &Node) -> f64;

/// What an evaluation reads, passed to every node by one pointer, so that a node's code keeps
/// two registers across its children's calls (as a closure does), not five.
pub(crate) struct Env<'a> {
    nodes: &'a [Node],
    values: &'a [f64],
}

/// One node. What `a`, `b`, `c` and `k` mean depends on `run`: a child's index, a slot, a
/// function's index in [`F1`], or a constant.
#[derive(Clone, Copy)]
pub(crate) struct Node {
    run: Run,
    a: u32,
    b: u32,
    c: u32,
    k: f64,
}

/// "No next argument" in a long fold's argument list.
const END: u32 = u32::MAX;

/// A compiled pure expression.
#[derive(Default)]
pub(crate) struct Flat {
    nodes: Box<[Node]>,
    /// One more than the largest slot read: a shorter `values` gives NaN, never a panic.
    n_slots: usize,
}

impl Flat {
    /// Compiles `n`, or `None` when it needs the closure tree (see the module docs). `single`:
    /// for single evaluations, where `x[k, d]` with `k != 0` reads its default; in a stepping
    /// run such an offset reads the run's columns, which only the closure tree can.
    pub(crate) fn compile(n: &IrNode, div: DivByZero, single: bool) -> Option<Flat> {
        if div == DivByZero::Error {
            return None;
        }
        let mut b = Builder { nodes: Vec::new(), div, n_slots: 0, single };
        b.node(n)?;
        Some(Flat { nodes: b.nodes.into_boxed_slice(), n_slots: b.n_slots })
    }

    /// The value over `values` (at least as long as the expression's slots; checked by the
    /// caller).
    #[inline(always)]
    pub(crate) fn eval(&self, values: &[f64]) -> f64 {
        match self.nodes.first() {
            Some(root) if values.len() >= self.n_slots => (root.run)(&Env { nodes: &self.nodes, values }, root),
            _ => f64::NAN,
        }
    }

    /// Bytes held on the heap.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.nodes)
    }
}

/// The node arrays of many expressions end to end, in the order they are evaluated: an
/// [`ExprSet`](crate::ExprSet)'s members, a model's series. Evaluating them in turn then reads
/// memory front to back, so the hardware prefetcher fetches the next expressions' nodes while
/// the current one runs; separately allocated arrays are scattered, and past what the caches
/// hold every expression starts with a wait on memory (up to 3× slower at 10,000 expressions,
/// see BENCHMARKS.md).
#[derive(Default)]
pub(crate) struct Arena {
    nodes: Vec<Node>,
}

/// Where one expression's nodes are in an [`Arena`]: `nodes[start..end]`. Child indices are
/// relative to `start`, as they were in the expression's own array, so nothing is rewritten.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member {
    start: u32,
    end: u32,
    /// One more than the largest slot it reads.
    n_slots: u32,
}

impl Arena {
    /// Appends `flat`'s nodes; where they are, or `None` if the arena's indices would pass
    /// `u32` (then the expression keeps its own array).
    pub(crate) fn push(&mut self, flat: &Flat) -> Option<Member> {
        let start = u32::try_from(self.nodes.len()).ok()?;
        let end = u32::try_from(self.nodes.len().checked_add(flat.nodes.len())?).ok()?;
        let n_slots = u32::try_from(flat.n_slots).ok()?;
        self.nodes.extend_from_slice(&flat.nodes);
        Some(Member { start, end, n_slots })
    }

    /// [`Arena::eval`] in a pass that checked once that `values` holds every slot of every
    /// expression it evaluates. (Were it shorter, a slot read would panic on its bounds check;
    /// the callers' check rules that out.)
    #[inline(always)]
    pub(crate) fn eval_in_pass(&self, m: Member, values: &[f64]) -> f64 {
        match self.nodes.get(m.start as usize..m.end as usize) {
            Some(nodes @ [root, ..]) => (root.run)(&Env { nodes, values }, root),
            _ => f64::NAN,
        }
    }

    /// Evaluates the expression at `m` over `values`, which must hold every slot it reads
    /// (callers check and report that; a shorter one gives NaN here, never a panic).
    #[inline(always)]
    pub(crate) fn eval(&self, m: Member, values: &[f64]) -> f64 {
        if values.len() >= m.n_slots as usize {
            self.eval_in_pass(m, values)
        } else {
            f64::NAN
        }
    }
}

/// Evaluates the child at `i`.
#[inline(always)]
fn ev(e: &Env<'_>, i: u32) -> f64 {
    let n = &e.nodes[i as usize];
    (n.run)(e, n)
}

/// The value of slot `i`.
#[inline(always)]
fn sl(e: &Env<'_>, i: u32) -> f64 {
    e.values[i as usize]
}

/// A one-argument operation, as a type, so that each node function inlines it.
trait Op1 {
    fn f(x: f64) -> f64;
}

/// A two-argument operation, as a type.
trait Op2 {
    fn f(x: f64, y: f64) -> f64;
}

macro_rules! ops1 {
    ($($t:ident = $f:path, $name:literal;)*) => {
        $(
            struct $t;
            impl Op1 for $t {
                #[inline(always)]
                fn f(x: f64) -> f64 {
                    $f(x)
                }
            }
        )*
        /// The one-argument functions by index, for the inner call of a fused pair such as
        /// `abs(sin(x))`, whose inner function is called through this table.
        const F1: &[fn(f64) -> f64] = &[$($f),*];
        const F1_NAMES: &[&str] = &[$($name),*];

        /// `unary::<Op>(…)` for the operation named `name` (a built-in, `-` or `!`).
        fn unary_named(b: &mut Builder, name: &str, at: usize, arg: &IrNode) -> Option<()> {
            match name {
                $($name => b.unary::<$t>(at, arg),)*
                _ => None,
            }
        }
    };
}

// The two unary operators, then one type per one-argument built-in, from the built-in list.
macro_rules! builtin_types {
    ($($t:ident = $f:ident $name:literal),*) => {
        ops1! {
            Neg = builtins::neg, "-";
            Not = builtins::not, "!";
            $($t = builtins::$f, $name;)*
        }
    };
}
builtins::unary_builtins!(builtin_types!());

macro_rules! ops2 {
    ($($t:ident = $f:expr;)*) => {
        $(
            struct $t;
            impl Op2 for $t {
                #[inline(always)]
                fn f(x: f64, y: f64) -> f64 {
                    $f(x, y)
                }
            }
        )*
    };
}

// One type per binary operator, from the one operator table, and the operations that are not
// operators: division under `DivByZero::Nan`, and the two-argument functions folds use.
macro_rules! operator_types {
    ($($t:ident = $f:ident),*) => {
        ops2! { $($t = builtins::$f;)* }
    };
}
builtins::binary_ops!(operator_types!());
ops2! {
    DivNan = builtins::div_nan;
    Atan2 = builtins::atan2;
    Min2 = builtins::min2;
    Max2 = builtins::max2;
}

// Leaves and general nodes.
fn konst(_: &Env<'_>, n: &Node) -> f64 {
    n.k
}
fn slot(e: &Env<'_>, n: &Node) -> f64 {
    sl(e, n.a)
}
fn if_(e: &Env<'_>, n: &Node) -> f64 {
    if builtins::truthy(ev(e, n.a)) {
        ev(e, n.b)
    } else {
        ev(e, n.c)
    }
}
fn clamp(e: &Env<'_>, n: &Node) -> f64 {
    builtins::clamp(ev(e, n.a), ev(e, n.b), ev(e, n.c))
}
fn mean(e: &Env<'_>, n: &Node) -> f64 {
    ev(e, n.a) / n.k
}
/// An argument of a long fold: `a` its value's node, `b` the next argument (or [`END`]).
fn link(_: &Env<'_>, _: &Node) -> f64 {
    f64::NAN
}
/// A fold over more than [`NESTED_FOLD_MAX`] arguments: a loop over its argument links, so a
/// 100,000-term sum is not 100,000 nodes deep.
fn fold_n<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    let first = &e.nodes[n.a as usize];
    let mut acc = ev(e, first.a);
    let mut next = first.b;
    while next != END {
        let l = &e.nodes[next as usize];
        acc = O::f(acc, ev(e, l.a));
        next = l.b;
    }
    acc
}

// Two-argument operations, by operand shape: S a slot (`a` or `b`), K the constant `k`, N a
// child node (`a` or `b`).
fn ss<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(sl(e, n.a), sl(e, n.b))
}
fn sk<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(sl(e, n.a), n.k)
}
fn ks<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(n.k, sl(e, n.b))
}
fn nk<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(ev(e, n.a), n.k)
}
fn kn<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(n.k, ev(e, n.b))
}
fn sn<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(sl(e, n.a), ev(e, n.b))
}
fn ns<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(ev(e, n.a), sl(e, n.b))
}
fn nn<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(ev(e, n.a), ev(e, n.b))
}

// Chains: `((a O b) O c) O …` of three to five child nodes in one node, the fourth and fifth
// child's indices in the two halves of `k`'s bits. A model's `t1 + t2 + t3 + t4` is one node
// instead of three, each saving a call and its saved registers.
fn chain3<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(O::f(ev(e, n.a), ev(e, n.b)), ev(e, n.c))
}
fn chain4<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    let d = (n.k.to_bits() >> 32) as u32;
    O::f(chain3::<O>(e, n), ev(e, d))
}
fn chain5<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    let bits = n.k.to_bits();
    O::f(O::f(chain3::<O>(e, n), ev(e, (bits >> 32) as u32)), ev(e, bits as u32))
}

// Two-argument operations with a fused pair operand P: `slot op slot` (PSS) or `slot op k`
// (PSK), computed inside the node, as ExprTk's synthesised nodes do. The pair's operation is one
// of `+ - * /`, two bits of `c` ([`pair_op`]); a slot or node index that does not fit in `a`,
// `b` or `k` goes in the upper bits of `c`. `(y + x / y) * (x - y / x)` is three nodes, not five.

/// The operation of a pair: bits 0–1 of `op` (`+ - * /`).
#[inline(always)]
fn pair_op(op: u32, x: f64, y: f64) -> f64 {
    match op & 3 {
        0 => builtins::add(x, y),
        1 => builtins::sub(x, y),
        2 => builtins::mul(x, y),
        _ => builtins::div(x, y),
    }
}
/// `a op b` on slots, the operation in `c`.
#[inline(always)]
fn pss(e: &Env<'_>, n: &Node) -> f64 {
    pair_op(n.c, sl(e, n.a), sl(e, n.b))
}
/// `a op k` on a slot, the operation in `c`.
#[inline(always)]
fn psk(e: &Env<'_>, n: &Node) -> f64 {
    pair_op(n.c, sl(e, n.a), n.k)
}
/// `k op a` on a slot, the operation in `c`.
#[inline(always)]
fn pks(e: &Env<'_>, n: &Node) -> f64 {
    pair_op(n.c, n.k, sl(e, n.a))
}
/// `(a op k) O (b op2 k2)`: `k2` is the constant of the data node whose index is bits 4– of
/// `c` (a node that is never run), `op2` bits 2–3. `2 * y + 2 * x` is one node.
fn psk_psk<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    let k2 = e.nodes[(n.c >> 4) as usize].k;
    O::f(psk(e, n), pair_op(n.c >> 2, sl(e, n.b), k2))
}
fn s_pss<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(sl(e, n.c >> 2), pss(e, n))
}
fn pss_s<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(pss(e, n), sl(e, n.c >> 2))
}
fn k_pss<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(n.k, pss(e, n))
}
fn pss_k<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(pss(e, n), n.k)
}
fn n_pss<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(ev(e, n.c >> 2), pss(e, n))
}
fn pss_n<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(pss(e, n), ev(e, n.c >> 2))
}
fn s_psk<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(sl(e, n.b), psk(e, n))
}
fn psk_s<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(psk(e, n), sl(e, n.b))
}
fn n_psk<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(ev(e, n.b), psk(e, n))
}
fn psk_n<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(psk(e, n), ev(e, n.b))
}
/// Two slot pairs: the second pair's slots are the two halves of `k`'s bits, its operation bits
/// 2–3 of `c`.
fn pss_pss<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    let bits = n.k.to_bits();
    O::f(pss(e, n), pair_op(n.c >> 2, sl(e, (bits >> 32) as u32), sl(e, bits as u32)))
}
/// `(a op k) O (b op2 s)`: `s` in bits 4– of `c`, `op2` bits 2–3.
fn psk_pss<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(psk(e, n), pair_op(n.c >> 2, sl(e, n.b), sl(e, n.c >> 4)))
}
/// `(a op b) O (s op2 k)`: `s` in bits 4– of `c`, `op2` bits 2–3.
fn pss_psk<O: Op2>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(pss(e, n), pair_op(n.c >> 2, sl(e, n.c >> 4), n.k))
}

// One-argument operations, by argument shape: a slot, `slot + k`, `slot - k`, `slot * k`, a
// child; and the same with an inner one-argument function `F1[b]` applied first.
fn u_s<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(sl(e, n.a))
}
fn u_add<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(builtins::add(sl(e, n.a), n.k))
}
fn u_sub<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(builtins::sub(sl(e, n.a), n.k))
}
fn u_mul<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(builtins::mul(sl(e, n.a), n.k))
}
fn u_pss<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(pss(e, n))
}
fn u_psk<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(psk(e, n))
}
fn u_pks<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(pks(e, n))
}
fn u_n<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(ev(e, n.a))
}
fn uu_s<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(F1[n.b as usize](sl(e, n.a)))
}
fn uu_add<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(F1[n.b as usize](builtins::add(sl(e, n.a), n.k)))
}
fn uu_sub<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(F1[n.b as usize](builtins::sub(sl(e, n.a), n.k)))
}
fn uu_mul<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(F1[n.b as usize](builtins::mul(sl(e, n.a), n.k)))
}
fn uu_n<O: Op1>(e: &Env<'_>, n: &Node) -> f64 {
    O::f(F1[n.b as usize](ev(e, n.a)))
}

/// Up to this many arguments a fold is nested two-argument nodes; beyond it, one loop node.
const NESTED_FOLD_MAX: usize = 8;

/// An argument a one-argument node computes inline: a slot, or `slot op constant`.
fn leaf_arg(a: &IrNode) -> Option<(Run1Shape, usize, f64)> {
    match a {
        IrNode::Slot(i) | IrNode::Offset { slot: i, step: 0, .. } => Some((Run1Shape::Slot, *i, 0.0)),
        IrNode::Binary { op, lhs, rhs, .. } => {
            let shape = match op {
                BinaryOp::Add => Run1Shape::Add,
                BinaryOp::Sub => Run1Shape::Sub,
                BinaryOp::Mul => Run1Shape::Mul,
                _ => return None,
            };
            match (&**lhs, &**rhs) {
                (IrNode::Slot(i), IrNode::Const(k)) => Some((shape, *i, *k)),
                // `k + x` and `k * x` are `x + k` and `x * k`, bit for bit (see `pair`).
                (IrNode::Const(k), IrNode::Slot(i)) if !matches!(shape, Run1Shape::Sub) => Some((shape, *i, *k)),
                _ => None,
            }
        }
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Run1Shape {
    Slot,
    Add,
    Sub,
    Mul,
}

/// The name of a one-argument function node, and its argument: `-x`, `!x`, or a call of a
/// one-argument built-in.
fn as_unary(n: &IrNode) -> Option<(&'static str, &IrNode)> {
    match n {
        IrNode::Neg(a) => Some(("-", a)),
        IrNode::Not(a) => Some(("!", a)),
        IrNode::Call { f, args, .. } if matches!(f.imp, Imp::F1(_)) => Some((f.name, args.first()?)),
        _ => None,
    }
}

/// Builds the node array in pre-order.
struct Builder {
    nodes: Vec<Node>,
    div: DivByZero,
    /// One more than the largest slot read.
    n_slots: usize,
    /// Compiling for single evaluations (see [`Flat::compile`]).
    single: bool,
}

impl Builder {
    /// Appends a node to fill in later; its index.
    fn reserve(&mut self) -> Option<usize> {
        let at = self.nodes.len();
        // Indices are u32, with `END` reserved.
        if at >= END as usize {
            return None;
        }
        self.nodes.push(Node { run: konst, a: 0, b: 0, c: 0, k: f64::NAN });
        Some(at)
    }

    fn set(&mut self, at: usize, run: Run, a: u32, b: u32, c: u32, k: f64) {
        self.nodes[at] = Node { run, a, b, c, k };
    }

    /// Slot `i` as a node operand, noting it in `n_slots`.
    fn slot(&mut self, i: usize) -> Option<u32> {
        self.n_slots = self.n_slots.max(i.checked_add(1)?);
        u32::try_from(i).ok()
    }

    /// Appends `n`'s subtree; the index of its root.
    fn node(&mut self, n: &IrNode) -> Option<u32> {
        stacker::maybe_grow(crate::parse::STACK_RED_ZONE, crate::parse::STACK_GROWTH, || {
            let at = self.reserve()?;
            self.fill(at, n)?;
            u32::try_from(at).ok()
        })
    }

    /// Fills the reserved node `at` with `n`, appending its children.
    fn fill(&mut self, at: usize, n: &IrNode) -> Option<()> {
        use BinaryOp as B;
        match n {
            IrNode::Const(k) => self.set(at, konst, 0, 0, 0, *k),
            IrNode::Slot(i) | IrNode::Offset { slot: i, step: 0, .. } => {
                let i = self.slot(*i)?;
                self.set(at, slot, i, 0, 0, 0.0)
            }
            // A single evaluation has no past or future: another step reads the default.
            IrNode::Offset { default, .. } if self.single => self.set(at, konst, 0, 0, 0, *default),
            IrNode::Offset { .. } => return None,
            IrNode::Neg(a) => self.unary::<Neg>(at, a)?,
            IrNode::Not(a) => self.unary::<Not>(at, a)?,
            IrNode::And(a, b) => self.binary::<And>(at, a, b)?,
            IrNode::Or(a, b) => self.binary::<Or>(at, a, b)?,
            IrNode::If(c, a, b) => {
                let (c, a, b) = (self.node(c)?, self.node(a)?, self.node(b)?);
                self.set(at, if_, c, a, b, 0.0);
            }
            IrNode::Binary { op, lhs, rhs, .. } => match op {
                B::Add => self.chain_or_binary::<Add>(at, n, lhs, rhs)?,
                B::Sub => self.chain_or_binary::<Sub>(at, n, lhs, rhs)?,
                B::Mul => self.chain_or_binary::<Mul>(at, n, lhs, rhs)?,
                B::Div if self.div == DivByZero::Nan => self.binary::<DivNan>(at, lhs, rhs)?,
                _ => {
                    macro_rules! arms {
                        ($($v:ident = $f:ident),*) => {
                            match op {
                                $(B::$v => self.binary::<$v>(at, lhs, rhs)?,)*
                            }
                        };
                    }
                    builtins::binary_ops!(arms!())
                }
            },
            IrNode::Call { f, args, .. } => match (f.imp, args.as_slice()) {
                (Imp::F1(_), [a]) => unary_named(self, f.name, at, a)?,
                (Imp::F2(_), [a, b]) => {
                    macro_rules! arms {
                        ($($t:ident = $f:ident),*) => {
                            match f.rust {
                                $(stringify!($f) => self.binary::<$t>(at, a, b)?,)*
                                _ => return None,
                            }
                        };
                    }
                    builtins::binary_builtins!(arms!())
                }
                (Imp::F3(_), [a, b, c]) if f.name == "clamp" => {
                    let (a, b, c) = (self.node(a)?, self.node(b)?, self.node(c)?);
                    self.set(at, clamp, a, b, c, 0.0);
                }
                (Imp::Fold(_), _) => {
                    macro_rules! arms {
                        ($($t:ident = $f:ident),*) => {
                            match f.rust {
                                $(stringify!($f) => self.fold::<$t>(at, args)?,)*
                                _ => return None,
                            }
                        };
                    }
                    builtins::binary_builtins!(arms!())
                }
                (Imp::Mean, _) => {
                    let sum = self.reserve()?;
                    self.fold::<Add>(sum, args)?;
                    self.set(at, mean, u32::try_from(sum).ok()?, 0, 0, args.len() as f64);
                }
                _ => return None,
            },
            IrNode::Local(_)
            | IrNode::Stateful { .. }
            | IrNode::Calendar { .. }
            | IrNode::Table { .. }
            | IrNode::Native { .. }
            | IrNode::Inline { .. } => return None,
        }
        Some(())
    }

    /// A one-argument operation `O` of `a`, fused with a slot argument, `slot op const`, or an
    /// inner one-argument function.
    fn unary<O: Op1>(&mut self, at: usize, a: &IrNode) -> Option<()> {
        if let Some((shape, i, k)) = leaf_arg(a) {
            let i = self.slot(i)?;
            let run: Run = match shape {
                Run1Shape::Slot => u_s::<O>,
                Run1Shape::Add => u_add::<O>,
                Run1Shape::Sub => u_sub::<O>,
                Run1Shape::Mul => u_mul::<O>,
            };
            self.set(at, run, i, 0, 0, k);
            return Some(());
        }
        if let Some(p) = pair(a, self.div) {
            match p {
                Pair::SS(o, i, j) => {
                    let (i, j) = (self.slot(i)?, self.slot(j)?);
                    self.set(at, u_pss::<O>, i, j, o, 0.0);
                }
                Pair::SK(o, i, k) => {
                    let i = self.slot(i)?;
                    self.set(at, u_psk::<O>, i, 0, o, k);
                }
                Pair::KS(o, i, k) => {
                    let i = self.slot(i)?;
                    self.set(at, u_pks::<O>, i, 0, o, k);
                }
            }
            return Some(());
        }
        if let Some((name, inner)) = as_unary(a) {
            if let Some(g) = F1_NAMES.iter().position(|n| *n == name) {
                let g = u32::try_from(g).ok()?;
                if let Some((shape, i, k)) = leaf_arg(inner) {
                    let i = self.slot(i)?;
                    let run: Run = match shape {
                        Run1Shape::Slot => uu_s::<O>,
                        Run1Shape::Add => uu_add::<O>,
                        Run1Shape::Sub => uu_sub::<O>,
                        Run1Shape::Mul => uu_mul::<O>,
                    };
                    self.set(at, run, i, g, 0, k);
                } else {
                    let child = self.node(inner)?;
                    self.set(at, uu_n::<O>, child, g, 0, 0.0);
                }
                return Some(());
            }
        }
        let child = self.node(a)?;
        self.set(at, u_n::<O>, child, 0, 0, 0.0);
        Some(())
    }

    /// A two-argument operation `O`, specialised for slot and constant operands.
    fn binary<O: Op2>(&mut self, at: usize, a: &IrNode, b: &IrNode) -> Option<()> {
        let single = self.single;
        let operand = |n: &IrNode| match n {
            IrNode::Slot(i) | IrNode::Offset { slot: i, step: 0, .. } => Some(Operand::Slot(*i)),
            IrNode::Const(k) => Some(Operand::Const(*k)),
            IrNode::Offset { default, .. } if single => Some(Operand::Const(*default)),
            _ => None,
        };
        let (oa, ob) = (operand(a), operand(b));
        if self.paired::<O>(at, a, b, oa, ob)? {
            return Some(());
        }
        match (oa, ob) {
            (Some(Operand::Slot(i)), Some(Operand::Const(k))) => {
                let i = self.slot(i)?;
                self.set(at, sk::<O>, i, 0, 0, k)
            }
            (Some(Operand::Const(k)), Some(Operand::Slot(j))) => {
                let j = self.slot(j)?;
                self.set(at, ks::<O>, 0, j, 0, k)
            }
            (Some(Operand::Slot(i)), Some(Operand::Slot(j))) => {
                let (i, j) = (self.slot(i)?, self.slot(j)?);
                self.set(at, ss::<O>, i, j, 0, 0.0)
            }
            // Two constants: folded by the resolver, except where it keeps them on purpose.
            (Some(Operand::Const(_)), Some(Operand::Const(k))) | (None, Some(Operand::Const(k))) => {
                let a = self.node(a)?;
                self.set(at, nk::<O>, a, 0, 0, k);
            }
            (Some(Operand::Const(k)), None) => {
                let b = self.node(b)?;
                self.set(at, kn::<O>, 0, b, 0, k);
            }
            (Some(Operand::Slot(i)), None) => {
                let i = self.slot(i)?;
                let b = self.node(b)?;
                self.set(at, sn::<O>, i, b, 0, 0.0);
            }
            (None, Some(Operand::Slot(j))) => {
                let j = self.slot(j)?;
                let a = self.node(a)?;
                self.set(at, ns::<O>, a, j, 0, 0.0);
            }
            (None, None) => {
                let (a, b) = (self.node(a)?, self.node(b)?);
                self.set(at, nn::<O>, a, b, 0, 0.0);
            }
        }
        Some(())
    }

    /// `O(a, b)` as one node when an operand is a pair and the other a slot, a constant, a
    /// pair or a node; `Some(false)` when the shapes do not match.
    fn paired<O: Op2>(
        &mut self,
        at: usize,
        a: &IrNode,
        b: &IrNode,
        oa: Option<Operand>,
        ob: Option<Operand>,
    ) -> Option<bool> {
        use Pair::{SK, SS};
        // `k - x` and `k / x` pairs stand alone (as `ks` nodes) here.
        let (pa, pb) = (pa_filter(pair(a, self.div)), pa_filter(pair(b, self.div)));
        if pa.is_none() && pb.is_none() {
            return Some(false);
        }
        match (oa, pa, ob, pb) {
            (_, Some(SK(o1, i, k1)), _, Some(SK(o2, j, k2))) => {
                let (i, j) = (self.slot(i)?, self.slot(j)?);
                let data = self.reserve()?;
                self.set(data, konst, 0, 0, 0, k2);
                let data = u32::try_from(data).ok()?;
                self.set(at, psk_psk::<O>, i, j, pack(data, 4, o1 | o2 << 2)?, k1);
            }
            (_, Some(SS(o1, i, j)), _, Some(SS(o2, p, q))) => {
                let (i, j, p, q) = (self.slot(i)?, self.slot(j)?, self.slot(p)?, self.slot(q)?);
                let k = f64::from_bits(u64::from(p) << 32 | u64::from(q));
                self.set(at, pss_pss::<O>, i, j, o1 | o2 << 2, k);
            }
            (_, Some(SK(o1, i, k)), _, Some(SS(o2, p, q))) => {
                let (i, p, q) = (self.slot(i)?, self.slot(p)?, self.slot(q)?);
                self.set(at, psk_pss::<O>, i, p, pack(q, 4, o1 | o2 << 2)?, k);
            }
            (_, Some(SS(o1, i, j)), _, Some(SK(o2, p, k))) => {
                let (i, j, p) = (self.slot(i)?, self.slot(j)?, self.slot(p)?);
                self.set(at, pss_psk::<O>, i, j, pack(p, 4, o1 | o2 << 2)?, k);
            }
            (Some(Operand::Slot(s)), _, _, Some(SS(o, i, j))) => {
                let (s, i, j) = (self.slot(s)?, self.slot(i)?, self.slot(j)?);
                self.set(at, s_pss::<O>, i, j, pack(s, 2, o)?, 0.0);
            }
            (_, Some(SS(o, i, j)), Some(Operand::Slot(s)), _) => {
                let (s, i, j) = (self.slot(s)?, self.slot(i)?, self.slot(j)?);
                self.set(at, pss_s::<O>, i, j, pack(s, 2, o)?, 0.0);
            }
            (Some(Operand::Const(k)), _, _, Some(SS(o, i, j))) => {
                let (i, j) = (self.slot(i)?, self.slot(j)?);
                self.set(at, k_pss::<O>, i, j, o, k);
            }
            (_, Some(SS(o, i, j)), Some(Operand::Const(k)), _) => {
                let (i, j) = (self.slot(i)?, self.slot(j)?);
                self.set(at, pss_k::<O>, i, j, o, k);
            }
            (Some(Operand::Slot(s)), _, _, Some(SK(o, i, k))) => {
                let (s, i) = (self.slot(s)?, self.slot(i)?);
                self.set(at, s_psk::<O>, i, s, o, k);
            }
            (_, Some(SK(o, i, k)), Some(Operand::Slot(s)), _) => {
                let (s, i) = (self.slot(s)?, self.slot(i)?);
                self.set(at, psk_s::<O>, i, s, o, k);
            }
            (None, None, _, Some(SS(o, i, j))) => {
                let (i, j) = (self.slot(i)?, self.slot(j)?);
                let child = self.node(a)?;
                self.set(at, n_pss::<O>, i, j, pack(child, 2, o)?, 0.0);
            }
            (_, Some(SS(o, i, j)), None, None) => {
                let (i, j) = (self.slot(i)?, self.slot(j)?);
                let child = self.node(b)?;
                self.set(at, pss_n::<O>, i, j, pack(child, 2, o)?, 0.0);
            }
            (None, None, _, Some(SK(o, i, k))) => {
                let i = self.slot(i)?;
                let child = self.node(a)?;
                self.set(at, n_psk::<O>, i, child, o, k);
            }
            (_, Some(SK(o, i, k)), None, None) => {
                let i = self.slot(i)?;
                let child = self.node(b)?;
                self.set(at, psk_n::<O>, i, child, o, k);
            }
            _ => return Some(false),
        }
        Some(true)
    }

    /// `lhs O rhs` (the node `n`), as a chain node when it is the end of a left-nested chain of
    /// three or more operands of the same operator that are all nodes themselves (see
    /// [`chain3`]), else as [`Builder::binary`].
    fn chain_or_binary<O: Op2>(&mut self, at: usize, n: &IrNode, lhs: &IrNode, rhs: &IrNode) -> Option<()> {
        let IrNode::Binary { op, .. } = n else { return None };
        let mut operands = vec![rhs];
        let mut left = lhs;
        while let IrNode::Binary { op: o, lhs, rhs, .. } = left {
            if o != op {
                break;
            }
            operands.push(rhs);
            left = lhs;
        }
        operands.push(left);
        operands.reverse();
        let leaf = |n: &IrNode| {
            matches!(n, IrNode::Slot(_) | IrNode::Const(_) | IrNode::Offset { .. }) || pair(n, self.div).is_some()
        };
        if operands.len() < 3 || operands.iter().any(|n| leaf(n)) {
            return self.binary::<O>(at, lhs, rhs);
        }
        self.chain::<O>(at, &operands)
    }

    /// A chain node over `operands` (3 or more nodes), left to right: up to five in one node,
    /// a longer chain as a chain node whose first operand is the chain of the ones before.
    fn chain<O: Op2>(&mut self, at: usize, operands: &[&IrNode]) -> Option<()> {
        let mut kids = Vec::with_capacity(5);
        let rest = if operands.len() > 5 {
            // The head, two or more operands, becomes the first child; four stay direct.
            let (head, rest) = operands.split_at(operands.len() - 4);
            let sub = self.reserve()?;
            match head {
                [a, b] => self.binary::<O>(sub, a, b)?,
                _ => self.chain::<O>(sub, head)?,
            }
            kids.push(u32::try_from(sub).ok()?);
            rest
        } else {
            operands
        };
        for n in rest {
            kids.push(self.node(n)?);
        }
        let packed = |d: u32, e: u32| f64::from_bits(u64::from(d) << 32 | u64::from(e));
        match kids[..] {
            [a, b, c] => self.set(at, chain3::<O>, a, b, c, 0.0),
            [a, b, c, d] => self.set(at, chain4::<O>, a, b, c, packed(d, 0)),
            [a, b, c, d, e] => self.set(at, chain5::<O>, a, b, c, packed(d, e)),
            _ => return None,
        }
        Some(())
    }

    /// A left fold of `O` over `args`: nested two-argument nodes up to [`NESTED_FOLD_MAX`]
    /// arguments, one loop node beyond.
    fn fold<O: Op2>(&mut self, at: usize, args: &[IrNode]) -> Option<()> {
        match args {
            [] => self.set(at, konst, 0, 0, 0, f64::NAN),
            [a] => self.fill(at, a)?,
            _ if args.len() > NESTED_FOLD_MAX => {
                // Links in order: each names its argument's node and the next link.
                let mut first = END;
                let mut prev: Option<usize> = None;
                for arg in args {
                    let l = self.reserve()?;
                    let value = self.node(arg)?;
                    self.set(l, link, value, END, 0, 0.0);
                    match prev {
                        Some(p) => self.nodes[p].b = u32::try_from(l).ok()?,
                        None => first = u32::try_from(l).ok()?,
                    }
                    prev = Some(l);
                }
                self.set(at, fold_n::<O>, first, 0, 0, 0.0);
            }
            [init @ .., last] => {
                // `op(op(op(a0, a1), a2), a3)`: the last argument on the right.
                self.binary_folded::<O>(at, init, last)?;
            }
        }
        Some(())
    }

    /// `O(fold(init), last)`, with `last` specialised when it is a slot or constant.
    fn binary_folded<O: Op2>(&mut self, at: usize, init: &[IrNode], last: &IrNode) -> Option<()> {
        match init {
            [] => None,
            [a] => self.binary::<O>(at, a, last),
            [rest @ .., prev] => {
                let lhs = self.reserve()?;
                self.binary_folded::<O>(lhs, rest, prev)?;
                let lhs = u32::try_from(lhs).ok()?;
                match last {
                    IrNode::Const(k) => self.set(at, nk::<O>, lhs, 0, 0, *k),
                    IrNode::Slot(j) => {
                        let j = self.slot(*j)?;
                        self.set(at, ns::<O>, lhs, j, 0, 0.0)
                    }
                    _ => {
                        let b = self.node(last)?;
                        self.set(at, nn::<O>, lhs, b, 0, 0.0);
                    }
                }
                Some(())
            }
        }
    }
}

/// A pair operand: `slot op slot` or `slot op constant`, `op` one of `+ - * /` as 0–3.
#[derive(Clone, Copy)]
enum Pair {
    SS(u32, usize, usize),
    SK(u32, usize, f64),
    /// `constant - slot` or `constant / slot`.
    KS(u32, usize, f64),
}

/// `n` as a pair operand. `constant op slot` is taken as `slot op constant` for `+` and `*`,
/// which IEEE arithmetic makes commutative bit for bit (only when both operands are NaN can the
/// result's NaN payload differ, and a NaN is a NaN to every reader of results). Division only
/// under IEEE division (the NaN option has its own rule).
fn pair(n: &IrNode, div: DivByZero) -> Option<Pair> {
    let IrNode::Binary { op, lhs, rhs, .. } = n else { return None };
    let code = match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div if div == DivByZero::Ieee => 3,
        _ => return None,
    };
    match (&**lhs, &**rhs) {
        (IrNode::Slot(i), IrNode::Slot(j)) => Some(Pair::SS(code, *i, *j)),
        (IrNode::Slot(i), IrNode::Const(k)) => Some(Pair::SK(code, *i, *k)),
        (IrNode::Const(k), IrNode::Slot(i)) if code == 0 || code == 2 => Some(Pair::SK(code, *i, *k)),
        (IrNode::Const(k), IrNode::Slot(i)) => Some(Pair::KS(code, *i, *k)),
        _ => None,
    }
}

/// A pair the two-argument nodes fuse: not `KS`.
fn pa_filter(p: Option<Pair>) -> Option<Pair> {
    p.filter(|p| !matches!(p, Pair::KS(..)))
}

/// `x << shift | low`, if `x` fits in the bits above `shift`.
fn pack(x: u32, shift: u32, low: u32) -> Option<u32> {
    (x < (1 << (32 - shift))).then(|| x << shift | low)
}

#[derive(Clone, Copy)]
enum Operand {
    Slot(usize),
    Const(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(src: &str, names: &[&str]) -> Flat {
        let ir = crate::Expr::parse(src).unwrap().resolve(names, &Default::default()).unwrap();
        Flat::compile(&ir.result, DivByZero::Ieee, true).unwrap_or_else(|| panic!("{src} is not flat"))
    }

    #[test]
    fn nodes_are_32_bytes_in_one_block() {
        assert_eq!(std::mem::size_of::<Node>(), 32);
        let f = flat("abs(sin(x * 0.01)) + max(x, y, 2)", &["x", "y"]);
        // +, abs∘sin fused, max(max(x, y), 2) as two nodes.
        assert_eq!(f.heap_bytes(), 4 * 32);
        assert_eq!(f.eval(&[100.0, 0.5]), (1.0f64).sin().abs() + 100.0);
    }

    #[test]
    fn pairs_of_leaves_are_computed_inside_their_parent() {
        let names = ["x", "y"];
        type Case = (&'static str, usize, fn(f64, f64) -> f64);
        let cases: &[Case] = &[
            ("(y + x / y) * (x - y / x)", 3, |x, y| (y + x / y) * (x - y / x)),
            ("x / ((x + y) + (x - y)) / y", 3, |x, y| x / ((x + y) + (x - y)) / y),
            ("2 * (y + x)", 1, |x, y| 2.0 * (y + x)),
            ("exp(-abs(x * 0.5)) + pow(abs(cos(y * 0.1)), 0.5)", 5, |x: f64, y: f64| {
                (-(x * 0.5).abs()).exp() + (y * 0.1).cos().abs().powf(0.5)
            }),
            ("min(x, sin(y + x)) * max(y, 2)", 4, |x: f64, y: f64| x.min((y + x).sin()) * y.max(2.0)),
            ("(x * 2.5 - y) / (x - y * 3)", 3, |x, y| (x * 2.5 - y) / (x - y * 3.0)),
            ("(x + y) - (3 * y) + sin(x)", 3, |x: f64, y| (x + y) - (3.0 * y) + x.sin()),
            ("sin(x) - (y - 1)", 2, |x: f64, y| x.sin() - (y - 1.0)),
            ("(y / 4) < x", 1, |x, y| f64::from(u8::from(y / 4.0 < x))),
            // Chains of nodes: one node for up to five, nested beyond.
            ("sin(x) + cos(y) + abs(x) + sqrt(y)", 5, |x: f64, y: f64| x.sin() + y.cos() + x.abs() + y.sqrt()),
            ("sin(x) * cos(y) * tan(x)", 4, |x: f64, y: f64| x.sin() * y.cos() * x.tan()),
            ("sin(x) - cos(y) - sin(y) - cos(x) - abs(x) - abs(y) - exp(x)", 9, |x: f64, y: f64| {
                x.sin() - y.cos() - y.sin() - x.cos() - x.abs() - y.abs() - x.exp()
            }),
            // Two constant pairs: the node and a data node for the second constant.
            ("2 * y + x / 3", 2, |x, y| 2.0 * y + x / 3.0),
            ("cos(pi / y) + sin(2 * x)", 3, |x: f64, y: f64| (std::f64::consts::PI / y).cos() + (2.0 * x).sin()),
            ("abs(x - y) * -(1 - x)", 3, |x: f64, y: f64| (x - y).abs() * -(1.0 - x)),
        ];
        for &(src, nodes, expected) in cases {
            let f = flat(src, &names);
            assert_eq!(f.heap_bytes(), nodes * 32, "{src}");
            for (x, y) in [(1.5, -2.25), (0.0, 0.0), (-0.0, 3.0), (f64::INFINITY, 1e-300)] {
                let (got, want) = (f.eval(&[x, y]), expected(x, y));
                assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{src} at {x}, {y}");
            }
        }
    }

    #[test]
    fn long_folds_loop_instead_of_nesting() {
        let src = format!("sum({})", vec!["x"; 20].join(", "));
        let f = flat(&src, &["x"]);
        // The loop node, then a link and a slot per argument.
        assert_eq!(f.heap_bytes(), (1 + 2 * 20) * 32);
        assert_eq!(f.eval(&[0.5]), 10.0);
    }

    #[test]
    fn impure_and_slice_expressions_keep_the_closure_tree() {
        for src in ["interp(x, 0, 0, 1, 1)", "moving_mean(x, 3, 0)", "{ a = x; a }"] {
            let ir = crate::Expr::parse(src).unwrap().resolve(&["x"], &Default::default()).unwrap();
            assert!(Flat::compile(&ir.result, DivByZero::Ieee, true).is_none() || !ir.stmts.is_empty(), "{src}");
        }
    }
}
