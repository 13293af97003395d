//! The library file: parsing it into entries that keep their exact text, and writing it back.
//! The format is described in the module docs of [`crate::library`].

use std::borrow::Cow;
use std::sync::Arc;

use crate::ast::NodeKind;
use crate::error::{Error, ErrorKind};
use crate::host::{is_plain_name, FnDef};
use crate::span::Span;

/// The format version this code reads and writes.
pub(crate) const FORMAT: u64 = 1;

/// One entry of the `[fn]` section, with its exact text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The lines, joined with `\n`, without a final newline.
    pub(crate) raw: String,
    /// The 1-based line it starts on in the file it was read from.
    pub(crate) line: usize,
    /// What it holds.
    pub(crate) parsed: Parsed,
    /// It belongs to a section other than `[fn]` (the section's header line included): kept,
    /// and written after every `[fn]` entry, so that a definition added later lands in `[fn]`.
    pub(crate) foreign: bool,
}

// Entries are built once per load and few; boxing the definition would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    /// A definition that parses (it may still be invalid within the library).
    Def(FnDef),
    /// Text that does not parse: the function's name when the signature gives one, and why.
    Broken { name: Option<String>, error: Error },
    /// Comments that belong to no definition.
    Comment,
}

impl Entry {
    /// The function's name, for a definition (even a broken one).
    pub(crate) fn name(&self) -> Option<&str> {
        match &self.parsed {
            Parsed::Def(d) => Some(d.name()),
            Parsed::Broken { name, .. } => name.as_deref(),
            Parsed::Comment => None,
        }
    }

    /// A new entry for `def`, in canonical form.
    pub(crate) fn new(def: FnDef) -> Entry {
        Entry { raw: render_def(&def), line: 0, parsed: Parsed::Def(def), foreign: false }
    }
}

/// A parsed library file.
#[derive(Debug, Default)]
pub(crate) struct File {
    /// `[library] version`, when present and valid.
    pub(crate) version: Option<u64>,
    /// `[library] format`, when present and a whole number.
    pub(crate) format: Option<u64>,
    pub(crate) entries: Vec<Entry>,
    /// Problems outside entries (the header), with their lines.
    pub(crate) problems: Vec<(usize, Error)>,
}

/// An entry's name, from its key (`Name(a, b)` or `fn.name(…)`), when it is a plain name.
fn key_name(key: &str) -> Option<String> {
    let head = key.split('(').next().unwrap_or("").trim();
    let name = head.strip_prefix("fn.").unwrap_or(head).to_lowercase();
    is_plain_name(&name).then_some(name)
}

/// Cuts a `#` comment off a value.
fn strip_comment(s: &str) -> &str {
    s.find('#').map_or(s, |i| &s[..i])
}

fn line_error(text: &str, reason: &'static str) -> Error {
    let src: Arc<str> = Arc::from(text);
    Error::new(&src, Span::new(0, text.len()), ErrorKind::LibraryInvalid { reason }, None)
}

/// A definition being read: its lines so far.
struct Building<'a> {
    start: usize,
    raw: Vec<&'a str>,
    key: &'a str,
    value: String,
    comments: Vec<&'a str>,
    not_utf8: bool,
}

impl Building<'_> {
    fn finish(self) -> Entry {
        let raw = self.raw.join("\n");
        let parsed = if self.not_utf8 {
            Parsed::Broken { name: key_name(self.key), error: line_error(&raw, "the text is not valid UTF-8") }
        } else {
            match FnDef::parse(self.key.trim(), self.value.trim()) {
                Ok(def) => Parsed::Def(with_comments(def, &self.comments)),
                Err(error) => Parsed::Broken { name: key_name(self.key), error },
            }
        };
        Entry { raw, line: self.start, parsed, foreign: false }
    }
}

