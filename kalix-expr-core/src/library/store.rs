//! The library's directory: where it is, reading the file within limits, the lock around
//! read-modify-write, and crash-safe replacement.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::library::LibraryError;

/// The library file's name in its directory.
///
/// ```
/// assert_eq!(kalix_expr_core::library::FILE_NAME, "functions.ini");
/// ```
pub const FILE_NAME: &str = "functions.ini";

/// The largest library file read, in bytes (64 MiB, far above 10,000 definitions). Protects
/// loading from a runaway file; a larger one is reported and never rewritten.
///
/// ```
/// assert_eq!(kalix_expr_core::library::MAX_FILE_BYTES, 64 << 20);
/// ```
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Locked around every read-modify-write; never removed.
const LOCK_NAME: &str = "functions.ini.lock";
/// Where the original bytes of a file that is not UTF-8 are kept before it is first rewritten.
const CORRUPT_NAME: &str = "functions.ini.corrupt";
/// Temporary files are `.functions.ini.<pid>.<n>.tmp`.
const TEMP_PREFIX: &str = ".functions.ini.";
const TEMP_SUFFIX: &str = ".tmp";

/// The environment variable naming the library directory.
pub(crate) const ENV_VAR: &str = "KALIX_FUNCTIONS";

/// What reading the file found.
pub(crate) enum Contents {
    /// No file yet: an empty library.
    Missing,
    /// The file's bytes.
    Bytes(Vec<u8>),
    /// A file larger than [`MAX_FILE_BYTES`], not read.
    TooLarge,
}

/// A library directory.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    dir: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> LibraryError + '_ {
    move |source| LibraryError::Io { path: path.to_path_buf(), source }
}

impl Store {
    /// The directory `dir`, created (with its lock file) if it does not exist.
    pub(crate) fn open(dir: &Path) -> Result<Store, LibraryError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let store = Store { dir: dir.to_path_buf() };
        // A directory that cannot be written to can still be read; changes will fail then.
        let _ = store.lock_file();
        Ok(store)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    fn lock_file(&self) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(self.dir.join(LOCK_NAME))
    }

    /// Takes the exclusive lock, waiting for another holder (a process, or another handle in
    /// this one) to finish. Dropping the file releases it.
    pub(crate) fn lock(&self) -> Result<File, LibraryError> {
        let path = self.dir.join(LOCK_NAME);
        let file = self.lock_file().map_err(io_error(&path))?;
        // Called through the trait: std's own `File::lock` is newer than this crate's MSRV.
        fs4::FileExt::lock(&file).map_err(io_error(&path))?;
        Ok(file)
    }

    /// Reads the library file, at most [`MAX_FILE_BYTES`] of it. The file is only ever replaced
    /// whole (by a rename), so reading needs no lock.
    pub(crate) fn read(&self) -> Result<Contents, LibraryError> {
        let path = self.file();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Contents::Missing),
            Err(e) => return Err(io_error(&path)(e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io_error(&path))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Ok(Contents::TooLarge);
        }
        Ok(Contents::Bytes(bytes))
    }

    /// Replaces the library file with `text`, crash-safely: a temporary file in the same
    /// directory is written and flushed, renamed over the file, then the directory is flushed.
    pub(crate) fn write(&self, text: &[u8]) -> Result<(), LibraryError> {
        self.write_atomic(&self.file(), text)
    }

    /// Keeps `bytes` as `functions.ini.corrupt`, unless a copy is already kept.
    pub(crate) fn keep_corrupt(&self, bytes: &[u8]) -> Result<(), LibraryError> {
        let path = self.dir.join(CORRUPT_NAME);
        if path.exists() {
            return Ok(());
        }
        self.write_atomic(&path, bytes)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), LibraryError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!("{TEMP_PREFIX}{}.{n}{TEMP_SUFFIX}", std::process::id()));
        let result = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, path)?;
            sync_dir(&self.dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(io_error(path))
    }

    /// Removes temporary files a crashed writer left. Only called under the lock, when no
    /// writer can be using one.
    pub(crate) fn remove_stray_temps(&self) {
        let Ok(list) = fs::read_dir(&self.dir) else { return };
        for entry in list.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Flushes a directory, so that a rename in it survives a crash.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows flushes a rename with the file (and cannot open a directory as a file).
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// The library directory: `explicit` if given, else the environment variable's value if set
/// and not empty, else `<data>/kalix/functions`.
pub(crate) fn resolve_dir(explicit: Option<&Path>, env: Option<OsString>, data: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    if let Some(dir) = env.filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    data.map(|d| d.join("kalix").join("functions"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_wins_over_the_environment_which_wins_over_the_data_directory() {
        let data = Some(PathBuf::from("/data"));
        let env = Some(OsString::from("/env"));
        assert_eq!(resolve_dir(Some(Path::new("/opt")), env.clone(), data.clone()), Some("/opt".into()));
        assert_eq!(resolve_dir(None, env, data.clone()), Some("/env".into()));
        assert_eq!(resolve_dir(None, Some(OsString::new()), data.clone()), Some("/data/kalix/functions".into()));
        assert_eq!(resolve_dir(None, None, None), None);
    }
}
