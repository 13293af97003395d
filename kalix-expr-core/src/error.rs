//! The one error type of every phase, and its rustc-style rendering.
//!
//! An [`Error`] holds one or more [`Diagnostic`]s (resolution reports every unknown name at once)
//! and a copy of the source text, so it can render itself without anything else:
//!
//! ```text
//! error: unknown function `lg10`
//!  --> 1:8
//!   |
//! 1 | max(0, lg10(rain) - loss)
//!   |        ^^^^
//!   |
//!   = help: did you mean `log10`?
//! ```

use std::fmt;
use std::sync::Arc;

use crate::span::Span;

/// What went wrong. Each variant's doc names an input that triggers it.
///
/// Variants carry data (names, counts), never formatted messages; the message is the variant's
/// `Display`.
///
/// ```
/// use kalix_expr_core::{Expr, ErrorKind};
/// let err = Expr::parse("1 +").unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::EndUnexpected { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    // ---- lexical and syntax errors (the parser stops at the first one) ----
    /// `1.2.3`, `..5`, `.`, `1e`, `1ee3`, `2_000`: a malformed number literal.
    #[error("invalid number `{text}`")]
    NumberInvalid {
        /// The malformed literal as written.
        text: String,
    },
    /// `2x`, `f(1 2)`, `a b`: two operands with nothing between them.
    #[error("expected an operator, found `{found}`")]
    OperatorMissing {
        /// The token found where an operator was expected.
        found: String,
    },
    /// `a = 1`, `a & b`, `a <> b`: an operator this language does not have.
    #[error("unknown operator `{op}`")]
    OperatorUnknown {
        /// The operator as written.
        op: String,
    },
    /// `1 + * 2`, `max(,)`: a token that cannot stand here.
    #[error("expected {expected}, found `{found}`")]
    TokenUnexpected {
        /// What the grammar expected, in words.
        expected: &'static str,
        /// The token found.
        found: String,
    },
    /// `1 +`: the input ends where more is required.
    #[error("expected {expected}, found end of input")]
    EndUnexpected {
        /// What the grammar expected, in words.
        expected: &'static str,
    },
    /// `$x`, a NUL byte: a character that starts no token.
    #[error("unexpected character {ch:?}")]
    CharInvalid {
        /// The character.
        ch: char,
    },
    /// `""` or `   `: nothing to parse.
    #[error("empty expression")]
    ExpressionEmpty,
    /// `avg(x`: a `(` with no matching `)`. The span is the unclosed `(`.
    #[error("unclosed `(`")]
    ParenUnclosed,
    /// `x[-1, 0`: a `[` with no matching `]`. The span is the unclosed `[`.
    #[error("unclosed `[`")]
    BracketUnclosed,
    /// `{ a = 1; a`: a `{` with no matching `}`. The span is the unclosed `{`.
    #[error("unclosed `{{`")]
    BraceUnclosed,
    /// `1 + 2)`: a closing delimiter with nothing to close.
    #[error("unmatched `{delim}`")]
    DelimiterUnmatched {
        /// The closing delimiter.
        delim: char,
    },
    /// `a..b`, `data.evap..`: a name with an empty segment.
    #[error("invalid name `{name}`")]
    NameInvalid {
        /// The name as written.
        name: String,
    },
    /// `f(1,,2)`, `f(1,)`: an empty argument.
    #[error("missing argument")]
    ArgumentMissing,
    /// `x[+1, 0]`, `x[1.5, 0]`, `x[-1]`, `x[-1, y]`: an offset that is not `[integer, default]`.
    #[error("invalid offset: {reason}")]
    OffsetInvalid {
        /// Which part is wrong, in words.
        reason: &'static str,
    },
    /// `(x)[-1, 0]`, `f(x)[-1, 0]`: an offset on something that is not a name.
    #[error("an offset applies to a name only")]
    OffsetTarget,
    /// `(((…(1)…)))` nested deeper than [`ParseOptions::nest_limit`](crate::ParseOptions).
    #[error("nesting deeper than the limit of {limit}")]
    NestLimitExceeded {
        /// The limit in force.
        limit: usize,
    },
    /// `1+1+…+1` with a tree deeper than [`ParseOptions::depth_limit`](crate::ParseOptions).
    #[error("expression tree deeper than the limit of {limit}")]
    DepthLimitExceeded {
        /// The limit in force.
        limit: usize,
    },
    /// A source text longer than [`ParseOptions::max_len`](crate::ParseOptions).
    #[error("expression of {len} bytes is longer than the limit of {limit}")]
    LengthLimitExceeded {
        /// The input's length in bytes.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// `1 + { 2 }`, `{ { 1 } }`: a block anywhere but as the whole value.
    #[error("a block is only allowed as the whole value")]
    BlockMisplaced,
    /// `{ a = 1; }`, `{ }`: a block whose last item is not a bare expression.
    #[error("program has no result value")]
    ProgramNoResult,
    /// `{ 1; 2 }`, `{ a = 1 b }`: something other than `name = expr;` or `assert(c);` before
    /// the result.
    #[error("expected a statement (`name = expr;` or `assert(cond);`)")]
    StatementInvalid,

    // ---- resolution errors (every one is reported at once) ----
    /// `lg10(x)`: a call to a function that does not exist.
    #[error("unknown function `{name}`")]
    FunctionUnknown {
        /// The name as written.
        name: String,
    },
    /// `sin(1, 2)`, `max(1)`: a call with the wrong number of arguments.
    #[error("`{name}` takes {expected}, found {found}")]
    ArityMismatch {
        /// The function's name.
        name: String,
        /// The accepted counts, in words (`1 argument`, `at least 2 arguments`).
        expected: String,
        /// How many were given.
        found: usize,
    },
    /// `rain + lss` compiled against `["rain", "loss"]`: a variable that is not bound.
    #[error("unknown variable `{name}`")]
    VariableUnknown {
        /// The name as written.
        name: String,
    },
    /// `{ b = a + 1; a = 2; b }`: a local read before its first assignment.
    #[error("local `{name}` is used before it is assigned")]
    LocalUnassigned {
        /// The local's name.
        name: String,
    },
    /// `{ max = 1; max }`, `{ a.b = 1; a.b }`, `{ this = 1; this }`: a local with a name it may
    /// not take.
    #[error("`{name}` cannot be a local name: {reason}")]
    LocalNameInvalid {
        /// The name as written.
        name: String,
        /// Why, in words.
        reason: &'static str,
    },
    /// `const.k[-1, 0]`, `sim.month[-1, 0]`, `node.a.dsflow[1, 0]`, `{ a = 1; a[-1, 0] }`: an
    /// offset the namespace rules forbid.
    #[error("`{name}` cannot take an offset of {step}: {reason}")]
    OffsetForbidden {
        /// The name as written.
        name: String,
        /// The offset's step.
        step: i64,
        /// Why, in words.
        reason: &'static str,
    },
    /// `1 + assert(x)`: `assert` used as a function.
    #[error("`assert` is a statement, not a function")]
    AssertMisplaced,
    /// `moving_mean(x, n, 0)`, `moving_sum(x, 0, 0)`: a stateful function's window or default
    /// that is not the literal it must be.
    #[error("argument {index} of `{name}` must be {expected}")]
    ArgumentNotLiteral {
        /// The function's name.
        name: String,
        /// 1-based position of the argument.
        index: usize,
        /// What it must be, in words.
        expected: &'static str,
    },
    /// `month_at(3)` in a plain expression: a function that needs the stepping runtime's calendar
    /// or state, evaluated where there is none.
    #[error("`{name}` needs a simulation calendar, which a single expression does not have")]
    CalendarRequired {
        /// The function's name.
        name: String,
    },

    /// `x[-1, 0]` or `moving_mean(x, 30, 0)` compiled into a plain expression: it reads the
    /// history of a run, which a single evaluation does not have (see
    /// [`Options::single_step`](crate::Options::single_step)).
    #[error("`{what}` reads earlier steps of a run, which a single evaluation does not have")]
    RunRequired {
        /// The offset or call as written.
        what: String,
    },

    /// `[fn]` key `f(a` or `f(a,)`: a user function signature that is malformed.
    #[error("invalid function signature: {reason}")]
    SignatureInvalid {
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// `max(a) = …` or `f(this) = …`: a function or parameter named like a built-in or reserved word.
    #[error("`{name}` cannot be defined: {reason}")]
    NameReserved {
        /// The name.
        name: String,
        /// Why, in words.
        reason: &'static str,
    },
    /// `f(a, a) = …`: a parameter listed twice.
    #[error("duplicate parameter `{name}`")]
    ParameterDuplicate {
        /// The parameter.
        name: String,
    },
    /// `f(a) = …` and `f(a, b) = …`: two definitions of one name (there are no overloads).
    #[error("duplicate function `{name}`")]
    FunctionDuplicate {
        /// The function.
        name: String,
    },
    /// `a(x) = fn.b(x)` and `b(x) = fn.a(x)`: functions that call themselves.
    #[error("recursive functions: {cycle}")]
    RecursionCycle {
        /// The cycle, as `fn.a -> fn.b -> fn.a`.
        cycle: String,
    },
    /// Adding `f(x) = x` to a function library that already has `fn.f`: a name taken.
    #[error("`{name}` already exists")]
    FunctionExists {
        /// The function as called (`fn.f`), or a native's bare name.
        name: String,
    },
    /// `a(x) = fn.b(x)` in a function library where `fn.b` is defined but invalid: a call to a
    /// function that cannot be used until it is fixed.
    #[error("`{name}` is defined but invalid")]
    DependencyInvalid {
        /// The invalid function, as called (`fn.b`).
        name: String,
    },
    /// Removing `fn.b` from a function library where `a(x) = fn.b(x)`: a change that would break
    /// the functions calling it.
    #[error("`{name}` is called by {}", list_names(dependents))]
    DependentsExist {
        /// The function changed, as called (`fn.b`).
        name: String,
        /// Every function that calls it, directly or through others, as called (`fn.a`).
        dependents: Vec<String>,
    },
    /// A function library file holding the line `garbage`: something that is not a definition,
    /// a comment or a section of the library format (or a tag holding a `,`).
    #[error("invalid function library text: {reason}")]
    LibraryInvalid {
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// `this.usflow` where no node gives `this` a meaning.
    #[error("`{name}` has no meaning here: `this` refers to the node or series being defined")]
    ThisUnbound {
        /// The name as written.
        name: String,
    },
    /// `table.pump(5, 1)` on a 2D table whose column keys are 1, 2 and 3, with a key of 5: a 2D
    /// table lookup whose first argument matches no column key.
    #[error("`table.{table}` has no column with key {key} (column keys: {keys})")]
    TableKeyUnknown {
        /// The table.
        table: String,
        /// The key looked up.
        key: f64,
        /// The valid keys, comma-separated.
        keys: String,
    },
    /// `table.levels(7)` on a table with `interpolation = exact` and no key 7: an exact lookup
    /// whose key matches none of its axis' keys.
    #[error("`table.{table}` has no {axis} with key {key} (nearest keys: {nearest})")]
    TableKeyMissing {
        /// The table.
        table: String,
        /// `"row"` or `"column"`.
        axis: &'static str,
        /// The key looked up.
        key: f64,
        /// The keys nearest it, comma-separated.
        nearest: String,
    },
    /// `table.curve(500)` on a table with `extrapolation = error` whose keys end at 100: a key
    /// outside the keys.
    #[error("`table.{table}` is looked up at {key}, outside its {axis} keys ({first} to {last})")]
    TableOutOfRange {
        /// The table.
        table: String,
        /// `"row"` or `"column"`.
        axis: &'static str,
        /// The key looked up.
        key: f64,
        /// The first key.
        first: f64,
        /// The last key.
        last: f64,
    },
    /// Two series, inputs or constants with one name.
    #[error("`{name}` is defined more than once")]
    SeriesDuplicate {
        /// The name.
        name: String,
    },
    /// `var.b.a = var.b.c` where `var.b.c` comes later: a series read in a step before it is
    /// computed (or a series reading itself).
    #[error("`{name}` is read before it is computed in the step: it is {later}")]
    SeriesReadAhead {
        /// The name as written.
        name: String,
        /// `itself` or `a series computed later in the step`.
        later: &'static str,
    },
    /// A block assigning 65 locals: a size limit of the compiled program.
    #[error("limit exceeded: {what}")]
    LimitExceeded {
        /// Which limit, in words.
        what: &'static str,
    },

    // ---- evaluation errors ----
    /// `x / 0` with [`DivByZero::Error`](crate::DivByZero): division by zero in strict mode.
    #[error("division by zero")]
    DivisionByZero,
    /// `sqrt(-1)` with [`DomainErrors::Error`](crate::DomainErrors): a function outside its domain.
    #[error("`{function}` is not defined for {arg}")]
    DomainError {
        /// The function or operator.
        function: &'static str,
        /// The offending argument.
        arg: f64,
    },
    /// `eval_map` without a value for `rain`: a variable with no value at evaluation time.
    #[error("no value for variable `{name}`")]
    VariableMissing {
        /// The variable's name.
        name: String,
    },
    /// `{ assert(x > 0); x }` with `x = -1`: an assertion that failed.
    #[error("assertion failed: `{condition}` is {value}")]
    AssertFailed {
        /// The condition's source text.
        condition: String,
        /// The condition's value (0 or NaN).
        value: f64,
    },
    /// `Compiled::eval(&[])` for an expression with slots: fewer values than slots.
    #[error("expected {expected} values, found {found}")]
    ValuesMissing {
        /// The number of slots.
        expected: usize,
        /// The number of values given.
        found: usize,
    },
    /// `ExprSet::eval(5, …)` on a set of 2 expressions: an index outside an
    /// [`ExprSet`](crate::ExprSet).
    #[error("no expression {index} in a set of {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// How many expressions the set holds.
        len: usize,
    },
    /// `ExprSet::eval_all` into an output shorter than the set: one result per expression.
    #[error("the output holds {found} values, the set has {expected} expressions")]
    OutputTooShort {
        /// How many expressions the set holds.
        expected: usize,
        /// The output's length.
        found: usize,
    },
}

impl ErrorKind {
    /// A stable code for the kind of error, for tools to match on: the variant's name in
    /// snake case (`VariableUnknown` is `variable_unknown`). Codes are never reused.
    ///
    /// ```
    /// use kalix_expr_core::ErrorKind;
    /// assert_eq!(ErrorKind::DivisionByZero.code(), "division_by_zero");
    /// ```
    pub fn code(&self) -> String {
        let debug = format!("{self:?}");
        let variant = debug.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or_default();
        let mut code = String::with_capacity(variant.len() + 4);
        for (i, c) in variant.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                code.push('_');
            }
            code.push(c.to_ascii_lowercase());
        }
        code
    }
}

