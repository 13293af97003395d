//! A managed library of functions: user functions defined as text, native functions
//! registered from Rust, kept in a directory, changed atomically, with change notification.
//!
//! # What you get
//!
//! - [`NativeFn`]: a Rust closure called by its bare name (`g(i)`, `lin_range(x, lo, hi)`).
//! - [`FnRef`]: what a compiled expression was built from ([`Compiled::functions`]): each
//!   function's kind, arity, tags, purity and [content hash](FnRef::content_hash).
//! - [`Library`] (feature `library`, on by default): user functions (`name(a, b) = body`, with
//!   a description and tags, called as `fn.name(…)`) and natives. Every change — [`add`],
//!   [`update`], [`remove`], [`rename`], or a batch of them with [`apply`] — validates the whole
//!   resulting library first and applies all or nothing. Committed changes are persisted
//!   crash-safely and announced to every [`subscribe`]r.
//! - [`Snapshot`]: an immutable, consistent version to compile and evaluate against while the
//!   library changes from another thread.
//!
//! ```
//! use kalix_expr_core::library::{Dependents, Library};
//! use kalix_expr_core::{Expr, FnDef, NativeFn, Options};
//!
//! let lib = Library::in_memory();
//! lib.register_native(NativeFn::pure("lin_range", 3, |a| a[1] + a[0] * (a[2] - a[1]))?)?;
//! lib.add(FnDef::parse("frac(v, cap)", "clamp(v / cap, 0, 1)")?.with_description("fill fraction"))?;
//! lib.add(FnDef::parse("spill(v, cap)", "max(0, v - cap) * lin_range(fn.frac(v, cap), 0.5, 1)")?)?;
//!
//! let snap = lib.snapshot();
//! let c = snap.compile(&Expr::parse("fn.spill(node.dam.volume, 100)")?, &["node.dam.volume"], &Options::model())?;
//! assert_eq!(c.eval(&[120.0])?, 20.0);
//!
//! // `fn.frac` is called by `fn.spill`: removing it is refused, the library is unchanged.
//! let err = lib.remove("frac", Dependents::Refuse).unwrap_err();
//! assert!(err.to_string().contains("`fn.frac` is called by `fn.spill`"));
//! assert_eq!(lib.snapshot().version(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Rules
//!
//! Names follow docs/language.md: `[a-z][a-z0-9_]*`, no built-in, stateful, calendar or reserved
//! name, one definition per name (a user function and a native may not share one either).
//! A body may call built-ins, natives, and other user functions (no recursion, even unused).
//!
//! A change is refused, and nothing changes, when a function it writes would be invalid, or
//! when it would break a function it does not write (removing `fn.b`, renaming it, or changing
//! its arity while `fn.a` calls it) — unless the caller passes [`Dependents::Cascade`] (remove
//! the callers too, or rewrite their calls to the new name) or [`Dependents::Break`] (keep them;
//! they become invalid until fixed).
//!
//! # The directory
//!
//! [`Library::open`] uses a directory: by default [`Library::default_dir`] (the
//! `KALIX_FUNCTIONS` environment variable, else `<data dir>/kalix/functions`, e.g.
//! `~/.local/share/kalix/functions` on Linux); [`Library::resolve_dir`] gives an explicit
//! option precedence. It holds:
//!
//! - `functions.ini`, the library, in the `[fn]` syntax of model files (docs/language.md):
//!
//!   ```text
//!   # Kalix function library: user functions, called in expressions as `fn.<name>(…)`.
//!   # Edit it with `kexpr fn`, or by hand: the format is described in kalix-expr-core's `library` module.
//!   [library]
//!   format = 1
//!   version = 12
//!
//!   [fn]
//!   # description: Fill fraction of a storage, between 0 and 1.
//!   # tags: storage, ratio
//!   frac(v, cap) = clamp(v / cap, 0, 1)
//!
//!   spill(v, cap) = { over = max(0, v - cap);
//!       over * lin_range(fn.frac(v, cap), 0.5, 1) }
//!   ```
//!
//!   `[library]` holds the format (1) and the version, which every committed change increments.
//!   Each definition is `name(params) = body` split at the first `=`; a line starting with a
//!   space or tab continues the body (joined with one space); `#` starts a comment. The comment
//!   lines directly above a definition belong to it: `# description: …` and `# tags: a, b` set
//!   its description and tags, other comments are kept as they are. Definitions are separated
//!   by a blank line. A change rewrites the header and the definitions it writes; every other
//!   entry, hand-written layout and comments included, is written back byte for byte.
//! - `functions.ini.lock`, locked exclusively around every read-modify-write, so that
//!   processes (and [`Library`] handles) sharing the directory never lose an update: each
//!   re-reads the latest file under the lock and applies its change on top.
//! - transient `.functions.ini.*.tmp` files: a change is written to one, flushed to disk, then
//!   renamed over `functions.ini`, and the directory is flushed. A crash leaves either version
//!   whole; a stray temporary file is ignored and removed by the next change.
//!
//! Loading never fails on a bad file. Every problem — a line that is not a definition, text
//! that is not UTF-8, a definition that does not parse or validate, a function calling an
//! invalid one — is reported with the file and line in a [`LoadReport`], and the rest loads.
//! Invalid entries are kept in the file as they are until they are fixed or removed. A file
//! larger than [`MAX_FILE_BYTES`] is not read at all, and changes to it are refused. Bytes
//! that are not UTF-8 are read as U+FFFD (and written so by the next change); before a file
//! holding such bytes is first rewritten, its original bytes are copied to
//! `functions.ini.corrupt`.
//!
//! # Concurrency
//!
//! Readers never wait for writers: [`Library::snapshot`] clones an `Arc` (behind a lock held
//! only for that clone), and a writer swaps in the new version only after validating and
//! persisting it. Compiling and evaluating use one snapshot throughout. A compiled expression
//! keeps the definitions it was built from; [`Snapshot::revalidate`] tells which compiled
//! expressions a newer version breaks or makes stale.
//!
//! Changes made by another process are seen by [`Library::reload`] and before every change
//! this handle makes; they are announced as one [`Commit`] with `external` set.
//!
//! [`Compiled::functions`]: crate::Compiled::functions
//! [`add`]: Library::add
//! [`update`]: Library::update
//! [`remove`]: Library::remove
//! [`rename`]: Library::rename
//! [`apply`]: Library::apply
//! [`subscribe`]: Library::subscribe

#[cfg(feature = "library")]
mod edit;
#[cfg(feature = "library")]
mod format;
#[cfg(feature = "library")]
mod handle;
#[cfg(feature = "library")]
mod problem;
#[cfg(feature = "library")]
mod snapshot;
#[cfg(feature = "library")]
mod store;

pub use crate::host::{fnv1a64, normalised_definition, FnKind, FnRef, NativeFn};

#[cfg(feature = "library")]
pub use edit::{Change, Dependents, Edit};
#[cfg(feature = "library")]
pub use format::parse_definition;
#[cfg(feature = "library")]
pub use handle::{Commit, Library};
#[cfg(feature = "library")]
pub use problem::{LibraryError, LoadReport, Problem};
#[cfg(feature = "library")]
pub use snapshot::{Revalidation, Snapshot};
#[cfg(feature = "library")]
pub use store::{lock_timeout, on_lock_wait, set_lock_timeout, DEFAULT_LOCK_TIMEOUT, FILE_NAME, MAX_FILE_BYTES};
