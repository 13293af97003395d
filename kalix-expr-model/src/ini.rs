//! The INI dialect of Kalix model files (docs/language.md), read the way the Kalix engine reads
//! it, keeping the position of every piece so problems can be shown in the file.
//!
//! - `[section]` headers; `key = value` split at the **first** `=`; a line without `=` is a
//!   list item (`[data]`, `[outputs]`).
//! - A line starting with a space or tab continues the previous value, joined with one space.
//!   Indented blank (or comment-only) lines are skipped; an unindented blank or comment line
//!   ends the value.
//! - `#` starts a comment, whole-line or inline, except inside double quotes (`\` escapes the
//!   next character there). `;` is not a comment: it ends statements in blocks.
//! - `${NAME}` and `${NAME:-fallback}` in values are replaced by environment variables.
//! - A repeated key replaces the earlier value but keeps its place; a repeated section replaces
//!   the whole earlier section (both as Kalix does, and both with a warning).

use std::collections::HashMap;
use std::sync::Arc;

use crate::diag::{Diagnostic, Kind, Location, SourceFile};

/// A value (or key) as read: its text, and where each piece of it came from in the file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Text {
    text: String,
    segments: Vec<Segment>,
    /// A `${NAME}` in it could not be substituted (the error is reported): the loader reads
    /// nothing more into it, so one cause gives one diagnostic.
    broken: bool,
}

/// A run of a [`Text`] and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// Byte offset in the text.
    at: usize,
    /// Length in the text.
    len: usize,
    /// Byte offset in the file.
    file: usize,
    /// Length in the file: equal to `len` for text copied from the file; the length of
    /// `${NAME}` for a substitution; 0 for the space joining two lines.
    file_len: usize,
}

impl Segment {
    fn verbatim(&self) -> bool {
        self.len == self.file_len
    }
}

impl Text {
    /// Text copied verbatim from the file at byte `file`.
    pub fn verbatim(text: &str, file: usize) -> Text {
        Text {
            text: text.to_string(),
            segments: vec![Segment { at: 0, len: text.len(), file, file_len: text.len() }],
            broken: false,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The part `start..end` of the text (byte offsets on `char` boundaries), with each of its
    /// bytes still mapped to where it came from in the file.
    pub fn slice(&self, start: usize, end: usize) -> Text {
        let mut out = Text { broken: self.broken, ..Text::default() };
        let end = end.min(self.text.len());
        for s in &self.segments {
            let (from, to) = (s.at.max(start), (s.at + s.len).min(end));
            if from >= to && !(s.len == 0 && s.at >= start && s.at < end) {
                continue;
            }
            let piece = &self.text[from..to.max(from)];
            if s.verbatim() {
                out.push(piece, s.file + (from - s.at), piece.len());
            } else {
                out.push(piece, s.file, s.file_len);
            }
        }
        out
    }

    /// The file byte where text byte `at` came from.
    pub fn file_offset(&self, at: usize) -> usize {
        let i = self.segments.partition_point(|s| s.at <= at);
        let Some(s) = i.checked_sub(1).and_then(|i| self.segments.get(i)) else {
            return self.segments.first().map_or(0, |s| s.file);
        };
        if s.verbatim() {
            s.file + (at - s.at).min(s.len)
        } else {
            s.file
        }
    }

    /// The file range of text range `start..end`.
    pub fn file_range(&self, start: usize, end: usize) -> (usize, usize) {
        let from = self.file_offset(start);
        if end <= start {
            return (from, from);
        }
        // The segment holding the last byte of the range.
        let i = self.segments.partition_point(|s| s.at < end);
        let to = match i.checked_sub(1).and_then(|i| self.segments.get(i)) {
            Some(s) if s.verbatim() => s.file + (end - s.at).min(s.len),
            Some(s) => s.file + s.file_len,
            None => from,
        };
        (from, to.max(from))
    }

    /// The [`Location`] of text range `start..end` in `file`.
    pub fn location(&self, file: &Arc<SourceFile>, start: usize, end: usize) -> Location {
        let (from, to) = self.file_range(start, end);
        Location::new(file, from, to)
    }

    /// The [`Location`] of the whole text.
    pub fn whole(&self, file: &Arc<SourceFile>) -> Location {
        self.location(file, 0, self.text.len())
    }

    /// Whether a `${NAME}` in it could not be substituted (its error is already reported).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    fn push(&mut self, text: &str, file: usize, file_len: usize) {
        self.segments.push(Segment { at: self.text.len(), len: text.len(), file, file_len });
        self.text.push_str(text);
    }
}

/// One line of a section: `key = value`, or a list item (`value` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key as written (trimmed), or the whole item of a list line.
    pub key: Text,
    /// The value, trimmed, continuation lines joined with a space.
    pub value: Option<Text>,
}

