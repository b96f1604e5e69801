//! Shared by the engine's integration tests: a minimal CSV reader and normaliser
//! (so conformance programs can be built without the data module), a hand-built
//! `Program` helper, an observer that records events, and the Rust port of
//! `check.py`'s comparison with PyTorch's reference numbers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nnt::ast::{SourceId, Span};
use nnt::events::{EndEvent, EpochEvent, Event, Observer};
use nnt::io::weights::WeightsFile;
use nnt::ir::*;

pub const LOSS_RTOL: f64 = 1e-4;
pub const WEIGHT_RTOL: f64 = 2e-3;
pub const LR_RTOL: f64 = 1e-6;

/// Records every event.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Vec<Event>,
}

impl Observer for Recorder {
    fn event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}

impl Recorder {
    pub fn epochs(&self) -> Vec<EpochEvent> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Epoch(ep) => Some(ep.clone()),
                _ => None,
            })
            .collect()
    }
    pub fn end(&self) -> Option<EndEvent> {
        self.events.iter().find_map(|e| match e {
            Event::End(end) => Some(end.clone()),
            _ => None,
        })
    }
}

pub fn fixture_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conformance")
        .join(case)
}

/// Reads a CSV with a header row; `labels` name the target columns (in order),
/// every other column is a feature (in file order).
pub fn read_csv(path: &Path, labels: &[&str]) -> Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::trim)
        .collect();
    let label_idx: Vec<usize> = labels
        .iter()
        .map(|l| {
            header
                .iter()
                .position(|h| h == l)
                .unwrap_or_else(|| panic!("no column {l}"))
        })
        .collect();
    let feat_idx: Vec<usize> = (0..header.len())
        .filter(|i| !label_idx.contains(i))
        .collect();
    let mut t = Table {
        rows: 0,
        features: feat_idx.len(),
        targets: label_idx.len(),
        x: vec![],
        y: vec![],
        lines: vec![],
    };
    for line in lines {
        let cells: Vec<f64> = line
            .split(',')
            .map(|c| c.trim().parse::<f64>().expect("number"))
            .collect();
        t.x.extend(feat_idx.iter().map(|&i| cells[i]));
        t.y.extend(label_idx.iter().map(|&i| cells[i]));
        t.rows += 1;
    }
    t
}

/// §4 normalisation, statistics from train only, applied to every split.
pub fn normalize(data: &mut Data, how: Normalize) {
    if how == Normalize::None {
        return;
    }
    let f = data.train.features;
    let n = data.train.rows as f64;
    let mut shift = vec![0.0; f];
    let mut scale = vec![1.0; f];
    for j in 0..f {
        let col: Vec<f64> = (0..data.train.rows)
            .map(|r| data.train.x[r * f + j])
            .collect();
        let min = col.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = col.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        match how {
            Normalize::Standard => {
                let mean = col.iter().sum::<f64>() / n;
                let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                shift[j] = mean;
                scale[j] = if max == min { 1.0 } else { var.sqrt() };
            }
            Normalize::MinMax => {
                shift[j] = min;
                scale[j] = if max == min { f64::INFINITY } else { max - min };
            }
            Normalize::None => {}
        }
    }
    let apply = |t: &mut Table| {
        for r in 0..t.rows {
            for j in 0..f {
                let v = &mut t.x[r * f + j];
                *v = if scale[j].is_infinite() {
                    0.0
                } else {
                    (*v - shift[j]) / scale[j]
                };
            }
        }
    };
    apply(&mut data.train);
    if let Some(v) = data.valid.as_mut() {
        apply(v);
    }
    if let Some(t) = data.test.as_mut() {
        apply(t);
    }
}

