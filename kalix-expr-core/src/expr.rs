//! The public API: [`Expr`] (parsed) and [`Compiled`] (resolved and ready to evaluate).

use std::fmt;
use std::sync::Arc;

use crate::ast::{Ast, NodeKind};
use crate::error::Error;
use crate::parse::{parse_shared, ParseOptions};

/// A parsed expression (or block), with its source text.
///
/// Parsing checks syntax only; [`Expr::compile`] resolves names and checks everything else.
///
/// ```
/// use kalix_expr_core::Expr;
/// let expr = Expr::parse("max(0, rain - loss)")?;
/// assert_eq!(expr.variables(), vec!["rain", "loss"]);
/// let compiled = expr.compile(&["rain", "loss"])?;
/// assert_eq!(compiled.eval(&[5.0, 2.0])?, 3.0);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Expr {
    pub(crate) source: Arc<str>,
    pub(crate) ast: Arc<Ast>,
    description: Option<String>,
}

impl Expr {
    /// Parses `source` with the default [`ParseOptions`].
    ///
    /// ```
    /// use kalix_expr_core::Expr;
    /// let err = Expr::parse("avg(x").unwrap_err();
    /// assert_eq!(err.to_string(), "error: unclosed `(`\n --> 1:4\n  |\n1 | avg(x\n  |    ^\n  |\n  = help: add `)` to close the call to `avg`");
    /// ```
    pub fn parse(source: &str) -> Result<Expr, Error> {
        Expr::parse_with(source, &ParseOptions::default())
    }

    /// Parses `source` with explicit limits.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, ParseOptions};
    /// let opts = ParseOptions { max_len: 10, ..ParseOptions::default() };
    /// assert!(Expr::parse_with("1 + 2 + 3 + 4", &opts).is_err());
    /// ```
    pub fn parse_with(source: &str, opts: &ParseOptions) -> Result<Expr, Error> {
        let source: Arc<str> = Arc::from(source);
        let ast = parse_shared(&source, opts)?;
        Ok(Expr { source, ast: Arc::new(ast), description: None })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The source, shared with errors.
    pub(crate) fn shared_source(&self) -> &Arc<str> {
        &self.source
    }

    /// The syntax tree.
    pub fn ast(&self) -> &Ast {
        &self.ast
    }

    /// A description attached with [`Expr::with_description`].
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Attaches a description (kept when serialising with the `serde` feature).
    ///
    /// ```
    /// let e = kalix_expr_core::Expr::parse("rain * 0.8")?.with_description("effective rain");
    /// assert_eq!(e.description(), Some("effective rain"));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The variables the expression reads, in order of first appearance in the text, each once
    /// (compared case-sensitively). Block locals and the constants `pi` and `e` are not
    /// variables; a name read with an offset (`x[-1, 0]`) is.
    ///
    /// ```
    /// let e = kalix_expr_core::Expr::parse("{ a = x * pi; a + y[-1, 0] + x }")?;
    /// assert_eq!(e.variables(), vec!["x", "y"]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn variables(&self) -> Vec<&str> {
        let locals = self.ast.locals();
        let mut out: Vec<&str> = Vec::new();
        for n in self.ast.nodes() {
            let name = match &n.kind {
                NodeKind::Var(name) | NodeKind::Offset { name, .. } => name.text.as_str(),
                _ => continue,
            };
            let is_local = !name.contains('.') && locals.iter().any(|l| l == &name.to_lowercase());
            if is_local || name == "pi" || name == "e" || out.contains(&name) {
                continue;
            }
            out.push(name);
        }
        out
    }
}

impl fmt::Display for Expr {
    /// The source text as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expr").field("source", &&*self.source).field("description", &self.description).finish()
    }
}

impl PartialEq for Expr {
    /// Two expressions are equal when their trees have the same shape (spacing and parentheses
    /// aside) and their descriptions match.
    fn eq(&self, other: &Self) -> bool {
        self.ast.same_shape(&other.ast) && self.description == other.description
    }
}

impl std::str::FromStr for Expr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Expr::parse(s)
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::Expr;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// The serialised form: the source text alone, or with a description.
    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Described { expr: String, description: Option<String> },
    }

    impl Serialize for Expr {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match &self.description {
                None => s.serialize_str(self.source()),
                Some(d) => {
                    Repr::Described { expr: self.source().to_string(), description: Some(d.clone()) }.serialize(s)
                }
            }
        }
    }

    impl<'de> Deserialize<'de> for Expr {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let (text, description) = match Repr::deserialize(d)? {
                Repr::Text(t) => (t, None),
                Repr::Described { expr, description } => (expr, description),
            };
            let expr = Expr::parse(&text).map_err(serde::de::Error::custom)?;
            expr.check(&crate::Options::default()).map_err(serde::de::Error::custom)?;
            Ok(match description {
                Some(d) => expr.with_description(d),
                None => expr,
            })
        }
    }
}
