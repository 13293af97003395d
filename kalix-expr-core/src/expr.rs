//! The public API: [`Expr`] (parsed) and [`Compiled`] (resolved and ready to evaluate).

use std::fmt;
use std::sync::Arc;

use crate::ast::{Ast, NodeKind, Stmt};
use crate::error::Error;
use crate::options::Options;
use crate::parse::{parse_shared, ParseOptions};
use crate::sema::{resolve_shared, Host, Ir, Scope};

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
    source: Arc<str>,
    ast: Ast,
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
        Ok(Expr { source, ast, description: None })
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
        let locals: Vec<String> = match &self.ast {
            Ast::Block(b) => b
                .stmts
                .iter()
                .filter_map(|s| match s {
                    Stmt::Assign { name, .. } => Some(name.text.to_lowercase()),
                    Stmt::Assert { .. } => None,
                })
                .collect(),
            Ast::Expr(_) => Vec::new(),
        };
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

    /// Resolves against `names` (slot `i` is `names[i]`) into the [`Ir`] both the interpreter
    /// and `kexpr!` work from. Every name error is reported at once.
    ///
    /// ```
    /// let e = kalix_expr_core::Expr::parse("lg10(rian)")?;
    /// let err = e.resolve(&["rain"], &Default::default()).unwrap_err();
    /// assert_eq!(err.diagnostics().len(), 2);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn resolve(&self, names: &[&str], opts: &Options) -> Result<Ir, Error> {
        resolve_shared(&self.ast, &self.source, &Scope::Bound(names), &Host::default(), opts).map(|(ir, _)| ir)
    }

    /// Checks everything that does not depend on which variables exist: functions, arity,
    /// blocks, offsets. The variables are those of [`Expr::variables`].
    ///
    /// ```
    /// assert!(kalix_expr_core::Expr::parse("sin(x, y)")?.check(&Default::default()).is_err());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn check(&self, opts: &Options) -> Result<(), Error> {
        resolve_shared(&self.ast, &self.source, &Scope::Free, &Host::default(), opts).map(|_| ())
    }
}

#[cfg(feature = "interp")]
mod compiled {
    use std::collections::HashMap;

    use super::*;
    use crate::error::ErrorKind;
    use crate::interp::{FaultKind, Program, Unsupported};
    use crate::options::MissingVariable;
    use crate::span::Span;

