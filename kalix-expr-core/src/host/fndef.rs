//! One user function (docs/language.md): `name(a, b) = body`, called as `fn.name(…)`.

use std::sync::Arc;

use crate::ast::NodeKind;
use crate::error::{Error, ErrorKind};
use crate::expr::Expr;
use crate::host::names::{is_plain_name, reserved};
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
    pub(crate) name: String,
    pub(crate) params: Vec<String>,
    pub(crate) body: Expr,
    pub(crate) signature: Arc<str>,
    /// What it computes, for listings (a function library keeps it).
    description: Option<String>,
    /// Labels for finding it in a library.
    tags: Vec<String>,
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