/// Layers with widths and indices resolved; `line0` is the line of the first layer.
pub fn layers(input: usize, kinds: Vec<LayerKind>, line0: usize) -> Model {
    let mut width = input;
    let mut out = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        let out_width = match kind {
            LayerKind::Dense { units, .. } => units,
            _ => width,
        };
        out.push(Layer {
            index: i,
            kind,
            in_width: width,
            out_width,
            span: Span::new(SourceId::RECIPE, 0, 0),
            line: line0 + i,
        });
        width = out_width;
    }
    Model {
        input_width: input,
        layers: out,
    }
}

pub fn dense(units: usize) -> LayerKind {
    LayerKind::Dense {
        units,
        init: Init::XavierUniform,
        bias: true,
    }
}

pub fn plan(epochs: usize, batch: Batch) -> TrainPlan {
    TrainPlan {
        epochs,
        batch,
        shuffle: false,
        lr_schedule: Schedule::Constant,
        clip: None,
        early_stop: None,
        metrics: Vec::new(),
    }
}

/// A program over a conformance case's files: `splits` = (train, valid, test) file names.
#[allow(clippy::too_many_arguments)]
pub fn program(
    case: &str,
    splits: (&str, Option<&str>, Option<&str>),
    labels: &[&str],
    norm: Normalize,
    kinds: Vec<LayerKind>,
    loss: Loss,
    optimizer: Optimizer,
    train: TrainPlan,
) -> Program {
    let dir = fixture_dir(case);
    let mut data = Data {
        train: read_csv(&dir.join(splits.0), labels),
        valid: splits.1.map(|f| read_csv(&dir.join(f), labels)),
        test: splits.2.map(|f| read_csv(&dir.join(f), labels)),
        ..Default::default()
    };
    normalize(&mut data, norm);
    let text = std::fs::read_to_string(dir.join("recipe.nnt")).unwrap_or_default();
    let model_line = text
        .lines()
        .position(|l| l.starts_with("model"))
        .map_or(1, |p| p + 1);
    let input = data.train.features;
    Program {
        source: SourceFile {
            name: format!("{case}/recipe.nnt"),
            text: Arc::new(text),
            config: String::new(),
        },
        seed: 1,
        precision: Precision::F32,
        data,
        model: layers(input, kinds, model_line + 1),
        loss,
        optimizer,
        regularize: Regularize::default(),
        train,
        init_from: Some(dir.join("init.safetensors")),
        save: None,
        checkpoint: None,
        diagnose: DiagnoseConfig::default(),
        expect: Vec::new(),
    }
}

fn close(got: f64, want: f64, rtol: f64, floor: f64) -> bool {
    (got - want).abs() <= (rtol * want.abs()).max(floor)
}

fn rows_for(program: &Program, key: &str) -> usize {
    let d = &program.data;
    match key.split('_').next() {
        Some("valid") => d.valid.as_ref().map_or(1, |t| t.rows),
        Some("test") => d.test.as_ref().map_or(1, |t| t.rows),
        _ => d.train.rows,
    }
}