    /// A compiled expression: immutable, `Send + Sync`, evaluated over a slice of slot values.
    ///
    /// ```
    /// use kalix_expr_core::Expr;
    /// let c = Expr::parse("if(month > 10, summer, winter)")?.compile(&["month", "summer", "winter"])?;
    /// assert_eq!(c.eval(&[11.0, 5.0, 2.0])?, 5.0);
    /// assert_eq!(c.names(), ["month", "summer", "winter"]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub struct Compiled {
        program: Program,
        names: Vec<String>,
        source: Arc<str>,
    }

    impl fmt::Debug for Compiled {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Compiled").field("source", &&*self.source).field("names", &self.names).finish()
        }
    }

    impl Expr {
        /// Compiles against `names` with the default [`Options`]: slot `i` is `names[i]`.
        ///
        /// ```
        /// let c = kalix_expr_core::Expr::parse("rain - loss")?.compile(&["loss", "rain"])?;
        /// assert_eq!(c.eval(&[1.0, 3.0])?, 2.0);
        /// # Ok::<(), kalix_expr_core::Error>(())
        /// ```
        pub fn compile(&self, names: &[&str]) -> Result<Compiled, Error> {
            self.compile_with(names, &Options::default())
        }

        /// Compiles against `names` with explicit [`Options`].
        ///
        /// ```
        /// use kalix_expr_core::{Expr, Options};
        /// let c = Expr::parse("RAIN * 2")?.compile_with(&["rain"], &Options::model())?;
        /// assert_eq!(c.eval(&[1.5])?, 3.0);
        /// # Ok::<(), kalix_expr_core::Error>(())
        /// ```
        pub fn compile_with(&self, names: &[&str], opts: &Options) -> Result<Compiled, Error> {
            let (ir, names) = resolve_shared(&self.ast, &self.source, &Scope::Bound(names), &Host::default(), opts)?;
            self.finish(&ir, names, opts)
        }

        fn finish(&self, ir: &Ir, names: Vec<String>, opts: &Options) -> Result<Compiled, Error> {
            let program = Program::compile(ir, opts).map_err(|why| match why {
                Unsupported::Limit(what) => {
                    Error::new(&self.source, Span::new(0, self.source.len()), ErrorKind::LimitExceeded { what }, None)
                }
                Unsupported::Calendar(name, span) => Error::new(
                    &self.source,
                    span,
                    ErrorKind::CalendarRequired { name: name.into() },
                    Some("run it in a model, where the calendar is known".into()),
                ),
            })?;
            Ok(Compiled { program, names, source: self.source.clone() })
        }

        /// Evaluates with variables looked up by name in `vars`. A convenience for one-off
        /// evaluation: it compiles on every call, so compile once and use
        /// [`Compiled::eval`] in a loop.
        ///
        /// ```
        /// use std::collections::HashMap;
        /// let vars = HashMap::from([("rain".to_string(), 5.0), ("loss".to_string(), 7.0)]);
        /// let v = kalix_expr_core::Expr::parse("max(0, rain - loss)")?.eval_map(&vars)?;
        /// assert_eq!(v, 0.0);
        /// # Ok::<(), kalix_expr_core::Error>(())
        /// ```
        pub fn eval_map(&self, vars: &HashMap<String, f64>) -> Result<f64, Error> {
            self.eval_map_with(vars, &Options::default())
        }

        /// [`Expr::eval_map`] with explicit [`Options`] (case-insensitive names, missing
        /// variables given a default, strict arithmetic).
        ///
        /// ```
        /// use std::collections::HashMap;
        /// use kalix_expr_core::{Expr, Options, MissingVariable};
        /// let opts = Options { missing_variable: MissingVariable::Default(0.0), ..Options::default() };
        /// let v = Expr::parse("a + b")?.eval_map_with(&HashMap::from([("a".into(), 1.0)]), &opts)?;
        /// assert_eq!(v, 1.0);
        /// # Ok::<(), kalix_expr_core::Error>(())
        /// ```
        pub fn eval_map_with(&self, vars: &HashMap<String, f64>, opts: &Options) -> Result<f64, Error> {
            let (ir, names) = resolve_shared(&self.ast, &self.source, &Scope::Free, &Host::default(), opts)?;
            let lookup: HashMap<String, f64> = if opts.case_insensitive {
                vars.iter().map(|(k, v)| (k.to_lowercase(), *v)).collect()
            } else {
                HashMap::new()
            };
            let mut values = Vec::with_capacity(names.len());
            for name in &names {
                let found = if opts.case_insensitive { lookup.get(&name.to_lowercase()) } else { vars.get(name) };
                match (found, opts.missing_variable) {
                    (Some(v), _) => values.push(*v),
                    (None, MissingVariable::Default(d)) => values.push(d),
                    (None, MissingVariable::Error) => {
                        let span = self.first_use(name);
                        return Err(Error::new(
                            &self.source,
                            span,
                            ErrorKind::VariableMissing { name: name.clone() },
                            None,
                        ));
                    }
                }
            }
            self.finish(&ir, names, opts)?.eval(&values)
        }

        /// Where `name` is first read, for errors about it.
        fn first_use(&self, name: &str) -> Span {
            self.ast
                .nodes()
                .into_iter()
                .find_map(|n| match &n.kind {
                    NodeKind::Var(v) | NodeKind::Offset { name: v, .. } if v.text.eq_ignore_ascii_case(name) => {
                        Some(v.span)
                    }
                    _ => None,
                })
                .unwrap_or_default()
        }
    }

    impl Compiled {
        /// Evaluates with `values[i]` as the value of slot `i` (extra values are ignored).
        ///
        /// Allocates nothing and looks up no name. Fails only when `values` is too short, or
        /// with strict [`Options`] (division by zero, domain errors) and on a failed `assert`.
        ///
        /// ```
        /// let c = kalix_expr_core::Expr::parse("{ assert(x > 0); sqrt(x) }")?.compile(&["x"])?;
        /// assert_eq!(c.eval(&[4.0])?, 2.0);
        /// let err = c.eval(&[-4.0]).unwrap_err();
        /// assert!(err.to_string().contains("assertion failed: `assert(x > 0)` is 0"));
        /// # Ok::<(), kalix_expr_core::Error>(())
        /// ```
        #[inline]
        pub fn eval(&self, values: &[f64]) -> Result<f64, Error> {
            if values.len() < self.program.n_slots {
                return Err(self.too_few(values.len()));
            }
            self.program.run(values).map_err(|f| self.fault(f))
        }

        #[cold]
        fn too_few(&self, found: usize) -> Error {
            Error::new(
                &self.source,
                Span::new(0, 0),
                ErrorKind::ValuesMissing { expected: self.program.n_slots, found },
                Some(format!("the slots are {:?}", self.names)),
            )
        }

        #[cold]
        fn fault(&self, f: crate::interp::Fault) -> Error {
            let kind = match f.kind {
                FaultKind::DivisionByZero => ErrorKind::DivisionByZero,
                FaultKind::Domain(function, arg) => ErrorKind::DomainError { function, arg },
                FaultKind::Assert(value, id) => ErrorKind::AssertFailed {
                    condition: match self.program.assert_context(id) {
                        Some(text) => text.to_string(),
                        None => self.source.get(f.span.range()).unwrap_or_default().to_string(),
                    },
                    value,
                },
                FaultKind::TableKey(id, key) => {
                    let (table, keys) = match self.program.table(id) {
                        Some(t) => (
                            t.name().to_string(),
                            t.column_keys().iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "),
                        ),
                        None => (String::new(), String::new()),
                    };
                    ErrorKind::TableKeyUnknown { table, key, keys }
                }
            };
            Error::new(&self.source, f.span, kind, None)
        }

        /// The slot names, in slot order.
        pub fn names(&self) -> &[String] {
            &self.names
        }

        /// The source text.
        pub fn source(&self) -> &str {
            &self.source
        }
    }
}

#[cfg(feature = "interp")]
pub use compiled::Compiled;

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
