//! The macro's input: a string literal, optionally after a closure-like header `|a, data.b|`.
//!
//! The header is parsed by hand rather than as a Rust closure, because parameter names are
//! expression names: dotted (`data.rain`), with segments that may start with a digit
//! (`data.climate_csv.by_index.1`).

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitFloat, LitInt, LitStr, Token};

use kalix_expr_core::ast::{Ast, NodeKind};
use kalix_expr_core::{parse, ParseOptions};

/// What `kexpr!` was given.
pub struct Input {
    /// The parameters in the order written, or `None` for the bare form (`kexpr!("…")`), whose
    /// parameters are the expression's variables in order of first appearance.
    pub params: Option<Vec<Param>>,
    /// The expression.
    pub lit: LitStr,
}

/// One parameter of the header.
#[derive(Debug)]
pub struct Param {
    /// The name as the expression writes it: `data.rain`.
    pub name: String,
    /// Where it is written, for errors about it.
    pub span: Span,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input").field("params", &self.params).field("lit", &self.lit.value()).finish()
    }
}

/// What the macro accepts, for the error on anything else.
const EXPECTED: &str =
    "expected a string literal (`kexpr!(\"rain - loss\")`) or a parameter list and a string literal (`kexpr!(|rain, loss| \"rain - loss\")`)";

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let params = if input.peek(Token![||]) {
            input.parse::<Token![||]>()?;
            Some(Vec::new())
        } else if input.peek(Token![|]) {
            input.parse::<Token![|]>()?;
            Some(params(input)?)
        } else {
            None
        };
        let lit = literal(input, params.is_some())?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the expression string"));
        }
        Ok(Input { params, lit })
    }
}

/// The parameters after the opening `|`, up to and including the closing `|`.
fn params(input: ParseStream<'_>) -> syn::Result<Vec<Param>> {
    let mut params: Vec<Param> = Vec::new();
    loop {
        if input.peek(Token![|]) {
            input.parse::<Token![|]>()?;
            return Ok(params);
        }
        let param = param(input)?;
        if let Some(first) = params.iter().find(|p| p.name == param.name) {
            let mut err = syn::Error::new(param.span, format!("parameter `{}` is listed twice", param.name));
            err.combine(syn::Error::new(first.span, format!("`{}` is first listed here", first.name)));
            return Err(err);
        }
        params.push(param);
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        } else if !input.peek(Token![|]) {
            return Err(input.error("expected `,` or `|` after a parameter name"));
        }
    }
}

/// One dotted name: segments (identifiers, keywords included, or numbers) joined by `.`.
fn param(input: ParseStream<'_>) -> syn::Result<Param> {
    let mut name = String::new();
    let mut tokens = TokenStream::new();
    loop {
        if input.peek(Ident::peek_any) {
            let ident = Ident::parse_any(input)?;
            name.push_str(&ident.unraw().to_string());
            ident.to_tokens(&mut tokens);
        } else if input.peek(LitInt) {
            let lit: LitInt = input.parse()?;
            name.push_str(&lit.to_string());
            lit.to_tokens(&mut tokens);
        } else if input.peek(LitFloat) {
            // `by_index.1.5` lexes its last two segments as one float literal.
            let lit: LitFloat = input.parse()?;
            name.push_str(&lit.to_string());
            lit.to_tokens(&mut tokens);
        } else if name.is_empty() {
            return Err(input.error("expected a parameter name such as `rain` or `data.rain`"));
        } else {
            return Err(input.error("expected a name segment after `.`"));
        }
        if !input.peek(Token![.]) {
            break;
        }
        input.parse::<Token![.]>()?.to_tokens(&mut tokens);
        name.push('.');
    }
    // The span of the whole name: syn spans an error from the first token to the last.
    let span = tokens.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
    if !is_name(&name) {
        return Err(syn::Error::new_spanned(
            tokens,
            format!("`{name}` is not a variable name of the expression language"),
        ));
    }
    Ok(Param { name, span })
}

/// Whether `text` reads as exactly one variable name in the expression language.
fn is_name(text: &str) -> bool {
    match parse(text, &ParseOptions::default()) {
        Ok(Ast::Expr(node)) => matches!(&node.kind, NodeKind::Var(n) if n.text == text && !n.trailing_dot),
        _ => false,
    }
}

/// The expression's string literal.
fn literal(input: ParseStream<'_>, after_header: bool) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        if !lit.suffix().is_empty() {
            return Err(syn::Error::new(lit.span(), "the expression string cannot have a suffix"));
        }
        return Ok(lit);
    }
    if input.is_empty() && after_header {
        return Err(input.error("expected the expression as a string literal after the parameter list"));
    }
    let message = if after_header {
        "expected the expression as a string literal after the parameter list; `kexpr!` reads the expression at compile time, so it cannot be a variable, a macro call or a byte string"
    } else {
        EXPECTED
    };
    Err(input.error(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(src: &str) -> syn::Result<Input> {
        syn::parse_str(src)
    }

    fn names(src: &str) -> Option<Vec<String>> {
        input(src).unwrap().params.map(|ps| ps.into_iter().map(|p| p.name).collect())
    }

    #[test]
    fn a_bare_literal_has_no_header() {
        assert_eq!(names(r#""max(0, rain - loss)""#), None);
        assert_eq!(input(r#""a + b""#).unwrap().lit.value(), "a + b");
        assert_eq!(input(r##"r#"a + "b""#"##).unwrap().lit.value(), r#"a + "b""#);
    }

    #[test]
    fn header_names_keep_their_order_and_dots() {
        assert_eq!(names(r#"|loss, rain| "rain - loss""#).unwrap(), ["loss", "rain"]);
        assert_eq!(names(r#"|data.rain, sim.month| "x""#).unwrap(), ["data.rain", "sim.month"]);
        assert_eq!(names(r#"|data.climate_csv.by_index.1| "x""#).unwrap(), ["data.climate_csv.by_index.1"]);
        assert_eq!(names(r#"|node.0001_gauge.dsflow| "x""#).unwrap(), ["node.0001_gauge.dsflow"]);
        assert_eq!(names(r#"|fn.x, type, r#loop| "x""#).unwrap(), ["fn.x", "type", "loop"]);
        assert_eq!(names(r#"|a,| "a""#).unwrap(), ["a"]);
        assert_eq!(names(r#"|| "1""#).unwrap(), Vec::<String>::new());
        assert_eq!(names(r#"| | "1""#).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_bad_header_is_an_error() {
        for (src, message) in [
            (r#"|a b| "a""#, "expected `,` or `|` after a parameter name"),
            (r#"|a. | "a""#, "expected a name segment after `.`"),
            (r#"|a, a| "a""#, "parameter `a` is listed twice"),
            (r#"|"a"| "a""#, "expected a parameter name such as `rain` or `data.rain`"),
            (r#"|a..b| "a""#, "expected a name segment after `.`"),
            (r#"|1| "a""#, "`1` is not a variable name of the expression language"),
            (r#"|a|"#, "expected the expression as a string literal after the parameter list"),
            (r#"|a| b"#, "expected the expression as a string literal after the parameter list; `kexpr!` reads"),
            (r#"rain"#, "expected a string literal"),
            (r#"42"#, "expected a string literal"),
            (r#"b"rain""#, "expected a string literal"),
            (r#""a" "b""#, "unexpected tokens after the expression string"),
            (r#""a"x"#, "the expression string cannot have a suffix"),
        ] {
            let err = input(src).expect_err(src).to_string();
            assert!(err.contains(message), "{src}: {err}");
        }
    }
}
