//! Checkpoint files (§11): `PATH/epoch-N.safetensors`, written atomically, keeping
//! only the newest `keep`. What goes inside (parameters, optimizer state, metadata)
//! is the trainer's business; this module names, writes, rotates and reads files.

use std::path::{Path, PathBuf};

use super::atomic::write_atomic;
use super::weights::{WeightsError, WeightsFile};

/// `dir/epoch-N.safetensors`.
pub fn path_for(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("epoch-{epoch}.safetensors"))
}

/// Writes the serialised checkpoint of `epoch` into `dir` (created if needed), then
/// deletes all but the newest `keep` checkpoints there.
pub fn write(dir: &Path, epoch: usize, bytes: &[u8], keep: usize) -> Result<PathBuf, WeightsError> {
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
    rotate(dir, keep.max(1));
    Ok(path)
}

/// Reads a checkpoint file.
pub fn read(path: &Path) -> Result<WeightsFile, WeightsError> {
    WeightsFile::read(path)
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

/// Deletes the oldest checkpoints so that `keep` remain. Failing to delete an old
/// file is not worth stopping a run for.
fn rotate(dir: &Path, keep: usize) {
    let epochs = list(dir);
    if epochs.len() > keep {
        for e in &epochs[..epochs.len() - keep] {
            let _ = std::fs::remove_file(path_for(dir, *e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("ck");
        for e in [2, 4, 6, 8, 10] {
            write(&sub, e, b"x", 2).unwrap();
        }
        assert_eq!(list(&sub), vec![8, 10]);
    }
}
