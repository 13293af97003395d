//! Compile-fail tests of `kexpr!`: each `tests/ui/<kebab-name>.rs` must fail to compile with
//! exactly the errors in the `.stderr` beside it. Regenerate with
//! `TRYBUILD=overwrite cargo test --test compiletest`, then read the diff before committing; the
//! text depends on the compiler version.
#![cfg(feature = "macro")]

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
