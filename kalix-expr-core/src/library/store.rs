//! The library's directory: where it is, reading the file within limits, the lock around
//! read-modify-write, and crash-safe replacement.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

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

/// Called once when a change has to wait for another process's lock (see [`on_lock_wait`]).
static LOCK_NOTICE: RwLock<Option<fn(&Path)>> = RwLock::new(None);

/// The longest wait for the lock, in milliseconds (0: not set, see [`lock_timeout`]).
static LOCK_TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);

/// How long a wait for the lock goes before [`on_lock_wait`]'s notice is given.
const NOTICE_AFTER: Duration = Duration::from_millis(250);

/// The default longest wait for the library's lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Has `notice(dir)` called, once per wait, when a change to the library in `dir` has to wait
/// for the lock another process holds: the `kexpr` command prints that it is waiting.
///
/// ```
/// kalix_expr_core::library::on_lock_wait(|dir| eprintln!("waiting for the lock on {}", dir.display()));
/// ```
pub fn on_lock_wait(notice: fn(&Path)) {
    *LOCK_NOTICE.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(notice);
}

/// Sets how long a change waits for the library's lock before giving up with an error.
///
/// ```
/// use std::time::Duration;
/// kalix_expr_core::library::set_lock_timeout(Duration::from_secs(5));
/// assert_eq!(kalix_expr_core::library::lock_timeout(), Duration::from_secs(5));
/// ```
pub fn set_lock_timeout(timeout: Duration) {
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1);
    LOCK_TIMEOUT_MS.store(ms, AtomicOrdering::Relaxed);
}

/// How long a change waits for the library's lock: as set by [`set_lock_timeout`], else the
/// `KALIX_LOCK_TIMEOUT` environment variable (seconds), else [`DEFAULT_LOCK_TIMEOUT`] (60 s).
pub fn lock_timeout() -> Duration {
    match LOCK_TIMEOUT_MS.load(AtomicOrdering::Relaxed) {
        0 => std::env::var("KALIX_LOCK_TIMEOUT")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(DEFAULT_LOCK_TIMEOUT, |s| Duration::from_secs_f64(s.min(1e9))),
        ms => Duration::from_millis(ms),
    }
}

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
    ///
    /// When the lock is held for more than a moment, [`on_lock_wait`]'s notice is given once (the
    /// command prints that it is waiting, as cargo does), and after [`lock_timeout`] the wait
    /// ends with an error.
    pub(crate) fn lock(&self) -> Result<File, LibraryError> {
        let path = self.dir.join(LOCK_NAME);
        let file = self.lock_file().map_err(io_error(&path))?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        let mut notified = false;
        loop {
            // Called through the trait: std's own `File::try_lock` is newer than this crate's MSRV.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(file),
                Err(fs4::TryLockError::Error(e)) => return Err(io_error(&path)(e)),
                Err(fs4::TryLockError::WouldBlock) => {}
            }
            if started.elapsed() >= lock_timeout() {
                let waited = lock_timeout().as_secs();
                let source = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("another process has held the library's lock for {waited} s; giving up (KALIX_LOCK_TIMEOUT sets the wait)"),
                );
                return Err(LibraryError::Io { path, source });
            }
            // A brief wait (another change finishing) passes in silence.
            if !notified && started.elapsed() >= NOTICE_AFTER {
                notified = true;
                let notice = *LOCK_NOTICE.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(notice) = notice {
                    notice(&self.dir);
                }
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Reads the library file, at most [`MAX_FILE_BYTES`] of it. The file is only ever replaced
    /// whole (by a rename), so reading needs no lock.
    pub(crate) fn read(&self) -> Result<Contents, LibraryError> {
        let path = self.file();
        self.refuse_special(&path)?;
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

    /// A library file that is a FIFO, a device or a folder is refused: reading a FIFO would block
    /// for ever, and writing it would send the library elsewhere.
    fn refuse_special(&self, path: &Path) -> Result<(), LibraryError> {
        if crate::files::is_special(path) {
            return Err(LibraryError::FileUnusable {
                path: path.to_path_buf(),
                reason: "it is not a regular file (a FIFO, a device or a folder), so it is neither read nor written",
            });
        }
        Ok(())
    }

    /// Replaces `path` whole: through a symbolic link to the file it names, keeping its
    /// permissions (see [`crate::files::replace_file`]); temporary files are
    /// `.functions.ini.<pid>.<n>.tmp` beside it.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), LibraryError> {
        self.refuse_special(path)?;
        crate::files::replace_file(path, &mut |f| f.write_all(bytes)).map_err(io_error(path))
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
