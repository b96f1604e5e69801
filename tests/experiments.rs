//! §18 end to end with the `nnt` binary on synthetic data: `--log` beside the text
//! view, the `start`/`end` additions, repeated `--set` keys, `nnt sweep` (grid,
//! random, jobs, shards, resume, summary) and `nnt plot` of several logs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nnt(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nnt"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    nnt(dir).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// A small xor recipe (3 epochs, early stopping, a saved model) in a fresh folder.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("xor.nnt");
    std::fs::write(
        &recipe,
        "# a tiny experiment\nseed = 5\n\ndata {\n    train = xor(n = 64, noise = 0.1)\n    valid = split(train, 0.25)\n}\n\nmodel {\n    dense(4)\n    tanh\n    dense(2)\n}\n\nloss = cross_entropy\noptimizer = sgd(0.1, momentum = 0.9)\nsave = \"model.safetensors\"\n\ntrain {\n    epochs = 3\n    batch = 16\n    early_stop = patience(2, monitor = valid_loss)\n}\n",
    )
    .unwrap();
    (dir, recipe)
}

fn events(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn log_file_beside_the_text_view() {
    let (dir, _) = workspace();
    let o = run(dir.path(), &["run", "xor.nnt", "--log", "out/log.jsonl"]);
    // The folder does not exist: the write fails, and nothing is left behind.
    assert_ne!(o.status.code(), Some(0));
    assert!(!dir.path().join("out/log.jsonl").exists());
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let o = run(dir.path(), &["run", "xor.nnt", "--log", "out/log.jsonl"]);
    ok(&o);
    let shown = text(&o.stdout);
    assert!(
        !shown.contains("\"event\""),
        "the terminal shows the text view"
    );
    assert!(shown.contains("epoch"), "{shown}");
    let log = std::fs::read_to_string(dir.path().join("out/log.jsonl")).unwrap();
    let jsonl = run(dir.path(), &["run", "xor.nnt", "--format", "jsonl"]);
    ok(&jsonl);
    assert_eq!(log, text(&jsonl.stdout), "the file is the JSONL log");

    let ev = events(&log);
    let start = &ev[0];
    assert_eq!(start["nnt"], env!("CARGO_PKG_VERSION"));
    let config = start["config"].as_str().unwrap();
    assert!(config.starts_with("seed = 5\n\ndata {\n"), "{config}");
    assert!(!config.contains('#'), "comments are not part of the config");
    let end = ev.last().unwrap();
    let best_epoch = end["best_epoch"].as_u64().unwrap();
    let best = &end["best"];
    assert_eq!(best["epoch"].as_u64(), Some(best_epoch));
    let epoch_event = ev
        .iter()
        .find(|e| e["event"] == "epoch" && e["epoch"].as_u64() == Some(best_epoch))
        .unwrap();
    for (k, v) in best.as_object().unwrap() {
        assert_eq!(&epoch_event[k], v, "best.{k}");
    }
    assert_eq!(
        best.as_object().unwrap().len() + 1,
        epoch_event.as_object().unwrap().len()
    );
    assert_eq!(end["save"], "./model.safetensors");
    assert!(dir.path().join("model.safetensors").exists());
}

#[test]
fn config_records_the_overrides() {
    let (dir, _) = workspace();
    let o = run(
        dir.path(),
        &[
            "run",
            "xor.nnt",
            "--format",
            "jsonl",
            "--set",
            "optimizer.lr=0.05",
            "--set",
            "model.0.units=6",
        ],
    );
    ok(&o);
    let ev = events(&text(&o.stdout));
    let config = ev[0]["config"].as_str().unwrap();
    assert!(
        config.contains("optimizer = sgd(0.05, momentum = 0.9)"),
        "{config}"
    );
    assert!(config.contains("    dense(6)\n"), "{config}");
    // Without early_stop the kept epoch is the last.
    let plain = std::fs::read_to_string(dir.path().join("xor.nnt"))
        .unwrap()
        .replace("    early_stop = patience(2, monitor = valid_loss)\n", "");
    std::fs::write(dir.path().join("plain.nnt"), plain).unwrap();
    let o = run(dir.path(), &["run", "plain.nnt", "--format", "jsonl"]);
    ok(&o);
    let ev = events(&text(&o.stdout));
    let end = ev.last().unwrap();
    assert!(end.get("best_epoch").is_none());
    assert_eq!(end["best"]["epoch"].as_u64(), Some(3));
    assert_eq!(&end["best"]["train_loss"], &ev[ev.len() - 2]["train_loss"]);
}

#[test]
fn a_key_given_twice_is_a_usage_error() {
    let (dir, _) = workspace();
    let o = run(
        dir.path(),
        &[
            "run",
            "xor.nnt",
            "--set",
            "optimizer.lr=0.1",
            "--set",
            "optimizer.lr = 0.2",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("nnt::cli::duplicate_override"));
    let o = run(
        dir.path(),
        &["check", "xor.nnt", "--seed", "3", "--set", "seed=4"],
    );
    assert_eq!(o.status.code(), Some(2));
}
