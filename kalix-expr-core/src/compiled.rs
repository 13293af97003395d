//! Compiling an [`Expr`]: resolving it against the host's names ([`Expr::resolve`],
//! [`Expr::check`]) and building the evaluators of a [`Compiled`] expression, which keeps its
//! resolved form so every back-end builds from the same [`Ir`].

use std::collections::HashMap;
use std::fmt;

use std::sync::Arc;

use crate::ast::NodeKind;
use crate::error::Error;
use crate::error::ErrorKind;
use crate::exec::batch::{BatchProgram, Tape};
use crate::exec::interp::{Program, Unsupported};
use crate::expr::Expr;
use crate::host::{Host, Scope};
use crate::ir::Ir;
use crate::options::MissingVariable;
use crate::options::Options;
use crate::sema::resolve_shared;
use crate::span::Span;

/// A compiled expression: immutable, `Send + Sync`, evaluated over a slice of slot values.
///
/// A host evaluating thousands of expressions at every step should keep them in an
/// [`ExprSet`](crate::ExprSet), which holds their nodes in one array: as separate values
/// they stop fitting in cache past a few thousand, and each evaluation waits on memory.
///
/// ```
/// use kalix_expr_core::Expr;
/// let c = Expr::parse("if(month > 10, summer, winter)")?.compile(&["month", "summer", "winter"])?;
/// assert_eq!(c.eval(&[11.0, 5.0, 2.0])?, 5.0);
/// assert_eq!(c.names(), ["month", "summer", "winter"]);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[repr(C)]
pub struct Compiled {
    // What `eval` reads first, together (see `Program`'s layout).
    n_slots: usize,
    program: Program,
    names: Vec<String>,
    source: Arc<str>,
    /// The resolved form as batch evaluation reads it, kept when the options allow the
    /// column-wise program and the expression has one: the program is built from it (never
    /// from the source again, so calls of natives stay resolved).
    tape: Option<Tape>,
    /// The column-wise program, built on the first batch call (so a compiled expression
    /// that is never batch-evaluated carries none of it).
    batch: std::sync::OnceLock<Option<BatchProgram>>,
    /// The functions it calls, as resolved.
    functions: Vec<crate::host::FnRef>,
    /// Whether it was compiled for [`Engine::Jit`](crate::Engine::Jit) and the JIT can
    /// compile it (pure, with a tape): its native code is then built on first use.
    #[cfg(feature = "jit")]
    jit: bool,
    /// Its native code, built after [`JIT_AFTER`](crate::JIT_AFTER) evaluations when `jit`
    /// is set (`None` inside when Cranelift could not compile it: the interpreter runs it).
    #[cfg(feature = "jit")]
    native: std::sync::OnceLock<Option<kalix_expr_jit::Native>>,
    /// Evaluations so far, until the native code is built (a race between threads only
    /// miscounts a few).
    #[cfg(feature = "jit")]
    evals: crate::exec::jit::WarmUp,
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiled").field("source", &&*self.source).field("names", &self.names).finish()
    }
}

