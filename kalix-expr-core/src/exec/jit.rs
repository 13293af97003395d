//! The JIT back-end's translation (feature `jit`): a compiled expression's tape (its resolved
//! form in post-order) into the program `kalix-expr-jit` compiles. Only `+ - * /`, negation and
//! `if` are computed inline; every other operator and built-in is a call of the very function
//! the interpreter calls (the one table, `builtins`), so the two engines give the same bits.
//!
//! Table lookups, pure natives and `interp` are callouts: the generated code calls the table's
//! own lookup (or the function) with its arguments. A lookup that misses, or that a run would
//! count as outside the table's keys, declines, and so does a failed `assert` (a block's
//! statements and an inlined user function's are locals and checks in the generated code):
//! the call *bails*, and the caller evaluates it again on the interpreter, which reports the
//! error or counts the lookup as it always has (and does neither in a branch not taken, where
//! the generated code also evaluated the lookup or the assert).
//!
//! Strict options work the same way: under `DivByZero::Error` the code bails where a divisor
//! is zero, under `DomainErrors::Error` where a built-in the interpreter checks gives NaN, and
//! the interpreter reports the error (or finds the NaN came from a NaN argument, or from a
//! branch not taken, and gives the same value without one). `DivByZero::Nan` divides with
//! the interpreter's own `div_nan`.

use std::sync::Arc;

use kalix_expr_jit::{Callout, Native, Op as J};

use crate::ast::BinaryOp;
use crate::builtins::{self, Imp};
use crate::exec::batch::{Op, Tape};
use crate::host::NativeFn;
use crate::options::{DivByZero, DomainErrors};
use crate::table::Table;

/// The C-ABI doors generated code calls: each is the `builtins` function of the same name.
mod c {
    use crate::builtins;

    macro_rules! one {
        ($($t:ident = $f:ident $name:literal),*) => {
            $(pub(super) extern "C" fn $f(x: f64) -> f64 { builtins::$f(x) })*
            /// The door of the one-argument built-in named `name`.
            pub(super) fn unary(name: &str) -> Option<extern "C" fn(f64) -> f64> {
                match name { $($name => Some($f as extern "C" fn(f64) -> f64),)* _ => None }
            }
        };
    }
    builtins::unary_builtins!(one!());

    macro_rules! two {
        ($($t:ident = $f:ident),*) => {
            /// The door of the two-argument function of `builtins` named `rust`.
            pub(super) fn binary(rust: &str) -> Option<extern "C" fn(f64, f64) -> f64> {
                mod f2 {
                    use crate::builtins;
                    $(pub(super) extern "C" fn $f(a: f64, b: f64) -> f64 { builtins::$f(a, b) })*
                }
                match rust { $(stringify!($f) => Some(f2::$f as extern "C" fn(f64, f64) -> f64),)* _ => None }
            }
        };
    }
    builtins::binary_builtins!(two!());

    macro_rules! ops {
        ($($t:ident = $f:ident),*) => {
            /// The door of binary operator `op`.
            pub(super) fn op(op: crate::ast::BinaryOp) -> extern "C" fn(f64, f64) -> f64 {
                mod o {
                    use crate::builtins;
                    $(pub(super) extern "C" fn $f(a: f64, b: f64) -> f64 { builtins::$f(a, b) })*
                }
                match op { $(crate::ast::BinaryOp::$t => o::$f as extern "C" fn(f64, f64) -> f64,)* }
            }
        };
    }
    builtins::binary_ops!(ops!());

    pub(super) extern "C" fn not(x: f64) -> f64 {
        builtins::not(x)
    }
    pub(super) extern "C" fn and(a: f64, b: f64) -> f64 {
        builtins::and(a, b)
    }
    pub(super) extern "C" fn or(a: f64, b: f64) -> f64 {
        builtins::or(a, b)
    }
    pub(super) extern "C" fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
        builtins::clamp(x, lo, hi)
    }
    pub(super) extern "C" fn div_nan(a: f64, b: f64) -> f64 {
        builtins::div_nan(a, b)
    }
}

/// A pure native, called with the arguments the generated code passes.
struct NativeCall(Arc<NativeFn>);

impl Callout for NativeCall {
    fn call(&self, args: &[f64]) -> Option<f64> {
        Some(self.0.call(args))
    }
}

/// A built-in over all its arguments as a slice (`interp`), the function the interpreter calls.
struct SliceCall(fn(&[f64]) -> f64);

impl Callout for SliceCall {
    fn call(&self, args: &[f64]) -> Option<f64> {
        Some((self.0)(args))
    }
}

/// A table lookup, as the interpreter looks it up (`interp::code`, `IrNode::Table`), declining
/// where the interpreter records a fault, and, in a run, where it counts a lookup outside the
/// keys of a table that reports them.
struct Lookup {
    table: Arc<Table>,
    counted: bool,
}

impl Callout for Lookup {
    fn call(&self, args: &[f64]) -> Option<f64> {
        let t = &self.table;
        if t.is_kalix() {
            return match *args {
                [x] => Some(t.lookup1(x)),
                [col, row] => t.lookup2(col, row),
                _ => None,
            };
        }
        match t.lookup(args) {
            Ok(found) if !(found.outside && self.counted) => Some(found.value),
            _ => None,
        }
    }
}

/// The native code of `tape` reading `n_slots` values, or `None` where the JIT does not compile
/// it (an impure native) or Cranelift fails.
pub(crate) fn native(tape: &Tape, n_slots: usize) -> Option<Native> {
    let mut callouts = Vec::new();
    Native::compile_with(&program(tape, &mut callouts, false)?, n_slots, &callouts).ok()
}

