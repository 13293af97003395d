//! The JIT back-end of kalix-expr: a pure expression, given as a post-order program of [`Op`]s,
//! compiled by Cranelift into one native function of the values it reads. Functions are called
//! through `extern "C"` pointers the caller supplies, or, for what needs more than its
//! arguments (a table, a host's function), through a [`Callout`]: a Rust object the code calls
//! with its arguments in an array, which may decline, making the call *bail* so that its caller
//! evaluates another way.
//!
//! This crate knows nothing of the language: the core translates its resolved form into
//! [`Op`]s, choosing what is computed inline (`+ - * /`, negation, a branch-free `if`) and which
//! functions are called (every built-in, through the very Rust functions the interpreter
//! calls), so both engines give the same bits. It is the only crate of the project with
//! `unsafe`: making machine code executable and calling it.
//!
//! ```
//! use kalix_expr_jit::{Native, Op};
//! // (x + 2) * y
//! let f = Native::compile(&[Op::Slot(0), Op::Const(2.0), Op::Add, Op::Slot(1), Op::Mul], 2).unwrap();
//! assert_eq!(f.call(&[1.0, 3.0]), Some(9.0));
//! assert_eq!(f.call(&[1.0]), None); // too few values: never read out of bounds
//! ```
#![deny(missing_docs)]

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    types, AbiParam, InstBuilder, MemFlagsData, SigRef, Signature, StackSlotData, StackSlotKind, UserFuncName, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

/// One step of a post-order program: operands are pushed, an operation pops its arguments
/// and pushes its result.
#[derive(Clone, Copy)]
pub enum Op {
    /// Push a constant.
    Const(f64),
    /// Push value `i` of the input.
    Slot(u32),
    /// `-a` (the sign bit flipped, as Rust's `-`).
    Neg,
    /// `a + b`, IEEE.
    Add,
    /// `a - b`, IEEE.
    Sub,
    /// `a * b`, IEEE.
    Mul,
    /// `a / b`, IEEE.
    Div,
    /// `c, a, b → if c is not zero (NaN included) then a else b` (both evaluated: the program
    /// is pure).
    Select,
    /// `|a|` (the sign bit cleared, as Rust's `f64::abs`).
    Abs,
    /// `√a`, IEEE (correctly rounded, as Rust's `f64::sqrt`).
    Sqrt,
    /// `⌊a⌋`, as Rust's `f64::floor`.
    Floor,
    /// `⌈a⌉`, as Rust's `f64::ceil`.
    Ceil,
    /// Call a one-argument function.
    Call1(extern "C" fn(f64) -> f64),
    /// Call a two-argument function.
    Call2(extern "C" fn(f64, f64) -> f64),
    /// Call a three-argument function.
    Call3(extern "C" fn(f64, f64, f64) -> f64),
    /// Pop `n` values and fold them from the left with a two-argument function.
    Fold(extern "C" fn(f64, f64) -> f64, u32),
    /// Pop `n` values: their left-to-right sum divided by `n`.
    Mean(u32),
    /// Pop `n` values and call callout `i` of the program's [`Callout`]s with them, in order.
    Callout(u32, u32),
    /// Pop a value into local `i` (nothing is pushed).
    Set(u32),
    /// Push local `i`: the value the last `Set(i)` stored (0 before any).
    Get(u32),
    /// Pop a value; the call bails (see [`Callout`]) if it is 0 or NaN, for the caller's other
    /// engine to report the failed assertion (nothing is pushed).
    Assert,
    /// Keep the top value; the call bails if it is ±0: a divisor that the caller's other
    /// engine reports as a division by zero under strict options.
    BailIfZero,
    /// Keep the top value; the call bails if it is NaN: a result that the caller's other
    /// engine may report as a domain error under strict options.
    BailIfNan,
}

impl Op {
    /// Whether a call of code holding this operation can bail (see [`Callout`]): a callout,
    /// an assertion or a check for strict options.
    ///
    /// ```
    /// use kalix_expr_jit::Op;
    /// assert!(Op::BailIfZero.may_bail());
    /// assert!(!Op::Add.may_bail());
    /// ```
    pub fn may_bail(&self) -> bool {
        matches!(self, Op::Callout(..) | Op::Assert | Op::BailIfZero | Op::BailIfNan)
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Const(k) => write!(f, "Const({k})"),
            Op::Slot(i) => write!(f, "Slot({i})"),
            Op::Neg => f.write_str("Neg"),
            Op::Add => f.write_str("Add"),
            Op::Sub => f.write_str("Sub"),
            Op::Mul => f.write_str("Mul"),
            Op::Div => f.write_str("Div"),
            Op::Select => f.write_str("Select"),
            Op::Abs => f.write_str("Abs"),
            Op::Sqrt => f.write_str("Sqrt"),
            Op::Floor => f.write_str("Floor"),
            Op::Ceil => f.write_str("Ceil"),
            Op::Call1(_) => f.write_str("Call1"),
            Op::Call2(_) => f.write_str("Call2"),
            Op::Call3(_) => f.write_str("Call3"),
            Op::Fold(_, n) => write!(f, "Fold({n})"),
            Op::Mean(n) => write!(f, "Mean({n})"),
            Op::Callout(i, n) => write!(f, "Callout({i}, {n})"),
            Op::Set(i) => write!(f, "Set({i})"),
            Op::Get(i) => write!(f, "Get({i})"),
            Op::Assert => f.write_str("Assert"),
            Op::BailIfZero => f.write_str("BailIfZero"),
            Op::BailIfNan => f.write_str("BailIfNan"),
        }
    }
}

