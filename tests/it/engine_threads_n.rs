//! `nnt run --threads N`: the JSONL log is byte-identical for 1, 2, 3 and 8
//! threads (work is cut into pieces by shape alone, never by the thread count),
//! on networks large enough that every product, element-wise pass, batch-norm
//! statistic, dropout mask, clipping pass and optimizer update is cut into
//! pieces; and a bad `--threads` is a usage error.

use std::path::Path;
use std::process::{Command, Output};

fn nnt() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nnt"));
    c.env("NO_COLOR", "1").env_remove("RAYON_NUM_THREADS");
    c
}

/// 784-256-128-10 with batch norm, exact GELU, dropout, label smoothing, AdamW
/// and norm clipping (the benchmark's "rich" network, fewer rows).
const RICH: &str = r#"seed = 3
data {
    train = blobs(n = 640, features = 784, classes = 10)
    valid = split(train, 0.2)
}
model {
    dense(256, bias = false)
    batch_norm
    gelu
    dropout(0.2)
    dense(128, bias = false)
    batch_norm
    gelu
    dropout(0.2)
    dense(10)
}
loss = cross_entropy(label_smoothing = 0.1)
optimizer = adamw(lr = 0.001)
train {
    epochs = 2
    batch = 128
    shuffle = true
    clip = norm(1.0)
}
"#;

/// A plain large MLP: 784-512-512-10, relu, sgd with momentum, batch 256.
const PLAIN: &str = r#"seed = 5
data {
    train = blobs(n = 768, features = 784, classes = 10)
}
model {
    dense(512)
    relu
    dense(512)
    relu
    dense(10)
}
loss = cross_entropy
optimizer = sgd(lr = 0.05, momentum = 0.9)
train {
    epochs = 2
    batch = 256
    shuffle = true
}
"#;

/// A small network whose training passes lay the output out by unit
/// (`Network::lay_output_by_unit`: a dense(12) over 48 inputs, 12 classes,
/// batch 48), its first layer's products large enough to be cut into pieces
/// (8 192 features).
const BY_UNIT: &str = r#"seed = 9
data {
    train = blobs(n = 192, features = 8192, classes = 12)
    normalize = standard
}
model {
    dense(48)
    relu
    dense(12)
}
loss = cross_entropy(label_smoothing = 0.05)
optimizer = sgd(lr = 0.001, momentum = 0.9)
train {
    epochs = 2
    batch = 48
    shuffle = true
}
"#;

fn run(recipe: &Path, threads: &str) -> Output {
    nnt()
        .args(["run", "--format", "jsonl", "--threads", threads])
        .arg(recipe)
        .output()
        .expect("nnt runs")
}

/// The log of `recipe` for each thread count: all the same, and a real run.
fn same_log_for_any_thread_count(name: &str, text: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = dir.path().join(name);
    std::fs::write(&recipe, text).expect("recipe written");
    let logs: Vec<(String, String)> = ["1", "2", "3", "8"]
        .iter()
        .map(|t| {
            let out = run(&recipe, t);
            assert!(
                out.status.success(),
                "--threads {t}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            (t.to_string(), String::from_utf8(out.stdout).expect("utf-8"))
        })
        .collect();
    let (_, first) = &logs[0];
    assert_eq!(first.lines().count(), 4, "start, 2 epochs, end:\n{first}");
    assert!(first.contains("\"train_loss\""), "{first}");
    for (t, log) in &logs[1..] {
        assert_eq!(log, first, "{name}: --threads {t} differs from --threads 1");
    }
}

#[test]
fn rich_network_logs_are_identical_for_1_2_3_and_8_threads() {
    same_log_for_any_thread_count("rich.nnt", RICH);
}

#[test]
fn plain_large_mlp_logs_are_identical_for_1_2_3_and_8_threads() {
    same_log_for_any_thread_count("plain.nnt", PLAIN);
}

/// 784-128-10 in 60 small steps: with the default team (no `--threads`) the run
/// measures windows of steps alone and with the team and switches between them
/// (`train::trainer::team`); the log is the one of `--threads 1` whichever way
/// each step ran.
const SWITCHING: &str = r#"seed = 9
data {
    train = blobs(n = 1920, features = 784, classes = 10)
}
model {
    dense(128)
    relu
    dense(10)
}
loss = cross_entropy
optimizer = adam(lr = 0.001)
train {
    epochs = 2
    batch = 64
    shuffle = true
}
"#;

#[test]
fn the_default_team_that_adapts_to_the_load_logs_what_one_thread_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = dir.path().join("switching.nnt");
    std::fs::write(&recipe, SWITCHING).expect("recipe written");
    let one = run(&recipe, "1");
    let adaptive = nnt()
        .args(["run", "--format", "jsonl"])
        .arg(&recipe)
        .output()
        .expect("nnt runs");
    assert!(one.status.success() && adaptive.status.success());
    let (one, adaptive) = (
        String::from_utf8_lossy(&one.stdout),
        String::from_utf8_lossy(&adaptive.stdout),
    );
    assert_eq!(one.lines().count(), 4, "start, 2 epochs, end:\n{one}");
    assert_eq!(adaptive, one);
}

#[test]
fn bad_thread_counts_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = dir.path().join("plain.nnt");
    std::fs::write(&recipe, PLAIN).expect("recipe written");
    for bad in ["0", "two", "-3", "1.5"] {
        let out = run(&recipe, bad);
        assert_eq!(out.status.code(), Some(2), "--threads {bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nnt::cli::invalid_threads"), "{bad}: {err}");
        assert!(out.stdout.is_empty(), "{bad}: nothing trained");
    }
}

/// `--timings` reports the team the run had: `--threads N`, but never more
/// threads than the step's largest product has pieces (784-128-10 at batch 64:
/// 2; 784-512-512-10 at batch 256: 16), and 1 for a network with nothing to
/// split.
#[test]
fn the_team_is_at_most_the_pieces_of_the_largest_product() {
    let dir = tempfile::tempdir().expect("temp dir");
    let small = PLAIN
        .replace("dense(512)\n    relu\n    dense(512)", "dense(128)")
        .replace("batch = 256", "batch = 64");
    let tiny = PLAIN
        .replace("features = 784", "features = 8")
        .replace("dense(512)\n    relu\n    dense(512)", "dense(4)");
    for (name, text, threads, want) in [
        ("plain.nnt", PLAIN.to_string(), "3", 3),
        ("plain8.nnt", PLAIN.to_string(), "8", 8),
        ("small.nnt", small, "8", 2),
        ("tiny.nnt", tiny, "8", 1),
    ] {
        let recipe = dir.path().join(name);
        std::fs::write(&recipe, text).expect("recipe written");
        let out = nnt()
            .args([
                "run",
                "--format",
                "jsonl",
                "--timings",
                "--set",
                "train.epochs=1",
            ])
            .args(["--threads", threads])
            .arg(&recipe)
            .output()
            .expect("nnt runs");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = String::from_utf8(out.stdout).expect("utf-8");
        let end = log.lines().last().unwrap_or_default();
        assert!(
            end.ends_with(&format!(",\"threads\":{want}}}")),
            "{name} with --threads {threads}: {end}"
        );
    }
}

#[test]
fn logs_of_an_output_by_unit_are_identical_for_1_2_3_and_8_threads() {
    same_log_for_any_thread_count("by_unit.nnt", BY_UNIT);
}
