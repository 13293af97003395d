//! [`Library`]: the handle that reads, changes, persists and announces a library.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::error::{Error, ErrorKind};
use crate::host::FnDef;
use crate::host::NativeFn;
use crate::library::edit::{self, Change, Dependents, Edit};
use crate::library::format::{self, Entry};
use crate::library::store::{self, Contents, Store};
use crate::library::{LibraryError, LoadReport, Problem, Snapshot};
use crate::span::Span;

/// A committed version of a library: what changed, as every subscriber is told.
///
/// ```
/// use kalix_expr_core::library::{Change, Dependents, Edit, Library};
/// use kalix_expr_core::FnDef;
/// let lib = Library::in_memory();
/// let rx = lib.subscribe();
/// lib.add(FnDef::parse("a(x)", "x")?)?;
/// lib.apply(vec![Edit::Rename { from: "a".into(), to: "b".into() }, Edit::Add(FnDef::parse("c()", "1")?)], Dependents::Refuse)?;
/// let seen: Vec<(u64, Vec<Change>)> = rx.try_iter().map(|c| (c.version, c.changes)).collect();
/// assert_eq!(seen, [
///     (1, vec![Change::Added("a".into())]),
///     (2, vec![Change::Renamed { from: "a".into(), to: "b".into() }, Change::Added("c".into())]),
/// ]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Commit {
    /// The new version.
    pub version: u64,
    /// The changes, in the order made (empty when nothing changed).
    pub changes: Vec<Change>,
    /// Whether another process (or another handle) made these changes: this handle found them
    /// when it read the directory. They are computed as a difference, so a rename shows as a
    /// removal and an addition.
    pub external: bool,
    /// The functions the change left invalid ([`Dependents::Break`]), lower-case, without `fn.`.
    pub broken: Vec<String>,
}

/// A library of user functions and natives: validated as a whole on every change, optionally
/// kept in a directory, readable from any thread while it changes. See the
/// [module docs](crate::library) for the rules, the file format and the guarantees.
///
/// Cloning gives another handle on the same library (same snapshots, same subscribers).
/// Opening the same directory twice gives two independent handles that coordinate through the
/// directory, as two processes do.
///
/// ```
/// use kalix_expr_core::library::Library;
/// use kalix_expr_core::FnDef;
/// let dir = std::env::temp_dir().join(format!("kalix-doc-library-{}", std::process::id()));
/// let (lib, report) = Library::open(&dir)?;
/// assert!(report.is_clean());
/// lib.add(FnDef::parse("half(x)", "x / 2")?.with_description("half of x"))?;
/// let (again, _) = Library::open(&dir)?;
/// assert_eq!(again.snapshot().entry_text("half"), Some("# description: half of x\nhalf(x) = x / 2"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Library {
    shared: Arc<Shared>,
}

struct Shared {
    store: Option<Store>,
    /// The current version. Held only to clone or replace the `Arc`.
    current: RwLock<Arc<Snapshot>>,
    /// Serialises this handle's writers, so versions are published in order.
    writer: Mutex<()>,
    subscribers: Mutex<Vec<Sender<Commit>>>,
}

