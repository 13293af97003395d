//! Files, positions in them, and the diagnostics `kexpr check` and `kexpr run` print.
//!
//! Every position is a byte offset into a [`SourceFile`]; line and column (both 1-based,
//! columns counted in `char`s) are computed only for display, as in the core crate.

use std::fmt::{self, Write as _};
use std::sync::Arc;

/// A file's text and the start of each line, for turning byte offsets into lines and columns.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// A file named `name` (as the user wrote its path) with its text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        SourceFile { name: name.into(), text, line_starts }
    }

    /// The name, as the user wrote the path.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 1-based line and 1-based column (in `char`s) of byte `at`, clamped into the text.
    pub fn line_col(&self, at: usize) -> (usize, usize) {
        let at = self.floor(at);
        let line = self.line_starts.partition_point(|&s| s <= at);
        let start = self.line_starts[line - 1];
        (line, self.text[start..at].chars().count() + 1)
    }

    /// The text of 1-based `line`, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else { return "" };
        let end = self.line_starts.get(line).map_or(self.text.len(), |&next| next - 1);
        self.text[start..end].strip_suffix('\r').unwrap_or(&self.text[start..end])
    }

    /// `at` clamped into the text and moved back to a `char` boundary.
    fn floor(&self, at: usize) -> usize {
        let mut at = at.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The model cannot be run as written.
    Error,
    /// Legal, but probably not what was meant.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Where a diagnostic points: a byte range of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The file.
    pub file: Arc<SourceFile>,
    /// The first byte.
    pub start: usize,
    /// One past the last byte (equal to `start` for a point).
    pub end: usize,
}

impl Location {
    /// The range `start..end` of `file`.
    pub fn new(file: &Arc<SourceFile>, start: usize, end: usize) -> Location {
        Location { file: file.clone(), start, end: end.max(start) }
    }
}

/// One problem found in a model or its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong: lowercase, no trailing period, source fragments in backticks.
    pub message: String,
    /// A suggestion.
    pub help: Option<String>,
    /// Context (the step and date of a run error).
    pub notes: Vec<String>,
    /// Where, if the problem has a place in a file.
    pub at: Option<Location>,
}

impl Diagnostic {
    /// An error at `at`.
    pub fn error(at: Option<Location>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, message: message.into(), help: None, notes: Vec::new(), at }
    }

    /// A warning at `at`.
    pub fn warning(at: Option<Location>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, message: message.into(), help: None, notes: Vec::new(), at }
    }

    /// With a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// With a help line, if there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    /// With a note line.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The 1-based line of the start, if the diagnostic has a place.
    pub fn line(&self) -> Option<usize> {
        self.at.as_ref().map(|at| at.file.line_col(at.start).0)
    }

    /// The 1-based column (in `char`s) of the start, if the diagnostic has a place.
    pub fn column(&self) -> Option<usize> {
        self.at.as_ref().map(|at| at.file.line_col(at.start).1)
    }

    /// The file's name as the user wrote it, if the diagnostic has a place.
    pub fn file_name(&self) -> Option<&str> {
        self.at.as_ref().map(|at| at.file.name())
    }

    /// `file:line:column` of the start, or just the file (or nothing) when there is no place.
    pub fn position(&self) -> Option<String> {
        self.at.as_ref().map(|at| {
            let (line, column) = at.file.line_col(at.start);
            format!("{}:{line}:{column}", at.file.name())
        })
    }

    /// The diagnostic as one JSON object: `{file, line, column, end_line, end_column, severity,
    /// message, help}`. Lines and columns are 1-based, columns count `char`s, and the end is
    /// exclusive (one past the last character). Without a place, `file` is null and the
    /// positions are 0. Notes are appended to the help.
    pub fn to_json(&self) -> JsonDiagnostic<'_> {
        let (file, (line, column), (end_line, end_column)) = match &self.at {
            Some(at) => (Some(at.file.name()), at.file.line_col(at.start), at.file.line_col(at.end)),
            None => (None, (0, 0), (0, 0)),
        };
        let mut help = self.help.clone();
        for note in &self.notes {
            let h = help.get_or_insert_with(String::new);
            if !h.is_empty() {
                h.push_str("; ");
            }
            h.push_str(note);
        }
        JsonDiagnostic {
            file,
            line,
            column,
            end_line,
            end_column,
            severity: self.severity.as_str(),
            message: &self.message,
            help,
        }
    }
}

