//! The `kexpr!` macro (docs to come).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod expand;
mod input;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned};

use crate::expand::{expand, Failure};
use crate::input::Input;

/// Compiles an expression to a closure at build time.
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
