//! Native functions: Rust closures called from expressions by their bare names.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::host::names::{is_plain_name, reserved};
use crate::span::Span;

/// The implementation of a native function.
type Imp = Arc<dyn Fn(&[f64]) -> f64 + Send + Sync>;

/// A function registered from Rust and called by its bare name, as Kalix's calibration calls
/// `g(i)` or `lin_range(x, lo, hi)`.
///
/// It takes a fixed number of arguments (at most [`NativeFn::MAX_ARITY`]) as a slice and
/// returns one value. A *pure* native's value depends on its arguments alone, so a call with
/// constant arguments is computed once, when the expression is compiled; an *impure* one (a
/// calibration parameter that changes between runs, a random draw) is called at every
/// evaluation.
///
/// The closure must not panic: evaluation does not catch panics.
///
/// ```
/// use kalix_expr_core::{Expr, Host, NativeFn, Options};
/// use std::sync::Arc;
/// let lin_range = NativeFn::pure("lin_range", 3, |a| a[1] + a[0] * (a[2] - a[1]))?
///     .with_description("lin_range(x, lo, hi): x in [0, 1] mapped onto [lo, hi]");
/// let natives = [Arc::new(lin_range)];
/// let host = Host { natives: &natives, ..Host::default() };
/// let c = Expr::parse("lin_range(x, 10, 20)")?.compile_with_host(&["x"], &host, &Options::default())?;
/// assert_eq!(c.eval(&[0.25])?, 12.5);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Clone)]
pub struct NativeFn {
    name: String,
    arity: usize,
    pure: bool,
    imp: Imp,
    description: Option<String>,
    tags: Vec<String>,
}

impl NativeFn {
    /// The most arguments a native takes: a call evaluates them into an array on the stack.
    pub const MAX_ARITY: usize = 16;

    /// A pure native: its value depends on its arguments alone, so a call with constant
    /// arguments is folded at compile time.
    ///
    /// The name is lower-cased, then must match `[a-z][a-z0-9_]*` and take no built-in,
    /// stateful, calendar or reserved name (`max`, `moving_mean`, `month_at`, `assert`, `pi`).
    ///
    /// ```
    /// use kalix_expr_core::NativeFn;
    /// assert!(NativeFn::pure("clip01", 1, |a| a[0].clamp(0.0, 1.0)).is_ok());
    /// assert!(NativeFn::pure("max", 2, |a| a[0]).is_err());
    /// assert!(NativeFn::pure("moving_sum", 3, |a| a[0]).is_err());
    /// assert!(NativeFn::pure("wide", 17, |a| a[0]).is_err());
    /// ```
    pub fn pure<F>(name: &str, arity: usize, f: F) -> Result<NativeFn, Error>
    where
        F: Fn(&[f64]) -> f64 + Send + Sync + 'static,
    {
        NativeFn::new(name, arity, true, Arc::new(f))
    }

    /// An impure native: called at every evaluation, never folded (a calibration parameter
    /// `g(i)` that changes between runs, a random draw).
    ///
    /// ```
    /// use kalix_expr_core::{Expr, Host, NativeFn, Options};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// static PARAM: AtomicU64 = AtomicU64::new(0);
    /// let g = NativeFn::impure("g", 1, |_| f64::from_bits(PARAM.load(Ordering::Relaxed)))?;
    /// let natives = [Arc::new(g)];
    /// let host = Host { natives: &natives, ..Host::default() };
    /// let c = Expr::parse("g(1) * 2")?.compile_with_host(&[], &host, &Options::default())?;
    /// PARAM.store(1.5f64.to_bits(), Ordering::Relaxed);
    /// assert_eq!(c.eval(&[])?, 3.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn impure<F>(name: &str, arity: usize, f: F) -> Result<NativeFn, Error>
    where
        F: Fn(&[f64]) -> f64 + Send + Sync + 'static,
    {
        NativeFn::new(name, arity, false, Arc::new(f))
    }