impl fmt::Debug for Library {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Library")
            .field("dir", &self.dir())
            .field("version", &self.snapshot().version())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something did, the data is still whole.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Builds a snapshot from what the directory holds.
fn load(contents: Contents, path: PathBuf, natives: Vec<Arc<NativeFn>>) -> Snapshot {
    match contents {
        Contents::Missing => Snapshot::build(0, Some(path), Vec::new(), natives, Vec::new()),
        Contents::TooLarge => {
            let text = path.display().to_string();
            let src: Arc<str> = Arc::from(text.as_str());
            let reason = "the file is larger than 64 MiB, so it is not read (and changes to it are refused)";
            let error = Error::new(&src, Span::new(0, text.len()), ErrorKind::LibraryInvalid { reason }, None);
            Snapshot::build(0, Some(path), Vec::new(), natives, vec![(0, error)])
        }
        Contents::Bytes(bytes) => {
            let file = format::parse_file(&bytes);
            Snapshot::build(file.version.unwrap_or(0), Some(path), file.entries, natives, file.problems)
                .with_source(source_of(&bytes))
        }
    }
}

/// What identifies the text a snapshot was read from: its length and hash.
fn source_of(bytes: &[u8]) -> (usize, u64) {
    (bytes.len(), crate::library::fnv1a64(bytes))
}

/// The changes between two versions, when they differ.
fn difference(old: &Snapshot, new: &Snapshot) -> Option<Commit> {
    let raw = |s: &Snapshot| -> Vec<(String, String)> {
        s.entries().iter().filter_map(|e: &Entry| e.name().map(|n| (n.to_string(), e.raw.clone()))).collect()
    };
    let (before, after) = (raw(old), raw(new));
    if old.version() == new.version() && old.entries() == new.entries() {
        return None;
    }
    let before_map: HashMap<&str, &str> = before.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    let after_map: HashMap<&str, &str> = after.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    let mut changes = Vec::new();
    for (n, _) in &before {
        if !after_map.contains_key(n.as_str()) {
            changes.push(Change::Removed(n.clone()));
        }
    }
    for (n, r) in &after {
        match before_map.get(n.as_str()) {
            None => changes.push(Change::Added(n.clone())),
            Some(old) if old != r => changes.push(Change::Updated(n.clone())),
            Some(_) => {}
        }
    }
    changes.dedup();
    Some(Commit { version: new.version(), changes, external: true, broken: Vec::new() })
}

impl Library {
    /// The environment variable that names the library directory: `KALIX_FUNCTIONS`.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// let lib = Library::in_memory();
    /// assert_eq!(Library::ENV_VAR, "KALIX_FUNCTIONS");
    /// ```
    pub const ENV_VAR: &'static str = store::ENV_VAR;

    /// An empty library kept in memory only.
    ///
    /// ```
    /// let lib = kalix_expr_core::library::Library::in_memory();
    /// assert_eq!((lib.version(), lib.dir()), (0, None));
    /// ```
    pub fn in_memory() -> Library {
        Library::with(None, Snapshot::build(0, None, Vec::new(), Vec::new(), Vec::new()))
    }

