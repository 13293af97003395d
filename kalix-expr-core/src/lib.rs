//! The core of kalix-expr: parser, resolver and interpreter.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ast;
mod error;
mod parse;
mod span;

pub use ast::Ast;
pub use error::{Diagnostic, Error, ErrorKind};
pub use parse::{parse, ParseOptions};
pub use span::Span;
