//! [`Ir`] to a Rust closure: the macro's counterpart of the core's interpreter.
//!
//! Every operator and function becomes a call to the function of
//! `kalix_expr_core::builtins` that the interpreter calls for it (reached through
//! `::kalix_expr::__private::builtins`), `if`/`&&`/`||` short-circuit as the interpreter's
//! closures do, and constants are emitted bit for bit, so a `kexpr!` closure and
//! `Compiled::eval` give the same bits for the same inputs.
//!
//! An expression with stateful calls becomes a `move` closure that owns one
//! `::kalix_expr::__private::SiteState` per call site, and each call of it is one step of the
//! stepping runtime: the same advance pass (every site once, children before parents, in every
//! branch, each statement's sites right before it), then the same evaluation reading each site's
//! output.

use std::collections::BTreeMap;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};
use syn::LitStr;

use kalix_expr_core::ast::{BinaryOp, NodeKind};
use kalix_expr_core::builtins::{self, Builtin, Imp, Stateful};
use kalix_expr_core::{Error, ErrorKind, Expr, Ir, IrNode, IrStmt, Options};

use crate::input::Input;

/// Why an expression could not be expanded: the messages to report, and the closure's arity if
/// it is known (so the macro can still stand for a closure of the right shape).
#[derive(Debug)]
pub struct Failure {
    /// Each error's message and where to report it.
    pub errors: Vec<(String, Span)>,
    /// The number of parameters the closure would have taken.
    pub arity: Option<usize>,
}

/// Expands the macro's input into a closure `|p0: f64, …| -> f64 { … }` or, when the expression
/// has stateful calls, a block that creates their state and gives a `move` closure owning it.
///
/// The parameters are the header's names in the order written or, without a header, the
/// expression's variables in order of first appearance ([`Expr::variables`]).
pub fn expand(input: &Input) -> Result<TokenStream, Failure> {
    let source = input.lit.value();
    let header: Option<Vec<&str>> = input.params.as_ref().map(|ps| ps.iter().map(|p| p.name.as_str()).collect());
    let expr = Expr::parse(&source).map_err(|e| failure(&e, &input.lit, header.as_ref().map(Vec::len)))?;
    let names = header.unwrap_or_else(|| expr.variables());
    let ir = expr.resolve(&names, &Options::default()).map_err(|e| failure(&e, &input.lit, Some(names.len())))?;
    let mut gen = Gen { source: &source, params: params(&names), errors: Vec::new(), sites: BTreeMap::new() };
    if steps(&ir) {
        gen.offsets_without_history(&expr);
    }
    let closure = gen.closure(&ir);
    if gen.errors.is_empty() {
        Ok(closure)
    } else {
        let errors = gen.errors.into_iter().map(|(message, at)| (message, span_of(&input.lit, at))).collect();
        Err(Failure { errors, arity: Some(names.len()) })
    }
}

/// Whether the closure steps through time: the expression has a stateful call site left after
/// constant folding.
fn steps(ir: &Ir) -> bool {
    ir.stmts.iter().any(|s| has_sites(s.node())) || has_sites(&ir.result)
}

/// Whether a subtree holds a stateful call site.
fn has_sites(n: &IrNode) -> bool {
    stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
        matches!(n, IrNode::Stateful { .. }) || n.children().into_iter().any(has_sites)
    })
}

/// A diagnostic's rendered text without the leading `error: ` (the compiler adds its own).
fn message(err: &Error) -> String {
    let text = err.to_string();
    text.strip_prefix("error: ").map(str::to_string).unwrap_or(text)
}

/// One compile error per diagnostic, each the diagnostic's rendered text without the leading
/// `error: ` (the compiler adds its own).
fn failure(err: &Error, lit: &LitStr, arity: Option<usize>) -> Failure {
    let text = err.to_string();
    let parts: Vec<&str> = text.split("\n\nerror: ").collect();
    let errors = if parts.len() == err.diagnostics().len() {
        parts
            .iter()
            .zip(err.diagnostics())
            .map(|(part, d)| (part.strip_prefix("error: ").unwrap_or(part).to_string(), span_of(lit, d.span())))
            .collect()
    } else {
        vec![(text.strip_prefix("error: ").unwrap_or(&text).to_string(), lit.span())]
    };
    Failure { errors, arity }
}

