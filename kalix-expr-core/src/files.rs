//! Writing a file whole or not at all, without clobbering what is not ours: how the function
//! library replaces its file, and how a model's results are written (`kalix-expr-model`).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many links [`resolve_links`] follows before it gives up (a loop of links).
const MAX_LINKS: usize = 40;

/// `path` with every symbolic link along the last component followed, as far as the links
/// lead (the file they name need not exist yet). A loop of links is an error.
///
/// ```
/// let p = kalix_expr_core::files::resolve_links("no/such/file.csv".as_ref())?;
/// assert_eq!(p, std::path::Path::new("no/such/file.csv"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                path = match path.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(io::Error::other(format!("more than {MAX_LINKS} symbolic links lead on from `{}`", path.display())))
}

/// Whether `path` (links followed) exists and is not a regular file: a FIFO, a device
/// (`/dev/null`, `/dev/stdout`), a socket or a folder.
pub fn is_special(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| !m.is_file())
}

/// Writes the file at `path` with `write`, whole or not at all, and without clobbering what is
/// not ours:
/// - a symbolic link is followed to the file it names, and the link stays;
/// - a path that exists and is not a regular file (a FIFO, `/dev/null`, `/dev/stdout`) is
///   written directly, with no temporary file and no rename: it is not ours to replace;
/// - otherwise the bytes go to a temporary file beside the real file, are flushed to disk,
///   get the old file's permissions, and are renamed over it; on failure the temporary file is
///   removed and the old file is as it was.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("kalix-files-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("out.csv");
/// kalix_expr_core::files::replace_file(&path, &mut |f| std::io::Write::write_all(f, b"a,b\n"))?;
/// assert_eq!(std::fs::read(&path)?, b"a,b\n");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn replace_file(path: &Path, write: &mut dyn FnMut(&mut File) -> io::Result<()>) -> io::Result<()> {
    let path = resolve_links(path)?;
    if is_special(&path) {
        let mut f = OpenOptions::new().write(true).truncate(true).open(&path)?;
        return write(&mut f);
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        write(&mut f)?;
        f.sync_all()?;
        if let Ok(old) = fs::metadata(&path) {
            f.set_permissions(old.permissions())?;
        }
        drop(f);
        fs::rename(&temp, &path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
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
