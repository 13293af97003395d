//! The naming rules, each in one place: what a plain (definition) name is, which names are
//! reserved, and the lexical rule for names in expressions. The parser, user functions,
//! natives, function libraries and the model loader all ask here.

use crate::builtins;

/// Whether `c` may start a name in an expression: a letter (Unicode alphabetic) or `_`.
#[inline]
pub fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// Whether `c` may continue a name in an expression: a letter, a digit, `_` or `.`.
#[inline]
pub fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// Whether `s` can be the first segment of a dotted name (`node`, `_tmp`, `Über`): a name start
/// then letters, digits and `_`.
///
/// ```
/// use kalix_expr_core::host::is_first_segment;
/// assert!(is_first_segment("flow_2") && !is_first_segment("2x") && !is_first_segment("a.b"));
/// ```
pub fn is_first_segment(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(|c| c != '.' && is_name_char(c))
}

/// Whether `s` can follow a dot in a name (`0001_gauge`): letters, digits and `_`.
///
/// ```
/// use kalix_expr_core::host::is_later_segment;
/// assert!(is_later_segment("0001_gauge") && !is_later_segment("") && !is_later_segment("a b"));
/// ```
pub fn is_later_segment(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c != '.' && is_name_char(c))
}

/// Whether `s` is a plain name, as user functions, their parameters and natives must be:
/// `[a-z][a-z0-9_]*`.
///
/// ```
/// use kalix_expr_core::host::is_plain_name;
/// assert!(is_plain_name("flow_2") && !is_plain_name("Flow") && !is_plain_name("2x"));
/// ```
pub fn is_plain_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Why a name cannot name a function or parameter, if it cannot: a built-in function, a
/// reserved word (`assert`, `this`, `self`) or a built-in constant.
///
/// ```
/// use kalix_expr_core::host::reserved;
/// assert_eq!(reserved("max"), Some("it is a built-in function"));
/// assert_eq!(reserved("flow"), None);
/// ```
pub fn reserved(name: &str) -> Option<&'static str> {
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