/// Why a program was not compiled (the caller keeps interpreting it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitError(pub String);

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the JIT could not compile the expression: {}", self.0)
    }
}

impl std::error::Error for JitError {}

/// The most operations one program may have: bounds compile time and code size (the core's
/// own limits keep real expressions far below it).
pub const MAX_OPS: usize = 100_000;

/// A function generated code calls with its arguments in an array ([`Op::Callout`]): one that
/// needs more than its arguments, such as a lookup table or a host's function.
///
/// It may decline (`None`) where the caller's other engine would do something this one cannot:
/// report an error, count an event, or anything a branch not taken would not have done (the
/// generated code evaluates both branches of an `if`). A call of the code in which a callout
/// declined (or panicked) *bails*: [`Native::call`] gives `None`, [`NativeSet::call`] and its
/// kin `false`, and the caller evaluates that call another way, which must reproduce whatever
/// happened. A callout is called for every evaluation, in both branches of an `if`, so it must
/// have no effect of its own.
///
/// ```
/// use std::sync::Arc;
/// use kalix_expr_jit::{Callout, Native, Op};
/// // √x, declining below zero.
/// struct Root;
/// impl Callout for Root {
///     fn call(&self, args: &[f64]) -> Option<f64> {
///         (args[0] >= 0.0).then(|| args[0].sqrt())
///     }
/// }
/// let callouts: [Arc<dyn Callout>; 1] = [Arc::new(Root)];
/// let f = Native::compile_with(&[Op::Slot(0), Op::Callout(0, 1)], 1, &callouts).unwrap();
/// assert_eq!(f.call(&[9.0]), Some(3.0));
/// assert_eq!(f.call(&[-9.0]), None); // bailed: evaluate another way
/// ```
pub trait Callout: Send + Sync {
    /// The value of the call with `args`, or `None` to make the call of the code bail.
    fn call(&self, args: &[f64]) -> Option<f64>;
}

thread_local! {
    /// Set by a callout that declined during a call of generated code on this thread; read and
    /// cleared by the call's Rust side when it returns (so it is clear between calls).
    static BAILED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a callout declined since the last check, clearing it.
#[inline]
fn bailed() -> bool {
    BAILED.with(|b| b.replace(false))
}

/// The door generated code calls for [`Op::Callout`]: `callout` with the `n` values at `args`.
/// A decline or a panic sets [`BAILED`] and gives NaN (a panic must not unwind through
/// generated code; the caller's other engine calls the function again and panics there).
extern "C" fn callout_door(callout: *const Arc<dyn Callout>, args: *const f64, n: usize) -> f64 {
    // SAFETY: the code passes a pointer to one of the callouts its owner (`Native`,
    // `NativeSet`) holds in a boxed slice that lives, unmoved, as long as the code; and a
    // pointer to a stack slot of the calling frame holding `n` values (room for one when
    // `n` is 0, so the pointer is valid and aligned either way).
    let (callout, args) = unsafe { (&*callout, std::slice::from_raw_parts(args, n)) };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callout.call(args))) {
        Ok(Some(v)) => v,
        _ => {
            BAILED.with(|b| b.set(true));
            f64::NAN
        }
    }
}

/// The door generated code calls when an [`Op::Assert`] fails (or an [`Op::BailIfZero`],
/// [`Op::BailIfNan`] finds what it looks for): the call bails.
extern "C" fn bail_door(_: *const Arc<dyn Callout>, _: *const f64, _: usize) -> f64 {
    BAILED.with(|b| b.set(true));
    f64::NAN
}

/// Whether a call of code compiled from `ops` with `callouts` can bail.
fn may_bail<'a>(mut ops: impl Iterator<Item = &'a Op>, callouts: &[Arc<dyn Callout>]) -> bool {
    !callouts.is_empty() || ops.any(Op::may_bail)
}

/// What emitting an operation needs of its function: the pointer type, the signatures of the
/// functions it calls (one, two and three `f64`s; a callout's door) and the callouts.
struct Emit<'a> {
    pointer: types::Type,
    sigs: [SigRef; 4],
    callouts: &'a [Arc<dyn Callout>],
}

/// A compiled program: a native function of the values, owning its code memory.
pub struct Native {
    module: Option<JITModule>,
    code: extern "C" fn(*const f64) -> f64,
    n_slots: usize,
    /// The callouts the code calls, at addresses the code holds (a boxed slice never moves).
    callouts: Box<[Arc<dyn Callout>]>,
    /// Whether a call can bail (it has callouts or asserts).
    may_bail: bool,
}

// SAFETY: after `compile` the module is never used again except to free its memory on drop;
// the code is immutable machine code that reads only its argument array and calls the pure,
// thread-safe trampolines above and its callouts (`Send + Sync`), so calling it from several
// threads at once is as safe as calling a `fn`. Dropping happens once, from whichever thread
// owns the `Native`.
unsafe impl Send for Native {}
// SAFETY: see `Send`: `call` takes `&self` and touches no shared mutable state (a bail is
// recorded per thread).
unsafe impl Sync for Native {}

impl fmt::Debug for Native {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Native").field("n_slots", &self.n_slots).field("callouts", &self.callouts.len()).finish()
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: the only pointer into the module's memory is `self.code`, which dies with
            // `self`; nothing can call it after this.
            unsafe { module.free_memory() };
        }
    }
}

impl Native {
    /// Compiles `ops` (a post-order program reading values `0..n_slots`) into native code.
    /// Refuses a program that does not leave exactly one value, reads past `n_slots`, calls a
    /// callout (it has none: see [`Native::compile_with`]), or is longer than [`MAX_OPS`]; and
    /// fails where Cranelift does not support the machine.
    pub fn compile(ops: &[Op], n_slots: usize) -> Result<Native, JitError> {
        Native::compile_with(ops, n_slots, &[])
    }