impl Expr {
    /// Compiles against `names` with the default [`Options`]: slot `i` is `names[i]`.
    ///
    /// ```
    /// let c = kalix_expr_core::Expr::parse("rain - loss")?.compile(&["loss", "rain"])?;
    /// assert_eq!(c.eval(&[1.0, 3.0])?, 2.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn compile(&self, names: &[&str]) -> Result<Compiled, Error> {
        self.compile_with(names, &Options::default())
    }

    /// Compiles against `names` with explicit [`Options`].
    ///
    /// ```
    /// use kalix_expr_core::{Expr, Options};
    /// let c = Expr::parse("RAIN * 2")?.compile_with(&["rain"], &Options::model())?;
    /// assert_eq!(c.eval(&[1.5])?, 3.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn compile_with(&self, names: &[&str], opts: &Options) -> Result<Compiled, Error> {
        self.compile_with_host(names, &Host::default(), opts)
    }

    /// Compiles against `names` with a [`Host`]'s user functions, natives, tables and `this`
    /// (a function library's [`Snapshot::host`](crate::library::Snapshot::host) gives one).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use kalix_expr_core::{Expr, Host, NativeFn, Options};
    /// let natives = [Arc::new(NativeFn::pure("twice", 1, |a| 2.0 * a[0])?)];
    /// let host = Host { natives: &natives, ..Host::default() };
    /// let c = Expr::parse("twice(x) + 1")?.compile_with_host(&["x"], &host, &Options::default())?;
    /// assert_eq!(c.eval(&[4.0])?, 9.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn compile_with_host(&self, names: &[&str], host: &Host<'_>, opts: &Options) -> Result<Compiled, Error> {
        let (ir, names) = resolve_shared(&self.ast, &self.source, &Scope::Bound(names), host, opts)?;
        self.finish(ir, names, opts)
    }

    fn finish(&self, ir: Ir, names: Vec<String>, opts: &Options) -> Result<Compiled, Error> {
        if !opts.single_step {
            self.refuse_history(&ir)?;
        }
        let batchable = opts.div_by_zero == crate::options::DivByZero::Ieee
            && opts.domain_errors == crate::options::DomainErrors::Nan;
        let program = self.closures(&ir, opts)?;
        // The JIT compiles what the tape holds, under any options: a table lookup that misses,
        // or a division by zero or domain error that strict options report, makes the native
        // call bail, and the interpreter reports it. Batch evaluation runs the tape only
        // under the default options.
        #[cfg(feature = "jit")]
        let batchable = batchable || opts.engine == crate::options::Engine::Jit;
        let tape = if batchable { Tape::record(&ir, opts) } else { None };
        #[cfg(feature = "jit")]
        let jit = tape.is_some() && opts.engine == crate::options::Engine::Jit;
        Ok(Compiled {
            program,
            n_slots: ir.n_slots,
            names,
            source: self.source.clone(),
            functions: ir.functions.clone(),
            tape,
            batch: std::sync::OnceLock::new(),
            #[cfg(feature = "jit")]
            jit,
            #[cfg(feature = "jit")]
            native: std::sync::OnceLock::new(),
            #[cfg(feature = "jit")]
            evals: crate::exec::jit::WarmUp::default(),
        })
    }

    /// An error when `ir` reads a run's history (an offset into another step, a stateful call,
    /// in the expression or a user function it calls), placed at the first such text.
    fn refuse_history(&self, ir: &Ir) -> Result<(), Error> {
        let mut found = false;
        ir.walk(&mut |n| {
            found |= matches!(n, crate::ir::IrNode::Offset { step, .. } if *step != 0)
                || matches!(n, crate::ir::IrNode::Stateful { .. });
        });
        if !found {
            return Ok(());
        }
        // Where: the first offset or stateful call written in the expression, else (it is in a
        // user function's body) the whole expression.
        let span = self
            .ast
            .nodes()
            .into_iter()
            .find(|n| match &n.kind {
                NodeKind::Offset { step, .. } => *step != 0,
                NodeKind::Call { name, .. } => crate::builtins::lookup(&name.text)
                    .is_some_and(|b| matches!(b.imp, crate::builtins::Imp::Stateful(_))),
                _ => false,
            })
            .map_or(Span::new(0, self.source.len()), |n| n.span);
        let what = self.source.get(span.start..span.end).unwrap_or(&self.source).to_string();
        let help = "offsets and windows need a run that keeps history: put it in a model and run it \
                    (`Model` and `Program::start` in Rust, `kexpr run`); or evaluate it as a run's first \
                    step, where offsets read their default and windows their first value \
                    (`Options::single_step`, `kexpr eval --single-step`, `single_step=True` in Python)";
        Err(Error::new(&self.source, span, ErrorKind::RunRequired { what }, Some(help.into())))
    }

    fn closures(&self, ir: &Ir, opts: &Options) -> Result<Program, Error> {
        Program::compile(ir, opts).map_err(|why| match why {
            Unsupported::Limit(what) => {
                Error::new(&self.source, Span::new(0, self.source.len()), ErrorKind::LimitExceeded { what }, None)
            }
            Unsupported::Calendar(name, span) => Error::new(
                &self.source,
                span,
                ErrorKind::CalendarRequired { name: name.into() },
                Some("run it in a model, where the calendar is known".into()),
            ),
        })
    }

    /// Evaluates with variables looked up by name in `vars`. A convenience for one-off
    /// evaluation: it compiles on every call, so compile once and use
    /// [`Compiled::eval`] in a loop.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let vars = HashMap::from([("rain".to_string(), 5.0), ("loss".to_string(), 7.0)]);
    /// let v = kalix_expr_core::Expr::parse("max(0, rain - loss)")?.eval_map(&vars)?;
    /// assert_eq!(v, 0.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn eval_map(&self, vars: &HashMap<String, f64>) -> Result<f64, Error> {
        self.eval_map_with(vars, &Options::default())
    }

    /// [`Expr::eval_map`] with explicit [`Options`] (case-insensitive names, missing
    /// variables given a default, strict arithmetic).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use kalix_expr_core::{Expr, Options, MissingVariable};
    /// let opts = Options { missing_variable: MissingVariable::Default(0.0), ..Options::default() };
    /// let v = Expr::parse("a + b")?.eval_map_with(&HashMap::from([("a".into(), 1.0)]), &opts)?;
    /// assert_eq!(v, 1.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn eval_map_with(&self, vars: &HashMap<String, f64>, opts: &Options) -> Result<f64, Error> {
        let (ir, names) = resolve_shared(&self.ast, &self.source, &Scope::Free, &Host::default(), opts)?;
        let lookup: HashMap<String, f64> = if opts.case_insensitive {
            vars.iter().map(|(k, v)| (k.to_lowercase(), *v)).collect()
        } else {
            HashMap::new()
        };
        let mut values = Vec::with_capacity(names.len());
        for name in &names {
            let found = if opts.case_insensitive { lookup.get(&name.to_lowercase()) } else { vars.get(name) };
            match (found, opts.missing_variable) {
                (Some(v), _) => values.push(*v),
                (None, MissingVariable::Default(d)) => values.push(d),
                (None, MissingVariable::Error) => {
                    let span = self.first_use(name);
                    return Err(Error::new(
                        &self.source,
                        span,
                        ErrorKind::VariableMissing { name: name.clone() },
                        None,
                    ));
                }
            }
        }
        self.finish(ir, names, opts)?.eval(&values)
    }

    /// Where `name` is first read, for errors about it.
    fn first_use(&self, name: &str) -> Span {
        self.ast
            .nodes()
            .into_iter()
            .find_map(|n| match &n.kind {
                NodeKind::Var(v) | NodeKind::Offset { name: v, .. } if v.text.eq_ignore_ascii_case(name) => {
                    Some(v.span)
                }
                _ => None,
            })
            .unwrap_or_default()
    }
}

