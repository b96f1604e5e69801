//! Model files whose metadata disagrees with their tensors or with itself are
//! refused when loaded, by every command that loads one (`explain`, `predict`,
//! `eval`, `export onnx`), with `nnt::io::bad_model` naming the file and the
//! mismatch: no abort on a huge width, no panic in the loss, no nonsense
//! output. And `eval` refuses labels that are not classes of the model, as
//! `nnt check` does for training data. Runs the real binary on models trained
//! here and edited as a person (or a bug) might.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn nnt(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnt"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the nnt binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const DATA: &str = "a,b,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n";

/// A recipe on `d.csv` with the given label and loss.
fn recipe(label: &str, loss: &str) -> String {
    format!(
        "seed = 1\ndata {{\n    train = csv(\"d.csv\", label = {label})\n}}\nmodel {{\n    dense(4)\n    tanh\n    dense(2)\n}}\nloss = {loss}\noptimizer = sgd(lr = 0.1)\ntrain {{\n    epochs = 1\n}}\n"
    )
}

/// Trains `recipe` in `dir` and saves the model as `name`.
fn train(dir: &Path, recipe: &str, name: &str) -> PathBuf {
    std::fs::write(dir.join("d.csv"), DATA).unwrap();
    std::fs::write(dir.join("r.nnt"), recipe).unwrap();
    let out = nnt(dir, &["run", "r.nnt", "--save", name]);
    assert!(out.status.success(), "{}", stderr(&out));
    dir.join(name)
}

/// A classifier (cross_entropy, 2 classes) and a regression model (mse on two
/// label columns, so 2 outputs), both on `d.csv`.
fn models() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let class = train(
        dir.path(),
        &recipe("\"label\"", "cross_entropy"),
        "m.safetensors",
    );
    let reg = train(
        dir.path(),
        &recipe("[\"b\", \"label\"]", "mse"),
        "reg.safetensors",
    );
    (dir, class, reg)
}

/// The header (JSON) and the data section of a safetensors file.
fn split(path: &Path) -> (Value, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header, bytes[8 + n..].to_vec())
}

fn join(header: &Value, data: &[u8]) -> Vec<u8> {
    let text = serde_json::to_vec(header).unwrap();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(data);
    out
}

/// A copy of `model` as `name`, its metadata edited by `f` (the values of
/// `nnt.layers`, `nnt.loss` and `nnt.preparation` parsed).
fn edited(model: &Path, name: &str, f: impl FnOnce(&mut Value, &mut Value, &mut Value)) -> PathBuf {
    let (mut header, data) = split(model);
    let md = &mut header["__metadata__"];
    let parse = |v: &Value| serde_json::from_str::<Value>(v.as_str().unwrap()).unwrap();
    let (mut layers, mut loss) = (parse(&md["nnt.layers"]), parse(&md["nnt.loss"]));
    let mut prep = parse(&md["nnt.preparation"]);
    f(&mut layers, &mut loss, &mut prep);
    md["nnt.layers"] = json!(layers.to_string());
    md["nnt.loss"] = json!(loss.to_string());
    md["nnt.preparation"] = json!(prep.to_string());
    let path = model.with_file_name(name);
    std::fs::write(&path, join(&header, &data)).unwrap();
    path
}