    /// [`Native::compile`] for a program whose [`Op::Callout`]s call `callouts` (see
    /// [`Callout`] for an example).
    pub fn compile_with(ops: &[Op], n_slots: usize, callouts: &[Arc<dyn Callout>]) -> Result<Native, JitError> {
        check(ops, n_slots, callouts.len())?;
        let callouts: Box<[Arc<dyn Callout>]> = callouts.into();
        let mut jit = Jit::new()?;
        let id = jit.function(&[(ops, None)], false, &callouts)?;
        let (module, ptr) = jit.finish(id)?;
        // SAFETY: `ptr` is the finalized code of the function just defined with the signature
        // `(pointer) -> f64` in the platform's default (C) calling convention.
        let code = unsafe { std::mem::transmute::<*const u8, extern "C" fn(*const f64) -> f64>(ptr) };
        let may_bail = may_bail(ops.iter(), &callouts);
        Ok(Native { module: Some(module), code, n_slots, callouts, may_bail })
    }

    /// How many values the function reads.
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// Evaluates the function over `values`; `None` if it holds fewer than it reads, or if
    /// the call bailed (a [`Callout`] declined): evaluate it another way.
    #[inline]
    pub fn call(&self, values: &[f64]) -> Option<f64> {
        if values.len() < self.n_slots {
            return None;
        }
        // SAFETY: the code reads `values[i]` only for the slots `i < n_slots` its program
        // names (checked by `compile`), and `values` holds at least `n_slots`.
        let v = (self.code)(values.as_ptr());
        if self.may_bail && bailed() {
            return None;
        }
        Some(v)
    }
}