/// The description and tags from `# description:` and `# tags:` comment lines.
fn with_comments(def: FnDef, comments: &[&str]) -> FnDef {
    let mut description: Vec<&str> = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    for c in comments {
        let text = c.trim().trim_start_matches('#').trim();
        let Some((key, value)) = text.split_once(':') else { continue };
        match key.trim().to_ascii_lowercase().as_str() {
            "description" => description.push(value.trim()),
            "tags" => {
                for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if !tags.iter().any(|x| x == t) {
                        tags.push(t.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    let def = if description.is_empty() { def } else { def.with_description(description.join(" ")) };
    if tags.is_empty() {
        def
    } else {
        def.with_tags(tags)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    /// Before any section: comments are the header; definitions are accepted.
    Top,
    Library,
    Fn,
    Unknown,
}

/// Splits bytes into lines (`\n`, with a `\r` before it dropped), each as text and whether it
/// was valid UTF-8 (invalid bytes become U+FFFD).
fn lines(bytes: &[u8]) -> Vec<(Cow<'_, str>, bool)> {
    let mut out: Vec<(Cow<'_, str>, bool)> = bytes
        .split(|b| *b == b'\n')
        .map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            match std::str::from_utf8(l) {
                Ok(s) => (Cow::Borrowed(s), true),
                Err(_) => (String::from_utf8_lossy(l), false),
            }
        })
        .collect();
    // The final newline ends the last line; it does not start another.
    if out.last().is_some_and(|(l, _)| l.is_empty()) {
        out.pop();
    }
    out
}

/// Parses a library file. Never fails: whatever is not understood becomes a broken entry
/// (kept as text) or a header problem.
pub(crate) fn parse_file(bytes: &[u8]) -> File {
    let lines = lines(bytes);
    let mut file = File::default();
    let mut section = Section::Top;
    // Comment lines waiting for the definition below them: (line number, text, valid UTF-8).
    let mut pending: Vec<(usize, &str, bool)> = Vec::new();
    let mut current: Option<Building<'_>> = None;

    // Pending comments that no definition claims: kept as an entry in `[fn]`, dropped in the
    // header (which is rewritten).
    fn flush(pending: &mut Vec<(usize, &str, bool)>, section: Section, file: &mut File) {
        if pending.is_empty() {
            return;
        }
        if matches!(section, Section::Fn | Section::Unknown) {
            let raw = pending.iter().map(|(_, l, _)| *l).collect::<Vec<_>>().join("\n");
            let parsed = if pending.iter().all(|(_, _, ok)| *ok) {
                Parsed::Comment
            } else {
                Parsed::Broken { name: None, error: line_error(&raw, "the text is not valid UTF-8") }
            };
            file.entries.push(Entry { raw, line: pending[0].0, parsed, foreign: section == Section::Unknown });
        }
        pending.clear();
    }

    for (i, (line, ok)) in lines.iter().enumerate() {
        let n = i + 1;
        let line: &str = line;
        let trimmed = line.trim();
        if let Some(b) = current.as_mut() {
            if line.starts_with([' ', '\t']) && !trimmed.is_empty() {
                b.raw.push(line);
                b.not_utf8 |= !ok;
                let more = strip_comment(trimmed).trim();
                if !more.is_empty() {
                    b.value.push(' ');
                    b.value.push_str(more);
                }
                continue;
            }
        }
        if let Some(b) = current.take() {
            file.entries.push(b.finish());
        }
        if trimmed.is_empty() {
            flush(&mut pending, section, &mut file);
            continue;
        }
        if trimmed.starts_with('#') {
            pending.push((n, line, *ok));
            continue;
        }
        if trimmed.starts_with('[') {
            flush(&mut pending, section, &mut file);
            section = match trimmed.to_ascii_lowercase().as_str() {
                "[fn]" => Section::Fn,
                "[library]" => Section::Library,
                _ => {
                    let error = line_error(line, "a section other than `[library]` and `[fn]`");
                    file.entries.push(Entry {
                        raw: line.to_string(),
                        line: n,
                        parsed: Parsed::Broken { name: None, error },
                        foreign: true,
                    });
                    Section::Unknown
                }
            };
            continue;
        }
        match section {
            Section::Library => {
                pending.clear();
                header_line(line, n, &mut file);
            }
            Section::Top | Section::Fn => match line.split_once('=') {
                Some((key, value)) if *ok && !line.starts_with([' ', '\t']) => {
                    let start = pending.first().map_or(n, |p| p.0);
                    let not_utf8 = pending.iter().any(|p| !p.2);
                    let comments: Vec<&str> = pending.iter().map(|p| p.1).collect();
                    let mut raw = comments.clone();
                    raw.push(line);
                    pending.clear();
                    current = Some(Building {
                        start,
                        raw,
                        key,
                        value: strip_comment(value).trim().to_string(),
                        comments,
                        not_utf8,
                    });
                }
                split => {
                    let start = pending.first().map_or(n, |p| p.0);
                    let mut raw: Vec<&str> = pending.iter().map(|p| p.1).collect();
                    raw.push(line);
                    pending.clear();
                    let raw = raw.join("\n");
                    let (name, reason) = match split {
                        Some((key, _)) if !ok => (key_name(key), "the text is not valid UTF-8"),
                        _ if !ok => (None, "the text is not valid UTF-8"),
                        _ if line.starts_with([' ', '\t']) => {
                            (None, "an indented line continues a definition, but none precedes it")
                        }
                        _ => (None, "expected a definition `name(a, b) = body`, a comment or a section"),
                    };
                    file.entries.push(Entry {
                        raw: raw.clone(),
                        line: start,
                        parsed: Parsed::Broken { name, error: line_error(&raw, reason) },
                        foreign: false,
                    });
                }
            },
            Section::Unknown => {
                let mut raw: Vec<&str> = pending.iter().map(|p| p.1).collect();
                let start = pending.first().map_or(n, |p| p.0);
                raw.push(line);
                pending.clear();
                let raw = raw.join("\n");
                let error = line_error(&raw, "a line in a section other than `[library]` and `[fn]`");
                file.entries.push(Entry {
                    raw,
                    line: start,
                    parsed: Parsed::Broken { name: None, error },
                    foreign: true,
                });
            }
        }
    }
    if let Some(b) = current.take() {
        file.entries.push(b.finish());
    }
    flush(&mut pending, section, &mut file);
    file
}

/// A `key = value` line of `[library]`.
fn header_line(line: &str, n: usize, file: &mut File) {
    let value_of = |v: &str| strip_comment(v).trim().parse::<u64>().ok();
    match line.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("version") => match value_of(v) {
            Some(v) => file.version = Some(v),
            None => file.problems.push((n, line_error(line, "the version is not a whole number"))),
        },
        Some((k, v)) if k.trim().eq_ignore_ascii_case("format") => {
            file.format = value_of(v);
            if value_of(v) != Some(FORMAT) {
                file.problems.push((n, line_error(line, "an unknown format (this version reads format 1)")));
            }
        }
        Some(_) => file.problems.push((n, line_error(line, "an unknown key in `[library]` (it is dropped)"))),
        None => file.problems.push((n, line_error(line, "expected `format = 1` or `version = <n>`"))),
    }
}

/// The canonical text of a definition: its description and tags as comment lines, then
/// `name(a, b) = body`, with each further line of the body indented as a continuation.
pub(crate) fn render_def(def: &FnDef) -> String {
    let mut out = String::new();
    if let Some(d) = def.description() {
        let d: Vec<&str> = d.split_whitespace().collect();
        out.push_str("# description: ");
        out.push_str(&d.join(" "));
        out.push('\n');
    }
    if !def.tags().is_empty() {
        out.push_str("# tags: ");
        out.push_str(&def.tags().join(", "));
        out.push('\n');
    }
    out.push_str(&format!("{}({}) = ", def.name(), def.params().join(", ")));
    let mut first = true;
    for l in def.body().source().lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !first {
            out.push_str("\n    ");
        }
        out.push_str(l);
        first = false;
    }
    out
}

/// The whole file: the header, then every entry.
pub(crate) fn render_file(version: u64, entries: &[Entry]) -> String {
    let mut out = format!(
        "# Kalix function library: user functions, called in expressions as `fn.<name>(…)`.\n\
         # Edit it with `kexpr fn`, or by hand: the format is described in kalix-expr-core's `library` module.\n\
         [library]\nformat = {FORMAT}\nversion = {version}\n\n[fn]\n"
    );
    // Sections other than `[fn]` go last, whole, so that nothing written to `[fn]` ends up
    // under another section's header.
    for e in entries.iter().filter(|e| !e.foreign).chain(entries.iter().filter(|e| e.foreign)) {
        out.push('\n');
        out.push_str(&e.raw);
        out.push('\n');
    }
    out
}

/// Why a tag cannot be written, if it cannot.
pub(crate) fn tag_problem(tag: &str) -> Option<&'static str> {
    if tag.trim().is_empty() {
        Some("a tag is empty")
    } else if tag.contains([',', '#']) || tag.chars().any(char::is_control) {
        Some("a tag may not hold `,`, `#` or a line break")
    } else if tag.trim() != tag {
        Some("a tag may not start or end with a space")
    } else {
        None
    }
}

/// The call spans of `fn.<name>` in a body, in order.
pub(crate) fn call_spans(def: &FnDef, name: &str) -> Vec<Span> {
    let target = format!("fn.{name}");
    def.body()
        .ast()
        .nodes()
        .into_iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Call { name, .. } if name.text.eq_ignore_ascii_case(&target) => Some(name.span),
            _ => None,
        })
        .collect()
}

