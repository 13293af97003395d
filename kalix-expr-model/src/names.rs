//! Names in model files: Kalix's sanitising of file and column names (this crate's one rule for
//! naming data columns), and the core's name syntax and "did you mean" rule under the names
//! the loader uses.

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

pub use kalix_expr_core::host::{is_first_segment as is_plain_name, is_later_segment as is_segment};

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