    fn new(name: &str, arity: usize, pure: bool, imp: Imp) -> Result<NativeFn, Error> {
        let src: Arc<str> = Arc::from(name);
        let whole = Span::new(0, name.len());
        let lower = name.to_lowercase();
        if !is_plain_name(&lower) {
            let reason = "a function name is a letter, then letters, digits and `_`";
            return Err(Error::new(&src, whole, ErrorKind::SignatureInvalid { reason }, None));
        }
        let taken = match crate::builtins::lookup(&lower).map(|b| b.imp) {
            Some(crate::builtins::Imp::Stateful(_)) => Some("it is a stateful function"),
            Some(crate::builtins::Imp::Calendar) => Some("it is a calendar function"),
            _ => reserved(&lower),
        };
        if let Some(reason) = taken {
            return Err(Error::new(&src, whole, ErrorKind::NameReserved { name: lower, reason }, None));
        }
        if arity > Self::MAX_ARITY {
            let what = "a native function takes at most 16 arguments";
            return Err(Error::new(&src, whole, ErrorKind::LimitExceeded { what }, None));
        }
        Ok(NativeFn { name: lower, arity, pure, imp, description: None, tags: Vec::new() })
    }

    /// Attaches a description (shown in listings and in the help line of an arity error).
    ///
    /// ```
    /// let g = kalix_expr_core::NativeFn::impure("g", 1, |_| 0.0)?.with_description("parameter i");
    /// assert_eq!(g.description(), Some("parameter i"));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Attaches tags, for finding the function in listings.
    ///
    /// ```
    /// let g = kalix_expr_core::NativeFn::impure("g", 1, |_| 0.0)?.with_tags(["calibration"]);
    /// assert_eq!(g.tags(), ["calibration"]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn with_tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The lower-case name it is called by.
    ///
    /// ```
    /// let f = kalix_expr_core::NativeFn::pure("Lin_Range", 3, |a| a[0])?;
    /// assert_eq!((f.name(), f.arity(), f.is_pure()), ("lin_range", 3, true));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many arguments it takes.
    ///
    /// ```
    /// assert_eq!(kalix_expr_core::NativeFn::pure("g", 2, |a| a[0] + a[1])?.arity(), 2);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn arity(&self) -> usize {
        self.arity
    }

    /// Whether its value depends on its arguments alone.
    ///
    /// ```
    /// assert!(!kalix_expr_core::NativeFn::impure("g", 1, |a| a[0])?.is_pure());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn is_pure(&self) -> bool {
        self.pure
    }

    /// The description, if one is attached.
    ///
    /// ```
    /// assert_eq!(kalix_expr_core::NativeFn::pure("g", 1, |a| a[0])?.description(), None);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The tags.
    ///
    /// ```
    /// assert!(kalix_expr_core::NativeFn::pure("g", 1, |a| a[0])?.tags().is_empty());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// Calls it on `args` (the resolver has checked their number).
    ///
    /// ```
    /// let f = kalix_expr_core::NativeFn::pure("sum3", 3, |a| a.iter().sum())?;
    /// assert_eq!(f.call(&[1.0, 2.0, 3.0]), 6.0);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    #[inline]
    pub fn call(&self, args: &[f64]) -> f64 {
        (self.imp)(args)
    }
}

impl fmt::Debug for NativeFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeFn")
            .field("name", &self.name)
            .field("arity", &self.arity)
            .field("pure", &self.pure)
            .finish_non_exhaustive()
    }
}

impl PartialEq for NativeFn {
    /// Two natives are equal when they share a name, an arity, a purity and the very same
    /// implementation (closures cannot be compared otherwise).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.arity == other.arity
            && self.pure == other.pure
            && std::ptr::addr_eq(Arc::as_ptr(&self.imp), Arc::as_ptr(&other.imp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_function_rules() {
        assert_eq!(NativeFn::pure("Lin_Range", 3, |a| a[0]).unwrap().name(), "lin_range");
        for (name, kind) in [
            ("1g", "SignatureInvalid"),
            ("g.h", "SignatureInvalid"),
            ("", "SignatureInvalid"),
            ("sin", "NameReserved"),
            ("month_at", "NameReserved"),
            ("count_since", "NameReserved"),
            ("assert", "NameReserved"),
            ("pi", "NameReserved"),
        ] {
            let e = NativeFn::pure(name, 1, |a| a[0]).unwrap_err();
            assert!(format!("{:?}", e.kind()).starts_with(kind), "{name}: {e}");
        }
    }

    #[test]
    fn a_clone_is_equal_and_another_closure_is_not() {
        let a = NativeFn::pure("g", 1, |a| a[0]).unwrap();
        let b = NativeFn::pure("g", 1, |a| a[0]).unwrap();
        assert_eq!(a, a.clone());
        assert_ne!(a, b);
    }
}
