//! Writes that never leave a half-written file and never replace what is not a
//! file: resolve symbolic links to the file they name, refuse a target that exists
//! and is not a regular file (a device, a FIFO, a directory) or is read-only (no
//! write permission bit: the rename would replace it anyway), write a temporary
//! file in the target's directory, give it the replaced file's mode (and owner,
//! where the process may), sync it, then rename it over the target.
//!
//! Temporary files are named `.{name}.tmp-{pid}`; [`remove_stale_temps`] deletes
//! those of processes that no longer run (a run killed with SIGKILL leaves them),
//! for the names of the files nnt writes there and no others.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

/// A file that could not be written (for writers outside `weights`: plots,
/// formatted recipes).
#[derive(Debug, Error, Diagnostic)]
#[error("cannot write {path}")]
#[diagnostic(code(nnt::io::write_failed))]
pub struct WriteError {
    pub path: String,
    #[source]
    pub source: io::Error,
}

/// Writes `bytes` to `path` atomically, as [`write_atomic`] does, with a
/// diagnostic naming the path on failure; first removes the temporary files a
/// killed earlier write of the same file left behind.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    if let Ok(target) = resolve_target(path) {
        if let (Some(dir), Some(name)) = (target.parent(), target.file_name()) {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            let name = name.to_string_lossy();
            remove_stale_temps(dir, |n| n == name);
        }
    }
    write_atomic(path, bytes).map_err(|source| WriteError {
        path: path.display().to_string(),
        source,
    })
}

/// How many symbolic links are followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The path a write to `path` must replace: `path` itself, or, when it is a
/// symbolic link (possibly through a chain, possibly dangling), the path the last
/// link names.
pub fn resolve_target(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links to follow"
    )))
}

/// Creates the folder `dir` (and its parents) that outputs are written into. A
/// path that exists and is not a folder is said in words (`create_dir_all`
/// says only "File exists").
pub fn create_out_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            let what = if m.is_file() { "a file" } else { kind_of(&m) };
            Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is {what}, not a folder", dir.display()),
            ))
        }
        _ => fs::create_dir_all(dir),
    }
}

/// What kind of thing a non-file is, in words.
pub fn kind_of(m: &fs::Metadata) -> &'static str {
    let t = m.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The error for a target that exists and is not a regular file.
pub fn not_regular(path: &Path, m: &fs::Metadata) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {}; nnt only replaces regular files",
            path.display(),
            kind_of(m)
        ),
    )
}

/// The error for a target that is a regular file no one may write (no write
/// permission bit): a rename would replace it all the same (it needs only the
/// directory's permission), so nnt refuses, as an editor or `cp` would.
pub fn read_only(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} is read-only; nnt does not replace a file protected from writing \
             (make it writable, or write elsewhere)",
            path.display()
        ),
    )
}

