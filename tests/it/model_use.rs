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

// ---------------------------------------------------------------- predict, eval

fn data(name: &str) -> String {
    fixture("data").join(name).display().to_string()
}

/// Trains `recipe` with `--save`, returning the model path and the JSONL events.
fn train(recipe: &str, dir: &Path) -> (PathBuf, Vec<Value>) {
    let model = dir.join(format!("{recipe}.safetensors"));
    let ev = run_jsonl(
        &fixture(&format!("{recipe}.nnt")),
        &["--save", model.to_str().unwrap()],
    );
    (model, ev)
}

/// The epoch event of the kept epoch (best with early_stop, else the last).
fn kept(ev: &[Value]) -> Value {
    let end = end(ev);
    let n = end["best_epoch"]
        .as_u64()
        .unwrap_or_else(|| end["epochs"].as_u64().unwrap());
    epochs(ev)
        .into_iter()
        .find(|e| e["epoch"].as_u64() == Some(n))
        .unwrap()
        .clone()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Rows of a CSV text (header first), split on commas (no quoting in these files).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn predict_agrees_with_the_logged_valid_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let (model, ev) = train("species", dir.path());
    let best = kept(&ev);
    let m = model.to_str().unwrap();
    let valid = data("species_valid.csv");
    let out = ok(&nnt(&[
        "predict", m, &valid, "--keep", "species", "--keep", "id",
    ]));
    let rows = csv_rows(&out);
    assert_eq!(
        rows[0],
        [
            "species",
            "id",
            "prediction",
            "probability_Adelie",
            "probability_Chinstrap",
            "probability_Gentoo"
        ]
    );
    let truth = csv_rows(&std::fs::read_to_string(&valid).unwrap());
    assert_eq!(rows.len(), truth.len(), "one output row per input row");
    let mut correct = 0usize;
    for (r, t) in rows[1..].iter().zip(&truth[1..]) {
        assert_eq!(r[1], t[0], "input order and --keep copy the cells");
        let p: Vec<f64> = r[3..].iter().map(|v| v.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5);
        correct += usize::from(r[2] == r[0]);
    }
    let accuracy = correct as f64 / (rows.len() - 1) as f64;
    assert_eq!(accuracy, best["valid_accuracy"].as_f64().unwrap());

    // eval: the same pass, so the same loss and metrics as the log, bit for bit.
    let json: Value =
        serde_json::from_str(&ok(&nnt(&["eval", m, &valid, "--format", "json"]))).unwrap();
    assert_eq!(json["loss"], best["valid_loss"]);
    assert_eq!(json["accuracy"], best["valid_accuracy"]);
    assert_eq!(json["macro"]["f1"], best["valid_f1"]);
    assert_eq!(json["macro"]["precision"], best["valid_precision"]);
    assert_eq!(json["rows"], 60);
    assert_eq!(
        json["confusion"]["labels"],
        serde_json::json!(["Adelie", "Chinstrap", "Gentoo"])
    );
    let text = ok(&nnt(&["eval", m, &valid]));
    assert!(
        text.contains("Chinstrap") && text.contains("macro avg"),
        "{text}"
    );
    // explain on the model file: plan and schema.
    let explained = ok(&nnt(&["explain", m]));
    assert!(explained.contains("island=Dream"), "{explained}");
    assert!(
        explained.contains("classes: Adelie, Chinstrap, Gentoo"),
        "{explained}"
    );
    // The layer table's columns line up, also with a kind wider than the
    // header's column (`dropout(0.1) (identity)` pushed its row out), and the
    // data line speaks recipe syntax (it said `missing = Mean`).
    let table: Vec<&str> = explained
        .lines()
        .skip_while(|l| !l.starts_with("layer"))
        .take_while(|l| !l.starts_with("total"))
        .collect();
    assert!(table.len() >= 5, "{explained}");
    assert!(
        table.iter().all(|l| l.len() == table[0].len()),
        "{explained}"
    );
    assert!(
        explained.contains("missing = mean, normalize = standard"),
        "{explained}"
    );
}

