//! Loading a model file: the sections of the INI document become constants, user functions,
//! tables, computed series and data files, each problem with its place in the file.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kalix_expr_core::table::{Extrapolation, Interpolation};
use kalix_expr_core::{Date, Expr, FnDef, Help, Table, TableError};

use crate::diag::{expression_error, Diagnostic, Kind, Location, SourceFile};
use crate::ini::{self, Document, EnvLookup, Section, Text};
use crate::names::{closest, is_plain_name, is_segment};
use crate::schema::{Property, Schema};

/// The largest model file read. Real models are well under 1 MiB; this protects against being
/// pointed at a huge or endless file (`/dev/zero`).
pub const MAX_MODEL_BYTES: u64 = 16 * 1024 * 1024;

/// A constant `const.k = 1.5`.
#[derive(Debug, Clone)]
pub struct Constant {
    /// The full name, lower-case.
    pub name: String,
    /// The value (NaN if it did not parse; the error is reported).
    pub value: f64,
    /// The key, for warnings.
    pub key: Text,
}

/// A user function `name(a, b) = body` of the `[fn]` section.
#[derive(Debug, Clone)]
pub struct Function {
    /// The signature as written.
    pub signature: Text,
    /// The body as written.
    pub body: Text,
    /// The definition, when the signature and the body parse.
    pub def: Option<FnDef>,
    /// The lower-case name and parameter count, when the signature parses.
    pub name: Option<(String, usize)>,
}

/// The expression of a `[ras.*]` section's `action = allocate(<expression>)`.
#[derive(Debug, Clone)]
pub struct RasAction {
    /// The section, `ras.<name>`.
    pub section: String,
    /// The expression's text, mapped into the file.
    pub text: Text,
    /// The expression, when it parses (its error is reported otherwise).
    pub expr: Option<Expr>,
}

/// A `[table.<name>]` section.
#[derive(Debug, Clone)]
pub struct TableDef {
    /// The name, as in `table.<name>(…)`.
    pub name: String,
    /// The section name's place.
    pub at: Location,
    /// The table, or a stand-in of the same arity when it is invalid (the error is reported),
    /// so that calls to it raise no follow-up errors.
    pub table: Table,
}

/// What a computed series is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesKind {
    /// A key of a `[var.<block>]` section.
    Var,
    /// An expression property of a `[node.<name>]` section; `this.` means `node.<name>.`.
    Node {
        /// The node's name as written.
        node: String,
        /// The property, lower-case.
        property: String,
    },
}

/// A computed series: a `[var.*]` key or a node's expression property.
#[derive(Debug, Clone)]
pub struct Series {
    /// The full name: `var.<block>.<key>` or `node.<name>.<property>`.
    pub name: String,
    /// Var or node.
    pub kind: SeriesKind,
    /// The value as written, with its place in the file.
    pub value: Text,
    /// The parsed expression, when it parses (the error is reported otherwise).
    pub expr: Option<Expr>,
    /// The key's place (`k` of `k = …` in `[var.b]`, or the node property's key).
    pub key: Location,
}

impl Series {
    /// The node `this.` refers to, as `node.<name>`.
    pub fn this_node(&self) -> Option<String> {
        match &self.kind {
            SeriesKind::Node { node, .. } => Some(format!("node.{node}")),
            SeriesKind::Var => None,
        }
    }
}

/// A file of the `[data]` section.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// The path as written.
    pub written: String,
    /// The path resolved against the model's folder.
    pub path: PathBuf,
    /// An alias (`alias = path`): its columns are also `data.<alias>.…`.
    pub alias: Option<String>,
    /// The line's place, for messages.
    pub at: Location,
}

/// A loaded model file.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The file.
    pub file: Arc<SourceFile>,
    /// `[kalix] start`.
    pub start: Option<Date>,
    /// `[kalix] end` (inclusive).
    pub end: Option<Date>,
    /// `[const]`.
    pub constants: Vec<Constant>,
    /// `[fn]`.
    pub functions: Vec<Function>,
    /// `[table.*]`.
    pub tables: Vec<TableDef>,
    /// `[var.*]` keys and node expression properties, in file order (the evaluation order).
    pub series: Vec<Series>,
    /// `[data]`.
    pub data: Vec<DataFile>,
    /// Names mentioned in sections the tool does not check as a whole (`[ras.*]`, `[acc.*]`),
    /// lower-case: a table or constant used only there is still used.
    pub references: Vec<String>,
    /// The expressions of `[ras.*]` actions (`action = allocate(<expression>)`), checked like
    /// the others but not run (the simulator applies them).
    pub ras_actions: Vec<RasAction>,
    /// Every problem found while loading.
    pub diagnostics: Vec<Diagnostic>,
    /// The most bytes a run's state may take (see `kalix_expr_core::Model::state_budget`);
    /// [`kalix_expr_core::Model::DEFAULT_STATE_BUDGET`] unless set.
    pub state_budget: usize,
    /// Each series' index by lower-case name, so that loading is linear in the model's size.
    series_index: HashMap<String, usize>,
}

