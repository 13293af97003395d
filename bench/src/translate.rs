//! Spelling an expression of ours in a peer's syntax.
//!
//! Only spelling changes, never meaning: dotted names become `sim_step`, `pow(a, b)` becomes
//! `(a)^(b)` (docs/language.md defines `pow` as `^`), `clamp(x, lo, hi)` becomes
//! `min(max(x, lo), hi)` (its definition), and `max`/`min` become a left fold of infix binary
//! operators for exmex, whose `max` is one (ours is a left fold too). Where a peer has no built-in for a
//! function, the expression is unsupported for that peer, with one exception recorded as a note:
//! fasteval has no `sqrt` or `exp`, and a fasteval user writes them `x^0.5` and `e()^x`.

/// A peer's expression syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// fasteval 0.2: `pi()` and `e()` are functions; no `sqrt`, `exp`, `pow`, `clamp` or `if`.
    Fasteval,
    /// exmex 0.21: constant `PI`; two-argument `min`/`max`; no `pow`, `clamp`, `if` or comparisons.
    Exmex,
    /// meval 0.2: constant `pi`; variadic `min`/`max`; no `pow`, `clamp`, `if` or comparisons.
    Meval,
}

/// An expression in a peer's syntax.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// The translated text.
    pub source: String,
    /// Rewrites that replace a function the peer lacks by another spelling of the same
    /// mathematics (not bit-identical): shown as a footnote beside the peer's timing.
    pub notes: Vec<&'static str>,
}

/// Translates `src` (an expression of ours) into `dialect`, or says why the peer cannot run it.
///
/// ```
/// use kalix_expr_bench::translate::{translate, Dialect};
/// let t = translate("max(const.a, sim.step, 2) + pow(x, 2)", Dialect::Exmex).unwrap();
/// assert_eq!(t.source, "(((const_a) max (sim_step)) max (2)) + (x)^(2)");
/// assert!(translate("if(x, 1, 2)", Dialect::Meval).is_err());
/// ```
pub fn translate(src: &str, dialect: Dialect) -> Result<Translation, String> {
    let mut notes = Vec::new();
    let source = expr(src, dialect, &mut notes)?;
    notes.sort_unstable();
    notes.dedup();
    Ok(Translation { source, notes })
}

/// A name as the peers spell it: dots become underscores.
pub fn peer_name(name: &str) -> String {
    name.replace('.', "_")
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn expr(src: &str, dialect: Dialect, notes: &mut Vec<&'static str>) -> Result<String, String> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = String::with_capacity(src.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|(_, d)| d.is_ascii_digit())) {
            // A number, exponent included, so that `1e3` is not read as a name `e3`.
            let mut j = i;
            while j < chars.len() && (chars[j].1.is_ascii_digit() || chars[j].1 == '.') {
                j += 1;
            }
            if j < chars.len() && matches!(chars[j].1, 'e' | 'E') {
                j += 1;
                if j < chars.len() && matches!(chars[j].1, '+' | '-') {
                    j += 1;
                }
                while j < chars.len() && chars[j].1.is_ascii_digit() {
                    j += 1;
                }
            }
            out.push_str(&src[at..end(&chars, j, src)]);
            i = j;
        } else if is_name_start(c) {
            let mut j = i;
            while j < chars.len() && is_name_char(chars[j].1) {
                j += 1;
            }
            let name = &src[at..end(&chars, j, src)];
            let mut k = j;
            while k < chars.len() && chars[k].1.is_whitespace() {
                k += 1;
            }
            if k < chars.len() && chars[k].1 == '(' {
                let close = matching(&chars, k)?;
                let inner = &src[chars[k].0 + 1..chars[close].0];
                let args = split_args(inner)
                    .into_iter()
                    .map(|a| expr(a.trim(), dialect, notes))
                    .collect::<Result<Vec<_>, _>>()?;
                out.push_str(&call(&name.to_ascii_lowercase(), &args, dialect, notes)?);
                i = close + 1;
            } else {
                out.push_str(&variable(name, dialect));
                i = j;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

/// The byte offset of char index `j` (the end of the text past the last char).
fn end(chars: &[(usize, char)], j: usize, src: &str) -> usize {
    chars.get(j).map_or(src.len(), |(at, _)| *at)
}

/// The index of the `)` that closes the `(` at `open`.
fn matching(chars: &[(usize, char)], open: usize) -> Result<usize, String> {
    let mut depth = 0usize;
    for (k, (_, c)) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(k);
                }
            }
            _ => {}
        }
    }
    Err("unclosed `(`".into())
}

/// The arguments of a call: `inner` split at commas outside parentheses.
fn split_args(inner: &str) -> Vec<&str> {
    if inner.trim().is_empty() {
        return Vec::new();
    }
    let mut args = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (at, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                args.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    args.push(&inner[start..]);
    args
}

fn variable(name: &str, dialect: Dialect) -> String {
    match (name, dialect) {
        ("pi", Dialect::Fasteval) => "pi()".into(),
        ("e", Dialect::Fasteval) => "e()".into(),
        ("pi", Dialect::Exmex) => "PI".into(),
        ("e", Dialect::Exmex) => "E".into(),
        _ => peer_name(name),
    }
}

fn call(name: &str, args: &[String], dialect: Dialect, notes: &mut Vec<&'static str>) -> Result<String, String> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("`{name}` takes {n} arguments"))
        }
    };
    Ok(match name {
        "if" => return Err("no `if` function (nor comparisons)".into()),
        "pow" => {
            arity(2)?;
            format!("({})^({})", args[0], args[1])
        }
        "clamp" => {
            arity(3)?;
            call("min", &[call("max", &args[..2], dialect, notes)?, args[2].clone()], dialect, notes)?
        }
        "max" | "min" if dialect == Dialect::Exmex => {
            // exmex's `max` is a binary operator: fold left, as ours does. Written infix, since
            // exmex 0.21 rejects a call form nested in a call form's second argument
            // (`max(a, min(b, c))` gives "parentheses mismatch").
            let mut acc = format!("({})", args.first().ok_or("`max` takes arguments")?);
            for a in &args[1..] {
                acc = format!("({acc} {name} ({a}))");
            }
            acc
        }
        "sqrt" if dialect == Dialect::Fasteval => {
            arity(1)?;
            notes.push("fasteval has no `sqrt`: timed as `x^0.5`");
            format!("({})^0.5", args[0])
        }
        "exp" if dialect == Dialect::Fasteval => {
            arity(1)?;
            notes.push("fasteval has no `exp`: timed as `e()^x`");
            format!("e()^({})", args[0])
        }
        _ => format!("{name}({})", args.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_names_become_underscored() {
        assert_eq!(translate("sim.day_of_year * const.d", Dialect::Meval).unwrap().source, "sim_day_of_year * const_d");
    }

    #[test]
    fn fasteval_spells_sqrt_exp_and_pi_its_own_way() {
        let t = translate("sqrt(abs(x)) + exp(-abs(y)) + pi", Dialect::Fasteval).unwrap();
        assert_eq!(t.source, "(abs(x))^0.5 + e()^(-abs(y)) + pi()");
        assert_eq!(t.notes.len(), 2);
    }

    #[test]
    fn clamp_is_min_of_max() {
        let t = translate("clamp(sin(2 * pi * x), -1.0, 1.0)", Dialect::Exmex).unwrap();
        assert_eq!(t.source, "((((sin(2 * PI * x)) max (-1.0))) min (1.0))");
    }

    #[test]
    fn numbers_with_exponents_are_not_names() {
        assert_eq!(translate("1e3 * x", Dialect::Fasteval).unwrap().source, "1e3 * x");
    }
}
