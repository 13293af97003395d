//! Files, positions in them, and the diagnostics `kexpr check` and `kexpr run` print.
//!
//! Every position is a byte offset into a [`SourceFile`]; line and column (both 1-based,
//! columns counted in `char`s) are computed only for display, as in the core crate.

use std::fmt::{self, Write as _};

use kalix_expr_core::{render_snippet, Help, Place, Snippet};
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

/// What kind of problem a diagnostic reports, as data: a tool filters or acts on this, never on
/// the message's words. `code()` names it in JSON.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Kind {
    /// An expression's own error (syntax, unknown name, arity, a failed `assert` in a run): the
    /// core's kind says which.
    Expression(kalix_expr_core::ErrorKind),
    /// The INI text: section headers, keys, quotes, `${NAME}` substitutions.
    Ini,
    /// A section, key or value the model defines wrongly or twice (names, dates, constants,
    /// tables, nodes, user functions).
    Definition,
    /// Something defined and never used.
    Unused,
    /// Data files, their columns, and the inputs a run needs.
    Data,
    /// The model file itself cannot be used (unreadable, too large, not UTF-8, binary).
    File,
    /// The run's range.
    Run,
    /// Writing the results.
    Output,
}

impl Kind {
    /// A stable name for the kind: `expression`, `ini`, `definition`, `unused`, `data`, `file`,
    /// `run`, `output`.
    pub fn code(&self) -> &'static str {
        match self {
            Kind::Expression(_) => "expression",
            Kind::Ini => "ini",
            Kind::Definition => "definition",
            Kind::Unused => "unused",
            Kind::Data => "data",
            Kind::File => "file",
            Kind::Run => "run",
            Kind::Output => "output",
        }
    }
}

/// An expression's error from the core, placed at `at` in the model file.
pub(crate) fn expression_error(d: &kalix_expr_core::Diagnostic, at: Location) -> Diagnostic {
    Diagnostic::error(Kind::Expression(d.kind().clone()), Some(at), d.kind().to_string())
}

/// One problem found in a model or its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem.
    pub kind: Kind,
    /// What is wrong: lowercase, no trailing period, source fragments in backticks.
    pub message: String,
    /// A suggestion: its text and, for "did you mean", the names proposed in place of `at`.
    pub help: Option<Help>,
    /// Context (the step and date of a run error).
    pub notes: Vec<String>,
    /// Where, if the problem has a place in a file.
    pub at: Option<Location>,
}

impl Diagnostic {
    /// An error at `at`.
    pub fn error(kind: Kind, at: Option<Location>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, kind, message: message.into(), help: None, notes: Vec::new(), at }
    }

    /// A warning at `at`.
    pub fn warning(kind: Kind, at: Option<Location>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, kind, message: message.into(), help: None, notes: Vec::new(), at }
    }

    /// With a help line.
    pub fn with_help(mut self, help: impl Into<Help>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// With a help line, if there is one.
    pub fn with_help_opt(mut self, help: Option<Help>) -> Diagnostic {
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

    /// The help's text, if there is a help.
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_ref().map(Help::text)
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

    /// A stable code for the problem, for tools to match on: an expression error's own code
    /// (`variable_unknown`, `arity_mismatch`, …, see `ErrorKind::code`), else the kind's
    /// ([`Kind::code`]: `definition`, `unused`, `data`, …).
    ///
    /// ```
    /// use kalix_expr_model::ModelFile;
    /// let report = ModelFile::from_text("m.ini", "[var.b]\nx = nosuch + 1\n").check();
    /// assert_eq!(report.diagnostics[0].code(), "variable_unknown");
    /// ```
    pub fn code(&self) -> String {
        match &self.kind {
            Kind::Expression(k) => k.code(),
            other => other.code().to_string(),
        }
    }

    /// The diagnostic as one JSON object: `{file, line, column, end_line, end_column, severity,
    /// message, help, kind, code, replacements}`. Lines and columns are 1-based, columns count
    /// `char`s, and the end is exclusive (one past the last character). Without a place, `file`
    /// is null and the positions are 0. Notes are appended to the help; `replacements` are the
    /// names a "did you mean" proposes in place of the range, best first.
    pub fn to_json(&self) -> JsonDiagnostic<'_> {
        let (file, (line, column), (end_line, end_column)) = match &self.at {
            Some(at) => (Some(at.file.name()), at.file.line_col(at.start), at.file.line_col(at.end)),
            None => (None, (0, 0), (0, 0)),
        };
        let mut help = self.help.as_ref().map(|h| h.text().to_string());
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
            kind: self.kind.code(),
            code: self.code(),
            replacements: self.help.as_ref().map_or(&[][..], Help::replacements),
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
    /// The kind ([`Kind::code`]).
    pub kind: &'static str,
    /// A stable code for the problem ([`Diagnostic::code`]).
    pub code: String,
    /// The names proposed in place of the range, best first (often empty).
    pub replacements: &'a [String],
}

/// How many characters of a long line are shown around the span.
const SNIPPET_WIDTH: usize = 100;

impl fmt::Display for Diagnostic {
    /// Renders the way rustc does, through the core's one renderer: the message,
    /// `--> file:line:column`, the line with a caret under the span (up to the end of its first
    /// line), then `= help:` and `= note:` lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label;
        let place = match &self.at {
            None => None,
            Some(at) => {
                let (line, column) = at.file.line_col(at.start);
                let (end_line, end_column) = at.file.line_col(at.end);
                let text = at.file.line_text(line).trim_end();
                let width = if end_line == line {
                    end_column.saturating_sub(column)
                } else {
                    text.chars().count().saturating_sub(column - 1)
                };
                label = format!("{}:{line}:{column}", at.file.name());
                Some(Place { label: &label, line_no: line, line: text, column, width, window: SNIPPET_WIDTH })
            }
        };
        let snippet = Snippet {
            severity: self.severity.as_str(),
            message: &self.message,
            place,
            help: self.help.as_ref().map(Help::text),
            notes: &self.notes,
        };
        render_snippet(f, &snippet)
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
        let kind = Kind::Expression(kalix_expr_core::ErrorKind::FunctionUnknown { name: "lg10".into() });
        let d = Diagnostic::error(kind, Some(Location::new(&file, 12, 16)), "unknown function `lg10`")
            .with_help_opt(Help::did_you_mean(&["log10"]));
        assert_eq!(
            d.to_string(),
            "error: unknown function `lg10`\n --> m.ini:2:8\n  |\n2 | f(x) = lg10(x)\n  |        ^^^^\n  |\n  = help: did you mean `log10`?"
        );
        assert_eq!(
            serde_json::to_string(&d.to_json()).unwrap(),
            r#"{"file":"m.ini","line":2,"column":8,"end_line":2,"end_column":12,"severity":"error","message":"unknown function `lg10`","help":"did you mean `log10`?","kind":"expression","code":"function_unknown","replacements":["log10"]}"#
        );
    }
}