/// One problem: its kind, where it is, and an optional suggestion.
///
/// ```
/// use kalix_expr_core::Expr;
/// let err = Expr::parse("max(1, 2").unwrap_err();
/// let d = &err.diagnostics()[0];
/// assert_eq!((d.span().start, d.line(), d.column()), (3, 1, 4));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    kind: ErrorKind,
    span: Span,
    help: Option<Help>,
    line: usize,
    column: usize,
    /// The user function in whose body the problem is, when the diagnostic points at its call.
    inside: Option<String>,
}

/// A diagnostic's suggestion as data: its text, and the names it proposes in place of the
/// diagnostic's span ("did you mean `a` or `b`?"), best first, so that a tool (an editor's quick
/// fix) applies one without reading the text.
///
/// ```
/// use kalix_expr_core::Expr;
/// let err = Expr::parse("lg10(x)")?.compile(&["x"]).unwrap_err();
/// let help = err.diagnostics()[0].suggestion().unwrap();
/// assert_eq!(help.text(), "did you mean `log10`?");
/// assert_eq!(help.replacements(), ["log10"]);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Help {
    text: String,
    replacements: Vec<String>,
}

impl Help {
    /// "did you mean `a`?" / "did you mean `a` or `b`?" proposing `options`, or `None` for
    /// none.
    ///
    /// ```
    /// let h = kalix_expr_core::Help::did_you_mean(&["ln", "log10"]).unwrap();
    /// assert_eq!((h.text(), h.replacements()), ("did you mean `ln` or `log10`?", &["ln".to_string(), "log10".to_string()][..]));
    /// ```
    pub fn did_you_mean<S: AsRef<str>>(options: &[S]) -> Option<Help> {
        let text = match options {
            [] => return None,
            [one] => format!("did you mean `{}`?", one.as_ref()),
            [init @ .., last] => {
                let init: Vec<String> = init.iter().map(|o| format!("`{}`", o.as_ref())).collect();
                format!("did you mean {} or `{}`?", init.join(", "), last.as_ref())
            }
        };
        Some(Help { text, replacements: options.iter().map(|o| o.as_ref().to_string()).collect() })
    }