/// The program of `tape` for the JIT, or `None` where the JIT does not compile it. Its
/// callouts are pushed onto `callouts` (which may hold others' already: a set's, a model's);
/// `run` says it is a model run's, which counts lookups outside a table's keys.
pub(crate) fn program(tape: &Tape, callouts: &mut Vec<Arc<dyn Callout>>, run: bool) -> Option<Vec<J>> {
    let before = callouts.len();
    let program = translate(tape, callouts, run);
    if program.is_none() {
        callouts.truncate(before);
    }
    program
}

/// [`program`], leaving the callouts of a program it does not compile.
fn translate(tape: &Tape, callouts: &mut Vec<Arc<dyn Callout>>, run: bool) -> Option<Vec<J>> {
    let (ops, consts, natives, tables) = (&tape.ops, &tape.consts, &tape.natives, &tape.tables);
    let mut callout = |c: Arc<dyn Callout>, n: u16| {
        callouts.push(c);
        Some(J::Callout(u32::try_from(callouts.len() - 1).ok()?, u32::from(n)))
    };
    let strict_div = tape.div_by_zero == DivByZero::Error;
    let strict_domain = tape.domain_errors == DomainErrors::Error;
    let mut program = Vec::with_capacity(ops.len());
    for op in ops {
        // What strict options check: the divisor before a division or remainder, the value
        // of a one- or two-argument built-in or `^` after it (as the interpreter's `binary`
        // and `call` do).
        let (check_divisor, check_value) = match *op {
            Op::Binary(BinaryOp::Div | BinaryOp::Rem) => (strict_div, false),
            Op::Binary(BinaryOp::Pow) => (false, strict_domain),
            Op::Call(f, _) => {
                let f = builtins::BUILTINS.get(usize::from(f))?;
                (false, strict_domain && matches!(f.imp, Imp::F1(_) | Imp::F2(_)))
            }
            _ => (false, false),
        };
        if check_divisor {
            program.push(J::BailIfZero);
        }
        program.push(match *op {
            Op::Const(k) => J::Const(*consts.get(usize::from(k))?),
            Op::Slot(i) => J::Slot(u32::from(i)),
            Op::Neg => J::Neg,
            Op::Not => J::Call1(c::not),
            Op::And => J::Call2(c::and),
            Op::Or => J::Call2(c::or),
            Op::If => J::Select,
            // IEEE arithmetic is the same instruction in both engines.
            Op::Binary(BinaryOp::Add) => J::Add,
            Op::Binary(BinaryOp::Sub) => J::Sub,
            Op::Binary(BinaryOp::Mul) => J::Mul,
            Op::Binary(BinaryOp::Div) if tape.div_by_zero == DivByZero::Nan => J::Call2(c::div_nan),
            Op::Binary(BinaryOp::Div) => J::Div,
            Op::Binary(op) => J::Call2(c::op(op)),
            Op::Call(f, n) => {
                let f = builtins::BUILTINS.get(usize::from(f))?;
                match (f.imp, n) {
                    // Exact operations, the same instruction as Rust's.
                    (Imp::F1(_), 1) if f.rust == "abs" => J::Abs,
                    (Imp::F1(_), 1) if f.rust == "sqrt" => J::Sqrt,
                    (Imp::F1(_), 1) if f.rust == "floor" => J::Floor,
                    (Imp::F1(_), 1) if f.rust == "ceil" => J::Ceil,
                    (Imp::F1(_), 1) => J::Call1(c::unary(f.name)?),
                    (Imp::F2(_), 2) => J::Call2(c::binary(f.rust)?),
                    (Imp::F3(_), 3) if f.rust == "clamp" => J::Call3(c::clamp),
                    // As the interpreter folds: from the left, the first argument the start.
                    (Imp::Fold(_), n) => J::Fold(c::binary(f.rust)?, u32::from(n)),
                    (Imp::Mean, n) => J::Mean(u32::from(n)),
                    (Imp::Slice(g), n) => callout(Arc::new(SliceCall(g)), n)?,
                    _ => return None,
                }
            }
            Op::Native(f, n) => callout(Arc::new(NativeCall(Arc::clone(natives.get(usize::from(f))?))), n)?,
            Op::Local(l) => J::Get(u32::from(l)),
            Op::SetLocal(l) => J::Set(u32::from(l)),
            Op::Assert => J::Assert,
            Op::Table(t, n) => {
                let table = Arc::clone(tables.get(usize::from(t))?);
                let counted = run && table.reports_outside();
                callout(Arc::new(Lookup { table, counted }), n)?
            }
        });
        if check_value {
            program.push(J::BailIfNan);
        }
    }
    Some(program)
}

/// The JIT's warm-up: uses counted until [`JIT_AFTER`](crate::JIT_AFTER), after which native
/// code pays for itself. Shared by [`Compiled`](crate::Compiled) and
/// [`ExprSet`](crate::ExprSet); a race between threads only miscounts a few.
#[derive(Debug, Default)]
pub(crate) struct WarmUp(std::sync::atomic::AtomicU32);

impl WarmUp {
    /// Counts one use; whether the warm-up is over (this use may build the native code).
    #[cold]
    pub(crate) fn over(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.0.load(Relaxed);
        if n < crate::options::JIT_AFTER {
            self.0.store(n + 1, Relaxed);
            return false;
        }
        true
    }

    /// Ends the warm-up: the next use builds the native code.
    pub(crate) fn end(&mut self) {
        *self.0.get_mut() = crate::options::JIT_AFTER;
    }
}
