//! `nnt export torch R.nnt -o DIR` (spec §17): a self-contained PyTorch program for
//! a checked recipe.
//!
//! Everything comes from the [`Program`] (never the recipe text), so the export
//! accepts exactly what `nnt check` accepts. DIR receives:
//!
//! - `train.py`: the template `export_torch/train.py` with the model, loss,
//!   optimizer, schedule and the recipe's settings rendered in;
//! - `data.safetensors`: `{split}_x` [rows, features] and `{split}_y` [rows,
//!   targets] (F64) for every split, the rows exactly as nnt selected and prepared
//!   them (class labels as exact integers, converted to indices by `train.py`);
//! - `init.safetensors`: the start parameters (and batch-norm running
//!   statistics) as nnt draws them or `init_from` gives them, in the precision;
//! - `model_meta.json`: the `__metadata__` nnt writes into a model file (§15),
//!   which `train.py --save` writes again.
//!
//! No path of the exporting machine is written: `train.py` finds its files beside
//! itself, and the recipe's `save` and `checkpoint` paths become names relative
//! to DIR.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use safetensors::Dtype;
use thiserror::Error;

use crate::io::atomic::write_atomic_all;
use crate::io::guard::{self, IoError};
use crate::io::model_file::ModelMeta;
use crate::io::weights::{self, OutTensor, WeightsError, WeightsFile};
use crate::ir::Task;
use crate::ir::{Batch, Clip, LayerKind, Loss, Monitor, Precision, Program, Schedule, Table};
use crate::report::number::{python as py, python_bool as py_bool};
use crate::train::init;
use crate::train::layers::{self, Node};
use crate::train::network::Network;
use crate::train::optim;
use crate::train::snapshot;

/// The Python template, rendered by [`render_train_py`].
pub const TEMPLATE: &str = include_str!("export_torch/train.py");

/// What can go wrong while exporting (the recipe itself is already checked).
#[derive(Debug, Error, Diagnostic)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    #[diagnostic(
        code(nnt::export::write),
        help("`-o` names the folder to write into: a new folder, or a writable one that exists")
    )]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `init_from` unreadable or not fitting the model.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Weights(#[from] WeightsError),
    /// A file of the export that is one of the recipe's inputs
    /// (`nnt::io::output_is_input`): `nnt export torch ft.nnt -o .` where `ft.nnt`
    /// has `init_from = "init.safetensors"`, or a recipe or data file named
    /// `train.py`, `data.safetensors` or `model_meta.json` in DIR (also through a
    /// link); or two files of the export that are one (`nnt::io::outputs_collide`:
    /// `DIR/init.safetensors` a link to `DIR/data.safetensors`).
    /// Test: tests/it/cli_outputs_guard.rs `export_torch_never_replaces_the_recipe_inputs`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
}

/// The files of an export, by name inside DIR, in the order written.
pub struct Export {
    pub files: Vec<(String, Vec<u8>)>,
}

/// Builds every file of the export of `program` (nothing is written yet).
pub fn build(program: &Program) -> Result<Export, ExportError> {
    let [train_py, data, init, meta_json] = FILES;
    let mut files = Vec::new();
    files.push((train_py.to_string(), render_train_py(program).into_bytes()));
    files.push((data.to_string(), data_bytes(program)?));
    files.push((init.to_string(), init_bytes(program)?));
    let meta: BTreeMap<String, String> = model_meta(program).entries().into_iter().collect();
    let mut json = serde_json::to_string_pretty(&meta).unwrap_or_default();
    json.push('\n');
    files.push((meta_json.to_string(), json.into_bytes()));
    Ok(Export { files })
}

/// The names of the files an export writes into DIR, in the order written.
pub const FILES: [&str; 4] = [
    "train.py",
    "data.safetensors",
    "init.safetensors",
    "model_meta.json",
];

/// Refuses an export into `dir` that would replace one of the recipe's inputs:
/// `inputs` (role, path: the recipe and its data files, as the caller read them)
/// and the program's `init_from` weights; and files of the export that are one.
pub fn check_outputs(
    program: &Program,
    dir: &Path,
    inputs: &[(String, PathBuf)],
) -> Result<(), IoError> {
    let paths: Vec<PathBuf> = FILES.iter().map(|n| dir.join(n)).collect();
    let outs: Vec<(&str, &Path)> = paths
        .iter()
        .map(|p| ("exported file", p.as_path()))
        .collect();
    let mut ins: Vec<(&str, &Path)> = inputs
        .iter()
        .map(|(r, p)| (r.as_str(), p.as_path()))
        .collect();
    if let Some(p) = &program.init_from {
        ins.push(("init_from weights", p));
    }
    guard::outputs_are_not_inputs(&outs, &ins)?;
    guard::outputs_are_distinct(&outs)
}

