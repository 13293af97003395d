//! Changes to a library: applying a batch of edits to its entries, then deciding from the
//! validated result whether the change may be committed.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Help};
use crate::host::FnDef;
use crate::library::format::{call_spans, tag_problem, Entry, Parsed};
use crate::library::snapshot::{bare, dependents_of};
use crate::library::{LibraryError, Problem, Snapshot};
use crate::span::Span;
use crate::suggest;

/// One change to one function, within a [`Commit`](crate::library::Commit).
///
/// ```
/// use kalix_expr_core::library::{Change, Library};
/// use kalix_expr_core::FnDef;
/// let lib = Library::in_memory();
/// let commit = lib.add(FnDef::parse("f(x)", "x")?)?;
/// assert_eq!(commit.changes, [Change::Added("f".into())]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Change {
    /// A function was added (its name, lower-case, without `fn.`).
    Added(String),
    /// A function's definition, description or tags changed.
    Updated(String),
    /// A function was removed.
    Removed(String),
    /// A function was renamed.
    Renamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
}

impl fmt::Display for Change {
    /// `added fn.f`, `renamed fn.a to fn.b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added(n) => write!(f, "added fn.{n}"),
            Change::Updated(n) => write!(f, "updated fn.{n}"),
            Change::Removed(n) => write!(f, "removed fn.{n}"),
            Change::Renamed { from, to } => write!(f, "renamed fn.{from} to fn.{to}"),
        }
    }
}

/// One change to a library's user functions. A batch of them
/// ([`Library::apply`](crate::library::Library::apply)) applies in order, all or nothing.
///
/// ```
/// use kalix_expr_core::library::{Dependents, Edit, Library};
/// use kalix_expr_core::FnDef;
/// let lib = Library::in_memory();
/// lib.apply(
///     vec![Edit::Add(FnDef::parse("a(x)", "x + 1")?), Edit::Add(FnDef::parse("b(x)", "fn.a(x) * 2")?)],
///     Dependents::Refuse,
/// )?;
/// assert_eq!(lib.snapshot().version(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Edit {
    /// Adds a function; its name must be free.
    Add(FnDef),
    /// Replaces the function of the same name (its body, parameters, description and tags).
    Update(FnDef),
    /// Removes a function (`name` or `fn.name`).
    Remove(String),
    /// Renames a function, keeping its definition.
    Rename {
        /// The current name (`name` or `fn.name`).
        from: String,
        /// The new name.
        to: String,
    },
}

/// What to do with the functions that call one a change removes, renames or changes the arity
/// of (its *dependents*, which the change would otherwise break).
///
/// ```
/// use kalix_expr_core::library::{Dependents, Library, LibraryError};
/// use kalix_expr_core::FnDef;
/// let lib = Library::in_memory();
/// lib.add(FnDef::parse("b(x)", "x")?)?;
/// lib.add(FnDef::parse("a(x)", "fn.b(x) + 1")?)?;
/// let err = lib.rename("b", "base", Dependents::Refuse).unwrap_err();
/// assert!(matches!(&err, LibraryError::DependentsBroken { dependents, .. } if dependents == &["a"]));
/// lib.rename("b", "base", Dependents::Cascade)?;
/// assert_eq!(lib.snapshot().entry_text("a"), Some("a(x) = fn.base(x) + 1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dependents {
    /// Refuse the change and list the dependents (the default).
    #[default]
    Refuse,
    /// Carry the change through: a removal removes the dependents too (and theirs), a rename
    /// rewrites their calls to the new name. An arity change cannot be carried through, so it
    /// is still refused.
    Cascade,
    /// Go ahead and leave the dependents as they are: they become invalid (kept in the file and
    /// reported, but not callable) until they are fixed.
    Break,
}

/// Edits applied to a library's entries, before validation.
pub(crate) struct Planned {
    pub(crate) entries: Vec<Entry>,
    pub(crate) changes: Vec<Change>,
    /// The functions whose definitions the change writes: each must come out valid.
    pub(crate) written: Vec<String>,
    /// The functions removed, renamed away or updated: their callers may break.
    pub(crate) changed: Vec<String>,
}

fn problem(name: &str, error: Error) -> Problem {
    Problem { function: Some(name.to_string()), path: None, line: 0, error }
}

fn text_error(text: &str, kind: ErrorKind, help: Option<Help>) -> Error {
    let src: Arc<str> = Arc::from(text);
    Error::with_help(&src, Span::new(0, text.len()), kind, help)
}