/// Loads the model file at `path`; `name` is how messages call it. `Err` only when the file
/// cannot be read at all (it does not exist, or is a folder); problems with its content are
/// diagnostics.
pub fn load_path(path: &Path, name: &str, env: EnvLookup<'_>) -> Result<ModelFile, std::io::Error> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(MAX_MODEL_BYTES + 1).read_to_end(&mut bytes)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        let file = Arc::new(SourceFile::new(name, ""));
        let d = Diagnostic::error(
            Kind::File,
            Some(Location::new(&file, 0, 0)),
            format!("the model file is larger than the limit of {} MiB", MAX_MODEL_BYTES / (1024 * 1024)),
        )
        .with_help("is this the model file? Kalix models are text files of a few hundred kilobytes");
        return Ok(ModelFile::empty(file, vec![d]));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            let file = Arc::new(SourceFile::new(name, prefix));
            let d = Diagnostic::error(
                Kind::File,
                Some(Location::new(&file, valid, valid)),
                "the model file is not valid UTF-8",
            )
            .with_help("save it as UTF-8 text");
            return Ok(ModelFile::empty(file, vec![d]));
        }
    };
    Ok(load_text(name, &text, &dir, env))
}

/// Loads a model from its text; relative `[data]` paths are resolved against `dir`.
pub fn load_text(name: &str, text: &str, dir: &Path, env: EnvLookup<'_>) -> ModelFile {
    let file = Arc::new(SourceFile::new(name, text));
    if let Some(nul) = text.find('\0') {
        let d = Diagnostic::error(
            Kind::File,
            Some(Location::new(&file, nul, nul + 1)),
            "the model file contains a NUL byte",
        )
        .with_help("is this a binary file? Kalix models are text");
        return ModelFile::empty(file, vec![d]);
    }
    let (doc, diagnostics) = ini::read(&file, env);
    let mut m = ModelFile::empty(file, diagnostics);
    m.read(&doc, dir);
    m
}

/// A table's cells, each with its place, the place of them all, and the cells per row.
type TableCells = (Vec<(String, Location)>, Location, usize);

/// The keys of a `[table.<name>]` section.
const TABLE_KEYS: [&str; 6] = ["values", "file", "n_cols", "interpolation", "column_interpolation", "extrapolation"];

/// The largest table file read: ten million cells of a few bytes each.
pub const MAX_TABLE_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The section kinds Kalix knows, for suggesting a fix for an unknown section.
const PLAIN_SECTIONS: &[&str] = &["kalix", "data", "inputs", "const", "fn", "outputs"];
const DOTTED_SECTIONS: &[&str] = &["node", "var", "table", "acc", "ras"];

impl ModelFile {
    fn empty(file: Arc<SourceFile>, diagnostics: Vec<Diagnostic>) -> ModelFile {
        ModelFile {
            file,
            start: None,
            end: None,
            constants: Vec::new(),
            functions: Vec::new(),
            tables: Vec::new(),
            series: Vec::new(),
            data: Vec::new(),
            references: Vec::new(),
            ras_actions: Vec::new(),
            diagnostics,
            state_budget: kalix_expr_core::Model::DEFAULT_STATE_BUDGET,
            series_index: HashMap::new(),
        }
    }

    /// Whether loading found an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    fn error(&mut self, at: Location, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::error(Kind::Definition, Some(at), message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn warning(&mut self, at: Location, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::warning(Kind::Definition, Some(at), message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// Reports every diagnostic of a core error against `text`.
    fn expr_error(&mut self, e: &kalix_expr_core::Error, text: &Text) {
        let file = self.file.clone();
        for d in e.diagnostics() {
            let at = text.location(&file, d.span().start, d.span().end);
            self.diagnostics.push(expression_error(d, at).with_help_opt(d.suggestion().cloned()));
        }
    }

    fn read(&mut self, doc: &Document, dir: &Path) {
        for section in &doc.sections {
            let name = section.name.as_str();
            let header = Location::new(&self.file, section.name_at.0, section.name_at.1);
            match name.split_once('.') {
                None => match name {
                    "kalix" => self.kalix(section),
                    "data" | "inputs" => self.data(section, dir),
                    "const" => self.constants(section),
                    "fn" => self.functions(section),
                    "outputs" => {}
                    _ => self.unknown_section(section, header),
                },
                Some(("node", node)) => self.node(section, node, header),
                Some(("var", block)) => self.var(section, block, header),
                Some(("table", table)) => self.table(section, table, header, dir),
                Some(("acc", _)) => self.references(section),
                Some(("ras", _)) => {
                    self.references(section);
                    self.ras(section);
                }
                Some(_) => self.unknown_section(section, header),
            }
        }
    }

    fn unknown_section(&mut self, section: &Section, header: Location) {
        let name = section.name.as_str();
        let suggestion = match name.split_once('.') {
            Some((kind, rest)) => closest(kind, DOTTED_SECTIONS.iter().copied()).map(|k| format!("{k}.{rest}")),
            None => closest(name, PLAIN_SECTIONS.iter().copied()).map(str::to_string),
        };
        // Kalix refuses the model ("Unexpected section"), so this is an error too.
        let help = match suggestion {
            Some(s) => Help::did_you_mean(&[s]).unwrap_or_else(|| Help::from("")),
            None => Help::from(format!(
                "the sections are {}, and {}",
                PLAIN_SECTIONS.iter().map(|s| format!("`[{s}]`")).collect::<Vec<_>>().join(", "),
                DOTTED_SECTIONS.iter().map(|s| format!("`[{s}.<name>]`")).collect::<Vec<_>>().join(", ")
            )),
        };
        self.error(header, format!("unknown section `[{name}]`")).help = Some(help);
        self.references(section);
    }

