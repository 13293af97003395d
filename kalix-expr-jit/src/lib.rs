//! The JIT back-end of kalix-expr: a pure expression, given as a post-order program of [`Op`]s,
//! compiled by Cranelift into one native function of the values it reads. Functions are called
//! through `extern "C"` pointers the caller supplies.
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

use std::fmt;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, Signature, UserFuncName, Value};
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

/// A compiled program: a native function of the values, owning its code memory.
pub struct Native {
    module: Option<JITModule>,
    code: extern "C" fn(*const f64) -> f64,
    n_slots: usize,
}

// SAFETY: after `compile` the module is never used again except to free its memory on drop;
// the code is immutable machine code that reads only its argument array and calls the pure,
// thread-safe trampolines above, so calling it from several threads at once is as safe as
// calling a `fn`. Dropping happens once, from whichever thread owns the `Native`.
unsafe impl Send for Native {}
// SAFETY: see `Send`: `call` takes `&self` and touches no shared mutable state.
unsafe impl Sync for Native {}

impl fmt::Debug for Native {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Native").field("n_slots", &self.n_slots).finish()
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
    /// Refuses a program that does not leave exactly one value, reads past `n_slots`, or is
    /// longer than [`MAX_OPS`]; and fails where Cranelift does not support the machine.
    pub fn compile(ops: &[Op], n_slots: usize) -> Result<Native, JitError> {
        check(ops, n_slots)?;
        let mut jit = Jit::new()?;
        let id = jit.function(&[(ops, None)], false)?;
        let (module, ptr) = jit.finish(id)?;
        // SAFETY: `ptr` is the finalized code of the function just defined with the signature
        // `(pointer) -> f64` in the platform's default (C) calling convention.
        let code = unsafe { std::mem::transmute::<*const u8, extern "C" fn(*const f64) -> f64>(ptr) };
        Ok(Native { module: Some(module), code, n_slots })
    }

    /// How many values the function reads.
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// Evaluates the function over `values`, or `None` if it holds fewer than it reads.
    #[inline]
    pub fn call(&self, values: &[f64]) -> Option<f64> {
        if values.len() < self.n_slots {
            return None;
        }
        // SAFETY: the code reads `values[i]` only for the slots `i < n_slots` its program
        // names (checked by `compile`), and `values` holds at least `n_slots`.
        Some((self.code)(values.as_ptr()))
    }
}

