//! Checks before a run touches anything: no output is one of the run's inputs,
//! every output can be written (found before training, not after it), inputs are
//! regular files of bounded size, and one run at a time writes into a checkpoint
//! directory (a lock file holding the writer's pid).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

use super::atomic;

/// File problems found before or around a run.
#[derive(Debug, Error, Diagnostic)]
pub enum IoError {
    /// `--plot iris.nnt`, `--save data/iris.csv`: an output that would replace an input.
    #[error("the {output_role} {output} is the same file as the {input_role} {input}")]
    #[diagnostic(
        code(nnt::io::output_is_input),
        help("choose another path for the {output_role}; nnt never overwrites its inputs")
    )]
    OutputIsInput {
        output_role: String,
        output: String,
        input_role: String,
        input: String,
    },
    /// `--save out.svg --plot out.svg`, or `--save ck/epoch-3.safetensors` where
    /// the run writes its checkpoints into `ck`: two outputs that are one file.
    #[error("the {a_role} {a} is the same file as the {b_role} {b}")]
    #[diagnostic(code(nnt::io::outputs_collide), help("give each output its own path"))]
    OutputsCollide {
        a_role: String,
        a: String,
        b_role: String,
        b: String,
    },
    /// `nnt test t.nnt --junit ck/report.xml` where `t.nnt` has `checkpoint {
    /// path = "ck" }`: an output inside the checkpoint directory of a run, which
    /// that run owns (it locks it, removes stale temporary files from it, and
    /// `keep` prunes it). The directory itself is `OutputsCollide`. Test:
    /// tests/it/cli_outputs_guard.rs `test_junit_never_replaces_a_file_a_recipe_writes`.
    #[error("the {role} {path} is inside the checkpoint directory {dir}")]
    #[diagnostic(
        code(nnt::io::output_in_checkpoint_dir),
        help("choose a path for the {role} outside the checkpoint directory; it holds the files of the run that writes into it")
    )]
    OutputInCheckpointDir {
        role: String,
        path: String,
        dir: String,
    },
    /// `--save w.safetensors` where `w.safetensors` exists with no write
    /// permission bit (`chmod a-w`): a rename would replace it all the same,
    /// so nnt refuses before training. Test: tests/it/hardening_io.rs
    /// `outputs_never_replace_a_read_only_file`.
    #[error("the {role} {path} is read-only")]
    #[diagnostic(
        code(nnt::io::read_only),
        help("nothing was trained: make the file writable (chmod u+w) or choose another path; nnt does not replace a file protected from writing")
    )]
    ReadOnly { role: String, path: String },
    /// An output whose directory is missing, read-only, or which is not a file.
    #[error("cannot write the {role} {path}")]
    #[diagnostic(
        code(nnt::io::write_failed),
        help("nothing was trained: check that the directory exists and is writable")
    )]
    Unwritable {
        role: String,
        path: String,
        #[source]
        source: io::Error,
    },
    /// A checkpoint directory another running nnt writes into.
    #[error("the checkpoint directory {dir} is in use by another nnt run (pid {pid})")]
    #[diagnostic(
        code(nnt::io::locked),
        help("wait for that run to end, or give this run another checkpoint `path`; a lock left by a run that no longer exists is taken over")
    )]
    Locked { dir: String, pid: u32 },
    /// An output path where a device, a FIFO or a directory is (`--save
    /// /dev/null`, `--log somedir`, a FIFO named as a checkpoint).
    #[error("cannot write the {role} {path}: {what}")]
    #[diagnostic(
        code(nnt::io::write_failed),
        help("nothing was trained: give a path where a regular file is, or nothing yet; nnt never replaces a device, FIFO or directory")
    )]
    OutputNotAFile {
        role: String,
        path: String,
        what: String,
    },
    /// An input that is a device, a FIFO or a directory.
    #[error("{path} is not a regular file ({what})")]
    #[diagnostic(code(nnt::io::not_a_file), help("give the path of a file"))]
    NotAFile { path: String, what: String },
    /// An input larger than nnt reads.
    #[error("{path} is larger than {limit} bytes, the most nnt reads as a {role}")]
    #[diagnostic(code(nnt::io::too_large))]
    TooLarge {
        path: String,
        role: String,
        limit: u64,
    },
    /// An input that cannot be read (missing, no permission).
    #[error("cannot read the {role} {path}")]
    #[diagnostic(code(nnt::io::unreadable))]
    Unreadable {
        role: String,
        path: String,
        #[source]
        source: io::Error,
    },
    /// A checkpoint `path` that exists and is not a directory.
    #[error("the checkpoint path {path} exists and is not a directory")]
    #[diagnostic(
        code(nnt::io::checkpoint_not_dir),
        help("checkpoints are files in a directory: give `path` a directory name")
    )]
    CheckpointNotDir { path: String },
    /// Writing the log (stdout) failed: a full disk, a closed file.
    #[error("cannot write the log to standard output")]
    #[diagnostic(code(nnt::io::log_write_failed))]
    LogWrite {
        #[source]
        source: io::Error,
    },
}

