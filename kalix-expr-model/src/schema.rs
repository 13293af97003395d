//! Which properties of each Kalix node type hold expressions: data in
//! `data/kalix-node-types.toml`, so the list can grow without code changes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The node types of Kalix v0.4.3, as shipped with this crate.
const KALIX_NODE_TYPES: &str = include_str!("../data/kalix-node-types.toml");

/// One node type: its expression properties and its data properties.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeType {
    /// Properties whose values are expressions. `<n>` stands for a positive integer.
    pub expressions: Vec<String>,
    /// Properties whose values are data (names, numbers, lists, tables).
    pub data: Vec<String>,
}

/// What a node property is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// An expression, evaluated every step.
    Expression,
    /// Data, not an expression.
    Data,
    /// Not a property of this type.
    Unknown,
}

/// Whether `key` matches `pattern`, where `<n>` in the pattern stands for one or more digits.
fn matches(pattern: &str, key: &str) -> bool {
    match pattern.split_once("<n>") {
        None => pattern == key,
        Some((prefix, suffix)) => key
            .strip_prefix(prefix)
            .and_then(|k| k.strip_suffix(suffix))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
    }
}

impl NodeType {
    /// What `key` (lower-case) is for this type.
    pub fn property(&self, key: &str) -> Property {
        if self.expressions.iter().any(|p| matches(p, key)) {
            Property::Expression
        } else if self.data.iter().any(|p| matches(p, key)) {
            Property::Data
        } else {
            Property::Unknown
        }
    }

    /// Every property, for suggestions (`<n>` shown as `1`).
    pub fn properties(&self) -> impl Iterator<Item = String> + '_ {
        self.expressions.iter().chain(&self.data).map(|p| p.replace("<n>", "1"))
    }
}

/// The node types by name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Schema {
    types: BTreeMap<String, NodeType>,
}

impl Schema {
    /// Parses a schema from TOML: one table per node type, with `expressions` and `data` lists.
    pub fn parse(text: &str) -> Result<Schema, toml::de::Error> {
        toml::from_str(text)
    }

    /// The schema of Kalix v0.4.3 bundled with this crate.
    pub fn kalix() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        // The file is part of the crate and a unit test parses it, so this cannot fail at run time.
        SCHEMA.get_or_init(|| Schema::parse(KALIX_NODE_TYPES).expect("data/kalix-node-types.toml is valid"))
    }

    /// The type named `name` (lower-case).
    pub fn node_type(&self, name: &str) -> Option<&NodeType> {
        self.types.get(name)
    }

    /// The type names, sorted.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_schema_parses_and_knows_storage() {
        let schema = Schema::parse(KALIX_NODE_TYPES).unwrap();
        assert_eq!(schema.type_names().count(), 13);
        let storage = schema.node_type("storage").unwrap();
        assert_eq!(storage.property("evap"), Property::Expression);
        assert_eq!(storage.property("dimensions"), Property::Data);
        assert_eq!(storage.property("observed"), Property::Unknown);
    }

    #[test]
    fn numbered_properties_match_any_positive_number() {
        let storage = Schema::kalix().node_type("storage").unwrap();
        for key in ["ds_1_force_release", "ds_2_force_release", "ds_12_force_release"] {
            assert_eq!(storage.property(key), Property::Expression, "{key}");
        }
        for key in ["ds__force_release", "ds_x_force_release", "ds_1_force_releases"] {
            assert_eq!(storage.property(key), Property::Unknown, "{key}");
        }
    }
}