    /// Remembers every name mentioned in a section that is not checked.
    /// A `[ras.*]` section's `action = allocate(<expression>)`: the expression is parsed here
    /// and checked with the model's names by the analysis. Other actions (`reset_allocation`)
    /// and the `trigger`s are the simulator's vocabulary, not expressions.
    fn ras(&mut self, section: &Section) {
        for e in &section.entries {
            let Some(value) = e.value.as_ref().filter(|v| !v.is_broken()) else { continue };
            if !e.key.as_str().eq_ignore_ascii_case("action") {
                continue;
            }
            let text = value.as_str();
            let trimmed = text.trim_end();
            let Some(open) = text.find('(') else { continue };
            if !text[..open].trim().eq_ignore_ascii_case("allocate") || !trimmed.ends_with(')') {
                continue;
            }
            let inner = value.slice(open + 1, trimmed.len() - 1);
            let expr = match Expr::parse(inner.as_str()) {
                Ok(expr) => Some(expr),
                Err(err) => {
                    self.expr_error(&err, &inner);
                    None
                }
            };
            self.ras_actions.push(RasAction { section: section.name.as_str().to_lowercase(), text: inner, expr });
        }
    }

    fn references(&mut self, section: &Section) {
        for e in &section.entries {
            for text in std::iter::once(&e.key).chain(&e.value) {
                let words = text.as_str().split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'));
                self.references.extend(words.filter(|w| w.contains('.')).map(str::to_lowercase));
            }
        }
    }

