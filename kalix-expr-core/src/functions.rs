//! User-defined functions (LANGUAGE.md §9): `name(a, b) = body`, called as `fn.name(…)`.
//!
//! A [`Functions`] set is validated as a whole when it is built: signature rules, reserved
//! names, duplicates, every body's calls and arity, and recursion cycles (named in full).
//! Calls are expanded in place by the resolver.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::NodeKind;
use crate::builtins;
use crate::error::{Error, ErrorKind};
use crate::expr::Expr;
use crate::library::NativeFn;
use crate::options::Options;
use crate::span::Span;

/// One user function: its lower-case name, parameters and body.
///
/// ```
/// use kalix_expr_core::FnDef;
/// let f = FnDef::parse("storage_frac(v, cap)", "v / cap")?;
/// assert_eq!(f.name(), "storage_frac");
/// assert_eq!(f.params(), ["v", "cap"]);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FnDef {
    name: String,
    params: Vec<String>,
    body: Expr,
    signature: Arc<str>,
    /// What it computes, for listings (a function library keeps it).
    description: Option<String>,
    /// Labels for finding it in a library.
    tags: Vec<String>,
}

/// Whether `s` matches `[a-z][a-z0-9_]*`.
pub(crate) fn is_plain_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Why a name cannot name a function or parameter, if it cannot.
pub(crate) fn reserved(name: &str) -> Option<&'static str> {
    if builtins::lookup(name).is_some() {
        Some("it is a built-in function")
    } else if builtins::RESERVED.contains(&name) {
        Some("it is a reserved word")
    } else if name == "pi" || name == "e" {
        Some("it is a built-in constant")
    } else {
        None
    }
}

impl FnDef {
    /// Parses a definition from its signature (`name(a, b)`, as the key of a `[fn]` line) and
    /// its body (an expression or a block). Names are lower-cased, then must match
    /// `[a-z][a-z0-9_]*`, be distinct, and take no built-in or reserved name.
    ///
    /// ```
    /// use kalix_expr_core::FnDef;
    /// assert!(FnDef::parse("f(a, a)", "a").is_err());
    /// assert!(FnDef::parse("max(a)", "a").is_err());
    /// assert!(FnDef::parse("zero()", "0").is_ok());
    /// ```
    pub fn parse(signature: &str, body: &str) -> Result<FnDef, Error> {
        let sig: Arc<str> = Arc::from(signature);
        let whole = Span::new(0, signature.len());
        let err = |span: Span, kind: ErrorKind, help: Option<String>| Err(Error::new(&sig, span, kind, help));
        let Some(open) = signature.find('(') else {
            return err(
                whole,
                ErrorKind::SignatureInvalid { reason: "expected a signature like `name(a, b)` or `name()`" },
                None,
            );
        };
        let Some(close) = signature.rfind(')').filter(|c| *c > open && signature[c + 1..].trim().is_empty()) else {
            return err(whole, ErrorKind::SignatureInvalid { reason: "the signature must end with `)`" }, None);
        };
        let name_raw = signature[..open].trim();
        let name = name_raw.strip_prefix("fn.").unwrap_or(name_raw).to_lowercase();
        let name_span = Span::new(signature.find(name_raw).unwrap_or(0), open);
        if !is_plain_name(&name) {
            return err(
                name_span,
                ErrorKind::SignatureInvalid { reason: "a function name is a letter, then letters, digits and `_`" },
                None,
            );
        }
        if let Some(why) = reserved(&name) {
            return err(name_span, ErrorKind::NameReserved { name, reason: why }, None);
        }
        let inner = &signature[open + 1..close];
        let mut params: Vec<String> = Vec::new();
        if !inner.trim().is_empty() {
            let mut at = open + 1;
            for piece in inner.split(',') {
                let p = piece.trim().to_lowercase();
                let lead = piece.len() - piece.trim_start().len();
                let span = Span::new(at + lead, at + lead + piece.trim().len());
                at += piece.len() + 1;
                if !is_plain_name(&p) {
                    let reason = if p.is_empty() {
                        "a parameter is empty"
                    } else {
                        "a parameter is a letter, then letters, digits and `_`"
                    };
                    return err(span, ErrorKind::SignatureInvalid { reason }, None);
                }
                if let Some(why) = reserved(&p) {
                    return err(span, ErrorKind::NameReserved { name: p, reason: why }, None);
                }
                if params.contains(&p) {
                    return err(span, ErrorKind::ParameterDuplicate { name: p }, None);
                }
                params.push(p);
            }
        }
        let body = Expr::parse(body)?;
        Ok(FnDef { name, params, body, signature: sig, description: None, tags: Vec::new() })
    }

