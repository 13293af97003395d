//! One open model file: its text, the model read from it, the index of its names, and what the
//! editor asks of it (hover, completion, signature help, definition, references, symbols,
//! rename, quick fixes, diagnostics).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kalix_expr_core::builtins::{self, Arity, Imp, BUILTINS};
use kalix_expr_core::{sim_field_doc, SIM_FIELDS};
use kalix_expr_core::{Expr, Options};
use kalix_expr_model::{
    format_value, load_text, Data, Diagnostic as ModelDiagnostic, FunctionLibrary, ModelFile, Severity,
};
use lsp_types::{
    CodeAction, CodeActionKind, CompletionItem, CompletionItemKind, Diagnostic, DiagnosticSeverity, DocumentSymbol,
    Hover, HoverContents, Location, MarkupContent, MarkupKind, NumberOrString, ParameterInformation, ParameterLabel,
    Position, Range, SignatureHelp, SignatureInformation, SymbolKind, TextEdit, Url, WorkspaceEdit,
};

use crate::index::{one_line, DefKind, Index, Use};
use crate::text::LineIndex;

/// An open model file.
pub(crate) struct Doc {
    pub(crate) uri: Url,
    /// The file on disk the buffer stands for (its folder holds the relative data files).
    pub(crate) path: PathBuf,
    pub(crate) text: String,
    pub(crate) lines: LineIndex,
    pub(crate) model: ModelFile,
    /// The names, indexed on first need (diagnostics do not need it).
    index: std::cell::OnceCell<Index>,
    /// The model's `[data]` files, read on first need (a hover or completion of an input).
    data: std::cell::OnceCell<Option<Data>>,
}