/// Checks a program's shape: every slot below `n_slots`, every callout below `n_callouts`,
/// operands for every operation, one value left, at most [`MAX_OPS`] operations.
fn check(ops: &[Op], n_slots: usize, n_callouts: usize) -> Result<(), JitError> {
    if ops.len() > MAX_OPS {
        return Err(JitError(format!("{} operations, more than {MAX_OPS}", ops.len())));
    }
    let mut depth: usize = 0;
    for op in ops {
        let (pops, pushes) = match *op {
            Op::Const(_) => (0, 1),
            Op::Slot(i) if (i as usize) < n_slots => (0, 1),
            Op::Slot(i) => return Err(JitError(format!("slot {i} is past the {n_slots} values"))),
            Op::Neg | Op::Abs | Op::Sqrt | Op::Floor | Op::Ceil | Op::Call1(_) | Op::BailIfZero | Op::BailIfNan => {
                (1, 1)
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Call2(_) => (2, 1),
            Op::Select | Op::Call3(_) => (3, 1),
            Op::Fold(_, n) | Op::Mean(n) if n >= 1 => (n as usize, 1),
            Op::Fold(..) | Op::Mean(_) => return Err(JitError("a fold of no values".into())),
            Op::Callout(i, n) if (i as usize) < n_callouts => (n as usize, 1),
            Op::Callout(i, _) => return Err(JitError(format!("callout {i} is past the {n_callouts} callouts"))),
            Op::Set(_) | Op::Assert => (1, 0),
            Op::Get(_) => (0, 1),
        };
        depth = depth.checked_sub(pops).ok_or_else(|| JitError("an operation without its operands".into()))?;
        depth += pushes;
    }
    if depth != 1 {
        return Err(JitError(format!("the program leaves {depth} values, not 1")));
    }
    Ok(())
}

/// A module being built: its functions, then its finished code.
struct Jit {
    module: JITModule,
    ctx: cranelift_codegen::Context,
    fctx: FunctionBuilderContext,
    pointer: types::Type,
    frontend: cranelift_codegen::isa::TargetFrontendConfig,
    next: u32,
}

impl Jit {
    fn new() -> Result<Jit, JitError> {
        let err = |e: &dyn fmt::Display| JitError(e.to_string());
        let mut flags = settings::builder();
        flags.set("opt_level", "speed").map_err(|e| err(&e))?;
        flags.set("is_pic", "false").map_err(|e| err(&e))?;
        let isa = cranelift_native::builder()
            .map_err(|e| JitError(e.to_string()))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| err(&e))?;
        let pointer = isa.pointer_type();
        let module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
        let ctx = module.make_context();
        let frontend = module.target_config();
        Ok(Jit { module, ctx, fctx: FunctionBuilderContext::new(), pointer, frontend, next: 0 })
    }

    /// Defines a function computing `programs`: `(values) -> f64` of the one program, or, with
    /// `store`, `(values, out) -> f64` writing each program's value to `out[index]`.
    fn function(
        &mut self,
        programs: &[(&[Op], Option<usize>)],
        store: bool,
        callouts: &[Arc<dyn Callout>],
    ) -> Result<cranelift_module::FuncId, JitError> {
        let pointer = self.pointer;
        let (id, callees) = self.declare(if store { 2 } else { 1 })?;
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let e = Emit { pointer, sigs: callees.map(|s| b.import_signature(s)), callouts };
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let values = b.block_params(entry)[0];
            let out = if store { Some(b.block_params(entry)[1]) } else { None };
            let mut last = None;
            for (ops, index) in programs {
                let v = emit_from(&mut b, ops, Operands::Inline(values), &e)?;
                if let (Some(out), Some(i)) = (out, index) {
                    let offset = i32::try_from(*i * 8).map_err(|_| JitError("too many members".into()))?;
                    b.ins().store(MemFlagsData::trusted(), v, out, offset);
                }
                last = Some(v);
            }
            let result = match last {
                Some(v) => v,
                None => b.ins().f64const(0.0),
            };
            b.ins().return_(&[result]);
            b.seal_all_blocks();
            b.finalize(self.frontend);
        }
        self.define(id)
    }

    /// Declares the next function, of `params` pointer-sized parameters returning an `f64`,
    /// and makes it the context's; its id, and the signatures of the one-, two- and
    /// three-argument functions programs call and of a callout's door.
    fn declare(&mut self, params: usize) -> Result<(cranelift_module::FuncId, [Signature; 4]), JitError> {
        let mut sig = self.module.make_signature();
        for _ in 0..params {
            sig.params.push(AbiParam::new(self.pointer));
        }
        sig.returns.push(AbiParam::new(types::F64));
        self.next += 1;
        let id = self
            .module
            .declare_function(&format!("f{}", self.next), Linkage::Local, &sig)
            .map_err(|e| JitError(e.to_string()))?;
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, id.as_u32());
        let call_conv = self.frontend.default_call_conv;
        let callee = |n: usize| {
            let mut s = Signature::new(call_conv);
            for _ in 0..n {
                s.params.push(AbiParam::new(types::F64));
            }
            s.returns.push(AbiParam::new(types::F64));
            s
        };
        let mut door = Signature::new(call_conv);
        for _ in 0..3 {
            door.params.push(AbiParam::new(self.pointer));
        }
        door.returns.push(AbiParam::new(types::F64));
        Ok((id, [callee(1), callee(2), callee(3), door]))
    }

    /// Compiles the context's function, declared as `id`, into the module.
    fn define(&mut self, id: cranelift_module::FuncId) -> Result<cranelift_module::FuncId, JitError> {
        self.module.define_function(id, &mut self.ctx).map_err(|e| JitError(e.to_string()))?;
        self.module.clear_context(&mut self.ctx);
        Ok(id)
    }

    /// Defines `(values, out, table, rows) -> f64` computing `ops` once per row of `table`
    /// (each row `width` entries, see [`Operands::Table`]) and writing each value to `out` at
    /// the byte offset in the row's first entry.
    fn shape_loop(
        &mut self,
        ops: &[Op],
        slots: usize,
        width: usize,
        callouts: &[Arc<dyn Callout>],
    ) -> Result<cranelift_module::FuncId, JitError> {
        use cranelift_codegen::ir::condcodes::IntCC;
        use cranelift_codegen::ir::BlockArg;
        let pointer = self.pointer;
        let (id, callees) = self.declare(4)?;
        let stride = i64::try_from(width * 8).map_err(|_| JitError("a table row too wide".into()))?;
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let e = Emit { pointer, sigs: callees.map(|s| b.import_signature(s)), callouts };
            let (entry, header, body, exit) = (b.create_block(), b.create_block(), b.create_block(), b.create_block());
            b.append_block_params_for_function_params(entry);
            b.append_block_param(header, pointer);
            b.switch_to_block(entry);
            let p = b.block_params(entry).to_vec();
            let (values, out, table, rows) = (p[0], p[1], p[2], p[3]);
            // The table's end: it is one allocation of `rows * width` entries, so no overflow.
            let size = b.ins().imul_imm_u(rows, stride);
            let end = b.ins().iadd(table, size);
            b.ins().jump(header, &[BlockArg::Value(table)]);
            b.switch_to_block(header);
            let row = b.block_params(header)[0];
            let more = b.ins().icmp(IntCC::UnsignedLessThan, row, end);
            b.ins().brif(more, body, &[], exit, &[]);
            b.switch_to_block(body);
            let v = emit_from(&mut b, ops, Operands::Table { values, row, slots }, &e)?;
            let offset = b.ins().load(pointer, MemFlagsData::trusted(), row, 0);
            let to = b.ins().iadd(out, offset);
            b.ins().store(MemFlagsData::trusted(), v, to, 0);
            let next = b.ins().iadd_imm_u(row, stride);
            b.ins().jump(header, &[BlockArg::Value(next)]);
            b.switch_to_block(exit);
            let zero = b.ins().f64const(0.0);
            b.ins().return_(&[zero]);
            b.seal_all_blocks();
            b.finalize(self.frontend);
        }
        self.define(id)
    }

    /// Links the module; it and the code of `id`.
    fn finish(mut self, id: cranelift_module::FuncId) -> Result<(JITModule, *const u8), JitError> {
        self.module.finalize_definitions().map_err(|e| JitError(e.to_string()))?;
        let ptr = self.module.get_finalized_function(id);
        Ok((self.module, ptr))
    }
}

/// Where a program's operands come from.
#[derive(Clone, Copy)]
enum Operands {
    /// Constants in the code, value `i` at `values + 8i`.
    Inline(Value),
    /// From a row of a shape's table (see `ShapeLoop`): the `j`th `Slot` of the program reads
    /// the value at `values` plus the byte offset in the row's entry `1 + j`, and the `j`th
    /// `Const` is the row's entry `1 + slots + j`.
    Table { values: Value, row: Value, slots: usize },
}

