//! Options that contradict each other (issue 11, item 22): `--seed 3` with
//! `--set seed=4`, or one `--set` key given twice (spec §18: "a key given twice is
//! a usage error", even with the same value), or a whole value with one of its
//! parts (`model.0=dense(5)` with `model.0.units=3`: the later one won). nnt
//! used to keep one of them silently; it is a usage error (exit 2), found
//! before the recipe is read. Test: tests/it/experiments.rs
//! `a_whole_value_and_its_part_are_one_key_given_twice`.

use miette::Diagnostic;
use thiserror::Error;

/// Two options that set the same thing.
#[derive(Debug, Error, Diagnostic)]
#[error("{first} and {second} both set `{key}`")]
#[diagnostic(code(nnt::cli::conflicting_options), help("give `{key}` once: {hint}"))]
pub struct ConflictingOptions {
    pub key: String,
    pub first: String,
    pub second: String,
    pub hint: String,
}

/// The key of a `--set KEY=VALUE` as keys are compared
/// (`crate::check::overrides::normal_key`: no whitespace, so `train . epochs`
/// is `train.epochs`; a layer index as a number, so `model.00.units` is
/// `model.0.units`); `None` for text without `=` (the checker reports it).
fn key_of(text: &str) -> Option<String> {
    let (key, _) = text.split_once('=')?;
    Some(crate::check::overrides::normal_key(key))
}

/// The first conflict among `--seed` and the `--set` overrides, if any.
pub fn conflict(sets: &[String], seed: Option<u64>) -> Option<ConflictingOptions> {
    let options: Vec<(&str, &str)> = sets.iter().map(|t| ("--set", t.as_str())).collect();
    conflict_among(&options, seed)
}

/// The first conflict among `--seed` and `options`, each an option's name
/// (`--set`, or `nnt sweep`'s `--grid`) and its `KEY=…` text: two keys that
/// set the same thing, equal or one the whole value of the other's part
/// (`crate::check::overrides::keys_overlap`: `model.0` and `model.0.units`),
/// whichever the order.
pub fn conflict_among(options: &[(&str, &str)], seed: Option<u64>) -> Option<ConflictingOptions> {
    use crate::check::overrides::keys_overlap;
    let mut seen: Vec<(String, String)> = Vec::new();
    for (flag, text) in options {
        let Some(key) = key_of(text) else {
            continue;
        };
        let given = format!("{flag} {}", text.trim());
        if key == "seed" {
            if let Some(n) = seed {
                return Some(ConflictingOptions {
                    key,
                    first: format!("--seed {n}"),
                    second: given,
                    hint: "`--seed N` is the same as `--set seed=N`".into(),
                });
            }
        }
        if let Some((earlier_key, earlier)) = seen.iter().find(|(k, _)| keys_overlap(k, &key)) {
            let keep = format!("keep either `{earlier}` or `{given}`");
            // What both set: the part (the longer key).
            let (whole, part) = if earlier_key.len() <= key.len() {
                (earlier_key.clone(), key.clone())
            } else {
                (key.clone(), earlier_key.clone())
            };
            let hint = if whole == part {
                keep
            } else {
                format!("`{whole}` sets the whole value, `{part}` included; {keep}")
            };
            return Some(ConflictingOptions {
                key: part,
                first: earlier.clone(),
                second: given,
                hint,
            });
        }
        seen.push((key, given));
    }
    None
}

/// A `--threads` value that is not a whole number of at least 1.
#[derive(Debug, Error, Diagnostic)]
#[error("--threads {value}: expected a whole number of threads, at least 1")]
#[diagnostic(
    code(nnt::cli::invalid_threads),
    help("give `--threads N` with N ≥ 1, or leave it out to use every core")
)]
pub struct InvalidThreads {
    pub value: String,
}

/// The thread count of `--threads TEXT`.
pub fn threads(text: &str) -> Result<usize, InvalidThreads> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| InvalidThreads {
            value: text.to_string(),
        })
}

/// The `--threads` of each child `nnt run` when `jobs` of them run at once
/// (`nnt test`, `nnt sweep`): the cores shared out, at least one each. A team
/// of threads per child on a machine already busy with the other children
/// would wait on descheduled workers at every piece; logs are the same for any
/// thread count, so this changes only the speed.
pub fn child_threads(jobs: usize) -> usize {
    (crate::train::linalg::default_threads() / jobs.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn children_share_the_cores() {
        let cores = crate::train::linalg::default_threads();
        assert_eq!(child_threads(1), cores);
        assert_eq!(child_threads(cores), 1);
        assert_eq!(child_threads(cores * 4), 1);
        assert_eq!(child_threads(0), cores);
    }

    #[test]
    fn conflicts_are_found() {
        assert!(conflict(&sets(&["seed=4"]), None).is_none());
        assert!(conflict(&sets(&["train.epochs=3"]), Some(3)).is_none());
        assert!(conflict(&sets(&["train.epochs=3", "train.epochs = 3"]), None).is_some());
        let e = conflict(&sets(&["seed=4"]), Some(3)).unwrap();
        assert_eq!(e.to_string(), "--seed 3 and --set seed=4 both set `seed`");
        let e = conflict(&sets(&[" seed = 3"]), Some(3)).unwrap();
        assert_eq!(e.key, "seed");
        let e = conflict(&sets(&["train.epochs=3", "train . epochs=4"]), None).unwrap();
        assert_eq!(e.key, "train.epochs");
        // One layer index spelled two ways is one key.
        let e = conflict(&sets(&["model.0.units=5", "model.00.units=6"]), None).unwrap();
        assert_eq!(e.key, "model.0.units");
        let e = conflict(&sets(&["model.10=dense(3)", "model.010=dense(4)"]), None).unwrap();
        assert_eq!(e.key, "model.10");
        assert!(conflict(&sets(&["model.0.units=5", "model.1.units=6"]), None).is_none());
        assert!(conflict(&sets(&["model.10.units=5", "model.100.units=6"]), None).is_none());
        // A whole value and one of its parts, in either order.
        for pair in [
            ["model.0.units=3", "model.0=dense(5)"],
            ["model.0=dense(5)", "model.00 . units=3"],
        ] {
            let e = conflict(&sets(&pair), None).unwrap();
            assert_eq!(e.key, "model.0.units");
            assert!(
                e.hint.starts_with("`model.0` sets the whole value"),
                "{}",
                e.hint
            );
        }
        let e = conflict(&sets(&["optimizer.lr=0.1", "optimizer=adam"]), None).unwrap();
        assert_eq!(
            e.to_string(),
            "--set optimizer.lr=0.1 and --set optimizer=adam both set `optimizer.lr`"
        );
        // Not a part: a key that only starts with the same letters.
        assert!(conflict(&sets(&["model.1=relu", "model.10.units=2"]), None).is_none());
        assert!(conflict(&sets(&["train.epochs=2", "train.epochs_x=3"]), None).is_none());
        let e = conflict_among(
            &[
                ("--set", "model.0=dense(3)"),
                ("--grid", "model.0.units=[2]"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            e.to_string(),
            "--set model.0=dense(3) and --grid model.0.units=[2] both set `model.0.units`"
        );
        assert_eq!(
            e.code().map(|c| c.to_string()).as_deref(),
            Some("nnt::cli::conflicting_options")
        );
    }

    #[test]
    fn thread_counts() {
        assert_eq!(threads("3").ok(), Some(3));
        assert_eq!(threads(" 1 ").ok(), Some(1));
        for bad in ["0", "-1", "two", "", "1.5"] {
            let e = threads(bad).err();
            assert!(e.is_some(), "{bad}");
        }
    }
}