/// A `[section]` and its entries in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The name between the brackets, trimmed.
    pub name: String,
    /// The name's place in the file.
    pub name_at: (usize, usize),
    /// The entries.
    pub entries: Vec<Entry>,
}

/// A whole model file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// The sections in file order (a repeated section keeps its first place).
    pub sections: Vec<Section>,
}

/// Looks up an environment variable; `None` when it is not set.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A value being read: its trimmed pieces, one per line, each with its file offset.
struct Pending {
    section: usize,
    entry: usize,
    pieces: Vec<(usize, String)>,
    /// Where an empty value is: right after the `=`.
    empty_at: usize,
}

/// Reads `file` into a [`Document`]. Problems do not stop the reading: every one is returned.
pub fn read(file: &Arc<SourceFile>, env: EnvLookup<'_>) -> (Document, Vec<Diagnostic>) {
    let mut reader = Reader {
        file,
        env,
        doc: Document::default(),
        diags: Vec::new(),
        section: None,
        section_index: HashMap::new(),
        key_index: Vec::new(),
    };
    let text = file.text();
    let mut pending: Option<Pending> = None;
    // A byte-order mark before the first line is skipped, as for data files.
    let bom = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut line_start = bom;
    for raw in text[bom..].split('\n') {
        let start = line_start;
        line_start += raw.len() + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let code = match strip_comment(line) {
            Ok(code) => code,
            Err(quote) => {
                reader.diags.push(
                    Diagnostic::error(
                        Kind::Ini,
                        Some(Location::new(file, start + quote, start + quote + 1)),
                        "unterminated `\"`",
                    )
                    .with_help("close the quote; inside quotes `#` does not start a comment"),
                );
                // Read the line as if the quote were closed at its end.
                line
            }
        };
        let indented = line.starts_with([' ', '\t']);
        let trimmed = code.trim();
        let at = start + (code.len() - code.trim_start().len());
        if indented {
            if let Some(p) = pending.as_mut() {
                if !trimmed.is_empty() {
                    p.pieces.push((at, trimmed.to_string()));
                }
                continue;
            }
        }
        if trimmed.is_empty() {
            // A blank or comment line ends a value being continued.
            reader.finish(pending.take());
            continue;
        }
        reader.finish(pending.take());
        if let Some(rest) = trimmed.strip_prefix('[') {
            reader.header(rest, at);
        } else if let Some(eq) = trimmed.find('=') {
            let key_raw = &trimmed[..eq];
            let key = key_raw.trim_end();
            let value_raw = &trimmed[eq + 1..];
            let value = value_raw.trim_start();
            let value_at = at + eq + 1 + (value_raw.len() - value.len());
            if let Some((section, entry)) = reader.entry(Text::verbatim(key, at), true) {
                let pieces = if value.is_empty() { Vec::new() } else { vec![(value_at, value.to_string())] };
                pending = Some(Pending { section, entry, pieces, empty_at: value_at });
            }
        } else {
            let item = reader.substitute(trimmed, at);
            reader.entry(item, false);
        }
    }
    reader.finish(pending.take());
    (reader.doc, reader.diags)
}