/// A model with layer_norm evaluates more rows at once than it was trained with
/// (the batch is 16, eval runs the 60 valid rows in one chunk): the same loss as
/// the log, bit for bit, where it panicked before.
#[test]
fn layer_norm_models_evaluate_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ln.safetensors");
    let ev = run_jsonl(
        &fixture("species.nnt"),
        &[
            "--set",
            "model.1=layer_norm",
            "--save",
            model.to_str().unwrap(),
        ],
    );
    let best = kept(&ev);
    let m = model.to_str().unwrap();
    let valid = data("species_valid.csv");
    let json: Value =
        serde_json::from_str(&ok(&nnt(&["eval", m, &valid, "--format", "json"]))).unwrap();
    assert_eq!(json["loss"], best["valid_loss"]);
    assert_eq!(json["accuracy"], best["valid_accuracy"]);
    let rows = csv_rows(&ok(&nnt(&["predict", m, &valid])));
    assert_eq!(rows.len(), 61, "a header and one row per input row");
}

#[test]
fn binary_predictions_name_the_classes() {
    let dir = tempfile::tempdir().unwrap();
    let (model, ev) = train("yesno", dir.path());
    let last = kept(&ev);
    let m = model.to_str().unwrap();
    let valid = data("binary_valid.csv");
    let out = ok(&nnt(&["predict", m, &valid]));
    let rows = csv_rows(&out);
    assert_eq!(rows[0], ["prediction", "probability"]);
    for r in &rows[1..] {
        let p: f64 = r[1].parse().unwrap();
        assert_eq!(r[0], if p > 0.5 { "yes" } else { "no" }, "{r:?}");
        // Shortest round-trip in f32.
        assert_eq!(r[1], format!("{}", p as f32));
    }
    let json: Value =
        serde_json::from_str(&ok(&nnt(&["eval", m, &valid, "--format", "json"]))).unwrap();
    assert_eq!(json["auc"], last["valid_auc"]);
    assert_eq!(json["loss"], last["valid_loss"]);
    assert_eq!(json["macro"]["f1"], last["valid_f1"]);
    assert_eq!(json["classes"]["yes"]["support"], 49);
}

#[test]
fn regression_predictions_are_in_original_units() {
    let dir = tempfile::tempdir().unwrap();
    let (model, ev) = train("prices", dir.path());
    let last = kept(&ev);
    let m = model.to_str().unwrap();
    let valid = data("reg_valid.csv");
    let out_path = dir.path().join("pred.csv");
    ok(&nnt(&[
        "predict",
        m,
        &valid,
        "-o",
        out_path.to_str().unwrap(),
    ]));
    let rows = csv_rows(&std::fs::read_to_string(&out_path).unwrap());
    assert_eq!(rows[0], ["price", "size"]);
    let truth = csv_rows(&std::fs::read_to_string(&valid).unwrap());
    // r2 of each target from the printed predictions, as scikit-learn would.
    let mut r2 = Vec::new();
    for j in 0..2 {
        let y: Vec<f64> = truth[1..]
            .iter()
            .map(|r| r[2 + j].parse().unwrap())
            .collect();
        let p: Vec<f64> = rows[1..].iter().map(|r| r[j].parse().unwrap()).collect();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let ss_tot: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
        let ss_res: f64 = y.iter().zip(&p).map(|(a, b)| (a - b).powi(2)).sum();
        r2.push(1.0 - ss_res / ss_tot);
    }
    let json: Value =
        serde_json::from_str(&ok(&nnt(&["eval", m, &valid, "--format", "json"]))).unwrap();
    for (j, name) in ["price", "size"].iter().enumerate() {
        let got = json["targets"][name]["r2"].as_f64().unwrap();
        assert!((got - r2[j]).abs() < 1e-12, "{name}: {got} vs {}", r2[j]);
    }
    assert!(json["mse"].is_number() && json["rmse"].is_number());
    // Price is in dollars (≈1000–2300), not standardised units.
    let price: f64 = rows[1][0].parse().unwrap();
    assert!(price > 500.0, "{price}");
    assert_eq!(json["loss"], last["valid_loss"]);
    // The logged regression metrics are in the file's units too.
    for k in ["rmse", "mae", "r2"] {
        assert_eq!(json[k], last[format!("valid_{k}").as_str()], "{k}");
    }
}

