//! The checked program: what [`crate::check`] produces and the only thing
//! [`crate::train`] ever sees.
//!
//! Architecture invariant: a `Program` that exists is valid. Every default is
//! filled in, every name is resolved to an enum, every layer knows its input and
//! output width, the data is loaded, split and normalised, and every label fits the
//! loss and the output width. The trainer never re-validates and never reports a
//! recipe error.

use std::path::PathBuf;
use std::sync::Arc;

use crate::ast::Span;
use crate::data::prep::Preparation;
pub use crate::data::table::{Missing, Normalize, Table};

/// Floating-point type of the model and of all training arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    F32,
    F64,
}

impl Precision {
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::F64];

    /// Whether `v` is finite in this precision (an f64 beyond f32's range is
    /// not: it becomes infinite there).
    #[inline]
    pub fn holds(self, v: f64) -> bool {
        match self {
            Precision::F32 => (v as f32).is_finite(),
            Precision::F64 => v.is_finite(),
        }
    }

    /// The recipe name (`precision = …`).
    pub fn name(&self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// The recipe text, kept so that run-time diagnostics can point at a layer's line.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as given on the command line (what the `start` event prints).
    pub name: String,
    pub text: Arc<String>,
    /// The recipe after `--set` overrides, in `nnt fmt` layout (§18: the `start`
    /// event's `config`).
    pub config: String,
}

impl SourceFile {
    /// 1-based line number of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }
}

#[derive(Debug, Clone)]
pub struct Program {
    pub source: SourceFile,
    pub seed: u64,
    pub precision: Precision,
    pub data: Data,
    pub model: Model,
    pub loss: Loss,
    pub optimizer: Optimizer,
    pub regularize: Regularize,
    pub train: TrainPlan,
    /// Absolute (or recipe-relative resolved) path of the start weights.
    pub init_from: Option<PathBuf>,
    /// Where to write the final (or best) parameters; `--save` already applied.
    pub save: Option<PathBuf>,
    pub checkpoint: Option<CheckpointPlan>,
    pub diagnose: DiagnoseConfig,
    /// The `expect { … }` section (§16), in recipe order.
    pub expect: Vec<Expectation>,
}

/// Largest evaluation chunk, so that evaluating a big valid split does not need
/// buffers larger than training does.
pub const EVAL_CHUNK: usize = 512;

impl Program {
    /// The rows of a training batch (the whole train split for `batch = full`,
    /// and never more than it).
    pub fn batch_rows(&self) -> usize {
        let train_rows = self.data.train.rows;
        self.train.batch.rows(train_rows).min(train_rows.max(1))
    }

    /// The rows the network's buffers hold: a training batch, or an evaluation
    /// chunk of the largest valid/test split, whichever is larger (at least 1).
    /// The trainer allocates this; the checker's memory bound counts it.
    pub fn row_capacity(&self) -> usize {
        let data = &self.data;
        let batch = self.batch_rows();
        let eval_rows = [data.valid.as_ref(), data.test.as_ref()]
            .iter()
            .flatten()
            .map(|t| t.rows)
            .max()
            .unwrap_or(0);
        batch.max(eval_rows.min(EVAL_CHUNK)).max(1)
    }
}

// ---------------------------------------------------------------- data

/// How the data section was written, resolved: what [`crate::data::load`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    pub train: SourceSpec,
    pub valid: Option<SourceSpec>,
    pub test: Option<SourceSpec>,
    pub normalize: Normalize,
    /// `features = [...]` (§14): only these columns, in this order.
    pub features: Option<Vec<ColumnRef>>,
    /// `ignore = [...]`.
    pub ignore: Vec<ColumnRef>,
    /// `categorical = [...]`.
    pub categorical: Vec<ColumnRef>,
    pub missing: Missing,
    /// `normalize_targets = standard`.
    pub normalize_targets: bool,
    /// Set by the checker from the loss: `Some(C)` for classification (C the
    /// model's output width; 2 for binary cross-entropy), so label cells may be
    /// class names. `None`: regression.
    pub classification: Option<usize>,
    /// Set by the checker from `precision`: every prepared value (normalised
    /// feature, target in training units) must be finite in it, since the
    /// network gets it so.
    pub precision: Precision,
}