impl Compiled {
    /// Evaluates with `values[i]` as the value of slot `i` (extra values are ignored).
    ///
    /// Allocates nothing and looks up no name. Fails only when `values` is too short, or
    /// with strict [`Options`] (division by zero, domain errors) and on a failed `assert`.
    ///
    /// ```
    /// let c = kalix_expr_core::Expr::parse("{ assert(x > 0); sqrt(x) }")?.compile(&["x"])?;
    /// assert_eq!(c.eval(&[4.0])?, 2.0);
    /// let err = c.eval(&[-4.0]).unwrap_err();
    /// assert!(err.to_string().contains("assertion failed: `assert(x > 0)` is 0"));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    #[inline]
    pub fn eval(&self, values: &[f64]) -> Result<f64, Error> {
        #[cfg(feature = "jit")]
        if let Some(v) = self.warm_native().and_then(|n| n.call(values)) {
            return Ok(v);
        }
        // The hot path, inlined into the caller: a pure program is one call of its result.
        if self.program.is_pure() && values.len() >= self.n_slots {
            return Ok(self.program.run_pure(values));
        }
        self.eval_general(values)
    }

    /// [`Compiled::eval`] on the interpreter, never native code and without counting towards
    /// its warm-up, over enough `values`: an `ExprSet` evaluating its members, whose warm-up
    /// is the set's.
    pub(crate) fn eval_interpreted(&self, values: &[f64]) -> Result<f64, Error> {
        if self.program.is_pure() && values.len() >= self.n_slots {
            return Ok(self.program.run_pure(values));
        }
        self.eval_general(values)
    }

    /// [`Compiled::eval`] for programs that may fail or have statements, and for too few
    /// values.
    #[inline(never)]
    fn eval_general(&self, values: &[f64]) -> Result<f64, Error> {
        if values.len() < self.n_slots {
            return Err(self.too_few(values.len()));
        }
        self.program.run(values).map_err(|f| self.fault(f))
    }