/// In f32, eval reads each target as the network holds it, as training's
/// validation does: the logged rmse, mae and r2 (standardised targets and
/// plain ones) are eval's bit for bit (they differed in the 8th digit).
#[test]
fn f32_regression_metrics_are_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let valid = data("reg_valid.csv");
    for extra in [&[][..], &["--set", "data.normalize_targets=none"][..]] {
        let model = dir.path().join("p32.safetensors");
        let mut args = vec!["--set", "precision=f32", "--save", model.to_str().unwrap()];
        args.extend_from_slice(extra);
        let ev = run_jsonl(&fixture("prices.nnt"), &args);
        let last = kept(&ev);
        let m = model.to_str().unwrap();
        let json: Value =
            serde_json::from_str(&ok(&nnt(&["eval", m, &valid, "--format", "json"]))).unwrap();
        assert_eq!(json["loss"], last["valid_loss"], "{extra:?}");
        for k in ["rmse", "mae", "r2"] {
            assert_eq!(
                json[k],
                last[format!("valid_{k}").as_str()],
                "{k} {extra:?}"
            );
        }
    }
}

#[test]
fn numeric_labels_predict_class_indices() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("iris.safetensors");
    let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/iris.nnt");
    run_jsonl(
        &recipe,
        &["--save", model.to_str().unwrap(), "--set", "train.epochs=5"],
    );
    let iris = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/iris.csv");
    let out = ok(&nnt(&[
        "predict",
        model.to_str().unwrap(),
        iris.to_str().unwrap(),
    ]));
    let rows = csv_rows(&out);
    assert_eq!(
        rows[0],
        [
            "prediction",
            "probability_0",
            "probability_1",
            "probability_2"
        ]
    );
    assert_eq!(rows.len(), 151);
    assert!(rows[1..]
        .iter()
        .all(|r| ["0", "1", "2"].contains(&r[0].as_str())));
}

#[test]
fn bad_inputs_are_diagnostics_and_nothing_is_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train("species", dir.path());
    let m = model.to_str().unwrap();
    let expect_error = |args: &[&str], code: &str, words: &[&str]| {
        let out = nnt(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(code), "{args:?}: {err}");
        for w in words {
            assert!(err.contains(w), "{args:?}: `{w}` not in {err}");
        }
        assert!(out.stdout.is_empty() || args.contains(&"predict"));
    };
    // A file missing a feature column.
    let missing = dir.path().join("missing.csv");
    std::fs::write(&missing, "id,flipper,island\np1,190,Dream\n").unwrap();
    let ms = missing.to_str().unwrap();
    expect_error(
        &["predict", m, ms],
        "nnt::predict::missing_column",
        &["`bill`"],
    );
    // A cell that is not a number, after 1500 good rows (more than one chunk):
    // `-o` is not written at all.
    let bad = dir.path().join("bad.csv");
    let mut text = String::from("id,bill,flipper,island,species\n");
    for i in 0..1500 {
        text.push_str(&format!("q{i},40.5,190,Dream,Adelie\n"));
    }
    text.push_str("q1500,forty,190,Dream,Adelie\n");
    std::fs::write(&bad, &text).unwrap();
    let out_csv = dir.path().join("out.csv");
    expect_error(
        &[
            "predict",
            m,
            bad.to_str().unwrap(),
            "-o",
            out_csv.to_str().unwrap(),
        ],
        "nnt::predict::bad_cell",
        &["bad.csv:1502", "`bill`", "forty"],
    );
    assert!(!out_csv.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // An existing output is left as it was.
    std::fs::write(&out_csv, "before").unwrap();
    nnt(&[
        "predict",
        m,
        bad.to_str().unwrap(),
        "-o",
        out_csv.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&out_csv).unwrap(), "before");
    // eval needs the label column.
    let valid = data("species_valid.csv");
    let unlabelled = dir.path().join("unlabelled.csv");
    let body: String = std::fs::read_to_string(&valid)
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    std::fs::write(&unlabelled, body).unwrap();
    expect_error(
        &["eval", m, unlabelled.to_str().unwrap()],
        "nnt::predict::missing_column",
        &["`species`"],
    );
    // ...but predict does not.
    ok(&nnt(&["predict", m, unlabelled.to_str().unwrap()]));
    // A truncated model file.
    let bytes = std::fs::read(&model).unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    expect_error(
        &["predict", truncated.to_str().unwrap(), &valid],
        "nnt::io::not_safetensors",
        &["truncated"],
    );
    // A safetensors file that is not an nnt model.
    let plain = dir.path().join("plain.safetensors");
    nnt::io::weights::write(&plain, &[], safetensors::Dtype::F32, None).unwrap();
    expect_error(
        &["eval", plain.to_str().unwrap(), &valid],
        "nnt::io::not_a_model",
        &["nnt.layout"],
    );
    expect_error(
        &["explain", plain.to_str().unwrap()],
        "nnt::io::not_a_model",
        &[],
    );
    // An output that cannot be written.
    let nowhere = dir.path().join("no/such/dir/out.csv");
    expect_error(
        &["predict", m, &valid, "-o", nowhere.to_str().unwrap()],
        "nnt::predict::write_failed",
        &["out.csv"],
    );
    // An ONNX file that cannot be written is the export's error.
    let nowhere = dir.path().join("no/such/dir/m.onnx");
    for out in [nowhere.to_str().unwrap(), "/dev/full"] {
        expect_error(
            &["export", "onnx", m, "-o", out],
            "nnt::export::write",
            &[out],
        );
    }
}