impl DataSpec {
    /// A data section with only `train` (every §14 item at its default).
    pub fn new(train: SourceSpec) -> DataSpec {
        DataSpec {
            train,
            valid: None,
            test: None,
            normalize: Normalize::None,
            features: None,
            ignore: Vec::new(),
            categorical: Vec::new(),
            missing: Missing::Error,
            normalize_targets: false,
            classification: None,
            precision: Precision::F32,
        }
    }
}

impl DataSpec {
    /// The files the data is read from, in train, valid, test order.
    pub fn files(&self) -> Vec<&std::path::Path> {
        [Some(&self.train), self.valid.as_ref(), self.test.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|s| match s {
                SourceSpec::Csv(c) => Some(c.path.as_path()),
                _ => None,
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    Csv(CsvSpec),
    /// `split(train, fraction)`: only for valid and test.
    Split {
        fraction: f64,
        /// `stratify = true`: every class gives its share (§14).
        stratify: bool,
    },
    Blobs {
        n: usize,
        features: usize,
        classes: usize,
        spread: f64,
    },
    Spirals {
        n: usize,
        classes: usize,
        noise: f64,
    },
    Moons {
        n: usize,
        noise: f64,
    },
    Xor {
        n: usize,
        noise: f64,
    },
    Linear {
        n: usize,
        features: usize,
        targets: usize,
        noise: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CsvSpec {
    /// Resolved against the recipe's directory.
    pub path: PathBuf,
    /// The path as written in the recipe (for messages).
    pub display: String,
    /// One or more target columns, in output-unit order.
    pub label: Vec<ColumnRef>,
    pub header: bool,
    pub delimiter: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRef {
    Name(String),
    Index(usize),
}

/// The loaded, split and normalised data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Data {
    pub train: Table,
    pub valid: Option<Table>,
    pub test: Option<Table>,
    /// Everything learnt from the train split (§14), applied to every split:
    /// what a model file stores and `predict` applies. `None` only for data built
    /// by hand (tests).
    pub prep: Option<Preparation>,
    /// Rows removed by `missing = drop`, over all files (the start event's
    /// `dropped_rows`); `None` unless `missing = drop`.
    pub dropped_rows: Option<usize>,
    /// Per split (train, valid, test): the row count of each class, for
    /// classification (for `explain` and the lints).
    pub class_counts: Vec<(String, Vec<usize>)>,
    /// Categorical cells of valid/test whose category train does not have.
    pub unseen_categories: usize,
}

// ---------------------------------------------------------------- model

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Number of feature columns.
    pub input_width: usize,
    /// Layers in network order (an `input(N)` layer is not one of them).
    pub layers: Vec<Layer>,
}

impl Model {
    pub fn output_width(&self) -> usize {
        self.layers.last().map_or(self.input_width, |l| l.out_width)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// `nn.Sequential` index: parameter names are `{index}.weight` and so on.
    pub index: usize,
    pub kind: LayerKind,
    pub in_width: usize,
    pub out_width: usize,
    /// Where the layer is written, for run-time diagnostics.
    pub span: Span,
    /// 1-based line of the layer in the recipe; 0 for a layer an override
    /// (`--set model.0=dense(5)`) gave.
    pub line: usize,
}

/// Where a layer is written, in words: `line 7`, or `--set` for a layer an
/// override gave (its line is 0: it is in no line of the recipe).
pub fn layer_place(line: usize) -> String {
    if line == 0 {
        "--set".to_string()
    } else {
        format!("line {line}")
    }
}

impl Layer {
    /// Trainable parameters of this layer.
    pub fn trainable(&self) -> usize {
        self.kind.trainable(self.in_width, self.out_width)
    }
}

/// A layer's kind and settings. Serialised as a model file's layer
/// (docs/model-files.md: `{"type": "dense", "bias": true}`): a dense layer's
/// width is the layer's `outputs` there and its initialiser is not kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerKind {
    Dense {
        #[serde(skip)]
        units: usize,
        #[serde(skip, default = "init_not_kept")]
        init: Init,
        bias: bool,
    },
    Relu,
    Sigmoid,
    Tanh,
    Gelu,
    Softmax,
    LeakyRelu {
        slope: f64,
    },
    Elu {
        alpha: f64,
    },
    Dropout {
        p: f64,
    },
    BatchNorm {
        momentum: f64,
        eps: f64,
    },
    /// `layer_norm(eps)` (v1.2): `k.weight` and `k.bias` of the layer's width.
    LayerNorm {
        eps: f64,
    },
}

/// The initialiser of a dense layer read back from a model file, which does not
/// keep it (its weights are in the file).
fn init_not_kept() -> Init {
    Init::Zeros
}

/// What a layer is to the rules that reason about the network as a whole: §5's
/// default initialiser, the check-time lints and the run-time help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `dense`: an affine map with weights.
    Affine,
    /// relu, leaky_relu, elu, gelu: he initialisation before them.
    ReluLike,
    /// sigmoid, tanh: saturate for large inputs.
    Saturating,
    /// softmax: probabilities over the features.
    Probabilities,
    /// dropout, batch_norm: neither change the function class nor count as an
    /// activation (batch_norm is affine in evaluation).
    Transparent,
    /// layer_norm: normalises each row (not affine, so two dense layers around it
    /// are not one).
    RowNormalising,
}

impl Family {
    /// Whether §5's default-init rule looks past the layer to find the activation
    /// a dense layer feeds: the transparent ones and layer_norm.
    pub fn init_looks_past(self) -> bool {
        matches!(self, Family::Transparent | Family::RowNormalising)
    }
}

impl LayerKind {
    /// The layer's family (the one home of "relu-like", "saturating",
    /// "transparent").
    pub fn family(&self) -> Family {
        match self {
            LayerKind::Dense { .. } => Family::Affine,
            LayerKind::Relu
            | LayerKind::LeakyRelu { .. }
            | LayerKind::Elu { .. }
            | LayerKind::Gelu => Family::ReluLike,
            LayerKind::Sigmoid | LayerKind::Tanh => Family::Saturating,
            LayerKind::Softmax => Family::Probabilities,
            LayerKind::Dropout { .. } | LayerKind::BatchNorm { .. } => Family::Transparent,
            LayerKind::LayerNorm { .. } => Family::RowNormalising,
        }
    }

    /// Trainable parameters of the layer between widths `in_width` and
    /// `out_width`: dense weights and biases, the normalisations' scale and shift.
    pub fn trainable(&self, in_width: usize, out_width: usize) -> usize {
        match *self {
            LayerKind::Dense { units, bias, .. } => units
                .saturating_mul(in_width)
                .saturating_add(if bias { units } else { 0 }),
            LayerKind::BatchNorm { .. } | LayerKind::LayerNorm { .. } => {
                out_width.saturating_mul(2)
            }
            LayerKind::Relu
            | LayerKind::Sigmoid
            | LayerKind::Tanh
            | LayerKind::Gelu
            | LayerKind::Softmax
            | LayerKind::LeakyRelu { .. }
            | LayerKind::Elu { .. }
            | LayerKind::Dropout { .. } => 0,
        }
    }

    /// Values kept besides the trainable parameters: batch_norm's running mean
    /// and variance.
    pub fn buffers(&self, out_width: usize) -> usize {
        if matches!(self, LayerKind::BatchNorm { .. }) {
            out_width.saturating_mul(2)
        } else {
            0
        }
    }

    /// Whether the layer normalises its input over the batch or the row
    /// (batch_norm, layer_norm): a deep stack of saturating activations is no
    /// lint then.
    pub fn normalises(&self) -> bool {
        matches!(
            self,
            LayerKind::BatchNorm { .. } | LayerKind::LayerNorm { .. }
        )
    }

    /// Whether training keeps a copy of the layer's output per row besides the
    /// activations (batch_norm's and layer_norm's normalised rows, dropout's
    /// mask, gelu's erf terms), for the memory bound.
    pub fn caches_rows(&self) -> bool {
        self.normalises() || matches!(self, LayerKind::Dropout { .. } | LayerKind::Gelu)
    }

    /// The recipe name of the layer.
    pub fn name(&self) -> &'static str {
        match self {
            LayerKind::Dense { .. } => "dense",
            LayerKind::Relu => "relu",
            LayerKind::Sigmoid => "sigmoid",
            LayerKind::Tanh => "tanh",
            LayerKind::Gelu => "gelu",
            LayerKind::Softmax => "softmax",
            LayerKind::LeakyRelu { .. } => "leaky_relu",
            LayerKind::Elu { .. } => "elu",
            LayerKind::Dropout { .. } => "dropout",
            LayerKind::BatchNorm { .. } => "batch_norm",
            LayerKind::LayerNorm { .. } => "layer_norm",
        }
    }
}

/// Weight initialiser of a dense layer (§5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    HeUniform,
    HeNormal,
    XavierUniform,
    XavierNormal,
    LecunNormal,
    Normal { std: f64 },
    Uniform { limit: f64 },
    Zeros,
    TorchDefault,
}

impl Init {
    pub fn name(&self) -> &'static str {
        match self {
            Init::HeUniform => "he_uniform",
            Init::HeNormal => "he_normal",
            Init::XavierUniform => "xavier_uniform",
            Init::XavierNormal => "xavier_normal",
            Init::LecunNormal => "lecun_normal",
            Init::Normal { .. } => "normal",
            Init::Uniform { .. } => "uniform",
            Init::Zeros => "zeros",
            Init::TorchDefault => "torch_default",
        }
    }
}