/// Emits one program's instructions over `operands`; its value.
fn emit_from(b: &mut FunctionBuilder<'_>, ops: &[Op], operands: Operands, e: &Emit<'_>) -> Result<Value, JitError> {
    let pointer = e.pointer;
    let mut stack: Vec<Value> = Vec::with_capacity(64);
    let pop = |stack: &mut Vec<Value>| stack.pop().ok_or_else(|| JitError("empty stack".into()));
    let (mut slot_seen, mut const_seen) = (0usize, 0usize);
    let entry = |j: usize| i32::try_from((j + 1) * 8).map_err(|_| JitError("a program too long for a table".into()));
    let mut locals: std::collections::HashMap<u32, cranelift_frontend::Variable> = std::collections::HashMap::new();
    for op in ops {
        let v = match (*op, operands) {
            (Op::Set(i), _) => {
                let v = pop(&mut stack)?;
                let var = *locals.entry(i).or_insert_with(|| b.declare_var(types::F64));
                b.def_var(var, v);
                continue;
            }
            (Op::Get(i), _) => {
                let var = *locals.entry(i).or_insert_with(|| b.declare_var(types::F64));
                b.use_var(var)
            }
            (Op::Assert, _) => {
                let c = pop(&mut stack)?;
                let zero = b.ins().f64const(0.0);
                // `ueq` is "unordered or equal": true for 0 and for NaN.
                let fails = b.ins().fcmp(FloatCC::UnorderedOrEqual, c, zero);
                bail_if(b, fails, e);
                continue;
            }
            (Op::BailIfZero | Op::BailIfNan, _) => {
                let v = *stack.last().ok_or_else(|| JitError("empty stack".into()))?;
                // `eq` against 0 is "ordered and equal": true for ±0 only; `uno` against
                // itself is true for NaN only.
                let fails = if matches!(op, Op::BailIfZero) {
                    let zero = b.ins().f64const(0.0);
                    b.ins().fcmp(FloatCC::Equal, v, zero)
                } else {
                    b.ins().fcmp(FloatCC::Unordered, v, v)
                };
                bail_if(b, fails, e);
                continue;
            }
            (Op::Const(k), Operands::Inline(_)) => b.ins().f64const(k),
            (Op::Slot(i), Operands::Inline(values)) => {
                b.ins().load(types::F64, MemFlagsData::trusted(), values, (i as i32) * 8)
            }
            (Op::Const(_), Operands::Table { row, slots, .. }) => {
                const_seen += 1;
                b.ins().load(types::F64, MemFlagsData::trusted(), row, entry(slots + const_seen - 1)?)
            }
            (Op::Slot(_), Operands::Table { values, row, .. }) => {
                slot_seen += 1;
                let offset = b.ins().load(pointer, MemFlagsData::trusted(), row, entry(slot_seen - 1)?);
                let at = b.ins().iadd(values, offset);
                b.ins().load(types::F64, MemFlagsData::trusted(), at, 0)
            }
            (op, _) => emit_op(b, op, &mut stack, e)?,
        };
        stack.push(v);
    }
    pop(&mut stack)
}

/// Emits a call of [`bail_door`] in a cold block, taken where `fails` is true.
fn bail_if(b: &mut FunctionBuilder<'_>, fails: Value, e: &Emit<'_>) {
    let (bail, next) = (b.create_block(), b.create_block());
    b.ins().brif(fails, bail, &[], next, &[]);
    b.switch_to_block(bail);
    b.set_cold_block(bail);
    let null = b.ins().iconst(e.pointer, 0);
    let door = b.ins().iconst(e.pointer, bail_door as extern "C" fn(_, _, _) -> f64 as usize as i64);
    b.ins().call_indirect(e.sigs[3], door, &[null, null, null]);
    b.ins().jump(next, &[]);
    b.switch_to_block(next);
}

