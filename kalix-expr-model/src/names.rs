//! Small helpers about names: Kalix's sanitising of file and column names, name syntax, and
//! "did you mean" suggestions for the things the core does not suggest (node types,
//! properties, sections, data columns).

/// Kalix's `sanitize_name`: lower-case (Unicode), then every char outside ASCII `a-z0-9_`
/// becomes `_`. `climate.csv` becomes `climate_csv`.
///
/// ```
/// use kalix_expr_model::sanitize_name;
/// assert_eq!(sanitize_name("PioneerInflows.csv"), "pioneerinflows_csv");
/// assert_eq!(sanitize_name("Rain (mm)"), "rain__mm_");
/// ```
pub fn sanitize_name(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' { c } else { '_' })
        .collect()
}

/// Whether `s` is one segment of a name: a letter or `_`, then letters, digits and `_`.
pub fn is_plain_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Whether `s` is a segment that may follow a dot (`0001_gauge`): letters, digits and `_`.
pub fn is_segment(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The candidate closest to `name` (case-insensitively), if it is close enough to be a typo: the
/// core's one suggestion rule ([`kalix_expr_core::suggest::closest`]), best match only.
///
/// ```
/// assert_eq!(kalix_expr_model::closest("Inflw", ["inflow", "gauge"]), Some("inflow"));
/// ```
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    kalix_expr_core::suggest::closest(&name.to_lowercase(), candidates).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitising_follows_kalix() {
        assert_eq!(sanitize_name("climate.csv"), "climate_csv");
        assert_eq!(sanitize_name("Ünïcode-1.CSV"), "_n_code_1_csv");
        assert_eq!(sanitize_name("a b"), "a_b");
    }

    #[test]
    fn suggestions_need_a_close_match() {
        assert_eq!(closest("guage", ["gauge", "inflow"]), Some("gauge"));
        assert_eq!(closest("user", ["unregulated_user", "gauge"]), None);
        assert_eq!(closest("Inflw", ["inflow"]), Some("inflow"));
    }

    #[test]
    fn name_segments() {
        assert!(is_plain_name("flow_2") && is_plain_name("_x") && !is_plain_name("2x") && !is_plain_name("a.b"));
        assert!(is_segment("0001_gauge") && !is_segment("") && !is_segment("a b"));
    }
}
