//! One consistent version of a library: validated user functions, natives, and the problems of
//! the entries that are not valid.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::compiled::Compiled;
use crate::error::{Error, ErrorKind};
use crate::expr::Expr;
use crate::host::Host;
use crate::host::{FnDef, Functions};
use crate::host::{FnKind, FnRef, NativeFn};
use crate::library::format::{self, call_spans, Entry, Parsed};
use crate::library::Problem;
use crate::options::Options;
use crate::parse::ParseOptions;
use crate::span::Span;

/// An immutable version of a [`Library`](crate::library::Library): its valid user functions,
/// its natives, and the problems of the entries that are not valid. Take one with
/// [`Library::snapshot`](crate::library::Library::snapshot) and compile against it; it never
/// changes, whatever happens to the library meanwhile.
///
/// ```
/// use kalix_expr_core::library::Library;
/// use kalix_expr_core::{Expr, FnDef, Options};
/// let lib = Library::in_memory();
/// lib.add(FnDef::parse("double(x)", "2 * x")?)?;
/// let before = lib.snapshot();
/// lib.update(FnDef::parse("double(x)", "x + x + 0")?, Default::default())?;
/// assert_eq!((before.version(), lib.snapshot().version()), (1, 2));
/// let c = before.compile(&Expr::parse("fn.double(a)")?, &["a"], &Options::default())?;
/// assert_eq!(c.eval(&[4.0])?, 8.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Snapshot {
    version: u64,
    path: Option<PathBuf>,
    entries: Vec<Entry>,
    functions: Functions,
    natives: Vec<Arc<NativeFn>>,
    problems: Vec<Problem>,
    /// The problems of the file's header, with their lines.
    header: Vec<(usize, Error)>,
    /// The names of the entries that are not valid.
    invalid: Vec<String>,
    /// The length and hash of the file text it was read from.
    source: Option<(usize, u64)>,
}

/// What [`Snapshot::revalidate`] finds for one compiled expression.
///
/// ```
/// use kalix_expr_core::library::{Library, Revalidation};
/// use kalix_expr_core::{Expr, FnDef, Options};
/// let lib = Library::in_memory();
/// lib.add(FnDef::parse("k()", "2")?)?;
/// let c = lib.snapshot().compile(&Expr::parse("fn.k() * x")?, &["x"], &Options::default())?;
/// lib.update(FnDef::parse("k()", "3")?, Default::default())?;
/// match lib.snapshot().revalidate([&c], &Options::default()).remove(0) {
///     Revalidation::Stale { changed, compiled } => {
///         assert_eq!(changed, ["fn.k"]);
///         assert_eq!(compiled.eval(&[2.0])?, 6.0);
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
// One per compiled expression per library change, never on a hot path: a boxed `Compiled`
// would only make callers dereference.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum Revalidation {
    /// It compiles against this version from the very same definitions.
    Current,
    /// It compiles, but some definition it was built from changed (or is new): its value may
    /// differ. Here it is recompiled.
    Stale {
        /// The functions whose definitions differ, as called (`fn.k`, `g`, `table.t`).
        changed: Vec<String>,
        /// The expression compiled against this version.
        compiled: Compiled,
    },
    /// It no longer compiles against this version.
    Broken(Error),
}