/// Writes the export of `program` into `dir` (created if absent); returns the
/// paths written. Nothing is written when a file of the export would replace one
/// of `inputs` (the recipe and its data files) or the `init_from` weights.
pub fn export(
    program: &Program,
    dir: &Path,
    inputs: &[(String, PathBuf)],
) -> Result<Vec<PathBuf>, ExportError> {
    check_outputs(program, dir, inputs)?;
    let export = build(program)?;
    let existed = dir.exists();
    crate::io::atomic::create_out_dir(dir).map_err(|source| ExportError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    // The files belong together (train.py reads the data and weights beside
    // it): all of them or none, never a new train.py beside an old export's
    // data after a full disk.
    let written: Vec<PathBuf> = export.files.iter().map(|(n, _)| dir.join(n)).collect();
    let files = written
        .iter()
        .zip(&export.files)
        .map(|(path, (_, bytes))| (path.as_path(), bytes.as_slice()));
    write_atomic_all(files).map_err(|(path, source)| {
        if !existed {
            // The folder this call made, empty again: gone (never one that was there).
            let _ = std::fs::remove_dir(dir);
        }
        ExportError::Write {
            path: path.display().to_string(),
            source,
        }
    })?;
    Ok(written)
}

/// The model-file metadata nnt writes for this program (the same function the
/// trainer's `save` uses, so the two can never differ).
pub fn model_meta(program: &Program) -> ModelMeta {
    snapshot::model_meta(program)
}

fn dtype(program: &Program) -> Dtype {
    match program.precision {
        Precision::F32 => Dtype::F32,
        Precision::F64 => Dtype::F64,
    }
}

/// The rows of every split, as nnt prepared them, in f64.
fn data_bytes(program: &Program) -> Result<Vec<u8>, ExportError> {
    let mut tensors = Vec::new();
    let mut add = |name: &str, t: &Table| {
        tensors.push(OutTensor {
            name: format!("{name}_x"),
            shape: vec![t.rows, t.features],
            data: t.x.clone(),
        });
        tensors.push(OutTensor {
            name: format!("{name}_y"),
            shape: vec![t.rows, t.targets],
            data: t.y.clone(),
        });
    };
    add("train", &program.data.train);
    if let Some(v) = &program.data.valid {
        add("valid", v);
    }
    if let Some(t) = &program.data.test {
        add("test", t);
    }
    weights::serialize(&tensors, Dtype::F64, None).map_err(|e| write_error("data.safetensors", e))
}

fn write_error(name: &str, e: String) -> ExportError {
    ExportError::Write {
        path: name.to_string(),
        source: std::io::Error::other(e),
    }
}

/// The start parameters: drawn from the Init stream exactly as the trainer does,
/// then replaced by `init_from` when the recipe has it.
pub fn initial_tensors(program: &Program) -> Result<Vec<OutTensor>, ExportError> {
    let mut net = Network::<f64>::new(&program.model, 1);
    let mut rng = crate::rng::generator(program.seed, crate::rng::Stream::Init);
    for slot in &net.layers {
        if let Node::Dense(d) = &slot.node {
            let how = program
                .model
                .layers
                .iter()
                .find(|l| l.index == slot.index)
                .and_then(|l| {
                    // Only a dense layer has an initialiser to export.
                    if let LayerKind::Dense { init, .. } = &l.kind {
                        Some(*init)
                    } else {
                        None
                    }
                });
            if let Some(how) = how {
                let (wo, wl) = (d.weight, d.weight_len());
                let (head, tail) = net.params.split_at_mut(wo + wl);
                let w = &mut head[wo..];
                let b = d
                    .bias
                    .map(|bo| &mut tail[bo - (wo + wl)..bo - (wo + wl) + d.units]);
                init::dense(&how, d.inputs, d.units, w, b, &mut rng);
            }
        }
    }
    if program.precision == Precision::F32 {
        // The trainer draws in its precision: round as it does.
        net.params.iter_mut().for_each(|v| *v = *v as f32 as f64);
    }
    if let Some(path) = &program.init_from {
        let file = WeightsFile::read(path)?;
        snapshot::load_parameters(&mut net, &file, "")?;
    }
    Ok(snapshot::model_tensors(&net))
}

fn init_bytes(program: &Program) -> Result<Vec<u8>, ExportError> {
    let tensors = initial_tensors(program)?;
    weights::serialize(&tensors, dtype(program), None)
        .map_err(|e| write_error("init.safetensors", e))
}

// ---------------------------------------------------------------- train.py

fn py_str(s: &str) -> String {
    // JSON string escapes are valid Python string escapes.
    serde_json::to_string(s).unwrap_or_else(|_| "''".into())
}

/// The last component of a path (no folder of the exporting machine).
fn base_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into())
}