#[test]
fn newer_layout() {
    // A model file from a newer layout names the version that wrote it.
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train("yesno", dir.path());
    let file = nnt::io::weights::WeightsFile::read(&model).unwrap();
    let mut meta = file.metadata.clone();
    meta.insert("nnt.layout".into(), "9".into());
    let tensors: Vec<nnt::io::weights::OutTensor> = file
        .tensors
        .iter()
        .map(|(name, t)| nnt::io::weights::OutTensor {
            name: name.clone(),
            shape: t.shape.clone(),
            data: t.data.clone().unwrap(),
        })
        .collect();
    let newer = dir.path().join("newer.safetensors");
    nnt::io::weights::write(&newer, &tensors, safetensors::Dtype::F32, Some(meta)).unwrap();
    let out = nnt(&[
        "predict",
        newer.to_str().unwrap(),
        &data("binary_valid.csv"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nnt::io::newer_layout") && err.contains("layout 9"),
        "{err}"
    );
}

#[test]
fn export_onnx_writes_the_graph() {
    use nnt::cli::export_onnx::proto::ModelProto;
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train("species", dir.path());
    let out = dir.path().join("species.onnx");
    ok(&nnt(&[
        "export",
        "onnx",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]));
    let m = ModelProto::decode(&std::fs::read(&out).unwrap()[..]).unwrap();
    assert!(m.opset_import.iter().any(|o| o.version >= 13));
    let g = m.graph.unwrap();
    assert_eq!(g.input[0].name, "features");
    assert_eq!(g.output[0].name, "probabilities");
    let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
    // Missing fill, then normalisation, then the layers (dropout is gone).
    assert_eq!(
        ops,
        ["IsNaN", "Where", "Sub", "Mul", "Gemm", "Relu", "Gemm", "Softmax"]
    );
    // The input width is the one-hot width: bill, flipper and 3 islands.
    let dims = &g.input[0]
        .r#type
        .as_ref()
        .unwrap()
        .tensor_type
        .as_ref()
        .unwrap()
        .shape
        .as_ref()
        .unwrap()
        .dim;
    assert_eq!(dims[1].dim_value, Some(5));
}

// ---------------------------------------------------------------- reading files

/// `nnt ARGS` in `dir`, at most 30 seconds (a read that never ends fails the
/// test instead of hanging it).
fn nnt_in(dir: &Path, args: &[&str]) -> crate::common::Done {
    let child = Command::new(env!("CARGO_BIN_EXE_nnt"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("CLICOLOR_FORCE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the nnt binary runs");
    crate::common::finish(child, 30, &args.join(" "))
}

/// Runs each command in `dir`, checks that it fails with `code` and writes no
/// row to stdout, and returns the diagnostics as shown (for a snapshot).
fn failures(dir: &Path, cases: &[(Vec<&str>, &str)]) -> String {
    let mut shown = String::new();
    for (args, code) in cases {
        let done = nnt_in(dir, args);
        assert_eq!(done.code, Some(1), "{args:?}: {}", done.stderr);
        assert!(done.stderr.contains(code), "{args:?}: {}", done.stderr);
        // Without `-o`, predict may have printed its header: no row.
        assert!(
            done.stdout.lines().count() <= 1,
            "{args:?}: {}",
            done.stdout
        );
        shown.push_str(&format!("$ nnt {}\n{}\n", args.join(" "), done.stderr));
    }
    shown
}

/// `predict` and `eval` read a file as training reads its train file (§15):
/// a device or a pipe is refused before it is read, a line has a bounded
/// length, and a ragged row, a used column named twice or a cell that is not
/// UTF-8 is the data stage's error at its file, line and column; `-o` is then
/// not written. Columns the model does not use may repeat or hold any bytes,
/// as in a valid or test file.
#[test]
fn data_files_are_read_as_training_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train("colors", d);
    let write = |name: &str, bytes: &[u8]| std::fs::write(d.join(name), bytes).unwrap();
    #[cfg(unix)]
    {
        let made = Command::new("mkfifo").arg(d.join("pipe.csv")).status();
        assert!(made.unwrap().success());
    }
    let mut long = b"x1,color,x2\n".to_vec();
    long.resize(long.len() + (9 << 20), b'1');
    write("long.csv", &long);
    write("extra.csv", b"x2,color,x1\n1,red,0.5\n2,red,1,5\n");
    write("short.csv", b"x2,color,x1,y\n1,red,0.5,cat\n2,red\n");
    write("dup.csv", b"x1,color,x2,x1\n0.5,red,1.0,3.3\n");
    write("dup_label.csv", b"x1,color,x2,y,y\n0.5,red,1.0,cat,dog\n");
    write("dup_keep.csv", b"id,x1,color,x2,id\n1,0.5,red,1.0,2\n");
    write("utf8.csv", b"x1,color,x2\n0.5,r\xffed,1.0\n");
    write("utf8_label.csv", b"x1,color,x2,y\n0.5,red,1.0,c\xffat\n");
    let m = "colors.safetensors";
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["predict", m, "/dev/zero"], "nnt::data::not_a_file"),
        (vec!["eval", m, "/dev/zero"], "nnt::data::not_a_file"),
        (vec!["predict", m, "long.csv"], "nnt::data::line_too_long"),
        (
            vec!["predict", m, "extra.csv", "-o", "out.csv"],
            "nnt::data::ragged_row",
        ),
        (vec!["eval", m, "short.csv"], "nnt::data::ragged_row"),
        (
            vec!["predict", m, "dup.csv", "-o", "out.csv"],
            "nnt::data::ambiguous_column",
        ),
        (
            vec!["eval", m, "dup_label.csv"],
            "nnt::data::ambiguous_column",
        ),
        (
            vec!["predict", m, "dup_keep.csv", "--keep", "id"],
            "nnt::data::ambiguous_column",
        ),
        (
            vec!["predict", m, "utf8.csv", "-o", "out.csv"],
            "nnt::data::invalid_utf8",
        ),
        (vec!["eval", m, "utf8_label.csv"], "nnt::data::invalid_utf8"),
    ];
    if cfg!(unix) {
        cases.push((vec!["predict", m, "pipe.csv"], "nnt::data::not_a_file"));
        cases.push((vec!["eval", m, "pipe.csv"], "nnt::data::not_a_file"));
    }
    let shown = failures(d, &cases);
    assert!(!d.join("out.csv").exists());
    assert!(
        shown.contains("extra.csv:3: expected 3 fields, found 4"),
        "{shown}"
    );
    assert!(shown.contains("[utf8.csv:2:5]"), "{shown}");
    assert!(
        shown.contains("column 2 (`color`) is not valid UTF-8"),
        "{shown}"
    );
    insta::assert_snapshot!(shown);

    // What the model does not use may repeat or be any bytes: a repeated
    // ignored column, a repeated label (predict does not read it), bytes that
    // are not UTF-8 in the ignored column.
    write(
        "dup_ignored.csv",
        b"id,x1,color,x2,id,y,y\n1,0.5,red,1.0,2,cat,dog\n",
    );
    write(
        "bytes_ignored.csv",
        b"id,x1,color,x2,y\n\xff\xfe,0.5,red,1.0,cat\n",
    );
    for file in ["dup_ignored.csv", "bytes_ignored.csv"] {
        let done = nnt_in(d, &["predict", m, file]);
        assert_eq!(done.code, Some(0), "{file}: {}", done.stderr);
        assert_eq!(done.stdout.lines().count(), 2, "{file}: {}", done.stdout);
    }
    let done = nnt_in(d, &["eval", m, "bytes_ignored.csv", "--format", "json"]);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    // The cells the model reads are kept as written (`--keep` copies them).
    write("spaces.csv", b"x1,color,x2,note\n0.5, red ,1.0, a b \n");
    let done = nnt_in(d, &["predict", m, "spaces.csv", "--keep", "note"]);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let row = done.stdout.lines().nth(1).unwrap();
    assert!(
        row.starts_with("\" a b \",") || row.starts_with(" a b ,"),
        "{row}"
    );
}

/// A finite cell whose prepared value the model's precision cannot hold
/// (`1e39` in an f32 model) is an error at its file, line and column: predict
/// printed `nan` probabilities and eval a `null` loss. Training refuses such a
/// cell at check time (`nnt::data::too_large`), where the run used to stop
/// "diverged".
#[test]
fn values_beyond_the_model_precision_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train("colors", d);
    let write = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();
    write("big.csv", "x1,color,x2\n0.5,red,1.0\n1e39,red,1.0\n");
    write(
        "big_label.csv",
        "x1,color,x2,y\n0.5,red,1.0,cat\n0.5,blue,-4e38,dog\n",
    );
    let m = "colors.safetensors";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["predict", m, "big.csv", "-o", "out.csv"],
            "nnt::predict::bad_cell",
        ),
        (vec!["eval", m, "big_label.csv"], "nnt::predict::bad_cell"),
    ];
    let shown = failures(d, &cases);
    assert!(!d.join("out.csv").exists());
    assert!(
        shown.contains("big.csv:3: column `x1` is too large for the model's f32 precision: `1e39`"),
        "{shown}"
    );
    assert!(shown.contains("big_label.csv:3: column `x2`"), "{shown}");

    // Training: the same cell in the train file, with the default precision.
    let train_csv = std::fs::read_to_string(fixture("data/colors_train.csv")).unwrap();
    write("train.csv", &train_csv.replacen("\n1,0.5,", "\n1,1e39,", 1));
    let recipe = std::fs::read_to_string(fixture("colors.nnt"))
        .unwrap()
        .replace("data/colors_train.csv", "train.csv")
        .replace("normalize = standard", "normalize = none");
    write("big.nnt", &recipe);
    let done = nnt_in(d, &["check", "big.nnt"]);
    assert_eq!(done.code, Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("nnt::data::too_large")
            && done.stderr.contains(
                "train.csv:2: column 2 (`x1`) is too large for the run's f32 precision: `1e39`"
            ),
        "{}",
        done.stderr
    );
    let shown = format!("{shown}$ nnt check big.nnt\n{}", done.stderr);
    insta::assert_snapshot!(shown);
    // In f64, or normalised, the network gets a finite value.
    for set in ["precision=f64", "data.normalize=standard"] {
        let done = nnt_in(d, &["check", "big.nnt", "--set", set]);
        assert_eq!(done.code, Some(0), "{set}: {}", done.stderr);
    }
}