    /// Attaches a description (shown by listings; not part of the definition's content hash).
    ///
    /// ```
    /// let f = kalix_expr_core::FnDef::parse("half(x)", "x / 2")?.with_description("half of x");
    /// assert_eq!(f.description(), Some("half of x"));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Attaches tags (labels for finding the function in a library; not part of its content hash).
    ///
    /// ```
    /// let f = kalix_expr_core::FnDef::parse("half(x)", "x / 2")?.with_tags(["math", "scale"]);
    /// assert_eq!(f.tags(), ["math", "scale"]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn with_tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The description, if one is attached.
    ///
    /// ```
    /// assert_eq!(kalix_expr_core::FnDef::parse("f(x)", "x")?.description(), None);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The tags, in order.
    ///
    /// ```
    /// assert!(kalix_expr_core::FnDef::parse("f(x)", "x")?.tags().is_empty());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The lower-case name (called as `fn.<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The parameters, lower-case, in order.
    pub fn params(&self) -> &[String] {
        &self.params
    }
    /// The body.
    pub fn body(&self) -> &Expr {
        &self.body
    }

    /// The `fn.*` functions the body calls, lower-case, each once, in order of appearance.
    pub fn calls(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in self.body.ast().nodes() {
            if let NodeKind::Call { name, .. } = &n.kind {
                let lower = name.text.to_lowercase();
                if let Some(f) = lower.strip_prefix("fn.") {
                    if !out.iter().any(|o| o == f) {
                        out.push(f.to_string());
                    }
                }
            }
        }
        out
    }
}

/// A validated set of user functions.
///
/// ```
/// use kalix_expr_core::{FnDef, Functions};
/// let set = Functions::new(vec![
///     FnDef::parse("a(x)", "fn.b(x) + 1")?,
///     FnDef::parse("b(x)", "fn.a(x)")?,
/// ]);
/// let err = set.unwrap_err();
/// assert!(err[0].to_string().contains("fn.a -> fn.b -> fn.a"));
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Functions {
    defs: Vec<Arc<FnDef>>,
    index: HashMap<String, usize>,
    /// Per definition: whether its value depends on its arguments alone.
    pure: Vec<bool>,
}

impl Functions {
    /// The most definitions a set may hold. Protects loading from a runaway file.
    pub const MAX_DEFINITIONS: usize = 10_000;

    /// Validates `defs` as a whole. Every problem is reported: duplicates (at any arity),
    /// bodies that call unknown functions or with the wrong arity, and recursion cycles, even in
    /// functions nobody calls.
    pub fn new(defs: Vec<FnDef>) -> Result<Functions, Vec<Error>> {
        Functions::with_natives(defs, &[])
    }

