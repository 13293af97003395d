//! The dependency graph of a model's expressions ([`Graph::of`]): which series, constants,
//! tables, user functions, inputs and calendar fields each series reads, with reads of another
//! step (offsets), feedback loops and reads of a series before it is computed marked. Built
//! from the model as written, so a model with errors has a graph too.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use kalix_expr_core::ast::{Ast, NodeKind};
use kalix_expr_core::builtins;
use serde::Serialize;

use crate::load::ModelFile;

/// What a vertex of the graph is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VertexKind {
    /// A computed series: a `[var.*]` key or a node's expression property.
    Series,
    /// An input: a data column, or a node property the simulator computes.
    Input,
    /// A `[const]` constant.
    Constant,
    /// A `[table.*]` table.
    Table,
    /// A user function.
    Function,
    /// A field of the simulation calendar (`sim.month`).
    Calendar,
}

/// A vertex: a name and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vertex {
    /// The name as expressions write it (`var.b.k`, `data.rain`, `table.curve`, `fn.f`).
    pub name: String,
    /// What it is.
    pub kind: VertexKind,
}

/// An edge: `to` reads `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// What is read.
    pub from: String,
    /// What reads it.
    pub to: String,
    /// The offset of a read of another step (`x[-1, 0]` is `-1`); `None` for this step.
    pub offset: Option<i64>,
    /// A read of a series, at this step, that is computed later in the step (or is the series
    /// itself): an error `kexpr check` reports.
    pub read_ahead: bool,
    /// Part of a cycle of series reads (a feedback loop: legal through an offset).
    pub in_cycle: bool,
}

/// The dependency graph of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graph {
    /// Every name read or defined, series first in model order, then the rest by name.
    pub vertices: Vec<Vertex>,
    /// Each read, once per pair and offset.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The graph of `m`'s expressions and user functions.
    ///
    /// ```
    /// use kalix_expr_model::{Graph, ModelFile};
    /// let m = ModelFile::from_text("m.ini", "[var.b]\nx = data.rain * 2\ny = var.b.x + this[-1, 0]\n");
    /// let g = Graph::of(&m);
    /// assert!(g.edges.iter().any(|e| e.from == "data.rain" && e.to == "var.b.x"));
    /// assert!(g.edges.iter().any(|e| e.from == "var.b.y" && e.to == "var.b.y" && e.offset == Some(-1) && e.in_cycle));
    /// ```
    pub fn of(m: &ModelFile) -> Graph {
        let series: HashMap<String, usize> =
            m.series.iter().enumerate().map(|(i, s)| (s.name.to_lowercase(), i)).collect();
        let constants: HashSet<String> = m.constants.iter().map(|c| c.name.to_lowercase()).collect();
        let mut b = Builder { kinds: HashMap::new(), edges: Vec::new(), seen: HashSet::new() };
        for s in &m.series {
            b.vertex(&s.name, VertexKind::Series);
        }
        for (i, s) in m.series.iter().enumerate() {
            let Some(expr) = &s.expr else { continue };
            let node = s.this_node();
            for (name, offset, call) in reads(expr.ast()) {
                let lower = name.to_lowercase();
                let name = if lower == "this" {
                    s.name.clone()
                } else if let (Some(rest), Some(node)) = (lower.strip_prefix("this."), &node) {
                    format!("{node}.{rest}")
                } else {
                    name
                };
                let lower = name.to_lowercase();
                let kind = if call {
                    if lower.starts_with("table.") {
                        VertexKind::Table
                    } else {
                        VertexKind::Function
                    }
                } else if let Some(&j) = series.get(&lower) {
                    let name = m.series[j].name.clone();
                    b.edge(&name, &s.name, offset, offset.is_none() && j >= i);
                    continue;
                } else if constants.contains(&lower) {
                    VertexKind::Constant
                } else if lower.starts_with("sim.") {
                    VertexKind::Calendar
                } else {
                    VertexKind::Input
                };
                b.vertex(&name, kind);
                b.edge(&name, &s.name, offset, false);
            }
        }
        // What user functions read: tables, other functions, constants.
        for f in &m.functions {
            let (Some(def), Some((fname, _))) = (&f.def, &f.name) else { continue };
            let me = format!("fn.{fname}");
            b.vertex(&me, VertexKind::Function);
            let params: HashSet<String> = def.params().iter().map(|p| p.to_lowercase()).collect();
            for (name, offset, call) in reads(def.body().ast()) {
                let lower = name.to_lowercase();
                let kind = if call && lower.starts_with("table.") {
                    VertexKind::Table
                } else if call {
                    VertexKind::Function
                } else if params.contains(&lower) {
                    continue;
                } else if constants.contains(&lower) {
                    VertexKind::Constant
                } else {
                    continue;
                };
                b.vertex(&name, kind);
                b.edge(&name, &me, offset, false);
            }
        }
        b.mark_cycles();
        let mut vertices: Vec<Vertex> =
            m.series.iter().map(|s| Vertex { name: s.name.clone(), kind: VertexKind::Series }).collect();
        let mut rest: Vec<Vertex> = b
            .kinds
            .values()
            .filter(|(_, k)| *k != VertexKind::Series)
            .map(|(name, kind)| Vertex { name: name.clone(), kind: *kind })
            .collect();
        rest.sort_by(|a, b| a.name.cmp(&b.name));
        vertices.extend(rest);
        Graph { vertices, edges: b.edges }
    }

    /// The graph in Graphviz's DOT language: series as boxes, inputs as parallelograms,
    /// constants as ellipses, tables as tabs, functions as components; a read of another step
    /// dashed and labelled with its offset, a feedback loop in orange, a read of a series
    /// before it is computed in red.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph model {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n");
        for v in &self.vertices {
            let (shape, fill) = match v.kind {
                VertexKind::Series => ("box", "#dbe9f6"),
                VertexKind::Input => ("parallelogram", "#e2f0d9"),
                VertexKind::Constant => ("ellipse", "#f2f2f2"),
                VertexKind::Table => ("tab", "#fff2cc"),
                VertexKind::Function => ("component", "#ead1f5"),
                VertexKind::Calendar => ("oval", "#fce4d6"),
            };
            let _ = writeln!(out, "  {} [shape={shape}, style=filled, fillcolor=\"{fill}\"];", quote(&v.name));
        }
        for e in &self.edges {
            let mut attrs = Vec::new();
            if let Some(k) = e.offset {
                attrs.push(format!("label=\"[{k}]\""));
                attrs.push("style=dashed".to_string());
            }
            if e.read_ahead {
                attrs.push("color=\"red\"".to_string());
                attrs.push("penwidth=2".to_string());
            } else if e.in_cycle {
                attrs.push("color=\"darkorange\"".to_string());
            }
            let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
            let _ = writeln!(out, "  {} -> {}{attrs};", quote(&e.from), quote(&e.to));
        }
        out.push_str("}\n");
        out
    }
}

