//! "Did you mean" suggestions: close edit-distance matches plus a short table of synonyms. The
//! one implementation behind every suggestion of the project, the model loader's and the
//! command's included.

use crate::builtins::{BUILTINS, SYNONYMS};
use crate::error::Help;

/// Edit distance between two short strings, by chars, case-insensitively: insertions,
/// deletions, substitutions and transpositions of neighbours (`rian` → `rain` is one edit).
///
/// The one measure behind every "did you mean" of the project (the model loader's too).
///
/// ```
/// assert_eq!(kalix_expr_core::edit_distance("guage", "Gauge"), 1);
/// ```
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidates closest to `name`, best first, at most three: two edits for names of five
/// chars or more, one for three or four, none but case for shorter ones (where one edit reaches
/// every other short name).
///
/// ```
/// use kalix_expr_core::suggest::closest;
/// assert_eq!(closest("guage", ["gauge", "inflow"]), ["gauge"]);
/// assert!(closest("user", ["unregulated_user"]).is_empty());
/// ```
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    if name.chars().count() > 64 {
        return Vec::new();
    }
    let limit = match name.chars().count() {
        0..=2 => 0,
        3..=4 => 1,
        _ => 2,
    };
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// "did you mean `a`?" / "did you mean `a` or `b`?" proposing `options`, or `None` for no
/// candidates (a [`Help`] carries the names as data too).
///
/// ```
/// use kalix_expr_core::suggest::did_you_mean;
/// let h = did_you_mean(&["ln", "log10"]).unwrap();
/// assert_eq!(h.text(), "did you mean `ln` or `log10`?");
/// ```
pub fn did_you_mean<S: AsRef<str>>(options: &[S]) -> Option<Help> {
    Help::did_you_mean(options)
}

/// The help line for an unknown function.
pub(crate) fn unknown_function(name: &str) -> Option<Help> {
    let lower = name.to_lowercase();
    if let Some((_, to)) = SYNONYMS.iter().find(|(from, _)| *from == lower) {
        return did_you_mean(to);
    }
    if lower.starts_with("fn.") {
        return Some("user functions are defined in a model's `[fn]` section".into());
    }
    if lower.starts_with("table.") {
        return Some("lookup tables are defined in a model's `[table.<name>]` sections".into());
    }
    if matches!(lower.as_str(), "sinh" | "cosh" | "tanh" | "asinh" | "acosh" | "atanh") {
        return Some("hyperbolic functions are not built in; write them with `exp`".into());
    }
    did_you_mean(&closest(name, BUILTINS.iter().map(|b| b.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_builtins_and_synonyms() {
        assert_eq!(unknown_function("lg10").as_ref().map(Help::text), Some("did you mean `log10`?"));
        assert_eq!(unknown_function("log").as_ref().map(Help::text), Some("did you mean `ln` or `log10`?"));
        assert_eq!(unknown_function("average").as_ref().map(Help::text), Some("did you mean `mean`?"));
        assert_eq!(unknown_function("sqr").as_ref().map(Help::text), Some("did you mean `sqrt`?"));
        assert_eq!(unknown_function("zzzzzz"), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("Max", "max"), 0);
        assert_eq!(distance("rian", "rain"), 1);
        assert_eq!(closest("rian", ["rain", "loss"]), vec!["rain"]);
    }
}
