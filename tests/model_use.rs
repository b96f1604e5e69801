//! Using a trained model (§15): metrics in the training log, model files,
//! `nnt predict`, `nnt eval`. Runs the real binary on the recipes in
//! `tests/fixtures/model_use/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/model_use")
        .join(name)
}

fn nnt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnt"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the nnt binary runs")
}

/// The JSONL events of a run.
fn run_jsonl(recipe: &Path, extra: &[&str]) -> Vec<Value> {
    let r = recipe.to_str().unwrap();
    let mut args = vec!["run", r, "--format", "jsonl"];
    args.extend_from_slice(extra);
    let out = nnt(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn epochs(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event"] == "epoch").collect()
}

fn end(events: &[Value]) -> &Value {
    events.iter().find(|e| e["event"] == "end").unwrap()
}

#[test]
fn metrics_are_logged_in_every_epoch_and_at_the_end() {
    let ev = run_jsonl(&fixture("binary.nnt"), &[]);
    for e in epochs(&ev) {
        for k in ["valid_precision", "valid_recall", "valid_f1", "valid_auc"] {
            let v = e[k].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..=1.0).contains(&v), "{k} = {v}");
        }
    }
    let end = end(&ev);
    for k in ["test_precision", "test_recall", "test_f1", "test_auc"] {
        assert!(end[k].is_number(), "{k} missing in {end}");
    }
    // The test metrics agree with the end event's confusion matrix.
    let m: Vec<Vec<f64>> = end["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    let recall: Vec<f64> = (0..2).map(|i| m[i][i] / (m[i][0] + m[i][1])).collect();
    let macro_recall = (recall[0] + recall[1]) / 2.0;
    assert!((end["test_recall"].as_f64().unwrap() - macro_recall).abs() < 1e-12);
}

#[test]
fn metrics_do_not_change_training() {
    // The same recipe without metrics (and with the default monitor) logs the
    // same losses and accuracies: metrics only observe.
    let with = run_jsonl(&fixture("one_target.nnt"), &[]);
    let without = run_jsonl(
        &fixture("one_target.nnt"),
        &[
            "--set",
            "train.metrics=[]",
            "--set",
            "train.lr_schedule=reduce_on_plateau(factor = 0.5, patience = 1)",
        ],
    );
    let (a, b) = (epochs(&with), epochs(&without));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["train_loss"], y["train_loss"]);
        assert_eq!(x["valid_loss"], y["valid_loss"]);
        assert!(y.get("valid_rmse").is_none());
        // One target: rmse = √mse (the same rows, both in f64).
        let rmse = x["valid_rmse"].as_f64().unwrap();
        let mse = x["valid_loss"].as_f64().unwrap();
        assert!((rmse * rmse - mse).abs() <= 1e-6 * mse, "{rmse}² vs {mse}");
    }
}

#[test]
fn regression_metrics_and_a_metric_monitor() {
    let ev = run_jsonl(&fixture("regression.nnt"), &[]);
    let eps = epochs(&ev);
    let end = end(&ev);
    for e in &eps {
        let (rmse, mae) = (
            e["valid_rmse"].as_f64().unwrap(),
            e["valid_mae"].as_f64().unwrap(),
        );
        assert!(mae <= rmse + 1e-12, "mae {mae} ≤ rmse {rmse}");
        assert!(e["valid_r2"].as_f64().unwrap() <= 1.0);
    }
    // early_stop on valid_r2 (higher is better): the best epoch has the largest r2
    // of the epochs up to it, and the stop comes 3 epochs after it.
    let best = end["best_epoch"].as_u64().unwrap() as usize;
    let r2: Vec<f64> = eps
        .iter()
        .map(|e| e["valid_r2"].as_f64().unwrap())
        .collect();
    let max = r2.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(r2[best - 1], max);
    if end["reason"] == "early_stop" {
        assert_eq!(eps.len(), best + 3);
    }
    for k in ["test_rmse", "test_mae", "test_r2"] {
        assert!(end[k].is_number(), "{k}");
    }
}

#[test]
fn text_summary_names_the_kept_epoch_and_the_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("m.safetensors");
    let out = nnt(&[
        "run",
        fixture("binary.nnt").to_str().unwrap(),
        "--save",
        save.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("valid auc"), "{text}");
    let kept = text
        .lines()
        .find(|l| l.starts_with("best epoch "))
        .unwrap_or_else(|| panic!("no kept-epoch line in\n{text}"));
    assert!(
        kept.contains("valid loss ") && kept.contains("valid f1 "),
        "{kept}"
    );
    assert!(text.contains(&format!("model saved to {}", save.display())));
    assert!(save.exists());
}

#[test]
fn saved_model_files_describe_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("m.safetensors");
    let out = nnt(&[
        "run",
        fixture("regression.nnt").to_str().unwrap(),
        "--format",
        "jsonl",
        "--save",
        save.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let file = nnt::io::model_file::ModelFile::read(&save).unwrap();
    let md = &file.weights.metadata;
    assert_eq!(md["format"], "pt");
    assert_eq!(md["nnt.layout"], "1");
    assert_eq!(md["nnt.precision"], "f32");
    assert_eq!(file.meta.loss, nnt::ir::Loss::Mse);
    assert_eq!(file.meta.input_width, 3);
    assert_eq!(file.meta.output_width(), 2);
    // Only the nn.Sequential state dict: no checkpoint state.
    let mut names: Vec<&String> = file.weights.tensors.keys().collect();
    names.sort();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight"]);
    // The same run saves the same bytes.
    let again = dir.path().join("again.safetensors");
    let out = nnt(&[
        "run",
        fixture("regression.nnt").to_str().unwrap(),
        "--format",
        "jsonl",
        "--save",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(&save).unwrap(),
        std::fs::read(&again).unwrap()
    );
}