/// Whether two paths name the same file (device and inode, through symbolic
/// links). Paths that do not exist are compared by their canonical parent
/// directory and name.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (fs::metadata(a), fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The canonical form of a path whose last component may not exist yet.
fn canonical(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = fs::canonicalize(p) {
        return Some(c);
    }
    let name = p.file_name()?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(parent).ok()?.join(name))
}

/// Refuses an output that is one of the inputs. `outputs` and `inputs` are
/// (role, path) pairs.
pub fn outputs_are_not_inputs(
    outputs: &[(impl AsRef<str>, impl AsRef<Path>)],
    inputs: &[(impl AsRef<str>, impl AsRef<Path>)],
) -> Result<(), IoError> {
    first_output_that_is(outputs, inputs, same_file, output_is_input)
}

/// The caller's error (`error(output role, output, other role, other)`) for
/// the first output whose link-resolved target `is` one of `others` (by the
/// caller's comparison). Roles and paths may be owned or borrowed.
fn first_output_that_is(
    outputs: &[(impl AsRef<str>, impl AsRef<Path>)],
    others: &[(impl AsRef<str>, impl AsRef<Path>)],
    is: impl Fn(&Path, &Path) -> bool,
    error: fn(&str, &Path, &str, &Path) -> IoError,
) -> Result<(), IoError> {
    for (orole, out) in outputs {
        let out = out.as_ref();
        let target = atomic::resolve_target(out).unwrap_or_else(|_| out.to_path_buf());
        for (role, other) in others {
            if is(&target, other.as_ref()) {
                return Err(error(orole.as_ref(), out, role.as_ref(), other.as_ref()));
            }
        }
    }
    Ok(())
}

/// `OutputIsInput`: the output would replace the input.
fn output_is_input(output_role: &str, output: &Path, input_role: &str, input: &Path) -> IoError {
    IoError::OutputIsInput {
        output_role: output_role.to_string(),
        output: output.display().to_string(),
        input_role: input_role.to_string(),
        input: input.display().to_string(),
    }
}

/// `OutputsCollide`: two outputs land on one file.
fn outputs_collide(a_role: &str, a: &Path, b_role: &str, b: &Path) -> IoError {
    IoError::OutputsCollide {
        a_role: a_role.to_string(),
        a: a.display().to_string(),
        b_role: b_role.to_string(),
        b: b.display().to_string(),
    }
}

/// Whether an output's link-resolved `target` is `other` once `other`'s own
/// links are followed, by [`same_path`] (so a file not created yet counts).
fn same_target(target: &Path, other: &Path) -> bool {
    let other_target = atomic::resolve_target(other).unwrap_or_else(|_| other.to_path_buf());
    same_path(target, &other_target)
}

/// Refuses two outputs that are one file (role, path pairs).
pub fn outputs_are_distinct(outputs: &[(&str, &Path)]) -> Result<(), IoError> {
    for (i, (arole, a)) in outputs.iter().enumerate() {
        let ta = atomic::resolve_target(a).unwrap_or_else(|_| a.to_path_buf());
        for (brole, b) in &outputs[i + 1..] {
            let tb = atomic::resolve_target(b).unwrap_or_else(|_| b.to_path_buf());
            if same_file(&ta, &tb) {
                return Err(outputs_collide(arole, a, brole, b));
            }
        }
    }
    Ok(())
}