/// check.py's comparison: every epoch field, the end event, the saved tensors.
/// Returns the list of problems (empty when the run matches).
pub fn compare(
    program: &Program,
    rec: &Recorder,
    expected_jsonl: &Path,
    expected_weights: &Path,
    saved: &Path,
) -> Vec<String> {
    let mut problems = Vec::new();
    let text = std::fs::read_to_string(expected_jsonl).expect("expected.jsonl");
    let expected: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let want: Vec<&serde_json::Value> = expected.iter().filter(|e| e["event"] == "epoch").collect();
    let got = rec.epochs();
    if got.len() != want.len() {
        problems.push(format!(
            "{} epoch events, expected {}",
            got.len(),
            want.len()
        ));
    }
    for (g, w) in got.iter().zip(&want) {
        let fields: [(&str, Option<f64>); 8] = [
            ("epoch", Some(g.epoch as f64)),
            ("lr", Some(g.lr)),
            ("train_loss", Some(g.train_loss)),
            ("train_accuracy", g.train_accuracy),
            ("valid_loss", g.valid_loss),
            ("valid_accuracy", g.valid_accuracy),
            ("penalty", g.penalty),
            ("grad_norm", Some(g.grad_norm)),
        ];
        for (key, gv) in fields {
            let wv = w.get(key).and_then(|v| v.as_f64());
            match (gv, wv) {
                (None, None) => {}
                (Some(_), None) => problems.push(format!(
                    "epoch {}: field {key} present but not expected",
                    g.epoch
                )),
                (None, Some(_)) => problems.push(format!("epoch {}: field {key} missing", g.epoch)),
                (Some(gv), Some(wv)) => {
                    let ok = match key {
                        "epoch" => gv == wv,
                        "lr" => close(gv, wv, LR_RTOL, 1e-12),
                        k if k.ends_with("accuracy") => {
                            (gv - wv).abs() <= 1.5 / rows_for(program, k).max(1) as f64
                        }
                        _ => gv.is_finite() && close(gv, wv, LOSS_RTOL, 1e-6),
                    };
                    if !ok {
                        problems.push(format!("epoch {}: {key} = {gv}, expected {wv}", g.epoch));
                    }
                }
            }
        }
    }
    if let Some(w) = expected.iter().find(|e| e["event"] == "end") {
        match rec.end() {
            None => problems.push("no end event".into()),
            Some(end) => {
                for (key, wv) in w.as_object().into_iter().flatten() {
                    let ok = match key.as_str() {
                        "event" => true,
                        "reason" => wv.as_str() == Some(end.reason.as_str()),
                        "epochs" => wv.as_u64() == Some(end.epochs as u64),
                        "best_epoch" => wv.as_u64() == end.best_epoch.map(|e| e as u64),
                        k => {
                            let gv = match k {
                                "test_loss" => end.test_loss,
                                "test_accuracy" => end.test_accuracy,
                                _ => None,
                            };
                            match (gv, wv.as_f64()) {
                                (Some(g), Some(w)) if k.ends_with("accuracy") => {
                                    (g - w).abs() <= 1.5 / rows_for(program, k).max(1) as f64
                                }
                                (Some(g), Some(w)) => g.is_finite() && close(g, w, LOSS_RTOL, 1e-6),
                                _ => false,
                            }
                        }
                    };
                    if !ok {
                        problems.push(format!("end: {key} = {:?}, expected {wv}", end));
                    }
                }
            }
        }
    }
    match (
        WeightsFile::read(saved),
        WeightsFile::read(expected_weights),
    ) {
        (Err(e), _) => problems.push(format!("saved weights unreadable: {e}")),
        (_, Err(e)) => problems.push(format!("expected weights unreadable: {e}")),
        (Ok(have), Ok(want)) => {
            let mut names: Vec<&String> = want.tensors.keys().collect();
            names.sort();
            for name in names {
                let w = &want.tensors[name];
                let Ok(wv) = &w.data else { continue };
                match have.get(name, &w.shape) {
                    Err(e) => problems.push(format!("{name}: {e}")),
                    Ok(hv) => {
                        let scale = wv.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                        let scale = if scale == 0.0 { 1.0 } else { scale };
                        let err = hv
                            .iter()
                            .zip(wv)
                            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                        if err > WEIGHT_RTOL * scale {
                            problems.push(format!(
                                "{name}: max |diff| {err:.3e} > {WEIGHT_RTOL} x {scale:.3e}"
                            ));
                        }
                    }
                }
            }
        }
    }
    problems
}

/// Runs a program with `save` into a temporary directory and compares it with the
/// case's reference files.
pub fn run_and_compare(case: &str, mut program: Program) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = dir.path().join("out.safetensors");
    program.save = Some(saved.clone());
    let mut rec = Recorder::default();
    if let Err(e) = nnt::train::run(&program, &nnt::train::RunOptions::default(), &mut rec) {
        return vec![format!("run failed: {e}")];
    }
    let fx = fixture_dir(case);
    compare(
        &program,
        &rec,
        &fx.join("expected.jsonl"),
        &fx.join("expected.safetensors"),
        &saved,
    )
}
