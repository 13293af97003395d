//! What a host supplies to the language, below the resolver: its [`Scope`] of variables, user
//! functions ([`FnDef`], gathered in [`Functions`]), native Rust functions ([`NativeFn`]), lookup
//! tables, the meaning of `this`, references to what an expression was built from ([`FnRef`]),
//! and the naming rules every definition follows.

use std::sync::Arc;

mod fndef;
mod fnref;
mod functions;
pub(crate) mod names;
mod native;

pub use fndef::FnDef;
pub use fnref::{fnv1a64, normalised_definition, FnKind, FnRef};
pub use functions::Functions;
pub use names::{is_first_segment, is_later_segment, is_name_char, is_name_start, is_plain_name, reserved};
pub use native::NativeFn;

use crate::table::Table;

/// How variable names become slots.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Slot `i` is `names[i]`; any other name is an error.
    Bound(&'a [&'a str]),
    /// As `Bound`, with the names indexed once for many resolutions: a model resolves each of
    /// its thousands of series against the same slots, and re-hashing every name for each
    /// series would make it quadratic. The names of the slots are not returned again.
    Indexed(&'a SlotIndex),
    /// Every distinct name gets the next slot, in order of first appearance.
    Free,
}

/// Names bound to slots (slot `i` is the `i`-th name; a repeated name keeps its first slot),
/// indexed once, for [`Scope::Indexed`].
///
/// ```
/// use kalix_expr_core::SlotIndex;
/// let ix = SlotIndex::new(&["data.Rain", "var.b.x"], true);
/// assert_eq!((ix.get("DATA.rain"), ix.get("var.b.y"), ix.len()), (Some(0), None, 2));
/// ```
#[derive(Debug, Clone, Default)]
pub struct SlotIndex {
    names: Vec<String>,
    index: std::collections::HashMap<String, usize>,
    case_insensitive: bool,
}

impl SlotIndex {
    /// Indexes `names`; with `case_insensitive` (as [`Options::model`](crate::Options::model))
    /// names match whatever their case. Use the same case rule as the options it resolves with.
    pub fn new(names: &[&str], case_insensitive: bool) -> SlotIndex {
        let mut ix = SlotIndex { names: Vec::with_capacity(names.len()), index: Default::default(), case_insensitive };
        for (i, n) in names.iter().enumerate() {
            ix.index.entry(ix.key(n)).or_insert(i);
            ix.names.push(n.to_string());
        }
        ix
    }

    fn key(&self, name: &str) -> String {
        if self.case_insensitive {
            name.to_lowercase()
        } else {
            name.to_string()
        }
    }

    /// The slot of `name`.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.index.get(&self.key(name)).copied()
    }

    /// How many slots.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no slots.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names, in slot order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}

/// What a host (a model) adds to the language: lookup tables, user functions, and the meaning
/// of `this`.
///
/// ```
/// use kalix_expr_core::{parse, Host, Options, ParseOptions, Scope, Table};
/// use kalix_expr_core::sema::resolve_with;
/// use std::sync::Arc;
/// let tables = vec![Arc::new(Table::from_cells("curve", &["0", "0", "10", "100"], 2).unwrap())];
/// let host = Host { tables: &tables, ..Host::default() };
/// let src = "table.curve(this.volume)";
/// let ast = parse(src, &ParseOptions::default())?;
/// let host = Host { this_node: Some("node.dam"), ..host };
/// let (_, names) = resolve_with(&ast, src, &Scope::Free, &host, &Options::model())?;
/// assert_eq!(names, vec!["node.dam.volume"]);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Host<'a> {
    /// Tables, called as `table.<name>(…)`.
    pub tables: &'a [Arc<Table>],
    /// User functions, called as `fn.<name>(…)`.
    pub functions: Option<&'a Functions>,
    /// Native functions registered from Rust, called by their bare names.
    pub natives: &'a [Arc<NativeFn>],
    /// `this.x` means `<this_node>.x` (inside a node's properties: `node.<name>`).
    pub this_node: Option<&'a str>,
    /// A bare `this` means this series (inside a `[var.*]` key: `var.<block>.<key>`).
    pub this_series: Option<&'a str>,
}