    fn with(store: Option<Store>, snapshot: Snapshot) -> Library {
        Library {
            shared: Arc::new(Shared {
                store,
                current: RwLock::new(Arc::new(snapshot)),
                writer: Mutex::new(()),
                subscribers: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Opens the library kept in `dir` (created if missing), reporting every problem of its
    /// file next to the library. Only an unusable directory is an error; a bad file is not.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// let dir = std::env::temp_dir().join(format!("kalix-doc-open-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("functions.ini"), b"[fn]\nf(x) = x\n\xff\xfe\n")?;
    /// let (lib, report) = Library::open(&dir)?;
    /// assert_eq!(lib.snapshot().functions().len(), 1);
    /// assert_eq!(report.problems[0].line, 3);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>) -> Result<(Library, LoadReport), LibraryError> {
        Library::open_with_natives(dir, Vec::new())
    }

    /// [`Library::open`] with natives registered before the file is validated, so that the
    /// functions calling them load (and the report does not call them invalid).
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::NativeFn;
    /// let dir = std::env::temp_dir().join(format!("kalix-doc-natives-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("functions.ini"), "[fn]\nf(i) = g(i) * 2\n")?;
    /// let g = NativeFn::impure("g", 1, |a| a[0])?;
    /// let (lib, report) = Library::open_with_natives(&dir, vec![g])?;
    /// assert!(report.is_clean());
    /// assert_eq!(lib.snapshot().functions().len(), 1);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_with_natives(
        dir: impl AsRef<Path>,
        natives: Vec<NativeFn>,
    ) -> Result<(Library, LoadReport), LibraryError> {
        let store = Store::open(dir.as_ref())?;
        let mut list: Vec<Arc<NativeFn>> = Vec::new();
        for n in natives {
            if list.iter().any(|x| x.name() == n.name()) {
                return Err(native_taken(n.name(), "a native function"));
            }
            list.push(Arc::new(n));
        }
        let snapshot = load(store.read()?, store.file(), list);
        let report = report(&snapshot);
        Ok((Library::with(Some(store), snapshot), report))
    }

    /// Opens the library in [`Library::resolve_dir`]`(explicit)`: a directory given as an
    /// option, else `KALIX_FUNCTIONS`, else the per-user data directory.
    ///
    /// ```no_run
    /// use kalix_expr_core::library::Library;
    /// let (lib, report) = Library::open_default(None)?;
    /// eprint!("{report}");
    /// # Ok::<(), kalix_expr_core::library::LibraryError>(())
    /// ```
    pub fn open_default(explicit: Option<&Path>) -> Result<(Library, LoadReport), LibraryError> {
        match Library::resolve_dir(explicit) {
            Some(dir) => Library::open(dir),
            None => Err(LibraryError::Io {
                path: PathBuf::new(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no per-user data directory is known here: set KALIX_FUNCTIONS or pass a directory",
                ),
            }),
        }
    }

    /// The default library directory: `KALIX_FUNCTIONS` if set and not empty, else
    /// `<data dir>/kalix/functions` (`$XDG_DATA_HOME` or `~/.local/share` on Linux,
    /// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows).
    ///
    /// ```
    /// let dir = kalix_expr_core::library::Library::default_dir();
    /// assert!(dir.is_none_or(|d| d.ends_with("kalix/functions") || std::env::var_os("KALIX_FUNCTIONS").is_some()));
    /// ```
    pub fn default_dir() -> Option<PathBuf> {
        Library::resolve_dir(None)
    }

    /// The library directory for an explicit option (a `--library DIR` flag): the option if
    /// given, else [`Library::default_dir`].
    ///
    /// ```
    /// use std::path::Path;
    /// use kalix_expr_core::library::Library;
    /// assert_eq!(Library::resolve_dir(Some(Path::new("/srv/fns"))), Some("/srv/fns".into()));
    /// ```
    pub fn resolve_dir(explicit: Option<&Path>) -> Option<PathBuf> {
        store::resolve_dir(explicit, std::env::var_os(Self::ENV_VAR), dirs::data_dir())
    }

    /// The directory, for a library kept in one.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// let lib = Library::in_memory();
    /// assert_eq!(lib.dir(), None);
    /// ```
    pub fn dir(&self) -> Option<&Path> {
        self.shared.store.as_ref().map(Store::dir)
    }

    /// The current version, to compile and evaluate against. Never waits for a writer longer
    /// than it takes to swap a pointer; the snapshot never changes afterwards.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// let lib = Library::in_memory();
    /// assert_eq!(lib.snapshot().version(), 0);
    /// ```
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.shared.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The current version number.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// let lib = Library::in_memory();
    /// assert_eq!(lib.version(), 0);
    /// ```
    pub fn version(&self) -> u64 {
        self.snapshot().version()
    }

    /// A channel on which every commit from now on arrives, exactly once and in order: this
    /// handle's changes, and other processes' changes when this handle finds them. Dropping the
    /// receiver unsubscribes.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// let rx = lib.subscribe();
    /// lib.add(FnDef::parse("f()", "1")?)?;
    /// assert_eq!(rx.recv()?.version, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(&self) -> Receiver<Commit> {
        let (tx, rx) = channel();
        lock(&self.shared.subscribers).push(tx);
        rx
    }

    /// Registers a native function for this handle (natives are not persisted: each process
    /// registers its own). Its name must not be a user function's or another native's. The
    /// library is validated again, so functions calling it become valid. No version is made
    /// and no subscriber is told: register natives when setting up.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::{Expr, NativeFn, Options};
    /// let lib = Library::in_memory();
    /// lib.register_native(NativeFn::pure("sq", 1, |a| a[0] * a[0])?)?;
    /// assert!(lib.register_native(NativeFn::pure("sq", 1, |a| a[0])?).is_err());
    /// let c = lib.snapshot().compile(&Expr::parse("sq(x) + sq(3)")?, &["x"], &Options::default())?;
    /// assert_eq!(c.eval(&[2.0])?, 13.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_native(&self, f: NativeFn) -> Result<(), LibraryError> {
        let _writer = lock(&self.shared.writer);
        let current = self.snapshot();
        if current.natives().iter().any(|n| n.name() == f.name()) {
            return Err(native_taken(f.name(), "a native function"));
        }
        if current.entries().iter().any(|e| e.name() == Some(f.name())) {
            return Err(native_taken(f.name(), "a user function"));
        }
        let mut natives = current.natives().to_vec();
        natives.push(Arc::new(f));
        let next = current.with_natives(natives);
        *self.shared.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    /// Adds a function. Refused if the name is taken or the result would not be valid.
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// assert!(lib.add(FnDef::parse("f(y)", "y")?).is_err());
    /// assert!(lib.add(FnDef::parse("g(x)", "fn.nope(x)")?).is_err());
    /// assert_eq!(lib.version(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add(&self, def: FnDef) -> Result<Commit, LibraryError> {
        self.apply(vec![Edit::Add(def)], Dependents::Refuse)
    }