    /// The text, as the help line shows it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The names proposed in place of the span, best first (empty for advice in words).
    pub fn replacements(&self) -> &[String] {
        &self.replacements
    }

    /// The same advice with `context` before it (`in the body of ...: did you mean ...`); its
    /// replacements no longer apply where the diagnostic now points, so it has none.
    pub(crate) fn in_context(self, context: &str) -> Help {
        Help { text: format!("{context}: {}", self.text), replacements: Vec::new() }
    }
}

impl From<String> for Help {
    fn from(text: String) -> Help {
        Help { text, replacements: Vec::new() }
    }
}

impl From<&str> for Help {
    fn from(text: &str) -> Help {
        Help::from(text.to_string())
    }
}

impl fmt::Display for Help {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Diagnostic {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
    /// The byte span in the source text.
    pub fn span(&self) -> Span {
        self.span
    }
    /// A suggestion's text, if there is one.
    pub fn help(&self) -> Option<&str> {
        self.help.as_ref().map(Help::text)
    }
    /// A suggestion as data, if there is one.
    pub fn suggestion(&self) -> Option<&Help> {
        self.help.as_ref()
    }
    /// The user function (its name, without `fn.`) in whose body the problem was found while
    /// expanding a call, when the diagnostic points at that call.
    ///
    /// ```
    /// use kalix_expr_core::{Expr, FnDef, Functions, Host, Options};
    /// let functions = Functions::new(vec![FnDef::parse("f(a)", "a + rain")?]).unwrap();
    /// let host = Host { functions: Some(&functions), ..Host::default() };
    /// let err = Expr::parse("fn.f(1)")?.compile_with_host(&[], &host, &Options::default()).unwrap_err();
    /// assert_eq!(err.diagnostics()[0].inside(), Some("f"));
    /// # Ok::<(), kalix_expr_core::Error>(())
    /// ```
    pub fn inside(&self) -> Option<&str> {
        self.inside.as_deref()
    }
    /// 1-based line of the span's start.
    pub fn line(&self) -> usize {
        self.line
    }
    /// 1-based column (in `char`s) of the span's start.
    pub fn column(&self) -> usize {
        self.column
    }
}

/// The error of every phase: parsing, resolution and evaluation.
///
/// It holds one or more [`Diagnostic`]s and the source text they point into. `Display` renders
/// them the way rustc does; the accessors give the first diagnostic's parts.
///
/// ```
/// use kalix_expr_core::{Expr, ErrorKind};
/// let err = Expr::parse("avg(x").unwrap_err();
/// assert_eq!(err.kind(), &ErrorKind::ParenUnclosed);
/// assert_eq!((err.line(), err.column()), (1, 4));
/// assert!(err.to_string().contains("unclosed `(`"));
/// ```
#[derive(Clone, PartialEq)]
pub struct Error {
    // Boxed, so that `Result<f64, Error>` is two words and returns in registers: the success
    // path of every evaluation pays for the size of the error type.
    inner: Box<Inner>,
}

#[derive(Clone, PartialEq)]
struct Inner {
    diagnostics: Vec<Diagnostic>,
    source: Arc<str>,
    origin: Option<String>,
}

impl Error {
    /// One diagnostic against `source`.
    pub(crate) fn new(source: &Arc<str>, span: Span, kind: ErrorKind, help: Option<String>) -> Self {
        Error::with_help(source, span, kind, help.map(Help::from))
    }