/// Values near f64's limit: `standard` computes its statistics without
/// overflow (every feature used to become 0, the divisor was saved as `null`
/// and predict, eval and explain refused the model file); a minmax range
/// beyond f64 is a check error naming the column.
#[test]
fn values_near_the_f64_limit_train_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("hv.csv"), "x,y\n1e160,0\n2e160,1\n3e160,0\n").unwrap();
    std::fs::write(d.join("edge.csv"), "x,y\n1e308,0\n1.5e308,1\n-1e308,0\n").unwrap();
    let recipe = |file: &str, normalize: &str| {
        format!(
            "data {{\n    train = csv(\"{file}\", label = \"y\")\n    normalize = {normalize}\n}}\n\
             model {{\n    dense(2)\n}}\nloss = cross_entropy\noptimizer = sgd(lr = 0.1)\n\
             train {{\n    epochs = 1\n}}\nsave = \"h.safetensors\"\n"
        )
    };
    for file in ["hv.csv", "edge.csv"] {
        std::fs::write(d.join("h.nnt"), recipe(file, "standard")).unwrap();
        let done = nnt_in(d, &["run", "h.nnt", "--format", "jsonl"]);
        assert_eq!(done.code, Some(0), "{file}: {}", done.stderr);
        let model = nnt::io::model_file::ModelFile::read(&d.join("h.safetensors")).unwrap();
        let prep = model.meta.preparation.unwrap();
        let divisor = &prep["features"][0]["kind"]["divisor"];
        assert!(
            divisor.as_f64().is_some_and(|v| v > 1e150),
            "{file}: {prep}"
        );
        let predicted = nnt_in(d, &["predict", "h.safetensors", file]);
        assert_eq!(predicted.code, Some(0), "{file}: {}", predicted.stderr);
        assert!(!predicted.stdout.contains("nan"), "{}", predicted.stdout);
        for command in [
            &["eval", "h.safetensors", file][..],
            &["explain", "h.safetensors"],
        ] {
            let done = nnt_in(d, command);
            assert_eq!(done.code, Some(0), "{command:?}: {}", done.stderr);
        }
    }
    std::fs::write(d.join("h.nnt"), recipe("edge.csv", "minmax")).unwrap();
    std::fs::remove_file(d.join("h.safetensors")).unwrap();
    let done = nnt_in(d, &["check", "h.nnt"]);
    assert_eq!(done.code, Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("nnt::data::statistic_overflow")
            && done
                .stderr
                .contains("column `x` of the train split cannot be normalised"),
        "{}",
        done.stderr
    );
    assert!(!d.join("h.safetensors").exists());
}