/// The name of a function without `fn.`, lower-case.
pub(crate) fn bare(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    match lower.strip_prefix("fn.") {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

impl Snapshot {
    /// Validates `entries` as a library. Entries that are not valid — and those that call them —
    /// are set aside with their problems; the rest make the valid set.
    pub(crate) fn build(
        version: u64,
        path: Option<PathBuf>,
        entries: Vec<Entry>,
        natives: Vec<Arc<NativeFn>>,
        header: Vec<(usize, Error)>,
    ) -> Snapshot {
        let mut problems: Vec<Problem> = header
            .iter()
            .cloned()
            .map(|(line, error)| Problem { function: None, path: path.clone(), line, error })
            .collect();
        let problem = |e: &Entry, error: Error| Problem {
            function: e.name().map(str::to_string),
            path: path.clone(),
            line: e.line,
            error,
        };
        let mut bad: HashSet<String> = HashSet::new();
        let mut seen: HashSet<String> = HashSet::new();
        // Entry indices of definitions still in the running.
        let mut candidates: Vec<usize> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let first = e.name().is_none_or(|n| seen.insert(n.to_string()));
            match &e.parsed {
                Parsed::Comment => {}
                Parsed::Broken { name, error } => {
                    problems.push(problem(e, error.clone()));
                    if let (Some(n), true) = (name, first) {
                        bad.insert(n.clone());
                    }
                }
                Parsed::Def(def) if !first => {
                    let error = name_error(def, ErrorKind::FunctionDuplicate { name: def.name().to_string() }, None);
                    problems.push(problem(e, error));
                }
                Parsed::Def(def) if natives.iter().any(|n| n.name() == def.name()) => {
                    let help = Some("a native function has this name; rename one of them".to_string());
                    let error = name_error(def, ErrorKind::FunctionExists { name: def.name().to_string() }, help);
                    problems.push(problem(e, error));
                    bad.insert(def.name().to_string());
                }
                Parsed::Def(_) if candidates.len() >= Functions::MAX_DEFINITIONS => {
                    let what = "a function library may hold at most 10,000 definitions";
                    let src: Arc<str> = Arc::from(e.raw.as_str());
                    problems
                        .push(problem(e, Error::new(&src, Span::default(), ErrorKind::LimitExceeded { what }, None)));
                }
                Parsed::Def(_) => candidates.push(i),
            }
        }
        let def = |i: usize| match &entries[i].parsed {
            Parsed::Def(d) => d,
            _ => unreachable!("candidates are definitions"),
        };
        // What each candidate calls, and who calls each name.
        let calls: HashMap<usize, Vec<String>> = candidates.iter().map(|&i| (i, def(i).calls())).collect();
        let mut callers: HashMap<&str, Vec<usize>> = HashMap::new();
        for &i in &candidates {
            for c in &calls[&i] {
                callers.entry(c.as_str()).or_default().push(i);
            }
        }
        // Names found bad whose callers are not yet told.
        let mut fresh: Vec<String> = bad.iter().cloned().collect();
        let functions = loop {
            // A function calling an invalid one is invalid too, with an error saying so.
            while let Some(callee) = fresh.pop() {
                for &i in callers.get(callee.as_str()).map_or(&[][..], Vec::as_slice) {
                    let d = def(i);
                    if bad.contains(d.name()) {
                        continue;
                    }
                    let span = call_spans(d, &callee).first().copied().unwrap_or_default();
                    let error = Error::new(
                        d.body().shared_source(),
                        span,
                        ErrorKind::DependencyInvalid { name: format!("fn.{callee}") },
                        Some(format!("fix `fn.{callee}` first: it has its own error")),
                    );
                    problems.push(problem(&entries[i], error));
                    bad.insert(d.name().to_string());
                    fresh.push(d.name().to_string());
                }
            }
            candidates.retain(|&i| !bad.contains(def(i).name()));
            let defs: Vec<FnDef> = candidates.iter().map(|&i| def(i).clone()).collect();
            let (set, errors) = Functions::validate(defs, &natives, &[]);
            if errors.is_empty() {
                break set;
            }
            // Problems of the set as a whole cannot happen here (the size is checked above).
            let errors: Vec<(usize, Error)> =
                errors.into_iter().filter_map(|(k, e)| candidates.get(k).map(|&i| (i, e))).collect();
            let failing: HashSet<&str> = errors.iter().map(|(i, _)| def(*i).name()).collect();
            // A function failing because one it calls fails is told so in the next round, rather
            // than with the callee's error repeated; unless every failure is of that kind.
            let own = |i: usize| !calls[&i].iter().any(|c| c != def(i).name() && failing.contains(c.as_str()));
            let any_own = errors.iter().any(|(i, _)| own(*i));
            for (i, error) in errors {
                if own(i) || !any_own {
                    problems.push(problem(&entries[i], error));
                    bad.insert(def(i).name().to_string());
                    fresh.push(def(i).name().to_string());
                }
            }
            candidates.retain(|&i| !bad.contains(def(i).name()));
        };
        problems.sort_by_key(|p| p.line);
        let mut invalid: Vec<String> = Vec::new();
        for e in &entries {
            if let Some(n) = e.name() {
                if functions.get(n).is_none() && !invalid.iter().any(|x| x == n) {
                    invalid.push(n.to_string());
                }
            }
        }
        Snapshot { version, path, entries, functions, natives, problems, header, invalid, source: None }
    }

    /// The version: 0 for an empty library, then one more for each committed change.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// let snap = lib.snapshot();
    /// assert_eq!(snap.version(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The library file, for a library kept in a directory.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// let snap = lib.snapshot();
    /// assert_eq!(snap.path(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The valid user functions (with the natives, what [`Snapshot::host`] offers).
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// let snap = lib.snapshot();
    /// assert_eq!(snap.functions().get("f").map(|d| d.params().len()), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn functions(&self) -> &Functions {
        &self.functions
    }

    /// The natives, in order of registration.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// let snap = lib.snapshot();
    /// assert!(snap.natives().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn natives(&self) -> &[Arc<NativeFn>] {
        &self.natives
    }

    /// The problems of the entries that are not valid, and of the file's header, in file order.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// let snap = lib.snapshot();
    /// assert!(snap.problems().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The names of the user functions defined but not valid (their problems are in
    /// [`Snapshot::problems`]); they cannot be called until fixed.
    ///
    /// ```
    /// use kalix_expr_core::library::{Dependents, Library};
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("b(x)", "x")?)?;
    /// lib.add(FnDef::parse("a(x)", "fn.b(x)")?)?;
    /// lib.update(FnDef::parse("b(x, y)", "x + y")?, Dependents::Break)?;
    /// assert_eq!(lib.snapshot().invalid(), ["a"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn invalid(&self) -> &[String] {
        &self.invalid
    }

    /// A valid user function (`name` or `fn.name`) or a native (its bare name), with its
    /// metadata.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::{FnDef, FnKind, NativeFn};
    /// let lib = Library::in_memory();
    /// lib.register_native(NativeFn::impure("g", 1, |_| 0.0)?)?;
    /// lib.add(FnDef::parse("f(x)", "g(x) * 2")?)?;
    /// let snap = lib.snapshot();
    /// assert_eq!(snap.get("fn.f").map(|f| f.kind()), Some(FnKind::User));
    /// assert_eq!(snap.get("g").map(|f| f.kind()), Some(FnKind::Native));
    /// assert!(!snap.get("f").unwrap().is_pure());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<FnRef> {
        let name = bare(name);
        if let Some(def) = self.functions.get(&name) {
            return Some(FnRef::user(def, self.functions.is_pure(&name)));
        }
        self.natives.iter().find(|n| n.name() == name).map(FnRef::native)
    }

    /// Every valid user function in file order, then every native.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// let snap = lib.snapshot();
    /// assert_eq!(snap.list().iter().map(|f| f.to_string()).collect::<Vec<_>>(), ["fn.f"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn list(&self) -> Vec<FnRef> {
        let users = self
            .entries
            .iter()
            .filter_map(|e| e.name())
            .filter_map(|n| self.functions.get(n).map(|d| FnRef::user(d, self.functions.is_pure(n))));
        let mut seen = HashSet::new();
        users
            .chain(self.natives.iter().map(FnRef::native))
            .filter(|f| seen.insert((f.kind(), f.name().to_string())))
            .collect()
    }

    /// The text of a user function's entry in the file, as written (comments included), valid
    /// or not.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("Half( x )", "x / 2")?.with_tags(["math"]))?;
    /// assert_eq!(lib.snapshot().entry_text("fn.half"), Some("# tags: math\nhalf(x) = x / 2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn entry_text(&self, name: &str) -> Option<&str> {
        let name = bare(name);
        self.entries.iter().find(|e| e.name() == Some(&name)).map(|e| e.raw.as_str())
    }

    /// The whole library file's text at this version.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// let snap = lib.snapshot();
    /// assert!(snap.file_text().ends_with("[fn]\n\nf(x) = x\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn file_text(&self) -> String {
        format::render_file(self.version, &self.entries)
    }

    /// The user functions that call `name`, directly or through others, in library order
    /// (valid or not).
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("c(x)", "x")?)?;
    /// lib.add(FnDef::parse("b(x)", "fn.c(x)")?)?;
    /// lib.add(FnDef::parse("a(x)", "fn.b(x)")?)?;
    /// assert_eq!(lib.snapshot().dependents("c"), ["b", "a"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dependents(&self, name: &str) -> Vec<String> {
        dependents_of(&self.entries, &[bare(name)])
    }

    /// What a resolver needs: the valid user functions and the natives.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::{Calendar, Date, Expr, FnDef, Model};
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("half(x)", "x / 2")?)?;
    /// let snap = lib.snapshot();
    /// let mut model = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
    /// model.functions(snap.functions().clone());
    /// model.series("var.b.h", Expr::parse("fn.half(sim.step)")?);
    /// let out = model.compile().map_err(|e| e.errors[0].clone())?.run(&[], 3).unwrap();
    /// assert_eq!(out.column("var.b.h"), Some(&[0.0, 0.5, 1.0][..]));
    /// assert!(snap.host().functions.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn host(&self) -> Host<'_> {
        Host { functions: Some(&self.functions), natives: &self.natives, ..Host::default() }
    }

    /// Compiles `expr` against `names` (slot `i` is `names[i]`) with this version's user
    /// functions and natives.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::{Expr, FnDef, Options};
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("frac(v, cap)", "v / cap")?)?;
    /// let c = lib.snapshot().compile(&Expr::parse("fn.frac(v, 4)")?, &["v"], &Options::default())?;
    /// assert_eq!(c.eval(&[1.0])?, 0.25);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compile(&self, expr: &Expr, names: &[&str], opts: &Options) -> Result<Compiled, Error> {
        expr.compile_with_host(names, &self.host(), opts)
    }

    /// Checks compiled expressions against this version: each is recompiled from its source
    /// and slot names, and compared with the definitions it was built from. One result per
    /// expression, in order: [`Revalidation::Current`], [`Revalidation::Stale`] (with the
    /// recompiled expression) or [`Revalidation::Broken`] (with why).
    ///
    /// ```
    /// use kalix_expr_core::library::{Dependents, Library, Revalidation};
    /// use kalix_expr_core::{Expr, FnDef, Options};
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("k()", "2")?)?;
    /// let opts = Options::default();
    /// let uses_k = lib.snapshot().compile(&Expr::parse("fn.k() + x")?, &["x"], &opts)?;
    /// let plain = lib.snapshot().compile(&Expr::parse("x * 2")?, &["x"], &opts)?;
    /// lib.remove("k", Dependents::Refuse)?;
    /// let found = lib.snapshot().revalidate([&uses_k, &plain], &opts);
    /// assert!(matches!(&found[0], Revalidation::Broken(e) if e.to_string().contains("unknown function `fn.k`")));
    /// assert!(matches!(found[1], Revalidation::Current));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn revalidate<'a, I>(&self, exprs: I, opts: &Options) -> Vec<Revalidation>
    where
        I: IntoIterator<Item = &'a Compiled>,
    {
        let parse = ParseOptions { max_len: usize::MAX, ..ParseOptions::default() };
        exprs
            .into_iter()
            .map(|old| {
                let names: Vec<&str> = old.names().iter().map(String::as_str).collect();
                let new = match Expr::parse_with(old.source(), &parse).and_then(|e| self.compile(&e, &names, opts)) {
                    Ok(c) => c,
                    Err(e) => return Revalidation::Broken(e),
                };
                let hashes = |c: &Compiled| -> Vec<(FnKind, String, u64)> {
                    c.functions().iter().map(|f| (f.kind(), f.name().to_string(), f.content_hash())).collect()
                };
                let before = hashes(old);
                let mut changed: Vec<String> = Vec::new();
                for f in new.functions() {
                    let same = before.iter().any(|(k, n, h)| *k == f.kind() && n == f.name() && *h == f.content_hash());
                    if !same && !changed.contains(&f.to_string()) {
                        changed.push(f.to_string());
                    }
                }
                if changed.is_empty() {
                    Revalidation::Current
                } else {
                    Revalidation::Stale { changed, compiled: new }
                }
            })
            .collect()
    }

    /// Records the length and hash of the file text it was read from.
    pub(crate) fn with_source(mut self, source: (usize, u64)) -> Snapshot {
        self.source = Some(source);
        self
    }

    pub(crate) fn source(&self) -> Option<(usize, u64)> {
        self.source
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The same entries validated again with other natives.
    pub(crate) fn with_natives(&self, natives: Vec<Arc<NativeFn>>) -> Snapshot {
        let next = Snapshot::build(self.version, self.path.clone(), self.entries.clone(), natives, self.header.clone());
        Snapshot { source: self.source, ..next }
    }
}

/// An error pointing at a definition's name in its signature.
fn name_error(def: &FnDef, kind: ErrorKind, help: Option<String>) -> Error {
    let sig = format!("{}({})", def.name(), def.params().join(", "));
    let src: Arc<str> = Arc::from(sig.as_str());
    Error::new(&src, Span::new(0, def.name().len()), kind, help)
}

/// The definitions among `entries` that call any of `names`, directly or through others, in
/// entry order (`names` themselves excluded).
pub(crate) fn dependents_of(entries: &[Entry], names: &[String]) -> Vec<String> {
    let mut reached: HashSet<String> = names.iter().cloned().collect();
    let mut out: Vec<String> = Vec::new();
    loop {
        let mut grew = false;
        for e in entries {
            let Parsed::Def(d) = &e.parsed else { continue };
            if reached.contains(d.name()) {
                continue;
            }
            if d.calls().iter().any(|c| reached.contains(c)) {
                reached.insert(d.name().to_string());
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    for e in entries {
        if let Parsed::Def(d) = &e.parsed {
            if reached.contains(d.name()) && !names.iter().any(|n| n == d.name()) && !out.iter().any(|o| o == d.name())
            {
                out.push(d.name().to_string());
            }
        }
    }
    out
}