// ---------------------------------------------------------------- loss

/// Serialised as a model file's `nnt.loss` (docs/model-files.md).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Loss {
    CrossEntropy { label_smoothing: f64 },
    BinaryCrossEntropy,
    Mse,
    Mae,
    Huber { delta: f64 },
}

/// What a loss makes of the network's output: the one home of "classification
/// or regression" (labels, the class count, `predict`'s columns, the ONNX
/// output, the exported program's task).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// `cross_entropy`: one logit per class.
    Multiclass,
    /// `binary_cross_entropy`: one logit, the positive class.
    Binary,
    /// `mse`, `mae`, `huber`: the targets.
    Regression,
}

impl Loss {
    /// Classification losses log accuracy.
    pub fn is_classification(&self) -> bool {
        self.task() != Task::Regression
    }

    /// What the loss makes of the output.
    pub fn task(&self) -> Task {
        match self {
            Loss::CrossEntropy { .. } => Task::Multiclass,
            Loss::BinaryCrossEntropy => Task::Binary,
            Loss::Mse | Loss::Mae | Loss::Huber { .. } => Task::Regression,
        }
    }
    /// The recipe name of the loss.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::CrossEntropy { .. } => "cross_entropy",
            Loss::BinaryCrossEntropy => "binary_cross_entropy",
            Loss::Mse => "mse",
            Loss::Mae => "mae",
            Loss::Huber { .. } => "huber",
        }
    }
}