fn find(entries: &[Entry], name: &str) -> Option<usize> {
    entries.iter().position(|e| e.name() == Some(name))
}

fn unknown(entries: &[Entry], name: &str) -> Problem {
    let close: Vec<String> =
        suggest::closest(name, entries.iter().filter_map(Entry::name)).iter().map(|c| format!("fn.{c}")).collect();
    let close: Vec<&str> = close.iter().map(String::as_str).collect();
    let help = suggest::did_you_mean(&close).or_else(|| Some("the library has no function of this name".into()));
    problem(name, text_error(&format!("fn.{name}"), ErrorKind::FunctionUnknown { name: format!("fn.{name}") }, help))
}

/// Problems with `def`'s name being free for it (`except`: the entry it replaces) and its tags.
fn check_new(def: &FnDef, entries: &[Entry], except: Option<usize>, base: &Snapshot, out: &mut Vec<Problem>) {
    let name = def.name();
    if find(entries, name).is_some_and(|i| Some(i) != except) {
        let help = Some("update it, or choose another name".to_string());
        out.push(problem(
            name,
            text_error(
                &format!("fn.{name}"),
                ErrorKind::FunctionExists { name: format!("fn.{name}") },
                help.map(Help::from),
            ),
        ));
    }
    if base.natives().iter().any(|n| n.name() == name) {
        let help = Some("a native function has this name; choose another".to_string());
        out.push(problem(
            name,
            text_error(name, ErrorKind::FunctionExists { name: name.to_string() }, help.map(Help::from)),
        ));
    }
    for t in def.tags() {
        if let Some(reason) = tag_problem(t) {
            out.push(problem(name, text_error(t, ErrorKind::LibraryInvalid { reason }, None)));
        }
    }
}

/// `def` with its calls of `fn.<from>` made calls of `fn.<to>`.
fn rewrite_calls(def: &FnDef, from: &str, to: &str) -> Result<FnDef, Error> {
    let mut body = def.body().source().to_string();
    let mut spans = call_spans(def, from);
    spans.sort_by_key(|s| std::cmp::Reverse(s.start));
    for s in spans {
        body.replace_range(s.range(), &format!("fn.{to}"));
    }
    let sig = format!("{}({})", def.name(), def.params().join(", "));
    let new = FnDef::parse(&sig, &body)?.with_tags(def.tags().iter().cloned());
    Ok(match def.description() {
        Some(d) => new.with_description(d),
        None => new,
    })
}

