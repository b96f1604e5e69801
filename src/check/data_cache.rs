//! A cache of loaded data for long-lived processes (the language server checks a
//! recipe on every keystroke): the result of [`crate::data::load_all`] is kept by its
//! spec, its seed and each data file's (path, modification time, size), so an edit
//! that leaves the `data` section and its files alone does not read them again.
//!
//! Off unless [`enable`]d: a one-shot command would only hold the data twice.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::ir::{Data, DataSpec, SourceSpec};

/// Entries kept (the most recently used).
const CAPACITY: usize = 4;

static ENABLED: AtomicBool = AtomicBool::new(false);
static LOADS: AtomicUsize = AtomicUsize::new(0);

type Stamp = Vec<(PathBuf, Option<SystemTime>, Option<u64>)>;

struct Entry {
    spec: DataSpec,
    seed: u64,
    stamp: Stamp,
    data: Data,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Turns the cache on for this process.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// How many times data was actually read (not served from the cache).
pub fn loads() -> usize {
    LOADS.load(Ordering::Relaxed)
}

/// The files a spec reads, with their modification time and size; `None` when the
/// spec has a source this cache does not know how to stamp (then it is not cached).
fn stamp(spec: &DataSpec) -> Option<Stamp> {
    let mut out = Vec::new();
    for s in [Some(&spec.train), spec.valid.as_ref(), spec.test.as_ref()]
        .into_iter()
        .flatten()
    {
        match s {
            SourceSpec::Csv(c) => {
                let (modified, len) = crate::io::guard::file_stamp(&c.path);
                out.push((c.path.clone(), modified, len));
            }
            SourceSpec::Split { .. }
            | SourceSpec::Blobs { .. }
            | SourceSpec::Spirals { .. }
            | SourceSpec::Moons { .. }
            | SourceSpec::Xor { .. }
            | SourceSpec::Linear { .. } => {}
            #[allow(unreachable_patterns)]
            _ => return None,
        }
    }
    Some(out)
}

/// The cached data of `spec` and `seed` whose files still have `stamp`.
fn cached(spec: &DataSpec, seed: u64, stamp: &Stamp) -> Option<Data> {
    let mut cache = CACHE.lock().ok()?;
    let i = cache
        .iter()
        .position(|e| e.seed == seed && e.stamp == *stamp && e.spec == *spec)?;
    let e = cache.remove(i);
    let data = e.data.clone();
    cache.push(e);
    Some(data)
}

/// [`crate::data::load_all`] (every file's errors, the warnings), through the cache
/// when it is enabled. Only a clean load (no error, no warning) is cached, so a
/// cached answer never hides a diagnostic.
pub fn load_all(spec: &DataSpec, seed: u64) -> crate::data::Loaded {
    let stamp = if ENABLED.load(Ordering::Relaxed) {
        stamp(spec)
    } else {
        None
    };
    let Some(stamp) = stamp else {
        LOADS.fetch_add(1, Ordering::Relaxed);
        return crate::data::load_all(spec, seed);
    };
    if let Some(data) = cached(spec, seed, &stamp) {
        return crate::data::Loaded {
            data: Some(data),
            ..Default::default()
        };
    }
    LOADS.fetch_add(1, Ordering::Relaxed);
    let loaded = crate::data::load_all(spec, seed);
    if let (true, true, Some(data)) = (
        loaded.errors.is_empty(),
        loaded.warnings.is_empty(),
        loaded.data.as_ref(),
    ) {
        if let Ok(mut cache) = CACHE.lock() {
            if cache.len() >= CAPACITY {
                cache.remove(0);
            }
            cache.push(Entry {
                spec: spec.clone(),
                seed,
                stamp,
                data: data.clone(),
            });
        }
    }
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{ColumnRef, CsvSpec};

    #[test]
    fn a_file_is_read_again_only_when_it_changes() {
        enable();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "a,y\n1,0\n2,1\n").unwrap_or_else(|e| panic!("{e}"));
        let spec = DataSpec::new(SourceSpec::Csv(CsvSpec {
            path: path.clone(),
            display: "t.csv".into(),
            label: vec![ColumnRef::Name("y".into())],
            header: true,
            delimiter: b',',
        }));
        let load = |spec: &DataSpec, seed: u64| load_all(spec, seed).data.ok_or(());
        let hit = |seed: u64| stamp(&spec).and_then(|st| cached(&spec, seed, &st));
        assert!(hit(1).is_none());
        assert_eq!(load(&spec, 1).map(|d| d.train.rows).ok(), Some(2));
        // The same spec, seed and file: served from the cache.
        assert_eq!(hit(1).map(|d| d.train.rows), Some(2));
        assert!(hit(2).is_none(), "another seed is another entry");
        // A changed file (another size) is not, and is read again with its new rows.
        std::fs::write(&path, "a,y\n1,0\n2,1\n3,0\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(hit(1).is_none());
        let n = loads();
        assert_eq!(load(&spec, 1).map(|d| d.train.rows).ok(), Some(3));
        assert!(loads() > n);
        assert_eq!(hit(1).map(|d| d.train.rows), Some(3));
    }
}