// ---------------------------------------------------------------- optimizer

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    Sgd {
        lr: f64,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
        weight_decay: f64,
    },
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        amsgrad: bool,
    },
    AdamW {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    },
    RmsProp {
        lr: f64,
        alpha: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
        weight_decay: f64,
    },
    Adagrad {
        lr: f64,
        eps: f64,
        weight_decay: f64,
    },
    /// `nadam(...)` (v1.2): `torch.optim.NAdam` (coupled weight decay).
    NAdam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        momentum_decay: f64,
    },
}

impl Optimizer {
    /// The base learning rate (the schedule scales from it).
    pub fn lr(&self) -> f64 {
        match *self {
            Optimizer::Sgd { lr, .. }
            | Optimizer::Adam { lr, .. }
            | Optimizer::AdamW { lr, .. }
            | Optimizer::RmsProp { lr, .. }
            | Optimizer::Adagrad { lr, .. }
            | Optimizer::NAdam { lr, .. } => lr,
        }
    }
    /// State buffers the rule keeps, each as long as the parameters (the
    /// memory bound; the engine's `optim::Rule::buffers`).
    pub fn state_buffers(&self) -> usize {
        match *self {
            Optimizer::Sgd { momentum, .. } => usize::from(momentum != 0.0),
            Optimizer::Adam { amsgrad, .. } => 2 + usize::from(amsgrad),
            Optimizer::AdamW { .. } | Optimizer::NAdam { .. } => 2,
            Optimizer::RmsProp {
                momentum, centered, ..
            } => 1 + usize::from(momentum != 0.0) + usize::from(centered),
            Optimizer::Adagrad { .. } => 1,
        }
    }

