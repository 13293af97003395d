//! What the names of a model file mean and where they are: each definition (constant, series,
//! user function, table) and each use of a name in an expression, as byte ranges of the file.
//! Built from the model library's [`ModelFile`], so the server and `kexpr check` read a model
//! the same way.

use std::collections::HashMap;

use kalix_expr_core::ast::{Ast, Node, NodeKind};
use kalix_expr_model::ini::Text;
use kalix_expr_model::{format_value, ModelFile, SeriesKind};

/// What a definition defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefKind {
    Constant,
    Series,
    Function,
    Table,
}

/// A definition: its full name, where its name is written, and what a hover shows of it.
#[derive(Debug, Clone)]
pub(crate) struct Def {
    /// The full name as expressions write it: `const.k`, `var.b.x`, `node.n.p`, `fn.f`, `table.t`.
    pub(crate) name: String,
    pub(crate) kind: DefKind,
    /// The bytes of the name as the definition writes it (`x` of `x = …`, `f` of `f(a) = …`).
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Markdown for a hover.
    pub(crate) detail: String,
}

/// How a name is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Read at this step.
    Read,
    /// Read at another step, `x[k, d]`.
    Offset,
    /// Called.
    Call,
    /// A block's local or a function's parameter (no definition elsewhere).
    Local,
}

/// A use of a name in an expression.
#[derive(Debug, Clone)]
pub(crate) struct Occurrence {
    /// The name it means, lower-case (`this.usflow` in node `n` means `node.n.usflow`).
    pub(crate) target: String,
    /// The bytes of the name as written.
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) how: Use,
}

/// The index of one model file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    pub(crate) defs: Vec<Def>,
    pub(crate) uses: Vec<Occurrence>,
    by_name: HashMap<String, usize>,
}

impl Index {
    pub(crate) fn new(m: &ModelFile) -> Index {
        let mut ix = Index::default();
        for c in &m.constants {
            let at = c.key.whole(&m.file);
            let detail = format!("```\n{} = {}\n```\nconstant", c.name, format_value(c.value));
            ix.def(&c.name, DefKind::Constant, at.start, at.end, detail);
        }
        for f in &m.functions {
            let Some((name, _)) = &f.name else { continue };
            let sig = f.signature.as_str();
            let name_len = sig.find('(').unwrap_or(sig.len());
            let written = sig[..name_len].trim_end();
            let at = f.signature.location(&m.file, 0, written.len());
            let description =
                f.def.as_ref().and_then(|d| d.description()).map(|d| format!("\n\n{d}")).unwrap_or_default();
            let body = one_line(f.body.as_str());
            let detail = format!("```\nfn.{sig_rest} = {body}\n```\nuser function{description}", sig_rest = sig.trim());
            ix.def(&format!("fn.{name}"), DefKind::Function, at.start, at.end, detail);
        }
        for t in &m.tables {
            let table = &t.table;
            let (rows_mode, cols_mode) = table.interpolation();
            let (lo, hi) = table.key_range(kalix_expr_core::table::Axis::Row);
            let shape = if table.arity() == 1 {
                format!("1D table of {} rows, keys {lo} to {hi}", table.row_keys().len())
            } else {
                let cols: Vec<String> = table.column_keys().iter().map(|k| k.to_string()).collect();
                format!(
                    "2D table of {} rows (keys {lo} to {hi}) and columns {}; call it `table.{}(column, row)`",
                    table.row_keys().len(),
                    cols.join(", "),
                    t.name
                )
            };
            let detail = format!(
                "```\ntable.{}\n```\n{shape}\n\ninterpolation {}, columns {}, extrapolation {}",
                t.name,
                rows_mode.as_str(),
                cols_mode.as_str(),
                table.extrapolation().as_str()
            );
            // `[table.name]`: the section's name.
            ix.def(&format!("table.{}", t.name), DefKind::Table, t.at.start, t.at.end, detail);
        }
        for s in &m.series {
            let what = match &s.kind {
                SeriesKind::Var => "series".to_string(),
                SeriesKind::Node { node, .. } => format!("property of node `{node}`"),
            };
            let detail = format!("```\n{} = {}\n```\n{what}", s.name, one_line(s.value.as_str()));
            ix.def(&s.name, DefKind::Series, s.key.start, s.key.end, detail);
        }
        // The uses.
        for s in &m.series {
            let Some(expr) = &s.expr else { continue };
            let this_series = matches!(s.kind, SeriesKind::Var).then_some(s.name.as_str());
            let node = s.this_node();
            ix.uses_in(m, expr.ast(), &s.value, this_series, node.as_deref(), &[]);
        }
        for f in &m.functions {
            let Some(def) = &f.def else { continue };
            ix.uses_in(m, def.body().ast(), &f.body, None, None, def.params());
        }
        for r in &m.ras_actions {
            if let Some(expr) = &r.expr {
                ix.uses_in(m, expr.ast(), &r.text, None, None, &[]);
            }
        }
        ix
    }

