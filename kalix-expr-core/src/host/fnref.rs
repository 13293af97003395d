//! References to the functions a compiled expression was built from.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::builtins::{Arity, Builtin};
use crate::host::{FnDef, NativeFn};
use crate::table::Table;

/// What kind of function a [`FnRef`] points at.
///
/// ```
/// use kalix_expr_core::{Expr, FnKind};
/// let c = Expr::parse("sqrt(x)")?.compile(&["x"])?;
/// assert_eq!(c.functions()[0].kind(), FnKind::Builtin);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FnKind {
    /// A built-in function (`max`, `moving_mean`, `month_at`).
    Builtin,
    /// A user function, called as `fn.<name>(…)`.
    User,
    /// A native function registered from Rust, called by its bare name.
    Native,
    /// A lookup table, called as `table.<name>(…)`.
    Table,
}

#[derive(Clone)]
enum Target {
    Builtin(&'static Builtin),
    User(Arc<FnDef>),
    Native(Arc<NativeFn>),
    Table(Arc<Table>),
}

/// A function an expression calls, resolved: it holds the definition itself, so it can say
/// exactly what the expression was built from — name, kind, arity, tags, purity and a content
/// hash of the definition.
///
/// References compare and hash by kind and name only (a set of them is the set of functions an
/// expression depends on); compare [`FnRef::content_hash`] to tell whether a definition changed.
///
/// ```
/// use kalix_expr_core::library::Library;
/// use kalix_expr_core::{Expr, FnDef, FnKind, Options};
/// let lib = Library::in_memory();
/// lib.add(FnDef::parse("frac(v, cap)", "v / cap")?.with_tags(["storage"]))?;
/// let c = lib.snapshot().compile(&Expr::parse("fn.frac(x, 10)")?, &["x"], &Options::default())?;
/// let f = &c.functions()[0];
/// assert_eq!((f.kind(), f.name(), f.to_string()), (FnKind::User, "frac", "fn.frac".to_string()));
/// assert_eq!(f.tags(), ["storage"]);
/// assert!(f.is_pure());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct FnRef {
    target: Target,
    pure: bool,
}

impl FnRef {
    pub(crate) fn builtin(f: &'static Builtin) -> FnRef {
        FnRef { target: Target::Builtin(f), pure: f.pure }
    }

    pub(crate) fn user(def: &Arc<FnDef>, pure: bool) -> FnRef {
        FnRef { target: Target::User(Arc::clone(def)), pure }
    }

    pub(crate) fn native(f: &Arc<NativeFn>) -> FnRef {
        FnRef { target: Target::Native(Arc::clone(f)), pure: f.is_pure() }
    }

    pub(crate) fn table(t: &Arc<Table>) -> FnRef {
        FnRef { target: Target::Table(Arc::clone(t)), pure: true }
    }