/// Checks that `path` can be written before anything is computed: it is absent
/// or a regular file (through links), and a file can be created and removed in
/// its directory.
pub fn probe_file(role: &str, path: &Path) -> Result<(), IoError> {
    let target = check_output(role, path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    probe_dir(&dir).map_err(|source| IoError::Unwritable {
        role: role.to_string(),
        path: path.display().to_string(),
        source,
    })
}

/// The part of [`probe_file`] that writes nothing (what `nnt check` can ask):
/// `path` is nothing yet, or a regular file (through links) that is not
/// read-only. Returns the resolved target.
pub fn check_output(role: &str, path: &Path) -> Result<PathBuf, IoError> {
    let read_only = atomic::resolve_target(path)
        .and_then(fs::metadata)
        .is_ok_and(|m| m.is_file() && m.permissions().readonly());
    if read_only {
        return Err(IoError::ReadOnly {
            role: role.to_string(),
            path: path.display().to_string(),
        });
    }
    let unwritable = |source: io::Error| IoError::Unwritable {
        role: role.to_string(),
        path: path.display().to_string(),
        source,
    };
    let (target, existing) = atomic::check_target(path).map_err(|e| {
        // `atomic::not_regular`'s kind: what is there is no file to replace.
        if e.kind() == io::ErrorKind::InvalidInput {
            IoError::OutputNotAFile {
                role: role.to_string(),
                path: path.display().to_string(),
                what: e.to_string(),
            }
        } else {
            unwritable(e)
        }
    })?;
    if existing.is_none() {
        // A new file needs its folder: found now, not after training.
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(unwritable(io::Error::other(format!(
                    "{} is not a directory",
                    dir.display()
                ))))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(unwritable(io::Error::new(
                    e.kind(),
                    format!("the directory {} does not exist", dir.display()),
                )))
            }
            Err(e) => return Err(unwritable(e)),
        }
    }
    Ok(target)
}

/// Creates and removes a file in `dir`.
fn probe_dir(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".nnt-probe.tmp-{}", std::process::id()));
    fs::File::create(&probe)?;
    fs::remove_file(&probe)
}

/// Creates the checkpoint directory if needed and checks a file can be written in it.
pub fn probe_checkpoint_dir(dir: &Path) -> Result<(), IoError> {
    check_checkpoint_path(dir)?;
    let unwritable = |source: io::Error| IoError::Unwritable {
        role: "checkpoint directory".to_string(),
        path: dir.display().to_string(),
        source,
    };
    fs::create_dir_all(dir).map_err(unwritable)?;
    probe_dir(dir).map_err(unwritable)
}

/// A checkpoint path that exists must be a directory.
pub fn check_checkpoint_path(dir: &Path) -> Result<(), IoError> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(IoError::CheckpointNotDir {
            path: dir.display().to_string(),
        }),
        _ => Ok(()),
    }
}

/// The most bytes read from a recipe.
pub const RECIPE_LIMIT: u64 = 256 << 20;
/// The most bytes read from a JSONL log (`nnt plot`).
pub const LOG_LIMIT: u64 = 1 << 30;
/// The most bytes read from a weights or checkpoint file.
pub const WEIGHTS_LIMIT: u64 = 16 << 30;