    /// The entry's value, or an error when the line has no `=`.
    fn value_of<'e>(&mut self, e: &'e ini::Entry, expected: &str) -> Option<&'e Text> {
        if e.value.is_none() {
            let at = e.key.whole(&self.file);
            self.error(at, format!("expected {expected}, found `{}`", e.key.as_str()));
        }
        e.value.as_ref()
    }

    fn kalix(&mut self, section: &Section) {
        for e in &section.entries {
            let key = e.key.as_str().to_lowercase();
            if key != "start" && key != "end" {
                continue;
            }
            let Some(value) = e.value.as_ref().filter(|v| !v.is_broken()) else { continue };
            match parse_date(value.as_str()) {
                Some(d) if key == "start" => self.start = Some(d),
                Some(d) => self.end = Some(d),
                None => {
                    let at = value.whole(&self.file);
                    self.error(at, format!("invalid date `{}`", value.as_str())).help =
                        Some("write a date as YYYY-MM-DD".into());
                }
            }
        }
    }

    fn data(&mut self, section: &Section, dir: &Path) {
        for e in &section.entries {
            let (alias, path) = match &e.value {
                None => (None, &e.key),
                Some(v) => (Some(e.key.as_str().to_string()), v),
            };
            let at = path.whole(&self.file);
            if path.as_str().is_empty() {
                self.warning(at, format!("`{}` names no file", e.key.as_str())).help =
                    Some("write `alias = path/to/file.csv`, or the path alone".into());
                continue;
            }
            let written = path.as_str().to_string();
            let resolved = resolve_path(&written, dir);
            self.data.push(DataFile { written, path: resolved, alias, at });
        }
    }

    fn constants(&mut self, section: &Section) {
        for e in &section.entries {
            let Some(value) = self.value_of(e, "`const.name = number`") else { continue };
            let key_at = e.key.whole(&self.file);
            let name = e.key.as_str().to_lowercase();
            let Some(rest) = name.strip_prefix("const.") else {
                let help = if is_plain_name(&name) {
                    format!("write the full name: `const.{name} = …`")
                } else {
                    "a constant is `const.<name> = number`".into()
                };
                self.error(key_at, format!("`{}` is not a constant name", e.key.as_str())).help = Some(help.into());
                continue;
            };
            if !rest.split('.').all(is_segment) || !rest.starts_with(|c: char| c.is_alphabetic() || c == '_') {
                self.error(key_at, format!("`{}` is not a valid name", e.key.as_str())).help =
                    Some("a name is letters, digits and `_` after `const.`, starting with a letter".into());
                continue;
            }
            if self.constants.iter().any(|c| c.name == name) {
                self.error(key_at, format!("constant `{name}` is defined twice")).help =
                    Some("names are case-insensitive".into());
                continue;
            }
            let text = value.as_str();
            let parsed = text.parse::<f64>().ok();
            if parsed.is_none() && !value.is_broken() {
                let at = value.whole(&self.file);
                let help = "a constant is a plain number such as `1.5` or `2e-3`; \
                            use a `[var.*]` key for an expression";
                self.error(at, format!("`{text}` is not a number")).help = Some(help.into());
            }
            self.constants.push(Constant { name, value: parsed.unwrap_or(f64::NAN), key: e.key.clone() });
        }
    }

    fn functions(&mut self, section: &Section) {
        for e in &section.entries {
            let Some(body) = self.value_of(e, "`name(params) = body`") else { continue };
            let sig = e.key.as_str();
            // The signature alone first, so its errors and the body's are told apart.
            let (def, name) = match FnDef::parse(sig, "0") {
                Err(err) => {
                    self.expr_error(&err, &e.key);
                    if let Err(err) = Expr::parse(body.as_str()) {
                        self.expr_error(&err, body);
                    }
                    (None, None)
                }
                Ok(shape) => {
                    self.fn_spelling(sig, &e.key);
                    let name = Some((shape.name().to_string(), shape.params().len()));
                    match FnDef::parse(sig, body.as_str()) {
                        Ok(def) => (Some(def), name),
                        Err(err) => {
                            self.expr_error(&err, body);
                            (None, name)
                        }
                    }
                }
            };
            self.functions.push(Function { signature: e.key.clone(), body: body.clone(), def, name });
        }
    }

    /// Kalix's rule for a `[fn]` key: the name and the parameters are written bare and in lower
    /// case (`Mixed(X)`, `f(A)` and `fn.foo(x)` are refused), each mistake an error with the
    /// spelling to use. The definition itself is kept, so calls of it resolve.
    fn fn_spelling(&mut self, sig: &str, key: &Text) {
        let Some(open) = sig.find('(') else { return };
        let close = sig.rfind(')').unwrap_or(sig.len());
        let raw_name = sig[..open].trim();
        let name_at = sig.find(raw_name).unwrap_or(0);
        let mut pieces = vec![(name_at, raw_name, true)];
        let mut at = open + 1;
        for piece in sig[open + 1..close.max(open + 1)].split(',') {
            let lead = piece.len() - piece.trim_start().len();
            pieces.push((at + lead, piece.trim(), false));
            at += piece.len() + 1;
        }
        for (start, written, is_name) in pieces {
            let bare = written.strip_prefix("fn.").filter(|_| is_name).unwrap_or(written);
            let wanted = bare.to_lowercase();
            if written == wanted || written.is_empty() {
                continue;
            }
            let what = if is_name { "function name" } else { "parameter" };
            let loc = key.location(&self.file, start, start + written.len());
            let why = if written != bare { "is written without `fn.`" } else { "is lower-case" };
            self.error(loc, format!("{what} `{written}` must be written `{wanted}`")).help =
                Some(format!("in a `[fn]` key a {what} {why}, as Kalix requires: `{wanted}`").into());
        }
    }

    fn table(&mut self, section: &Section, name: &str, header: Location, dir: &Path) {
        if !is_segment(name) {
            self.error(header, format!("`{name}` is not a valid table name")).help =
                Some("a table is `[table.<name>]`, the name letters, digits and `_`".into());
            return;
        }
        if self.tables.iter().any(|t| t.name.eq_ignore_ascii_case(name)) {
            self.error(header, format!("table `table.{name}` is defined twice")).help =
                Some("names are case-insensitive".into());
            return;
        }
        let mut values: Option<&Text> = None;
        let mut file: Option<&Text> = None;
        let mut n_cols: Option<usize> = None;
        let mut n_cols_at = header.clone();
        let mut rows_mode = (Interpolation::Linear, None);
        let mut cols_mode = (Interpolation::Exact, None);
        let mut outside = (Extrapolation::Clamp, None);
        for e in &section.entries {
            let key = e.key.as_str().to_lowercase();
            let Some(value) = self.value_of(e, "`key = value`") else { continue };
            match key.as_str() {
                "values" => values = Some(value),
                "file" => file = Some(value),
                "n_cols" => {
                    n_cols_at = value.whole(&self.file);
                    match value.as_str().parse::<usize>() {
                        Ok(n) => n_cols = Some(n),
                        Err(_) => {
                            self.error(n_cols_at.clone(), format!("`{}` is not a column count", value.as_str())).help =
                                Some("`n_cols` is a whole number, 2 for a 1D table".into());
                            n_cols = Some(0);
                        }
                    }
                }
                "interpolation" | "column_interpolation" => {
                    let words = ["linear", "step", "exact"];
                    if let Some(mode) = self.table_word(value, &key, &words, Interpolation::parse) {
                        let at = Some(value.whole(&self.file));
                        if key == "interpolation" {
                            rows_mode = (mode, at);
                        } else {
                            cols_mode = (mode, at);
                        }
                    }
                }
                "extrapolation" => {
                    let words = ["clamp", "linear", "error"];
                    if let Some(mode) = self.table_word(value, &key, &words, Extrapolation::parse) {
                        outside = (mode, Some(value.whole(&self.file)));
                    }
                }
                _ => {
                    let at = e.key.whole(&self.file);
                    let close = closest(&key, TABLE_KEYS.iter().copied());
                    let help = match close {
                        Some(k) => format!("did you mean `{k}`?"),
                        None => format!("a table has {}", TABLE_KEYS.map(|k| format!("`{k}`")).join(", ")),
                    };
                    self.warning(at, format!("unknown table key `{}`", e.key.as_str())).help = Some(help.into());
                }
            }
        }
        let n_cols_given = n_cols.is_some();
        let n_cols = n_cols.unwrap_or(2);
        let stand_in = |n_cols: usize| {
            let cells: &[&str] = if n_cols == 2 { &["0", "0", "1", "0"] } else { &["x", "1", "2", "0", "0", "0"] };
            Table::from_cells(name, cells, if n_cols == 2 { 2 } else { 3 })
        };
        let cells = match (values, file) {
            (Some(_), Some(file)) => {
                self.error(file.whole(&self.file), format!("`table.{name}` has both `values` and `file`")).help =
                    Some("a table's cells come from one of them: remove the other".into());
                None
            }
            (None, None) => {
                self.error(header.clone(), format!("table `table.{name}` has no `values`")).help =
                    Some("add `values = x1, y1, x2, y2, …`, or `file = table.csv`".into());
                None
            }
            _ if n_cols == 0 => None,
            (Some(values), None) => {
                let file = self.file.clone();
                let cells = split_cells(values.as_str());
                let cells =
                    cells.iter().map(|&(a, b)| (values.as_str()[a..b].to_string(), values.location(&file, a, b)));
                Some((cells.collect::<Vec<_>>(), values.whole(&file), n_cols))
            }
            (None, Some(path)) => match self.table_file(name, path, dir) {
                Some((cells, whole, file_cols)) => {
                    if n_cols_given && n_cols != file_cols {
                        self.error(
                            n_cols_at.clone(),
                            format!("`n_cols = {n_cols}`, but the rows of `{}` have {file_cols} cells", path.as_str()),
                        )
                        .help = Some("a table file's rows give its width: remove `n_cols`, or correct it".into());
                        None
                    } else {
                        Some((cells, whole, file_cols))
                    }
                }
                None => None,
            },
        };
        let table = match cells {
            None => stand_in(if n_cols > 2 { 3 } else { 2 }),
            Some((cells, whole, n_cols)) => {
                let texts: Vec<&str> = cells.iter().map(|(t, _)| t.as_str()).collect();
                match Table::from_cells(name, &texts, n_cols) {
                    Ok(t) => Ok(t),
                    Err(err) => {
                        let cell_at = |i: usize| cells.get(i).map_or(whole.clone(), |(_, at)| at.clone());
                        let at = match &err {
                            TableError::CellInvalid { index, .. } => cell_at(index - 1),
                            TableError::KeysUnordered { .. } => match unordered_key(&texts, n_cols) {
                                Some(i) => cell_at(i),
                                None => whole,
                            },
                            TableError::ColumnsTooFew { .. } => n_cols_at.clone(),
                            _ => whole,
                        };
                        let help = match &err {
                            TableError::CellsRagged { .. } => Some(format!("each row has {n_cols} cells (`n_cols`)")),
                            TableError::KeysUnordered { .. } => Some("keys must be strictly ascending".to_string()),
                            _ => None,
                        };
                        let message = err.to_string();
                        let message = message.strip_prefix(&format!("table `{name}`: ")).unwrap_or(&message);
                        let message = format!("in `table.{name}`: {message}");
                        self.error(at, message).help = help.map(Into::into);
                        stand_in(n_cols)
                    }
                }
            }
        };
        let Ok(table) = table else { return };
        if let (1, Some(at)) = (table.arity(), &cols_mode.1) {
            self.warning(at.clone(), format!("`table.{name}` is a 1D table: `column_interpolation` has no effect"))
                .help = Some("`column_interpolation` chooses how a 2D table's column key looks up".into());
        }
        if let (Extrapolation::Linear, Some(at)) = (outside.0, &outside.1) {
            if rows_mode.0 != Interpolation::Linear && cols_mode.0 != Interpolation::Linear {
                self.warning(at.clone(), format!("`table.{name}` has no linear axis to extrapolate: lookups outside its keys hold the end values")).help =
                    Some("`extrapolation = linear` extends the end segments of a `linear` axis; use `clamp` to say what happens".into());
            }
        }
        let table =
            table.with_interpolation(rows_mode.0, cols_mode.0).with_extrapolation(outside.0, outside.1.is_some());
        self.tables.push(TableDef { name: name.to_string(), at: header, table });
    }

    /// A table option's value: one of `words`, else an error with the nearest word.
    fn table_word<T>(&mut self, value: &Text, key: &str, words: &[&str], parse: fn(&str) -> Option<T>) -> Option<T> {
        let parsed = parse(value.as_str());
        if parsed.is_none() {
            let at = value.whole(&self.file);
            let list = words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ");
            let help = match closest(value.as_str(), words.iter().copied()) {
                Some(w) => format!("did you mean `{w}`? `{key}` is one of {list}"),
                None => format!("`{key}` is one of {list}"),
            };
            self.error(at, format!("unknown {key} `{}`", value.as_str())).help = Some(help.into());
        }
        parsed
    }

    /// The cells of a table file (`file = levels.csv`, relative to the model's folder), each with
    /// its place in that file, the whole file's place, and the cells per row. Problems are
    /// reported at the file's line and column.
    fn table_file(&mut self, name: &str, path: &Text, dir: &Path) -> Option<TableCells> {
        let written = path.as_str().trim();
        let resolved = resolve_path(written, dir);
        let at = path.whole(&self.file);
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&resolved)
            .and_then(|f| f.take(MAX_TABLE_FILE_BYTES + 1).read_to_end(&mut bytes).map(|_| ()));
        if let Err(e) = read {
            let what =
                if e.kind() == std::io::ErrorKind::NotFound { "does not exist".to_string() } else { e.to_string() };
            self.diagnostics.push(
                Diagnostic::error(
                    Kind::File,
                    Some(at),
                    format!("the file of `table.{name}` {what}: {}", resolved.display()),
                )
                .with_help("a table's `file` is relative to the model file's folder"),
            );
            return None;
        }
        if bytes.len() as u64 > MAX_TABLE_FILE_BYTES {
            self.diagnostics.push(
                Diagnostic::error(
                    Kind::File,
                    Some(at),
                    format!("the file of `table.{name}` is larger than {} MiB", MAX_TABLE_FILE_BYTES >> 20),
                )
                .with_help("is this the table's file? a table holds at most ten million cells"),
            );
            return None;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            self.diagnostics.push(
                Diagnostic::error(
                    Kind::File,
                    Some(at),
                    format!("the file of `table.{name}` is not UTF-8 text: {}", resolved.display()),
                )
                .with_help("save the table as a CSV text file"),
            );
            return None;
        };
        let csv = Arc::new(SourceFile::new(written, text.as_str()));
        let whole = Location::new(&csv, 0, text.len());
        let mut cells = Vec::new();
        let mut width: Option<(usize, usize)> = None;
        let mut start = 0;
        for (line_no, line) in text.split('\n').enumerate() {
            let line_start = start;
            start += line.len() + 1;
            let content = line.trim_end_matches('\r');
            if content.trim().is_empty() || content.trim_start().starts_with('#') {
                continue;
            }
            let row = split_cells(content);
            match width {
                None => width = Some((row.len(), line_no + 1)),
                Some((w, first)) if w != row.len() => {
                    let loc = Location::new(&csv, line_start, line_start + content.len());
                    self.diagnostics.push(
                        Diagnostic::error(
                            Kind::Definition,
                            Some(loc),
                            format!("in `table.{name}`: this row has {} cells, but row {first} has {w}", row.len()),
                        )
                        .with_help("every row of a table file has the same number of cells"),
                    );
                    return None;
                }
                _ => {}
            }
            for (a, b) in row {
                let cell = content[a..b].trim_matches('"').to_string();
                cells.push((cell, Location::new(&csv, line_start + a, line_start + b)));
            }
        }
        let Some((width, _)) = width else {
            self.diagnostics.push(
                Diagnostic::error(Kind::Definition, Some(at), format!("the file of `table.{name}` has no rows"))
                    .with_help("a 1D table file has rows `x, y`; a 2D one a header row of column keys, then rows of a row key and values"),
            );
            return None;
        };
        Some((cells, whole, width))
    }

    fn var(&mut self, section: &Section, block: &str, header: Location) {
        let block = block.to_lowercase();
        if !is_segment(&block) {
            self.error(header, format!("`{block}` is not a valid block name")).help =
                Some("a block is `[var.<name>]`, the name letters, digits and `_`".into());
            return;
        }
        for e in &section.entries {
            let Some(value) = self.value_of(e, "`key = expression`") else { continue };
            let key = e.key.as_str().to_lowercase();
            let key_at = e.key.whole(&self.file);
            if key == "phase" {
                if !value.as_str().eq_ignore_ascii_case("flow") {
                    let at = value.whole(&self.file);
                    self.error(at, format!("unsupported phase `{}`", value.as_str())).help =
                        Some("Kalix evaluates `[var.*]` blocks in the flow phase: `phase = flow`".into());
                }
                continue;
            }
            if !key.starts_with(|c: char| c.is_ascii_lowercase())
                || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                self.error(key_at, format!("`{}` is not a valid key", e.key.as_str())).help =
                    Some("a `[var.*]` key is a letter, then letters, digits and `_`".into());
                continue;
            }
            self.series(format!("var.{block}.{key}"), SeriesKind::Var, value, key_at);
        }
    }

    fn node(&mut self, section: &Section, node: &str, header: Location) {
        if node.is_empty() {
            self.error(header, "a node section needs a name: `[node.<name>]`");
            return;
        }
        if !is_segment(node) {
            self.warning(header.clone(), format!("node name `{node}` cannot be read by an expression")).help =
                Some("a name is letters, digits and `_`".into());
        }
        let schema = Schema::kalix();
        let type_entry = section.entries.iter().find(|e| e.key.as_str().eq_ignore_ascii_case("type"));
        let Some(type_text) = type_entry.and_then(|e| e.value.as_ref()) else {
            self.warning(header, format!("node `{node}` has no `type`")).help =
                Some("its properties are not checked".into());
            return;
        };
        let type_name = type_text.as_str().to_lowercase();
        let Some(node_type) = schema.node_type(&type_name) else {
            let at = type_text.whole(&self.file);
            let help = match closest(&type_name, schema.type_names()) {
                Some(t) => format!("did you mean `{t}`? The node's properties are not checked"),
                None => format!(
                    "the known types are {}; the node's properties are not checked",
                    schema.type_names().collect::<Vec<_>>().join(", ")
                ),
            };
            self.warning(at, format!("unknown node type `{}`", type_text.as_str())).help = Some(help.into());
            return;
        };
        for e in &section.entries {
            let key = e.key.as_str().to_lowercase();
            let key_at = e.key.whole(&self.file);
            match node_type.property(&key) {
                Property::Data => {}
                Property::Expression => {
                    let Some(value) = self.value_of(e, "`property = expression`") else { continue };
                    let kind = SeriesKind::Node { node: node.to_string(), property: key.clone() };
                    self.series(format!("node.{node}.{key}"), kind, value, key_at);
                }
                Property::Unknown => {
                    let properties: Vec<String> = node_type.properties().collect();
                    let help = match closest(&key, properties.iter().map(String::as_str)) {
                        Some(p) => format!("did you mean `{p}`?"),
                        None => format!(
                            "Kalix reports \"Unexpected parameter\"; the properties of `{type_name}` are {}",
                            properties.join(", ")
                        ),
                    };
                    self.warning(
                        key_at,
                        format!("`{}` is not a property of node type `{type_name}`", e.key.as_str()),
                    )
                    .help = Some(help.into());
                }
            }
        }
    }

    fn series(&mut self, name: String, kind: SeriesKind, value: &Text, key_at: Location) {
        let key = name.to_lowercase();
        if let Some(first) = self.series_index.get(&key).map(|&i| &self.series[i]) {
            let (line, _) = self.file.line_col(first.value.file_offset(0));
            self.error(key_at, format!("`{name}` is defined twice")).help =
                Some(format!("first defined on line {line}; names are case-insensitive").into());
            return;
        }
        let expr = match Expr::parse(value.as_str()) {
            // A failed `${NAME}` is reported already: the series stands in as unparsed.
            _ if value.is_broken() => None,
            Ok(expr) => Some(expr),
            Err(err) => {
                self.expr_error(&err, value);
                None
            }
        };
        self.series_index.insert(key, self.series.len());
        self.series.push(Series { name, kind, value: value.clone(), expr, key: key_at });
    }
}