/// Checks that a write to `path` could replace what is there: nothing, or a
/// regular file (through symbolic links) that is not read-only. Returns the
/// resolved target and its metadata when it exists.
pub fn check_target(path: &Path) -> io::Result<(PathBuf, Option<fs::Metadata>)> {
    let target = resolve_target(path)?;
    match fs::metadata(&target) {
        Ok(m) if m.is_file() && m.permissions().readonly() => Err(read_only(&target)),
        Ok(m) if m.is_file() => Ok((target, Some(m))),
        Ok(m) => Err(not_regular(&target, &m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::metadata(path) {
            // A link the kernel follows but whose text names no path
            // (`/dev/stdout` → `/proc/self/fd/1` → `pipe:[…]`): what it leads
            // to is refused as what it is, never replaced by a new file.
            Ok(m) if !m.is_file() => Err(not_regular(path, &m)),
            Ok(_) => Err(io::Error::other(format!(
                "{} leads to a file through a link that names no path",
                path.display()
            ))),
            Err(_) => Ok((target, None)),
        },
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` atomically (temporary file + rename), through
/// symbolic links, keeping the replaced file's mode and owner.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (target, existing) = check_target(path)?;
    let tmp = stage(&target, existing.as_ref(), bytes)?;
    let result = fs::rename(&tmp, &target);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(&target);
    Ok(())
}

/// Writes every file of a set or none (`nnt export torch`'s program, whose
/// files belong together): each is written to its temporary file first, as
/// [`write_atomic`] writes one, and the temporaries are renamed over their
/// targets only once all of them are written and synced. Every target is
/// checked as [`check_target`] checks one before anything is written, and two
/// paths that resolve to one file are refused; an error before the renames
/// (a full disk, a target that is not a regular file) removes every temporary
/// and leaves every target as it was. Returns the path that failed with its
/// error.
pub fn write_atomic_all<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a [u8])>,
) -> Result<(), (PathBuf, io::Error)> {
    let mut checked: Vec<(&Path, &[u8], PathBuf, Option<fs::Metadata>)> = Vec::new();
    for (path, bytes) in files {
        let (target, existing) = check_target(path).map_err(|e| (path.to_path_buf(), e))?;
        if checked.iter().any(|(_, _, t, _)| *t == target) {
            let e = io::Error::new(
                io::ErrorKind::InvalidInput,
                "two files of the set are the same file",
            );
            return Err((path.to_path_buf(), e));
        }
        checked.push((path, bytes, target, existing));
    }
    let remove = |staged: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in staged {
            let _ = fs::remove_file(tmp);
        }
    };
    let mut staged = Vec::with_capacity(checked.len());
    for (path, bytes, target, existing) in checked {
        match stage(&target, existing.as_ref(), bytes) {
            Ok(tmp) => staged.push((tmp, target)),
            Err(e) => {
                remove(&staged);
                return Err((path.to_path_buf(), e));
            }
        }
    }
    for (i, (tmp, target)) in staged.iter().enumerate() {
        // A rename within a directory needs no space; should one fail anyway,
        // the files renamed before it stay new and the rest stay old.
        if let Err(e) = fs::rename(tmp, target) {
            remove(&staged[i..]);
            return Err((target.clone(), e));
        }
    }
    for (_, target) in &staged {
        sync_dir(target);
    }
    Ok(())
}

/// The first half of an atomic write: `bytes` in a fresh, synced temporary file
/// beside `target` (as [`check_target`] resolved and checked it, `existing`
/// its metadata when it exists) with the replaced file's mode and owner.
/// Returns the temporary; on an error nothing is left behind.
fn stage(target: &Path, existing: Option<&fs::Metadata>, bytes: &[u8]) -> io::Result<PathBuf> {
    let tmp = temp_path(target);
    let result = (|| {
        // A fresh file: never one planted at the temporary name (a link would
        // be followed by a plain create).
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        if let Some(m) = existing {
            keep_owner_and_mode(&f, m)?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(())
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Gives the new file the owner (where allowed: as root, or a group the user is
/// in) and then the permission bits of the file it replaces.
#[cfg(unix)]
fn keep_owner_and_mode(f: &fs::File, m: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // Only root may give a file away; others may still keep the group. A file
    // that cannot get the replaced file's owner keeps the writer's.
    if std::os::unix::fs::fchown(f, Some(m.uid()), Some(m.gid())).is_err() {
        let _ = std::os::unix::fs::fchown(f, None, Some(m.gid()));
    }
    f.set_permissions(m.permissions())
}

#[cfg(not(unix))]
fn keep_owner_and_mode(f: &fs::File, m: &fs::Metadata) -> io::Result<()> {
    f.set_permissions(m.permissions())
}

/// Makes the rename durable; a directory that cannot be synced is not worth
/// failing a finished write for.
fn sync_dir(target: &Path) {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Streams a file atomically: `fill` writes into a buffered temporary file next
/// to `path`, which is renamed over `path` only when `fill` succeeds; on any error
/// the temporary file is removed and `path` is untouched. For outputs too large
/// to hold in memory (`nnt predict -o`).
pub fn write_atomic_with<R, E>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<R, E>,
) -> Result<Result<R, E>, std::io::Error> {
    // The same rules as `write_atomic`: through symbolic links, regular files
    // only, a fresh temporary file with the replaced file's mode and owner.
    let (target, existing) = check_target(path)?;
    let tmp = temp_path(&target);
    let _ = fs::remove_file(&tmp);
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    if let Some(m) = &existing {
        if let Err(e) = keep_owner_and_mode(&file, m) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let value = match fill(&mut out) {
        Ok(v) => v,
        Err(e) => {
            drop(out);
            let _ = fs::remove_file(&tmp);
            return Ok(Err(e));
        }
    };
    let result = (|| {
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &target)?;
        sync_dir(&target);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| Ok(value))
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// The `name` in a temporary file's name `.{name}.tmp-{pid}`.
fn temp_target(file_name: &str) -> Option<&str> {
    let (head, _) = file_name.rsplit_once(".tmp-")?;
    head.strip_prefix('.')
}

/// The pid in a temporary file's name `.{name}.tmp-{pid}`.
fn temp_pid(file_name: &str) -> Option<u32> {
    if !file_name.starts_with('.') {
        return None;
    }
    let (_, pid) = file_name.rsplit_once(".tmp-")?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` is running (Linux: `/proc/PID` exists). Where `/proc`
/// is not mounted every process counts as running, so nothing is removed.
pub fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Deletes the temporary files that dead processes left for the files of
/// `dir` that `select` names (`.{name}.tmp-{pid}` regular files, `select(name)`,
/// whose pid no longer runs); returns what was removed. Only nnt's own outputs
/// are ever selected: another program's `.notes.txt.tmp-123` in the same folder
/// has the same shape and is not nnt's to remove (it once was removed by any
/// run writing there). Nothing else is touched, and failures are ignored: this
/// is tidying, not the run.
pub fn remove_stale_temps(dir: &Path, select: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_pid(&name).filter(|_| temp_target(&name).is_some_and(&select)) else {
            continue;
        };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && !alive(pid) && fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set is written whole; when one of its files cannot be written, no
    /// file of the set changes and no temporary is left.
    #[test]
    fn a_set_is_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a.txt"),
            dir.path().join("b.txt"),
            dir.path().join("c.txt"),
        );
        let set = |x: &'static [u8]| [(a.as_path(), x), (b.as_path(), x), (c.as_path(), x)];
        write_atomic_all(set(b"old")).unwrap();
        for p in [&a, &b, &c] {
            assert_eq!(fs::read(p).unwrap(), b"old");
        }
        // The last file cannot be written (a folder stands at its name).
        fs::remove_file(&c).unwrap();
        fs::create_dir(&c).unwrap();
        let (path, e) = write_atomic_all(set(b"new")).unwrap_err();
        assert_eq!(path, c);
        assert!(e.to_string().contains("only replaces regular files"), "{e}");
        assert_eq!(fs::read(&a).unwrap(), b"old", "written before the failure");
        assert_eq!(fs::read(&b).unwrap(), b"old");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "no temporary file left: {names:?}");
    }

    /// Two paths of a set that name one file (here through a link) are
    /// refused before anything is written.
    #[cfg(unix)]
    #[test]
    fn a_set_naming_one_file_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, link, other) = (
            dir.path().join("a.txt"),
            dir.path().join("link.txt"),
            dir.path().join("other.txt"),
        );
        fs::write(&a, b"old").unwrap();
        std::os::unix::fs::symlink(&a, &link).unwrap();
        let set = [
            (other.as_path(), &b"x"[..]),
            (a.as_path(), &b"one"[..]),
            (link.as_path(), &b"two"[..]),
        ];
        let (path, e) = write_atomic_all(set).unwrap_err();
        assert_eq!(path, link);
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(fs::read(&a).unwrap(), b"old");
        assert!(!other.exists());
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn writes_through_a_symlink_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("w.bin");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.bin");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        // A relative, dangling link creates its target.
        let dangling = dir.path().join("dangling.bin");
        std::os::unix::fs::symlink("real/fresh.bin", &dangling).unwrap();
        write_atomic(&dangling, b"x").unwrap();
        assert_eq!(fs::read(real_dir.join("fresh.bin")).unwrap(), b"x");
        assert!(fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_mode_of_a_replaced_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.nnt");
        fs::write(&p, b"old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&p, b"new").unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn refuses_a_read_only_file_and_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.txt");
        fs::write(&path, b"mine").unwrap();
        let mut perms = fs::metadata(&path).unwrap().permissions();
        perms.set_readonly(true);
        fs::set_permissions(&path, perms).unwrap();
        // Through a link too.
        let link = dir.path().join("link.txt");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&path, &link).unwrap();
        #[cfg(not(unix))]
        let link = path.clone();
        for target in [&path, &link] {
            let e = write_atomic(target, b"new").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
            assert!(e.to_string().contains("read-only"), "{e}");
            let e = write_atomic_with(target, |out| out.write_all(b"new")).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        }
        assert_eq!(fs::read(&path).unwrap(), b"mine");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file left");
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let e = write_atomic(&sub, b"x").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        assert!(sub.is_dir());
        #[cfg(unix)]
        {
            let e = write_atomic(Path::new("/dev/null"), b"x").unwrap_err();
            assert!(e.to_string().contains("a device"), "{e}");
            let link = dir.path().join("null-link");
            std::os::unix::fs::symlink("/dev/null", &link).unwrap();
            assert!(write_atomic(&link, b"x").is_err());
            assert!(fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
        }
        let err = write_file(&sub, b"x").unwrap_err();
        assert_eq!(
            miette::Diagnostic::code(&err).map(|c| c.to_string()),
            Some("nnt::io::write_failed".to_string())
        );
        assert!(err.to_string().contains("sub"));
    }

    #[test]
    fn removes_only_dead_processes_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        // A pid above Linux's maximum (2^22) never runs.
        let dead = dir.path().join(".w.safetensors.tmp-9999999");
        let mine = dir
            .path()
            .join(format!(".w.safetensors.tmp-{}", std::process::id()));
        let other = dir.path().join("w.tmp-9999999");
        // Another program's temporary of the same shape: not nnt's.
        let foreign = dir.path().join(".thesis.tex.tmp-9999999");
        for p in [&dead, &mine, &other, &foreign] {
            fs::write(p, b"x").unwrap();
        }
        let removed = remove_stale_temps(dir.path(), |n| n == "w.safetensors");
        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists() && mine.exists() && other.exists() && foreign.exists());
        // A write of one file removes that file's stale temporaries only.
        let dead_a = dir.path().join(".a.svg.tmp-9999999");
        let dead_b = dir.path().join(".b.svg.tmp-9999999");
        fs::write(&dead_a, b"x").unwrap();
        fs::write(&dead_b, b"x").unwrap();
        write_file(&dir.path().join("a.svg"), b"<svg/>").unwrap();
        assert!(!dead_a.exists() && dead_b.exists());
    }
}