    /// [`Error::new`] with a structured suggestion.
    pub(crate) fn with_help(source: &Arc<str>, span: Span, kind: ErrorKind, help: Option<Help>) -> Self {
        let mut e = Error {
            inner: Box::new(Inner { diagnostics: Vec::with_capacity(1), source: source.clone(), origin: None }),
        };
        e.push(span, kind, help);
        e
    }

    /// One diagnostic against `source`, for code outside this crate that reports in the same
    /// form (the `kexpr!` macro, model-file loaders).
    ///
    /// ```
    /// use kalix_expr_core::{Error, ErrorKind, Span};
    /// let e = Error::from_parts("month_at(3)", Span::new(0, 8), ErrorKind::CalendarRequired { name: "month_at".into() }, None);
    /// assert_eq!((e.line(), e.column()), (1, 1));
    /// ```
    pub fn from_parts(source: &str, span: Span, kind: ErrorKind, help: Option<String>) -> Self {
        Error::new(&Arc::from(source), span, kind, help)
    }

    /// Where the source came from, as given to [`Error::with_origin`].
    pub fn origin(&self) -> Option<&str> {
        self.inner.origin.as_deref()
    }

    /// Marks the last diagnostic as found in the body of user function `name`.
    pub(crate) fn inside(mut self, name: Option<&str>) -> Self {
        if let Some(d) = self.inner.diagnostics.last_mut() {
            d.inside = name.map(str::to_string);
        }
        self
    }

