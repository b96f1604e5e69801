//! Checkpoint files (§11): `PATH/epoch-N.safetensors`, written atomically, keeping
//! only the newest `keep` that the run itself wrote (with, when it resumed, those of
//! the run it continues). What goes inside (parameters, optimizer state, metadata)
//! is the trainer's business; this module names, writes, rotates and reads files.

use std::path::{Path, PathBuf};

use super::atomic::write_atomic;
use super::weights::{WeightsError, WeightsFile};

/// `dir/epoch-N.safetensors`.
pub fn path_for(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("epoch-{epoch}.safetensors"))
}

/// Writes the serialised checkpoint of `epoch` into `dir` (created if needed).
/// Rotation is [`rotate`]'s, over the files the run itself wrote (and those of the
/// run it resumed).
pub fn write(dir: &Path, epoch: usize, bytes: &[u8]) -> Result<PathBuf, WeightsError> {
    let path = path_for(dir, epoch);
    let shown = path.display().to_string();
    std::fs::create_dir_all(dir).map_err(|source| WeightsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    write_atomic(&path, bytes).map_err(|source| WeightsError::Write {
        path: shown,
        source,
    })?;
    Ok(path)
}

/// Records `path` as written by this run and deletes the oldest of the run's
/// checkpoints so that `keep` (at least one) remain. Only files in `written` are
/// ever deleted: another run's checkpoints, or a user's file that happens to be
/// called `epoch-N.safetensors`, are never touched. Failing to delete an old file
/// is not worth stopping a run for.
pub fn rotate(written: &mut Vec<PathBuf>, path: PathBuf, keep: usize) {
    written.retain(|p| *p != path);
    written.push(path);
    let excess = written.len().saturating_sub(keep.max(1));
    for old in written.drain(..excess) {
        let _ = std::fs::remove_file(old);
    }
}

/// Reads a checkpoint file.
pub fn read(path: &Path) -> Result<WeightsFile, WeightsError> {
    WeightsFile::read(path)
}

/// The metadata of a checkpoint (its header's `__metadata__`), read without its
/// tensors: what deciding whether a file belongs to a run needs. `None` for
/// anything that is not a regular safetensors file with string metadata.
pub fn read_metadata(path: &Path) -> Option<std::collections::HashMap<String, String>> {
    use std::io::Read;
    // The largest header the safetensors reader accepts.
    const HEADER_LIMIT: u64 = 100_000_000;
    super::guard::check_regular("checkpoint", path).ok()?;
    let mut file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut len = [0u8; 8];
    file.read_exact(&mut len).ok()?;
    let n = u64::from_le_bytes(len);
    if n > HEADER_LIMIT {
        return None;
    }
    let mut header = Vec::with_capacity(n as usize);
    file.take(n).read_to_end(&mut header).ok()?;
    if header.len() as u64 != n {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&header).ok()?;
    let fields = value.get("__metadata__")?.as_object()?;
    fields
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// The epoch of a checkpoint file name `epoch-N.safetensors`, N written as nnt
/// writes it (no sign, no leading zero): `epoch-00002.safetensors` is not one.
pub fn parse_name(name: &str) -> Option<usize> {
    let n = name.strip_prefix("epoch-")?.strip_suffix(".safetensors")?;
    let canonical =
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'));
    if canonical {
        n.parse().ok()
    } else {
        None
    }
}

/// Epoch numbers of the checkpoints in `dir`, ascending.
pub fn list(dir: &Path) -> Vec<usize> {
    let mut epochs: Vec<usize> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| parse_name(&e.file_name().to_string_lossy()))
        .collect();
    epochs.sort_unstable();
    epochs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_of_this_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("ck");
        std::fs::create_dir(&sub).unwrap();
        // Another run's later epochs, a user's epoch 0 and a zero-padded name.
        for name in [
            "epoch-0.safetensors",
            "epoch-20.safetensors",
            "epoch-00002.safetensors",
        ] {
            std::fs::write(sub.join(name), b"theirs").unwrap();
        }
        let mut written = Vec::new();
        for e in [2, 4, 6, 8, 10] {
            let p = write(&sub, e, b"x").unwrap();
            rotate(&mut written, p, 2);
        }
        assert_eq!(list(&sub), vec![0, 8, 10, 20]);
        assert!(sub.join("epoch-00002.safetensors").exists());
        assert_eq!(written, vec![path_for(&sub, 8), path_for(&sub, 10)]);
    }

    #[test]
    fn metadata_is_read_from_the_header_alone() {
        let dir = tempfile::tempdir().unwrap();
        let meta: std::collections::HashMap<String, String> =
            [("nnt_state".to_string(), "{\"epoch\":3}".to_string())].into();
        let tensors = vec![crate::io::weights::OutTensor {
            name: "w".into(),
            shape: vec![2],
            data: vec![1.0, 2.0],
        }];
        let bytes =
            crate::io::weights::serialize(&tensors, safetensors::Dtype::F32, Some(meta.clone()));
        let p = write(dir.path(), 3, &bytes.unwrap()).unwrap();
        assert_eq!(read_metadata(&p), Some(read(&p).unwrap().metadata));
        assert_eq!(read_metadata(&p).unwrap()["nnt_state"], "{\"epoch\":3}");
        // Not a safetensors file, a header longer than the file, a directory.
        std::fs::write(dir.path().join("junk"), b"12345678{").unwrap();
        assert_eq!(read_metadata(&dir.path().join("junk")), None);
        let mut short = 1000u64.to_le_bytes().to_vec();
        short.extend_from_slice(b"{}");
        std::fs::write(dir.path().join("short"), short).unwrap();
        assert_eq!(read_metadata(&dir.path().join("short")), None);
        assert_eq!(read_metadata(dir.path()), None);
    }

    #[test]
    fn names_are_canonical() {
        assert_eq!(parse_name("epoch-12.safetensors"), Some(12));
        assert_eq!(parse_name("epoch-0.safetensors"), Some(0));
        assert_eq!(parse_name("epoch-00002.safetensors"), None);
        assert_eq!(parse_name("epoch-+2.safetensors"), None);
        assert_eq!(parse_name("epoch-.safetensors"), None);
    }
}
