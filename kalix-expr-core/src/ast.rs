//! The syntax tree: faithful to the source, every node with its byte span.
//!
//! `Display` on [`Ast`] prints the canonical, fully parenthesised form, which parses back to the
//! same tree (see [`Ast::same_shape`]); [`Ast::to_sexpr`] prints an S-expression for tests.

use std::fmt;

use crate::span::Span;

/// A parsed expression or block.
///
/// ```
/// use kalix_expr_core::{parse, ParseOptions};
/// let ast = parse("-2^2", &ParseOptions::default())?;
/// assert_eq!(ast.to_string(), "((-2) ^ 2)");
/// assert_eq!(ast.to_sexpr(), "(^ -2 2)");
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// A single expression.
    Expr(Node),
    /// A block `{ stmt; …; result }`.
    Block(Block),
}

/// A block: statements, then the result expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The statements before the result, in order.
    pub stmts: Vec<Stmt>,
    /// The last item, the block's value.
    pub result: Node,
    /// From `{` to `}`.
    pub span: Span,
}

/// A statement of a block.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `name = value;`
    Assign {
        /// The local's name.
        name: Name,
        /// The assigned expression.
        value: Node,
        /// The whole statement without the `;`.
        span: Span,
    },
    /// `assert(cond);`
    Assert {
        /// The condition.
        cond: Node,
        /// The whole statement without the `;`.
        span: Span,
    },
}

/// An expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// Where it is in the source.
    pub span: Span,
}

/// The kinds of expression node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A literal; a `-` or `+` written directly before it is part of it (`-0` is `-0.0`).
    Number(f64),
    /// A variable (a name that is not called).
    Var(Name),
    /// `name[step, default]`: a series `step` steps away, `default` outside the run.
    Offset {
        /// The series.
        name: Name,
        /// Negative is the past, positive the future.
        step: i64,
        /// The value when that step lies outside the run (may be NaN).
        default: f64,
    },
    /// `name(args…)`.
    Call {
        /// The function's name as written (names are matched case-insensitively).
        name: Name,
        /// The arguments.
        args: Vec<Node>,
    },
    /// A prefix operator.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// Its operand.
        operand: Box<Node>,
    },
    /// An infix operator.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Node>,
        /// Right operand.
        rhs: Box<Node>,
    },
}

/// A name as written, with a single trailing dot dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    /// The text, without a trailing dot.
    pub text: String,
    /// Where it is, including any trailing dot.
    pub span: Span,
    /// Whether the source wrote a trailing dot (`data.evap.`), which linters warn about.
    pub trailing_dot: bool,
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Plus,
    /// `!x`
    Not,
}

/// Infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `^` or `**`
    Pow,
}

impl UnaryOp {
    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Plus => "+",
            UnaryOp::Not => "!",
        }
    }
}

impl BinaryOp {
    /// The operator's canonical symbol (`**` prints as `^`).
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Or => "||",
            And => "&&",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Rem => "%",
            Pow => "^",
        }
    }
}

impl Ast {
    /// The locals a block assigns, lower-case, in order of assignment (each once); none for a
    /// plain expression.
    ///
    /// ```
    /// let e = kalix_expr_core::Expr::parse("{ a = 1; B = a; a = B * 2; a }")?;
    /// assert_eq!(e.ast().locals(), vec!["a", "b"]);
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn locals(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Ast::Block(b) = self {
            for s in &b.stmts {
                if let Stmt::Assign { name, .. } = s {
                    let lower = name.text.to_lowercase();
                    if !out.contains(&lower) {
                        out.push(lower);
                    }
                }
            }
        }
        out
    }

