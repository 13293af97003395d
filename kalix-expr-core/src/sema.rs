//! Resolution: [`Ast`] to [`Ir`]. Names become slots, calls become references to their
//! [`Builtin`], every check happens here and every name error is reported at once. Constant
//! sub-expressions are folded with the same built-in functions evaluation uses.
//!
//! The [`Ir`] holds no strings: evaluation never looks a name up.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Ast, BinaryOp, Block, Name, Node, NodeKind, Stmt, UnaryOp};
use crate::builtins::{self, Builtin, Imp, Stateful};
use crate::error::{Error, ErrorKind, Help};
use crate::expr::Expr;
use crate::host::{FnRef, Host, NativeFn, Scope};
use crate::ir::{Ir, IrNode, IrStmt};
use crate::options::{DivByZero, DomainErrors, Options};
use crate::parse::{STACK_GROWTH, STACK_RED_ZONE};
use crate::span::Span;
use crate::suggest;

/// Resolves `ast` (parsed from `source`) into an [`Ir`], and the name of each slot.
pub fn resolve(ast: &Ast, source: &str, scope: &Scope<'_>, opts: &Options) -> Result<(Ir, Vec<String>), Error> {
    resolve_with(ast, source, scope, &Host::default(), opts)
}

/// [`resolve`] with a [`Host`]'s tables, functions and `this`.
pub fn resolve_with(
    ast: &Ast,
    source: &str,
    scope: &Scope<'_>,
    host: &Host<'_>,
    opts: &Options,
) -> Result<(Ir, Vec<String>), Error> {
    let source: Arc<str> = Arc::from(source);
    resolve_shared(ast, &source, scope, host, opts)
}

pub(crate) fn resolve_shared(
    ast: &Ast,
    source: &Arc<str>,
    scope: &Scope<'_>,
    host: &Host<'_>,
    opts: &Options,
) -> Result<(Ir, Vec<String>), Error> {
    let mut r = Resolver::new(source, scope, host, opts);
    let (stmts, result) = match ast {
        Ast::Expr(n) => (Vec::new(), r.node(n)),
        Ast::Block(b) => r.block(b),
    };
    r.finish(stmts, result)
}

/// Resolves a user function's body on its own: `params` are assigned locals and every other
/// name is free. Used to validate a function library.
pub(crate) fn resolve_body(
    ast: &Ast,
    source: &Arc<str>,
    params: &[&str],
    host: &Host<'_>,
    opts: &Options,
) -> Result<(Ir, Vec<String>), Error> {
    let mut r = Resolver::new(source, &Scope::Free, host, opts);
    for p in params {
        let l = r.n_locals;
        r.n_locals += 1;
        r.locals.insert(p.to_string(), l);
    }
    let (stmts, result) = match ast {
        Ast::Expr(n) => (Vec::new(), r.node(n)),
        Ast::Block(b) => r.block(b),
    };
    r.finish(stmts, result)
}

/// The deepest chain of user-function expansions. Protects against a runaway expansion (the
/// library itself refuses cycles).
pub(crate) const EXPANSION_LIMIT: usize = crate::host::Functions::MAX_DEPTH;

/// The most user-function calls one expression may expand, all told. Protects against a
/// library whose functions each call the next several times (2^depth expansions).
const EXPANSION_BUDGET: usize = 10_000;

struct Resolver<'a> {
    source: &'a Arc<str>,
    opts: &'a Options,
    scope: Scope<'a>,
    host: Host<'a>,
    /// While expanding a user function: the call's span (errors in the body point at it) and
    /// the names being expanded.
    expanding: Vec<(Span, String)>,
    /// Slot names in slot order.
    slots: Vec<String>,
    /// Folded name (see `key`) to slot.
    slot_index: HashMap<String, usize>,
    /// Lower-case local name to index, for locals assigned so far.
    locals: HashMap<String, usize>,
    /// Lower-case names assigned anywhere in the block.
    assigned_later: HashMap<String, ()>,
    n_locals: usize,
    sites: usize,
    /// User-function calls expanded so far.
    expansions: usize,
    error: Option<Error>,
    /// The source of the user function body being expanded (for assert texts).
    body_source: Option<Arc<str>>,
    /// The functions called so far, each once.
    functions: Vec<FnRef>,
}