    /// Adds another diagnostic against the same source.
    pub(crate) fn push(&mut self, span: Span, kind: ErrorKind, help: Option<Help>) {
        let span = clamp_span(&self.inner.source, span);
        let (line, column) = span.line_col(&self.inner.source);
        self.inner.diagnostics.push(Diagnostic { kind, span, help, line, column, inside: None });
    }

    /// Names where the source came from (a file, a model property); shown in the `-->` line.
    ///
    /// ```
    /// use kalix_expr_core::Expr;
    /// let err = Expr::parse("1 +").unwrap_err().with_origin("model.ini [node.a] inflow");
    /// assert!(err.to_string().contains("--> model.ini [node.a] inflow 1:4"));
    /// ```
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.inner.origin = Some(origin.into());
        self
    }

    /// Every diagnostic, in source order of discovery. Never empty.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.inner.diagnostics
    }
    fn first(&self) -> &Diagnostic {
        // Invariant: constructed with one diagnostic, and none are ever removed.
        &self.inner.diagnostics[0]
    }
    /// The first diagnostic's kind.
    pub fn kind(&self) -> &ErrorKind {
        &self.first().kind
    }
    /// The first diagnostic's byte span.
    pub fn span(&self) -> Span {
        self.first().span
    }
    /// The first diagnostic's 1-based line.
    pub fn line(&self) -> usize {
        self.first().line
    }
    /// The first diagnostic's 1-based column, counted in `char`s.
    pub fn column(&self) -> usize {
        self.first().column
    }
    /// The first diagnostic's suggestion, if any.
    pub fn help(&self) -> Option<&str> {
        self.first().help()
    }
    /// The source text the spans point into.
    pub fn source_text(&self) -> &str {
        &self.inner.source
    }
}