impl Doc {
    pub(crate) fn new(uri: Url, text: String) -> Doc {
        let path = uri.to_file_path().unwrap_or_else(|_| PathBuf::from(uri.path()));
        let name = path.display().to_string();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let env = |name: &str| std::env::var(name).ok();
        let model = load_text(&name, &text, &dir, &env);
        let (index, data) = (std::cell::OnceCell::new(), std::cell::OnceCell::new());
        Doc { uri, path, lines: LineIndex::new(&text), text, model, index, data }
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| Index::new(&self.model))
    }

    fn data(&self) -> Option<&Data> {
        self.data.get_or_init(|| Data::read_all(&self.model, &[]).ok()).as_ref()
    }

    fn offset(&self, pos: Position) -> usize {
        self.lines.offset(&self.text, pos)
    }

    fn range(&self, start: usize, end: usize) -> Range {
        self.lines.range(&self.text, start, end)
    }

    /// The check's diagnostics, as `kexpr check` reports them, grouped by the file they are in
    /// (a table's CSV file has its own).
    pub(crate) fn diagnostics(&self, library: Option<&FunctionLibrary>) -> Vec<(Url, Vec<Diagnostic>)> {
        let report = self.model.check_with(library);
        let mut by_file: Vec<(Url, Vec<Diagnostic>)> = vec![(self.uri.clone(), Vec::new())];
        for d in &report.diagnostics {
            let (uri, range) = match &d.at {
                Some(at) if at.file.name() == self.model.file.name() => {
                    (self.uri.clone(), self.range(at.start, at.end))
                }
                Some(at) => {
                    // Another file (a table's CSV): its own text and URI.
                    let path = Path::new(at.file.name());
                    let path = if path.is_absolute() {
                        path.to_path_buf()
                    } else {
                        self.path.parent().unwrap_or(Path::new("")).join(path)
                    };
                    let lines = LineIndex::new(at.file.text());
                    match Url::from_file_path(&path) {
                        Ok(uri) => (uri, lines.range(at.file.text(), at.start, at.end)),
                        Err(()) => (self.uri.clone(), Range::default()),
                    }
                }
                None => (self.uri.clone(), Range::default()),
            };
            let item = to_lsp(d, range);
            match by_file.iter_mut().find(|(u, _)| *u == uri) {
                Some((_, list)) => list.push(item),
                None => by_file.push((uri, vec![item])),
            }
        }
        by_file
    }

    /// A hover over the name at `pos`.
    pub(crate) fn hover(&self, pos: Position) -> Option<Hover> {
        let at = self.offset(pos);
        let (target, start, end, how) = self.index().at(at)?;
        let text = if let Some(def) = self.index().definition(&target) {
            def.detail.clone()
        } else if how == Some(Use::Call) {
            builtin_doc(&target)?
        } else if let Some(doc) = sim_field_doc(&target) {
            format!("```\n{target}\n```\ncalendar: {doc}")
        } else if how == Some(Use::Local) {
            format!("```\n{target}\n```\nlocal")
        } else if let Some(c) = builtins::constant(&target) {
            format!("```\n{target} = {}\n```\nbuilt-in constant", format_value(c))
        } else {
            let source = self.data().and_then(|d| d.source_of(&target));
            match source {
                Some(s) => format!("```\n{target}\n```\ninput: {s}"),
                None => format!("```\n{target}\n```\ninput, from a data file or the simulator"),
            }
        };
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
            range: Some(self.range(start, end)),
        })
    }

    /// Where the name at `pos` is defined.
    pub(crate) fn definition(&self, pos: Position) -> Option<Location> {
        let (target, ..) = self.index().at(self.offset(pos))?;
        let def = self.index().definition(&target)?;
        Some(Location { uri: self.uri.clone(), range: self.range(def.start, def.end) })
    }

    /// Every use of the name at `pos`, and its definition when asked.
    pub(crate) fn references(&self, pos: Position, declaration: bool) -> Vec<Location> {
        let Some((target, ..)) = self.index().at(self.offset(pos)) else { return Vec::new() };
        let mut out: Vec<Location> = Vec::new();
        if declaration {
            if let Some(def) = self.index().definition(&target) {
                out.push(Location { uri: self.uri.clone(), range: self.range(def.start, def.end) });
            }
        }
        out.extend(
            self.index()
                .uses_of(&target)
                .map(|u| Location { uri: self.uri.clone(), range: self.range(u.start, u.end) }),
        );
        out
    }

    /// The model's constants, functions, tables and series.
    #[allow(deprecated)] // `DocumentSymbol::deprecated` must be written to build one.
    pub(crate) fn symbols(&self) -> Vec<DocumentSymbol> {
        self.index()
            .defs
            .iter()
            .map(|d| {
                let kind = match d.kind {
                    DefKind::Constant => SymbolKind::CONSTANT,
                    DefKind::Series => SymbolKind::VARIABLE,
                    DefKind::Function => SymbolKind::FUNCTION,
                    DefKind::Table => SymbolKind::STRUCT,
                };
                let range = self.range(d.start, d.end);
                DocumentSymbol {
                    name: d.name.clone(),
                    detail: None,
                    kind,
                    tags: None,
                    deprecated: None,
                    range,
                    selection_range: range,
                    children: None,
                }
            })
            .collect()
    }

    /// What may be written at `pos`: the names of the namespace being typed (`fn.`, `var.`,
    /// `const.`, `table.`, `node.`, `data.`, `sim.`), or the namespaces and built-ins.
    pub(crate) fn completion(&self, pos: Position) -> Vec<CompletionItem> {
        let at = self.offset(pos);
        let lower = name_before(&self.text[..at]).to_lowercase();
        let mut items = Vec::new();
        let mut push = |label: String, kind: CompletionItemKind, detail: String| {
            if label.to_lowercase().starts_with(&lower) {
                items.push(CompletionItem {
                    label,
                    kind: Some(kind),
                    detail: Some(detail),
                    ..CompletionItem::default()
                });
            }
        };
        if lower.contains('.') {
            for d in &self.index().defs {
                let kind = match d.kind {
                    DefKind::Constant => CompletionItemKind::CONSTANT,
                    DefKind::Series => CompletionItemKind::VARIABLE,
                    DefKind::Function => CompletionItemKind::FUNCTION,
                    DefKind::Table => CompletionItemKind::STRUCT,
                };
                push(d.name.clone(), kind, first_line(&d.detail));
            }
            for f in SIM_FIELDS {
                push(f.to_string(), CompletionItemKind::FIELD, sim_field_doc(f).unwrap_or_default().to_string());
            }
            // Inputs: the model's data columns, when its data files can be read, and the names
            // the model reads that it does not define.
            if let Some(data) = self.data() {
                for name in data.names() {
                    push(name.to_string(), CompletionItemKind::FIELD, "data column".into());
                }
            }
            let mut seen: Vec<&str> = Vec::new();
            for u in &self.index().uses {
                let t = u.target.as_str();
                let input = (t.starts_with("data.") || t.starts_with("node.")) && self.index().definition(t).is_none();
                if input && u.how != Use::Call && !seen.contains(&t) {
                    seen.push(t);
                    push(t.to_string(), CompletionItemKind::FIELD, "input".into());
                }
            }
        } else {
            for ns in ["fn.", "var.", "const.", "table.", "node.", "data.", "sim."] {
                push(ns.to_string(), CompletionItemKind::MODULE, "namespace".into());
            }
            for b in BUILTINS {
                push(b.name.to_string(), CompletionItemKind::FUNCTION, b.signature());
            }
        }
        items
    }

    /// The signature of the call whose arguments `pos` is in, with the argument being typed.
    pub(crate) fn signature_help(&self, pos: Position) -> Option<SignatureHelp> {
        let at = self.offset(pos);
        let before = &self.text[..at];
        // Back to the unclosed `(` of the call, counting the commas at its level.
        let (mut depth, mut commas, mut open) = (0usize, 0u32, None);
        for (i, c) in before.char_indices().rev() {
            match c {
                ')' | ']' => depth += 1,
                '(' | '[' if depth > 0 => depth -= 1,
                '(' => {
                    open = Some(i);
                    break;
                }
                '[' => return None,
                ',' if depth == 0 => commas += 1,
                '\n' if before[..i].ends_with('\n') => return None,
                _ => {}
            }
        }
        let open = open?;
        let (label, params, doc) = self.signature_of(name_before(&before[..open]))?;
        let parameters = params
            .iter()
            .map(|p| ParameterInformation { label: ParameterLabel::Simple(p.clone()), documentation: None })
            .collect::<Vec<_>>();
        let active = if params.is_empty() { 0 } else { commas.min(params.len() as u32 - 1) };
        Some(SignatureHelp {
            signatures: vec![SignatureInformation {
                label,
                documentation: Some(lsp_types::Documentation::String(doc)),
                parameters: Some(parameters),
                active_parameter: Some(active),
            }],
            active_signature: Some(0),
            active_parameter: Some(active),
        })
    }

    /// A callable's signature, its parameters' labels and its description.
    fn signature_of(&self, name: &str) -> Option<(String, Vec<String>, String)> {
        let lower = name.to_lowercase();
        if let Some(b) = builtins::lookup(&lower) {
            let sig = b.signature();
            let inside = sig.split_once('(').map_or("", |(_, r)| r.trim_end_matches(')'));
            let params = inside.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
            return Some((sig, params, b.doc.to_string()));
        }
        if let Some(rest) = lower.strip_prefix("fn.") {
            let f = self.model.functions.iter().find(|f| f.name.as_ref().is_some_and(|(n, _)| n == rest))?;
            let def = f.def.as_ref()?;
            let params = def.params().to_vec();
            let label = format!("fn.{}({})", def.name(), params.join(", "));
            return Some((label, params, format!("= {}", one_line(f.body.as_str()))));
        }
        if let Some(rest) = lower.strip_prefix("table.") {
            let t = self.model.tables.iter().find(|t| t.name.eq_ignore_ascii_case(rest))?;
            let params: Vec<String> =
                if t.table.arity() == 1 { vec!["x".into()] } else { vec!["column".into(), "row".into()] };
            return Some((format!("table.{}({})", t.name, params.join(", ")), params, "lookup table".into()));
        }
        None
    }

    /// The edits that rename the user function or series at `pos` to `new_name`.
    pub(crate) fn rename(&self, pos: Position, new_name: &str) -> Result<WorkspaceEdit, String> {
        let (target, ..) = self.index().at(self.offset(pos)).ok_or("there is no name here")?;
        let def = self
            .index()
            .definition(&target)
            .ok_or_else(|| format!("`{target}` is not defined in this file: only user functions and series rename"))?;
        let (prefix, kind) = match def.kind {
            DefKind::Function => ("fn.".to_string(), "function"),
            DefKind::Series => {
                let (block, _) = def.name.rsplit_once('.').ok_or("not a series")?;
                (format!("{block}."), "series")
            }
            _ => return Err("only user functions and series can be renamed".into()),
        };
        // The new name may be written whole (`fn.g`, `var.b.y`) or as its last part.
        let bare = match new_name.to_lowercase().strip_prefix(&prefix.to_lowercase()) {
            Some(_) => &new_name[prefix.len()..],
            None if new_name.contains('.') => {
                return Err(format!("a {kind} keeps its namespace: write `{prefix}<name>`"));
            }
            None => new_name,
        };
        let valid = !bare.is_empty()
            && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !bare.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(format!("`{bare}` is not a valid name: letters, digits and `_`, not starting with a digit"));
        }
        let full = format!("{prefix}{bare}");
        if self.index().definition(&full).is_some() && !full.eq_ignore_ascii_case(&def.name) {
            return Err(format!("`{full}` is already defined"));
        }
        let written = if def.kind == DefKind::Function { bare.to_lowercase() } else { bare.to_string() };
        let mut edits = vec![TextEdit { range: self.range(def.start, def.end), new_text: written }];
        for u in self.index().uses_of(&target) {
            // A bare `this` names the series without its name: nothing to change.
            if self.text[u.start..u.end].eq_ignore_ascii_case("this") {
                continue;
            }
            edits.push(TextEdit { range: self.range(u.start, u.end), new_text: full.clone() });
        }
        Ok(WorkspaceEdit { changes: Some(HashMap::from([(self.uri.clone(), edits)])), ..WorkspaceEdit::default() })
    }

    /// The quick fixes for the diagnostics the editor shows in `range`: each name the checker
    /// proposes, written in place of the diagnostic's range.
    pub(crate) fn code_actions(&self, diagnostics: &[Diagnostic]) -> Vec<CodeAction> {
        let mut out = Vec::new();
        for d in diagnostics {
            let Some(replacements) = d.data.as_ref().and_then(|v| v.get("replacements")).and_then(|r| r.as_array())
            else {
                continue;
            };
            for r in replacements.iter().filter_map(|r| r.as_str()) {
                let edit = TextEdit { range: d.range, new_text: r.to_string() };
                out.push(CodeAction {
                    title: format!("Replace with `{r}`"),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![d.clone()]),
                    edit: Some(WorkspaceEdit {
                        changes: Some(HashMap::from([(self.uri.clone(), vec![edit])])),
                        ..WorkspaceEdit::default()
                    }),
                    is_preferred: Some(out.is_empty()),
                    ..CodeAction::default()
                });
            }
        }
        out
    }
}