/// Emits an operation other than `Const` and `Slot`, popping its operands from `stack`.
fn emit_op(b: &mut FunctionBuilder<'_>, op: Op, stack: &mut Vec<Value>, e: &Emit<'_>) -> Result<Value, JitError> {
    let (pointer, sigs) = (e.pointer, &e.sigs);
    let pop = |stack: &mut Vec<Value>| stack.pop().ok_or_else(|| JitError("empty stack".into()));
    let v = match op {
        Op::Const(_) | Op::Slot(_) | Op::Set(_) | Op::Get(_) | Op::Assert | Op::BailIfZero | Op::BailIfNan => {
            return Err(JitError("an operand or local where an operation was expected".into()))
        }
        Op::Neg | Op::Abs | Op::Sqrt | Op::Floor | Op::Ceil => {
            let a = pop(stack)?;
            match op {
                Op::Neg => b.ins().fneg(a),
                Op::Abs => b.ins().fabs(a),
                Op::Sqrt => b.ins().sqrt(a),
                Op::Floor => b.ins().floor(a),
                _ => b.ins().ceil(a),
            }
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            let (y, x) = (pop(stack)?, pop(stack)?);
            match op {
                Op::Add => b.ins().fadd(x, y),
                Op::Sub => b.ins().fsub(x, y),
                Op::Mul => b.ins().fmul(x, y),
                _ => b.ins().fdiv(x, y),
            }
        }
        Op::Select => {
            let (e, t, c) = (pop(stack)?, pop(stack)?, pop(stack)?);
            let zero = b.ins().f64const(0.0);
            // `ne` is "unordered or not equal": NaN counts as true.
            let truthy = b.ins().fcmp(FloatCC::NotEqual, c, zero);
            b.ins().select(truthy, t, e)
        }
        Op::Call1(f) => {
            let a = pop(stack)?;
            let fp = b.ins().iconst(pointer, f as usize as i64);
            let call = b.ins().call_indirect(sigs[0], fp, &[a]);
            b.inst_results(call)[0]
        }
        Op::Call2(f) => {
            let (y, x) = (pop(stack)?, pop(stack)?);
            let fp = b.ins().iconst(pointer, f as usize as i64);
            let call = b.ins().call_indirect(sigs[1], fp, &[x, y]);
            b.inst_results(call)[0]
        }
        Op::Call3(f) => {
            let (z, y, x) = (pop(stack)?, pop(stack)?, pop(stack)?);
            let fp = b.ins().iconst(pointer, f as usize as i64);
            let call = b.ins().call_indirect(sigs[2], fp, &[x, y, z]);
            b.inst_results(call)[0]
        }
        Op::Fold(_, n) | Op::Mean(n) => {
            let f = if let Op::Fold(f, _) = op { Some(f) } else { None };
            let at = stack.len().checked_sub(n as usize).ok_or_else(|| JitError("a fold without its values".into()))?;
            let args: Vec<Value> = stack.split_off(at);
            let mut acc = args[0];
            for &a in &args[1..] {
                acc = match f {
                    None => b.ins().fadd(acc, a),
                    Some(f) => {
                        let fp = b.ins().iconst(pointer, f as usize as i64);
                        let call = b.ins().call_indirect(sigs[1], fp, &[acc, a]);
                        b.inst_results(call)[0]
                    }
                };
            }
            if f.is_none() {
                let count = b.ins().f64const(f64::from(n));
                acc = b.ins().fdiv(acc, count);
            }
            acc
        }
        Op::Callout(i, n) => {
            let callout = e.callouts.get(i as usize).ok_or_else(|| JitError(format!("no callout {i}")))?;
            let at = stack.len().checked_sub(n as usize).ok_or_else(|| JitError("a call without its values".into()))?;
            let args: Vec<Value> = stack.split_off(at);
            // The arguments, in order, in a slot of this frame (room for one at least, so its
            // address is valid for an empty slice too).
            let size =
                u32::try_from(args.len().max(1) * 8).map_err(|_| JitError("a call of too many values".into()))?;
            let slot = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
            for (k, &a) in args.iter().enumerate() {
                b.ins().stack_store(pointer, a, slot, (k * 8) as i32);
            }
            let at = b.ins().stack_addr(pointer, slot, 0);
            let object = b.ins().iconst(pointer, callout as *const Arc<dyn Callout> as usize as i64);
            let count = b.ins().iconst(pointer, i64::from(n));
            let door = b.ins().iconst(pointer, callout_door as extern "C" fn(_, _, _) -> f64 as usize as i64);
            let call = b.ins().call_indirect(sigs[3], door, &[object, at, count]);
            b.inst_results(call)[0]
        }
    };
    Ok(v)
}

/// Members of a set compiled into one module: functions of up to [`NativeSet::BLOCK`]
/// members each, every one writing its members' values to their places in the output.
pub struct NativeSet {
    module: Option<JITModule>,
    blocks: Vec<extern "C" fn(*const f64, *mut f64) -> f64>,
    /// Members sharing a shape, each shape one loop over a table of its members' operands.
    loops: Vec<ShapeLoop>,
    n_slots: usize,
    n_out: usize,
    /// The callouts the code calls, at addresses the code holds (a boxed slice never moves).
    callouts: Box<[Arc<dyn Callout>]>,
    /// Whether a call can bail (it has callouts or asserts).
    may_bail: bool,
}

/// The members of a set that share a shape (the same operations, slots and constants aside),
/// computed by one loop over their operands: one small function however many members, where
/// code per member would outgrow the instruction cache.
struct ShapeLoop {
    code: extern "C" fn(*const f64, *mut f64, *const u64, usize) -> f64,
    /// Per member, a row: the byte offset of its output, the byte offsets of the values its
    /// `Slot`s read, the bits of its `Const`s, in program order.
    table: Box<[u64]>,
    rows: usize,
}

/// A program's shape: its operations with the slots and constants left out, so that programs
/// differing only in those compare equal.
fn shape(ops: &[Op]) -> Vec<u64> {
    ops.iter()
        .flat_map(|op| match *op {
            Op::Const(_) => [0, 0],
            Op::Slot(_) => [1, 0],
            Op::Neg => [2, 0],
            Op::Add => [3, 0],
            Op::Sub => [4, 0],
            Op::Mul => [5, 0],
            Op::Div => [6, 0],
            Op::Select => [7, 0],
            Op::Abs => [8, 0],
            Op::Sqrt => [9, 0],
            Op::Floor => [10, 0],
            Op::Ceil => [11, 0],
            Op::Call1(f) => [12, f as usize as u64],
            Op::Call2(f) => [13, f as usize as u64],
            Op::Call3(f) => [14, f as usize as u64],
            Op::Fold(f, n) => [15 + (u64::from(n) << 8), f as usize as u64],
            Op::Mean(n) => [16 + (u64::from(n) << 8), 0],
            Op::Callout(i, n) => [17 + (u64::from(n) << 8), u64::from(i)],
            Op::Set(i) => [18, u64::from(i)],
            Op::Get(i) => [19, u64::from(i)],
            Op::Assert => [20, 0],
            Op::BailIfZero => [21, 0],
            Op::BailIfNan => [22, 0],
        })
        .collect()
}

// SAFETY: as for `Native`: after compiling, the module is only freed on drop, and the code
// reads its argument arrays and calls pure functions and its callouts (`Send + Sync`); a call
// writes only to the `out` it is given, which `call` borrows mutably.
unsafe impl Send for NativeSet {}
// SAFETY: see `Send`.
unsafe impl Sync for NativeSet {}

impl fmt::Debug for NativeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeSet")
            .field("blocks", &self.blocks.len())
            .field("n_out", &self.n_out)
            .field("callouts", &self.callouts.len())
            .finish()
    }
}