impl<'a> Resolver<'a> {
    fn new(source: &'a Arc<str>, scope: &Scope<'a>, host: &Host<'a>, opts: &'a Options) -> Self {
        let mut r = Resolver {
            source,
            opts,
            scope: *scope,
            host: *host,
            expanding: Vec::new(),
            slots: Vec::new(),
            slot_index: HashMap::new(),
            locals: HashMap::new(),
            assigned_later: HashMap::new(),
            n_locals: 0,
            sites: 0,
            expansions: 0,
            error: None,
            body_source: None,
            functions: Vec::new(),
        };
        if let Scope::Bound(names) = scope {
            for name in names.iter() {
                r.slot_for(name);
            }
        }
        r
    }

    fn finish(self, stmts: Vec<IrStmt>, result: IrNode) -> Result<(Ir, Vec<String>), Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let n_slots = match self.scope {
            Scope::Indexed(ix) => ix.len(),
            _ => self.slots.len(),
        };
        Ok((Ir { stmts, result, n_locals: self.n_locals, n_slots, functions: self.functions }, self.slots))
    }

    /// Records a function the expression calls.
    fn called(&mut self, f: FnRef) {
        if !self.functions.contains(&f) {
            self.functions.push(f);
        }
    }

    /// A block's statements and result.
    fn block(&mut self, b: &Block) -> (Vec<IrStmt>, IrNode) {
        for st in &b.stmts {
            if let Stmt::Assign { name, .. } = st {
                self.assigned_later.insert(name.text.to_lowercase(), ());
            }
        }
        let mut stmts = Vec::new();
        for st in &b.stmts {
            match st {
                Stmt::Assign { name, value, .. } => {
                    let value = self.node(value);
                    let local = self.local_for(name);
                    stmts.push(IrStmt::Let { local, value });
                }
                Stmt::Assert { cond, span } => {
                    let cond = self.node(cond);
                    let (span, context) = match self.expanding.last() {
                        Some((call, f)) => {
                            let text = self.body_source.as_ref().and_then(|s| s.get(span.range())).unwrap_or("assert");
                            (*call, Some(Arc::from(format!("fn.{f}: {text}"))))
                        }
                        None => (*span, None),
                    };
                    stmts.push(IrStmt::Assert { cond, span, context });
                }
            }
        }
        (stmts, self.node(&b.result))
    }

    /// Records a diagnostic; resolution goes on so that every name error is reported at once.
    /// Inside an expanded user function the diagnostic points at the call.
    fn error(&mut self, span: Span, kind: ErrorKind, help: impl Into<Option<Help>>) -> IrNode {
        let help = help.into();
        let (span, help) = match self.expanding.first() {
            Some((call, _)) => {
                let chain: Vec<String> = self.expanding.iter().map(|(_, f)| format!("`fn.{f}`")).collect();
                let inside = format!("in the body of {}", chain.join(", called from "));
                (
                    *call,
                    Some(match help {
                        Some(h) => h.in_context(&inside),
                        None => Help::from(inside),
                    }),
                )
            }
            None => (span, help),
        };
        let inside = self.expanding.last().map(|(_, f)| f.clone());
        let e = match self.error.take() {
            Some(mut e) => {
                e.push(span, kind, help);
                e
            }
            None => Error::with_help(self.source, span, kind, help),
        };
        self.error = Some(e.inside(inside.as_deref()));
        IrNode::Const(f64::NAN)
    }

    fn key(&self, name: &str) -> String {
        if self.opts.case_insensitive {
            name.to_lowercase()
        } else {
            name.to_string()
        }
    }

    fn slot_for(&mut self, name: &str) -> usize {
        let key = self.key(name);
        if let Some(&s) = self.slot_index.get(&key) {
            return s;
        }
        let s = self.slots.len();
        self.slots.push(name.to_string());
        self.slot_index.insert(key, s);
        s
    }

    fn local_for(&mut self, name: &Name) -> usize {
        let lower = name.text.to_lowercase();
        let reason = if name.text.contains('.') {
            Some("dotted names are model references; locals are bare names")
        } else if let Some(b) = builtins::lookup(&lower) {
            Some(match b.imp {
                Imp::Stateful(_) => "it is a stateful function",
                Imp::Calendar => "it is a calendar function",
                _ => "it is a built-in function",
            })
        } else if builtins::RESERVED.contains(&lower.as_str()) {
            Some("it is a reserved word")
        } else {
            None
        };
        if let Some(reason) = reason {
            self.error(name.span, ErrorKind::LocalNameInvalid { name: name.text.clone(), reason }, None);
        }
        // An invalid name is still recorded as a local, so its uses raise no follow-up errors.
        if let Some(&l) = self.locals.get(&lower) {
            return l;
        }
        let l = self.n_locals;
        self.n_locals += 1;
        self.locals.insert(lower, l);
        l
    }

    fn node(&mut self, n: &Node) -> IrNode {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.node_inner(n))
    }

    fn node_inner(&mut self, n: &Node) -> IrNode {
        match &n.kind {
            NodeKind::Number(x) => IrNode::Const(*x),
            NodeKind::Var(name) => self.var(name),
            NodeKind::Offset { name, step, default } => self.offset(name, *step, *default),
            NodeKind::Unary { op, operand } => {
                let x = self.node(operand);
                match (op, x) {
                    (UnaryOp::Plus, x) => x,
                    (UnaryOp::Neg, IrNode::Const(c)) => IrNode::Const(builtins::neg(c)),
                    (UnaryOp::Neg, x) => IrNode::Neg(Box::new(x)),
                    (UnaryOp::Not, IrNode::Const(c)) => IrNode::Const(builtins::not(c)),
                    (UnaryOp::Not, x) => IrNode::Not(Box::new(x)),
                }
            }
            NodeKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.node(lhs), self.node(rhs));
                self.binary(*op, a, b, n.span)
            }
            NodeKind::Call { name, args } => self.call(name, args, n.span),
        }
    }

    /// `this.x` → `<node>.x` and a bare `this` → this series, as the host defines them.
    fn this_rewrite<'n>(&mut self, name: &'n Name) -> Result<std::borrow::Cow<'n, Name>, IrNode> {
        let lower = name.text.to_lowercase();
        let rewritten = if lower == "this" {
            self.host.this_series.map(str::to_string)
        } else if let Some(rest) = lower.strip_prefix("this.") {
            self.host.this_node.map(|node| format!("{node}.{}", &name.text[name.text.len() - rest.len()..]))
        } else {
            return Ok(std::borrow::Cow::Borrowed(name));
        };
        match rewritten {
            Some(text) => Ok(std::borrow::Cow::Owned(Name { text, span: name.span, trailing_dot: name.trailing_dot })),
            None => Err(self.error(
                name.span,
                ErrorKind::ThisUnbound { name: name.text.clone() },
                Some("`this.x` is usable in a node's properties, and `this[-1, d]` in a `[var.*]` key".into()),
            )),
        }
    }

    fn var(&mut self, name: &Name) -> IrNode {
        let name = match self.this_rewrite(name) {
            Ok(n) => n,
            Err(e) => return e,
        };
        let name = &*name;
        let lower = name.text.to_lowercase();
        if !name.text.contains('.') {
            if let Some(&l) = self.locals.get(&lower) {
                return IrNode::Local(l);
            }
            if self.assigned_later.contains_key(&lower) {
                return self.error(name.span, ErrorKind::LocalUnassigned { name: name.text.clone() }, Some(
                    "assign a local above its first use; model references need a namespace such as `data.` or `node.`".into(),
                ));
            }
        }
        let key = self.key(&name.text);
        if let Some(&s) = self.slot_index.get(&key) {
            return IrNode::Slot(s);
        }
        if let Scope::Indexed(ix) = self.scope {
            if let Some(s) = ix.get(&name.text) {
                return IrNode::Slot(s);
            }
        }
        let constant = if self.opts.case_insensitive {
            builtins::constant(&name.text)
        } else {
            match name.text.as_str() {
                "pi" | "e" => builtins::constant(&name.text),
                _ => None,
            }
        };
        if let Some(c) = constant {
            return IrNode::Const(c);
        }
        match self.scope {
            Scope::Free => IrNode::Slot(self.slot_for(&name.text)),
            Scope::Bound(_) | Scope::Indexed(_) => {
                let mut candidates: Vec<&str> = match self.scope {
                    Scope::Bound(names) => names.to_vec(),
                    Scope::Indexed(ix) => ix.names().collect(),
                    Scope::Free => Vec::new(),
                };
                let locals: Vec<String> = self.locals.keys().cloned().collect();
                candidates.extend(locals.iter().map(String::as_str));
                let help =
                    if builtins::lookup(&lower).is_some() || lower.starts_with("table.") || lower.starts_with("fn.") {
                        Some(Help::from(format!("`{lower}` is a function: call it as `{lower}(…)`")))
                    } else if lower == "inf" {
                        Some("there is no `inf` literal: write `1e400`".into())
                    } else if lower == "nan" {
                        Some("there is no `nan` literal outside an offset's default: write `0/0`".into())
                    } else {
                        suggest::did_you_mean(&suggest::closest(&name.text, candidates))
                    };
                self.error(name.span, ErrorKind::VariableUnknown { name: name.text.clone() }, help)
            }
        }
    }

    fn offset(&mut self, name: &Name, step: i64, default: f64) -> IrNode {
        let name = match self.this_rewrite(name) {
            Ok(n) => n,
            Err(e) => return e,
        };
        let name = &*name;
        let lower = name.text.to_lowercase();
        let forbid = |reason: &'static str| ErrorKind::OffsetForbidden { name: name.text.clone(), step, reason };
        if lower.starts_with("const.") {
            return self.error(name.span, forbid("a constant has no past or future"), None);
        }
        if lower.starts_with("sim.") {
            return self.error(name.span, forbid("`sim.*` fields are the calendar of the current step"), None);
        }
        if step > 0 && (lower.starts_with("node.") || lower.starts_with("var.")) {
            return self.error(
                name.span,
                forbid("computed series cannot look forward"),
                Some("only input series (`data.*`) can be read ahead".into()),
            );
        }
        if !name.text.contains('.') && (self.locals.contains_key(&lower) || self.assigned_later.contains_key(&lower)) {
            return self.error(name.span, forbid("a local is not a series"), None);
        }
        match self.var(name) {
            IrNode::Slot(slot) => IrNode::Offset { slot, step, default },
            IrNode::Const(c) if !c.is_nan() => self.error(name.span, forbid("a constant is not a series"), None),
            other => other,
        }
    }

    fn binary(&mut self, op: BinaryOp, a: IrNode, b: IrNode, span: Span) -> IrNode {
        use BinaryOp::*;
        match op {
            And => match (a, b) {
                (IrNode::Const(x), _) if !builtins::truthy(x) => IrNode::Const(0.0),
                (IrNode::Const(x), IrNode::Const(y)) => {
                    IrNode::Const(builtins::bool_to_f64(builtins::truthy(x) && builtins::truthy(y)))
                }
                (a, b) => IrNode::And(Box::new(a), Box::new(b)),
            },
            Or => match (a, b) {
                (IrNode::Const(x), _) if builtins::truthy(x) => IrNode::Const(1.0),
                (IrNode::Const(x), IrNode::Const(y)) => {
                    IrNode::Const(builtins::bool_to_f64(builtins::truthy(x) || builtins::truthy(y)))
                }
                (a, b) => IrNode::Or(Box::new(a), Box::new(b)),
            },
            _ => match (a, b) {
                (IrNode::Const(x), IrNode::Const(y)) if self.foldable(op, x, y) => {
                    IrNode::Const(apply(op, x, y, self.opts.div_by_zero))
                }
                (a, b) => IrNode::Binary { op, lhs: Box::new(a), rhs: Box::new(b), span },
            },
        }
    }

    /// Folding must not hide an error that strict options raise at evaluation.
    fn foldable(&self, op: BinaryOp, x: f64, y: f64) -> bool {
        let div_error =
            self.opts.div_by_zero == DivByZero::Error && matches!(op, BinaryOp::Div | BinaryOp::Rem) && y == 0.0;
        let domain_error = self.opts.domain_errors == DomainErrors::Error
            && op == BinaryOp::Pow
            && builtins::pow(x, y).is_nan()
            && !x.is_nan()
            && !y.is_nan();
        !div_error && !domain_error
    }

    fn call(&mut self, name: &Name, args: &[Node], span: Span) -> IrNode {
        let lower = name.text.to_lowercase();
        if lower == "assert" {
            return self.error(
                name.span,
                ErrorKind::AssertMisplaced,
                Some("write `assert(cond);` as a statement of a block `{ …; result }`".into()),
            );
        }
        if let Some(f) = lower.strip_prefix("fn.") {
            return self.user_call(name, f, args, span);
        }
        if let Some(t) = lower.strip_prefix("table.") {
            return self.table_call(name, t, args, span);
        }
        let Some(f) = builtins::lookup(&lower) else {
            if let Some(native) = self.host.natives.iter().find(|n| n.name() == lower).cloned() {
                return self.native_call(name, native, args, span);
            }
            let close = suggest::closest(&lower, self.host.natives.iter().map(|n| n.name()));
            let help = suggest::did_you_mean(&close).or_else(|| suggest::unknown_function(&name.text));
            // Still resolve the arguments, so that their errors are reported too.
            for a in args {
                self.node(a);
            }
            return self.error(name.span, ErrorKind::FunctionUnknown { name: name.text.clone() }, help);
        };
        if !f.arity.accepts(args.len()) {
            for a in args {
                self.node(a);
            }
            return self.error(
                name.span,
                ErrorKind::ArityMismatch { name: f.name.into(), expected: f.arity.describe(), found: args.len() },
                Some(Help::from(format!("{}: {}", f.name, f.doc))),
            );
        }
        self.called(FnRef::builtin(f));
        match f.imp {
            Imp::If => {
                let c = self.node(&args[0]);
                let a = self.node(&args[1]);
                let b = self.node(&args[2]);
                match c {
                    IrNode::Const(c) if builtins::truthy(c) => a,
                    IrNode::Const(_) => b,
                    c => IrNode::If(Box::new(c), Box::new(a), Box::new(b)),
                }
            }
            Imp::Stateful(kind) => self.stateful(f, kind, args),
            Imp::Calendar => IrNode::Calendar { f, arg: Box::new(self.node(&args[0])), span: name.span },
            _ => {
                let args: Vec<IrNode> = args.iter().map(|a| self.node(a)).collect();
                let consts: Option<Vec<f64>> =
                    args.iter().map(|a| if let IrNode::Const(c) = a { Some(*c) } else { None }).collect();
                if let Some(consts) = consts {
                    let value = f.apply(&consts);
                    let hides_error = self.opts.domain_errors == DomainErrors::Error
                        && value.is_nan()
                        && !consts.iter().any(|c| c.is_nan());
                    if f.pure && !hides_error {
                        return IrNode::Const(value);
                    }
                }
                IrNode::Call { f, args, span }
            }
        }
    }

    /// A native function: folded when it is pure and its arguments are constant.
    fn native_call(&mut self, name: &Name, f: Arc<NativeFn>, args: &[Node], span: Span) -> IrNode {
        if f.arity() != args.len() {
            let kind = ErrorKind::ArityMismatch {
                name: f.name().into(),
                expected: builtins::Arity::Exact(f.arity()).describe(),
                found: args.len(),
            };
            let help = f.description().map(|d| Help::from(format!("{}: {d}", f.name())));
            return self.call_error(name, args, kind, help);
        }
        self.called(FnRef::native(&f));
        let args: Vec<IrNode> = args.iter().map(|a| self.node(a)).collect();
        if f.is_pure() {
            let consts: Option<Vec<f64>> =
                args.iter().map(|a| if let IrNode::Const(c) = a { Some(*c) } else { None }).collect();
            if let Some(consts) = consts {
                return IrNode::Const(f.call(&consts));
            }
        }
        IrNode::Native { f, args, span }
    }

    /// Resolves the arguments only (for their own errors) and reports `kind` at the name.
    fn call_error(&mut self, name: &Name, args: &[Node], kind: ErrorKind, help: impl Into<Option<Help>>) -> IrNode {
        for a in args {
            self.node(a);
        }
        self.error(name.span, kind, help)
    }

    /// `fn.<f>(args)`: the body expanded in place, with fresh locals for the parameters and the
    /// body's own locals, so nothing collides with the caller's.
    fn user_call(&mut self, name: &Name, f: &str, args: &[Node], span: Span) -> IrNode {
        let unknown = ErrorKind::FunctionUnknown { name: name.text.clone() };
        let Some(functions) = self.host.functions else {
            return self.call_error(name, args, unknown, suggest::unknown_function(&name.text));
        };
        let Some(def) = functions.get(f).cloned() else {
            let close: Vec<String> = suggest::closest(f, functions.names()).iter().map(|c| format!("fn.{c}")).collect();
            let close: Vec<&str> = close.iter().map(String::as_str).collect();
            let help =
                suggest::did_you_mean(&close).or_else(|| Some("no user function of that name is defined".into()));
            return self.call_error(name, args, unknown, help);
        };
        if def.params().len() != args.len() {
            let kind = ErrorKind::ArityMismatch {
                name: format!("fn.{}", def.name()),
                expected: builtins::Arity::Exact(def.params().len()).describe(),
                found: args.len(),
            };
            let help = Some(Help::from(format!("defined as `fn.{}({})`", def.name(), def.params().join(", "))));
            return self.call_error(name, args, kind, help);
        }
        if self.expanding.iter().any(|(_, g)| g == f) {
            let mut cycle: Vec<String> = self.expanding.iter().map(|(_, g)| format!("fn.{g}")).collect();
            cycle.push(format!("fn.{f}"));
            return self.call_error(name, args, ErrorKind::RecursionCycle { cycle: cycle.join(" -> ") }, None);
        }
        self.expansions += 1;
        if self.expanding.len() >= EXPANSION_LIMIT || self.expansions > EXPANSION_BUDGET {
            let what = if self.expanding.len() >= EXPANSION_LIMIT {
                "user functions call each other more than 64 deep"
            } else {
                "expanding its user-function calls gives more than 10,000 calls"
            };
            let help = Some(Help::from("each call is expanded in place: flatten the chain of functions"));
            return self.call_error(name, args, ErrorKind::LimitExceeded { what }, help);
        }
        self.called(FnRef::user(&def, functions.is_pure(f)));
        let params: Vec<(usize, IrNode)> = args
            .iter()
            .map(|a| {
                let v = self.node(a);
                let l = self.n_locals;
                self.n_locals += 1;
                (l, v)
            })
            .collect();
        let saved_locals = std::mem::take(&mut self.locals);
        let saved_later = std::mem::take(&mut self.assigned_later);
        let saved_source = self.body_source.replace(def.body().shared_source().clone());
        for ((l, _), p) in params.iter().zip(def.params()) {
            self.locals.insert(p.clone(), *l);
        }
        self.expanding.push((span, f.to_string()));
        let (stmts, result) = match def.body().ast() {
            Ast::Expr(n) => (Vec::new(), self.node(n)),
            Ast::Block(b) => self.block(b),
        };
        self.expanding.pop();
        self.body_source = saved_source;
        self.assigned_later = saved_later;
        self.locals = saved_locals;
        IrNode::Inline { params, stmts, result: Box::new(result) }
    }

    /// `table.<t>(args)`: a lookup table of the host, folded when its arguments are constant.
    fn table_call(&mut self, name: &Name, t: &str, args: &[Node], span: Span) -> IrNode {
        let Some(table) = self.host.tables.iter().find(|x| x.name().eq_ignore_ascii_case(t)).cloned() else {
            let close: Vec<String> = suggest::closest(t, self.host.tables.iter().map(|x| x.name()))
                .iter()
                .map(|c| format!("table.{c}"))
                .collect();
            let close: Vec<&str> = close.iter().map(String::as_str).collect();
            let help = suggest::did_you_mean(&close).or_else(|| suggest::unknown_function(&name.text));
            return self.call_error(name, args, ErrorKind::FunctionUnknown { name: name.text.clone() }, help);
        };
        if table.arity() != args.len() {
            let kind = ErrorKind::ArityMismatch {
                name: format!("table.{}", table.name()),
                expected: builtins::Arity::Exact(table.arity()).describe(),
                found: args.len(),
            };
            let help = Some(Help::from(if table.arity() == 1 {
                "a 1D table takes `x`"
            } else {
                "a 2D table takes `(column key, row)`"
            }));
            return self.call_error(name, args, kind, help);
        }
        self.called(FnRef::table(&table));
        let args: Vec<IrNode> = args.iter().map(|a| self.node(a)).collect();
        // Constant keys fold, except a lookup that misses (an error at run time) or falls
        // outside the keys of a table that counts those.
        let keys: Option<Vec<f64>> =
            args.iter().map(|a| if let IrNode::Const(k) = a { Some(*k) } else { None }).collect();
        match keys.map(|k| table.lookup(&k)) {
            Some(Ok(found)) if !(found.outside && table.reports_outside()) => IrNode::Const(found.value),
            _ => IrNode::Table { table, args, span },
        }
    }

    fn stateful(&mut self, f: &'static Builtin, kind: Stateful, args: &[Node]) -> IrNode {
        let site = self.sites;
        self.sites += 1;
        if !kind.is_window() {
            let args = args.iter().map(|a| self.node(a)).collect();
            return IrNode::Stateful { f: kind, args, window: 0, default: 0.0, param: f64::NAN, site };
        }
        let x = self.node(&args[0]);
        let literal = |n: &Node| match n.kind {
            NodeKind::Number(v) => Some(v),
            _ => None,
        };
        let window = match literal(&args[1]) {
            Some(w) if w >= 1.0 && w.fract() == 0.0 && w <= 1e7 => w as usize,
            _ => {
                return self.error(
                    args[1].span,
                    ErrorKind::ArgumentNotLiteral {
                        name: f.name.into(),
                        index: 2,
                        expected: "a positive whole number literal (the window length)",
                    },
                    Some("the window is sized when the model loads, so write a number such as `30`".into()),
                )
            }
        };
        // `moving_percentile(x, n, p, default)`: the percentile is a literal too, so that the
        // window's two heaps are sized once.
        let mut param = f64::NAN;
        if kind == Stateful::MovingPercentile {
            match literal(&args[2]) {
                Some(p) if (0.0..=100.0).contains(&p) => param = p,
                _ => {
                    return self.error(
                        args[2].span,
                        ErrorKind::ArgumentNotLiteral {
                            name: f.name.into(),
                            index: 3,
                            expected: "a number literal from 0 to 100 (the percentile)",
                        },
                        Some("write the percentile as a number such as `90` (50 is the median)".into()),
                    )
                }
            }
        }
        let last = args.len() - 1;
        let Some(default) = literal(&args[last]) else {
            return self.error(
                args[last].span,
                ErrorKind::ArgumentNotLiteral {
                    name: f.name.into(),
                    index: last + 1,
                    expected: "a number literal (the window's pre-fill)",
                },
                Some("write a number such as `0` or `-1`".into()),
            );
        };
        IrNode::Stateful { f: kind, args: vec![x], window, default, param, site }
    }
}