/// The span of `at` inside the literal where the compiler can give one (a nightly compiler, and a
/// literal without escapes), else the whole literal.
fn span_of(lit: &LitStr, at: kalix_expr_core::Span) -> Span {
    let token = lit.token();
    let repr = token.to_string();
    let value = lit.value();
    let hashes = repr.strip_prefix('r').map(|r| r.len() - r.trim_start_matches('#').len());
    let open = match hashes {
        Some(n) => 2 + n,
        None => 1,
    };
    if repr.get(open..open + value.len()) != Some(value.as_str()) {
        return lit.span();
    }
    token.subspan(open + at.start..open + at.end).unwrap_or_else(|| lit.span())
}

/// The parameter identifiers: `__k0_data_rain` for `data.rain` in position 0. Mixed-site hygiene
/// keeps them apart from the caller's names, the index keeps `a.b` and `a_b` apart, and the
/// leading underscore keeps a listed but unused parameter from warning.
fn params(names: &[&str]) -> Vec<Ident> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
            Ident::new(&format!("__k{i}_{clean}"), Span::mixed_site())
        })
        .collect()
}

/// A block local: shadowed on reassignment (`let` again), which in straight-line code means the
/// same as assigning a `let mut` and never warns about needless `mut`.
fn local(l: usize) -> Ident {
    Ident::new(&format!("__l{l}"), Span::mixed_site())
}

/// The state of stateful call site `site`, a call of `f`, owned by the closure:
/// `__s0_moving_sum`. The function's name is there for the compiler's messages, which name the
/// state a closure mutates.
fn state(site: usize, f: Stateful) -> Ident {
    Ident::new(&format!("__s{site}_{}", stateful_names(f).1), Span::mixed_site())
}

/// A stateful function's variant of `Stateful` and its name in the language.
fn stateful_names(f: Stateful) -> (&'static str, &'static str) {
    match f {
        Stateful::MovingSum => ("MovingSum", "moving_sum"),
        Stateful::MovingMean => ("MovingMean", "moving_mean"),
        Stateful::MovingMin => ("MovingMin", "moving_min"),
        Stateful::MovingMax => ("MovingMax", "moving_max"),
        Stateful::MovingMedian => ("MovingMedian", "moving_median"),
        Stateful::MovingStd => ("MovingStd", "moving_std"),
        Stateful::MovingPercentile => ("MovingPercentile", "moving_percentile"),
        Stateful::MovingCount => ("MovingCount", "moving_count"),
        Stateful::SumSince => ("SumSince", "sum_since"),
        Stateful::MinSince => ("MinSince", "min_since"),
        Stateful::MaxSince => ("MaxSince", "max_since"),
        Stateful::CountSince => ("CountSince", "count_since"),
        Stateful::StepsSince => ("StepsSince", "steps_since"),
    }
}