    /// The learning rates outside which the lint warns (low, high), and the
    /// typical range it suggests: plain gradient steps or adaptive ones.
    pub fn usual_lr(&self) -> (f64, f64, &'static str) {
        match self {
            Optimizer::Sgd { .. } | Optimizer::Adagrad { .. } => (1e-5, 1.0, "0.01 to 0.1"),
            Optimizer::Adam { .. }
            | Optimizer::AdamW { .. }
            | Optimizer::RmsProp { .. }
            | Optimizer::NAdam { .. } => (1e-6, 0.1, "1e-4 to 1e-2"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::Adam { .. } => "adam",
            Optimizer::AdamW { .. } => "adamw",
            Optimizer::RmsProp { .. } => "rmsprop",
            Optimizer::Adagrad { .. } => "adagrad",
            Optimizer::NAdam { .. } => "nadam",
        }
    }
}

// ---------------------------------------------------------------- regularize

/// §8: penalties on dense weights only. Several `l1`/`l2` entries add up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Regularize {
    /// Sum of the `l1(lambda)` entries (0 when none).
    pub l1: f64,
    /// Sum of the `l2(lambda)` entries (0 when none).
    pub l2: f64,
    /// True when the list holds `l1` or `l2`: the epoch event then logs `penalty`.
    pub has_penalty: bool,
    pub max_norm: Option<f64>,
}

// ---------------------------------------------------------------- train

#[derive(Debug, Clone, PartialEq)]
pub struct TrainPlan {
    pub epochs: usize,
    pub batch: Batch,
    pub shuffle: bool,
    pub lr_schedule: Schedule,
    pub clip: Option<Clip>,
    pub early_stop: Option<EarlyStop>,
    /// `metrics = [...]` (§15), in the order written, without repeats.
    pub metrics: Vec<Metric>,
}

/// A metric of `train { metrics = [...] }` (§15), scikit-learn's definitions
/// (see [`crate::train::metrics`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Macro-averaged precision (classification).
    Precision,
    /// Macro-averaged recall (classification).
    Recall,
    /// Macro-averaged F1 (classification).
    F1,
    /// ROC AUC of the positive-class probability (`binary_cross_entropy`).
    Auc,
    /// Root mean squared error, averaged over targets (regression).
    Rmse,
    /// Mean absolute error, averaged over targets (regression).
    Mae,
    /// Coefficient of determination, averaged over targets (regression).
    R2,
}

