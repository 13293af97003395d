//! The case tables of `tests/common` run through the interpreter (`Expr::parse` → `compile` →
//! `eval`) and the stepping runtime (`Model` → `Program::run`), and through `kexpr!` against
//! them, bit for bit.

mod common;

use common::*;
use kalix_expr::{Calendar, Date, Expr, Model};

/// The interpreter's result for one case and row.
fn interpret(src: &str, names: &[&str], inputs: &[f64]) -> f64 {
    // The table's rows are single evaluations: a window or offset gives its first step's value.
    let opts = kalix_expr::Options { single_step: true, ..Default::default() };
    let compiled =
        Expr::parse(src).and_then(|e| e.compile_with(names, &opts)).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    compiled.eval(inputs).unwrap_or_else(|e| panic!("`{src}` with {inputs:?}:\n{e}"))
}

/// The stepping runtime's results for one multi-step case: a model whose input series are the
/// case's parameters (`data.*`), one column per parameter taken from the rows, and whose one
/// computed series (`var.case.value`) is the expression, run for one step per row.
fn run_steps(src: &str, names: &[&str], rows: &[Vec<f64>]) -> Vec<f64> {
    let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).expect("a valid date")));
    for name in names {
        model.input(*name);
    }
    model.series("var.case.value", Expr::parse(src).unwrap_or_else(|e| panic!("`{src}`:\n{e}")));
    let program = model.compile().unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    let columns: Vec<Vec<f64>> = (0..names.len()).map(|i| rows.iter().map(|row| row[i]).collect()).collect();
    let columns: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let outputs = program.run(&columns, rows.len()).unwrap_or_else(|e| panic!("`{src}`:\n{e}"));
    outputs.column("var.case.value").expect("the case's series").to_vec()
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

/// The interpreter gives what docs/language.md says, for every case of the table that fixes a value.
#[test]
fn the_interpreter_follows_the_language_reference() {
    let cases = cases!(interpreter_cases);
    assert!(cases >= 300, "the table has {cases} cases");
}

macro_rules! runtime_step_cases {
    ($( $src:tt [$($names:tt)*] { $( [$($v:expr),* $(,)?] $(=> $want:expr)? );* $(;)? } )*) => {{
        let mut cases = 0;
        $(
            cases += 1;
            let names: &[&str] = &names!($($names)*);
            let rows: Vec<Vec<f64>> = vec![$(vec![$($v),*]),*];
            let outputs = run_steps($src, names, &rows);
            assert_eq!(outputs.len(), rows.len(), "`{}`", $src);
            // Step 0 of a run is a single evaluation.
            expect("the runtime's step 0 against the interpreter", $src, &rows[0], outputs[0], interpret($src, names, &rows[0]));
            let mut step = 0;
            $(
                $( expect(&format!("the runtime at step {step}"), $src, &rows[step], outputs[step], $want); )?
                step += 1;
            )*
            let _ = step;
        )*
        cases
    }};
}

/// The stepping runtime steps the stateful functions as docs/language.md says, for every step the
/// table fixes, and its step 0 is the interpreter's single evaluation.
#[test]
fn the_runtime_steps_stateful_functions_as_the_language_reference_says() {
    let cases = step_cases!(runtime_step_cases);
    assert!(cases >= 40, "the table has {cases} cases");
}

#[cfg(feature = "macro")]
mod kexpr {
    use super::*;
    use kalix_expr::kexpr;

    /// A fresh copy of a closure, so that each row of the single-step table is the first call of
    /// a closure (a stepping closure's state starts again; a plain one is `Copy` anyway).
    fn fresh<F: Clone>(f: &F) -> F {
        f.clone()
    }

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
                            let got = fresh(&f)($($v),*);
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

    /// Every case, every row: the first call of the closure from `kexpr!` and `Compiled::eval`
    /// give the same bits.
    #[test]
    fn kexpr_agrees_with_the_interpreter_bit_for_bit() {
        let rows = cases!(kexpr_cases);
        assert!(rows >= 600, "the table has {rows} rows");
    }

    macro_rules! kexpr_step_cases {
        ($( $src:tt [$($names:tt)*] { $( [$($v:expr),* $(,)?] $(=> $want:expr)? );* $(;)? } )*) => {{
            let mut steps = 0;
            $(
                steps += {
                    fn case() -> usize {
                        let names: &[&str] = &names!($($names)*);
                        let rows: Vec<Vec<f64>> = vec![$(vec![$($v),*]),*];
                        let outputs = run_steps($src, names, &rows);
                        let mut f = kexpr!(|$($names)*| $src);
                        let mut step = 0;
                        $(
                            let got = f($($v),*);
                            let what = format!("kexpr! against the runtime at step {step}");
                            expect(&what, $src, &rows[step], got, outputs[step]);
                            $( expect(&format!("kexpr! at step {step}"), $src, &rows[step], got, $want); )?
                            step += 1;
                        )*
                        step
                    }
                    case()
                };
            )*
            steps
        }};
    }

    /// Every multi-step case: one closure from `kexpr!` called once per row gives, step by step,
    /// the same bits as the stepping runtime over the same inputs.
    #[test]
    fn a_stateful_kexpr_closure_steps_as_the_runtime_bit_for_bit() {
        let steps = step_cases!(kexpr_step_cases);
        assert!(steps >= 250, "the table has {steps} steps");
    }
}
