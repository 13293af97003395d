//! The back-ends that evaluate an [`Ir`](crate::Ir): the closure tree ([`interp`]), the flat
//! node array ([`flat`]), column-wise batch evaluation ([`batch`]) and the state of stateful
//! calls ([`temporal`]). Each reads the built-in table for what an operation computes.

pub(crate) mod batch;
pub(crate) mod flat;
pub(crate) mod interp;
#[cfg(feature = "jit")]
pub(crate) mod jit;
pub(crate) mod temporal;
