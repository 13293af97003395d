//! The `kexpr!` macro: kalix-expr expressions checked and compiled to plain Rust closures at
//! build time.
//!
//! Use it through the `kalix-expr` crate (`use kalix_expr::kexpr;`), whose `macro` feature (on
//! by default) re-exports it: the code it generates calls the built-in functions of
//! `kalix-expr-core` through `kalix_expr`. See [`kexpr!`] for the rules.
//!
//! ```
//! use kalix_expr::kexpr;
//!
//! let runoff = kexpr!("max(0, rain - 0.8 * evap)"); // |rain, evap|
//! assert_eq!(runoff(10.0, 5.0), 6.0);
//! ```
//!
//! The macro parses and resolves with `kalix-expr-core` (without its interpreter) and turns the
//! resolved tree into Rust: the same parser, the same checks and the same error messages as at
//! run time, and the same functions evaluating it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod expand;
mod input;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned};

use crate::expand::{expand, Failure};
use crate::input::Input;

/// Compiles a kalix-expr expression to a plain Rust closure at build time.
///
/// The expression is checked when the crate compiles, every error with the same message as at
/// run time, and becomes an ordinary closure with `f64` parameters and an `f64` result. There is
/// no parsing, name lookup or allocation left for run time. Its type depends on one thing:
///
/// - without stateful functions, `impl Fn(f64, …) -> f64 + Copy`: it captures nothing, so it
///   also coerces to a `fn` pointer;
/// - with stateful functions (`moving_*`, `*_since`, `count_since`, `steps_since`), a `move`
///   closure `impl FnMut(f64, …) -> f64 + Clone + Send` that owns their state: each call is one
///   step (see [Stateful functions](#stateful-functions-each-call-is-one-step)).
///
/// ```
/// use kalix_expr::{kexpr, Expr};
///
/// let runoff = kexpr!("max(0, rain - loss)");
/// assert_eq!(runoff(12.5, 2.5), 10.0);
///
/// // The same bits as the runtime engine on the same text.
/// let compiled = Expr::parse("max(0, rain - loss)")?.compile(&["rain", "loss"])?;
/// assert_eq!(runoff(0.1, 0.3).to_bits(), compiled.eval(&[0.1, 0.3])?.to_bits());
/// # Ok::<(), kalix_expr::Error>(())
/// ```
///
/// # Parameters
///
/// Two forms, and the closure's parameter order is part of the API:
///
/// - `kexpr!("…")` takes the expression's variables **in order of first appearance in the
///   text**, each once, as [`Expr::variables`] lists them: block locals and the constants `pi`
///   and `e` are not variables, a name read with an offset (`x[-1, 0]`) is.
///   `kexpr!("max(0, rain - loss)")` is `|rain, loss|`; `kexpr!("b * 10 + a")` is `|b, a|`.
/// - `kexpr!(|loss, rain| "…")` takes the parameters **in the order written**. Dotted names
///   are written as in the expression (`|data.rain, sim.month|`, `|data.csv.by_index.1|`). A
///   name the expression reads but the list lacks is a compile error (with a suggestion); a
///   listed name the expression does not read is allowed and ignored, without a warning.
///   `|| "…"` takes none.
///
/// ```
/// use kalix_expr::kexpr;
///
/// let f = kexpr!(|sim.month, data.rain, unused| "if(sim.month > 10, data.rain, 0)");
/// assert_eq!(f(11.0, 4.0, 0.0), 4.0);
/// let g: fn(f64) -> f64 = kexpr!("{ a = x * 2; a + 1 }");
/// assert_eq!(g(4.0), 9.0);
/// ```
///
/// Names are case-sensitive (`Rain` and `rain` are two parameters), as with the default
/// [`Options`] of the runtime engine; function names are case-insensitive as everywhere.
///
/// # Semantics
///
/// One language, one implementation: every operator and function calls the same function of
/// `kalix_expr_core::builtins` that `Compiled::eval` calls, constant sub-expressions are folded
/// by the same resolver, constants are emitted with their exact bits (NaN, ±inf and `-0.0`
/// included), and `if`, `&&` and `||` evaluate only what the interpreter evaluates. A closure
/// and `Compiled::eval` with the default [`Options`] give the same bits for the same inputs;
/// the test suite checks this on a table of several hundred cases.
///
/// Without stateful functions a call is a single evaluation, as `Compiled::eval` is, and an
/// offset `x[k, d]` with `k ≠ 0` reads `d` (there is no history); `x[0, d]` reads `x`.
///
/// # Stateful functions: each call is one step
///
/// The stateful functions keep state from one step of a run to the next (docs/language.md), so a
/// closure that calls them owns that state, one state machine per call site, created with the
/// closure. The rule:
///
/// - **the first call is step 0** of a fresh run: windows pre-filled with their default,
///   accumulators just reset, exactly what `Compiled::eval` gives;
/// - **each call advances** every call site by one step, as the stepping runtime
///   (`Program::run`) does: children before parents, in every branch (an untaken `if` branch
///   and both sides of `&&` and `||` included, so a window never depends on branching history),
///   each statement's calls right before that statement. Call it exactly once per time step;
/// - **to restart, make a new closure**: each evaluation of `kexpr!` creates fresh state, so a
///   function returning `kexpr!(…)` gives a fresh run per call, and a clone continues the run
///   from where it was, independently of the original.
///
/// Over the same inputs, step after step, the closure gives the stepping runtime's bits; the test
/// suite checks this on a table of multi-step cases.
///
/// ```
/// use kalix_expr::kexpr;
///
/// let mut mean3 = kexpr!("moving_mean(inflow, 3, 0)"); // FnMut: declared `mut`
/// assert_eq!(mean3(3.0), 1.0); // step 0: (0 + 0 + 3) / 3
/// assert_eq!(mean3(6.0), 3.0); // step 1: (0 + 3 + 6) / 3
/// assert_eq!(mean3(9.0), 6.0); // step 2: (3 + 6 + 9) / 3
///
/// // A fresh run starts from step 0 again.
/// fn dry_spell() -> impl FnMut(f64) -> f64 {
///     kexpr!("steps_since(rain > 0.5)")
/// }
/// let mut days = dry_spell();
/// let spells: Vec<f64> = [1.0, 0.0, 0.0, 2.0, 0.0].into_iter().map(|r| days(r)).collect();
/// assert_eq!(spells, [0.0, 1.0, 2.0, 0.0, 1.0]);
/// assert_eq!(dry_spell()(0.0), 0.0);
/// ```
///
/// A stepping closure keeps no history of its parameters and cannot see later calls, so an
/// offset other than `[0, d]` in an expression with stateful calls is a compile error, rather
/// than the default read at every step. Pass the earlier value as a parameter of its own, or run
/// the expression in a model.
///
/// # Blocks and `assert`
///
/// A block `{ a = x * 2; assert(a > 0); a + 1 }` works as at run time; its locals become `let`
/// bindings (a reassignment is a new binding, which in straight-line code is the same thing).
/// The closure still returns a plain `f64`, so a failed `assert` (its condition 0 **or NaN**)
/// **panics**, with exactly the text of the interpreter's error:
///
/// ```should_panic
/// use kalix_expr::kexpr;
///
/// let f = kexpr!("{ assert(x > 0); sqrt(x) }");
/// assert_eq!(f(4.0), 2.0);
/// f(-1.0); // panics: error: assertion failed: `assert(x > 0)` is 0 …
/// ```
///
/// In a stepping closure, a failed `assert` ends the step where it stands, as it ends a run of
/// the stepping runtime: the calls of the statements before it have advanced, those after it
/// have not.
///
/// # What is rejected, and why
///
/// Every error of the expression is a compile error on the string literal, whose message is
/// the runtime engine's rendered report (the one-line kind, the caret snippet, the help line).
/// Every name error is reported at once, and the macro still stands for a closure of the right
/// arity, so the code around it gets no follow-up errors. Rejected:
///
/// - syntax errors, unknown functions and variables, wrong arity, misplaced blocks or asserts,
///   forbidden offsets, non-literal window lengths: the same errors as `Expr::compile`;
/// - offsets other than `[0, d]` next to stateful calls: the stepping closure has no history;
/// - the calendar functions `month_at` and `days_in_month_at`: a closure has no simulation
///   date (the interpreter's `CalendarRequired` error);
/// - `table.*(…)` and `fn.*(…)` calls: tables and user functions come from a model file, which
///   the macro never sees, so they are unknown functions;
/// - anything but a string literal (a variable, `concat!`, a byte string): the expression is
///   read at compile time.
///
/// ```compile_fail
/// // error: unknown function `lg10` … = help: did you mean `log10`?
/// let f = kalix_expr::kexpr!("max(0, lg10(x))");
/// ```
///
/// ```compile_fail
/// // error: unknown variable `lss` … = help: did you mean `loss`?
/// let f = kalix_expr::kexpr!(|rain, loss| "rain - lss");
/// ```
///
/// ```compile_fail
/// // error: `month_at` needs a simulation calendar, which a single expression does not have
/// let f = kalix_expr::kexpr!("month_at(1)");
/// ```
///
/// ```compile_fail
/// // error: `x` cannot take an offset of -1: a `kexpr!` closure with stateful calls keeps no
/// // history of its parameters
/// let f = kalix_expr::kexpr!("moving_sum(x, 3, 0) - x[-1, 0]");
/// ```
///
/// The strict evaluation options (division by zero or domain errors as errors) do not apply:
/// they are evaluation errors, and the closure returns a plain `f64` with IEEE results.
///
/// [`Expr::variables`]: kalix_expr_core::Expr::variables
/// [`Options`]: kalix_expr_core::Options
#[proc_macro]
pub fn kexpr(input: TokenStream) -> TokenStream {
    match syn::parse::<Input>(input) {
        Ok(input) => match expand(&input) {
            Ok(closure) => closure.into(),
            Err(failure) => compile_errors(failure).into(),
        },
        Err(err) => input_errors(err).into(),
    }
}

