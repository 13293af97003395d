//! `kexpr fn`: the managed function library from the command line; and the library whose
//! functions `parse`, `eval`, `check` and `run` may call.
//!
//! Which library: for `fn`, `--library DIR`, else `KALIX_FUNCTIONS`, else the per-user
//! directory (`Library::open_default`), created when missing. For the other commands only
//! `--library DIR` (which must exist: a typo should not pass for an empty library) or
//! `KALIX_FUNCTIONS` (a missing directory there is an empty library, and is not created): a
//! model checks and runs the same on every machine unless a library is asked for.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kalix_expr::library::{
    fnv1a64, normalised_definition, parse_definition, Commit, Dependents, Library, LibraryError, LoadReport, Snapshot,
};
use kalix_expr::{Error, ErrorKind, FnDef, FnKind, FnRef};
use serde::Serialize;

use crate::cli::{DefineArgs, DependentsArgs, FnArgs, FnCommand, ListArgs, ListFormat};
use crate::Exit;
use kalix_expr::model::closest;

/// A failure: the exit status and the message for stderr.
type Failure = (Exit, String);

/// Prints the problems of a library that is not clean, as a warning: its valid functions load
/// regardless. (`kexpr fn show` shows those of the function it shows itself.)
fn warn_report(report: &LoadReport, shown: Option<&str>, stderr: &mut dyn Write) {
    let mut report = report.clone();
    report.problems.retain(|p| shown.is_none() || p.function.as_deref() != shown);
    if report.is_clean() {
        return;
    }
    let file =
        report.path.as_deref().map_or_else(|| "the function library".to_string(), |p| format!("`{}`", p.display()));
    let n = report.problems.len();
    let _ = writeln!(
        stderr,
        "warning: {file} has {n} problem{}; its other functions load\n{report}\n",
        if n == 1 { "" } else { "s" }
    );
}

fn open_failed(e: LibraryError) -> Failure {
    (Exit::Failed, format!("error: cannot open the function library: {e}"))
}

/// The library whose functions `parse`, `eval`, `check` and `run` call: `--library DIR`, else
/// `KALIX_FUNCTIONS`, else none. Its problems are printed as a warning.
pub(crate) fn for_expressions(
    explicit: Option<&Path>,
    stderr: &mut dyn Write,
) -> Result<Option<Arc<Snapshot>>, Failure> {
    let dir = match explicit {
        Some(dir) if !dir.is_dir() => {
            return Err((
                Exit::Failed,
                format!(
                    "error: the function library `{}` does not exist, or is not a directory\n\
                     help: create it by adding a function: `kexpr fn add 'name(x) = …' --library {}`",
                    dir.display(),
                    dir.display()
                ),
            ))
        }
        Some(dir) => dir.to_path_buf(),
        None => match std::env::var_os(Library::ENV_VAR).filter(|v| !v.is_empty()).map(PathBuf::from) {
            Some(dir) if dir.exists() => dir,
            _ => return Ok(None),
        },
    };
    let (library, report) = Library::open(&dir).map_err(open_failed)?;
    warn_report(&report, None, stderr);
    Ok(Some(library.snapshot()))
}