    /// Moves its node array into `arena` (see `Program::move_into`): only for an
    /// [`ExprSet`](crate::ExprSet), which keeps the rest for its errors and never
    /// evaluates this one again when it returns `Some`.
    pub(crate) fn move_into(&mut self, arena: &mut crate::exec::flat::Arena) -> Option<crate::exec::flat::Member> {
        self.program.move_into(arena)
    }

    /// How many values an evaluation needs.
    pub(crate) fn n_slots(&self) -> usize {
        self.n_slots
    }

    #[cold]
    pub(crate) fn too_few(&self, found: usize) -> Error {
        Error::new(
            &self.source,
            Span::new(0, 0),
            ErrorKind::ValuesMissing { expected: self.n_slots, found },
            Some(format!("the slots are {:?}", self.names)),
        )
    }

    #[cold]
    fn fault(&self, f: crate::exec::interp::Fault) -> Error {
        self.program.fault_error(&self.source, f)
    }

    /// Evaluates every row of `columns` into `out`: `columns[i]` holds slot `i`'s values
    /// (`names()[i]`), and row `r` is evaluated into `out[r]`. Each column must have at
    /// least `out.len()` values.
    ///
    /// For pure expressions with the default options this runs column-wise over chunks of
    /// rows, several times cheaper per row than [`Compiled::eval`] for simple expressions;
    /// otherwise it is a loop of single evaluations. Either way the results are the same,
    /// bit for bit. It allocates only on its first call (to build the column-wise program).
    ///
    /// ```
    /// let c = kalix_expr_core::Expr::parse("max(0, rain - loss)")?.compile(&["rain", "loss"])?;
    /// let (rain, loss) = ([5.0, 1.0, 3.0], [2.0, 2.0, 0.5]);
    /// let mut out = [0.0; 3];
    /// c.eval_batch(&[&rain, &loss], &mut out)?;
    /// assert_eq!(out, [3.0, 0.0, 2.5]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn eval_batch(&self, columns: &[&[f64]], out: &mut [f64]) -> Result<(), Error> {
        self.check_columns(columns, out.len())?;
        match self.batch_program() {
            Some(b) => {
                b.run(columns, out);
                Ok(())
            }
            None => self.rows(columns, 0, out),
        }
    }

    /// [`Compiled::eval_batch`] on all cores: the rows are split into blocks of
    /// [`Compiled::PARALLEL_BLOCK`] evaluated in parallel (rayon). Worth it from about a
    /// hundred thousand rows of a simple expression, or fewer of a costly one.
    ///
    /// ```
    /// let c = kalix_expr_core::Expr::parse("sin(x) * 2")?.compile(&["x"])?;
    /// let x: Vec<f64> = (0..100_000).map(|i| i as f64).collect();
    /// let mut out = vec![0.0; x.len()];
    /// c.eval_batch_par(&[&x], &mut out)?;
    /// assert_eq!(out[7], 7f64.sin() * 2.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    #[cfg(feature = "parallel")]
    pub fn eval_batch_par(&self, columns: &[&[f64]], out: &mut [f64]) -> Result<(), Error> {
        use rayon::prelude::*;
        self.check_columns(columns, out.len())?;
        let batch = self.batch_program();
        out.par_chunks_mut(Self::PARALLEL_BLOCK).enumerate().try_for_each(|(k, block)| {
            let start = k * Self::PARALLEL_BLOCK;
            match batch {
                Some(b) => {
                    let cols: Vec<&[f64]> = columns.iter().map(|c| &c[start..start + block.len()]).collect();
                    b.run(&cols, block);
                    Ok(())
                }
                None => self.rows(columns, start, block),
            }
        })
    }

    /// Rows per parallel block of [`Compiled::eval_batch_par`].
    #[cfg(feature = "parallel")]
    pub const PARALLEL_BLOCK: usize = 16_384;

    fn check_columns(&self, columns: &[&[f64]], rows: usize) -> Result<(), Error> {
        if columns.len() < self.n_slots {
            return Err(self.too_few(columns.len()));
        }
        if let Some((i, c)) = columns.iter().enumerate().find(|(_, c)| c.len() < rows) {
            return Err(Error::new(
                &self.source,
                Span::new(0, 0),
                ErrorKind::ValuesMissing { expected: rows, found: c.len() },
                Some(format!(
                    "column {i} (`{}`) is shorter than the output",
                    self.names.get(i).map_or("", String::as_str)
                )),
            ));
        }
        Ok(())
    }

    fn batch_program(&self) -> Option<&BatchProgram> {
        self.batch.get_or_init(|| self.tape.as_ref()?.program()).as_ref()
    }

    /// Row-by-row evaluation of `out.len()` rows starting at row `start`.
    fn rows(&self, columns: &[&[f64]], start: usize, out: &mut [f64]) -> Result<(), Error> {
        let mut row = vec![0.0; columns.len()];
        for (r, o) in out.iter_mut().enumerate() {
            for (v, c) in row.iter_mut().zip(columns) {
                *v = c[start + r];
            }
            *o = self.eval(&row)?;
        }
        Ok(())
    }

    /// Its resolved form as the JIT reads it, when it is compiled for the JIT.
    #[cfg(feature = "jit")]
    pub(crate) fn jit_tape(&self) -> Option<&Tape> {
        self.tape.as_ref().filter(|_| self.jit)
    }

    /// Its native code once built; otherwise counts an evaluation, and builds it at the
    /// [`JIT_AFTER`](crate::JIT_AFTER)th. `None` while the interpreter evaluates it.
    #[cfg(feature = "jit")]
    #[inline(always)]
    fn warm_native(&self) -> Option<&kalix_expr_jit::Native> {
        if !self.jit {
            return None;
        }
        match self.native.get() {
            Some(n) => n.as_ref(),
            None => self.warm_up(),
        }
    }

    #[cfg(feature = "jit")]
    #[cold]
    fn warm_up(&self) -> Option<&kalix_expr_jit::Native> {
        if self.evals.over() {
            self.native()
        } else {
            None
        }
    }

    /// Its native code, built now if it is not yet; `None` when it is not compiled for the
    /// JIT or Cranelift could not compile it.
    #[cfg(feature = "jit")]
    fn native(&self) -> Option<&kalix_expr_jit::Native> {
        if !self.jit {
            return None;
        }
        self.native.get_or_init(|| self.tape.as_ref().and_then(|t| crate::exec::jit::native(t, self.n_slots))).as_ref()
    }

    /// The engine that evaluates it now: [`Engine::Jit`](crate::Engine::Jit) once its native
    /// code is built (after [`JIT_AFTER`](crate::JIT_AFTER) evaluations, or by
    /// [`Compiled::jit_now`]), else the interpreter.
    ///
    /// ```
    /// use kalix_expr_core::{Engine, Expr, Options};
    /// let opts = Options { engine: Engine::Interpreter, ..Options::default() };
    /// let c = Expr::parse("x * 2")?.compile_with(&["x"], &opts)?;
    /// assert_eq!(c.engine(), Engine::Interpreter);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn engine(&self) -> crate::Engine {
        #[cfg(feature = "jit")]
        if self.native.get().is_some_and(Option::is_some) {
            return crate::Engine::Jit;
        }
        crate::Engine::Interpreter
    }

    /// Builds its native code now, skipping the warm-up, when it was compiled for the JIT and
    /// the JIT compiles it (a host about to evaluate it many times, or timing it); the engine
    /// it uses from now on.
    ///
    /// ```
    /// use kalix_expr_core::{Engine, Expr};
    /// let c = Expr::parse("max(0, rain - loss)")?.compile(&["rain", "loss"])?;
    /// let engine = c.jit_now(); // the JIT where it is built in, else the interpreter
    /// assert_eq!(engine, c.engine());
    /// assert_eq!(c.eval(&[5.0, 2.0])?, 3.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn jit_now(&self) -> crate::Engine {
        #[cfg(feature = "jit")]
        let _ = self.native();
        self.engine()
    }

    /// The slot names, in slot order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every function the expression was built from, each once in order of first call:
    /// built-ins, user functions (including those their bodies call), natives and tables,
    /// each with its kind, arity, purity and content hash.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, FnKind};
    /// let c = Expr::parse("max(0, sin(x)) + max(1, x)")?.compile(&["x"])?;
    /// let names: Vec<&str> = c.functions().iter().map(|f| f.name()).collect();
    /// assert_eq!(names, ["max", "sin"]);
    /// assert_eq!(c.functions()[0].kind(), FnKind::Builtin);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn functions(&self) -> &[crate::host::FnRef] {
        &self.functions
    }
}
