//! A set of user functions as the resolver reads it. Building and validating a set is
//! [`crate::functions`]'s, above the resolver; this is what sits below it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::host::FnDef;

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
    pub(crate) defs: Vec<Arc<FnDef>>,
    pub(crate) index: HashMap<String, usize>,
    /// Per definition: whether its value depends on its arguments alone.
    pub(crate) pure: Vec<bool>,
}

impl Functions {
    /// The most definitions a set may hold. Protects loading from a runaway file.
    pub const MAX_DEFINITIONS: usize = 10_000;

    /// The deepest chain of user functions calling each other that a call may expand (each
    /// call is expanded in place). Protects against a runaway expansion.
    pub const MAX_DEPTH: usize = 64;

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