/// The byte ranges of the comma-separated cells of a table's `values`, trimmed; a trailing comma
/// adds no cell.
fn split_cells(values: &str) -> Vec<(usize, usize)> {
    let mut cells = Vec::new();
    let mut start = 0;
    for piece in values.split(',') {
        let lead = piece.len() - piece.trim_start().len();
        cells.push((start + lead, start + lead + piece.trim().len()));
        start += piece.len() + 1;
    }
    if cells.len() > 1 && cells.last().is_some_and(|(a, b)| a == b) {
        cells.pop();
    }
    cells
}

/// The index of the first cell whose key is not above the key before it (row keys, then the
/// column keys of a 2D table).
fn unordered_key(cells: &[&str], n_cols: usize) -> Option<usize> {
    let num = |i: usize| cells.get(i).and_then(|c| c.trim().parse::<f64>().ok());
    let rows = cells.len() / n_cols;
    let first_row = usize::from(n_cols > 2 || (num(0).is_none() && num(1).is_none()));
    let row_keys = (first_row..rows).map(|r| r * n_cols);
    let col_keys = if n_cols > 2 { (1..n_cols).collect() } else { Vec::new() };
    for keys in [row_keys.collect::<Vec<_>>(), col_keys] {
        for w in keys.windows(2) {
            if let (Some(a), Some(b)) = (num(w[0]), num(w[1])) {
                if b <= a {
                    return Some(w[1]);
                }
            }
        }
    }
    None
}

