//! The case table of `tests/common` run through the interpreter (`Expr::parse` → `compile` →
//! `eval`), and through `kexpr!` against the interpreter, bit for bit.

mod common;

use common::*;
use kalix_expr::Expr;

/// The interpreter's result for one case and row.
fn interpret(src: &str, names: &[&str], inputs: &[f64]) -> f64 {
    let compiled = Expr::parse(src).and_then(|e| e.compile(names)).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    compiled.eval(inputs).unwrap_or_else(|e| panic!("`{src}` with {inputs:?}:\n{e}"))
}

macro_rules! interpreter_cases {
    ($( $src:tt [$($names:tt)*] { $( [$($v:expr),* $(,)?] $(=> $want:expr)? );* $(;)? } )*) => {{
        let mut cases = 0;
        $(
            cases += 1;
            let names: &[&str] = &names!($($names)*);
            $(
                let inputs: &[f64] = &[$($v),*];
                let got = interpret($src, names, inputs);
                $( expect("interpreter", $src, inputs, got, $want); )?
                let _ = got;
            )*
        )*
        cases
    }};
}

/// The interpreter gives what LANGUAGE.md says, for every case of the table that fixes a value.
#[test]
fn the_interpreter_follows_the_language_reference() {
    let cases = cases!(interpreter_cases);
    assert!(cases >= 300, "the table has {cases} cases");
}

#[cfg(feature = "macro")]
mod kexpr {
    use super::*;
    use kalix_expr::kexpr;

    macro_rules! kexpr_cases {
        ($( $src:tt [$($names:tt)*] { $( [$($v:expr),* $(,)?] $(=> $want:expr)? );* $(;)? } )*) => {{
            let mut rows = 0;
            $(
                // A function per case keeps each case's code small.
                rows += {
                    fn case() -> usize {
                        let names: &[&str] = &names!($($names)*);
                        let f = kexpr!(|$($names)*| $src);
                        let mut rows = 0;
                        $(
                            let inputs: &[f64] = &[$($v),*];
                            let got = f($($v),*);
                            let interpreted = interpret($src, names, inputs);
                            expect("kexpr! against the interpreter", $src, inputs, got, interpreted);
                            $( expect("kexpr!", $src, inputs, got, $want); )?
                            rows += 1;
                        )*
                        rows
                    }
                    case()
                };
            )*
            rows
        }};
    }

    /// Every case, every row: the closure from `kexpr!` and `Compiled::eval` give the same bits.
    #[test]
    fn kexpr_agrees_with_the_interpreter_bit_for_bit() {
        let rows = cases!(kexpr_cases);
        assert!(rows >= 600, "the table has {rows} rows");
    }
}
