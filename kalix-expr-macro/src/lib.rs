//! The `kexpr!` macro.