/// `kexpr fn …`.
pub(crate) fn command(
    args: &FnArgs,
    explicit: Option<&Path>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Exit {
    let outcome = Library::open_default(explicit).map_err(open_failed).and_then(|(library, report)| {
        let shown = match &args.command {
            FnCommand::Show(a) => Some(bare(&a.name)),
            _ => None,
        };
        warn_report(&report, shown.as_deref(), stderr);
        match &args.command {
            FnCommand::Add(a) => {
                let def = parse(&definition_text(&a.definition, stdin)?)?;
                changed(library.add(with_metadata(def, a, None, None)), "add", stderr)
            }
            FnCommand::Update(a) => {
                let text = definition_text(&a.define.definition, stdin)?;
                let def = parse(&text)?;
                let old = entry_definition(&library.snapshot(), def.name());
                let tags = if a.no_tags { Some(Vec::new()) } else { None };
                let def = with_metadata(def, &a.define, tags, old.as_ref());
                let dependents = if a.force { Dependents::Break } else { Dependents::Refuse };
                changed(library.update(def, dependents), "update", stderr)
            }
            FnCommand::Rm(a) => changed(library.remove(&a.name, dependents(&a.dependents)), "rm", stderr),
            FnCommand::Rename(a) => {
                changed(library.rename(&a.from, &a.to, dependents(&a.dependents)), "rename", stderr)
            }
            FnCommand::List(a) => list(&library.snapshot(), a),
            FnCommand::Show(a) => show(&library.snapshot(), &a.name),
        }
    });
    match outcome {
        Ok(text) => crate::print_result(stdout, stderr, &text),
        Err((exit, message)) => {
            let _ = writeln!(stderr, "{message}");
            exit
        }
    }
}

fn dependents(args: &DependentsArgs) -> Dependents {
    match (args.cascade, args.force) {
        (true, _) => Dependents::Cascade,
        (_, true) => Dependents::Break,
        _ => Dependents::Refuse,
    }
}

/// The definition's text: the argument, or all of stdin for `-`.
fn definition_text(arg: &str, stdin: &mut dyn Read) -> Result<String, Failure> {
    if arg != "-" {
        return Ok(arg.to_string());
    }
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .map_err(|e| (Exit::Failed, format!("error: cannot read the definition from stdin: {e}")))?;
    Ok(text)
}

fn parse(text: &str) -> Result<FnDef, Failure> {
    parse_definition(text).map_err(|e| (Exit::Invalid, e.to_string()))
}

/// `def` with its description and tags: those given as options, else those of its comment
/// lines, else those of `old` (the definition it replaces). `tags` overrides them all.
fn with_metadata(def: FnDef, args: &DefineArgs, tags: Option<Vec<String>>, old: Option<&FnDef>) -> FnDef {
    let description = match &args.description {
        Some(d) => Some(d.clone()).filter(|d| !d.trim().is_empty()),
        None => def.description().or_else(|| old.and_then(FnDef::description)).map(str::to_string),
    };
    let tags = tags.unwrap_or_else(|| {
        if !args.tags.is_empty() {
            args.tags.clone()
        } else if !def.tags().is_empty() {
            def.tags().to_vec()
        } else {
            old.map(|o| o.tags().to_vec()).unwrap_or_default()
        }
    });
    // Rebuilt without any, so that a description can be removed.
    let signature = format!("{}({})", def.name(), def.params().join(", "));
    let bare = FnDef::parse(&signature, def.body().source()).unwrap_or(def);
    let bare = match description {
        Some(d) => bare.with_description(d),
        None => bare,
    };
    bare.with_tags(tags)
}

/// The definition of an entry, valid or not (when it parses).
fn entry_definition(snapshot: &Snapshot, name: &str) -> Option<FnDef> {
    match snapshot.get(name).and_then(|f| f.definition().cloned()) {
        Some(def) => Some(def),
        None => snapshot.entry_text(name).and_then(|t| parse_definition(t).ok()),
    }
}

/// What a change did, or why it was refused.
fn changed(result: Result<Commit, LibraryError>, command: &str, stderr: &mut dyn Write) -> Result<String, Failure> {
    match result {
        Ok(commit) => {
            let mut out = String::new();
            for c in &commit.changes {
                out.push_str(&format!("{c}\n"));
            }
            if commit.changes.is_empty() {
                out.push_str("no change\n");
            }
            out.push_str(&format!("library version {}\n", commit.version));
            if !commit.broken.is_empty() {
                let names: Vec<String> = commit.broken.iter().map(|n| format!("`fn.{n}`")).collect();
                let _ = writeln!(
                    stderr,
                    "warning: {} left invalid: fix {} with `kexpr fn update`, or remove {}",
                    names.join(", "),
                    if names.len() == 1 { "it" } else { "them" },
                    if names.len() == 1 { "it" } else { "them" },
                );
            }
            Ok(out)
        }
        Err(e) => {
            let exit = match e {
                LibraryError::ChangeRejected { .. } | LibraryError::DependentsBroken { .. } => Exit::Invalid,
                _ => Exit::Failed,
            };
            Err((exit, format!("error: {}", with_options(e, command))))
        }
    }
}

/// A refusal because of the functions calling the one changed, with a help line that names
/// the options of `command` (the core's names the Rust API).
fn with_options(e: LibraryError, command: &str) -> LibraryError {
    let LibraryError::DependentsBroken { dependents, problems } = e else { return e };
    let help = match command {
        "rm" => "change the callers first, or pass --cascade to remove them too, or --force to leave them invalid",
        "rename" => {
            "change the callers first, or pass --cascade to rewrite their calls to the new name, or --force to leave \
             them invalid"
        }
        _ => "change the callers first, or pass --force to leave them invalid",
    };
    let problems = problems
        .into_iter()
        .map(|mut p| {
            if let [d] = p.error.diagnostics() {
                if matches!(d.kind(), ErrorKind::DependentsExist { .. }) {
                    p.error = Error::from_parts(p.error.source_text(), d.span(), d.kind().clone(), Some(help.into()));
                }
            }
            p
        })
        .collect();
    LibraryError::DependentsBroken { dependents, problems }
}

/// One line of `kexpr fn list`.
#[derive(Debug, Serialize)]
struct Listed {
    /// Lower-case, without `fn.`.
    name: String,
    /// How an expression calls it: `fn.frac`, `lin_range`.
    call: String,
    /// `None` when an invalid entry's signature does not parse.
    arity: Option<usize>,
    kind: &'static str,
    valid: bool,
    /// `None` for an invalid entry.
    pure: Option<bool>,
    tags: Vec<String>,
    description: Option<String>,
}

impl Listed {
    fn valid(f: &FnRef) -> Listed {
        let arity = match f.definition() {
            Some(d) => Some(d.params().len()),
            None => f.native_fn().map(|n| n.arity()),
        };
        Listed {
            name: f.name().to_string(),
            call: f.to_string(),
            arity,
            kind: if f.kind() == FnKind::Native { "native" } else { "user" },
            valid: true,
            pure: Some(f.is_pure()),
            tags: f.tags().to_vec(),
            description: f.description().map(str::to_string),
        }
    }

    fn invalid(snapshot: &Snapshot, name: &str) -> Listed {
        let def = snapshot.entry_text(name).and_then(|t| parse_definition(t).ok());
        Listed {
            name: name.to_string(),
            call: format!("fn.{name}"),
            arity: def.as_ref().map(|d| d.params().len()),
            kind: "user",
            valid: false,
            pure: None,
            tags: def.as_ref().map(|d| d.tags().to_vec()).unwrap_or_default(),
            description: def.as_ref().and_then(|d| d.description().map(str::to_string)),
        }
    }

    fn purity(&self) -> &'static str {
        match self.pure {
            Some(true) => "pure",
            Some(false) => "impure",
            None => "broken",
        }
    }
}

