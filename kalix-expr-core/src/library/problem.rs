//! What can go wrong with a library: problems found loading or validating it, and the error of
//! a refused change.

use std::fmt;
use std::path::PathBuf;

use crate::error::Error;

/// One problem with a library: where it is (file and line, when it comes from a file), which
/// function it concerns (when that is known) and the error.
///
/// ```
/// use kalix_expr_core::library::Library;
/// let dir = std::env::temp_dir().join(format!("kalix-doc-problem-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("functions.ini"), "[fn]\nok(x) = x\n\nbad(x) = x +\n")?;
/// let (lib, report) = Library::open(&dir)?;
/// assert_eq!(lib.snapshot().functions().len(), 1);
/// let p = &report.problems[0];
/// assert_eq!((p.line, p.function.as_deref()), (4, Some("bad")));
/// assert!(p.to_string().starts_with(&format!("{}:4: in `fn.bad`:", dir.join("functions.ini").display())));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The function, lower-case without `fn.` (or a native's name), when known.
    pub function: Option<String>,
    /// The file, for a problem found reading one.
    pub path: Option<PathBuf>,
    /// The 1-based line of the file where the entry starts; 0 when not from a file.
    pub line: usize,
    /// What is wrong. Its spans point into the text it shows (a signature, a body or a line).
    pub error: Error,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut head = Vec::new();
        match (&self.path, self.line) {
            (Some(p), 0) => head.push(format!("{}", p.display())),
            (Some(p), l) => head.push(format!("{}:{l}", p.display())),
            (None, 0) => {}
            (None, l) => head.push(format!("line {l}")),
        }
        if let Some(name) = &self.function {
            head.push(format!("in `fn.{name}`"));
        }
        if !head.is_empty() {
            writeln!(f, "{}:", head.join(": "))?;
        }
        write!(f, "{}", self.error)
    }
}

/// What loading a library found: its version and every problem (empty for a clean file).
/// The functions that are valid load regardless.
///
/// ```
/// use kalix_expr_core::library::Library;
/// let lib = Library::in_memory();
/// let report = lib.reload()?;
/// assert!(report.is_clean());
/// assert_eq!(report.version, 0);
/// # Ok::<(), kalix_expr_core::library::LibraryError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// The library file, if the library has one.
    pub path: Option<PathBuf>,
    /// The version loaded.
    pub version: u64,
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
}

impl LoadReport {
    /// Whether nothing was wrong.
    ///
    /// ```
    /// let report = kalix_expr_core::library::Library::in_memory().reload()?;
    /// assert!(report.is_clean());
    /// # Ok::<(), kalix_expr_core::library::LibraryError>(())
    /// ```
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for LoadReport {
    /// Every problem, separated by blank lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, &self.problems)
    }
}

fn write_problems(f: &mut fmt::Formatter<'_>, problems: &[Problem]) -> fmt::Result {
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            f.write_str("\n\n")?;
        }
        write!(f, "{p}")?;
    }
    Ok(())
}

/// Why a change to a library was refused, or why the library could not be read or written.
/// In every case the library — in memory and on disk — is exactly as it was.
///
/// ```
/// use kalix_expr_core::library::{Library, LibraryError};
/// use kalix_expr_core::FnDef;
/// let lib = Library::in_memory();
/// let err = lib.add(FnDef::parse("f(x)", "lg10(x) + y(1)")?).unwrap_err();
/// assert!(matches!(&err, LibraryError::ChangeRejected { problems } if problems.len() == 1));
/// assert_eq!(err.problems()[0].error.diagnostics().len(), 2);
/// # Ok::<(), kalix_expr_core::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LibraryError {
    /// A function the change writes would be invalid (or the change names a function that does
    /// not exist, or one that does for an add). Every problem is listed.
    #[error("the change was refused:\n{}", Problems(.problems))]
    ChangeRejected {
        /// Every problem.
        problems: Vec<Problem>,
    },
    /// The change would break functions it does not write (they call a function it removes,
    /// renames or changes the arity of). Pass [`Dependents::Cascade`](crate::library::Dependents)
    /// or [`Dependents::Break`](crate::library::Dependents) to go ahead.
    #[error("the change was refused: it breaks {} other function(s)\n{}", .dependents.len(), Problems(.problems))]
    DependentsBroken {
        /// The functions it would break, lower-case without `fn.`, in library order.
        dependents: Vec<String>,
        /// For each function changed, who calls it; then each broken function's own error.
        problems: Vec<Problem>,
    },
    /// The library file cannot be rewritten without losing what is in it (it is larger than
    /// [`MAX_FILE_BYTES`](crate::library::MAX_FILE_BYTES)).
    #[error("{}: {reason}", .path.display())]
    FileUnusable {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: &'static str,
    },
    /// Reading or writing the directory failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

impl LibraryError {
    /// The problems of a refused change (empty for a file or I/O error).
    ///
    /// ```
    /// use kalix_expr_core::library::{Dependents, Library};
    /// let err = Library::in_memory().remove("nope", Dependents::Refuse).unwrap_err();
    /// assert_eq!(err.problems()[0].function.as_deref(), Some("nope"));
    /// ```
    pub fn problems(&self) -> &[Problem] {
        match self {
            LibraryError::ChangeRejected { problems } | LibraryError::DependentsBroken { problems, .. } => problems,
            LibraryError::FileUnusable { .. } | LibraryError::Io { .. } => &[],
        }
    }
}

/// Displays problems separated by blank lines.
struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, self.0)
    }
}