/// A [`Diagnostic`] as editors read it (see [`Diagnostic::to_json`]); serialises with its fields
/// in this order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JsonDiagnostic<'a> {
    /// The file as the user named it.
    pub file: Option<&'a str>,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column (in `char`s) of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column of the end, exclusive.
    pub end_column: usize,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// What is wrong.
    pub message: &'a str,
    /// A suggestion, or null.
    pub help: Option<String>,
}

/// How many characters of a long line are shown around the span.
const SNIPPET_WIDTH: usize = 100;

impl fmt::Display for Diagnostic {
    /// Renders the way rustc does: the message, `--> file:line:column`, the line with a caret
    /// under the span (up to the end of its first line), then `= help:` and `= note:` lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity.as_str(), self.message)?;
        let Some(at) = &self.at else {
            if let Some(help) = &self.help {
                write!(f, "\n  = help: {help}")?;
            }
            for note in &self.notes {
                write!(f, "\n  = note: {note}")?;
            }
            return Ok(());
        };
        let (line, column) = at.file.line_col(at.start);
        let (end_line, end_column) = at.file.line_col(at.end);
        let number = line.to_string();
        let pad = " ".repeat(number.len());
        write!(f, "\n{pad}--> {}:{line}:{column}\n{pad} |\n", at.file.name())?;
        // Tabs and control characters show as one column each, so the caret stays aligned.
        let chars: Vec<char> = at
            .file
            .line_text(line)
            .chars()
            .map(|c| match c {
                '\t' => ' ',
                c if c.is_control() => '\u{FFFD}',
                c => c,
            })
            .collect();
        let col0 = column - 1;
        let width = if end_line == line { end_column.saturating_sub(column) } else { chars.len().saturating_sub(col0) };
        let (from, prefix) = if col0 > SNIPPET_WIDTH / 2 { (col0 - SNIPPET_WIDTH / 2, "...") } else { (0, "") };
        let to = chars.len().min(from + SNIPPET_WIDTH);
        let suffix = if to < chars.len() { "..." } else { "" };
        let shown: String = chars[from.min(to)..to].iter().collect();
        writeln!(f, "{number} | {prefix}{}{suffix}", shown.trim_end())?;
        let carets = width.min(to.saturating_sub(col0)).max(1);
        write!(f, "{pad} | {}{}", " ".repeat(col0 - from + prefix.len()), "^".repeat(carets))?;
        if self.help.is_some() || !self.notes.is_empty() {
            write!(f, "\n{pad} |")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        for note in &self.notes {
            write!(f, "\n{pad} = note: {note}")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file, then position, then severity (errors first), and drops exact
/// repeats (a problem in a function body found through several callers).
pub fn sort_and_dedup(diagnostics: &mut Vec<Diagnostic>) {
    let key = |d: &Diagnostic| match &d.at {
        Some(at) => (at.file.name().to_string(), at.start, at.end),
        None => (String::new(), 0, 0),
    };
    diagnostics.sort_by(|a, b| key(a).cmp(&key(b)).then(a.severity.cmp(&b.severity)));
    diagnostics.dedup_by(|a, b| a == b);
}

/// `n` followed by `word`, pluralised with an `s`: `1 error`, `2 warnings`.
pub fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Every diagnostic rendered, separated by blank lines, each followed by a blank line.
pub fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let _ = write!(out, "{d}\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_chars_from_one() {
        let f = SourceFile::new("m.ini", "ab\nçd = 1\r\nx");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(5), (2, 2), "after the two-byte `ç`");
        assert_eq!(f.line_col(4), (2, 1), "inside a char: clamped back");
        assert_eq!(f.line_col(999), (3, 2));
        assert_eq!(f.line_text(2), "çd = 1");
        assert_eq!(f.line_text(4), "");
    }

    #[test]
    fn rendering_shows_the_line_and_a_caret_under_the_span() {
        let file = Arc::new(SourceFile::new("m.ini", "[fn]\nf(x) = lg10(x)\n"));
        let d = Diagnostic::error(Some(Location::new(&file, 12, 16)), "unknown function `lg10`")
            .with_help("did you mean `log10`?");
        assert_eq!(
            d.to_string(),
            "error: unknown function `lg10`\n --> m.ini:2:8\n  |\n2 | f(x) = lg10(x)\n  |        ^^^^\n  |\n  = help: did you mean `log10`?"
        );
        assert_eq!(
            serde_json::to_string(&d.to_json()).unwrap(),
            r#"{"file":"m.ini","line":2,"column":8,"end_line":2,"end_column":12,"severity":"error","message":"unknown function `lg10`","help":"did you mean `log10`?"}"#
        );
    }
}