    /// Replaces the function of the same name. An arity change that breaks callers needs
    /// `Dependents::Break`.
    ///
    /// ```
    /// use kalix_expr_core::library::{Dependents, Library};
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// lib.update(FnDef::parse("f(x)", "x * 2")?.with_tags(["scaled"]), Dependents::Refuse)?;
    /// assert_eq!(lib.snapshot().get("f").unwrap().tags(), ["scaled"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update(&self, def: FnDef, dependents: Dependents) -> Result<Commit, LibraryError> {
        self.apply(vec![Edit::Update(def)], dependents)
    }

    /// Removes a function (`name` or `fn.name`).
    ///
    /// ```
    /// use kalix_expr_core::library::{Dependents, Library};
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("b(x)", "x")?)?;
    /// lib.add(FnDef::parse("a(x)", "fn.b(x)")?)?;
    /// assert!(lib.remove("b", Dependents::Refuse).is_err());
    /// let commit = lib.remove("fn.b", Dependents::Cascade)?;
    /// assert_eq!(commit.changes.len(), 2);
    /// assert!(lib.snapshot().functions().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove(&self, name: &str, dependents: Dependents) -> Result<Commit, LibraryError> {
        self.apply(vec![Edit::Remove(name.to_string())], dependents)
    }

    /// Renames a function, keeping its definition, description and tags.
    ///
    /// ```
    /// use kalix_expr_core::library::{Dependents, Library};
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// lib.add(FnDef::parse("f(x)", "x")?)?;
    /// lib.rename("f", "identity", Dependents::Refuse)?;
    /// assert!(lib.snapshot().get("identity").is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rename(&self, from: &str, to: &str, dependents: Dependents) -> Result<Commit, LibraryError> {
        self.apply(vec![Edit::Rename { from: from.to_string(), to: to.to_string() }], dependents)
    }

    /// Applies a batch of edits, in order, all or nothing. The whole resulting library is
    /// validated first; if the change is refused, the library — in memory and on disk — is
    /// exactly as before, and the error names every problem. Otherwise the new version is
    /// written (for a directory: under its lock, on top of the latest version there), made the
    /// current snapshot, and announced to every subscriber. A batch that changes nothing makes
    /// no version and returns an empty commit.
    ///
    /// ```
    /// use kalix_expr_core::library::{Dependents, Edit, Library};
    /// use kalix_expr_core::FnDef;
    /// let lib = Library::in_memory();
    /// let err = lib
    ///     .apply(vec![Edit::Add(FnDef::parse("a(x)", "x")?), Edit::Add(FnDef::parse("b(x)", "sin(x, 1)")?)], Dependents::Refuse)
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("`sin` takes 1 argument, found 2"));
    /// assert!(lib.snapshot().get("a").is_none(), "all or nothing");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, edits: Vec<Edit>, dependents: Dependents) -> Result<Commit, LibraryError> {
        let _writer = lock(&self.shared.writer);
        let current = self.snapshot();
        let natives = current.natives().to_vec();
        // For a directory: the lock, the latest version there and its bytes.
        let (_file_lock, base, bytes) = match &self.shared.store {
            None => (None, Arc::clone(&current), None),
            Some(store) => {
                let file_lock = store.lock()?;
                let bytes = match store.read()? {
                    Contents::TooLarge => {
                        return Err(LibraryError::FileUnusable {
                            path: store.file(),
                            reason: "the file is larger than 64 MiB: it is not read, so it cannot be changed",
                        })
                    }
                    Contents::Missing => None,
                    // A newer format is not rewritten as this one: what it holds could be lost.
                    Contents::Bytes(b) if format::parse_file(&b).format.is_some_and(|f| f > format::FORMAT) => {
                        return Err(LibraryError::FileUnusable {
                            path: store.file(),
                            reason: "it is in a newer format than this version reads (format 1): \
                                     changes are refused so that nothing in it is lost; update kexpr",
                        })
                    }
                    Contents::Bytes(b) => Some(b),
                };
                // Usually the file is what this handle last wrote or read: no need to validate it again.
                let unchanged = bytes.as_deref().is_some_and(|b| current.source() == Some(source_of(b)));
                let base = if unchanged {
                    Arc::clone(&current)
                } else {
                    let contents = bytes.clone().map_or(Contents::Missing, Contents::Bytes);
                    Arc::new(load(contents, store.file(), natives.clone()))
                };
                (Some(file_lock), base, bytes)
            }
        };
        let external = difference(&current, &base);
        let outcome = self.prepare(&current, &base, edits, dependents);
        let (planned, next, broken) = match outcome {
            Ok(Some(ready)) => ready,
            Ok(None) => {
                self.publish(external, None, &base);
                return Ok(Commit {
                    version: base.version(),
                    changes: Vec::new(),
                    external: false,
                    broken: Vec::new(),
                });
            }
            Err(e) => {
                self.publish(external, None, &base);
                return Err(e);
            }
        };
        if let Some(store) = &self.shared.store {
            if let Some(b) = bytes.as_deref().filter(|b| std::str::from_utf8(b).is_err()) {
                store.keep_corrupt(b)?;
            }
            store.remove_stray_temps();
            store.write(next.file_text().as_bytes())?;
        }
        let commit = Commit { version: next.version(), changes: planned, external: false, broken };
        self.publish(external, Some(commit.clone()), &Arc::new(next));
        Ok(commit)
    }

    /// The validated next version, or `None` when the edits change nothing.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        current: &Snapshot,
        base: &Snapshot,
        edits: Vec<Edit>,
        dependents: Dependents,
    ) -> Result<Option<(Vec<Change>, Snapshot, Vec<String>)>, LibraryError> {
        let planned = edit::plan(base, edits, dependents)?;
        if planned.changes.is_empty() {
            return Ok(None);
        }
        let Some(version) = base.version().max(current.version()).checked_add(1) else {
            let path = self.shared.store.as_ref().map(Store::file).unwrap_or_default();
            return Err(LibraryError::FileUnusable { path, reason: "its version number is at the largest there is" });
        };
        // The next version is read back from its own text, so that it is exactly what any
        // process loading the file will see.
        let text = format::render_file(version, &planned.entries);
        let file = format::parse_file(text.as_bytes());
        let path = self.shared.store.as_ref().map(Store::file);
        let next = Snapshot::build(version, path, file.entries, base.natives().to_vec(), file.problems)
            .with_source(source_of(text.as_bytes()));
        let broken = edit::check(base, &next, &planned, dependents)?;
        Ok(Some((planned.changes, next, broken)))
    }

    /// Makes `snapshot` current (if it differs) and tells every subscriber, in order.
    fn publish(&self, external: Option<Commit>, commit: Option<Commit>, snapshot: &Arc<Snapshot>) {
        if external.is_none() && commit.is_none() {
            return;
        }
        *self.shared.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(snapshot);
        let mut subscribers = lock(&self.shared.subscribers);
        for c in external.into_iter().chain(commit) {
            subscribers.retain(|s| s.send(c.clone()).is_ok());
        }
    }

    /// Reads the directory again, to pick up changes other processes made; if there are any,
    /// they become the current snapshot and are announced as one external [`Commit`]. Gives
    /// the load report of what is current. (For a library in memory, just the report.)
    ///
    /// ```
    /// use kalix_expr_core::library::Library;
    /// use kalix_expr_core::FnDef;
    /// let dir = std::env::temp_dir().join(format!("kalix-doc-reload-{}", std::process::id()));
    /// let (mine, _) = Library::open(&dir)?;
    /// let (theirs, _) = Library::open(&dir)?;
    /// let rx = mine.subscribe();
    /// theirs.add(FnDef::parse("f()", "1")?)?;
    /// assert_eq!(mine.version(), 0);
    /// mine.reload()?;
    /// let commit = rx.try_recv()?;
    /// assert!(commit.external);
    /// assert_eq!(commit.version, 1);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reload(&self) -> Result<LoadReport, LibraryError> {
        let _writer = lock(&self.shared.writer);
        let current = self.snapshot();
        let Some(store) = &self.shared.store else { return Ok(report(&current)) };
        let next = Arc::new(load(store.read()?, store.file(), current.natives().to_vec()));
        let report = report(&next);
        let external = difference(&current, &next);
        self.publish(external, None, &next);
        Ok(report)
    }
}

fn report(s: &Snapshot) -> LoadReport {
    LoadReport { path: s.path().map(Path::to_path_buf), version: s.version(), problems: s.problems().to_vec() }
}

fn native_taken(name: &str, by: &str) -> LibraryError {
    let src: Arc<str> = Arc::from(name);
    let error = Error::new(
        &src,
        Span::new(0, name.len()),
        ErrorKind::FunctionExists { name: name.to_string() },
        Some(format!("{by} has this name; one name, one function")),
    );
    LibraryError::ChangeRejected {
        problems: vec![Problem { function: Some(name.to_string()), path: None, line: 0, error }],
    }
}