/// `train.py` for `program`.
pub fn render_train_py(program: &Program) -> String {
    let recipe = base_name(Path::new(&program.source.name));
    TEMPLATE
        .replace("__NNT_RECIPE__", &recipe)
        .replace("__NNT_VERSION__", env!("CARGO_PKG_VERSION"))
        .replace("__NNT_CONFIG__", &render_config(program, &recipe))
        .replace("__NNT_MODEL__", &render_model(program))
        .replace("__NNT_LOSS__", &render_loss(&program.loss))
        .replace("__NNT_OPTIMIZER__", &optim::torch(&program.optimizer))
        .replace("__NNT_SCHEDULER__", &render_scheduler(program))
        .replace(
            "__NNT_DIVERGED_HELP__",
            &py_str(&crate::train::diagnose::Facts::of(program).divergence_help()),
        )
}

fn render_config(program: &Program, recipe: &str) -> String {
    let plan = &program.train;
    let reg = &program.regularize;
    let (task, classes) = match program.loss.task() {
        Task::Multiclass => ("\"multiclass\"", program.model.output_width().to_string()),
        Task::Binary => ("\"binary\"", "2".to_string()),
        Task::Regression => ("None", "None".to_string()),
    };
    let batch = match plan.batch {
        Batch::Size(n) => n.to_string(),
        Batch::Full => "None".to_string(),
    };
    let clip = match plan.clip {
        None => "None".to_string(),
        Some(Clip::Norm(c)) => format!("(\"norm\", {})", py(c)),
        Some(Clip::Value(c)) => format!("(\"value\", {})", py(c)),
    };
    let early = match &plan.early_stop {
        None => "None".to_string(),
        Some(es) => format!(
            "{{\"patience\": {}, \"monitor\": {}, \"min_delta\": {}, \"higher\": {}}}",
            es.patience,
            py_str(es.monitor.name()),
            py(es.min_delta),
            py_bool(es.monitor.higher_is_better())
        ),
    };
    let plateau = match &plan.lr_schedule {
        Schedule::ReduceOnPlateau { monitor, .. } => py_str(monitor.name()),
        _ => "None".to_string(),
    };
    let metrics: Vec<String> = plan.metrics.iter().map(|m| py_str(m.name())).collect();
    let checkpoint = match &program.checkpoint {
        None => "None".to_string(),
        Some(c) => format!(
            "{{\"every\": {}, \"path\": {}, \"keep\": {}}}",
            c.every.max(1),
            py_str(&base_name(&c.path)),
            c.keep.max(1)
        ),
    };
    let save = match &program.save {
        None => "None".to_string(),
        Some(p) => py_str(&base_name(p)),
    };
    let dropped = program
        .data
        .dropped_rows
        .map_or("None".to_string(), |d| d.to_string());
    // normalize_targets = standard: regression metrics are logged in original units.
    let target_scaling = match program.data.prep.as_ref().and_then(|p| p.targets.as_ref()) {
        None => "None".to_string(),
        Some(t) => {
            let list = |v: &[f64]| v.iter().map(|&x| py(x)).collect::<Vec<_>>().join(", ");
            format!(
                "{{\"mean\": [{}], \"std\": [{}]}}",
                list(&t.mean),
                list(&t.std)
            )
        }
    };
    let mut s = String::from("{\n");
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(s, "    {}: {v},", py_str(k));
    };
    kv("recipe", py_str(recipe));
    kv("seed", program.seed.to_string());
    kv(
        "precision",
        py_str(match program.precision {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }),
    );
    kv("task", task.to_string());
    kv("classes", classes);
    kv("epochs", plan.epochs.to_string());
    kv("batch", batch);
    kv("shuffle", py_bool(plan.shuffle).to_string());
    kv("l1", py(reg.l1));
    kv("l2", py(reg.l2));
    kv("has_penalty", py_bool(reg.has_penalty).to_string());
    kv("max_norm", reg.max_norm.map_or("None".to_string(), py));
    kv("clip", clip);
    kv("early_stop", early);
    kv("plateau_monitor", plateau);
    kv("metrics", format!("[{}]", metrics.join(", ")));
    kv("checkpoint", checkpoint);
    kv("save", save);
    kv("dropped_rows", dropped);
    kv("target_scaling", target_scaling);
    // Each layer's name and place in the recipe, as nnt's diagnostics name it.
    let layers: Vec<String> = program
        .model
        .layers
        .iter()
        .map(|l| {
            format!(
                "{}: ({}, {})",
                l.index,
                py_str(l.kind.name()),
                py_str(&crate::ir::layer_place(l.line))
            )
        })
        .collect();
    kv("layers", format!("{{{}}}", layers.join(", ")));
    // `expect` (§16): the field, the bound (`at least` / `at most`) and its value.
    let expect: Vec<String> = program
        .expect
        .iter()
        .map(|x| {
            let (how, v) = match x.bound {
                crate::ir::Bound::AtLeast(v) => ("at least", v),
                crate::ir::Bound::AtMost(v) => ("at most", v),
            };
            format!("({}, {}, {})", py_str(&x.field), py_str(how), py(v))
        })
        .collect();
    kv("expect", format!("[{}]", expect.join(", ")));
    // The start event's `nnt` and `config` (§18), as `nnt run` logs them.
    kv("nnt", py_str(env!("CARGO_PKG_VERSION")));
    kv("config", py_str(&program.source.config));
    s.push('}');
    s
}