/// `` `fn.a`, `fn.b` and `fn.c` `` for a message.
fn list_names(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Keeps a span inside the source and on `char` boundaries, so rendering and slicing never panic.
fn clamp_span(source: &str, span: Span) -> Span {
    let fix = |mut at: usize| {
        at = at.min(source.len());
        while !source.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let start = fix(span.start);
    Span::new(start, fix(span.end).max(start))
}

/// How many characters of a long expression line are shown around the error.
const SNIPPET_WIDTH: usize = 80;

/// One diagnostic as the renderer shows it: the one place that lays out rustc-style text for
/// the whole project (expression errors here, model-file diagnostics in `kalix-expr-model`).
#[derive(Debug, Clone, Copy)]
pub struct Snippet<'a> {
    /// `error` or `warning`.
    pub severity: &'a str,
    /// What is wrong.
    pub message: &'a str,
    /// Where, if the diagnostic has a place.
    pub place: Option<Place<'a>>,
    /// A suggestion.
    pub help: Option<&'a str>,
    /// Context lines.
    pub notes: &'a [String],
}

/// The place a [`Snippet`] points at: the line shown and the characters underlined.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// What follows `-->`: `2:8`, `m.ini:2:8`.
    pub label: &'a str,
    /// The 1-based line number.
    pub line_no: usize,
    /// The line's text (trailing white space is shown as is).
    pub line: &'a str,
    /// The 1-based column (in `char`s) of the first character underlined.
    pub column: usize,
    /// How many characters to underline (at least one is).
    pub width: usize,
    /// How many characters of a long line are shown around the column.
    pub window: usize,
}