/// Every command that loads a model refuses `model` with `code`, naming the
/// file and `what`; `predict` writes nothing.
fn refused_everywhere(dir: &Path, model: &Path, code: &str, what: &str) {
    let m = model.file_name().unwrap().to_str().unwrap();
    let onnx = format!("{m}.onnx");
    for args in [
        vec!["explain", m],
        vec!["predict", m, "d.csv"],
        vec!["eval", m, "d.csv"],
        vec!["eval", m, "d.csv", "--format", "json"],
        vec!["export", "onnx", m, "-o", &onnx],
    ] {
        let out = nnt(dir, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(code), "{args:?}: {err}");
        assert!(err.contains(m), "{args:?}: {err}");
        assert!(err.contains(what), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args[0] == "predict" {
            assert!(out.stdout.is_empty(), "{args:?} wrote output");
        }
    }
    assert!(!dir.join(onnx).exists());
}

#[test]
fn the_trained_models_load() {
    let (dir, class, reg) = models();
    for m in [&class, &reg] {
        let m = m.to_str().unwrap();
        for args in [vec!["explain", m], vec!["eval", m, "d.csv"]] {
            let out = nnt(dir.path(), &args);
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        }
    }
}

/// `"outputs": 2^40` on the last layer aborted allocating
/// 21990232555568 bytes.
#[test]
fn a_width_no_tensor_backs_is_refused_before_allocating() {
    let (dir, class, _) = models();
    let m = edited(&class, "huge_outputs.safetensors", |layers, _, _| {
        layers[2]["outputs"] = json!(1u64 << 40);
    });
    refused_everywhere(
        dir.path(),
        &m,
        "nnt::io::bad_model",
        "tensor `2.weight` must have shape [1099511627776, 4], but it has [2, 4]",
    );
    // A huge first width fails the same way (and a huge input width too).
    let m = edited(&class, "huge_inputs.safetensors", |layers, _, _| {
        layers[0]["inputs"] = json!(1u64 << 40);
    });
    refused_everywhere(dir.path(), &m, "nnt::io::bad_model", "nnt.layers");
}

/// A regression model with more outputs than label columns
/// panicked in the loss (mse.rs:16); so did a classifier given `mse` and a model
/// with a layer deleted.
#[test]
fn the_output_width_must_be_what_the_loss_and_labels_imply() {
    let (dir, class, reg) = models();
    let one_label = edited(&reg, "one_label.safetensors", |_, _, prep| {
        prep["labels"].as_array_mut().unwrap().truncate(1);
    });
    refused_everywhere(
        dir.path(),
        &one_label,
        "nnt::io::bad_model",
        "it has 1 label column, but the mse network has 2 outputs",
    );
    let mse = edited(&class, "mse.safetensors", |_, loss, _| {
        *loss = json!({"type": "mse"});
    });
    refused_everywhere(
        dir.path(),
        &mse,
        "nnt::io::bad_model",
        "mse is a regression loss, but the data preparation has classes",
    );
    let deleted = edited(&reg, "deleted.safetensors", |layers, _, _| {
        layers.as_array_mut().unwrap().truncate(2);
    });
    refused_everywhere(
        dir.path(),
        &deleted,
        "nnt::io::bad_model",
        "the mse network has 4 outputs",
    );
    let deleted = edited(&class, "deleted_class.safetensors", |layers, _, _| {
        layers.as_array_mut().unwrap().truncate(2);
    });
    refused_everywhere(
        dir.path(),
        &deleted,
        "nnt::io::bad_model",
        "it has 2 classes, but the cross_entropy network has 4 outputs",
    );
}

/// Files that loaded and printed nonsense.
#[test]
fn inconsistent_files_that_used_to_load_are_refused() {
    let (dir, class, _) = models();
    let empty = edited(&class, "empty.safetensors", |layers, _, _| {
        *layers = json!([]);
    });
    refused_everywhere(
        dir.path(),
        &empty,
        "nnt::io::bad_model",
        "it lists no layer",
    );
    let bce = edited(&class, "bce.safetensors", |_, loss, _| {
        *loss = json!({"type": "binary_cross_entropy"});
    });
    refused_everywhere(
        dir.path(),
        &bce,
        "nnt::io::bad_model",
        "binary_cross_entropy takes one output (a logit), but the network has 2 outputs",
    );
    for (name, count) in [("zero.safetensors", 0u64), ("many.safetensors", 1 << 40)] {
        let m = edited(&class, name, |_, _, prep| {
            prep["classes"]["count"] = json!(count);
        });
        refused_everywhere(
            dir.path(),
            &m,
            "nnt::io::bad_model",
            &format!("it has {count} classes, but the cross_entropy network has 2 outputs"),
        );
    }
    let no_classes = edited(&class, "no_classes.safetensors", |_, _, prep| {
        prep["classes"] = Value::Null;
    });
    refused_everywhere(
        dir.path(),
        &no_classes,
        "nnt::io::bad_model",
        "it has no classes",
    );
    // A preparation layout this nnt does not know would be misread.
    let newer = edited(&class, "newer_prep.safetensors", |_, _, prep| {
        prep["version"] = json!(99);
    });
    refused_everywhere(
        dir.path(),
        &newer,
        "nnt::io::bad_model",
        "its version is 99; this nnt reads version 1",
    );
}

/// A safetensors file of one F32 tensor `0.weight` [rows, cols] (zeros) and
/// the given metadata.
fn synthetic_model(path: &Path, rows: usize, cols: usize, metadata: Value) {
    let bytes = rows * cols * 4;
    let header = json!({
        "0.weight": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [0, bytes]},
        "__metadata__": metadata,
    });
    std::fs::write(path, join(&header, &vec![0u8; bytes])).unwrap();
}