/// The code part of a line: everything before a `#` that is outside double quotes. `Err` holds
/// the byte offset of an unterminated quote.
fn strip_comment(line: &str) -> Result<&str, usize> {
    let mut quote: Option<usize> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quote = if quote.is_some() { None } else { Some(i) },
            '#' if quote.is_none() => return Ok(&line[..i]),
            _ => {}
        }
    }
    match quote {
        Some(q) => Err(q),
        None => Ok(line),
    }
}

struct Reader<'a> {
    file: &'a Arc<SourceFile>,
    env: EnvLookup<'a>,
    doc: Document,
    diags: Vec<Diagnostic>,
    /// The current section, or `None` before the first header or after a malformed one.
    section: Option<Result<usize, ()>>,
    /// Each section's index by name, so a file of 100,000 sections reads in linear time.
    section_index: HashMap<String, usize>,
    /// Each section's keys, with the entry index of each.
    key_index: Vec<HashMap<String, usize>>,
}

impl Reader<'_> {
    fn loc(&self, start: usize, end: usize) -> Option<Location> {
        Some(Location::new(self.file, start, end))
    }

    /// A `[name]` line; `rest` follows the `[`, which is at file byte `at`.
    fn header(&mut self, rest: &str, at: usize) {
        let Some(inner) = rest.strip_suffix(']') else {
            self.diags.push(
                Diagnostic::error(Kind::Ini, self.loc(at, at + 1 + rest.len()), "malformed section header")
                    .with_help("a section header is `[name]` alone on its line"),
            );
            self.section = Some(Err(()));
            return;
        };
        let name = inner.trim();
        let name_at = at + 1 + (inner.len() - inner.trim_start().len());
        let span = (name_at, name_at + name.len());
        if name.is_empty() {
            self.diags.push(Diagnostic::error(Kind::Ini, self.loc(at, at + 1 + rest.len()), "empty section name"));
            self.section = Some(Err(()));
            return;
        }
        if let Some(&i) = self.section_index.get(name) {
            let (first, _) = self.file.line_col(self.doc.sections[i].name_at.0);
            self.diags.push(
                Diagnostic::warning(Kind::Ini, self.loc(span.0, span.1), format!("section `[{name}]` appears again"))
                    .with_help(format!(
                        "Kalix keeps only the last `[{name}]`: the one on line {first} and its keys are discarded"
                    )),
            );
            self.doc.sections[i].entries.clear();
            self.key_index[i].clear();
            self.doc.sections[i].name_at = span;
            self.section = Some(Ok(i));
            return;
        }
        self.section_index.insert(name.to_string(), self.doc.sections.len());
        self.key_index.push(HashMap::new());
        self.doc.sections.push(Section { name: name.to_string(), name_at: span, entries: Vec::new() });
        self.section = Some(Ok(self.doc.sections.len() - 1));
    }

    /// Adds an entry to the current section; returns where it went.
    fn entry(&mut self, key: Text, has_value: bool) -> Option<(usize, usize)> {
        let key_loc = key.whole(self.file);
        let section = match self.section {
            Some(Ok(s)) => s,
            // After a malformed header: already reported.
            Some(Err(())) => return None,
            None => {
                let message = if has_value {
                    format!("property `{}` outside of any section", key.as_str())
                } else {
                    format!("list item `{}` outside of any section", key.as_str())
                };
                self.diags.push(
                    Diagnostic::error(Kind::Ini, Some(key_loc), message).with_help("put it under a `[section]` header"),
                );
                return None;
            }
        };
        if has_value && key.as_str().is_empty() {
            self.diags.push(Diagnostic::error(Kind::Ini, Some(key_loc), "missing key before `=`"));
            return None;
        }
        let entry = Entry { key, value: has_value.then(Text::default) };
        let entries = &mut self.doc.sections[section].entries;
        let keys = &mut self.key_index[section];
        if let Some(&i) = keys.get(entry.key.as_str()) {
            let (first, _) = self.file.line_col(entries[i].key.file_offset(0));
            let what = if has_value { "key" } else { "item" };
            self.diags.push(
                Diagnostic::warning(Kind::Ini, Some(key_loc), format!("{what} `{}` appears again", entry.key.as_str()))
                    .with_help(format!("Kalix keeps the last value; the one on line {first} is discarded")),
            );
            entries[i] = entry;
            return Some((section, i));
        }
        keys.insert(entry.key.as_str().to_string(), entries.len());
        entries.push(entry);
        Some((section, entries.len() - 1))
    }

    /// Joins a value's pieces and stores it.
    fn finish(&mut self, pending: Option<Pending>) {
        let Some(p) = pending else { return };
        let mut value = Text::default();
        for (i, (at, piece)) in p.pieces.iter().enumerate() {
            if i > 0 {
                // The joining space belongs to no file text: it points at the end of the line before.
                let (prev_at, prev) = &p.pieces[i - 1];
                value.push(" ", prev_at + prev.len(), 0);
            }
            let sub = self.substitute(piece, *at);
            value.broken |= sub.broken;
            for s in &sub.segments {
                value.push(&sub.text[s.at..s.at + s.len], s.file, s.file_len);
            }
        }
        if value.segments.is_empty() {
            // An empty value still has a place: right after the `=`.
            value.segments.push(Segment { at: 0, len: 0, file: p.empty_at, file_len: 0 });
        }
        self.doc.sections[p.section].entries[p.entry].value = Some(value);
    }

    /// `piece` (from file byte `at`) with `${NAME}` and `${NAME:-fallback}` replaced.
    fn substitute(&mut self, piece: &str, at: usize) -> Text {
        let mut out = Text::default();
        let mut rest = piece;
        let mut pos = at;
        while let Some(i) = rest.find("${") {
            if i > 0 {
                out.push(&rest[..i], pos, i);
            }
            let here = pos + i;
            let after = &rest[i + 2..];
            let Some(close) = after.find('}') else {
                self.diags.push(
                    Diagnostic::error(Kind::Ini, self.loc(here, here + 2), "unterminated `${`")
                        .with_help("write `${NAME}` or `${NAME:-fallback}`"),
                );
                out.push(&rest[i..], here, rest.len() - i);
                out.broken = true;
                return out;
            };
            let inner = &after[..close];
            let whole = close + 3;
            let (name, fallback) = match inner.split_once(":-") {
                Some((n, f)) => (n, Some(f)),
                None => (inner, None),
            };
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let replacement = if !valid {
                self.diags.push(
                    Diagnostic::error(
                        Kind::Ini,
                        self.loc(here, here + whole),
                        format!("invalid environment variable name `{name}`"),
                    )
                    .with_help("a name is letters, digits and `_`, not starting with a digit"),
                );
                out.broken = true;
                String::new()
            } else {
                match ((self.env)(name), fallback) {
                    (Some(v), Some(f)) if v.is_empty() => f.to_string(),
                    (Some(v), _) => v,
                    (None, Some(f)) => f.to_string(),
                    (None, None) => {
                        self.diags.push(
                            Diagnostic::error(
                                Kind::Ini,
                                self.loc(here, here + whole),
                                format!("environment variable `{name}` is not set"),
                            )
                            .with_help(format!("set it, or give a fallback: `${{{name}:-value}}`")),
                        );
                        out.broken = true;
                        String::new()
                    }
                }
            };
            out.push(&replacement, here, whole);
            rest = &rest[i + whole..];
            pos = here + whole;
        }
        if !rest.is_empty() || out.segments.is_empty() {
            out.push(rest, pos, rest.len());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME_DIR" => Some("/data".into()),
            "EMPTY" => Some(String::new()),
            "LONG" => Some("a_longer_value".into()),
            _ => None,
        }
    }

    fn read_str(text: &str) -> (Arc<SourceFile>, Document, Vec<Diagnostic>) {
        let file = Arc::new(SourceFile::new("m.ini", text));
        let (doc, diags) = read(&file, &env);
        (file, doc, diags)
    }

    /// `(section, key, value)` of every entry.
    fn entries(doc: &Document) -> Vec<(String, String, Option<String>)> {
        doc.sections
            .iter()
            .flat_map(|s| {
                s.entries.iter().map(|e| {
                    (s.name.clone(), e.key.as_str().to_string(), e.value.as_ref().map(|v| v.as_str().to_string()))
                })
            })
            .collect()
    }

    fn kv(section: &str, key: &str, value: &str) -> (String, String, Option<String>) {
        (section.into(), key.into(), Some(value.into()))
    }

    #[test]
    fn keys_split_at_the_first_equals() {
        let (_, doc, diags) = read_str("[fn]\nf(a, b) = if(a == b, 1, 0)\n[x]\nk==v\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(entries(&doc), vec![kv("fn", "f(a, b)", "if(a == b, 1, 0)"), kv("x", "k", "=v")]);
    }

    #[test]
    fn indented_lines_continue_the_value_with_one_space() {
        let text = "[var.b]\nk = { a = 1;\n\t  assert(a > 0);   # why\n  \n  # only a comment\n    a }\nnext = 2\n";
        let (_, doc, diags) = read_str(text);
        assert!(diags.is_empty(), "{diags:?}");
        // The indented blank line does not end the value; the indented comment line is skipped.
        assert_eq!(entries(&doc), vec![kv("var.b", "k", "{ a = 1; assert(a > 0); a }"), kv("var.b", "next", "2")]);
        // Indented lines holding `=` continue the value too.
        let (_, doc, _) = read_str("[var.b]\nk = { a = 1;\n    b = 2;\n    a + b }\n");
        assert_eq!(entries(&doc), vec![kv("var.b", "k", "{ a = 1; b = 2; a + b }")]);
    }

    #[test]
    fn an_empty_or_unindented_comment_line_ends_the_value() {
        let (_, doc, _) = read_str("[t]\nvalues = 1, 2,\n\n  3, 4\n");
        assert_eq!(entries(&doc), vec![kv("t", "values", "1, 2,"), ("t".into(), "3, 4".into(), None)]);
        let (_, doc, _) = read_str("[t]\nvalues = 1, 2,\n# note\n  3, 4\n");
        assert_eq!(entries(&doc)[0], kv("t", "values", "1, 2,"));
    }

    #[test]
    fn hash_starts_a_comment_except_inside_quotes_and_semicolon_never_does() {
        let (_, doc, diags) = read_str("[a]\nk = 1 # one\nq = \"a # b\" # c\nb = { x = 1; x } ; y\ne = \\# not\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            entries(&doc),
            vec![
                kv("a", "k", "1"),
                kv("a", "q", "\"a # b\""),
                kv("a", "b", "{ x = 1; x } ; y"),
                kv("a", "e", "\\# not")
            ]
        );
    }

    #[test]
    fn an_unterminated_quote_is_an_error_at_the_quote() {
        let (file, _, diags) = read_str("[a]\nk = \"abc # d\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].message, "unterminated `\"`");
        let at = diags[0].at.as_ref().unwrap();
        assert_eq!(file.line_col(at.start), (2, 5));
    }

    #[test]
    fn list_lines_are_items() {
        let (_, doc, diags) = read_str("[data]\n../data.csv\nclimate = c.csv\n[outputs]\nnode.a.ds_1\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            entries(&doc),
            vec![
                ("data".into(), "../data.csv".into(), None),
                kv("data", "climate", "c.csv"),
                ("outputs".into(), "node.a.ds_1".into(), None)
            ]
        );
    }

    #[test]
    fn structure_errors_name_their_line() {
        let (file, _, diags) = read_str("k = 1\n[broken\nx = 2\n[]\n[ok]\n = 3\n");
        let found: Vec<(String, (usize, usize))> =
            diags.iter().map(|d| (d.message.clone(), file.line_col(d.at.as_ref().unwrap().start))).collect();
        assert_eq!(
            found,
            vec![
                ("property `k` outside of any section".into(), (1, 1)),
                ("malformed section header".into(), (2, 1)),
                ("empty section name".into(), (4, 1)),
                ("missing key before `=`".into(), (6, 2)),
            ]
        );
    }

    #[test]
    fn repeats_replace_as_kalix_does_with_a_warning() {
        let (_, doc, diags) = read_str("[a]\nk = 1\nj = 2\nk = 3\n[b]\nx = 1\n[a]\nz = 9\n");
        assert_eq!(diags.len(), 2);
        assert!(diags.iter().all(|d| !d.is_error()));
        assert_eq!(entries(&doc), vec![kv("a", "z", "9"), kv("b", "x", "1")]);
        let (_, doc, _) = read_str("[a]\nk = 1\nj = 2\nk = 3\n");
        assert_eq!(entries(&doc), vec![kv("a", "k", "3"), kv("a", "j", "2")]);
    }

    #[test]
    fn environment_variables_are_substituted() {
        let (_, doc, diags) =
            read_str("[data]\n${HOME_DIR}/x.csv\n[a]\nk = ${NOPE:-1.5} + ${EMPTY:-2}\ne = [${EMPTY}]\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            entries(&doc),
            vec![("data".into(), "/data/x.csv".into(), None), kv("a", "k", "1.5 + 2"), kv("a", "e", "[]")]
        );
    }

    #[test]
    fn a_missing_environment_variable_is_an_error_naming_the_line() {
        let (file, _, diags) = read_str("[a]\nk = 1\nm = 2 * ${NOPE}\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].message, "environment variable `NOPE` is not set");
        assert_eq!(diags[0].position().unwrap(), "m.ini:3:9");
        let at = diags[0].at.as_ref().unwrap();
        assert_eq!(&file.text()[at.start..at.end], "${NOPE}");
        let (_, _, diags) = read_str("[a]\nk = ${NOPE\nj = ${1x}\n");
        assert_eq!(
            diags.iter().map(|d| d.message.as_str()).collect::<Vec<_>>(),
            ["unterminated `${`", "invalid environment variable name `1x`"]
        );
    }

    #[test]
    fn value_positions_map_back_through_joins_and_substitutions() {
        let text = "[var.b]\nk = ${LONG} +\n      max(1,\n  lg10(2))\n";
        let (file, doc, _) = read_str(text);
        let v = doc.sections[0].entries[0].value.as_ref().unwrap();
        assert_eq!(v.as_str(), "a_longer_value + max(1, lg10(2))");
        let at = |needle: &str| {
            let i = v.as_str().find(needle).unwrap();
            let (from, to) = v.file_range(i, i + needle.len());
            (file.line_col(from), &file.text()[from..to])
        };
        assert_eq!(at("max"), ((3, 7), "max"));
        assert_eq!(at("lg10"), ((4, 3), "lg10"));
        assert_eq!(at("+"), ((2, 13), "+"));
        // Inside a substituted value: the whole `${LONG}`.
        assert_eq!(at("longer"), ((2, 5), "${LONG}"));
        // A range across a line join ends where the later line's text ends.
        let i = v.as_str().find("max").unwrap();
        let (from, to) = v.file_range(i, v.as_str().len());
        assert_eq!((file.line_col(from), file.line_col(to)), ((3, 7), (4, 11)));
    }

    #[test]
    fn crlf_lines_and_empty_values_are_read() {
        let (file, doc, diags) = read_str("[a]\r\nk = 1\r\n  + 2\r\ne =\r\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(entries(&doc), vec![kv("a", "k", "1 + 2"), kv("a", "e", "")]);
        let e = doc.sections[0].entries[1].value.as_ref().unwrap();
        assert_eq!(file.line_col(e.file_offset(0)), (4, 4));
    }
}