    /// [`Functions::new`] where bodies may also call `natives` by their bare names.
    ///
    /// ```
    /// use kalix_expr_core::{FnDef, Functions, NativeFn};
    /// use std::sync::Arc;
    /// let g = Arc::new(NativeFn::pure("g", 1, |a| a[0] * 10.0)?);
    /// let defs = vec![FnDef::parse("f(x)", "g(x) + 1")?];
    /// assert!(Functions::new(defs.clone()).is_err());
    /// assert!(Functions::with_natives(defs, &[g]).is_ok());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn with_natives(defs: Vec<FnDef>, natives: &[Arc<NativeFn>]) -> Result<Functions, Vec<Error>> {
        let (set, errors) = Functions::validate(defs, natives);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors.into_iter().map(|(_, e)| e).collect())
        }
    }

    /// Validates `defs` as a whole, each problem with the index in `defs` of the definition it
    /// belongs to (`usize::MAX` for the set as a whole). The set holds every definition but
    /// the duplicates, and is valid only when there are no problems.
    pub(crate) fn validate(defs: Vec<FnDef>, natives: &[Arc<NativeFn>]) -> (Functions, Vec<(usize, Error)>) {
        let mut errors = Vec::new();
        let mut set = Functions::default();
        if defs.len() > Self::MAX_DEFINITIONS {
            let src: Arc<str> = Arc::from("");
            let what = "a function library may hold at most 10,000 definitions";
            errors.push((usize::MAX, Error::new(&src, Span::default(), ErrorKind::LimitExceeded { what }, None)));
            return (set, errors);
        }
        // The index in `defs` of each definition kept.
        let mut origin = Vec::with_capacity(defs.len());
        for (i, def) in defs.into_iter().enumerate() {
            if set.index.contains_key(&def.name) {
                let span = Span::new(0, def.signature.find('(').unwrap_or(0));
                errors.push((
                    i,
                    Error::new(
                        &def.signature,
                        span,
                        ErrorKind::FunctionDuplicate { name: def.name.clone() },
                        Some("one definition per name: there are no overloads".into()),
                    ),
                ));
                continue;
            }
            set.index.insert(def.name.clone(), set.defs.len());
            set.defs.push(Arc::new(def));
            origin.push(i);
        }
        errors.extend(set.cycles().into_iter().map(|(k, e)| (origin[k], e)));
        if errors.is_empty() {
            // A chain deeper than expansion allows is reported once, at its head; its members'
            // bodies are not expanded (each would fail the same way).
            let depths = set.depths();
            let too_deep = |k: usize| depths[k] > crate::sema::EXPANSION_LIMIT;
            if let Some(head) = (0..set.defs.len()).filter(|k| too_deep(*k)).max_by_key(|k| depths[*k]) {
                let def = &set.defs[head];
                let span = Span::new(0, def.signature.find('(').unwrap_or(0));
                let what = "user functions call each other more than 64 deep";
                let help = format!(
                    "`fn.{}` starts a chain of {} calls: each is expanded in place, so flatten it",
                    def.name, depths[head]
                );
                errors.push((
                    origin[head],
                    Error::new(&def.signature, span, ErrorKind::LimitExceeded { what }, Some(help)),
                ));
            }
            // Resolve every body on its own (parameters as locals, every other name free), which
            // checks built-in calls, arity, blocks, offsets, and `fn.*` calls with expansion.
            for (k, def) in set.defs.iter().enumerate() {
                if too_deep(k) {
                    set.pure.push(false);
                    continue;
                }
                match set.check_body(def, natives) {
                    Ok(pure) => set.pure.push(pure),
                    Err(e) => {
                        set.pure.push(false);
                        errors.push((origin[k], e));
                    }
                }
            }
        }
        (set, errors)
    }

    /// Resolves a body on its own; whether its value depends on its arguments alone.
    fn check_body(&self, def: &FnDef, natives: &[Arc<NativeFn>]) -> Result<bool, Error> {
        // `this` is bound at each call site; alone, a body may use it freely.
        let host = crate::sema::Host {
            functions: Some(self),
            natives,
            this_node: Some("this"),
            this_series: Some("this"),
            ..crate::sema::Host::default()
        };
        let params: Vec<&str> = def.params.iter().map(String::as_str).collect();
        let (ir, free) =
            crate::sema::resolve_body(def.body.ast(), def.body.shared_source(), &params, &host, &Options::model())?;
        Ok(free.is_empty() && crate::library::ir_is_pure(&ir))
    }

    /// The length of the longest call chain from each definition (1 for one that calls no
    /// user function). The call graph must have no cycle.
    fn depths(&self) -> Vec<usize> {
        let calls: Vec<Vec<usize>> =
            self.defs.iter().map(|d| d.calls().iter().filter_map(|c| self.index.get(c).copied()).collect()).collect();
        let mut depth = vec![0usize; self.defs.len()];
        for root in 0..self.defs.len() {
            // Post-order with an explicit stack: a definition's depth once its callees have one.
            let mut stack = vec![root];
            while let Some(&f) = stack.last() {
                if depth[f] > 0 {
                    stack.pop();
                    continue;
                }
                let pending: Vec<usize> = calls[f].iter().copied().filter(|g| depth[*g] == 0).collect();
                if pending.is_empty() {
                    depth[f] = 1 + calls[f].iter().map(|g| depth[*g]).max().unwrap_or(0);
                    stack.pop();
                } else {
                    stack.extend(pending);
                }
            }
        }
        depth
    }

    /// Every call cycle, each reported once, named in full (`fn.a -> fn.b -> fn.a`), with the
    /// index of the definition that closes it.
    fn cycles(&self) -> Vec<(usize, Error)> {
        let mut errors = Vec::new();
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut mark = vec![0u8; self.defs.len()];
        let calls: Vec<Vec<usize>> =
            self.defs.iter().map(|d| d.calls().iter().filter_map(|c| self.index.get(c).copied()).collect()).collect();
        for root in 0..self.defs.len() {
            if mark[root] != 0 {
                continue;
            }
            // Depth-first with an explicit stack of (function, next callee index).
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            mark[root] = 1;
            while let Some(&mut (f, ref mut next)) = path.last_mut() {
                if let Some(&g) = calls[f].get(*next) {
                    *next += 1;
                    match mark[g] {
                        0 => {
                            mark[g] = 1;
                            path.push((g, 0));
                        }
                        1 => {
                            let start = path.iter().position(|(p, _)| *p == g).unwrap_or(0);
                            let mut names: Vec<String> =
                                path[start..].iter().map(|(p, _)| format!("fn.{}", self.defs[*p].name)).collect();
                            names.push(format!("fn.{}", self.defs[g].name));
                            let def = &self.defs[g];
                            let span = Span::new(0, def.signature.find('(').unwrap_or(0));
                            errors.push((
                                g,
                                Error::new(
                                    &def.signature,
                                    span,
                                    ErrorKind::RecursionCycle { cycle: names.join(" -> ") },
                                    Some(
                                        "functions may call others but never, directly or through others, \
                                         themselves"
                                            .into(),
                                    ),
                                ),
                            ));
                        }
                        _ => {}
                    }
                } else {
                    mark[f] = 2;
                    path.pop();
                }
            }
        }
        errors
    }

    /// The definition called as `fn.<name>` (`name` lower-case, without `fn.`).
    pub fn get(&self, name: &str) -> Option<&Arc<FnDef>> {
        self.index.get(name).map(|&i| &self.defs[i])
    }

    /// Every definition, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &FnDef> {
        self.defs.iter().map(|d| &**d)
    }

    /// Whether `fn.<name>` depends on its arguments alone: no model references, `this`,
    /// stateful or calendar functions or impure natives, itself or through what it calls.
    ///
    /// ```
    /// use kalix_expr_core::{FnDef, Functions};
    /// let set = Functions::new(vec![FnDef::parse("a(x)", "x * 2")?, FnDef::parse("b(x)", "x * data.k")?])
    ///     .map_err(|e| e[0].clone())?;
    /// assert!(set.is_pure("a"));
    /// assert!(!set.is_pure("b"));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn is_pure(&self, name: &str) -> bool {
        self.index.get(name).and_then(|&i| self.pure.get(i).copied()).unwrap_or(false)
    }

    /// How many definitions the set holds.
    ///
    /// ```
    /// use kalix_expr_core::{FnDef, Functions};
    /// let set = Functions::new(vec![FnDef::parse("f(x)", "x")?]).map_err(|e| e[0].clone())?;
    /// assert_eq!(set.len(), 1);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.defs.len()
    }

    /// Whether the set is empty.
    ///
    /// ```
    /// assert!(kalix_expr_core::Functions::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// The names, for suggestions.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.defs.iter().map(|d| d.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(sig: &str, body: &str) -> FnDef {
        FnDef::parse(sig, body).unwrap_or_else(|e| panic!("{sig} = {body}: {e}"))
    }

    #[test]
    fn signatures_follow_the_rules() {
        assert_eq!(def("Storage_Frac(V, cap)", "v / cap").name(), "storage_frac");
        for (sig, kind) in [
            ("f", "SignatureInvalid"),
            ("f(a", "SignatureInvalid"),
            ("f(a,)", "SignatureInvalid"),
            ("1f(a)", "SignatureInvalid"),
            ("f(a.b)", "SignatureInvalid"),
            ("f(a, a)", "ParameterDuplicate"),
            ("sin(a)", "NameReserved"),
            ("f(this)", "NameReserved"),
            ("f(max)", "NameReserved"),
        ] {
            let e = FnDef::parse(sig, "1").unwrap_err();
            assert!(format!("{:?}", e.kind()).starts_with(kind), "{sig}: {e}");
        }
    }

    #[test]
    fn duplicates_and_cycles_are_reported_together() {
        let errs = Functions::new(vec![
            def("a(x)", "fn.b(x)"),
            def("b(x)", "fn.c(x) + fn.a(x)"),
            def("c(x)", "x"),
            def("c(x, y)", "x"),
            def("d()", "fn.d()"),
        ])
        .unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 3, "{text:#?}");
        assert!(text[0].contains("duplicate function `c`"));
        assert!(text[1].contains("fn.a -> fn.b -> fn.a"));
        assert!(text[2].contains("fn.d -> fn.d"));
    }

    #[test]
    fn bodies_are_checked() {
        let errs = Functions::new(vec![def("f(x)", "lg10(x) + fn.g(x, 1)"), def("g(x)", "x")]).unwrap_err();
        let text = errs[0].to_string();
        assert!(text.contains("unknown function `lg10`"), "{text}");
        assert!(text.contains("`fn.g` takes 1 argument, found 2"), "{text}");
        assert!(Functions::new(vec![def("f(x)", "{ y = x * 2; assert(y > 0); fn.g(y) }"), def("g(x)", "x + data.a")])
            .is_ok());
    }
}