    fn def(&mut self, name: &str, kind: DefKind, start: usize, end: usize, detail: String) {
        self.by_name.entry(name.to_lowercase()).or_insert(self.defs.len());
        self.defs.push(Def { name: name.to_string(), kind, start, end, detail });
    }

    /// The definition of `name` (any case).
    pub(crate) fn definition(&self, name: &str) -> Option<&Def> {
        self.by_name.get(&name.to_lowercase()).map(|&i| &self.defs[i])
    }

    /// The uses of the names in one expression.
    fn uses_in(
        &mut self,
        m: &ModelFile,
        ast: &Ast,
        text: &Text,
        this_series: Option<&str>,
        node: Option<&str>,
        params: &[String],
    ) {
        let locals = ast.locals();
        let place = |start: usize, end: usize| {
            let at = text.location(&m.file, start, end);
            (at.start, at.end)
        };
        let mut names: Vec<(&kalix_expr_core::ast::Name, Use)> = Vec::new();
        if let Ast::Block(b) = ast {
            for s in &b.stmts {
                if let kalix_expr_core::ast::Stmt::Assign { name, .. } = s {
                    names.push((name, Use::Local));
                }
            }
        }
        for n in ast.nodes() {
            collect(n, &mut names);
        }
        for (name, how) in names {
            let lower = name.text.to_lowercase();
            let (target, how) = if how == Use::Call {
                (lower, Use::Call)
            } else if locals.contains(&lower) || params.iter().any(|p| p.eq_ignore_ascii_case(&lower)) {
                (lower, Use::Local)
            } else if lower == "this" {
                (this_series.map(str::to_lowercase).unwrap_or(lower), how)
            } else if let (Some(rest), Some(node)) = (lower.strip_prefix("this."), node) {
                (format!("{}.{rest}", node.to_lowercase()), how)
            } else {
                (lower, how)
            };
            let end = name.span.start + name.text.len();
            let (start, end) = place(name.span.start, end);
            self.uses.push(Occurrence { target, start, end, how });
        }
    }

    /// The use or definition whose name covers byte `at`: its target name and range.
    pub(crate) fn at(&self, at: usize) -> Option<(String, usize, usize, Option<Use>)> {
        if let Some(u) = self.uses.iter().find(|u| u.start <= at && at <= u.end) {
            return Some((u.target.clone(), u.start, u.end, Some(u.how)));
        }
        self.defs.iter().find(|d| d.start <= at && at <= d.end).map(|d| (d.name.to_lowercase(), d.start, d.end, None))
    }

    /// Every use of `target` (lower-case) outside locals.
    pub(crate) fn uses_of<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.uses.iter().filter(move |u| u.target == target && u.how != Use::Local)
    }
}

/// The names a node and its children write, in source order, with how each is used.
fn collect<'a>(n: &'a Node, out: &mut Vec<(&'a kalix_expr_core::ast::Name, Use)>) {
    match &n.kind {
        NodeKind::Var(name) => out.push((name, Use::Read)),
        NodeKind::Offset { name, .. } => out.push((name, Use::Offset)),
        NodeKind::Call { name, .. } => out.push((name, Use::Call)),
        NodeKind::Number(_) | NodeKind::Unary { .. } | NodeKind::Binary { .. } => {}
    }
}

/// A value written over several lines, on one.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