impl Metric {
    pub const ALL: [Metric; 7] = [
        Metric::Precision,
        Metric::Recall,
        Metric::F1,
        Metric::Auc,
        Metric::Rmse,
        Metric::Mae,
        Metric::R2,
    ];
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
            Metric::Auc => "auc",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
        }
    }
    /// The epoch-event field: `valid_NAME`.
    pub fn valid_name(&self) -> &'static str {
        match self {
            Metric::Precision => "valid_precision",
            Metric::Recall => "valid_recall",
            Metric::F1 => "valid_f1",
            Metric::Auc => "valid_auc",
            Metric::Rmse => "valid_rmse",
            Metric::Mae => "valid_mae",
            Metric::R2 => "valid_r2",
        }
    }
    /// The end-event field: `test_NAME`.
    pub fn test_name(&self) -> &'static str {
        match self {
            Metric::Precision => "test_precision",
            Metric::Recall => "test_recall",
            Metric::F1 => "test_f1",
            Metric::Auc => "test_auc",
            Metric::Rmse => "test_rmse",
            Metric::Mae => "test_mae",
            Metric::R2 => "test_r2",
        }
    }
    /// `rmse` and `mae` are errors (lower is better); the rest are scores.
    pub fn higher_is_better(&self) -> bool {
        !matches!(self, Metric::Rmse | Metric::Mae)
    }
    /// Whether the metric is defined for models trained with `loss`.
    pub fn fits(&self, loss: &Loss) -> bool {
        match self {
            Metric::Precision | Metric::Recall | Metric::F1 => loss.is_classification(),
            Metric::Auc => matches!(loss, Loss::BinaryCrossEntropy),
            Metric::Rmse | Metric::Mae | Metric::R2 => !loss.is_classification(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    Size(usize),
    Full,
}

impl Batch {
    /// Rows per batch for a split of `rows` rows (at least 1).
    pub fn rows(&self, rows: usize) -> usize {
        match *self {
            Batch::Size(n) => n.max(1),
            Batch::Full => rows.max(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Constant,
    Step {
        every: usize,
        factor: f64,
    },
    Exponential {
        gamma: f64,
    },
    Cosine {
        min_lr: f64,
    },
    /// The inner schedule is never `Warmup` or `ReduceOnPlateau`.
    Warmup {
        epochs: usize,
        then: Box<Schedule>,
    },
    ReduceOnPlateau {
        factor: f64,
        patience: usize,
        monitor: Monitor,
    },
}

impl Schedule {
    /// The learning rate of epoch `epoch` (from 1) of `epochs` from the optimizer's
    /// `base` rate (§9): the one formula training uses and `explain` shows. `None`
    /// for `reduce_on_plateau`, whose rates depend on the run.
    pub fn rate(&self, base: f64, epoch: usize, epochs: usize) -> Option<f64> {
        let e = epoch.max(1);
        match self {
            Schedule::Constant => Some(base),
            Schedule::Step { every, factor } => {
                let k = (e - 1) / (*every).max(1);
                Some(base * factor.powi(i32::try_from(k).unwrap_or(i32::MAX)))
            }
            Schedule::Exponential { gamma } => {
                Some(base * gamma.powi(i32::try_from(e - 1).unwrap_or(i32::MAX)))
            }
            Schedule::Cosine { min_lr } => {
                let t = epochs.max(1) as f64;
                let cos = crate::math::cos(std::f64::consts::PI * (e - 1) as f64 / t);
                Some(min_lr + (base - min_lr) * (1.0 + cos) / 2.0)
            }
            Schedule::Warmup { epochs: w, then } => {
                let w = (*w).max(1);
                if e <= w {
                    Some(base * e as f64 / w as f64)
                } else {
                    then.rate(base, e - w, epochs.saturating_sub(w))
                }
            }
            Schedule::ReduceOnPlateau { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    Norm(f64),
    Value(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStop {
    pub patience: usize,
    pub monitor: Monitor,
    pub min_delta: f64,
}

/// A `valid_*` monitor is only ever present with a valid split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    TrainLoss,
    ValidLoss,
    ValidAccuracy,
    /// `valid_NAME` of a metric listed in `train { metrics = [...] }` (§15).
    Valid(Metric),
}

impl Monitor {
    /// Every monitor, in the order of the declarations of `monitor` values.
    pub fn all() -> Vec<Monitor> {
        [
            Monitor::TrainLoss,
            Monitor::ValidLoss,
            Monitor::ValidAccuracy,
        ]
        .into_iter()
        .chain(Metric::ALL.map(Monitor::Valid))
        .collect()
    }
    /// Whether a run with `loss` measures the monitor (accuracy and the
    /// metrics per [`Metric::fits`]; the losses always).
    pub fn fits(&self, loss: &Loss) -> bool {
        match self {
            Monitor::TrainLoss | Monitor::ValidLoss => true,
            Monitor::ValidAccuracy => loss.is_classification(),
            Monitor::Valid(m) => m.fits(loss),
        }
    }
    pub fn higher_is_better(&self) -> bool {
        match self {
            Monitor::ValidAccuracy => true,
            Monitor::Valid(m) => m.higher_is_better(),
            Monitor::TrainLoss | Monitor::ValidLoss => false,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Monitor::TrainLoss => "train_loss",
            Monitor::ValidLoss => "valid_loss",
            Monitor::ValidAccuracy => "valid_accuracy",
            Monitor::Valid(m) => m.valid_name(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointPlan {
    pub every: usize,
    /// Directory, resolved against the recipe's directory.
    pub path: PathBuf,
    pub keep: usize,
}

// ---------------------------------------------------------------- diagnose

/// Thresholds of the run-time detectors (§13; the `diagnose { … }` section).
/// `None` turns a detector off.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnoseConfig {
    /// A layer's gradient norm above this many times its running level, or above
    /// `exploding_abs`, is an exploding gradient.
    pub exploding_ratio: Option<f64>,
    pub exploding_abs: Option<f64>,
    /// A layer whose gradient norm / weight norm stays below this for a whole epoch
    /// (while the last layer's does not) has vanishing gradients.
    pub vanishing_ratio: Option<f64>,
    /// Fraction of a relu layer's units that output zero for a whole epoch.
    pub dead_relu_fraction: Option<f64>,
    /// Relative improvement of the train loss per epoch (averaged over the last
    /// `plateau_epochs` epochs, and over at least 50 steps) below which training
    /// has plateaued.
    pub plateau_delta: Option<f64>,
    /// Epochs of no movement before the plateau is reported.
    pub plateau_epochs: usize,
}

impl Default for DiagnoseConfig {
    fn default() -> Self {
        DiagnoseConfig {
            exploding_ratio: Some(100.0),
            exploding_abs: Some(1e3),
            vanishing_ratio: Some(1e-3),
            dead_relu_fraction: Some(0.3),
            plateau_delta: Some(3e-3),
            plateau_epochs: 5,
        }
    }
}

// ---------------------------------------------------------------- expect

/// One item of `expect { … }` (§16): a logged field and the bound it must reach.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// An epoch field (`valid_accuracy`, `train_loss`, a metric's `valid_f1`, …)
    /// or an end field (`test_*`, a metric's `test_f1` too).
    pub field: String,
    pub bound: Bound,
    /// The whole item (`valid_accuracy = at_least(0.9)`).
    pub span: Span,
    /// 1-based recipe line of the item (`None` when it comes from `--set`).
    pub line: Option<usize>,
}

impl Expectation {
    /// Whether the field is read from the end event rather than the kept epoch.
    pub fn from_end(&self) -> bool {
        self.field.starts_with("test_")
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// `at_least(x)`: the value must be ≥ x.
    AtLeast(f64),
    /// `at_most(x)`: the value must be ≤ x.
    AtMost(f64),
}

impl Bound {
    /// Whether `value` meets the bound (a value that is not finite never does).
    pub fn holds(&self, value: f64) -> bool {
        value.is_finite()
            && match *self {
                Bound::AtLeast(x) => value >= x,
                Bound::AtMost(x) => value <= x,
            }
    }
}