impl Drop for NativeSet {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: the only pointers into the module's memory are `self.blocks`, which die
            // with `self`.
            unsafe { module.free_memory() };
        }
    }
}

impl NativeSet {
    /// Members per generated function: long enough that a step pays a call per block, not per
    /// member; short enough that Cranelift compiles each function quickly.
    pub const BLOCK: usize = 64;

    /// Compiles `members`, each a program reading values `0..n_slots` and the index of the
    /// output it writes (below `n_out`), whose [`Op::Callout`]s call `callouts`.
    ///
    /// ```
    /// use kalix_expr_jit::{NativeSet, Op};
    /// let members = [(2, vec![Op::Slot(0), Op::Const(1.0), Op::Add]), (0, vec![Op::Slot(1), Op::Neg])];
    /// let set = NativeSet::compile(&members, 2, 3, &[]).unwrap();
    /// let mut out = [9.0; 3];
    /// assert!(set.call(&[1.0, 5.0], &mut out));
    /// assert_eq!(out, [-5.0, 9.0, 2.0]);
    /// ```
    pub fn compile(
        members: &[(usize, Vec<Op>)],
        n_slots: usize,
        n_out: usize,
        callouts: &[Arc<dyn Callout>],
    ) -> Result<NativeSet, JitError> {
        // Members whose shape recurs go to one loop a shape (their order does not matter:
        // each reads only `values` and writes its own output); the rest, in blocks.
        let mut shapes: Vec<(Vec<u64>, Vec<usize>)> = Vec::new();
        let mut index: std::collections::HashMap<Vec<u64>, usize> = std::collections::HashMap::new();
        for (m, (_, ops)) in members.iter().enumerate() {
            let key = shape(ops);
            match index.get(&key) {
                Some(&s) => shapes[s].1.push(m),
                None => {
                    index.insert(key.clone(), shapes.len());
                    shapes.push((key, vec![m]));
                }
            }
        }
        let (shared, single): (Vec<_>, Vec<_>) = shapes.into_iter().partition(|(_, ms)| ms.len() >= Self::SHAPE_MIN);
        let mut rest: Vec<usize> = single.into_iter().flat_map(|(_, ms)| ms).collect();
        rest.sort_unstable();
        let rest: Vec<(usize, Vec<Op>)> = rest.into_iter().map(|m| members[m].clone()).collect();
        let blocks: Vec<&[(usize, Vec<Op>)]> = rest.chunks(Self::BLOCK).collect();
        let groups: Vec<Vec<&(usize, Vec<Op>)>> =
            shared.iter().map(|(_, ms)| ms.iter().map(|&m| &members[m]).collect()).collect();
        NativeSet::build(&blocks, &groups, n_slots, n_out, callouts)
    }

    /// Members of one shape, at least this many, share one loop (see [`NativeSet::compile`]).
    pub const SHAPE_MIN: usize = 4;

    /// Compiles each of `blocks` into one function, in order (block `i` is what
    /// [`NativeSet::call_block`] `i` runs): for a caller that decides where functions start,
    /// as a model does, whose host may stop between groups of members. Members of a block are
    /// computed in order, each program reading values `0..n_slots` and writing the output
    /// it names (below `n_out`), its [`Op::Callout`]s calling `callouts`.
    ///
    /// ```
    /// use kalix_expr_jit::{NativeSet, Op};
    /// // Value 2 is value 0 plus one, then value 3 is value 2 doubled: in place, in order.
    /// let first = [(2, vec![Op::Slot(0), Op::Const(1.0), Op::Add])];
    /// let second = [(3, vec![Op::Slot(2), Op::Const(2.0), Op::Mul])];
    /// let set = NativeSet::compile_blocks(&[&first, &second], 4, 4, &[]).unwrap();
    /// let mut values = [1.0, 0.0, 0.0, 0.0];
    /// assert!(set.call_block_in_place(0, &mut values));
    /// assert!(set.call_block_in_place(1, &mut values));
    /// assert_eq!(values, [1.0, 0.0, 2.0, 4.0]);
    /// ```
    pub fn compile_blocks(
        blocks: &[&[(usize, Vec<Op>)]],
        n_slots: usize,
        n_out: usize,
        callouts: &[Arc<dyn Callout>],
    ) -> Result<NativeSet, JitError> {
        NativeSet::build(blocks, &[], n_slots, n_out, callouts)
    }