    /// Every node of the tree in source order (pre-order), statements first.
    pub fn nodes(&self) -> Vec<&Node> {
        // Sized for a typical expression, so most calls allocate once each.
        let mut out = Vec::with_capacity(32);
        let mut stack: Vec<&Node> = Vec::with_capacity(16);
        let roots: Vec<&Node> = match self {
            Ast::Expr(n) => vec![n],
            Ast::Block(b) => b
                .stmts
                .iter()
                .map(|s| match s {
                    Stmt::Assign { value, .. } => value,
                    Stmt::Assert { cond, .. } => cond,
                })
                .chain(std::iter::once(&b.result))
                .collect(),
        };
        for root in roots {
            stack.push(root);
            while let Some(n) = stack.pop() {
                out.push(n);
                match &n.kind {
                    NodeKind::Call { args, .. } => stack.extend(args.iter().rev()),
                    NodeKind::Unary { operand, .. } => stack.push(operand),
                    NodeKind::Binary { lhs, rhs, .. } => {
                        stack.push(rhs);
                        stack.push(lhs);
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// Whether two trees are the same apart from spans and dropped trailing dots: what the
    /// print → parse round trip preserves. Numbers compare bit for bit.
    ///
    /// ```
    /// use kalix_expr_core::{parse, ParseOptions};
    /// let opts = ParseOptions::default();
    /// let a = parse("1+2 * x", &opts)?;
    /// let b = parse(&a.to_string(), &opts)?;
    /// assert!(a.same_shape(&b));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn same_shape(&self, other: &Ast) -> bool {
        // The S-expression is exact (numbers print with round-trip precision and their sign).
        self.to_sexpr() == other.to_sexpr()
    }

    /// An S-expression, handy in tests: `(+ 1 (* 2 x))`, `(neg x)`, `(call max 1 2)`,
    /// `(offset x -1 0)`, `(block (= a 1) (assert a) a)`.
    pub fn to_sexpr(&self) -> String {
        let mut s = String::new();
        match self {
            Ast::Expr(n) => sexpr(n, &mut s),
            Ast::Block(b) => {
                s.push_str("(block");
                for st in &b.stmts {
                    s.push(' ');
                    match st {
                        Stmt::Assign { name, value, .. } => {
                            s.push_str("(= ");
                            s.push_str(&name.text);
                            s.push(' ');
                            sexpr(value, &mut s);
                        }
                        Stmt::Assert { cond, .. } => {
                            s.push_str("(assert ");
                            sexpr(cond, &mut s);
                        }
                    }
                    s.push(')');
                }
                s.push(' ');
                sexpr(&b.result, &mut s);
                s.push(')');
            }
        }
        s
    }
}

/// Prints a number so that it reads back to the same `f64`, sign of zero and infinities included.
pub(crate) fn write_number(x: f64, out: &mut String) {
    use std::fmt::Write;
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "1e400" } else { "-1e400" });
    } else if x == x.trunc() && x.abs() < 1e16 {
        // Integral values print without a fraction; `{}` keeps the sign of -0.
        let _ = write!(out, "{x}");
    } else {
        let _ = write!(out, "{x:?}");
    }
}

fn sexpr(n: &Node, s: &mut String) {
    match &n.kind {
        NodeKind::Number(x) => write_number(*x, s),
        NodeKind::Var(name) => s.push_str(&name.text),
        NodeKind::Offset { name, step, default } => {
            s.push_str("(offset ");
            s.push_str(&name.text);
            s.push_str(&format!(" {step} "));
            if default.is_nan() {
                s.push_str("nan");
            } else {
                write_number(*default, s);
            }
            s.push(')');
        }
        NodeKind::Call { name, args } => {
            s.push_str("(call ");
            s.push_str(&name.text);
            for a in args {
                s.push(' ');
                sexpr(a, s);
            }
            s.push(')');
        }
        NodeKind::Unary { op, operand } => {
            s.push_str(match op {
                UnaryOp::Neg => "(neg ",
                UnaryOp::Plus => "(pos ",
                UnaryOp::Not => "(not ",
            });
            sexpr(operand, s);
            s.push(')');
        }
        NodeKind::Binary { op, lhs, rhs } => {
            s.push('(');
            s.push_str(op.symbol());
            s.push(' ');
            sexpr(lhs, s);
            s.push(' ');
            sexpr(rhs, s);
            s.push(')');
        }
    }
}

fn canonical(n: &Node, s: &mut String) {
    match &n.kind {
        NodeKind::Number(x) => {
            if x.is_sign_negative() {
                // `(-2)` reads back as the signed literal -2.
                s.push('(');
                write_number(*x, s);
                s.push(')');
            } else {
                write_number(*x, s);
            }
        }
        NodeKind::Var(name) => s.push_str(&name.text),
        NodeKind::Offset { name, step, default } => {
            s.push_str(&name.text);
            s.push_str(&format!("[{step}, "));
            if default.is_nan() {
                s.push_str("nan");
            } else {
                write_number(*default, s);
            }
            s.push(']');
        }
        NodeKind::Call { name, args } => {
            s.push_str(&name.text);
            s.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                canonical(a, s);
            }
            s.push(')');
        }
        NodeKind::Unary { op, operand } => {
            s.push('(');
            s.push_str(op.symbol());
            if matches!(operand.kind, NodeKind::Number(_)) {
                // `-(2)` and not `-2`, which would read back as a signed literal.
                s.push('(');
                canonical(operand, s);
                s.push(')');
            } else {
                canonical(operand, s);
            }
            s.push(')');
        }
        NodeKind::Binary { op, lhs, rhs } => {
            s.push('(');
            canonical(lhs, s);
            s.push(' ');
            s.push_str(op.symbol());
            s.push(' ');
            canonical(rhs, s);
            s.push(')');
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        canonical(self, &mut s);
        f.write_str(&s)
    }
}

impl fmt::Display for Ast {
    /// The canonical form: every operation in parentheses, `**` as `^`, numbers in shortest
    /// round-trip form. It parses back to the same tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ast::Expr(n) => write!(f, "{n}"),
            Ast::Block(b) => {
                f.write_str("{ ")?;
                for st in &b.stmts {
                    match st {
                        Stmt::Assign { name, value, .. } => write!(f, "{} = {value}; ", name.text)?,
                        Stmt::Assert { cond, .. } => write!(f, "assert({cond}); ")?,
                    }
                }
                write!(f, "{} }}", b.result)
            }
        }
    }
}