/// Checks a program's shape: every slot below `n_slots`, operands for every operation, one
/// value left, at most [`MAX_OPS`] operations.
fn check(ops: &[Op], n_slots: usize) -> Result<(), JitError> {
    if ops.len() > MAX_OPS {
        return Err(JitError(format!("{} operations, more than {MAX_OPS}", ops.len())));
    }
    let mut depth: usize = 0;
    for op in ops {
        let (pops, pushes) = match *op {
            Op::Const(_) => (0, 1),
            Op::Slot(i) if (i as usize) < n_slots => (0, 1),
            Op::Slot(i) => return Err(JitError(format!("slot {i} is past the {n_slots} values"))),
            Op::Neg | Op::Abs | Op::Sqrt | Op::Floor | Op::Ceil | Op::Call1(_) => (1, 1),
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Call2(_) => (2, 1),
            Op::Select | Op::Call3(_) => (3, 1),
            Op::Fold(_, n) | Op::Mean(n) if n >= 1 => (n as usize, 1),
            Op::Fold(..) | Op::Mean(_) => return Err(JitError("a fold of no values".into())),
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
    ) -> Result<cranelift_module::FuncId, JitError> {
        let pointer = self.pointer;
        let (id, callees) = self.declare(if store { 2 } else { 1 })?;
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let sigs = callees.map(|s| b.import_signature(s));
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let values = b.block_params(entry)[0];
            let out = if store { Some(b.block_params(entry)[1]) } else { None };
            let mut last = None;
            for (ops, index) in programs {
                let v = emit_from(&mut b, ops, Operands::Inline(values), pointer, &sigs)?;
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
    /// three-argument functions programs call.
    fn declare(&mut self, params: usize) -> Result<(cranelift_module::FuncId, [Signature; 3]), JitError> {
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
        Ok((id, [callee(1), callee(2), callee(3)]))
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
    fn shape_loop(&mut self, ops: &[Op], slots: usize, width: usize) -> Result<cranelift_module::FuncId, JitError> {
        use cranelift_codegen::ir::condcodes::IntCC;
        use cranelift_codegen::ir::BlockArg;
        let pointer = self.pointer;
        let (id, callees) = self.declare(4)?;
        let stride = i64::try_from(width * 8).map_err(|_| JitError("a table row too wide".into()))?;
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let sigs = callees.map(|s| b.import_signature(s));
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
            let v = emit_from(&mut b, ops, Operands::Table { values, row, slots }, pointer, &sigs)?;
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
fn emit_from(
    b: &mut FunctionBuilder<'_>,
    ops: &[Op],
    operands: Operands,
    pointer: types::Type,
    sigs: &[cranelift_codegen::ir::SigRef; 3],
) -> Result<Value, JitError> {
    let mut stack: Vec<Value> = Vec::with_capacity(64);
    let pop = |stack: &mut Vec<Value>| stack.pop().ok_or_else(|| JitError("empty stack".into()));
    let (mut slot_seen, mut const_seen) = (0usize, 0usize);
    let entry = |j: usize| i32::try_from((j + 1) * 8).map_err(|_| JitError("a program too long for a table".into()));
    for op in ops {
        let v = match (*op, operands) {
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
            (op, _) => emit_op(b, op, &mut stack, pointer, sigs)?,
        };
        stack.push(v);
    }
    pop(&mut stack)
}

/// Emits an operation other than `Const` and `Slot`, popping its operands from `stack`.
fn emit_op(
    b: &mut FunctionBuilder<'_>,
    op: Op,
    stack: &mut Vec<Value>,
    pointer: types::Type,
    sigs: &[cranelift_codegen::ir::SigRef; 3],
) -> Result<Value, JitError> {
    let pop = |stack: &mut Vec<Value>| stack.pop().ok_or_else(|| JitError("empty stack".into()));
    let v = match op {
        Op::Const(_) | Op::Slot(_) => return Err(JitError("an operand where an operation was expected".into())),
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
        })
        .collect()
}

// SAFETY: as for `Native`: after compiling, the module is only freed on drop, and the code
// reads its argument arrays and calls pure functions; a call writes only to the `out` it is
// given, which `call` borrows mutably.
unsafe impl Send for NativeSet {}
// SAFETY: see `Send`.
unsafe impl Sync for NativeSet {}

impl fmt::Debug for NativeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeSet").field("blocks", &self.blocks.len()).field("n_out", &self.n_out).finish()
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
    /// output it writes (below `n_out`).
    ///
    /// ```
    /// use kalix_expr_jit::{NativeSet, Op};
    /// let members = [(2, vec![Op::Slot(0), Op::Const(1.0), Op::Add]), (0, vec![Op::Slot(1), Op::Neg])];
    /// let set = NativeSet::compile(&members, 2, 3).unwrap();
    /// let mut out = [9.0; 3];
    /// assert!(set.call(&[1.0, 5.0], &mut out));
    /// assert_eq!(out, [-5.0, 9.0, 2.0]);
    /// ```
    pub fn compile(members: &[(usize, Vec<Op>)], n_slots: usize, n_out: usize) -> Result<NativeSet, JitError> {
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
        NativeSet::build(&blocks, &groups, n_slots, n_out)
    }

    /// Members of one shape, at least this many, share one loop (see [`NativeSet::compile`]).
    pub const SHAPE_MIN: usize = 4;

    /// Compiles each of `blocks` into one function, in order (block `i` is what
    /// [`NativeSet::call_block`] `i` runs): for a caller that decides where functions start,
    /// as a model does, whose host may stop between groups of members. Members of a block are
    /// computed in order, each program reading values `0..n_slots` and writing the output
    /// it names (below `n_out`).
    ///
    /// ```
    /// use kalix_expr_jit::{NativeSet, Op};
    /// // Value 2 is value 0 plus one, then value 3 is value 2 doubled: in place, in order.
    /// let first = [(2, vec![Op::Slot(0), Op::Const(1.0), Op::Add])];
    /// let second = [(3, vec![Op::Slot(2), Op::Const(2.0), Op::Mul])];
    /// let set = NativeSet::compile_blocks(&[&first, &second], 4, 4).unwrap();
    /// let mut values = [1.0, 0.0, 0.0, 0.0];
    /// assert!(set.call_block_in_place(0, &mut values));
    /// assert!(set.call_block_in_place(1, &mut values));
    /// assert_eq!(values, [1.0, 0.0, 2.0, 4.0]);
    /// ```
    pub fn compile_blocks(blocks: &[&[(usize, Vec<Op>)]], n_slots: usize, n_out: usize) -> Result<NativeSet, JitError> {
        NativeSet::build(blocks, &[], n_slots, n_out)
    }

    /// Compiles `blocks` (one function each) and `groups` (members of one shape, one loop
    /// each).
    fn build(
        blocks: &[&[(usize, Vec<Op>)]],
        groups: &[Vec<&(usize, Vec<Op>)>],
        n_slots: usize,
        n_out: usize,
    ) -> Result<NativeSet, JitError> {
        for (index, ops) in blocks.iter().flat_map(|b| b.iter()).chain(groups.iter().flatten().copied()) {
            if *index >= n_out {
                return Err(JitError(format!("output {index} is past the {n_out} outputs")));
            }
            check(ops, n_slots)?;
        }
        let mut jit = Jit::new()?;
        let mut ids = Vec::new();
        for block in blocks {
            let programs: Vec<(&[Op], Option<usize>)> =
                block.iter().map(|(i, ops)| (ops.as_slice(), Some(*i))).collect();
            ids.push(jit.function(&programs, true)?);
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
            tables.push((jit.shape_loop(first, slots, width)?, table.into_boxed_slice(), group.len()));
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
        Ok(NativeSet { module: Some(jit.module), blocks, loops, n_slots, n_out })
    }

    /// How many functions: [`NativeSet::call_block`] takes an index below it.
    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Runs block `block` over `values`, writing its members' values to `out`; `false` (and
    /// nothing written) if there is no such block, or `values` or `out` is shorter than the
    /// set needs.
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
        true
    }

    /// Runs block `block` with `values` as both its input and its output: each member writes
    /// its value into `values`, where members after it in the block (and later blocks) read
    /// it, as a model's step reads the series computed before. `false` (and nothing written)
    /// if there is no such block or `values` is shorter than the slots or outputs.
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
        true
    }

    /// Evaluates every member over `values`, writing its value to its place in `out`; `false`
    /// (and nothing written) if `values` or `out` is shorter than the set needs.
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
        true
    }
}