/// An f32 model of standardised inputs around 1e39 trains and predicts (the
/// statistics are f64), but its shift is inf in float32: `export onnx` wrote
/// that inf into the graph (every output NaN) and exited 0. It is refused.
#[test]
fn values_beyond_float32_are_not_exported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut csv = String::from("a,b,label\n");
    for i in 0..40 {
        let big = (1.0 + (i % 2) as f64 + i as f64 / 100.0) * 1e39;
        csv.push_str(&format!("{big:e},{},{}\n", i as f64 / 40.0, i % 2));
    }
    std::fs::write(d.join("big.csv"), &csv).unwrap();
    std::fs::write(
        d.join("b.nnt"),
        "seed = 1\ndata {\n    train = csv(\"big.csv\", label = \"label\")\n    normalize = standard\n}\nmodel {\n    dense(2)\n}\nloss = cross_entropy\noptimizer = adam(lr = 0.01)\ntrain {\n    epochs = 2\n}\nsave = \"b.safetensors\"\n",
    )
    .unwrap();
    let trained = nnt_in(d, &["run", "b.nnt"]);
    assert_eq!(trained.code, Some(0), "{}", trained.stderr);
    let predicted = nnt_in(d, &["predict", "b.safetensors", "big.csv"]);
    assert_eq!(predicted.code, Some(0), "{}", predicted.stderr);
    let out = nnt_in(d, &["export", "onnx", "b.safetensors", "-o", "b.onnx"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("nnt::export::not_finite"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("`shift`"), "{}", out.stderr);
    assert!(!d.join("b.onnx").exists());
}