/// `kexpr fn list`: every function, valid or not, by name.
fn list(snapshot: &Snapshot, args: &ListArgs) -> Result<String, Failure> {
    let mut items: Vec<Listed> = snapshot.list().iter().map(Listed::valid).collect();
    items.extend(snapshot.invalid().iter().map(|n| Listed::invalid(snapshot, n)));
    items.retain(|f| args.tags.iter().all(|t| f.tags.iter().any(|x| x.eq_ignore_ascii_case(t))));
    items.sort_by(|a, b| a.name.cmp(&b.name).then(a.kind.cmp(b.kind)));
    match args.format {
        ListFormat::Json => {
            let text = serde_json::to_string_pretty(&items).map_err(|e| (Exit::Failed, format!("error: {e}")))?;
            Ok(format!("{text}\n"))
        }
        ListFormat::Human if items.is_empty() => Ok(String::new()),
        ListFormat::Human => {
            let header = ["NAME", "ARITY", "KIND", "PURITY", "TAGS", "DESCRIPTION"].map(String::from);
            let rows: Vec<[String; 6]> = std::iter::once(header)
                .chain(items.iter().map(|f| {
                    [
                        f.call.clone(),
                        f.arity.map_or_else(|| "?".into(), |a| a.to_string()),
                        f.kind.to_string(),
                        f.purity().to_string(),
                        f.tags.join(", "),
                        f.description.clone().unwrap_or_default(),
                    ]
                }))
                .collect();
            Ok(table(&rows))
        }
    }
}

/// Rows as columns padded to their widest cell, two spaces apart; no trailing spaces.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(widths) {
            line.push_str(cell);
            line.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `kexpr fn show`: the entry as written, then its hash, state and callers.
fn show(snapshot: &Snapshot, name: &str) -> Result<String, Failure> {
    let valid = snapshot.get(name);
    let Some(text) = snapshot.entry_text(name) else {
        if let Some(native) = valid.filter(|f| f.kind() == FnKind::Native) {
            let purity = if native.is_pure() { "pure" } else { "impure" };
            return Ok(format!("{native}: a native function, {purity}\nhash:      {:016x}\n", native.content_hash()));
        }
        return Err(unknown(snapshot, name));
    };
    let bare = bare(name);
    let hash = match &valid {
        Some(f) => Some(f.content_hash()),
        None => parse_definition(text).ok().map(|d| fnv1a64(normalised_definition(&d).as_bytes())),
    };
    let callers: Vec<String> = snapshot.dependents(&bare).iter().map(|n| format!("fn.{n}")).collect();
    let mut out = format!("{text}\n\n");
    out.push_str(&format!(
        "hash:      {}\n",
        hash.map_or_else(|| "none (the definition does not parse)".into(), |h| format!("{h:016x}"))
    ));
    let state = match &valid {
        Some(f) if f.is_pure() => "valid, pure",
        Some(_) => "valid, impure (reads model variables, or calls a stateful or calendar function)",
        None => "invalid: not callable until fixed",
    };
    out.push_str(&format!("state:     {state}\n"));
    out.push_str(&format!("called by: {}\n", if callers.is_empty() { "none".into() } else { callers.join(", ") }));
    if valid.is_none() {
        for p in snapshot.problems().iter().filter(|p| p.function.as_deref() == Some(bare.as_str())) {
            out.push_str(&format!("\n{p}\n"));
        }
    }
    Ok(out)
}

/// A function's name as the library keeps it: lower-case, without `fn.`.
fn bare(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    lower.strip_prefix("fn.").map_or_else(|| lower.clone(), str::to_string)
}

/// The error for a name the library does not define, with the closest one it does.
fn unknown(snapshot: &Snapshot, name: &str) -> Failure {
    let mut names: Vec<String> = snapshot.list().iter().map(|f| f.name().to_string()).collect();
    names.extend(snapshot.invalid().iter().cloned());
    names.sort();
    let bare = bare(name);
    let mut message = format!("error: the function library has no function `fn.{bare}`");
    if let Some(close) = closest(&bare, names.iter().map(String::as_str)) {
        message.push_str(&format!("\nhelp: did you mean `fn.{close}`?"));
    }
    (Exit::Invalid, message)
}
