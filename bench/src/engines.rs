//! One adapter per engine, each used the way its documentation recommends for repeated
//! evaluation, behind the common [`Eval`] trait.
//!
//! Every adapter reads the harness's slot array (see [`crate::Layout`]); how it passes the values
//! on is part of what is measured, since a host would have to do the same:
//! - kalix-expr takes the slot array as it is;
//! - fasteval reads pointer-bound variables (its `unsafe-vars` mode, the fastest it offers), so
//!   the values that change each step are copied into them (the constants are set once);
//! - exmex and meval take their variables as a slice in their own order, gathered each step.

use kalix_expr_core::{Compiled, Expr};

use crate::Layout;

#[cfg(feature = "peers")]
pub use crate::peers::{Exmex, Fasteval, Meval};

/// An engine ready to evaluate one expression over slot arrays laid out by a [`Layout`].
pub trait Eval {
    /// The value for `values` (the slot array; only the layout's varying slots change between
    /// calls). Panics if the engine reports an error: none of the benchmark inputs should give one.
    fn eval(&mut self, values: &[f64]) -> f64;
}

/// The engines in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The expression written in Rust.
    Hand,
    /// kalix-expr's interpreter: `Expr::parse` → `compile` → `Compiled::eval`.
    KalixExpr,
    /// kalix-expr's JIT: the same, compiled with `Engine::Jit` (Cranelift).
    KalixJit,
    /// fasteval 0.2.4: parse → compile into a slab, pointer-bound variables.
    Fasteval,
    /// exmex 0.21: `exmex::parse::<f64>` → `FlatEx::eval`.
    Exmex,
    /// meval 0.2: `Expr::bindn` / `bind2` closures.
    Meval,
}

impl Engine {
    /// All engines, the baseline first.
    pub const ALL: [Engine; 6] =
        [Engine::Hand, Engine::KalixExpr, Engine::KalixJit, Engine::Fasteval, Engine::Exmex, Engine::Meval];
    /// The peers.
    pub const PEERS: [Engine; 3] = [Engine::Fasteval, Engine::Exmex, Engine::Meval];

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Hand => "hand-written",
            Engine::KalixExpr => "kalix-expr",
            Engine::KalixJit => "kalix-expr JIT",
            Engine::Fasteval => "fasteval",
            Engine::Exmex => "exmex",
            Engine::Meval => "meval",
        }
    }
}

/// Why an engine cannot run an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A hand-written function as an engine.
#[derive(Debug, Clone, Copy)]
pub struct Hand<F>(pub F);

impl<F: Fn(&[f64]) -> f64> Eval for Hand<F> {
    #[inline(always)]
    fn eval(&mut self, values: &[f64]) -> f64 {
        (self.0)(values)
    }
}

/// kalix-expr's interpreter.
#[derive(Debug)]
pub struct KalixExpr {
    compiled: Compiled,
}

impl KalixExpr {
    /// Parses and compiles `src` with slot `i` bound to `layout.names[i]`.
    pub fn new(src: &str, layout: &Layout) -> Result<Self, kalix_expr_core::Error> {
        let opts = kalix_expr_core::Options { engine: kalix_expr_core::Engine::Interpreter, ..Default::default() };
        let names: Vec<&str> = layout.names.iter().map(|n| n.as_ref()).collect();
        Ok(KalixExpr { compiled: Expr::parse(src)?.compile_with(&names, &opts)? })
    }

    /// [`KalixExpr::new`] for the JIT (`Engine::Jit`); an expression it does not compile is
    /// skipped, so that the JIT's column times only the JIT.
    pub fn jit(src: &str, layout: &Layout) -> Result<Self, kalix_expr_core::Error> {
        let opts = kalix_expr_core::Options { engine: kalix_expr_core::Engine::Jit, ..Default::default() };
        let names: Vec<&str> = layout.names.iter().map(|n| n.as_ref()).collect();
        Ok(KalixExpr { compiled: Expr::parse(src)?.compile_with(&names, &opts)? })
    }

    /// Whether the JIT compiled it.
    pub fn is_native(&self) -> bool {
        self.compiled.jit_now() == kalix_expr_core::Engine::Jit
    }
}

impl Eval for KalixExpr {
    #[inline(always)]
    fn eval(&mut self, values: &[f64]) -> f64 {
        match self.compiled.eval(values) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }
}