/// Parses one definition as it is written in the library file: optional comment lines
/// (`# description: …`, `# tags: a, b`), then `name(a, b) = body`, with continuation lines
/// indented (as `kexpr fn add` takes it).
///
/// ```
/// use kalix_expr_core::library::parse_definition;
/// let def = parse_definition("# description: fill fraction\n# tags: storage\nfrac(v, cap) = v / cap")?;
/// assert_eq!((def.name(), def.description(), def.tags()), ("frac", Some("fill fraction"), &["storage".to_string()][..]));
/// assert!(parse_definition("frac(v, cap)").is_err());
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
pub fn parse_definition(text: &str) -> Result<FnDef, crate::Error> {
    let mut file = parse_file(format!("[fn]\n{}\n", text.trim_end()).as_bytes());
    let mut defs = file.entries.drain(..).filter(|e| !matches!(e.parsed, Parsed::Comment));
    let one = defs.next();
    let more = defs.next().is_some();
    match one {
        Some(Entry { parsed: Parsed::Def(def), .. }) if !more => Ok(def),
        Some(Entry { parsed: Parsed::Broken { error, .. }, .. }) => Err(error),
        _ => Err(line_error(text, "expected one definition `name(a, b) = body`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(f: &File) -> Vec<String> {
        f.entries
            .iter()
            .map(|e| match &e.parsed {
                Parsed::Def(d) => format!("{}@{}", d.name(), e.line),
                Parsed::Broken { name, .. } => format!("broken:{}@{}", name.as_deref().unwrap_or("?"), e.line),
                Parsed::Comment => format!("comment@{}", e.line),
            })
            .collect()
    }

    #[test]
    fn entries_keep_their_comments_and_continuations() {
        let text = "# header\n[library]\nformat = 1\nversion = 7\n\n[fn]\n# description: one\n# tags: a, b, a\n\
                    # other\nf(x) = x +  # trailing\n   1\n\n# loose\n\ng(y) = fn.f(y)\n";
        let f = parse_file(text.as_bytes());
        assert_eq!(f.version, Some(7));
        assert!(f.problems.is_empty());
        assert_eq!(kinds(&f), ["f@7", "comment@13", "g@15"]);
        let Parsed::Def(d) = &f.entries[0].parsed else { unreachable!() };
        assert_eq!(d.body().source(), "x + 1");
        assert_eq!(d.description(), Some("one"));
        assert_eq!(d.tags(), ["a", "b"]);
        assert_eq!(f.entries[0].raw, "# description: one\n# tags: a, b, a\n# other\nf(x) = x +  # trailing\n   1");
    }

    #[test]
    fn junk_is_kept_as_broken_entries() {
        let text = b"[fn]\ngarbage\n  orphan\nf(x = 1\nok() = 1\n[weird]\nk = v\n";
        let f = parse_file(text);
        assert_eq!(kinds(&f), ["broken:?@2", "broken:?@3", "broken:f@4", "ok@5", "broken:?@6", "broken:?@7"]);
    }

    #[test]
    fn invalid_utf8_breaks_only_its_entry() {
        let mut text = b"[fn]\na(x) = x\n\n# description: caf".to_vec();
        text.extend_from_slice(&[0xE9, b'\n']);
        text.extend_from_slice(b"b(x) = x\n\nc(x) = x\n");
        let f = parse_file(&text);
        assert_eq!(kinds(&f), ["a@2", "broken:b@4", "c@7"]);
    }

    #[test]
    fn header_problems_name_their_line() {
        let f = parse_file(b"[library]\nformat = 2\nversion = x\ncolour = red\n[fn]\n");
        let lines: Vec<usize> = f.problems.iter().map(|p| p.0).collect();
        assert_eq!(lines, [2, 3, 4]);
    }

    #[test]
    fn a_rendered_definition_reads_back_the_same() {
        let def = FnDef::parse("f(a, b)", "{ c = a * b;\n   assert(c > 0);\n c }")
            .unwrap()
            .with_description("line one\nline two")
            .with_tags(["x", "y"]);
        let text = render_file(3, &[Entry::new(def)]);
        let f = parse_file(text.as_bytes());
        assert_eq!(f.version, Some(3));
        let Parsed::Def(d) = &f.entries[0].parsed else { panic!("{text}") };
        assert_eq!(d.body().source(), "{ c = a * b; assert(c > 0); c }");
        assert_eq!(d.description(), Some("line one line two"));
        assert_eq!(d.tags(), ["x", "y"]);
        assert_eq!(render_file(3, &f.entries), text);
    }
}
