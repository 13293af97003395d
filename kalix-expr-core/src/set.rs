//! [`ExprSet`]: many compiled expressions kept in one array and evaluated in turn.
//!
//! Why: a host with thousands of expressions (a model with thousands of nodes) evaluates each
//! once per step. Held as separate [`Compiled`] values, each expression's nodes are their own
//! heap block somewhere in memory; past a few thousand expressions they no longer fit in cache,
//! and every evaluation first waits for memory at an address the processor could not foresee
//! (measured: up to 3× slower per evaluation at 10,000 expressions; see BENCHMARKS.md). A set
//! copies the node arrays of its pure members end to end into one array, in the order they are
//! evaluated, so [`ExprSet::eval_all`] reads memory front to back and the hardware prefetcher
//! fetches the next expressions while the current one runs.
//!
//! Members that are not pure (blocks, strict options, stateful calls …) keep their closure
//! tree and are evaluated as [`Compiled::eval`] would; they gain nothing but lose nothing.
//! Every member gives the same bits as its [`Compiled::eval`]: both run the same nodes.

use std::fmt;

use crate::compiled::Compiled;
use crate::error::{Error, ErrorKind};
use crate::exec::flat::{Arena, Member};
use crate::span::Span;

/// Where a member's code is.
#[derive(Clone, Copy, Debug)]
enum Entry {
    /// Its nodes, in the set's arena.
    Flat(Member),
    /// Its own closure tree: evaluate `members[i]`.
    Tree,
}

/// A member the set's native module does not always evaluate: one outside it, or one whose
/// code can bail (it calls a table, a native or `interp`, asserts, or checks for strict
/// options' errors). The members always evaluated natively are not listed, so a step where
/// nothing bails does not visit them again.
#[cfg(feature = "jit")]
#[derive(Clone, Copy, Debug)]
enum Jitted {
    No(usize),
    MayBail(usize),
}

/// Many compiled expressions, evaluated in turn over one slot array, with their pure members'
/// nodes kept together in one array: the way to hold thousands of expressions that are all
/// evaluated at every step.
///
/// Why: held as separate [`Compiled`] values, each expression's nodes are their own heap block.
/// Past a few thousand expressions they no longer fit in cache, and each evaluation starts by
/// waiting for memory (measured: up to 3× slower per evaluation at 10,000 expressions than at
/// 8). A set's [`ExprSet::eval_all`] reads one array front to back, which the processor fetches
/// ahead: no slowdown at 10,000 or 100,000 expressions (BENCHMARKS.md).
///
/// Members are added with [`ExprSet::push`], which returns each one's index; results are the
/// same bits as each member's [`Compiled::eval`]. Each member reads the slot array with its own
/// slots, so members compiled against the same names share one array of values.
///
/// ```
/// use kalix_expr_core::{Expr, ExprSet};
/// let names = ["data.rain", "data.loss"];
/// let mut set = ExprSet::new();
/// for src in ["max(0, data.rain - data.loss)", "data.rain * 0.5", "{ r = data.rain; r * r }"] {
///     set.push(Expr::parse(src)?.compile(&names)?);
/// }
/// let mut out = [0.0; 3];
/// set.eval_all(&[12.0, 2.5], &mut out)?;
/// assert_eq!(out, [9.5, 6.0, 144.0]);
/// assert_eq!(set.eval(1, &[3.0, 0.0])?, 1.5);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Default)]
pub struct ExprSet {
    /// Every pure member's nodes, end to end in the order of the members.
    arena: Arena,
    /// Per member, where its code is.
    entries: Vec<Entry>,
    /// Per member, the compiled expression: evaluated directly when it has no node array, and
    /// kept for its source, names and error messages when its nodes were moved into `nodes`
    /// (then it is never evaluated itself).
    members: Vec<Compiled>,
    /// The most slots any member reads: what [`ExprSet::eval_all`] checks once.
    n_slots: usize,
    /// How many members keep their closure tree (none: nothing to run but the arena, and
    /// nothing that can fail).
    n_tree: usize,
    /// The members compiled for the JIT, as one native module (built on the first
    /// [`ExprSet::eval_all`]), and which members it computes.
    #[cfg(feature = "jit")]
    native: std::sync::OnceLock<Option<(kalix_expr_jit::NativeSet, Box<[Jitted]>)>>,
    /// Calls of [`ExprSet::eval_all`] so far, until the native module is built after
    /// [`JIT_AFTER`](crate::JIT_AFTER) of them.
    #[cfg(feature = "jit")]
    evals: crate::exec::jit::WarmUp,
}