    /// The kind.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, FnKind};
    /// let c = Expr::parse("max(x, 1)")?.compile(&["x"])?;
    /// let f = &c.functions()[0];
    /// assert_eq!(f.kind(), FnKind::Builtin);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn kind(&self) -> FnKind {
        match &self.target {
            Target::Builtin(_) => FnKind::Builtin,
            Target::User(_) => FnKind::User,
            Target::Native(_) => FnKind::Native,
            Target::Table(_) => FnKind::Table,
        }
    }

    /// The bare name, without `fn.` or `table.` (see `Display` for the name as called).
    ///
    /// ```
    /// use kalix_expr_core::{Expr, FnKind};
    /// let c = Expr::parse("MAX(x, 1)")?.compile(&["x"])?;
    /// let f = &c.functions()[0];
    /// assert_eq!((f.name(), f.to_string()), ("max", "max".to_string()));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        match &self.target {
            Target::Builtin(b) => b.name,
            Target::User(d) => d.name(),
            Target::Native(n) => n.name(),
            Target::Table(t) => t.name(),
        }
    }

    /// The accepted argument counts.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, FnKind};
    /// let c = Expr::parse("max(x, 1)")?.compile(&["x"])?;
    /// let f = &c.functions()[0];
    /// assert!(f.arity().accepts(5) && !f.arity().accepts(1));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn arity(&self) -> Arity {
        match &self.target {
            Target::Builtin(b) => b.arity,
            Target::User(d) => Arity::Exact(d.params().len()),
            Target::Native(n) => Arity::Exact(n.arity()),
            Target::Table(t) => Arity::Exact(t.arity()),
        }
    }

    /// Whether its value depends on its arguments alone (for a user function: no model
    /// references, `this`, stateful or calendar calls or impure natives in its body or in what
    /// it calls).
    ///
    /// ```
    /// use kalix_expr_core::{Expr, FnKind, Options};
    /// let single_step = Options { single_step: true, ..Options::default() };
    /// let c = Expr::parse("moving_mean(x, 3, 0)")?.compile_with(&["x"], &single_step)?;
    /// let f = &c.functions()[0];
    /// assert!(!f.is_pure());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn is_pure(&self) -> bool {
        self.pure
    }

    /// The tags of a user function or native (empty for the others).
    ///
    /// ```
    /// use kalix_expr_core::{Expr, FnKind};
    /// let c = Expr::parse("sqrt(x)")?.compile(&["x"])?;
    /// let f = &c.functions()[0];
    /// assert!(f.tags().is_empty());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn tags(&self) -> &[String] {
        match &self.target {
            Target::User(d) => d.tags(),
            Target::Native(n) => n.tags(),
            Target::Builtin(_) | Target::Table(_) => &[],
        }
    }

    /// The description (a built-in's one-line doc).
    ///
    /// ```
    /// use kalix_expr_core::{Expr, FnKind};
    /// let c = Expr::parse("sqrt(x)")?.compile(&["x"])?;
    /// let f = &c.functions()[0];
    /// assert_eq!(f.description(), Some("square root; NaN below 0"));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn description(&self) -> Option<&str> {
        match &self.target {
            Target::Builtin(b) => Some(b.doc),
            Target::User(d) => d.description(),
            Target::Native(n) => n.description(),
            Target::Table(_) => None,
        }
    }

    /// The user function's definition.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("half(x)", "x / 2")?)?;
    /// let f = lib.snapshot().get("half").unwrap();
    /// assert_eq!(f.definition().map(|d| d.body().source()), Some("x / 2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn definition(&self) -> Option<&FnDef> {
        match &self.target {
            Target::User(d) => Some(d),
            _ => None,
        }
    }

    /// The native function.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::NativeFn;
    /// let lib = Library::in_memory();
    /// lib.register_native(NativeFn::pure("sq", 1, |a| a[0] * a[0])?)?;
    /// let f = lib.snapshot().get("sq").unwrap();
    /// assert_eq!(f.native_fn().map(|n| n.call(&[3.0])), Some(9.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn native_fn(&self) -> Option<&NativeFn> {
        match &self.target {
            Target::Native(n) => Some(n),
            _ => None,
        }
    }

    /// A stable content hash of the definition: [`fnv1a64`] of
    /// - a user function: its [`normalised_definition`] (`name(a, b) = body` with each run of
    ///   whitespace in the body made one space; description and tags are not part of it);
    /// - a built-in: `builtin <name>`;
    /// - a native: `native <name>/<arity> pure` or `… impure` (a closure's code cannot be
    ///   hashed);
    /// - a table: `table <name>/<arity> ` followed by the table's `Debug` form (its cells).
    ///
    /// ```
    /// use kalix_expr_core::library::{fnv1a64, Library};
    /// use kalix_expr_core::{Expr, FnDef, Options};
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("half(x)", "x  /\n 2")?)?;
    /// let c = lib.snapshot().compile(&Expr::parse("fn.half(1)")?, &[], &Options::default())?;
    /// assert_eq!(c.functions()[0].content_hash(), fnv1a64(b"half(x) = x / 2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn content_hash(&self) -> u64 {
        match &self.target {
            Target::Builtin(b) => fnv1a64(format!("builtin {}", b.name).as_bytes()),
            Target::User(d) => fnv1a64(normalised_definition(d).as_bytes()),
            Target::Native(n) => fnv1a64(
                format!("native {}/{} {}", n.name(), n.arity(), if n.is_pure() { "pure" } else { "impure" }).as_bytes(),
            ),
            Target::Table(t) => fnv1a64(format!("table {}/{} {:?}", t.name(), t.arity(), t).as_bytes()),
        }
    }
}

impl PartialEq for FnRef {
    /// Same kind and name.
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.name() == other.name()
    }
}

impl Eq for FnRef {}

impl Hash for FnRef {
    /// Kind and name, as `PartialEq`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind().hash(state);
        self.name().hash(state);
    }
}

impl fmt::Display for FnRef {
    /// The name as called: `max`, `fn.frac`, `g`, `table.curve`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            FnKind::User => write!(f, "fn.{}", self.name()),
            FnKind::Table => write!(f, "table.{}", self.name()),
            FnKind::Builtin | FnKind::Native => f.write_str(self.name()),
        }
    }
}

impl fmt::Debug for FnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FnRef({:?} {self} #{:016x})", self.kind(), self.content_hash())
    }
}

/// The 64-bit FNV-1a hash of `bytes` (offset basis `0xcbf29ce484222325`, prime
/// `0x100000001b3`): small, stable across platforms and versions, and easy to compute
/// anywhere. Not for security.
///
/// ```
/// use kalix_expr_core::library::fnv1a64;
/// assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
/// assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
/// ```
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The text a user function's content hash is computed from: `name(a, b) = body`, with the
/// name and parameters lower-case, `", "` between parameters, and each run of whitespace in the
/// body made one space (whitespace separates tokens and means nothing else, so reformatting a
/// body keeps its hash).
///
/// ```
/// use kalix_expr_core::{library::normalised_definition, FnDef};
/// let def = FnDef::parse("Frac( V,cap )", "  v /\n\t cap ")?;
/// assert_eq!(normalised_definition(&def), "frac(v, cap) = v / cap");
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
pub fn normalised_definition(def: &FnDef) -> String {
    let body: Vec<&str> = def.body().source().split_whitespace().collect();
    format!("{}({}) = {}", def.name(), def.params().join(", "), body.join(" "))
}