/// Checks that `path` is a regular file (through links) without opening it, so
/// that a FIFO never blocks and a device is never read.
pub fn check_regular(role: &str, path: &Path) -> Result<fs::Metadata, IoError> {
    let m = fs::metadata(path).map_err(|source| IoError::Unreadable {
        role: role.to_string(),
        path: path.display().to_string(),
        source,
    })?;
    if !m.is_file() {
        return Err(IoError::NotAFile {
            path: path.display().to_string(),
            what: atomic::kind_of(&m).to_string(),
        });
    }
    Ok(m)
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_regular(role: &str, path: &Path, limit: u64) -> Result<Vec<u8>, IoError> {
    let unreadable = |source: io::Error| IoError::Unreadable {
        role: role.to_string(),
        path: path.display().to_string(),
        source,
    };
    let too_large = || IoError::TooLarge {
        path: path.display().to_string(),
        role: role.to_string(),
        limit,
    };
    let m = check_regular(role, path)?;
    if m.len() > limit {
        return Err(too_large());
    }
    let f = fs::File::open(path).map_err(unreadable)?;
    // The file may have been swapped since; check what was opened too.
    let opened = f.metadata().map_err(unreadable)?;
    if !opened.is_file() {
        return Err(IoError::NotAFile {
            path: path.display().to_string(),
            what: "not a regular file".to_string(),
        });
    }
    let mut bytes = Vec::with_capacity(opened.len().min(limit) as usize);
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The lock of a checkpoint directory, removed when dropped.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The lock file's name inside a checkpoint directory.
pub const LOCK_NAME: &str = ".nnt.lock";

/// Takes the lock of a checkpoint directory (created if needed): a file created
/// exclusively, holding this process's pid and its start time (Linux: the
/// 22nd field of `/proc/PID/stat`). A lock whose pid no longer runs, or runs
/// a process started at another time (the pid was reused: a run killed in a
/// container and restarted there finds its old pid taken by another process,
/// even by one of its own threads), is taken over; a live one is an error.
pub fn lock_dir(dir: &Path) -> Result<DirLock, IoError> {
    let unwritable = |source: io::Error| IoError::Unwritable {
        role: "checkpoint directory".to_string(),
        path: dir.display().to_string(),
        source,
    };
    fs::create_dir_all(dir).map_err(unwritable)?;
    let path = dir.join(LOCK_NAME);
    let me = std::process::id();
    for _ in 0..3 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                let line = match start_time(me) {
                    Some(t) => format!("{me} {t}\n"),
                    None => format!("{me}\n"),
                };
                f.write_all(line.as_bytes()).map_err(unwritable)?;
                return Ok(DirLock { path });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let text = fs::read_to_string(&path).unwrap_or_default();
                let mut fields = text.split_whitespace();
                let holder = fields.next().and_then(|s| s.parse::<u32>().ok());
                let started = fields.next().and_then(|s| s.parse::<u64>().ok());
                // The same process only when its start time agrees too (a
                // lock without one, from an older nnt, goes by the pid).
                let same_process = |pid: u32| match (started, start_time(pid)) {
                    (Some(recorded), Some(now)) => recorded == now,
                    _ => true,
                };
                match holder {
                    Some(pid) if pid != me && atomic::alive(pid) && same_process(pid) => {
                        return Err(IoError::Locked {
                            dir: dir.display().to_string(),
                            pid,
                        });
                    }
                    // Stale (or unreadable, or our own): take it over.
                    _ => {
                        let _ = fs::remove_file(&path);
                    }
                }
            }
            Err(e) => return Err(unwritable(e)),
        }
    }
    Err(unwritable(io::Error::other(
        "the lock file keeps reappearing",
    )))
}

/// When process `pid` started (clock ticks after boot, the 22nd field of
/// `/proc/PID/stat`), where `/proc` tells.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// A file's modification time and size, when it can be read (for caches that must
/// notice a changed file).
pub fn file_stamp(path: &Path) -> (Option<std::time::SystemTime>, Option<u64>) {
    let meta = fs::metadata(path).ok();
    (
        meta.as_ref().and_then(|m| m.modified().ok()),
        meta.map(|m| m.len()),
    )
}

/// The canonical form of a path of which only a leading part may exist: that
/// part canonicalized (links resolved), then the missing rest appended as
/// written (`.` dropped, `..` taken back; a missing component holds no link).
pub fn canonical_lenient(p: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(p)
    };
    let parts: Vec<Component> = abs.components().collect();
    for k in (1..=parts.len()).rev() {
        let prefix: PathBuf = parts[..k].iter().collect();
        if let Ok(mut out) = fs::canonicalize(&prefix) {
            for c in &parts[k..] {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(n) => out.push(n),
                    _ => {}
                }
            }
            return Some(out);
        }
    }
    None
}

/// Whether two paths name the same file, or would once created: [`same_file`],
/// or equal [`canonical_lenient`] forms (so that `snap/x.jsonl` and
/// `./snap/../snap/x.jsonl` are one path before `snap` exists).
pub fn same_path(a: &Path, b: &Path) -> bool {
    if same_file(a, b) {
        return true;
    }
    matches!(
        (canonical_lenient(a), canonical_lenient(b)),
        (Some(x), Some(y)) if x == y
    )
}