/// Applies `edits` in order to `base`'s entries. Fails with every problem the edits themselves
/// have (unknown names, names taken, bad tags); validation of the result comes after.
pub(crate) fn plan(base: &Snapshot, edits: Vec<Edit>, policy: Dependents) -> Result<Planned, LibraryError> {
    let mut entries: Vec<Entry> = base.entries().to_vec();
    let mut changes = Vec::new();
    let mut written: Vec<String> = Vec::new();
    let mut changed: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for edit in edits {
        match edit {
            Edit::Add(def) => {
                let before = problems.len();
                check_new(&def, &entries, None, base, &mut problems);
                if problems.len() == before {
                    written.push(def.name().to_string());
                    changes.push(Change::Added(def.name().to_string()));
                    entries.push(Entry::new(def));
                }
            }
            Edit::Update(def) => {
                let Some(i) = find(&entries, def.name()) else {
                    problems.push(unknown(&entries, def.name()));
                    continue;
                };
                let before = problems.len();
                check_new(&def, &entries, Some(i), base, &mut problems);
                let entry = Entry::new(def);
                if problems.len() == before && entry.raw != entries[i].raw {
                    let name = def_name(&entry);
                    written.push(name.clone());
                    changed.push(name.clone());
                    changes.push(Change::Updated(name));
                    entries[i] = entry;
                }
            }
            Edit::Remove(name) => {
                let name = bare(&name);
                if find(&entries, &name).is_none() {
                    problems.push(unknown(&entries, &name));
                    continue;
                }
                let mut gone = vec![name.clone()];
                if policy == Dependents::Cascade {
                    gone.extend(dependents_of(&entries, &gone));
                }
                entries.retain(|e| e.name().is_none_or(|n| !gone.iter().any(|g| g == n)));
                for g in gone {
                    written.retain(|w| *w != g);
                    changed.push(g.clone());
                    changes.push(Change::Removed(g));
                }
            }
            Edit::Rename { from, to } => {
                let (from, to) = (bare(&from), bare(&to));
                let Some(i) = find(&entries, &from) else {
                    problems.push(unknown(&entries, &from));
                    continue;
                };
                if from == to {
                    continue;
                }
                let Parsed::Def(old) = &entries[i].parsed else {
                    let help = Some("update it to a valid definition first".to_string());
                    let kind = ErrorKind::DependencyInvalid { name: format!("fn.{from}") };
                    problems.push(problem(&from, text_error(&format!("fn.{from}"), kind, help.map(Help::from))));
                    continue;
                };
                let renamed = FnDef::parse(&format!("{to}({})", old.params().join(", ")), old.body().source())
                    .map(|d| d.with_tags(old.tags().iter().cloned()))
                    .map(|d| match old.description() {
                        Some(desc) => d.with_description(desc),
                        None => d,
                    });
                let renamed = match renamed {
                    Ok(d) => d,
                    Err(e) => {
                        problems.push(problem(&from, e));
                        continue;
                    }
                };
                let before = problems.len();
                check_new(&renamed, &entries, Some(i), base, &mut problems);
                if problems.len() > before {
                    continue;
                }
                entries[i] = Entry::new(renamed);
                written.retain(|w| *w != from);
                written.push(to.clone());
                changed.push(from.clone());
                changes.push(Change::Renamed { from: from.clone(), to: to.clone() });
                if policy == Dependents::Cascade {
                    for e in entries.iter_mut() {
                        let Parsed::Def(d) = &e.parsed else { continue };
                        if !d.calls().contains(&from) {
                            continue;
                        }
                        match rewrite_calls(d, &from, &to) {
                            Ok(new) => {
                                let name = new.name().to_string();
                                *e = Entry::new(new);
                                if !written.contains(&name) {
                                    written.push(name.clone());
                                }
                                changes.push(Change::Updated(name));
                            }
                            Err(err) => problems.push(problem(d.name(), err)),
                        }
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(Planned { entries, changes, written, changed })
    } else {
        Err(LibraryError::ChangeRejected { problems })
    }
}

fn def_name(e: &Entry) -> String {
    e.name().unwrap_or_default().to_string()
}

/// Whether the validated result `new` of `planned` may be committed. The functions it writes
/// must all be valid; the valid functions of `base` it does not write must stay valid unless
/// `policy` is [`Dependents::Break`]. Gives the functions left invalid.
pub(crate) fn check(
    base: &Snapshot,
    new: &Snapshot,
    planned: &Planned,
    policy: Dependents,
) -> Result<Vec<String>, LibraryError> {
    let invalid = |n: &String| new.invalid().contains(n);
    let bad_written: Vec<String> = planned.written.iter().filter(|n| invalid(n)).cloned().collect();
    let broken: Vec<String> = base
        .entries()
        .iter()
        .filter_map(Entry::name)
        .filter(|n| base.functions().get(n).is_some())
        .map(str::to_string)
        .filter(|n| !planned.written.contains(n) && invalid(n))
        .collect();
    // Problems of the uncommitted text: its lines mean nothing to the caller.
    let problems_of = |names: &[String]| -> Vec<Problem> {
        new.problems()
            .iter()
            .filter(|p| p.function.as_ref().is_some_and(|f| names.contains(f)))
            .map(|p| Problem { path: None, line: 0, ..p.clone() })
            .collect()
    };
    if !bad_written.is_empty() {
        let mut problems = problems_of(&bad_written);
        problems.extend(problems_of(&broken));
        return Err(LibraryError::ChangeRejected { problems });
    }
    if broken.is_empty() || policy == Dependents::Break {
        return Ok(broken);
    }
    let mut problems = Vec::new();
    for c in &planned.changed {
        let callers: Vec<String> =
            dependents_of(base.entries(), std::slice::from_ref(c)).into_iter().filter(|d| broken.contains(d)).collect();
        if callers.is_empty() {
            continue;
        }
        let help = Some(
            "change the callers first, or go ahead and cascade (remove them, or rewrite their calls on a \
             rename) or break them (leave them invalid)"
                .to_string(),
        );
        let kind = ErrorKind::DependentsExist {
            name: format!("fn.{c}"),
            dependents: callers.iter().map(|d| format!("fn.{d}")).collect(),
        };
        problems.push(problem(c, text_error(&format!("fn.{c}"), kind, help.map(Help::from))));
    }
    problems.extend(problems_of(&broken));
    Err(LibraryError::DependentsBroken { dependents: broken, problems })
}
