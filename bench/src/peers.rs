//! The peer engines' adapters (feature `peers`): fasteval, exmex and meval, each used the way
//! its documentation recommends for repeated evaluation (see [`crate::engines`]).

use std::cell::Cell;

use exmex::Express;
use kalix_expr_core::Expr;

use crate::engines::{Eval, Skip};
use crate::translate::{peer_name, translate, Dialect, Translation};
use crate::Layout;

/// fasteval, compiled, with pointer-bound ("unsafe") variables.
pub struct Fasteval {
    slab: fasteval::Slab,
    instr: fasteval::Instruction,
    /// The variables fasteval reads through pointers. Boxed so that they never move; declared
    /// after `slab` so that they outlive it.
    cells: Box<[Cell<f64>]>,
    varying: usize,
    /// Which rewrites the translation needed (see [`crate::translate`]).
    pub notes: Vec<&'static str>,
}

impl Fasteval {
    /// Translates, parses and compiles `src`.
    pub fn new(src: &str, layout: &Layout) -> Result<Self, Skip> {
        Self::from_translation(&translate(src, Dialect::Fasteval).map_err(Skip)?, layout)
    }

    /// Parses and compiles an expression already in fasteval's syntax.
    pub fn from_translation(t: &Translation, layout: &Layout) -> Result<Self, Skip> {
        let cells: Box<[Cell<f64>]> = layout.initial_values().into_iter().map(Cell::new).collect();
        let mut slab = fasteval::Slab::new();
        for (name, cell) in layout.names.iter().zip(cells.iter()) {
            // SAFETY: fasteval keeps a raw pointer to the cell and reads it in `eval`. The cells
            // are boxed (their address never changes) and live in the same struct as the slab,
            // which is the only thing that reads through the pointers. Writes go through `Cell`.
            unsafe { slab.ps.add_unsafe_var(peer_name(name), &*cell.as_ptr()) };
        }
        let parser = fasteval::Parser::new();
        let expr = parser.parse(&t.source, &mut slab.ps).map_err(|e| Skip(format!("fasteval: {e:?}")))?;
        let instr = fasteval::Compiler::compile(expr.from(&slab.ps), &slab.ps, &mut slab.cs);
        Ok(Fasteval { slab, instr, cells, varying: layout.varying, notes: t.notes.clone() })
    }

    /// What fasteval's `eval_compiled_ref!` expands to for an instruction that is neither a
    /// constant nor a bare variable (the macro itself checks fasteval's features in the calling
    /// crate, so it cannot be used from here).
    #[inline(always)]
    fn run(&self) -> Result<f64, fasteval::Error> {
        fasteval::Evaler::eval(&self.instr, &self.slab, &mut fasteval::EmptyNamespace)
    }
}

impl Eval for Fasteval {
    #[inline(always)]
    fn eval(&mut self, values: &[f64]) -> f64 {
        for (cell, v) in self.cells[..self.varying].iter().zip(values) {
            cell.set(*v);
        }
        match self.run() {
            Ok(v) => v,
            Err(e) => panic!("fasteval: {e:?}"),
        }
    }
}

/// exmex's flat expression.
pub struct Exmex {
    expr: exmex::FlatEx<f64>,
    /// `slots[j]` is the slot of exmex's `j`-th variable (exmex sorts them by name).
    slots: Vec<usize>,
    args: Vec<f64>,
}

impl Exmex {
    /// Translates and parses `src`.
    pub fn new(src: &str, layout: &Layout) -> Result<Self, Skip> {
        Self::from_peer_source(&translate(src, Dialect::Exmex).map_err(Skip)?.source, layout)
    }

    /// Parses an expression already in exmex's syntax.
    pub fn from_peer_source(src: &str, layout: &Layout) -> Result<Self, Skip> {
        let expr = exmex::parse::<f64>(src).map_err(|e| Skip(format!("exmex: {e}")))?;
        let slots = expr.var_names().iter().map(|n| layout.slot_of_peer_name(n)).collect::<Result<Vec<_>, _>>()?;
        Ok(Exmex { expr, args: vec![0.0; slots.len()], slots })
    }
}

impl Eval for Exmex {
    #[inline(always)]
    fn eval(&mut self, values: &[f64]) -> f64 {
        for (a, &s) in self.args.iter_mut().zip(&self.slots) {
            *a = values[s];
        }
        match self.expr.eval(&self.args) {
            Ok(v) => v,
            Err(e) => panic!("exmex: {e}"),
        }
    }
}

/// A closure meval has bound.
type Bound = Box<dyn Fn(&[f64]) -> f64>;

/// meval's bound closure.
pub struct Meval {
    f: Bound,
    slots: Vec<usize>,
    args: Vec<f64>,
}

impl Meval {
    /// Translates, parses and binds `src`: with `bind2` over two slots, else with `bindn` over
    /// the variables the expression reads.
    pub fn new(src: &str, layout: &Layout) -> Result<Self, Skip> {
        let t = translate(src, Dialect::Meval).map_err(Skip)?;
        let read = Expr::parse(src).map_err(|e| Skip(e.to_string()))?;
        let slots = read.variables().iter().map(|n| layout.slot_of(n)).collect::<Result<Vec<_>, _>>()?;
        Self::from_peer_source(&t.source, &slots, layout)
    }

    /// Parses and binds an expression already in meval's syntax that reads the variables of
    /// `slots` (all of them when the layout has two slots).
    pub fn from_peer_source(src: &str, slots: &[usize], layout: &Layout) -> Result<Self, Skip> {
        let expr: meval::Expr = src.parse().map_err(|e| Skip(format!("meval: {e}")))?;
        let bad = |e: meval::Error| Skip(format!("meval: {e}"));
        if layout.names.len() == 2 {
            let f = expr.bind2(&peer_name(layout.names[0]), &peer_name(layout.names[1])).map_err(bad)?;
            return Ok(Meval { f: Box::new(move |v: &[f64]| f(v[0], v[1])), slots: vec![0, 1], args: vec![0.0; 2] });
        }
        // `bindn` borrows the names for as long as the closure lives: leak them (a few bytes
        // per adapter, which lives for the whole benchmark anyway).
        let names: &'static [&'static str] =
            slots.iter().map(|&s| &*peer_name(layout.names[s]).leak()).collect::<Vec<_>>().leak();
        let f = expr.bindn(names).map_err(bad)?;
        Ok(Meval { f: Box::new(f), args: vec![0.0; slots.len()], slots: slots.to_vec() })
    }
}

impl Eval for Meval {
    #[inline(always)]
    fn eval(&mut self, values: &[f64]) -> f64 {
        for (a, &s) in self.args.iter_mut().zip(&self.slots) {
            *a = values[s];
        }
        (self.f)(&self.args)
    }
}