/// [`outputs_are_not_inputs`] for inputs that may not exist yet (files the
/// command itself writes and reads back: the snapshots of `nnt test`), compared
/// with [`same_path`].
pub fn outputs_are_not_paths(
    outputs: &[(impl AsRef<str>, impl AsRef<Path>)],
    inputs: &[(impl AsRef<str>, impl AsRef<Path>)],
) -> Result<(), IoError> {
    first_output_that_is(outputs, inputs, same_target, output_is_input)
}

/// `p` with the links of its last component followed, in [`canonical_lenient`]
/// form (what a write to `p` replaces, before it exists).
fn lenient_target(p: &Path) -> Option<PathBuf> {
    canonical_lenient(&atomic::resolve_target(p).unwrap_or_else(|_| p.to_path_buf()))
}

/// Refuses an output that is one of the files another writer writes (role,
/// path pairs: the `save` file of a recipe that `nnt test` runs), compared with
/// [`same_path`] so that a file not written yet counts too.
pub fn outputs_are_not_written_paths(
    outputs: &[(impl AsRef<str>, impl AsRef<Path>)],
    written: &[(impl AsRef<str>, impl AsRef<Path>)],
) -> Result<(), IoError> {
    first_output_that_is(outputs, written, same_target, outputs_collide)
}