/// One line per layer, its index as a comment.
fn render_model(program: &Program) -> String {
    let mut s = String::new();
    for l in &program.model.layers {
        let module = layers::concept(&l.kind).torch(l.in_width);
        let (code, comment) = match module.split_once("  # ") {
            Some((c, r)) => (c.to_string(), format!(": {r}")),
            None => (module.clone(), String::new()),
        };
        let _ = writeln!(s, "        {code},  # {}{comment}", l.index);
    }
    s.trim_end_matches('\n').to_string()
}

fn render_loss(loss: &Loss) -> String {
    match *loss {
        Loss::CrossEntropy { label_smoothing } => {
            format!(
                "nn.CrossEntropyLoss(label_smoothing={})",
                py(label_smoothing)
            )
        }
        Loss::BinaryCrossEntropy => "nn.BCEWithLogitsLoss()".into(),
        Loss::Mse => "nn.MSELoss()".into(),
        Loss::Mae => "nn.L1Loss()".into(),
        Loss::Huber { delta } => format!("nn.HuberLoss(delta={})", py(delta)),
    }
}

/// The body of `build_scheduler`: torch's scheduler where it has the rule, a
/// `LambdaLR` with the rule written out for the warm-up.
fn render_scheduler(program: &Program) -> String {
    let epochs = program.train.epochs;
    let base = program.optimizer.lr();
    match &program.train.lr_schedule {
        Schedule::Constant => "    return None  # constant".into(),
        Schedule::ReduceOnPlateau {
            factor,
            patience,
            monitor,
        } => format!(
            "    # §9: threshold 0 (strictly better), no cooldown, changes of at most 1e-8 skipped.\n    return torch.optim.lr_scheduler.ReduceLROnPlateau(\n        optimizer, mode={}, factor={}, patience={}, threshold=0.0, cooldown=0, eps=1e-8\n    )  # monitors {}",
            if monitor.higher_is_better() { "\"max\"" } else { "\"min\"" },
            py(*factor),
            patience,
            monitor_name(monitor)
        ),
        Schedule::Warmup { epochs: w, then } => {
            let inner = inner_factor(then, base, epochs.saturating_sub(*w).max(1), "e - W");
            format!(
                "    W = {w}  # warm-up epochs: epoch e <= W uses base * e / W\n\n    def factor(done):  # done = epochs finished, so this is for epoch done + 1\n        e = done + 1\n        if e <= W:\n            return e / W\n        return {inner}\n\n    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)"
            )
        }
        other => format!("    return {}", torch_scheduler(other, base, epochs)),
    }
}

fn monitor_name(m: &Monitor) -> &'static str {
    m.name()
}

fn torch_scheduler(s: &Schedule, _base: f64, epochs: usize) -> String {
    match s {
        Schedule::Step { every, factor } => format!(
            "torch.optim.lr_scheduler.StepLR(optimizer, step_size={every}, gamma={})",
            py(*factor)
        ),
        Schedule::Exponential { gamma } => format!(
            "torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma={})",
            py(*gamma)
        ),
        Schedule::Cosine { min_lr } => format!(
            "torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={epochs}, eta_min={})",
            py(*min_lr)
        ),
        // render_scheduler writes these itself.
        Schedule::Constant | Schedule::Warmup { .. } | Schedule::ReduceOnPlateau { .. } => {
            "None".into()
        }
    }
}

/// The inner schedule of a warm-up as a factor of the base rate, at inner epoch
/// `var` (from 1) of `epochs`.
fn inner_factor(s: &Schedule, base: f64, epochs: usize, var: &str) -> String {
    match s {
        Schedule::Step { every, factor } => {
            format!("{} ** (({var} - 1) // {every})", py(*factor))
        }
        Schedule::Exponential { gamma } => format!("{} ** ({var} - 1)", py(*gamma)),
        Schedule::Cosine { min_lr } => format!(
            "({m} + ({b} - {m}) * (1 + math.cos(math.pi * ({var} - 1) / {epochs})) / 2) / {b}",
            m = py(*min_lr),
            b = py(base)
        ),
        // Constant; a warm-up's inner schedule is neither of the others (§9).
        Schedule::Constant | Schedule::Warmup { .. } | Schedule::ReduceOnPlateau { .. } => {
            "1.0".into()
        }
    }
}