/// A binary operator on constants, with the division option applied.
pub(crate) fn apply(op: BinaryOp, x: f64, y: f64, div: DivByZero) -> f64 {
    if op == BinaryOp::Div && div == DivByZero::Nan {
        builtins::div_nan(x, y)
    } else {
        (builtins::binary(op).f)(x, y)
    }
}

impl Expr {
    /// Resolves against `names` (slot `i` is `names[i]`) into the [`Ir`] both the interpreter
    /// and `kexpr!` work from. Every name error is reported at once.
    ///
    /// ```
    /// let e = kalix_expr_core::Expr::parse("lg10(rian)")?;
    /// let err = e.resolve(&["rain"], &Default::default()).unwrap_err();
    /// assert_eq!(err.diagnostics().len(), 2);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn resolve(&self, names: &[&str], opts: &Options) -> Result<Ir, Error> {
        resolve_shared(&self.ast, &self.source, &Scope::Bound(names), &Host::default(), opts).map(|(ir, _)| ir)
    }

    /// Checks everything that does not depend on which variables exist: functions, arity,
    /// blocks, offsets. The variables are those of [`Expr::variables`].
    ///
    /// ```
    /// assert!(kalix_expr_core::Expr::parse("sin(x, y)")?.check(&Default::default()).is_err());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn check(&self, opts: &Options) -> Result<(), Error> {
        self.check_with_host(&Host::default(), opts)
    }

    /// [`Expr::check`] with a [`Host`]'s user functions, natives, tables and `this` (a function
    /// library's [`Snapshot::host`](crate::library::Snapshot::host) gives one).
    ///
    /// ```
    /// use kalix_expr_core::{Expr, FnDef, Functions, Host};
    /// let functions = Functions::new(vec![FnDef::parse("half(x)", "x / 2")?]).unwrap();
    /// let host = Host { functions: Some(&functions), ..Host::default() };
    /// let e = Expr::parse("fn.half(rain)")?;
    /// assert!(e.check_with_host(&host, &Default::default()).is_ok());
    /// assert!(e.check(&Default::default()).is_err());
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn check_with_host(&self, host: &Host<'_>, opts: &Options) -> Result<(), Error> {
        resolve_shared(&self.ast, &self.source, &Scope::Free, host, opts).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, ParseOptions};

    fn ir(src: &str, names: &[&str]) -> Result<Ir, Error> {
        let ast = parse(src, &ParseOptions::default())?;
        resolve(&ast, src, &Scope::Bound(names), &Options::default()).map(|(ir, _)| ir)
    }

    #[test]
    fn constants_fold_with_the_same_builtins() {
        assert_eq!(ir("2 * 3 + max(1, 4)", &[]).unwrap().result, IrNode::Const(10.0));
        assert_eq!(ir("-2^2", &[]).unwrap().result, IrNode::Const(4.0));
        assert_eq!(ir("if(0/0, 1, 2)", &[]).unwrap().result, IrNode::Const(1.0));
        assert_eq!(ir("0 && x", &["x"]).unwrap().result, IrNode::Const(0.0));
        assert_eq!(ir("2 * pi", &[]).unwrap().result, IrNode::Const(2.0 * std::f64::consts::PI));
    }

    #[test]
    fn a_bound_variable_wins_over_a_constant() {
        assert_eq!(ir("pi", &["pi"]).unwrap().result, IrNode::Slot(0));
    }

    #[test]
    fn every_name_error_is_reported_at_once() {
        let e = ir("lg10(rian) + sin(1, 2) + fn.f(x)", &["rain"]).unwrap_err();
        let kinds: Vec<&ErrorKind> = e.diagnostics().iter().map(|d| d.kind()).collect();
        assert_eq!(kinds.len(), 5, "{e}");
        assert!(matches!(kinds[0], ErrorKind::VariableUnknown { name } if name == "rian"));
        assert!(matches!(kinds[1], ErrorKind::FunctionUnknown { name } if name == "lg10"));
        assert!(matches!(kinds[2], ErrorKind::ArityMismatch { found: 2, .. }));
        assert_eq!(e.diagnostics()[0].help(), Some("did you mean `rain`?"));
        assert_eq!(e.diagnostics()[1].help(), Some("did you mean `log10`?"));
    }

    #[test]
    fn locals_must_be_assigned_before_use() {
        let e = ir("{ b = a + 1; a = 2; b }", &[]).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::LocalUnassigned { name } if name == "a"));
        let e = ir("{ max = 1; max }", &[]).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::LocalNameInvalid { .. }));
        assert_eq!(e.diagnostics().len(), 1, "no follow-up error for the invalid local's uses");
        let e = ir("{ a.b = 1; 2 }", &[]).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::LocalNameInvalid { .. }));
        let e = ir("{ this = 1; 2 }", &[]).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::LocalNameInvalid { .. }));
        let ok = ir("{ A = 1; a = A + 1; a }", &[]).unwrap();
        assert_eq!(ok.n_locals, 1);
    }

    #[test]
    fn offsets_follow_the_namespace_rules() {
        for (src, names) in [
            ("const.k[-1, 0]", &["const.k"][..]),
            ("sim.month[-1, 0]", &["sim.month"][..]),
            ("node.a.dsflow[1, 0]", &["node.a.dsflow"][..]),
            ("var.b.k[2, 0]", &["var.b.k"][..]),
            ("{ a = 1; a[-1, 0] }", &[][..]),
        ] {
            let e = ir(src, names).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::OffsetForbidden { .. }), "{src}: {e}");
        }
        assert!(ir("node.a.dsflow[-1, 0] + data.x[3, nan]", &["node.a.dsflow", "data.x"]).is_ok());
    }

    #[test]
    fn moving_windows_need_literal_arguments() {
        let e = ir("moving_mean(x, n, 0)", &["x", "n"]).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::ArgumentNotLiteral { index: 2, .. }));
        let e = ir("moving_sum(x, 0, 0)", &["x"]).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::ArgumentNotLiteral { index: 2, .. }));
        assert!(ir("moving_sum(x, 3, -1)", &["x"]).is_ok());
    }

    #[test]
    fn a_percentile_is_a_literal_from_0_to_100_and_its_default_comes_last() {
        for (src, index) in [
            ("moving_percentile(x, 30, 101, 0)", 3),
            ("moving_percentile(x, 30, -1, 0)", 3),
            ("moving_percentile(x, 30, x, 0)", 3),
            ("moving_percentile(x, 30, 50, x)", 4),
            ("moving_median(x, 2.5, 0)", 2),
            ("moving_count(x, 3, x)", 3),
        ] {
            let e = ir(src, &["x"]).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::ArgumentNotLiteral { index: i, .. } if *i == index), "{src}: {e}");
        }
        let e = ir("moving_percentile(x, 30, 101, 0)", &["x"]).unwrap_err();
        assert!(e.to_string().contains("from 0 to 100"), "{e}");
        for src in ["moving_percentile(x, 30, 0, 0)", "moving_percentile(x, 30, 100, -1)", "moving_std(x, 1, 0)"] {
            assert!(ir(src, &["x"]).is_ok(), "{src}");
        }
    }
}