/// The path of a stateful function's kind.
fn kind_path(f: Stateful) -> TokenStream {
    let variant = format_ident!("{}", stateful_names(f).0);
    quote!(::kalix_expr::__private::Stateful::#variant)
}

/// A constant with exactly the bits of `c`: a float literal for a whole number (`2.0f64`), else
/// `f64::from_bits`. Fractions are not written as literals because a literal like
/// `3.141592653589793` makes clippy's `approx_constant` lint fail the caller's build, and bits are
/// exact for every value (NaN, ±inf and `-0.0` included).
pub fn constant(c: f64) -> TokenStream {
    if c.is_sign_positive() && c.fract() == 0.0 && c < 9_007_199_254_740_992.0 {
        let lit = syn::LitFloat::new(&format!("{c:?}f64"), Span::call_site());
        return quote!(#lit);
    }
    let bits = syn::LitInt::new(&format!("0x{:016x}u64", c.to_bits()), Span::call_site());
    quote!(f64::from_bits(#bits))
}

/// The path every generated call goes through.
fn builtins_path() -> TokenStream {
    quote!(::kalix_expr::__private::builtins)
}

/// How deep the generator may recurse before it moves to a fresh stack segment.
const STACK_RED_ZONE: usize = 64 * 1024;
/// The size of each fresh stack segment.
const STACK_GROWTH: usize = 1024 * 1024;

/// The code generator for one expression.
struct Gen<'a> {
    source: &'a str,
    /// Slot `i`'s parameter.
    params: Vec<Ident>,
    /// Errors found while generating (calendar functions), with their place in the source.
    errors: Vec<(String, kalix_expr_core::Span)>,
    /// The stateful call sites met, by site index: kind, window, pre-fill and parameter.
    sites: BTreeMap<usize, (Stateful, usize, f64, f64)>,
}

impl Gen<'_> {
    /// The closure. Without stateful calls it captures nothing (`Fn + Copy`, a `fn` pointer);
    /// with them, the block creates each site's state once and the `move` closure owns it, each
    /// call being one step: each statement's sites advance right before the statement, the
    /// result's before the result, as in the interpreter's `run_steps`.
    fn closure(&mut self, ir: &Ir) -> TokenStream {
        let stmts: Vec<TokenStream> = ir
            .stmts
            .iter()
            .map(|s| {
                let advance = self.advance(s.node());
                let stmt = self.stmt(s);
                quote!(#advance #stmt)
            })
            .collect();
        let advance = self.advance(&ir.result);
        let result = self.node(&ir.result);
        let params = &self.params;
        if self.sites.is_empty() {
            return quote! {
                |#(#params: f64),*| -> f64 {
                    #(#stmts)*
                    #result
                }
            };
        }
        let states = self.sites.iter().map(|(&site, &(f, window, default, param))| {
            let (s, kind, default) = (state(site, f), kind_path(f), constant(default));
            if f == Stateful::MovingPercentile {
                let param = constant(param);
                quote!(let mut #s = ::kalix_expr::__private::SiteState::with_param(#kind, #window, #default, #param);)
            } else {
                quote!(let mut #s = ::kalix_expr::__private::SiteState::new(#kind, #window, #default);)
            }
        });
        quote! {
            {
                #(#states)*
                move |#(#params: f64),*| -> f64 {
                    #(#stmts)*
                    #advance
                    #result
                }
            }
        }
    }

    /// The advance pass of a subtree, as the interpreter's `advance`: every stateful call site in
    /// it moves one step, children before parents, in every branch (an untaken `if` branch and
    /// both sides of `&&`/`||` included), its arguments evaluated as at this point of the step.
    /// Empty when the subtree has no site.
    fn advance(&mut self, n: &IrNode) -> TokenStream {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.advance_inner(n))
    }

    fn advance_inner(&mut self, n: &IrNode) -> TokenStream {
        // One walk, bottom-up: a subtree without sites gives no code (no `has_sites` per level,
        // which would make a long chain of operators quadratic).
        let children: Vec<TokenStream> = n.children().into_iter().map(|c| self.advance(c)).collect();
        match n {
            IrNode::Stateful { f, args, window, default, param, site } => {
                self.sites.insert(*site, (*f, *window, *default, *param));
                let mut arg = |i: usize| args.get(i).map_or_else(|| constant(f64::NAN), |a| self.node(a));
                let (a0, a1) = (arg(0), arg(1));
                let s = state(*site, *f);
                quote!(#(#children)* #s.advance([#a0, #a1]);)
            }
            _ => quote!(#(#children)*),
        }
    }

    /// In a stepping closure, each offset other than `[0, d]`: the closure keeps no history of its
    /// parameters (and sees no later call's), so it cannot read one as the stepping runtime does.
    fn offsets_without_history(&mut self, expr: &Expr) {
        for node in expr.ast().nodes() {
            let NodeKind::Offset { name, step, .. } = &node.kind else { continue };
            let (reason, help) = match *step {
                0 => continue,
                s if s < 0 => (
                    "a `kexpr!` closure with stateful calls keeps no history of its parameters",
                    "pass the earlier value as a parameter of its own, or run the expression in a model",
                ),
                _ => (
                    "a `kexpr!` closure with stateful calls cannot see the parameters of later calls",
                    "run the expression in a model, whose input series are known ahead",
                ),
            };
            let kind = ErrorKind::OffsetForbidden { name: name.text.clone(), step: *step, reason };
            let err = Error::from_parts(self.source, name.span, kind, Some(help.into()));
            self.errors.push((message(&err), name.span));
        }
    }

    fn stmt(&mut self, s: &IrStmt) -> TokenStream {
        match s {
            IrStmt::Let { local: l, value } => {
                let (l, value) = (local(*l), self.node(value));
                quote!(let #l = #value;)
            }
            IrStmt::Assert { cond, span, .. } => {
                let cond = self.node(cond);
                let (head, tail) = assert_report(self.source, *span);
                quote!(::kalix_expr::__private::assert(#cond, #head, #tail);)
            }
        }
    }

    fn node(&mut self, n: &IrNode) -> TokenStream {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.node_inner(n))
    }

    fn node_inner(&mut self, n: &IrNode) -> TokenStream {
        let b = builtins_path();
        match n {
            IrNode::Const(c) => constant(*c),
            IrNode::Slot(i) => self.slot(*i),
            IrNode::Local(l) => {
                let l = local(*l);
                quote!(#l)
            }
            // A single evaluation has no past or future: a step other than 0 reads the default.
            IrNode::Offset { slot, step: 0, .. } => self.slot(*slot),
            IrNode::Offset { default, .. } => constant(*default),
            IrNode::Neg(a) => {
                let a = self.node(a);
                quote!(#b::neg(#a))
            }
            IrNode::Not(a) => {
                let a = self.node(a);
                quote!(#b::not(#a))
            }
            IrNode::And(x, y) => self.and_or(BinaryOp::And, x, y),
            IrNode::Or(x, y) => self.and_or(BinaryOp::Or, x, y),
            IrNode::If(c, x, y) => {
                let (c, x, y) = (self.node(c), self.node(x), self.node(y));
                quote!(if #b::truthy(#c) { #x } else { #y })
            }
            IrNode::Binary { op: op @ (BinaryOp::And | BinaryOp::Or), lhs, rhs, .. } => self.and_or(*op, lhs, rhs),
            IrNode::Binary { op, lhs, rhs, .. } => {
                let name = builtins::binary(*op).rust;
                let f = format_ident!("{name}");
                let (x, y) = (self.argument(name, lhs), self.argument(name, rhs));
                quote!(#b::#f(#x, #y))
            }
            IrNode::Call { f, args, span } => self.call(f, args, *span),
            // The advance pass before this point has moved the site to this step.
            IrNode::Stateful { f, site, .. } => {
                let s = state(*site, *f);
                quote!(#s.output())
            }
            IrNode::Calendar { f, arg, span } => {
                self.node(arg);
                self.calendar(f, *span)
            }
            // Tables and user functions come from a model's host, which the macro never
            // resolves with: `table.*` and `fn.*` calls are unknown-function errors before this.
            IrNode::Table { .. } | IrNode::Inline { .. } => constant(f64::NAN),
            // Natives are registered at run time and unknown to the macro, which resolves
            // without a host: a bare call to one is an unknown-function error before this.
            IrNode::Native { .. } => constant(f64::NAN),
        }
    }

    fn slot(&self, i: usize) -> TokenStream {
        match self.params.get(i) {
            Some(p) => quote!(#p),
            // Resolution binds every slot to a parameter; this is unreachable.
            None => constant(f64::NAN),
        }
    }

    /// `a && b`, `a || b`: 1 or 0, short-circuit, as the interpreter does.
    fn and_or(&mut self, op: BinaryOp, x: &IrNode, y: &IrNode) -> TokenStream {
        let b = builtins_path();
        let (x, y) = (self.node(x), self.node(y));
        if op == BinaryOp::And {
            quote!(#b::bool_to_f64(#b::truthy(#x) && #b::truthy(#y)))
        } else {
            quote!(#b::bool_to_f64(#b::truthy(#x) || #b::truthy(#y)))
        }
    }

    /// An argument of the function of `builtins` named `function`: a literal passed to one
    /// that the optimiser would rewrite around it goes through `black_box`
    /// (`builtins::KEEP_LITERALS_OPAQUE`), so the call computes what the interpreter's does.
    fn argument(&mut self, function: &str, arg: &IrNode) -> TokenStream {
        let code = self.node(arg);
        if matches!(arg, IrNode::Const(_)) && builtins::KEEP_LITERALS_OPAQUE.contains(&function) {
            quote!(::kalix_expr::__private::opaque(#code))
        } else {
            code
        }
    }

    fn call(&mut self, f: &'static Builtin, args: &[IrNode], span: kalix_expr_core::Span) -> TokenStream {
        let b = builtins_path();
        let args: Vec<TokenStream> = args.iter().map(|a| self.argument(f.rust, a)).collect();
        // The table names the function each pure built-in calls (`Builtin::rust`).
        let known = match f.imp {
            Imp::F1(_) | Imp::F2(_) | Imp::F3(_) | Imp::Fold(_) => !f.rust.is_empty(),
            Imp::Mean => true,
            Imp::Slice(_) => f.name == "interp",
            Imp::If | Imp::Stateful(_) | Imp::Calendar => false,
        };
        if !known {
            return self.unsupported(f, span);
        }
        match f.imp {
            Imp::Fold(_) => fold(&format_ident!("{}", f.rust), args),
            Imp::Mean => {
                // As the interpreter: the `add` fold, then a plain division by the count.
                let n = constant(args.len() as f64);
                let sum = fold(&format_ident!("add"), args);
                quote!(#sum / #n)
            }
            Imp::Slice(_) => {
                // `interp(x, points…)` is `interp_points(x, &[points…])`, as the interpreter
                // calls it.
                let (x, points) = args.split_first().map_or((constant(f64::NAN), &[][..]), |(x, p)| (x.clone(), p));
                quote!(#b::interp_points(#x, &[#(#points),*]))
            }
            _ => {
                let g = format_ident!("{}", f.rust);
                quote!(#b::#g(#(#args),*))
            }
        }
    }

    /// `month_at`, `days_in_month_at`: the interpreter's error where no calendar exists.
    fn calendar(&mut self, f: &Builtin, span: kalix_expr_core::Span) -> TokenStream {
        let kind = ErrorKind::CalendarRequired { name: f.name.into() };
        // The interpreter's help (`Compiled`'s `Unsupported::Calendar`), word for word.
        let help = Some("run it in a model, where the calendar is known".into());
        self.errors.push((message(&Error::from_parts(self.source, span, kind, help)), span));
        constant(f64::NAN)
    }

    /// A built-in this macro has no code for (a table entry added without teaching the macro).
    fn unsupported(&mut self, f: &Builtin, span: kalix_expr_core::Span) -> TokenStream {
        let kind = ErrorKind::FunctionUnknown { name: f.name.into() };
        let help = Some("`kexpr!` has no code for this built-in yet; compile the expression at run time".into());
        self.errors.push((message(&Error::from_parts(self.source, span, kind, help)), span));
        constant(f64::NAN)
    }
}

/// A left fold of `g` over the arguments as nested calls: `g(g(a, b), c)`, or `a` alone.
fn fold(g: &Ident, args: Vec<TokenStream>) -> TokenStream {
    let b = builtins_path();
    let mut args = args.into_iter();
    let Some(mut acc) = args.next() else {
        return constant(f64::NAN);
    };
    for x in args {
        acc = quote!(#b::#g(#acc, #x));
    }
    acc
}

/// The interpreter's message for a failed `assert` at `span`, split around the condition's value
/// (known only at run time): `error: assertion failed: `assert(x > 0)` is ` and the snippet.
fn assert_report(source: &str, span: kalix_expr_core::Span) -> (Literal, Literal) {
    let condition = source.get(span.range()).unwrap_or_default().to_string();
    let kind = ErrorKind::AssertFailed { condition, value: 0.0 };
    let first = format!("error: {kind}");
    let text = Error::from_parts(source, span, kind, None).to_string();
    let tail = text.strip_prefix(&first).unwrap_or_default();
    let head = first.strip_suffix('0').unwrap_or(&first);
    (Literal::string(head), Literal::string(tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(src: &str) -> Result<String, Failure> {
        let input: Input = syn::parse_str(src).expect("input parses");
        expand(&input).map(|t| t.to_string())
    }

    fn messages(src: &str) -> Vec<String> {
        expand_str(src).expect_err(src).errors.into_iter().map(|(m, _)| m).collect()
    }

    #[test]
    fn parameters_follow_first_appearance_without_a_header() {
        let code = expand_str(r#""max(0, rain - loss)""#).unwrap();
        assert!(code.starts_with("| __k0_rain : f64 , __k1_loss : f64 | -> f64"), "{code}");
    }

    #[test]
    fn parameters_follow_the_header_when_given() {
        let code = expand_str(r#"|loss, data.rain, unused| "max(0, data.rain - loss)""#).unwrap();
        assert!(code.starts_with("| __k0_loss : f64 , __k1_data_rain : f64 , __k2_unused : f64 | -> f64"), "{code}");
    }

    #[test]
    fn operators_and_functions_call_the_shared_builtins() {
        let code = expand_str(r#""max(0, rain - loss) + -x ^ 2""#).unwrap().replace(' ', "");
        assert!(code.contains("::kalix_expr::__private::builtins::max2(0.0f64,"), "{code}");
        assert!(code.contains("builtins::sub(__k0_rain,__k1_loss)"), "{code}");
        // A literal argument of `pow` is hidden from the optimiser (`KEEP_LITERALS_OPAQUE`).
        assert!(
            code.contains(
                "builtins::pow(::kalix_expr::__private::builtins::neg(__k2_x),::kalix_expr::__private::opaque(2.0f64))"
            ),
            "{code}"
        );
    }

    #[test]
    fn constants_keep_their_bits() {
        assert_eq!(constant(2.0).to_string(), "2.0f64");
        assert_eq!(constant(0.0).to_string(), "0.0f64");
        assert_eq!(constant(9007199254740991.0).to_string(), "9007199254740991.0f64");
        assert_eq!(constant(0.1).to_string(), "f64 :: from_bits (0x3fb999999999999au64)");
        assert_eq!(constant(1e300).to_string(), "f64 :: from_bits (0x7e37e43c8800759cu64)");
        assert_eq!(constant(-0.0).to_string(), "f64 :: from_bits (0x8000000000000000u64)");
        assert_eq!(constant(f64::INFINITY).to_string(), "f64 :: from_bits (0x7ff0000000000000u64)");
        assert_eq!(constant(-2.0).to_string(), "f64 :: from_bits (0xc000000000000000u64)");
        assert!(constant(f64::NAN).to_string().contains("0x7ff8000000000000u64"));
    }

    #[test]
    fn constant_sub_expressions_are_already_folded() {
        assert_eq!(expand_str(r#""-2^2 + pi""#).unwrap(), "| | -> f64 { f64 :: from_bits (0x401c90fdaa22168cu64) }");
    }

    #[test]
    fn blocks_bind_locals_and_check_asserts() {
        let code = expand_str(r#""{ a = x * 2; a = a + 1; assert(a > 0); a }""#).unwrap().replace(' ', "");
        assert!(code.contains("let__l0=::kalix_expr::__private::builtins::mul(__k0_x,2.0f64);"), "{code}");
        assert!(code.contains("let__l0=::kalix_expr::__private::builtins::add(__l0,1.0f64);"), "{code}");
        assert!(code.contains("::kalix_expr::__private::assert("), "{code}");
    }

    #[test]
    fn the_assert_report_is_the_interpreters_message() {
        let source = "{ assert(x > 0); x }";
        let (head, tail) = assert_report(source, kalix_expr_core::Span::new(2, 15));
        assert_eq!(head.to_string(), r#""error: assertion failed: `assert(x > 0)` is ""#);
        assert_eq!(tail.to_string(), format!("{:?}", "\n --> 1:3\n  |\n1 | { assert(x > 0); x }\n  |   ^^^^^^^^^^^^^"));
    }

    #[test]
    fn an_expression_without_stateful_calls_is_a_closure_that_captures_nothing() {
        let code = expand_str(r#""{ a = x * 2; a + 1 }""#).unwrap();
        assert!(code.starts_with("| __k0_x : f64 | -> f64 {"), "{code}");
        // A stateful call that constant folding removes leaves no state.
        let code = expand_str(r#""if(1, x, moving_sum(x, 3, 0))""#).unwrap();
        assert_eq!(code, "| __k0_x : f64 | -> f64 { __k0_x }");
    }

    #[test]
    fn stateful_calls_make_a_move_closure_owning_one_state_per_site() {
        let code = expand_str(r#""moving_sum(x, 3, -1) + steps_since(x > 5)""#).unwrap().replace(' ', "");
        let p = "::kalix_expr::__private::";
        assert!(
            code.starts_with(&format!(
                "{{letmut__s0_moving_sum={p}SiteState::new({p}Stateful::MovingSum,3usize,f64::from_bits(0xbff0000000000000u64));\
                 letmut__s1_steps_since={p}SiteState::new({p}Stateful::StepsSince,0usize,0.0f64);\
                 move|__k0_x:f64|->f64{{"
            )),
            "{code}"
        );
        assert!(code.contains("__s0_moving_sum.advance([__k0_x,f64::from_bits(0x7ff8000000000000u64)]);"), "{code}");
        assert!(
            code.ends_with(&format!("{p}builtins::add(__s0_moving_sum.output(),__s1_steps_since.output())}}}}")),
            "{code}"
        );
    }

    /// The order of the interpreter's advance pass: children before parents, every branch, each
    /// statement's sites right before it and the result's last.
    #[test]
    fn sites_advance_in_the_interpreters_order() {
        let order = |src: &str| -> Vec<String> {
            let code = expand_str(src).unwrap().replace(' ', "");
            code.match_indices(".advance(")
                .map(|(i, _)| code[..i].rsplit(['{', ';', '}']).next().unwrap().to_string())
                .collect()
        };
        // Site numbers are pre-order; the inner window advances first.
        assert_eq!(order(r#""moving_max(moving_mean(x, 2, 0), 3, 0)""#), ["__s1_moving_mean", "__s0_moving_max"]);
        // Both branches of an `if`, both sides of `&&` and `||`, the condition first.
        assert_eq!(
            order(
                r#""if(steps_since(c), moving_sum(x, 2, 0), count_since(x, c)) + (c && sum_since(x, c)) + (c || max_since(x, c))""#
            ),
            ["__s0_steps_since", "__s1_moving_sum", "__s2_count_since", "__s3_sum_since", "__s4_max_since"]
        );
        let code = expand_str(
            r#""{ a = moving_sum(x, 2, 0); b = if(a > 2, moving_sum(a, 2, 0), 0); a + b + steps_since(b) }""#,
        )
        .unwrap()
        .replace(' ', "");
        let at = |needle: &str| code.find(needle).unwrap_or_else(|| panic!("{needle} in {code}"));
        assert!(at("__s0_moving_sum.advance([__k0_x") < at("let__l0=__s0_moving_sum.output()"), "{code}");
        assert!(at("let__l0=") < at("__s1_moving_sum.advance([__l0"), "{code}");
        assert!(at("__s1_moving_sum.advance([__l0") < at("let__l1="), "{code}");
        assert!(at("let__l1=") < at("__s2_steps_since.advance([__l1"), "{code}");
    }

    #[test]
    fn offsets_other_than_zero_are_rejected_in_a_stepping_closure() {
        assert_eq!(
            messages(r#""moving_sum(x, 3, 0) - x[-1, 0]""#),
            ["`x` cannot take an offset of -1: a `kexpr!` closure with stateful calls keeps no history of its parameters\n --> 1:23\n  |\n1 | moving_sum(x, 3, 0) - x[-1, 0]\n  |                       ^\n  |\n  = help: pass the earlier value as a parameter of its own, or run the expression in a model"]
        );
        let m = messages(r#""{ a = y[2, 0]; steps_since(x) + a }""#);
        assert!(
            m[0].starts_with("`y` cannot take an offset of 2: a `kexpr!` closure with stateful calls cannot see"),
            "{m:?}"
        );
        assert!(m[0].ends_with("= help: run the expression in a model, whose input series are known ahead"), "{m:?}");
        // `x[0, d]` is `x`; without stateful calls an offset reads its default, as `Compiled::eval`.
        assert!(expand_str(r#""moving_sum(x, 3, 0) + x[0, 1]""#).is_ok());
        assert!(expand_str(r#""x[-1, 0] + x""#).is_ok());
    }

    #[test]
    fn a_syntax_error_is_the_rendered_report() {
        let failure = expand_str(r#""max(0, rain""#).unwrap_err();
        assert_eq!(failure.arity, None);
        assert_eq!(
            failure.errors[0].0,
            "unclosed `(`\n --> 1:4\n  |\n1 | max(0, rain\n  |    ^\n  |\n  = help: add `)` to close the call to `max`"
        );
    }

    #[test]
    fn every_name_error_is_reported_with_the_arity_kept() {
        let failure = expand_str(r#"|rain, loss| "lg10(rian) + sin(1, 2) + lss""#).unwrap_err();
        assert_eq!(failure.arity, Some(2));
        let m: Vec<&str> = failure.errors.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(m.len(), 4, "{m:#?}");
        assert!(m.iter().any(|m| m.starts_with("unknown variable `rian`") && m.ends_with("did you mean `rain`?")));
        assert!(m.iter().any(|m| m.starts_with("unknown function `lg10`") && m.ends_with("did you mean `log10`?")));
        assert!(m.iter().any(|m| m.starts_with("`sin` takes 1 argument, found 2")));
        assert!(m.iter().any(|m| m.starts_with("unknown variable `lss`") && m.ends_with("did you mean `loss`?")));
    }

    #[test]
    fn calendar_functions_are_the_interpreters_error() {
        assert_eq!(
            messages(r#""month_at(3)""#),
            ["`month_at` needs a simulation calendar, which a single expression does not have\n --> 1:1\n  |\n1 | month_at(3)\n  | ^^^^^^^^\n  |\n  = help: run it in a model, where the calendar is known"]
        );
        // Word for word what `Expr::compile` reports, the leading `error: ` aside.
        for src in ["month_at(3)", "{ a = 1;\n b = days_in_month_at(a) * 2; b }"] {
            let interpreted = kalix_expr::Expr::parse(src).unwrap().compile(&[]).unwrap_err().to_string();
            assert_eq!(messages(&format!("{src:?}")), [interpreted.strip_prefix("error: ").unwrap()]);
        }
        assert_eq!(messages(r#""days_in_month_at(x) + month_at(x)""#).len(), 2);
        // A calendar call in a branch that constant folding removes is no error, as in the
        // interpreter.
        assert!(expand_str(r#""if(1, 2, month_at(3))""#).is_ok());
    }

    #[test]
    fn deep_expressions_expand_without_overflowing() {
        let src = format!("{:?}", vec!["x"; 1000].join(" + "));
        assert!(expand_str(&src).is_ok());
        let src = format!("{:?}", format!("{}x{}", "(".repeat(250), ")".repeat(250)));
        assert!(expand_str(&src).is_ok());
    }

    #[test]
    fn deep_stateful_expressions_expand_without_overflowing() {
        // A stateful call at the bottom of a chain of additions as deep as the parser allows:
        // every level holds a site, and the one site advances once.
        let src = format!("{:?}", format!("moving_sum(x, 3, 0){}", " + x".repeat(1000)));
        let code = expand_str(&src).unwrap();
        assert_eq!(code.matches(". advance (").count(), 1, "{code}");
        let src = format!("{:?}", format!("{}steps_since(x){}", "(".repeat(250), ")".repeat(250)));
        assert!(expand_str(&src).is_ok());
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        let src = format!("{:?}", "x+".repeat(40_000) + "x");
        assert!(messages(&src)[0].starts_with("expression of 80001 bytes is longer than the limit of 65536"));
        let src = format!("{:?}", format!("{}x{}", "(".repeat(300), ")".repeat(300)));
        assert!(messages(&src)[0].starts_with("nesting deeper than the limit of 256"));
    }

    #[test]
    fn every_pure_builtin_names_the_function_it_calls() {
        for f in builtins::BUILTINS {
            let calls_one = matches!(f.imp, Imp::F1(_) | Imp::F2(_) | Imp::F3(_) | Imp::Fold(_) | Imp::Slice(_));
            assert_eq!(!f.rust.is_empty(), calls_one, "{}", f.name);
        }
        let folds: Vec<(&str, &str)> =
            builtins::BUILTINS.iter().filter(|f| matches!(f.imp, Imp::Fold(_))).map(|f| (f.name, f.rust)).collect();
        assert_eq!(folds, [("max", "max2"), ("min", "min2"), ("sum", "add")]);
    }

    #[test]
    fn every_pure_builtin_expands() {
        for f in builtins::BUILTINS {
            if matches!(f.imp, Imp::Calendar) {
                continue;
            }
            let args = match f.arity {
                builtins::Arity::Exact(k) | builtins::Arity::AtLeast(k) | builtins::Arity::OddAtLeast(k) => k,
            };
            let mut list = vec!["x"; args];
            if matches!(f.imp, Imp::Stateful(_)) && args == 3 {
                list = vec!["x", "3", "0"];
            }
            if matches!(f.imp, Imp::Stateful(_)) && args == 4 {
                list = vec!["x", "3", "50", "0"];
            }
            let src = format!("{:?}", format!("{}({})", f.name, list.join(", ")));
            assert!(expand_str(&src).is_ok(), "{src}");
        }
    }
}