/// Renders `s` the way rustc does:
///
/// ```
/// use kalix_expr_core::{render_snippet, Place, Snippet};
/// let place = Place { label: "1:8", line_no: 1, line: "max(0, lg10(x))", column: 8, width: 4, window: 80 };
/// let s = Snippet { severity: "error", message: "unknown function `lg10`", place: Some(place),
///                   help: Some("did you mean `log10`?"), notes: &[] };
/// let mut out = String::new();
/// render_snippet(&mut out, &s).unwrap();
/// assert_eq!(out, "error: unknown function `lg10`\n --> 1:8\n  |\n1 | max(0, lg10(x))\n  |        ^^^^\n  |\n  = help: did you mean `log10`?");
/// ```
pub fn render_snippet(f: &mut dyn fmt::Write, s: &Snippet<'_>) -> fmt::Result {
    write!(f, "{}: {}", s.severity, Shortened(s.message))?;
    let Some(p) = s.place else {
        if let Some(help) = s.help {
            write!(f, "\n  = help: {}", Shortened(help))?;
        }
        for note in s.notes {
            write!(f, "\n  = note: {}", Shortened(note))?;
        }
        return Ok(());
    };
    let line_no = p.line_no.to_string();
    let pad = " ".repeat(line_no.len());
    write!(f, "\n{pad}--> {}\n{pad} |\n", p.label)?;
    // Control characters and tabs are shown as one visible column each so the caret stays
    // aligned. Only a window of the line is collected, so a 10 MB line costs no more than a
    // short one.
    let col0 = p.column.saturating_sub(1);
    let (from, prefix) = if col0 > p.window / 2 { (col0 - p.window / 2, "...") } else { (0, "") };
    let visible = |c: char| match c {
        '\t' => ' ',
        c if c.is_control() => '\u{FFFD}',
        c => c,
    };
    let mut window = p.line.chars().skip(from);
    let shown: String = window.by_ref().take(p.window).map(visible).collect();
    let to = from + shown.chars().count();
    let suffix = if window.next().is_some() { "..." } else { "" };
    writeln!(f, "{line_no} | {prefix}{shown}{suffix}")?;
    let caret_at = col0 - from + prefix.len();
    let carets = p.width.min(to.saturating_sub(col0)).max(1);
    write!(f, "{pad} | {}{}", " ".repeat(caret_at), "^".repeat(carets))?;
    if s.help.is_some() || !s.notes.is_empty() {
        write!(f, "\n{pad} |")?;
    }
    if let Some(help) = s.help {
        write!(f, "\n{pad} = help: {}", Shortened(help))?;
    }
    for note in s.notes {
        write!(f, "\n{pad} = note: {}", Shortened(note))?;
    }
    Ok(())
}

/// Text shown whole up to 400 characters, else its first and last 160 around `…`: a message
/// names what it is about, and a 10 MB name must not become a 10 MB message.
struct Shortened<'a>(&'a str);

impl fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const WHOLE: usize = 400;
        const END: usize = 160;
        if self.0.len() <= WHOLE || self.0.chars().nth(WHOLE).is_none() {
            return f.write_str(self.0);
        }
        let head: String = self.0.chars().take(END).collect();
        let tail_start = self.0.char_indices().rev().nth(END - 1).map_or(0, |(i, _)| i);
        let skipped = self.0[head.len()..tail_start].chars().count();
        write!(f, "{head}…({skipped} characters)…{}", &self.0[tail_start..])
    }
}

/// Renders one diagnostic of an expression through [`render_snippet`].
pub(crate) fn render(f: &mut fmt::Formatter<'_>, source: &str, origin: Option<&str>, d: &Diagnostic) -> fmt::Result {
    let line_start = source[..d.span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[d.span.start..].find('\n').map_or(source.len(), |i| d.span.start + i);
    let width =
        source[d.span.start..d.span.end.min(line_end).max(d.span.start)].chars().take(SNIPPET_WIDTH).count().max(1);
    let label = match origin {
        Some(o) => format!("{o} {}:{}", d.line, d.column),
        None => format!("{}:{}", d.line, d.column),
    };
    let message = d.kind.to_string();
    let place = Place {
        label: &label,
        line_no: d.line,
        line: &source[line_start..line_end],
        column: d.column,
        width,
        window: SNIPPET_WIDTH,
    };
    let snippet = Snippet { severity: "error", message: &message, place: Some(place), help: d.help(), notes: &[] };
    let mut out = String::new();
    render_snippet(&mut out, &snippet)?;
    f.write_str(&out)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.inner.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            render(f, &self.inner.source, self.inner.origin.as_deref(), d)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tests print errors with `{:?}` through `unwrap`; the rendered text is the useful form.
        writeln!(f, "Error {{ kinds: {:?} }}", self.inner.diagnostics.iter().map(|d| &d.kind).collect::<Vec<_>>())?;
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}