/// A model diagnostic for the protocol: the message with its help and notes, the stable code,
/// and the proposed names as data for the quick fixes.
fn to_lsp(d: &ModelDiagnostic, range: Range) -> Diagnostic {
    let mut message = d.message.clone();
    if let Some(help) = d.help_text() {
        message.push_str(&format!("\nhelp: {help}"));
    }
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    let replacements = d.help.as_ref().map(|h| h.replacements().to_vec()).unwrap_or_default();
    Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            _ => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code())),
        source: Some("kexpr".into()),
        message,
        data: Some(serde_json::json!({ "replacements": replacements })),
        ..Diagnostic::default()
    }
}

/// A built-in's hover: its signature, description and an example evaluated by the engine.
fn builtin_doc(name: &str) -> Option<String> {
    let b = builtins::lookup(name)?;
    let mut text = format!("```\n{}\n```\n{}", b.signature(), b.doc);
    if let Some((example, value)) = example(b) {
        text.push_str(&format!("\n\nExample: `{example}` = {value}"));
    }
    Some(text)
}

/// An example call of a built-in with small arguments, evaluated by the engine (a stateful
/// function as on its first step); none for the calendar functions, which need a run.
fn example(b: &builtins::Builtin) -> Option<(String, String)> {
    if matches!(b.imp, Imp::Calendar) {
        return None;
    }
    let n = match b.arity {
        Arity::Exact(k) | Arity::AtLeast(k) | Arity::OddAtLeast(k) => k,
    };
    let samples = ["0.5", "2", "3", "4", "5", "6", "7"];
    let mut args: Vec<&str> = samples.iter().take(n).copied().collect();
    if let Imp::Stateful(kind) = b.imp {
        if kind.is_window() {
            // (x, n, [p,] default): a window of 3, the 50th percentile, a pre-fill of 0.
            args = if n == 4 { vec!["5", "3", "50", "0"] } else { vec!["5", "3", "0"] };
        }
    }
    let call = format!("{}({})", b.name, args.join(", "));
    // A window's example is its first step's value.
    let opts = Options { single_step: true, ..Options::model() };
    let value = Expr::parse(&call).ok()?.compile_with(&[], &opts).ok()?.eval(&[]).ok()?;
    Some((call, format_value(value)))
}

/// The name (letters, digits, `_` and `.`) that `text` ends with: what is being typed, or
/// the function a `(` follows.
fn name_before(text: &str) -> &str {
    let start = text
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.')
        .last()
        .map_or(text.len(), |(i, _)| i);
    &text[start..]
}

/// The first line of a hover's markdown that is not a code fence.
fn first_line(detail: &str) -> String {
    detail.lines().find(|l| !l.starts_with("```")).unwrap_or("").to_string()
}
