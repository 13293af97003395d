//! Text to [`Ast`]: the grammar of docs/language.md, §2, §5 and §6, built on nom.
//!
//! This is the only module that imports nom. Grammar methods are named after their rule (`expr`,
//! `power`, `unary`, `primary`, `group`, `call`, `offset`, `number`, `ident`); the binary levels
//! from `||` to `*` share one operator-precedence loop in `expr`. Binary chains and prefix
//! operators are parsed with loops, so only parentheses, calls and blocks recurse, and [`ParseOptions::nest_limit`] bounds that
//! recursion. Every node's depth is tracked so that [`ParseOptions::depth_limit`] bounds the
//! recursion of every later pass over the tree. The parser stops at the first error.

use std::cell::Cell;
use std::sync::Arc;

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char as ch, digit0, digit1, one_of};
use nom::combinator::opt;
use nom::{IResult, Parser as _};

use crate::ast::{Ast, BinaryOp, Block, Name, Node, NodeKind, Stmt, UnaryOp};
use crate::error::{Error, ErrorKind};
use crate::host::names::{is_name_char, is_name_start};
use crate::span::Span;

/// Limits that protect parsing (and every pass after it) from hostile input.
///
/// ```
/// use kalix_expr_core::{parse, ParseOptions, ErrorKind};
/// let opts = ParseOptions { nest_limit: 3, ..ParseOptions::default() };
/// let err = parse("((((1))))", &opts).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::NestLimitExceeded { limit: 3 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Deepest nesting of parentheses, calls, offsets and blocks. Protects the parser's own stack
    /// from `((((…` input.
    pub nest_limit: usize,
    /// Deepest expression tree (a chain `1+1+…+1` of n terms is n deep). Protects every
    /// recursive pass after parsing (resolution, printing, dropping the tree) from overflowing
    /// the stack.
    pub depth_limit: usize,
    /// Longest source text in bytes. Keeps the time and memory of one parse bounded.
    pub max_len: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { nest_limit: 256, depth_limit: 1024, max_len: 65_536 }
    }
}

/// Parses `src` into an [`Ast`].
///
/// ```
/// use kalix_expr_core::{parse, ParseOptions};
/// let ast = parse("0 == 1 < 2", &ParseOptions::default())?;
/// assert_eq!(ast.to_string(), "(0 == (1 < 2))");
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
pub fn parse(src: &str, opts: &ParseOptions) -> Result<Ast, Error> {
    parse_shared(&Arc::from(src), opts)
}

/// [`parse`] on an already shared source, which errors keep a copy of.
pub(crate) fn parse_shared(src: &Arc<str>, opts: &ParseOptions) -> Result<Ast, Error> {
    if src.len() > opts.max_len {
        let mut at = opts.max_len;
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        return Err(Error::new(
            src,
            Span::new(at, src.len()),
            ErrorKind::LengthLimitExceeded { len: src.len(), limit: opts.max_len },
            Some("split it into shorter expressions (a user function, or a `[var.*]` key per part)".into()),
        ));
    }
    let p = Parser { src, opts, nest: Cell::new(0) };
    p.top().map_err(|e| {
        let (span, kind, help) = match e {
            nom::Err::Error(e) | nom::Err::Failure(e) => p.resolve(e),
            // Only streaming parsers ask for more input; ours are all `complete`.
            nom::Err::Incomplete(_) => (Span::new(src.len(), src.len()), end("more input"), None),
        };
        Error::new(src, span, kind, help)
    })
}

/// Stack left before a nested parse grows the stack, and by how much. One nesting level takes
/// about 10 KiB in a debug build, far less in release.
pub(crate) const STACK_RED_ZONE: usize = 128 * 1024;
pub(crate) const STACK_GROWTH: usize = 2 * 1024 * 1024;

fn end(expected: &'static str) -> ErrorKind {
    ErrorKind::EndUnexpected { expected }
}

/// The parser's error: ours with a span and kind, or a bare nom failure at a position (which the
/// grammar turns into one of ours before it escapes).
#[derive(Debug)]
enum PErr {
    Ours(Span, ErrorKind, Option<String>),
    Nom { rest_len: usize },
}

impl<'a> nom::error::ParseError<&'a str> for PErr {
    fn from_error_kind(input: &'a str, _: nom::error::ErrorKind) -> Self {
        PErr::Nom { rest_len: input.len() }
    }
    fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type In<'a> = &'a str;
type PResult<'a, T> = IResult<In<'a>, T, PErr>;
/// A node and the depth of the tree below it (a leaf is 1).
type Parsed = (Node, usize);

/// Where an operand was parsed, for the error when the next token does not fit.
#[derive(Clone, Copy)]
enum Ctx {
    Top,
    Paren(Span),
    Args(Span),
    Block(Span),
    Assign(Span),
}

struct Parser<'s> {
    src: &'s str,
    opts: &'s ParseOptions,
    nest: Cell<usize>,
}

fn ws(i: In<'_>) -> PResult<'_, In<'_>> {
    take_while(char::is_whitespace).parse(i)
}

impl<'s> Parser<'s> {
    fn pos(&self, i: In<'_>) -> usize {
        self.src.len() - i.len()
    }

    fn span_of(&self, start: In<'_>, rest: In<'_>) -> Span {
        Span::new(self.pos(start), self.pos(rest))
    }