/// A DOT identifier: the name in double quotes.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The names an expression reads: `(name, offset, is a call)`, each once, in order;
/// built-in calls and block locals left out.
fn reads(ast: &Ast) -> Vec<(String, Option<i64>, bool)> {
    let locals: HashSet<String> = ast.locals().into_iter().collect();
    let mut out: Vec<(String, Option<i64>, bool)> = Vec::new();
    let mut push = |item: (String, Option<i64>, bool)| {
        if !out.iter().any(|o| o.0.eq_ignore_ascii_case(&item.0) && o.1 == item.1 && o.2 == item.2) {
            out.push(item);
        }
    };
    for n in ast.nodes() {
        match &n.kind {
            // A built-in constant (`pi`) is not a vertex; a dotted name never is one.
            NodeKind::Var(name)
                if !locals.contains(&name.text.to_lowercase())
                    && (builtins::constant(&name.text).is_none() || name.text.contains('.')) =>
            {
                push((name.text.clone(), None, false))
            }
            NodeKind::Offset { name, step, .. } => push((name.text.clone(), Some(*step), false)),
            NodeKind::Call { name, .. } if name.text.contains('.') => push((name.text.clone(), None, true)),
            _ => {}
        }
    }
    out
}

/// Collects the vertices and edges.
struct Builder {
    /// Lower-case name → (name as first written, kind).
    kinds: HashMap<String, (String, VertexKind)>,
    edges: Vec<Edge>,
    seen: HashSet<(String, String, Option<i64>)>,
}

impl Builder {
    fn vertex(&mut self, name: &str, kind: VertexKind) {
        self.kinds.entry(name.to_lowercase()).or_insert_with(|| (name.to_string(), kind));
    }

    fn edge(&mut self, from: &str, to: &str, offset: Option<i64>, read_ahead: bool) {
        let from = self.kinds.get(&from.to_lowercase()).map_or(from.to_string(), |(n, _)| n.clone());
        if self.seen.insert((from.to_lowercase(), to.to_lowercase(), offset)) {
            self.edges.push(Edge { from, to: to.to_string(), offset, read_ahead, in_cycle: false });
        }
    }

    /// Marks the edges between series of one strongly connected component (and self-reads).
    fn mark_cycles(&mut self) {
        let series: Vec<String> =
            self.kinds.iter().filter(|(_, (_, k))| *k == VertexKind::Series).map(|(lower, _)| lower.clone()).collect();
        let index: HashMap<&str, usize> = series.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); series.len()];
        let ends = |e: &Edge| {
            let a = index.get(e.from.to_lowercase().as_str()).copied();
            let b = index.get(e.to.to_lowercase().as_str()).copied();
            a.zip(b)
        };
        for e in &self.edges {
            if let Some((a, b)) = ends(e) {
                next[a].push(b);
            }
        }
        let component = strongly_connected(&next);
        let mut size = vec![0usize; series.len()];
        for &c in &component {
            size[c] += 1;
        }
        let cycles: Vec<bool> = self
            .edges
            .iter()
            .map(|e| ends(e).is_some_and(|(a, b)| a == b || (component[a] == component[b] && size[component[a]] > 1)))
            .collect();
        for (e, c) in self.edges.iter_mut().zip(cycles) {
            e.in_cycle = c;
        }
    }
}

/// The strongly connected component of each vertex (Tarjan's algorithm, without recursion).
fn strongly_connected(next: &[Vec<usize>]) -> Vec<usize> {
    let n = next.len();
    let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let mut component = vec![usize::MAX; n];
    let (mut counter, mut components) = (0, 0);
    let mut stack = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (vertex, next edge to look at)
        let mut work = vec![(root, 0)];
        while let Some(&mut (v, ref mut e)) = work.last_mut() {
            if *e == 0 && index[v] == usize::MAX {
                index[v] = counter;
                low[v] = counter;
                counter += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = next[v].get(*e) {
                *e += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = components;
                    if w == v {
                        break;
                    }
                }
                components += 1;
            }
        }
    }
    component
}
