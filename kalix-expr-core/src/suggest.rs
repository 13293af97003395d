//! "Did you mean" suggestions: close edit-distance matches plus a short table of synonyms.

use crate::builtins::{BUILTINS, SYNONYMS};

/// Levenshtein distance between two short strings, by chars, case-insensitively.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidates closest to `name` (at most two edits, one for names of up to three chars),
/// best first, at most three.
pub(crate) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    if name.chars().count() > 64 {
        return Vec::new();
    }
    let limit = if name.chars().count() <= 3 { 1 } else { 2 };
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| !c.eq_ignore_ascii_case(name))
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// "did you mean `a`?" / "did you mean `a` or `b`?", or `None` for no candidates.
pub(crate) fn did_you_mean(options: &[&str]) -> Option<String> {
    match options {
        [] => None,
        [one] => Some(format!("did you mean `{one}`?")),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|o| format!("`{o}`")).collect();
            Some(format!("did you mean {} or `{last}`?", init.join(", ")))
        }
    }
}

/// The help line for an unknown function.
pub(crate) fn unknown_function(name: &str) -> Option<String> {
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
        assert_eq!(unknown_function("lg10").as_deref(), Some("did you mean `log10`?"));
        assert_eq!(unknown_function("log").as_deref(), Some("did you mean `ln` or `log10`?"));
        assert_eq!(unknown_function("average").as_deref(), Some("did you mean `mean`?"));
        assert_eq!(unknown_function("sqr").as_deref(), Some("did you mean `sqrt`?"));
        assert_eq!(unknown_function("zzzzzz"), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("Max", "max"), 0);
        assert_eq!(closest("rian", ["rain", "loss"]), vec!["rain"]);
    }
}