/// A consistent file whose evaluation buffers would take tens of GiB:
/// `dense(65536)` on one input, then 100 `relu` layers.
#[test]
fn a_model_too_large_to_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = 65536;
    let mut layers =
        vec![json!({"index": 0, "inputs": 1, "outputs": w, "type": "dense", "bias": false})];
    for i in 1..=100 {
        layers.push(json!({"index": i, "inputs": w, "outputs": w, "type": "relu"}));
    }
    let meta = |layers: &[Value]| {
        json!({
            "format": "pt",
            "nnt.version": "0.2.0",
            "nnt.layout": "1",
            "nnt.input_width": "1",
            "nnt.layers": Value::Array(layers.to_vec()).to_string(),
            "nnt.loss": "{\"type\":\"mse\"}",
            "nnt.precision": "f32",
        })
    };
    let path = dir.path().join("wide.safetensors");
    synthetic_model(&path, w, 1, meta(&layers));
    let out = nnt(dir.path(), &["explain", "wide.safetensors"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nnt::io::model_too_large"), "{err}");
    assert!(err.contains("wide.safetensors"), "{err}");
    // The dense layer alone runs.
    synthetic_model(&path, w, 1, meta(&layers[..1]));
    let out = nnt(dir.path(), &["explain", "wide.safetensors"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `eval` counted -1 as class 0 and 1.5 as class 1, and left
/// 7 and 2^64 out of the confusion matrix; `nnt check` refuses these labels.
#[test]
fn eval_refuses_labels_that_are_not_classes() {
    let (dir, class, _) = models();
    let m = class.to_str().unwrap();
    for (label, line) in [
        ("-1", 2),
        ("1.5", 3),
        ("7", 4),
        ("2", 2),
        ("18446744073709551616", 5),
    ] {
        let mut text = String::from("a,b,label\n");
        for l in 2..line {
            text.push_str(&format!("0,{},1\n", l % 2));
        }
        text.push_str(&format!("1,1,{label}\n0,0,0\n"));
        std::fs::write(dir.path().join("bad.csv"), &text).unwrap();
        for format in ["text", "json"] {
            let out = nnt(dir.path(), &["eval", m, "bad.csv", "--format", format]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{label}: {err}");
            assert!(out.stdout.is_empty(), "{label}");
            assert!(err.contains("nnt::predict::bad_cell"), "{label}: {err}");
            assert!(
                err.contains(&format!("bad.csv:{line}: column `label` holds `{label}`")),
                "{label}: {err}"
            );
            assert!(err.contains("labels are 0 or 1"), "{label}: {err}");
        }
    }
    // Whole labels in range, however written, are classes.
    std::fs::write(
        dir.path().join("ok.csv"),
        "a,b,label\n0,0,0\n0,1,1.0\n1,0,1e0\n",
    )
    .unwrap();
    let out = nnt(dir.path(), &["eval", m, "ok.csv", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rows"], 3);
    let matrix = &report["confusion"]["matrix"];
    let counted: u64 = matrix
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 3);
}