/// The errors of a malformed input (a bad parameter list, no string literal) as one expression:
/// every `compile_error!` but the last as a statement, the last as the block's value.
fn input_errors(err: syn::Error) -> TokenStream2 {
    let mut errors: Vec<TokenStream2> = err.into_iter().map(|e| e.to_compile_error()).collect();
    let last = errors.pop();
    quote!({ #(#errors)* (#last) })
}

/// One `compile_error!` per message, in a block that still stands for a closure of the right
/// arity when the arity is known, so that the caller's code gets no follow-up errors. When it is
/// not known (a syntax error in the bare form), the block's value is the last `compile_error!`,
/// whose type the compiler accepts anywhere.
fn compile_errors(failure: Failure) -> TokenStream2 {
    let errors: Vec<TokenStream2> =
        failure.errors.iter().map(|(message, span)| quote_spanned!(*span=> ::core::compile_error!(#message))).collect();
    match failure.arity {
        Some(n) => {
            let params = (0..n).map(|_| quote!(_: f64));
            quote!({ #(#errors;)* |#(#params),*| -> f64 { 0.0 } })
        }
        None => quote!({ #(#errors);* }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_form_one_expression() {
        let span = proc_macro2::Span::call_site();
        let mut err = syn::Error::new(span, "a");
        err.combine(syn::Error::new(span, "b"));
        assert_eq!(
            input_errors(err).to_string(),
            r#"{ :: core :: compile_error ! { "a" } (:: core :: compile_error ! { "b" }) }"#
        );
    }

    #[test]
    fn errors_form_one_expression() {
        let span = proc_macro2::Span::call_site();
        let f = Failure { errors: vec![("a".into(), span), ("b".into(), span)], arity: Some(2) };
        assert_eq!(
            compile_errors(f).to_string(),
            r#"{ :: core :: compile_error ! ("a") ; :: core :: compile_error ! ("b") ; | _ : f64 , _ : f64 | -> f64 { 0.0 } }"#
        );
        let f = Failure { errors: vec![("a".into(), span), ("b".into(), span)], arity: None };
        assert_eq!(
            compile_errors(f).to_string(),
            r#"{ :: core :: compile_error ! ("a") ; :: core :: compile_error ! ("b") }"#
        );
    }
}
