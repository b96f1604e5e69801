//! What a checkpoint depends on, so that `--resume` can refuse a checkpoint of
//! another run and say what differs: one hash per component of the checked
//! program (seed, precision, model, loss, optimizer, regularizer, training plan)
//! and one of the loaded data. Stored in the checkpoint's run state
//! ([`crate::train::snapshot::RunState::fingerprint`]).
//!
//! Not part of it: the number of epochs (a run may be resumed to train longer),
//! the checkpoint, `save` and `init_from` settings (the resumed state replaces
//! the start weights) and the detectors' thresholds (they only report).

use crate::ir::{Program, Table};

/// (component, value) pairs in a fixed order. The seed is kept as written, so
/// that a mismatch can show both values; the others are 64-bit hashes in hex.
pub fn of(program: &Program) -> Vec<(&'static str, String)> {
    let model: Vec<_> = program
        .model
        .layers
        .iter()
        .map(|l| (l.index, &l.kind, l.in_width, l.out_width))
        .collect();
    let t = &program.train;
    vec![
        ("seed", program.seed.to_string()),
        ("precision", format!("{:?}", program.precision)),
        (
            "model",
            text_hash(&format!("{}:{model:?}", program.model.input_width)),
        ),
        ("loss", text_hash(&format!("{:?}", program.loss))),
        ("optimizer", text_hash(&format!("{:?}", program.optimizer))),
        (
            "regularizer",
            text_hash(&format!("{:?}", program.regularize)),
        ),
        (
            "training plan",
            text_hash(&format!(
                "{:?}|{}|{:?}|{:?}|{:?}",
                t.batch, t.shuffle, t.lr_schedule, t.clip, t.early_stop
            )),
        ),
        ("data", data_hash(program)),
    ]
}

/// The components of `found` (a checkpoint's fingerprint) that differ from
/// `expected`, in words: `seed (3 in the checkpoint, 4 in the recipe)`, `data`.
/// A component missing from the checkpoint counts as differing.
pub fn differences(
    expected: &[(&'static str, String)],
    found: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    expected
        .iter()
        .filter_map(|(name, want)| {
            let got = found.get(*name);
            match got {
                Some(g) if g == want => None,
                Some(g) if *name == "seed" || *name == "precision" => Some(format!(
                    "{name} ({g} in the checkpoint, {want} in the recipe)"
                )),
                _ => Some(name.to_string()),
            }
        })
        .collect()
}

const K: u64 = 0x517c_c1b7_2722_0a95;

fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(K)
}

fn finish(h: u64) -> String {
    // A final avalanche so that near inputs give unrelated hex.
    let mut x = h ^ (h >> 33);
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    format!("{x:016x}")
}

fn text_hash(s: &str) -> String {
    let mut h = 0u64;
    for c in s.as_bytes().chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    finish(mix(h, s.len() as u64))
}

fn table_hash(mut h: u64, t: &Table) -> u64 {
    h = mix(h, t.rows as u64);
    h = mix(h, t.features as u64);
    h = mix(h, t.targets as u64);
    for v in t.x.iter().chain(&t.y) {
        h = mix(h, v.to_bits());
    }
    h
}

fn data_hash(program: &Program) -> String {
    let d = &program.data;
    let mut h = table_hash(1, &d.train);
    for t in [&d.valid, &d.test] {
        h = match t {
            Some(t) => table_hash(mix(h, 1), t),
            None => mix(h, 0),
        };
    }
    finish(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_sensitive() {
        assert_eq!(text_hash("adam"), text_hash("adam"));
        assert_ne!(text_hash("adam"), text_hash("adan"));
        assert_ne!(text_hash(""), text_hash("\0"));
        let mut found = std::collections::BTreeMap::new();
        found.insert("seed".to_string(), "3".to_string());
        found.insert("data".to_string(), "ab".to_string());
        let expected = vec![("seed", "4".to_string()), ("data", "ab".to_string())];
        assert_eq!(
            differences(&expected, &found),
            vec!["seed (3 in the checkpoint, 4 in the recipe)".to_string()]
        );
    }
}