impl fmt::Debug for ExprSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flat = self.entries.iter().filter(|e| matches!(e, Entry::Flat(_))).count();
        f.debug_struct("ExprSet").field("len", &self.entries.len()).field("in_one_array", &flat).finish()
    }
}

impl ExprSet {
    /// An empty set.
    ///
    /// ```
    /// let set = kalix_expr_core::ExprSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> ExprSet {
        ExprSet::default()
    }

    /// Adds `compiled` as the last member; its index.
    ///
    /// A pure member's nodes move into the set's array (they are copied once, here; nothing is
    /// copied when evaluating).
    ///
    /// ```
    /// use kalix_expr_core::{Expr, ExprSet};
    /// let mut set = ExprSet::new();
    /// let i = set.push(Expr::parse("x + 1")?.compile(&["x"])?);
    /// assert_eq!((i, set.len()), (0, 1));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn push(&mut self, mut compiled: Compiled) -> usize {
        let entry = match compiled.move_into(&mut self.arena) {
            Some(m) => Entry::Flat(m),
            // Not pure, or (past 4 billion nodes) the arena is full: it keeps its own code.
            None => Entry::Tree,
        };
        // A member's nodes read only slots below its `n_slots`.
        self.n_slots = self.n_slots.max(compiled.n_slots());
        self.n_tree += usize::from(matches!(entry, Entry::Tree));
        self.entries.push(entry);
        self.members.push(compiled);
        #[cfg(feature = "jit")]
        {
            // A new member: the native module is built again, with it, on the next call if
            // the set is past its warm-up.
            if self.native.get().is_some() {
                self.evals.end();
            }
            self.native = std::sync::OnceLock::new();
        }
        self.entries.len() - 1
    }

    /// The engine of [`ExprSet::eval_all`] now: [`Engine::Jit`](crate::Engine::Jit) once the
    /// native module of its members compiled for the JIT is built (after
    /// [`JIT_AFTER`](crate::JIT_AFTER) calls, or by [`ExprSet::jit_now`]), else the
    /// interpreter. Members the JIT does not compile are interpreted in either case.
    ///
    /// ```
    /// use kalix_expr_core::{Engine, Expr, ExprSet, Options};
    /// let opts = Options { engine: Engine::Interpreter, ..Options::default() };
    /// let mut set = ExprSet::new();
    /// set.push(Expr::parse("x + 1")?.compile_with(&["x"], &opts)?);
    /// assert_eq!(set.jit_now(), Engine::Interpreter);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn engine(&self) -> crate::Engine {
        #[cfg(feature = "jit")]
        if self.native.get().is_some_and(Option::is_some) {
            return crate::Engine::Jit;
        }
        crate::Engine::Interpreter
    }

    /// Builds the native module now, skipping the warm-up; the engine of
    /// [`ExprSet::eval_all`] from now on (see [`ExprSet::engine`]).
    pub fn jit_now(&self) -> crate::Engine {
        #[cfg(feature = "jit")]
        let _ = self.native();
        self.engine()
    }

    /// The native module once built; otherwise counts a call, and builds it at the
    /// [`JIT_AFTER`](crate::JIT_AFTER)th.
    #[cfg(feature = "jit")]
    #[inline(always)]
    fn warm_native(&self) -> Option<&(kalix_expr_jit::NativeSet, Box<[Jitted]>)> {
        match self.native.get() {
            Some(n) => n.as_ref(),
            None => self.warm_up(),
        }
    }

    #[cfg(feature = "jit")]
    #[cold]
    fn warm_up(&self) -> Option<&(kalix_expr_jit::NativeSet, Box<[Jitted]>)> {
        if self.evals.over() {
            self.native()
        } else {
            None
        }
    }

    /// The native module of the members compiled for the JIT, built once.
    #[cfg(feature = "jit")]
    fn native(&self) -> Option<&(kalix_expr_jit::NativeSet, Box<[Jitted]>)> {
        self.native
            .get_or_init(|| {
                let mut others = Vec::new();
                let mut programs = Vec::new();
                let mut callouts = Vec::new();
                for (i, m) in self.members.iter().enumerate() {
                    if let Some(p) = m.jit_tape().and_then(|t| crate::exec::jit::program(t, &mut callouts, false)) {
                        if p.iter().any(kalix_expr_jit::Op::may_bail) {
                            others.push(Jitted::MayBail(i));
                        }
                        programs.push((i, p));
                    } else {
                        others.push(Jitted::No(i));
                    }
                }
                if programs.is_empty() {
                    return None;
                }
                let set =
                    kalix_expr_jit::NativeSet::compile(&programs, self.n_slots, self.members.len(), &callouts).ok()?;
                Some((set, others.into_boxed_slice()))
            })
            .as_ref()
    }

    /// How many members.
    ///
    /// ```
    /// assert_eq!(kalix_expr_core::ExprSet::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set has no members.
    ///
    /// ```
    /// assert!(kalix_expr_core::ExprSet::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most slots any member reads: `values` must be at least this long.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, ExprSet};
    /// let mut set = ExprSet::new();
    /// set.push(Expr::parse("a")?.compile(&["a", "b", "c"])?);
    /// assert_eq!(set.n_slots(), 3);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// Member `i`'s source text, or `None` past the end.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, ExprSet};
    /// let mut set = ExprSet::new();
    /// set.push(Expr::parse("x * 2")?.compile(&["x"])?);
    /// assert_eq!(set.source(0), Some("x * 2"));
    /// assert_eq!(set.source(1), None);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn source(&self, i: usize) -> Option<&str> {
        self.members.get(i).map(Compiled::source)
    }

    /// Member `i`'s slot names, or `None` past the end.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, ExprSet};
    /// let mut set = ExprSet::new();
    /// set.push(Expr::parse("x * 2")?.compile(&["x", "y"])?);
    /// assert_eq!(set.names(0), Some(&["x".to_string(), "y".to_string()][..]));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn names(&self, i: usize) -> Option<&[String]> {
        self.members.get(i).map(Compiled::names)
    }

    /// Evaluates member `i` over `values`: the same result as its [`Compiled::eval`], including
    /// its errors. Fails also when `i` is past the end.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, ExprSet, ErrorKind};
    /// let mut set = ExprSet::new();
    /// set.push(Expr::parse("x / 4")?.compile(&["x"])?);
    /// assert_eq!(set.eval(0, &[2.0])?, 0.5);
    /// assert!(matches!(set.eval(1, &[2.0]).unwrap_err().kind(), ErrorKind::IndexOutOfRange { index: 1, len: 1 }));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn eval(&self, i: usize, values: &[f64]) -> Result<f64, Error> {
        let (Some(entry), Some(member)) = (self.entries.get(i), self.members.get(i)) else {
            return Err(self.out_of_range(i));
        };
        match *entry {
            Entry::Flat(m) => {
                if values.len() < member.n_slots() {
                    return Err(member.too_few(values.len()));
                }
                Ok(self.arena.eval(m, values))
            }
            Entry::Tree => member.eval(values),
        }
    }

    /// Evaluates every member over `values`, member `i`'s result into `out[i]`, in order. Fails
    /// when `values` is shorter than [`ExprSet::n_slots`] or `out` shorter than the set (before
    /// evaluating anything), or at the first member that fails (strict options, `assert`), with
    /// that member's error; `out` then holds the results of the members before it.
    ///
    /// Allocates nothing and looks up no name: this is the loop to run at every step.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, ExprSet};
    /// let names = ["x", "y"];
    /// let mut set = ExprSet::new();
    /// for src in ["x + y", "x * y", "max(x, y)"] {
    ///     set.push(Expr::parse(src)?.compile(&names)?);
    /// }
    /// let mut out = vec![0.0; set.len()];
    /// for step in 0..3 {
    ///     set.eval_all(&[step as f64, 2.0], &mut out)?;
    /// }
    /// assert_eq!(out, [4.0, 4.0, 2.0]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn eval_all(&self, values: &[f64], out: &mut [f64]) -> Result<(), Error> {
        if out.len() < self.entries.len() {
            return Err(Error::new(
                &"".into(),
                Span::new(0, 0),
                ErrorKind::OutputTooShort { expected: self.entries.len(), found: out.len() },
                Some("give `out` one place per member: `vec![0.0; set.len()]`".into()),
            ));
        }
        if values.len() < self.n_slots {
            return Err(self.too_few(values.len()));
        }
        #[cfg(feature = "jit")]
        if let Some((set, others)) = self.warm_native() {
            // The native members in one pass of machine code, then the others. When the pass
            // bailed (a lookup missed, an assert failed), the members that can bail are
            // evaluated again on the interpreter, in order, which reports the first error.
            let whole = set.call(values, out);
            for &other in others.iter() {
                match other {
                    Jitted::MayBail(_) if whole => {}
                    Jitted::MayBail(i) => {
                        if let (Some(member), Some(out)) = (self.members.get(i), out.get_mut(i)) {
                            *out = member.eval_interpreted(values)?;
                        }
                    }
                    Jitted::No(i) => {
                        if let (Some(entry), Some(member), Some(out)) =
                            (self.entries.get(i), self.members.get(i), out.get_mut(i))
                        {
                            *out = match *entry {
                                Entry::Flat(m) => self.arena.eval_in_pass(m, values),
                                Entry::Tree => member.eval_interpreted(values)?,
                            };
                        }
                    }
                }
            }
            return Ok(());
        }
        if self.n_tree == 0 {
            // The common case, kept to the bare loop: tiny model expressions (`max(0, x - 21)`)
            // cost a few nanoseconds, so the loop's own instructions show.
            for (entry, out) in self.entries.iter().zip(out) {
                if let Entry::Flat(m) = *entry {
                    *out = self.arena.eval_in_pass(m, values);
                }
            }
            return Ok(());
        }
        self.eval_each(values, out)
    }

    /// Evaluates each member in turn on the interpreter (its node array in the set's arena, or
    /// its own closures); the first error stops.
    fn eval_each(&self, values: &[f64], out: &mut [f64]) -> Result<(), Error> {
        for ((entry, member), out) in self.entries.iter().zip(&self.members).zip(out) {
            *out = match *entry {
                Entry::Flat(m) => self.arena.eval_in_pass(m, values),
                Entry::Tree => member.eval_interpreted(values)?,
            };
        }
        Ok(())
    }

    /// The error of too few values: that of the first member that reads more.
    #[cold]
    fn too_few(&self, found: usize) -> Error {
        match self.members.iter().find(|m| m.n_slots() > found) {
            Some(m) => m.too_few(found),
            None => Error::new(
                &"".into(),
                Span::new(0, 0),
                ErrorKind::ValuesMissing { expected: self.n_slots, found },
                None,
            ),
        }
    }

    #[cold]
    fn out_of_range(&self, index: usize) -> Error {
        Error::new(&"".into(), Span::new(0, 0), ErrorKind::IndexOutOfRange { index, len: self.len() }, None)
    }
}

impl Extend<Compiled> for ExprSet {
    /// Pushes each in turn.
    fn extend<I: IntoIterator<Item = Compiled>>(&mut self, iter: I) {
        for c in iter {
            self.push(c);
        }
    }
}

impl FromIterator<Compiled> for ExprSet {
    /// A set of the compiled expressions, in order.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, ExprSet};
    /// let set: ExprSet = ["a + b", "a - b"]
    ///     .iter()
    ///     .map(|s| Expr::parse(s)?.compile(&["a", "b"]))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(set.eval(1, &[5.0, 3.0])?, 2.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    fn from_iter<I: IntoIterator<Item = Compiled>>(iter: I) -> ExprSet {
        let mut set = ExprSet::new();
        set.extend(iter);
        set
    }
}