/// A path of the `[data]` section: absolute, relative to the model's folder, or `^/path`,
/// which is looked for in the model's folder and then each folder above it (Kalix's
/// "trailhead" paths).
fn resolve_path(written: &str, dir: &Path) -> PathBuf {
    if let Some(rest) = written.strip_prefix("^/") {
        let mut at = Some(dir);
        while let Some(d) = at {
            let candidate = d.join(rest);
            if candidate.exists() {
                return candidate;
            }
            at = d.parent();
        }
        return dir.join(rest);
    }
    dir.join(written)
}

/// A date in the forms Kalix reads: `YYYY-MM-DD`, `DD/MM/YYYY`, `YYYY/MM/DD`, `DD-MM-YYYY`,
/// optionally followed by a time (`T00:00:00` or ` 00:00`), which is ignored.
pub fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    let date = text.split(['T', ' ']).next().unwrap_or(text);
    if let Ok(d) = date.parse::<Date>() {
        return Some(d);
    }
    let parts: Vec<&str> = date.split(['/', '-']).collect();
    let [a, b, c] = parts.as_slice() else { return None };
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(a) && digits(b) && digits(c)) {
        return None;
    }
    let (y, m, d) = if a.len() == 4 {
        (a, b, c)
    } else if c.len() == 4 {
        (c, b, a)
    } else {
        return None;
    };
    Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> ModelFile {
        load_text("m.ini", text, Path::new("."), &|_| None)
    }

    /// `line:column message` of every diagnostic.
    fn problems(m: &ModelFile) -> Vec<String> {
        m.diagnostics.iter().map(|d| format!("{} {}", d.position().unwrap_or_default(), d.message)).collect()
    }

    #[test]
    fn sections_become_definitions_in_file_order() {
        let m = load(
            "[kalix]\nstart = 2001-02-03\n[const]\nconst.K = 1.5\n[fn]\nf(a) = a * 2\n\
             [table.t]\nvalues = 0, 0,\n  10, 100,\n[var.b]\nx = 1\n[node.n]\ntype = inflow\nloc = 0, 0\n\
             inflow = this.x + fn.f(1)\n[data]\nd.csv\n[outputs]\nnode.n.ds_1\n",
        );
        assert_eq!(problems(&m), Vec::<String>::new());
        assert_eq!(m.start, Date::new(2001, 2, 3));
        assert_eq!((m.constants[0].name.as_str(), m.constants[0].value), ("const.k", 1.5));
        assert_eq!(m.functions[0].name, Some(("f".into(), 1)));
        assert_eq!(m.tables[0].table.lookup1(5.0), 50.0);
        let names: Vec<&str> = m.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["var.b.x", "node.n.inflow"]);
        assert_eq!(m.data[0].written, "d.csv");
    }

    #[test]
    fn constants_are_full_names_and_plain_numbers() {
        let m = load("[const]\nk = 1\nconst.a = 1 + 2\nconst.b = 2\nconst.B = 3\nconst.c = inf\n");
        assert_eq!(
            problems(&m),
            [
                "m.ini:2:1 `k` is not a constant name",
                "m.ini:3:11 `1 + 2` is not a number",
                "m.ini:5:1 constant `const.b` is defined twice",
            ]
        );
        assert_eq!(m.constants.last().map(|c| c.value), Some(f64::INFINITY));
    }

    #[test]
    fn function_errors_point_into_the_signature_or_the_body() {
        let m = load("[fn]\nf(a, a) = 1 +\ng(x) = max(x,\n   2) +\nh(y) = y\n");
        assert_eq!(
            problems(&m),
            [
                "m.ini:2:6 duplicate parameter `a`",
                "m.ini:2:14 expected an expression, found end of input",
                "m.ini:4:8 expected an expression, found end of input",
            ]
        );
        assert!(m.functions[2].def.is_some());
        assert_eq!(m.functions[1].name, Some(("g".into(), 1)));
    }

    #[test]
    fn table_errors_point_at_the_cell() {
        let m = load("[table.a]\nvalues = 0, 0,\n  10, x,\n[table.b]\nvalues = 0, 0, 5, 1, 3, 2\n[table.c]\nn_cols = 3\nvalues = 1, 2\n");
        assert_eq!(
            problems(&m),
            [
                "m.ini:3:7 in `table.a`: cell 4 `x` is not a finite number",
                "m.ini:5:22 in `table.b`: keys must be strictly ascending, but 3 follows 5",
                "m.ini:8:10 in `table.c`: 2 cells do not fill rows of 3",
            ]
        );
        // Stand-ins keep the arity, so calls raise no follow-up errors.
        assert_eq!(m.tables.iter().map(|t| t.table.arity()).collect::<Vec<_>>(), [1, 1, 2]);
    }

    #[test]
    fn nodes_follow_the_schema_with_warnings_for_the_unknown() {
        let m = load(
            "[node.a]\nloc = 0, 0\ntype = gauge\nobserved = data.x\nforce_flow = 1\n\
             [node.b]\ntype = user\ndemand = 1\n[node.c]\ninflow = 2\n[node.d]\ntype = storage\nds_2_force_release = 3\ndimensions = 1, 2\n",
        );
        assert_eq!(
            problems(&m),
            [
                "m.ini:4:1 `observed` is not a property of node type `gauge`",
                "m.ini:7:8 unknown node type `user`",
                "m.ini:9:2 node `c` has no `type`",
            ]
        );
        assert!(m.diagnostics.iter().all(|d| !d.is_error()));
        let names: Vec<&str> = m.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["node.a.force_flow", "node.d.ds_2_force_release"]);
    }

    #[test]
    fn var_keys_are_checked() {
        let m = load("[var.b]\nphase = flow\nOK = 1\n2x = 1\nok = 2\n[var.c]\nphase = order\n");
        assert_eq!(
            problems(&m),
            [
                "m.ini:4:1 `2x` is not a valid key",
                "m.ini:5:1 `var.b.ok` is defined twice",
                "m.ini:7:9 unsupported phase `order`"
            ]
        );
    }

    #[test]
    fn unknown_sections_are_errors_and_unchecked_sections_count_as_references() {
        let m = load("[cosnt]\nconst.a = 1\n[ras.r]\naction = allocate(table.curve(node.d.volume[-1, 0]))\n");
        assert_eq!(problems(&m), ["m.ini:1:2 unknown section `[cosnt]`"]);
        assert!(m.diagnostics[0].is_error(), "Kalix refuses an unexpected section");
        assert_eq!(m.diagnostics[0].help_text(), Some("did you mean `const`?"));
        assert_eq!(m.diagnostics[0].help.as_ref().map(Help::replacements), Some(&["const".to_string()][..]));
        assert!(m.references.contains(&"table.curve".to_string()));
        assert!(m.references.contains(&"node.d.volume".to_string()));
    }

    #[test]
    fn hostile_text_gives_errors() {
        assert_eq!(problems(&load("[a]\nk = 1\0")), ["m.ini:2:6 the model file contains a NUL byte"]);
        let m = load("[var.b]\nk = { a = 1;\n");
        assert_eq!(problems(&m), ["m.ini:2:5 unclosed `{`"]);
    }

    #[test]
    fn dates_read_in_kalix_forms() {
        for text in ["2000-01-31", "31/01/2000", "2000/01/31", "31-01-2000", "2000-01-31T00:00:00", "2000-01-31 00:00"]
        {
            assert_eq!(parse_date(text), Date::new(2000, 1, 31), "{text}");
        }
        for text in ["2000-02-30", "01/31/2000", "x", "", "2000-1"] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }
}