    /// Fails with one of our errors; every error of the grammar is built here.
    fn error<T>(&self, span: Span, kind: ErrorKind) -> PResult<'s, T> {
        Err(nom::Err::Failure(PErr::Ours(span, kind, None)))
    }

    fn error_help<T>(&self, span: Span, kind: ErrorKind, help: impl Into<String>) -> PResult<'s, T> {
        Err(nom::Err::Failure(PErr::Ours(span, kind, Some(help.into()))))
    }

    fn resolve(&self, e: PErr) -> (Span, ErrorKind, Option<String>) {
        match e {
            PErr::Ours(span, kind, help) => (span, kind, help),
            PErr::Nom { rest_len } => {
                let at = self.src.len() - rest_len;
                let (span, kind) = self.unexpected_at(&self.src[at..], "an expression");
                (span, kind, None)
            }
        }
    }

    /// The token at `i` as text, for messages, and its span.
    fn token_at(&self, i: In<'s>) -> (Span, String) {
        let start = self.pos(i);
        let Some(c) = i.chars().next() else {
            return (Span::new(start, start), String::new());
        };
        let len = if is_name_start(c) || c.is_ascii_digit() {
            i.find(|c: char| !is_name_char(c)).unwrap_or(i.len())
        } else {
            ["**", "&&", "||", "==", "!=", "<=", ">=", "<>", "=>", "=<"]
                .iter()
                .find(|op| i.starts_with(*op))
                .map_or(c.len_utf8(), |op| op.len())
        };
        let len = len.min(64);
        let mut end = len;
        while !i.is_char_boundary(end) {
            end -= 1;
        }
        (Span::new(start, start + end), i[..end].to_string())
    }

    /// "expected X, found …" at `i`, or end of input, or an invalid character.
    fn unexpected_at(&self, i: In<'s>, expected: &'static str) -> (Span, ErrorKind) {
        let (span, found) = self.token_at(i);
        match i.chars().next() {
            None => (span, end(expected)),
            Some(c) if !"()[]{},;+-*/%^<>=!&|.".contains(c) && !is_name_start(c) && !c.is_ascii_digit() => {
                (span, ErrorKind::CharInvalid { ch: c })
            }
            Some(_) => (span, ErrorKind::TokenUnexpected { expected, found }),
        }
    }

    fn nest_in(&self, open: Span) -> PResult<'s, ()> {
        let n = self.nest.get() + 1;
        if n > self.opts.nest_limit {
            return self.error_help(
                open,
                ErrorKind::NestLimitExceeded { limit: self.opts.nest_limit },
                "simplify the expression: split it into locals of a block, or user functions",
            );
        }
        self.nest.set(n);
        Ok(("", ()))
    }

    fn nest_out(&self) {
        self.nest.set(self.nest.get() - 1);
    }

    fn node(&self, kind: NodeKind, span: Span, depth: usize) -> Result<Parsed, nom::Err<PErr>> {
        if depth > self.opts.depth_limit {
            return Err(nom::Err::Failure(PErr::Ours(
                span,
                ErrorKind::DepthLimitExceeded { limit: self.opts.depth_limit },
                Some("split it into several expressions, or use `sum(…)` for long sums".into()),
            )));
        }
        Ok((Node { kind, span }, depth))
    }

    // ---- the whole input ----

    fn top(&self) -> Result<Ast, nom::Err<PErr>> {
        let (i, _) = ws(self.src)?;
        if i.is_empty() {
            return Err(nom::Err::Failure(PErr::Ours(
                Span::new(self.src.len(), self.src.len()),
                ErrorKind::ExpressionEmpty,
                None,
            )));
        }
        let (i, ast) = if i.starts_with('{') {
            let (i, b) = self.block(i)?;
            (i, Ast::Block(b))
        } else {
            let (i, (n, _)) = self.expr(i, Ctx::Top)?;
            (i, Ast::Expr(n))
        };
        let (i, _) = ws(i)?;
        if !i.is_empty() {
            return self.after_operand(i, Ctx::Top).map(|(_, a)| a);
        }
        Ok(ast)
    }

    // ---- blocks ----

    fn block(&self, i: In<'s>) -> PResult<'s, Block> {
        let start = i;
        let open = Span::new(self.pos(i), self.pos(i) + 1);
        self.nest_in(open)?;
        let (mut i, _) = ch('{').parse(i)?;
        let mut stmts = Vec::new();
        loop {
            (i, _) = ws(i)?;
            if i.is_empty() {
                return self.error_help(open, ErrorKind::BraceUnclosed, "add `}` to close the block");
            }
            if i.starts_with('}') {
                let at = Span::new(self.pos(i), self.pos(i) + 1);
                return self.error_help(
                    at,
                    ErrorKind::ProgramNoResult,
                    "end the block with an expression, with no `;` after it",
                );
            }
            if let Some((rest, name)) = self.assignment_target(i)? {
                let stmt_start = i;
                let (rest, (value, _)) = self.expr(rest, Ctx::Assign(open))?;
                let span = self.span_of(stmt_start, rest);
                let (rest, _) = ws(rest)?;
                match rest.chars().next() {
                    Some(';') => {
                        stmts.push(Stmt::Assign { name, value, span });
                        i = &rest[1..];
                    }
                    Some('}') => {
                        return self.error_help(
                            span,
                            ErrorKind::ProgramNoResult,
                            "an assignment has no value: add the result expression after `;`",
                        );
                    }
                    None => return self.error_help(open, ErrorKind::BraceUnclosed, "add `}` to close the block"),
                    _ => return self.after_operand(rest, Ctx::Assign(open)),
                }
                continue;
            }
            let item_start = i;
            let (rest, (node, _)) = self.expr(i, Ctx::Block(open))?;
            let span = self.span_of(item_start, rest);
            let is_assert =
                matches!(&node.kind, NodeKind::Call { name, .. } if name.text.eq_ignore_ascii_case("assert"));
            let (rest, _) = ws(rest)?;
            match rest.chars().next() {
                Some(';') => {
                    let after = &rest[1..];
                    if !is_assert {
                        let (after_ws, _) = ws(after)?;
                        if after_ws.starts_with('}') {
                            return self.error_help(
                                Span::new(self.pos(rest), self.pos(rest) + 1),
                                ErrorKind::ProgramNoResult,
                                "remove this `;` to make the expression before it the result",
                            );
                        }
                        return self.error_help(
                            span,
                            ErrorKind::StatementInvalid,
                            "only the last item of a block may be a bare expression",
                        );
                    }
                    let NodeKind::Call { args, name } = node.kind else { unreachable!("checked above") };
                    if args.len() != 1 {
                        return self.error(
                            name.span,
                            ErrorKind::ArityMismatch {
                                name: "assert".into(),
                                expected: "1 argument".into(),
                                found: args.len(),
                            },
                        );
                    }
                    let cond = args.into_iter().next().expect("one argument");
                    stmts.push(Stmt::Assert { cond, span });
                    i = after;
                }
                Some('}') => {
                    if is_assert {
                        return self.error_help(
                            span,
                            ErrorKind::ProgramNoResult,
                            "`assert` has no value: add the result expression after `;`",
                        );
                    }
                    let close = &rest[1..];
                    self.nest_out();
                    return Ok((close, Block { stmts, result: node, span: self.span_of(start, close) }));
                }
                None => return self.error_help(open, ErrorKind::BraceUnclosed, "add `}` to close the block"),
                _ => return self.after_operand(rest, Ctx::Block(open)),
            }
        }
    }

    /// `name =` (not `==`) at the start of a statement: the target, and the input after the `=`.
    fn assignment_target(&self, i: In<'s>) -> Result<Option<(In<'s>, Name)>, nom::Err<PErr>> {
        if !i.starts_with(is_name_start) {
            return Ok(None);
        }
        let (rest, name) = self.ident(i)?;
        let (rest, _) = ws(rest)?;
        if rest.starts_with('=') && !rest.starts_with("==") {
            Ok(Some((&rest[1..], name)))
        } else {
            Ok(None)
        }
    }

    // ---- binary levels ----

    /// Every binary level from `||` down to `*`, as one operator-precedence loop: operands are
    /// [`power`](Self::power) expressions, and an operator reduces the pending ones of equal or
    /// higher level first, so all of these levels are left-associative. One loop instead of a
    /// function per level keeps the stack shallow: a parenthesis costs a handful of frames, so
    /// 256 nested levels fit in a 2 MiB thread stack even in a debug build.
    fn expr(&self, i: In<'s>, ctx: Ctx) -> PResult<'s, Parsed> {
        let (i, _) = ws(i)?;
        let (mut i, first) = self.power(i, ctx)?;
        let mut operands: Vec<Parsed> = vec![first];
        let mut ops: Vec<BinaryOp> = Vec::new();
        loop {
            let (j, _) = ws(i)?;
            let Some((op, len)) = binary_op(j) else { break };
            while ops.last().is_some_and(|top| level(*top) >= level(op)) {
                self.reduce(&mut operands, &mut ops)?;
            }
            ops.push(op);
            let (j, _) = ws(&j[len..])?;
            let (j, rhs) = self.power(j, ctx)?;
            operands.push(rhs);
            i = j;
        }
        while !ops.is_empty() {
            self.reduce(&mut operands, &mut ops)?;
        }
        Ok((i, operands.pop().expect("one operand left")))
    }

    /// [`expr`](Self::expr) one nesting level down. The stack grows on the heap when it runs
    /// low, so the nesting limit, not the thread's stack size, decides how deep input may go.
    fn nested_expr(&self, i: In<'s>, ctx: Ctx) -> PResult<'s, Parsed> {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.expr(i, ctx))
    }

    fn reduce(&self, operands: &mut Vec<Parsed>, ops: &mut Vec<BinaryOp>) -> Result<(), nom::Err<PErr>> {
        let op = ops.pop().expect("an operator to reduce");
        let (rhs, rd) = operands.pop().expect("right operand");
        let (lhs, ld) = operands.pop().expect("left operand");
        let span = lhs.span.to(rhs.span);
        let node = self.node(NodeKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span, ld.max(rd) + 1)?;
        operands.push(node);
        Ok(())
    }

    /// `unary (("^" | "**") unary)*`, folded from the right: `2^-1^2` is `2^((-1)^2)`.
    fn power(&self, i: In<'s>, ctx: Ctx) -> PResult<'s, Parsed> {
        let (mut i, first) = self.unary(i, ctx)?;
        let mut operands = vec![first];
        loop {
            let (j, _) = ws(i)?;
            let j = match (tag::<_, _, PErr>("**").parse(j), tag::<_, _, PErr>("^").parse(j)) {
                (Ok((j, _)), _) | (_, Ok((j, _))) => j,
                _ => break,
            };
            let (j, _) = ws(j)?;
            let (j, next) = self.unary(j, ctx)?;
            operands.push(next);
            i = j;
        }
        let mut acc = operands.pop().expect("at least one operand");
        while let Some((lhs, d)) = operands.pop() {
            let (rhs, rd) = acc;
            let span = lhs.span.to(rhs.span);
            acc = self.node(
                NodeKind::Binary { op: BinaryOp::Pow, lhs: Box::new(lhs), rhs: Box::new(rhs) },
                span,
                d.max(rd) + 1,
            )?;
        }
        Ok((i, acc))
    }

    /// Prefix operators, stacked with a loop; `-` or `+` directly before a number literal is
    /// part of the literal.
    fn unary(&self, i: In<'s>, ctx: Ctx) -> PResult<'s, Parsed> {
        let mut ops: Vec<(UnaryOp, usize)> = Vec::new();
        let mut i = i;
        loop {
            let op = match i.chars().next() {
                Some('-') => UnaryOp::Neg,
                Some('+') => UnaryOp::Plus,
                Some('!') if !i.starts_with("!=") => UnaryOp::Not,
                _ => break,
            };
            let at = self.pos(i);
            let after = &i[1..];
            if op != UnaryOp::Not && starts_number(after) {
                let (rest, (mut n, depth)) = self.number(after)?;
                if let NodeKind::Number(x) = &mut n.kind {
                    if op == UnaryOp::Neg {
                        *x = -*x;
                    }
                }
                n.span.start = at;
                return self.apply_prefix(rest, ops, (n, depth));
            }
            ops.push((op, at));
            (i, _) = ws(after)?;
        }
        let (rest, operand) = self.postfix(i, ctx)?;
        self.apply_prefix(rest, ops, operand)
    }

    fn apply_prefix(&self, rest: In<'s>, ops: Vec<(UnaryOp, usize)>, operand: Parsed) -> PResult<'s, Parsed> {
        let mut acc = operand;
        for (op, at) in ops.into_iter().rev() {
            let (node, d) = acc;
            let span = Span::new(at, node.span.end);
            acc = self.node(NodeKind::Unary { op, operand: Box::new(node) }, span, d + 1)?;
        }
        Ok((rest, acc))
    }

    /// A primary, then the error for an offset on anything but a name.
    fn postfix(&self, i: In<'s>, ctx: Ctx) -> PResult<'s, Parsed> {
        let (rest, (node, depth)) = self.primary(i, ctx)?;
        let (j, _) = ws(rest)?;
        if j.starts_with('[') {
            let at = Span::new(self.pos(j), self.pos(j) + 1);
            return self.error_help(
                node.span.to(at),
                ErrorKind::OffsetTarget,
                "write the offset on the series name, as in `x[-1, 0]`",
            );
        }
        Ok((rest, (node, depth)))
    }

    // ---- primaries ----

    fn primary(&self, i: In<'s>, ctx: Ctx) -> PResult<'s, Parsed> {
        match i.chars().next() {
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(i),
            Some(c) if is_name_start(c) => self.name_use(i),
            Some('(') => self.group(i),
            Some('{') => {
                let at = Span::new(self.pos(i), self.pos(i) + 1);
                self.error_help(
                    at,
                    ErrorKind::BlockMisplaced,
                    "a block `{ …; result }` must be the whole value and cannot nest",
                )
            }
            Some(')') if matches!(ctx, Ctx::Top | Ctx::Block(_) | Ctx::Assign(_)) => {
                let at = Span::new(self.pos(i), self.pos(i) + 1);
                self.error(at, ErrorKind::DelimiterUnmatched { delim: ')' })
            }
            Some('"') | Some('\'') => {
                let (span, _) = self.token_at(i);
                self.error_help(
                    span,
                    ErrorKind::CharInvalid { ch: i.chars().next().unwrap_or('"') },
                    "there are no strings in this language",
                )
            }
            Some('=') if !i.starts_with("==") => {
                let (span, found) = self.token_at(i);
                self.error(span, ErrorKind::TokenUnexpected { expected: "an expression", found })
            }
            _ => {
                let (span, kind) = self.unexpected_at(i, "an expression");
                self.error(span, kind)
            }
        }
    }

    /// `( expr )`
    fn group(&self, i: In<'s>) -> PResult<'s, Parsed> {
        let open = Span::new(self.pos(i), self.pos(i) + 1);
        self.nest_in(open)?;
        let (i, _) = ch('(').parse(i)?;
        let (i, _) = ws(i)?;
        if i.starts_with(')') {
            let at = Span::new(self.pos(i), self.pos(i) + 1);
            return self.error(at, ErrorKind::TokenUnexpected { expected: "an expression", found: ")".into() });
        }
        if i.is_empty() {
            return self.error_help(open, ErrorKind::ParenUnclosed, "add `)` to close it");
        }
        let (i, (n, d)) = self.nested_expr(i, Ctx::Paren(open))?;
        let (i, _) = ws(i)?;
        let Ok((i, _)) = ch::<_, PErr>(')').parse(i) else { return self.after_operand(i, Ctx::Paren(open)) };
        self.nest_out();
        // Parentheses make no node: the inner node keeps its own span.
        Ok((i, (n, d)))
    }

    /// A name, then a call `(…)` or an offset `[…]` if one follows.
    fn name_use(&self, i: In<'s>) -> PResult<'s, Parsed> {
        let (rest, name) = self.ident(i)?;
        let (j, _) = ws(rest)?;
        if j.starts_with('(') {
            return self.call(j, name);
        }
        if j.starts_with('[') {
            return self.offset(j, name);
        }
        let span = name.span;
        let parsed = self.node(NodeKind::Var(name), span, 1)?;
        Ok((rest, parsed))
    }

    /// `name(args…)`, `i` at the `(`.
    fn call(&self, i: In<'s>, name: Name) -> PResult<'s, Parsed> {
        let open = Span::new(self.pos(i), self.pos(i) + 1);
        self.nest_in(open)?;
        let (mut i, _) = ch('(').parse(i)?;
        let mut args = Vec::new();
        let mut depth = 0;
        (i, _) = ws(i)?;
        if let Some(rest) = i.strip_prefix(')') {
            self.nest_out();
            let span = Span::new(name.span.start, self.pos(rest));
            let parsed = self.node(NodeKind::Call { name, args }, span, 1)?;
            return Ok((rest, parsed));
        }
        loop {
            (i, _) = ws(i)?;
            if i.starts_with(',') || i.starts_with(')') {
                let at = Span::new(self.pos(i), self.pos(i) + 1);
                let help = if i.starts_with(')') {
                    "remove the trailing `,`"
                } else {
                    "remove the extra `,` or add the missing argument"
                };
                return self.error_help(at, ErrorKind::ArgumentMissing, help);
            }
            if i.is_empty() {
                return self.error_help(
                    open,
                    ErrorKind::ParenUnclosed,
                    format!("add `)` to close the call to `{}`", name.text),
                );
            }
            let (rest, (arg, d)) = self.nested_expr(i, Ctx::Args(open))?;
            depth = depth.max(d);
            args.push(arg);
            let (rest, _) = ws(rest)?;
            match rest.chars().next() {
                Some(',') => i = &rest[1..],
                Some(')') => {
                    let rest = &rest[1..];
                    self.nest_out();
                    let span = Span::new(name.span.start, self.pos(rest));
                    let parsed = self.node(NodeKind::Call { name, args }, span, depth + 1)?;
                    return Ok((rest, parsed));
                }
                _ => return self.after_operand(rest, Ctx::Args(open)),
            }
        }
    }

    /// `name[step, default]`, `i` at the `[`.
    fn offset(&self, i: In<'s>, name: Name) -> PResult<'s, Parsed> {
        let open = Span::new(self.pos(i), self.pos(i) + 1);
        let (i, _) = ch('[').parse(i)?;
        let (i, _) = ws(i)?;
        let bad = |at: In<'s>, reason: &'static str, help: &'static str| -> PResult<'s, Parsed> {
            if at.is_empty() {
                return self.error_help(open, ErrorKind::BracketUnclosed, "add `]` to close the offset");
            }
            let (span, _) = self.token_at(at);
            self.error_help(span, ErrorKind::OffsetInvalid { reason }, help)
        };
        const FORM: &str = "write the offset as `name[step, default]`, as in `x[-1, 0]`";
        // The step: a whole-number literal with an optional leading `-`. **compat**: like Kalix,
        // a literal with a zero fraction or an exponent (`-1.0`, `1e0`) is accepted.
        let step_start = i;
        let (i, neg) = opt(ch('-')).parse(i)?;
        if !starts_number(i) {
            return if step_start.starts_with('+') {
                bad(step_start, "the step takes no `+`", "write `[1, default]` for one step ahead")
            } else if step_start.starts_with(',') || step_start.starts_with(']') {
                bad(step_start, "the step is missing", FORM)
            } else {
                bad(step_start, "the step must be a whole number such as `-1`", FORM)
            };
        }
        let (i, (n, _)) = self.number(i)?;
        let NodeKind::Number(k) = n.kind else { unreachable!("number() makes numbers") };
        if k.fract() != 0.0 || !k.is_finite() {
            return bad(step_start, "the step must be a whole number such as `-1`", FORM);
        }
        if k.abs() > 1e15 {
            return bad(step_start, "the step is too large", FORM);
        }
        let step = if neg.is_some() { -(k as i64) } else { k as i64 };
        let (i, _) = ws(i)?;
        let Ok((i, _)) = ch::<_, PErr>(',').parse(i) else {
            return if i.starts_with(']') {
                bad(i, "the default is missing", "add the value for steps outside the run, as in `x[-1, 0]`")
            } else {
                bad(i, "expected `,` after the step", FORM)
            };
        };
        let (i, _) = ws(i)?;
        // The default: a number, `-number`, or `nan`.
        let default_start = i;
        let word =
            if i.starts_with(is_name_start) { take_while1::<_, _, PErr>(is_name_char).parse(i).ok() } else { None };
        let (i, default) = if let Some((rest, word)) = word {
            if !word.eq_ignore_ascii_case("nan") || rest.starts_with(is_name_char) {
                return bad(
                    default_start,
                    "the default must be a number or `nan`",
                    "the default is a constant, as in `x[-1, 0]` or `x[-1, nan]`",
                );
            }
            (rest, f64::NAN)
        } else {
            let (i, neg) = opt(ch('-')).parse(i)?;
            if !starts_number(i) {
                return bad(
                    default_start,
                    "the default must be a number or `nan`",
                    "the default is a constant, as in `x[-1, 0]` or `x[-1, nan]`",
                );
            }
            let (i, (n, _)) = self.number(i)?;
            let NodeKind::Number(x) = n.kind else { unreachable!("number() makes numbers") };
            (i, if neg.is_some() { -x } else { x })
        };
        let (i, _) = ws(i)?;
        let Ok((i, _)) = ch::<_, PErr>(']').parse(i) else {
            return bad(i, "expected `]` after the default", FORM);
        };
        let span = Span::new(name.span.start, self.pos(i));
        let parsed = self.node(NodeKind::Offset { name, step, default }, span, 1)?;
        Ok((i, parsed))
    }

    // ---- tokens ----

    /// Our own number lexer: `digits [. digits] [(e|E) [+|-] digits]`, or `. digits …`; no sign,
    /// no `_`, no hex, no `inf`/`nan`. Anything name-like glued to it is an error.
    fn number(&self, i: In<'s>) -> PResult<'s, Parsed> {
        let start = i;
        // Lexemes are measured by lengths, not with `recognize`, which reports an empty match
        // when the literal ends the input.
        let (rest, (int, frac)) = (digit0, opt((ch('.'), digit0))).parse(i)?;
        let mut rest = rest;
        let has_digit = !int.is_empty() || frac.is_some_and(|(_, f): (char, &str)| !f.is_empty());
        if has_digit && (rest.starts_with('e') || rest.starts_with('E')) {
            let exp: PResult<'s, _> = (one_of("eE"), opt(one_of("+-")), digit1).parse(rest);
            match exp {
                Ok((r, _)) => rest = r,
                Err(_) => return self.bad_number(start),
            }
        }
        if !has_digit {
            return self.bad_number(start);
        }
        if let Some(c) = rest.chars().next() {
            if c == '.' || c == '_' || c.is_ascii_digit() {
                return self.bad_number(start);
            }
            let num = &start[..start.len() - rest.len()];
            if num == "0" && (c == 'x' || c == 'X') {
                return self.bad_number(start);
            }
            if is_name_start(c) {
                let (span, found) = self.token_at(rest);
                let num = &start[..start.len() - rest.len()];
                return self.error_help(
                    span,
                    ErrorKind::OperatorMissing { found: found.clone() },
                    format!("there is no implicit multiplication: write `{num} * {found}`"),
                );
            }
        }
        let lit = &start[..start.len() - rest.len()];
        // Rust's parser rounds correctly, gives inf past the range and 0 below it.
        let value: f64 = lit.parse().unwrap_or(f64::NAN);
        let span = self.span_of(start, rest);
        let parsed = self.node(NodeKind::Number(value), span, 1)?;
        Ok((rest, parsed))
    }

    fn bad_number(&self, start: In<'s>) -> PResult<'s, Parsed> {
        // The malformed literal: the run of name characters from its start, and the signed part
        // of an exponent (`1e+`, `1e-x`).
        let run = |from: usize| start[from..].find(|c: char| !is_name_char(c)).map_or(start.len(), |k| from + k);
        let mut len = run(0).max(1);
        if start[..len].ends_with(['e', 'E']) && start[len..].starts_with(['+', '-']) {
            len = run(len + 1);
        }
        let len = len.min(64);
        let mut end = len;
        while !start.is_char_boundary(end) {
            end -= 1;
        }
        let text = start[..end].to_string();
        let help = if text.contains('_') {
            "numbers have no `_` separators"
        } else if text.starts_with("0x") || text.starts_with("0X") {
            "there are no hex literals"
        } else if text == "." {
            "a number needs a digit, as in `0.5`"
        } else {
            "a number is digits with an optional `.fraction` and exponent, as in `1.5e-3`"
        };
        let span = Span::new(self.pos(start), self.pos(start) + end);
        self.error_help(span, ErrorKind::NumberInvalid { text }, help)
    }

    /// A name: a letter or `_`, then letters, digits, `_` and `.`; a single trailing dot is
    /// dropped, an empty segment is an error.
    fn ident(&self, i: In<'s>) -> PResult<'s, Name> {
        let (rest, text) = take_while1(is_name_char).parse(i)?;
        let span = self.span_of(i, rest);
        let (body, trailing_dot) = match text.strip_suffix('.') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.is_empty() || body.split('.').any(str::is_empty) {
            return self.error_help(
                span,
                ErrorKind::NameInvalid { name: text.to_string() },
                "a name's segments are separated by a single `.`",
            );
        }
        Ok((rest, Name { text: body.to_string(), span, trailing_dot }))
    }

    /// The error when an operand is followed by something that does not continue the
    /// expression in `ctx`.
    fn after_operand<T>(&self, i: In<'s>, ctx: Ctx) -> PResult<'s, T> {
        let (span, found) = self.token_at(i);
        let Some(c) = i.chars().next() else {
            return match ctx {
                Ctx::Top => self.error(span, end("an operator")),
                Ctx::Paren(open) => self.error_help(open, ErrorKind::ParenUnclosed, "add `)` to close it"),
                Ctx::Args(open) => {
                    let before = self.src[..open.start].trim_end();
                    // The name is the run of name characters before `(`; step over the char that
                    // ends the run by its UTF-8 length, not one byte.
                    let start = before
                        .char_indices()
                        .rev()
                        .find(|(_, c)| !is_name_char(*c))
                        .map_or(0, |(k, c)| k + c.len_utf8());
                    let name = &before[start..];
                    self.error_help(open, ErrorKind::ParenUnclosed, format!("add `)` to close the call to `{name}`"))
                }
                Ctx::Block(open) | Ctx::Assign(open) => {
                    self.error_help(open, ErrorKind::BraceUnclosed, "add `}` to close the block")
                }
            };
        };
        let expected = match ctx {
            Ctx::Top => "an operator or end of input",
            Ctx::Paren(_) => "an operator or `)`",
            Ctx::Args(_) => "an operator, `,` or `)`",
            Ctx::Block(_) => "an operator, `;` or `}`",
            Ctx::Assign(_) => "an operator or `;`",
        };
        let unknown_op =
            |help: &str| self.error_help(span, ErrorKind::OperatorUnknown { op: found.clone() }, help.to_string());
        match c {
            '=' if !i.starts_with("==") => match i.get(1..2) {
                Some(">") => unknown_op("did you mean `>=`?"),
                Some("<") => unknown_op("did you mean `<=`?"),
                _ => self.error_help(
                    Span::new(span.start, span.start + 1),
                    ErrorKind::OperatorUnknown { op: "=".into() },
                    "use `==` to compare; `name = expr;` assigns only inside a block `{ …; result }`",
                ),
            },
            '<' if i.starts_with("<>") => unknown_op("use `!=` for \"not equal\""),
            '&' => unknown_op("use `&&` for \"and\""),
            '|' => unknown_op("use `||` for \"or\""),
            ')' | ']' | '}' => match (ctx, c) {
                (Ctx::Paren(_) | Ctx::Args(_), ')') | (Ctx::Block(_), '}') => {
                    unreachable!("closing delimiters of the context are consumed by the caller")
                }
                _ => self.error(span, ErrorKind::DelimiterUnmatched { delim: c }),
            },
            c if is_name_start(c) || c.is_ascii_digit() || c == '(' || c == '.' => {
                // Words other languages use as operators (`a and b`, `x mod 2`) name ours.
                let word = found.to_lowercase();
                let help = match (word.as_str(), ctx) {
                    ("and", _) => "use `&&` for \"and\": `a && b`",
                    ("or", _) => "use `||` for \"or\": `a || b`",
                    ("mod", _) => "use `%` for the remainder: `a % b`",
                    ("div", _) => "use `/` to divide: `a / b`",
                    ("xor", _) => "there is no `xor`: write `(a || b) && !(a && b)`",
                    (_, Ctx::Args(_)) => "separate arguments with `,`",
                    (_, Ctx::Block(_) | Ctx::Assign(_)) => "end each statement with `;`",
                    _ => "put an operator between the two operands, such as `*`",
                };
                self.error_help(span, ErrorKind::OperatorMissing { found }, help)
            }
            ';' if matches!(ctx, Ctx::Top | Ctx::Paren(_) | Ctx::Args(_)) => self.error_help(
                span,
                ErrorKind::TokenUnexpected { expected, found },
                "`;` ends statements inside a block `{ …; result }`",
            ),
            _ => {
                let (span, kind) = self.unexpected_at(i, expected);
                self.error(span, kind)
            }
        }
    }
}

/// The binary operator at the start of `i` below power level, and its length. `**` is power
/// and `<>` is no operator of ours (reported by `after_operand`), so neither is read here.
fn binary_op(i: &str) -> Option<(BinaryOp, usize)> {
    use BinaryOp::*;
    let two = [("||", Or), ("&&", And), ("==", Eq), ("!=", Ne), ("<=", Le), (">=", Ge)];
    if let Some(&(_, op)) = two.iter().find(|(sym, _)| i.starts_with(sym)) {
        return Some((op, 2));
    }
    if i.starts_with("**") || i.starts_with("<>") {
        return None;
    }
    let op = match i.as_bytes().first()? {
        b'<' => Lt,
        b'>' => Gt,
        b'+' => Add,
        b'-' => Sub,
        b'*' => Mul,
        b'/' => Div,
        b'%' => Rem,
        _ => return None,
    };
    Some((op, 1))
}

/// Binding strength of the binary operators below power (docs/language.md), higher binds tighter.
fn level(op: BinaryOp) -> u8 {
    use BinaryOp::*;
    match op {
        Or => 1,
        And => 2,
        Eq | Ne => 3,
        Lt | Le | Gt | Ge => 4,
        Add | Sub => 5,
        Mul | Div | Rem => 6,
        Pow => 7,
    }
}

/// Whether a number literal starts here: a digit, or `.` then a digit.
fn starts_number(i: &str) -> bool {
    let b = i.as_bytes();
    match b.first() {
        Some(d) if d.is_ascii_digit() => true,
        Some(b'.') => b.get(1).is_some_and(u8::is_ascii_digit),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sx(src: &str) -> String {
        match parse(src, &ParseOptions::default()) {
            Ok(ast) => ast.to_sexpr(),
            Err(e) => panic!("{src:?} failed:\n{e}"),
        }
    }

    fn err(src: &str) -> Error {
        match parse(src, &ParseOptions::default()) {
            Ok(ast) => panic!("{src:?} parsed as {}", ast.to_sexpr()),
            Err(e) => e,
        }
    }

    fn kind(src: &str) -> ErrorKind {
        err(src).kind().clone()
    }

    #[test]
    fn unary_minus_binds_tighter_than_power() {
        assert_eq!(sx("-2^2"), "(^ -2 2)");
        assert_eq!(sx("-x^2"), "(^ (neg x) 2)");
        assert_eq!(sx("2^-1^2"), "(^ 2 (^ -1 2))");
        assert_eq!(sx("-2^-2"), "(^ -2 -2)");
        assert_eq!(sx("- 2^2"), "(^ (neg 2) 2)");
    }

    #[test]
    fn power_is_right_associative_and_accepts_double_star() {
        assert_eq!(sx("2^3^4"), "(^ 2 (^ 3 4))");
        assert_eq!(sx("2**3**4"), "(^ 2 (^ 3 4))");
        assert_eq!(sx("2*3**2"), "(* 2 (^ 3 2))");
    }

    #[test]
    fn relational_binds_tighter_than_equality() {
        assert_eq!(sx("0 == 1 < 2"), "(== 0 (< 1 2))");
        assert_eq!(sx("1 < 2 < 3"), "(< (< 1 2) 3)");
        assert_eq!(sx("a != b >= c"), "(!= a (>= b c))");
    }

    #[test]
    fn binary_levels_follow_c_precedence() {
        assert_eq!(sx("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(sx("a || b && c"), "(|| a (&& b c))");
        assert_eq!(sx("a && b == c"), "(&& a (== b c))");
        assert_eq!(sx("1 - 2 - 3"), "(- (- 1 2) 3)");
        assert_eq!(sx("8 / 4 % 3"), "(% (/ 8 4) 3)");
        assert_eq!(sx("!!x"), "(not (not x))");
        assert_eq!(sx("--x"), "(neg (neg x))");
        assert_eq!(sx("--2"), "(neg -2)");
        assert_eq!(sx("!x^2"), "(^ (not x) 2)");
        assert_eq!(sx("+x"), "(pos x)");
        assert_eq!(sx("1 / -0"), "(/ 1 -0)");
        assert_eq!(sx("x - -2"), "(- x -2)");
        assert_eq!(sx("x-2"), "(- x 2)");
    }

    #[test]
    fn numbers_follow_our_own_lexer() {
        assert_eq!(sx(".5"), "0.5");
        assert_eq!(sx("5."), "5");
        assert_eq!(sx("007"), "7");
        assert_eq!(sx("1.5e10"), "15000000000");
        assert_eq!(sx("2.5E+2"), "250");
        assert_eq!(sx("1e-3"), "0.001");
        assert_eq!(sx("1e400"), "1e400");
        assert_eq!(sx("1e-400"), "0");
        for bad in ["1.2.3", "..5", ".", "1e", "1ee3", "2_000", "0x1F", "1e+"] {
            assert!(matches!(kind(bad), ErrorKind::NumberInvalid { .. }), "{bad}");
            assert_eq!(err(bad).span().start, 0, "{bad}");
        }
        assert!(matches!(kind("2x"), ErrorKind::OperatorMissing { .. }));
        assert_eq!(err("2x").help(), Some("there is no implicit multiplication: write `2 * x`"));
    }

    #[test]
    fn names_are_never_number_prefixes() {
        assert_eq!(sx("inflow"), "inflow");
        assert_eq!(sx("nan_days + e1"), "(+ nan_days e1)");
        assert_eq!(sx("data.climate_csv.by_index.1"), "data.climate_csv.by_index.1");
        assert_eq!(sx("node.0001_gauge.dsflow"), "node.0001_gauge.dsflow");
        assert_eq!(sx("_x1"), "_x1");
        assert_eq!(sx("débit * 2"), "(* débit 2)");
    }

    #[test]
    fn a_single_trailing_dot_is_dropped() {
        let ast = parse("data.evap. * 2", &ParseOptions::default()).unwrap();
        assert_eq!(ast.to_sexpr(), "(* data.evap 2)");
        let Ast::Expr(Node { kind: NodeKind::Binary { lhs, .. }, .. }) = ast else { panic!() };
        assert!(matches!(&lhs.kind, NodeKind::Var(n) if n.trailing_dot));
        assert!(matches!(kind("a..b"), ErrorKind::NameInvalid { .. }));
        assert!(matches!(kind("data.evap.."), ErrorKind::NameInvalid { .. }));
    }

    #[test]
    fn calls_take_comma_separated_arguments() {
        assert_eq!(sx("max(1, 2, x)"), "(call max 1 2 x)");
        assert_eq!(sx("f ()"), "(call f)");
        assert_eq!(sx("MAX (a,b)"), "(call MAX a b)");
        assert_eq!(kind("f(1,,2)"), ErrorKind::ArgumentMissing);
        assert_eq!(kind("f(1,)"), ErrorKind::ArgumentMissing);
        assert_eq!(kind("f(,1)"), ErrorKind::ArgumentMissing);
        assert!(matches!(kind("f(1 2)"), ErrorKind::OperatorMissing { .. }));
    }

    #[test]
    fn offsets_take_an_integer_step_and_a_constant_default() {
        assert_eq!(sx("x[-1, nan]"), "(offset x -1 nan)");
        assert_eq!(sx("x [ 2 , -0.5 ]"), "(offset x 2 -0.5)");
        assert_eq!(sx("x[0, NaN]"), "(offset x 0 nan)");
        assert_eq!(sx("x[-1.0, 0]"), "(offset x -1 0)");
        for bad in ["x[+1, 0]", "x[1.5, 0]", "x[-1]", "x[-1, y]", "x[-1, +1]", "x[, 0]", "x[a, 0]"] {
            assert!(matches!(kind(bad), ErrorKind::OffsetInvalid { .. }), "{bad}: {:?}", kind(bad));
        }
        assert_eq!(kind("x[-1, 0"), ErrorKind::BracketUnclosed);
        assert_eq!(kind("x[-1, 0 1]"), ErrorKind::OffsetInvalid { reason: "expected `]` after the default" });
        assert_eq!(kind("x[-1"), ErrorKind::BracketUnclosed);
        assert_eq!(kind("(x)[-1, 0]"), ErrorKind::OffsetTarget);
        assert_eq!(kind("f(x)[-1, 0]"), ErrorKind::OffsetTarget);
    }

    #[test]
    fn blocks_hold_statements_then_a_result() {
        assert_eq!(sx("{ a = x * 2; assert(a > 0); a + 1 }"), "(block (= a (* x 2)) (assert (> a 0)) (+ a 1))");
        assert_eq!(sx("{x}"), "(block x)");
        assert_eq!(sx("{ a = 1; a = a == 1; a }"), "(block (= a 1) (= a (== a 1)) a)");
        assert_eq!(kind("{ a = 1; }"), ErrorKind::ProgramNoResult);
        assert_eq!(kind("{ }"), ErrorKind::ProgramNoResult);
        assert_eq!(kind("{ a = 1 }"), ErrorKind::ProgramNoResult);
        assert_eq!(kind("{ a = 1; a; }"), ErrorKind::ProgramNoResult);
        assert_eq!(kind("{ assert(1) }"), ErrorKind::ProgramNoResult);
        assert_eq!(kind("{ 1; 2 }"), ErrorKind::StatementInvalid);
        assert_eq!(kind("1 + { 2 }"), ErrorKind::BlockMisplaced);
        assert_eq!(kind("{ { 1 } }"), ErrorKind::BlockMisplaced);
        assert_eq!(kind("{ a = 1; a"), ErrorKind::BraceUnclosed);
        assert!(matches!(kind("{ a = 1 b }"), ErrorKind::OperatorMissing { .. }));
        assert!(matches!(kind("{ 1 } 2"), ErrorKind::OperatorMissing { .. }));
    }

    #[test]
    fn unclosed_paren_points_at_the_open_paren() {
        let e = err("max(0, avg(x)");
        assert_eq!(e.kind(), &ErrorKind::ParenUnclosed);
        assert_eq!((e.span().start, e.column()), (3, 4));
        let e = err("(1 + 2");
        assert_eq!((e.kind(), e.span().start), (&ErrorKind::ParenUnclosed, 0));
        assert_eq!(kind("1 + 2)"), ErrorKind::DelimiterUnmatched { delim: ')' });
        assert_eq!(kind(")"), ErrorKind::DelimiterUnmatched { delim: ')' });
    }

    #[test]
    fn stray_tokens_get_specific_errors() {
        assert_eq!(kind(""), ErrorKind::ExpressionEmpty);
        assert_eq!(kind("  \n "), ErrorKind::ExpressionEmpty);
        assert_eq!(kind("1 +"), ErrorKind::EndUnexpected { expected: "an expression" });
        assert!(matches!(kind("1 + * 2"), ErrorKind::TokenUnexpected { .. }));
        assert_eq!(kind("a = 1"), ErrorKind::OperatorUnknown { op: "=".into() });
        assert_eq!(kind("a & b"), ErrorKind::OperatorUnknown { op: "&".into() });
        assert_eq!(kind("a | b"), ErrorKind::OperatorUnknown { op: "|".into() });
        assert_eq!(kind("a <> b"), ErrorKind::OperatorUnknown { op: "<>".into() });
        assert_eq!(kind("a $ b"), ErrorKind::CharInvalid { ch: '$' });
        assert_eq!(kind("a \0 b"), ErrorKind::CharInvalid { ch: '\0' });
        assert!(matches!(kind("1 ; 2"), ErrorKind::TokenUnexpected { .. }));
        assert!(matches!(kind("()"), ErrorKind::TokenUnexpected { .. }));
        assert!(matches!(kind("a b"), ErrorKind::OperatorMissing { .. }));
        assert!(matches!(kind("\"a\""), ErrorKind::CharInvalid { .. }));
    }

    #[test]
    fn positions_count_lines_and_chars() {
        let e = err("max(1,\n  é + )");
        assert_eq!((e.line(), e.column()), (2, 7));
    }

    #[test]
    fn hostile_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "(".repeat(100_000) + "1" + &")".repeat(100_000);
        let opts = ParseOptions { max_len: usize::MAX, ..ParseOptions::default() };
        let e = parse(&deep, &opts).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NestLimitExceeded { limit: 256 });
        let open = "(".repeat(100_000);
        assert_eq!(parse(&open, &opts).unwrap_err().kind(), &ErrorKind::NestLimitExceeded { limit: 256 });
        let neg = "-".repeat(100_000) + "x";
        assert_eq!(parse(&neg, &opts).unwrap_err().kind(), &ErrorKind::DepthLimitExceeded { limit: 1024 });
        let sum = vec!["x"; 100_000].join("+");
        assert_eq!(parse(&sum, &opts).unwrap_err().kind(), &ErrorKind::DepthLimitExceeded { limit: 1024 });
        let pow = vec!["x"; 100_000].join("^");
        assert_eq!(parse(&pow, &opts).unwrap_err().kind(), &ErrorKind::DepthLimitExceeded { limit: 1024 });
        let calls = "f(".repeat(100_000);
        assert_eq!(parse(&calls, &opts).unwrap_err().kind(), &ErrorKind::NestLimitExceeded { limit: 256 });
    }

    #[test]
    fn nesting_up_to_the_limit_parses() {
        let opts = ParseOptions::default();
        let deep = "(".repeat(256) + "1" + &")".repeat(256);
        assert_eq!(parse(&deep, &opts).unwrap().to_sexpr(), "1");
        let deep = "(".repeat(257) + "1" + &")".repeat(257);
        assert!(parse(&deep, &opts).is_err());
    }

    #[test]
    fn long_input_is_refused_before_parsing() {
        let big = "1+".repeat(5_000_000) + "1";
        let e = parse(&big, &ParseOptions::default()).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::LengthLimitExceeded { limit: 65_536, .. }));
        assert!(e.to_string().len() < 1_000);
    }

    #[test]
    fn canonical_form_round_trips() {
        let opts = ParseOptions::default();
        for src in [
            "-2^2",
            "2^-1^2",
            "0 == 1 < 2",
            "- 2",
            "-(2)",
            "+x",
            "1/-0",
            "x[-1, nan] + y[2, -0]",
            "{ a = -x; assert(!a); a ** 2 }",
            "max(1, -2.5e-7, 1e400, -1e400)",
            "0.1 + 0.30000000000000004",
        ] {
            let a = parse(src, &opts).unwrap();
            let printed = a.to_string();
            let b = parse(&printed, &opts).unwrap_or_else(|e| panic!("{printed}: {e}"));
            assert!(a.same_shape(&b), "{src} -> {printed}: {} vs {}", a.to_sexpr(), b.to_sexpr());
        }
        assert_eq!(parse("-2^2", &opts).unwrap().to_string(), "((-2) ^ 2)");
        assert_eq!(parse("- 2", &opts).unwrap().to_string(), "(-(2))");
    }

    #[test]
    fn spans_cover_their_source() {
        let src = "max(0, rain - loss)";
        let ast = parse(src, &ParseOptions::default()).unwrap();
        let texts: Vec<&str> = ast.nodes().iter().map(|n| &src[n.span.range()]).collect();
        assert_eq!(texts, vec!["max(0, rain - loss)", "0", "rain - loss", "rain", "loss"]);
    }
}
