//! Writes that never leave a half-written file: write to a temporary name in the
//! same directory, flush, then rename over the target.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temporary file + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Streams a file atomically: `fill` writes into a buffered temporary file next
/// to `path`, which is renamed over `path` only when `fill` succeeds; on any error
/// the temporary file is removed and `path` is untouched. For outputs too large
/// to hold in memory (`nnt predict -o`).
pub fn write_atomic_with<R, E>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<R, E>,
) -> Result<Result<R, E>, std::io::Error> {
    let tmp = temp_path(path);
    let file = fs::File::create(&tmp)?;
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
        fs::rename(&tmp, path)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