/// Refuses an output that is one of the checkpoint directories `dirs` of other
/// runs (`OutputsCollide`) or a path inside one (`OutputInCheckpointDir`), also
/// through links, `..`, or folders not created yet.
pub fn outputs_are_outside_checkpoint_dirs(
    outputs: &[(&str, &Path)],
    dirs: &[&Path],
) -> Result<(), IoError> {
    for (role, out) in outputs {
        let target = lenient_target(out);
        for dir in dirs {
            let dir_target = lenient_target(dir);
            let same = same_path(out, dir)
                || matches!((&target, &dir_target), (Some(t), Some(d)) if t == d);
            if same {
                return Err(outputs_collide(role, out, "checkpoint directory", dir));
            }
            if let (Some(t), Some(d)) = (&target, &dir_target) {
                if t.starts_with(d) {
                    return Err(IoError::OutputInCheckpointDir {
                        role: role.to_string(),
                        path: out.display().to_string(),
                        dir: dir.display().to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_sees_through_links_and_dots() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        fs::write(&a, b"x").unwrap();
        let dotted = dir.path().join(".").join("a.csv");
        assert!(same_file(&a, &dotted));
        #[cfg(unix)]
        {
            let l = dir.path().join("l.csv");
            std::os::unix::fs::symlink(&a, &l).unwrap();
            assert!(same_file(&a, &l));
        }
        assert!(!same_file(&a, &dir.path().join("b.csv")));
        let err = outputs_are_not_inputs(&[("plot", &dotted)], &[("data file", &a)]).unwrap_err();
        assert_eq!(
            miette::Diagnostic::code(&err).map(|c| c.to_string()),
            Some("nnt::io::output_is_input".to_string())
        );
    }

    #[test]
    fn reads_refuse_non_files_and_bound_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_regular("recipe", dir.path(), 10).unwrap_err();
        assert!(matches!(e, IoError::NotAFile { .. }), "{e:?}");
        #[cfg(unix)]
        {
            let e = read_regular("recipe", Path::new("/dev/zero"), 10).unwrap_err();
            assert!(matches!(e, IoError::NotAFile { .. }), "{e:?}");
        }
        let big = dir.path().join("big");
        fs::write(&big, vec![b'x'; 11]).unwrap();
        let e = read_regular("recipe", &big, 10).unwrap_err();
        assert!(matches!(e, IoError::TooLarge { .. }), "{e:?}");
        assert_eq!(read_regular("recipe", &big, 11).unwrap().len(), 11);
    }

    #[test]
    fn a_live_lock_refuses_a_stale_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        {
            let _lock = lock_dir(&ck).unwrap();
            assert!(ck.join(LOCK_NAME).exists());
            // pid 1 always runs.
            fs::write(ck.join(LOCK_NAME), b"1\n").unwrap();
            let e = lock_dir(&ck).unwrap_err();
            assert!(matches!(e, IoError::Locked { pid: 1, .. }), "{e:?}");
            // A pid above Linux's maximum never runs.
            fs::write(ck.join(LOCK_NAME), b"9999999\n").unwrap();
            let again = lock_dir(&ck).unwrap();
            drop(again);
        }
        assert!(!ck.join(LOCK_NAME).exists());
    }

    /// A lock names its process by pid and start time: a live pid that started
    /// at another time is a reused pid, and the lock is stale (a run killed in a
    /// container and restarted there was refused by its own old lock).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_lock_of_a_reused_pid_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        let lock = lock_dir(&ck).unwrap();
        let text = fs::read_to_string(ck.join(LOCK_NAME)).unwrap();
        let me = std::process::id();
        let started = start_time(me).expect("/proc/self/stat");
        assert_eq!(text, format!("{me} {started}\n"));
        drop(lock);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let child_started = start_time(pid).expect("the child's start time");
        fs::create_dir_all(&ck).unwrap();
        fs::write(ck.join(LOCK_NAME), format!("{pid} {child_started}\n")).unwrap();
        let e = lock_dir(&ck).unwrap_err();
        assert!(matches!(e, IoError::Locked { .. }), "{e:?}");
        fs::write(ck.join(LOCK_NAME), format!("{pid} {}\n", child_started + 1)).unwrap();
        let taken = lock_dir(&ck);
        let _ = child.kill();
        let _ = child.wait();
        assert!(taken.is_ok(), "{taken:?}");
    }

    #[test]
    fn probes_find_unwritable_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/w.safetensors");
        assert!(probe_file("save path", &missing).is_err());
        assert!(probe_file("save path", &dir.path().join("w.safetensors")).is_ok());
        let file = dir.path().join("f");
        fs::write(&file, b"x").unwrap();
        assert!(matches!(
            probe_checkpoint_dir(&file),
            Err(IoError::CheckpointNotDir { .. })
        ));
        assert!(probe_checkpoint_dir(&dir.path().join("ck/sub")).is_ok());
        assert_eq!(fs::read_dir(dir.path().join("ck/sub")).unwrap().count(), 0);
    }
}

#[cfg(test)]
mod lenient_tests {
    use super::*;

    #[test]
    fn same_path_sees_through_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("snap/x.jsonl");
        let b = dir.path().join("other/../snap/./x.jsonl");
        // Neither the file nor its folder exists: only the lenient form matches.
        assert!(!same_file(&a, &b));
        assert!(same_path(&a, &b));
        assert!(!same_path(&a, &dir.path().join("snap/y.jsonl")));
        let err = outputs_are_not_paths(&[("JUnit report", &b)], &[("snapshot", &a)]).unwrap_err();
        assert!(matches!(err, IoError::OutputIsInput { .. }), "{err:?}");
        assert!(outputs_are_not_paths(&[("JUnit report", &a)], &[] as &[(&str, &Path)]).is_ok());
    }

    #[test]
    fn outputs_stay_clear_of_written_files_and_checkpoint_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let save = d.join("m.safetensors");
        let ck = d.join("ck");
        let out = |p: &Path| {
            let o = [("JUnit report", p)];
            outputs_are_not_written_paths(&o, &[("save path", &save)])
                .and_then(|()| outputs_are_outside_checkpoint_dirs(&o, &[&ck]))
        };
        // Neither the save file nor the checkpoint directory exists yet.
        for p in [save.clone(), d.join("x/../m.safetensors"), ck.clone()] {
            let e = out(&p).unwrap_err();
            assert!(matches!(e, IoError::OutputsCollide { .. }), "{p:?}: {e:?}");
        }
        for p in [ck.join("r.xml"), d.join("ck/./sub/../r.xml")] {
            let e = out(&p).unwrap_err();
            assert!(
                matches!(e, IoError::OutputInCheckpointDir { .. }),
                "{p:?}: {e:?}"
            );
        }
        assert!(out(&d.join("ck2/r.xml")).is_ok());
        assert!(out(&d.join("m.safetensors.xml")).is_ok());
        fs::create_dir(&ck).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&ck, d.join("l")).unwrap();
            let e = out(&d.join("l/r.xml")).unwrap_err();
            assert!(matches!(e, IoError::OutputInCheckpointDir { .. }), "{e:?}");
            assert!(matches!(
                out(&d.join("l")),
                Err(IoError::OutputsCollide { .. })
            ));
        }
    }
}
