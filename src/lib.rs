//! kalix-expr: the expression engine of the Kalix hydrological modelling platform.
#![forbid(unsafe_code)]

pub use kalix_expr_core::*;