    /// Compiles `blocks` (one function each) and `groups` (members of one shape, one loop
    /// each).
    fn build(
        blocks: &[&[(usize, Vec<Op>)]],
        groups: &[Vec<&(usize, Vec<Op>)>],
        n_slots: usize,
        n_out: usize,
        callouts: &[Arc<dyn Callout>],
    ) -> Result<NativeSet, JitError> {
        let callouts: Box<[Arc<dyn Callout>]> = callouts.into();
        let members = || blocks.iter().flat_map(|b| b.iter()).chain(groups.iter().flatten().copied());
        let may_bail = may_bail(members().flat_map(|(_, ops)| ops), &callouts);
        for (index, ops) in blocks.iter().flat_map(|b| b.iter()).chain(groups.iter().flatten().copied()) {
            if *index >= n_out {
                return Err(JitError(format!("output {index} is past the {n_out} outputs")));
            }
            check(ops, n_slots, callouts.len())?;
        }
        let mut jit = Jit::new()?;
        let mut ids = Vec::new();
        for block in blocks {
            let programs: Vec<(&[Op], Option<usize>)> =
                block.iter().map(|(i, ops)| (ops.as_slice(), Some(*i))).collect();
            ids.push(jit.function(&programs, true, &callouts)?);
        }
        let mut tables = Vec::with_capacity(groups.len());
        for group in groups {
            let Some((_, first)) = group.first() else { continue };
            let slots = first.iter().filter(|op| matches!(op, Op::Slot(_))).count();
            let width = 1 + first.len() - first.iter().filter(|op| !matches!(op, Op::Slot(_) | Op::Const(_))).count();
            let mut table = Vec::with_capacity(group.len() * width);
            for (index, ops) in group {
                table.push((*index as u64) * 8);
                table.extend(ops.iter().filter_map(|op| match *op {
                    Op::Slot(i) => Some(u64::from(i) * 8),
                    _ => None,
                }));
                table.extend(ops.iter().filter_map(|op| match *op {
                    Op::Const(k) => Some(k.to_bits()),
                    _ => None,
                }));
            }
            if table.len() != group.len() * width {
                return Err(JitError("members of one shape with different operands".into()));
            }
            tables.push((jit.shape_loop(first, slots, width, &callouts)?, table.into_boxed_slice(), group.len()));
        }
        jit.module.finalize_definitions().map_err(|e| JitError(e.to_string()))?;
        let blocks = ids
            .into_iter()
            .map(|id| {
                let ptr = jit.module.get_finalized_function(id);
                // SAFETY: `ptr` is the finalized code of a function defined above with the
                // signature `(pointer, pointer) -> f64` in the default (C) calling convention.
                unsafe { std::mem::transmute::<*const u8, extern "C" fn(*const f64, *mut f64) -> f64>(ptr) }
            })
            .collect();
        let loops = tables
            .into_iter()
            .map(|(id, table, rows)| {
                let ptr = jit.module.get_finalized_function(id);
                // SAFETY: `ptr` is the finalized code of a function defined by `shape_loop` with
                // the signature `(pointer, pointer, pointer, pointer-sized integer) -> f64` in
                // the default (C) calling convention, which `usize` matches.
                let code = unsafe {
                    std::mem::transmute::<*const u8, extern "C" fn(*const f64, *mut f64, *const u64, usize) -> f64>(ptr)
                };
                ShapeLoop { code, table, rows }
            })
            .collect();
        Ok(NativeSet { module: Some(jit.module), blocks, loops, n_slots, n_out, callouts, may_bail })
    }

    /// How many functions: [`NativeSet::call_block`] takes an index below it.
    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Runs block `block` over `values`, writing its members' values to `out`; `false` if there
    /// is no such block, or `values` or `out` is shorter than the set needs (nothing written),
    /// or the call bailed (a [`Callout`] declined: what it wrote is unspecified, evaluate the
    /// block another way).
    #[inline]
    pub fn call_block(&self, block: usize, values: &[f64], out: &mut [f64]) -> bool {
        let Some(code) = self.blocks.get(block) else { return false };
        if values.len() < self.n_slots || out.len() < self.n_out {
            return false;
        }
        // SAFETY: the code reads `values[i]` for slots `i < n_slots` and writes `out[j]` for
        // outputs `j < n_out` only (checked by `compile_blocks`); both arrays are that long,
        // and they do not overlap (`out` is borrowed mutably).
        code(values.as_ptr(), out.as_mut_ptr());
        !self.may_bail || !bailed()
    }

    /// Runs block `block` with `values` as both its input and its output: each member writes
    /// its value into `values`, where members after it in the block (and later blocks) read
    /// it, as a model's step reads the series computed before. `false` if there is no such block
    /// or `values` is shorter than the slots or outputs (nothing written), or the call bailed
    /// (a [`Callout`] declined: the members' places hold unspecified values, evaluate them
    /// another way).
    #[inline]
    pub fn call_block_in_place(&self, block: usize, values: &mut [f64]) -> bool {
        let Some(code) = self.blocks.get(block) else { return false };
        if values.len() < self.n_slots.max(self.n_out) {
            return false;
        }
        let p = values.as_mut_ptr();
        // SAFETY: as `call_block`, with one array of at least `max(n_slots, n_out)` values for
        // both. The generated code reads and writes it only through these raw pointers, one
        // value at a time; Cranelift keeps a load after the store before it in program order
        // (its loads and stores share one alias class), so a member reads the values written
        // by the members before it. No Rust reference to `values` is used meanwhile.
        code(p.cast_const(), p);
        !self.may_bail || !bailed()
    }

    /// Evaluates every member over `values`, writing its value to its place in `out`; `false`
    /// if `values` or `out` is shorter than the set needs (nothing written) or the call bailed
    /// (a [`Callout`] declined: `out` holds unspecified values, evaluate another way).
    #[inline]
    pub fn call(&self, values: &[f64], out: &mut [f64]) -> bool {
        if values.len() < self.n_slots || out.len() < self.n_out {
            return false;
        }
        for block in &self.blocks {
            // SAFETY: the code reads `values[i]` for slots `i < n_slots` and writes `out[j]`
            // for outputs `j < n_out` only (checked by `compile`); both arrays are that long.
            block(values.as_ptr(), out.as_mut_ptr());
        }
        for l in &self.loops {
            // SAFETY: the loop reads `rows` rows of its table, which holds exactly that many
            // (built with it, checked by `build`); each row's byte offsets were made from
            // slots below `n_slots` and outputs below `n_out` (checked by `build`), so every
            // read of `values` and write of `out` is in bounds of these arrays.
            (l.code)(values.as_ptr(), out.as_mut_ptr(), l.table.as_ptr(), l.rows);
        }
        !self.may_bail || !bailed()
    }
}
