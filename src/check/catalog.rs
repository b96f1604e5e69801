//! The built-in names of the language with a one-line description and their
//! parameters' defaults (spec §§3–9), for tools that explain a recipe: the language
//! server's hover and completion, and the shell completion of `--set` keys.
//!
//! The checker's own lists of names (`model::LAYERS`, `optim::OPTIMIZERS`, …) stay
//! the authority on what is accepted; a test below keeps every name they accept
//! documented here, with the same parameters.

/// What a built-in name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A top-level setting (`seed = …`).
    Setting,
    /// A top-level section (`data { … }`).
    Section,
    /// An item of a section: the section's name.
    Item(&'static str),
    Layer,
    Init,
    Loss,
    Optimizer,
    Regularizer,
    /// A data source (`csv`, `split`, `blobs`, …).
    Source,
    Schedule,
    /// `norm(max)` / `value(max)` of `clip`.
    Clip,
    /// `patience(…)` of `early_stop`.
    EarlyStop,
    /// `at_least(…)` / `at_most(…)` of an `expect` item.
    Expectation,
    /// A plain name taken as a value: the setting or parameter it is a value of.
    Value(&'static str),
}

impl Kind {
    /// How the kind is named in hover texts.
    pub fn describe(&self) -> String {
        match self {
            Kind::Setting => "setting".into(),
            Kind::Section => "section".into(),
            Kind::Item(s) => format!("`{s}` item"),
            Kind::Layer => "layer".into(),
            Kind::Init => "initialiser".into(),
            Kind::Loss => "loss".into(),
            Kind::Optimizer => "optimizer".into(),
            Kind::Regularizer => "regularizer".into(),
            Kind::Source => "data source".into(),
            Kind::Schedule => "learning-rate schedule".into(),
            Kind::Clip => "gradient clipping".into(),
            Kind::EarlyStop => "early stopping".into(),
            Kind::Expectation => "expectation".into(),
            Kind::Value(s) => format!("value of `{s}`"),
        }
    }
}

/// A parameter of a call: its name and default (`None`: required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub default: Option<&'static str>,
}

/// A built-in name.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub kind: Kind,
    pub name: &'static str,
    /// Parameters in positional order (empty for names that take none).
    pub params: &'static [Param],
    /// One line: what it is or does.
    pub doc: &'static str,
    /// The default of a setting or item (what applies when it is not written).
    pub default: Option<&'static str>,
}

impl Builtin {
    /// `adam(lr, beta1 = 0.9, …)`: the call with its defaults.
    pub fn signature(&self) -> String {
        if self.params.is_empty() {
            return self.name.to_string();
        }
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match p.default {
                Some(d) => format!("{} = {d}", p.name),
                None => p.name.to_string(),
            })
            .collect();
        format!("{}({})", self.name, params.join(", "))
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

const fn req(name: &'static str) -> Param {
    Param {
        name,
        default: None,
    }
}

const fn opt(name: &'static str, default: &'static str) -> Param {
    Param {
        name,
        default: Some(default),
    }
}

const fn b(kind: Kind, name: &'static str, params: &'static [Param], doc: &'static str) -> Builtin {
    Builtin {
        kind,
        name,
        params,
        doc,
        default: None,
    }
}

const fn item(
    kind: Kind,
    name: &'static str,
    default: Option<&'static str>,
    doc: &'static str,
) -> Builtin {
    Builtin {
        kind,
        name,
        params: &[],
        doc,
        default,
    }
}

use Kind::*;

/// Every built-in name, grouped by kind.
pub const BUILTINS: &[Builtin] = &[
    // ------------------------------------------------------------ top level (§3)
    item(Setting, "seed", Some("0"), "Seed (≥ 0) of the one random generator: synthetic data, splits, init, shuffle, dropout."),
    item(Setting, "precision", Some("f32"), "Floating-point type of the model and all training arithmetic: `f32` or `f64`."),
    item(Setting, "loss", None, "The loss minimised (required): cross_entropy, binary_cross_entropy, mse, mae, huber."),
    item(Setting, "optimizer", None, "The optimizer (required), PyTorch's algorithm and defaults: sgd, adam, adamw, rmsprop, adagrad."),
    item(Setting, "regularize", Some("[]"), "A list of penalties and constraints: l1, l2, max_norm."),
    item(Setting, "init_from", None, "A safetensors file whose tensors replace the initialised parameters before training."),
    item(Setting, "save", None, "A safetensors file written after training: the final (with early_stop the best) parameters."),
    item(Section, "data", None, "Where examples come from: `train` (required), `valid`, `test`, `normalize`."),
    item(Section, "model", None, "The layers, in network order; the input width is the data's feature count."),
    item(Section, "train", None, "The schedule: `epochs` (required), `batch`, `shuffle`, `lr_schedule`, `clip`, `early_stop`."),
    item(Section, "checkpoint", None, "A checkpoint each `every` epochs into directory `path`, keeping the newest `keep`."),
    item(Section, "diagnose", None, "Thresholds of the run-time diagnostics (a number, or `off`)."),
    item(Section, "expect", None, "What a run must reach, per logged field: `valid_accuracy = at_least(0.9)` (checked by `nnt test`)."),
    // ------------------------------------------------------------ data (§4)
    item(Item("data"), "train", None, "The training split (required): a data source."),
    item(Item("data"), "valid", None, "The validation split, evaluated after every epoch: a source or `split(train, FRACTION)`."),
    item(Item("data"), "test", None, "The test split, evaluated once after training: a source or `split(train, FRACTION)`."),
    item(Item("data"), "normalize", Some("none"), "Per-feature normalisation with train-split statistics: none, standard, minmax."),
    item(Item("data"), "features", None, "Only these columns are features, in this order (default: every column that is not a label or ignored)."),
    item(Item("data"), "ignore", Some("[]"), "Columns that are neither features nor labels (ids, dates, free text)."),
    item(Item("data"), "categorical", Some("[]"), "Feature columns whose cells are category names, each one-hot encoded."),
    item(Item("data"), "missing", Some("error"), "What a missing cell means: error, drop, mean, median, zero."),
    item(Item("data"), "normalize_targets", Some("none"), "Regression only: standardise the targets with train-split statistics: none, standard."),
    b(Value("missing"), "error", &[], "A missing cell is an error naming file, line and column."),
    b(Value("missing"), "drop", &[], "Rows with a missing feature or label cell are removed."),
    b(Value("missing"), "mean", &[], "A missing numeric cell becomes its column's train-split mean."),
    b(Value("missing"), "median", &[], "A missing numeric cell becomes its column's train-split median."),
    b(Value("missing"), "zero", &[], "A missing numeric cell becomes 0."),
    b(Value("normalize_targets"), "none", &[], "Targets as they are."),
    b(Value("normalize_targets"), "standard", &[], "Targets standardised for training; predictions in the original units."),
    b(Source, "csv", &[req("path"), req("label"), opt("header", "true"), opt("delimiter", "\",\"")], "A CSV file (`.gz` read through gzip); `label` names the target column(s) by header name or index."),
    b(Source, "split", &[req("from"), req("fraction"), opt("stratify", "false")], "Moves round(fraction × train rows) seeded-random rows out of train into this split; `stratify = true` takes that share of every class."),
    b(Source, "blobs", &[req("n"), req("features"), req("classes"), opt("spread", "1.0")], "Synthetic Gaussian blobs, one per class."),
    b(Source, "spirals", &[req("n"), req("classes"), opt("noise", "0.2")], "Synthetic interleaved spirals (2 features)."),
    b(Source, "moons", &[req("n"), opt("noise", "0.1")], "Synthetic two moons (2 features, 2 classes)."),
    b(Source, "xor", &[req("n"), opt("noise", "0.1")], "Synthetic XOR quadrants (2 features, 2 classes)."),
    b(Source, "linear", &[req("n"), req("features"), opt("targets", "1"), opt("noise", "0.1")], "Synthetic linear regression targets."),
    b(Value("normalize"), "none", &[], "No normalisation."),
    b(Value("normalize"), "standard", &[], "(x − mean) / std, population std, from the train split."),
    b(Value("normalize"), "minmax", &[], "(x − min) / (max − min) into [0, 1], from the train split."),
    // ------------------------------------------------------------ model (§5)
    b(Layer, "dense", &[req("units"), opt("init", "auto"), opt("bias", "true")], "A fully connected layer (`nn.Linear`); init defaults to he_uniform before a ReLU-like activation, else xavier_uniform."),
    b(Layer, "linear", &[req("units"), opt("init", "auto"), opt("bias", "true")], "The same layer as `dense` (`nn.Linear`)."),
    b(Layer, "relu", &[], "max(0, x) (`nn.ReLU`)."),
    b(Layer, "sigmoid", &[], "1 / (1 + e^−x) (`nn.Sigmoid`)."),
    b(Layer, "tanh", &[], "Hyperbolic tangent (`nn.Tanh`)."),
    b(Layer, "gelu", &[], "Exact GELU, with erf (`nn.GELU()`)."),
    b(Layer, "softmax", &[], "Softmax over the features (`nn.Softmax(dim=1)`); not before cross_entropy, which applies it."),
    b(Layer, "leaky_relu", &[opt("slope", "0.01")], "x for x > 0, slope·x otherwise (`nn.LeakyReLU`)."),
    b(Layer, "elu", &[opt("alpha", "1.0")], "x for x > 0, alpha·(eˣ − 1) otherwise (`nn.ELU`)."),
    b(Layer, "dropout", &[req("p")], "In training zeroes each unit with probability p and scales the rest by 1/(1−p) (`nn.Dropout`)."),
    b(Layer, "batch_norm", &[opt("momentum", "0.1"), opt("eps", "1e-5")], "Batch normalisation (`nn.BatchNorm1d`)."),
    b(Layer, "layer_norm", &[opt("eps", "1e-5")], "Normalises each row over its features, then scales and shifts (`nn.LayerNorm`)."),
    b(Layer, "input", &[req("features")], "Optional first layer: the number of features, checked against the data."),
    b(Init, "he_uniform", &[], "U(±√(6/fan_in))."),
    b(Init, "he_normal", &[], "Normal, mean 0, variance 2/fan_in."),
    b(Init, "xavier_uniform", &[], "U(±√(6/(fan_in+fan_out)))."),
    b(Init, "xavier_normal", &[], "Normal, mean 0, variance 2/(fan_in+fan_out)."),
    b(Init, "lecun_normal", &[], "Normal, mean 0, variance 1/fan_in."),
    b(Init, "normal", &[opt("std", "0.01")], "Normal, mean 0, standard deviation std."),
    b(Init, "uniform", &[opt("limit", "0.05")], "U(−limit, +limit)."),
    b(Init, "zeros", &[], "All weights 0."),
    b(Init, "torch_default", &[], "What `nn.Linear` does: weight and bias U(±1/√fan_in)."),
    // ------------------------------------------------------------ loss (§6)
    b(Loss, "cross_entropy", &[opt("label_smoothing", "0.0")], "Softmax cross-entropy over C logits (`nn.CrossEntropyLoss`)."),
    b(Loss, "binary_cross_entropy", &[], "Sigmoid cross-entropy on one logit (`nn.BCEWithLogitsLoss`)."),
    b(Loss, "mse", &[], "Mean squared error (`nn.MSELoss`)."),
    b(Loss, "mae", &[], "Mean absolute error (`nn.L1Loss`)."),
    b(Loss, "huber", &[opt("delta", "1.0")], "Huber loss (`nn.HuberLoss`)."),
    // ------------------------------------------------------------ optimizer (§7)
    b(Optimizer, "sgd", &[req("lr"), opt("momentum", "0"), opt("dampening", "0"), opt("nesterov", "false"), opt("weight_decay", "0")], "Stochastic gradient descent, with optional momentum (`torch.optim.SGD`)."),
    b(Optimizer, "adam", &[req("lr"), opt("beta1", "0.9"), opt("beta2", "0.999"), opt("eps", "1e-8"), opt("weight_decay", "0"), opt("amsgrad", "false")], "Adam (`torch.optim.Adam`)."),
    b(Optimizer, "adamw", &[req("lr"), opt("beta1", "0.9"), opt("beta2", "0.999"), opt("eps", "1e-8"), opt("weight_decay", "0.01")], "Adam with decoupled weight decay (`torch.optim.AdamW`)."),
    b(Optimizer, "rmsprop", &[req("lr"), opt("alpha", "0.99"), opt("eps", "1e-8"), opt("momentum", "0"), opt("centered", "false"), opt("weight_decay", "0")], "RMSprop (`torch.optim.RMSprop`)."),
    b(Optimizer, "adagrad", &[req("lr"), opt("eps", "1e-10"), opt("weight_decay", "0")], "Adagrad (`torch.optim.Adagrad`)."),
    b(Optimizer, "nadam", &[req("lr"), opt("beta1", "0.9"), opt("beta2", "0.999"), opt("eps", "1e-8"), opt("weight_decay", "0"), opt("momentum_decay", "0.004")], "Adam with Nesterov momentum (`torch.optim.NAdam`)."),
    // ------------------------------------------------------------ regularize (§8)
    b(Regularizer, "l2", &[req("lambda")], "Adds lambda · Σ w² over the dense weights to the objective."),
    b(Regularizer, "l1", &[req("lambda")], "Adds lambda · Σ |w| over the dense weights to the objective."),
    b(Regularizer, "max_norm", &[req("c")], "After each step, rescales each unit's incoming weights to L2 norm ≤ c."),
    // ------------------------------------------------------------ train (§9)
    item(Item("train"), "epochs", None, "Passes over the train split, ≥ 1 (required)."),
    item(Item("train"), "batch", Some("32"), "Mini-batch size, or `full` for the whole split."),
    item(Item("train"), "shuffle", Some("true"), "Seeded reshuffle of the train rows at the start of each epoch."),
    item(Item("train"), "lr_schedule", Some("constant"), "The learning rate of each epoch."),
    item(Item("train"), "clip", None, "Gradient clipping before every step: `norm(max)` or `value(max)`."),
    item(Item("train"), "early_stop", None, "Stop when the monitored value stops improving: `patience(p, monitor, min_delta)`."),
    item(Item("train"), "metrics", Some("[]"), "Metrics logged as `valid_NAME` each epoch and `test_NAME` at the end: precision, recall, f1, auc, rmse, mae, r2."),
    b(Value("batch"), "full", &[], "The whole train split in one batch."),
    b(Schedule, "constant", &[], "The optimizer's lr in every epoch."),
    b(Schedule, "step", &[req("every"), opt("factor", "0.1")], "lr · factor^⌊(e−1)/every⌋ (StepLR)."),
    b(Schedule, "exponential", &[req("gamma")], "lr · gamma^(e−1) (ExponentialLR)."),
    b(Schedule, "cosine", &[opt("min_lr", "0")], "Cosine annealing from lr to min_lr over the epochs (CosineAnnealingLR)."),
    b(Schedule, "warmup", &[req("epochs"), opt("then", "constant")], "Linear warm-up over `epochs`, then the inner schedule."),
    b(Schedule, "reduce_on_plateau", &[opt("factor", "0.1"), opt("patience", "10"), opt("monitor", "valid_loss")], "Multiplies the rate by factor when the monitored value stops improving (ReduceLROnPlateau)."),
    b(Clip, "norm", &[req("max")], "Scales all gradients when their global L2 norm exceeds max (`clip_grad_norm_`)."),
    b(Clip, "value", &[req("max")], "Clamps each gradient element to [−max, max] (`clip_grad_value_`)."),
    b(EarlyStop, "patience", &[req("p"), opt("monitor", "valid_loss"), opt("min_delta", "0")], "Stops after p consecutive epochs without improvement (Keras EarlyStopping)."),
    b(Value("monitor"), "train_loss", &[], "The epoch's train loss (lower is better)."),
    b(Value("monitor"), "valid_loss", &[], "The valid split's loss (lower is better); needs a valid split."),
    b(Value("monitor"), "valid_accuracy", &[], "The valid split's accuracy (higher is better); needs a valid split and a classification loss."),
    b(Value("monitor"), "valid_precision", &[], "Macro-averaged precision on the valid split (higher is better); needs `precision` in `metrics`."),
    b(Value("monitor"), "valid_recall", &[], "Macro-averaged recall on the valid split (higher is better); needs `recall` in `metrics`."),
    b(Value("monitor"), "valid_f1", &[], "Macro-averaged F1 on the valid split (higher is better); needs `f1` in `metrics`."),
    b(Value("monitor"), "valid_auc", &[], "ROC AUC on the valid split (higher is better, binary_cross_entropy); needs `auc` in `metrics`."),
    b(Value("monitor"), "valid_rmse", &[], "Root mean squared error on the valid split (lower is better, regression); needs `rmse` in `metrics`."),
    b(Value("monitor"), "valid_mae", &[], "Mean absolute error on the valid split (lower is better, regression); needs `mae` in `metrics`."),
    b(Value("monitor"), "valid_r2", &[], "R² on the valid split (higher is better, regression); needs `r2` in `metrics`."),
    b(Value("metrics"), "precision", &[], "Macro-averaged precision (classification), as `valid_precision` and `test_precision`."),
    b(Value("metrics"), "recall", &[], "Macro-averaged recall (classification), as `valid_recall` and `test_recall`."),
    b(Value("metrics"), "f1", &[], "Macro-averaged F1 (classification), as `valid_f1` and `test_f1`."),
    b(Value("metrics"), "auc", &[], "ROC AUC of the positive-class probability (binary_cross_entropy), as `valid_auc` and `test_auc`."),
    b(Value("metrics"), "rmse", &[], "Root mean squared error averaged over targets (regression), as `valid_rmse` and `test_rmse`."),
    b(Value("metrics"), "mae", &[], "Mean absolute error averaged over targets (regression), as `valid_mae` and `test_mae`."),
    b(Value("metrics"), "r2", &[], "R² averaged over targets (regression), as `valid_r2` and `test_r2`."),
    b(Value("precision"), "f32", &[], "32-bit floats."),
    b(Value("precision"), "f64", &[], "64-bit floats."),
    // ------------------------------------------------------------ checkpoint, diagnose
    item(Item("checkpoint"), "every", None, "Write a checkpoint every this many epochs (required)."),
    item(Item("checkpoint"), "path", None, "The directory of the checkpoints, `epoch-N.safetensors` (required)."),
    item(Item("checkpoint"), "keep", Some("all"), "Keep only the newest this many checkpoints."),
    item(Item("diagnose"), "exploding_ratio", None, "Warn when a layer's gradient norm grows past this ratio (or `off`)."),
    item(Item("diagnose"), "exploding_abs", None, "Warn when a layer's gradient norm exceeds this value (or `off`)."),
    item(Item("diagnose"), "vanishing_ratio", None, "Warn when a layer's gradient norm stays below this fraction of its weights' norm (or `off`)."),
    item(Item("diagnose"), "dead_relu_fraction", None, "Warn when this fraction of a ReLU's units never activate (or `off`)."),
    item(Item("diagnose"), "plateau_delta", None, "Train-loss change below which an epoch counts as a plateau (or `off`)."),
    item(Item("diagnose"), "plateau_epochs", None, "Plateau epochs before premature convergence is reported."),
    b(Value("diagnose"), "off", &[], "Turns this diagnostic off."),
    b(Expectation, "at_least", &[req("value")], "The field must reach at least this value."),
    b(Expectation, "at_most", &[req("value")], "The field must reach at most this value."),
];

/// The built-ins of one kind.
pub fn of_kind(kind: Kind) -> impl Iterator<Item = &'static Builtin> {
    BUILTINS.iter().filter(move |b| b.kind == kind)
}

/// The built-in `name` of kind `kind`.
pub fn find(kind: Kind, name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.kind == kind && b.name == name)
}

/// Any built-in called `name` (the first of its kinds in [`BUILTINS`]).
pub fn any(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// What kind of built-in the value of item `key` is (in `section`; `None` at the
/// top level), or of parameter `key` of a call of a built-in of kind `call`.
pub fn value_kind(section: Option<&str>, call: Option<Kind>, key: &str) -> Option<Kind> {
    if let Some(c) = call {
        return match (c, key) {
            (Kind::Layer, "init") => Some(Kind::Init),
            (_, "monitor") => Some(Kind::Value("monitor")),
            (Kind::Schedule, "then") => Some(Kind::Schedule),
            (Kind::Source, "from") => None,
            _ => None,
        };
    }
    Some(match (section, key) {
        (None, "loss") => Kind::Loss,
        (None, "optimizer") => Kind::Optimizer,
        (None, "regularize") => Kind::Regularizer,
        (None, "precision") => Kind::Value("precision"),
        (Some("data"), "train" | "valid" | "test") => Kind::Source,
        (Some("data"), "normalize") => Kind::Value("normalize"),
        (Some("data"), "missing") => Kind::Value("missing"),
        (Some("data"), "normalize_targets") => Kind::Value("normalize_targets"),
        (Some("expect"), _) => Kind::Expectation,
        (Some("train"), "lr_schedule") => Kind::Schedule,
        (Some("train"), "clip") => Kind::Clip,
        (Some("train"), "early_stop") => Kind::EarlyStop,
        (Some("train"), "batch") => Kind::Value("batch"),
        (Some("diagnose"), _) => Kind::Value("diagnose"),
        _ => return None,
    })
}

/// The keys `--set` accepts: every top-level setting and every `section.item`.
pub fn setting_keys() -> Vec<String> {
    BUILTINS
        .iter()
        .filter_map(|b| match b.kind {
            Kind::Setting => Some(b.name.to_string()),
            Kind::Item(s) => Some(format!("{s}.{}", b.name)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{data, diagnose, layout, model, optim, top, train};

    fn names(kind: Kind) -> Vec<&'static str> {
        of_kind(kind).map(|b| b.name).collect()
    }

    fn covers(kind: Kind, accepted: &[&str]) {
        let documented = names(kind);
        for n in accepted {
            assert!(
                documented.contains(n),
                "{n} ({kind:?}) is accepted but not in the catalog"
            );
        }
    }

    /// Every name the checker accepts has an entry here.
    #[test]
    fn every_accepted_name_is_documented() {
        covers(Kind::Layer, model::LAYERS);
        covers(Kind::Init, model::INITS);
        covers(Kind::Loss, optim::LOSSES);
        covers(Kind::Optimizer, optim::OPTIMIZERS);
        covers(Kind::Regularizer, optim::REGULARIZERS);
        covers(Kind::Source, data::SOURCES);
        covers(Kind::Schedule, train::SCHEDULES);
        covers(Kind::Value("monitor"), train::MONITORS);
        covers(Kind::Value("metrics"), train::METRICS);
        covers(Kind::Setting, layout::SETTINGS);
        covers(Kind::Section, layout::SECTIONS);
        covers(Kind::Item("data"), data::ITEMS);
        covers(Kind::Item("train"), train::ITEMS);
        covers(Kind::Item("checkpoint"), top::CHECKPOINT_ITEMS);
        covers(Kind::Item("diagnose"), diagnose::ITEMS);
    }

    fn accepted(kind: Kind) -> Option<&'static [&'static str]> {
        Some(match kind {
            Kind::Layer => model::LAYERS,
            Kind::Init => model::INITS,
            Kind::Loss => optim::LOSSES,
            Kind::Optimizer => optim::OPTIMIZERS,
            Kind::Regularizer => optim::REGULARIZERS,
            Kind::Source => data::SOURCES,
            Kind::Schedule => train::SCHEDULES,
            Kind::Clip => &["norm", "value"],
            Kind::EarlyStop => &["patience"],
            _ => return None,
        })
    }

    /// A value for a required parameter, for the recipe below.
    fn sample(call: &str, param: &str) -> &'static str {
        match (call, param) {
            ("csv", "path") => "\"t.csv\"",
            ("csv", "label") => "\"y\"",
            ("split", "from") => "train",
            ("split", "fraction") => "0.2",
            ("dropout", "p") => "0.5",
            ("patience", "p") => "3",
            ("warmup", "epochs") => "2",
            (_, "units" | "features" | "n" | "classes" | "every") => "4",
            (_, "gamma") => "0.9",
            _ => "0.01",
        }
    }

    fn call_with_defaults(b: &Builtin) -> String {
        let args: Vec<String> = b
            .params
            .iter()
            .map(|p| {
                let v = match p.default {
                    // `auto` and `all` say what happens when the parameter is left out.
                    Some("auto") | Some("all") | None => sample(b.name, p.name),
                    Some(d) => d,
                };
                let v = if p.default == Some("auto") {
                    "he_uniform"
                } else {
                    v
                };
                format!("{} = {v}", p.name)
            })
            .collect();
        format!("{}({})", b.name, args.join(", "))
    }

    /// Every call the checker accepts takes exactly the parameters listed here, by
    /// name, with the listed defaults as valid values.
    #[test]
    fn parameters_and_defaults_are_accepted() {
        let base = |data: &str, model: &str, loss: &str, opt: &str, reg: &str, train: &str| {
            format!(
                "data {{\n    train = {data}\n    valid = split(train, 0.2)\n}}\nmodel {{\n{model}\n    dense(2)\n}}\nloss = {loss}\noptimizer = {opt}\nregularize = [{reg}]\ntrain {{\n    epochs = 3\n    batch = 8\n{train}\n}}\n"
            )
        };
        let d = "xor(n = 32)";
        let m = "    dense(4)";
        let l = "cross_entropy";
        let o = "sgd(lr = 0.1)";
        let mut checked = 0;
        for b in BUILTINS {
            if b.params.is_empty() {
                continue;
            }
            // Names of the spec that this build does not accept yet are skipped.
            if !accepted(b.kind).is_some_and(|list| list.contains(&b.name)) {
                continue;
            }
            let call = call_with_defaults(b);
            let recipe = match b.kind {
                Kind::Source if b.name == "split" => {
                    base(d, m, l, o, "", "").replace("split(train, 0.2)", &call)
                }
                Kind::Source => base(&call, m, l, o, "", ""),
                Kind::Layer if b.name == "input" => {
                    base(d, &format!("    {call}\n{m}"), l, o, "", "")
                        .replace("features = 4", "features = 2")
                }
                Kind::Layer => base(d, &format!("{m}\n    {call}"), l, o, "", ""),
                Kind::Init => base(d, &format!("    dense(4, init = {call})"), l, o, "", ""),
                Kind::Loss => base(d, m, &call, o, "", ""),
                Kind::Optimizer => base(d, m, l, &call, "", ""),
                Kind::Regularizer => base(d, m, l, o, &call, ""),
                Kind::Schedule => base(d, m, l, o, "", &format!("    lr_schedule = {call}")),
                Kind::Clip => base(d, m, l, o, "", &format!("    clip = {call}")),
                Kind::EarlyStop => base(d, m, l, o, "", &format!("    early_stop = {call}")),
                _ => continue,
            };
            let r = crate::check::resolve_recipe(
                "t.nnt",
                recipe.as_bytes(),
                std::path::Path::new("."),
                &Default::default(),
            );
            let msgs: Vec<String> = r
                .errors
                .iter()
                .map(|e| {
                    format!(
                        "{}: {e}",
                        e.code().map(|c| c.to_string()).unwrap_or_default()
                    )
                })
                .collect();
            assert!(msgs.is_empty(), "{call}:\n{recipe}\n{msgs:?}");
            checked += 1;
        }
        assert!(checked > 30, "only {checked} calls checked");
    }

    #[test]
    fn signatures_and_keys() {
        let adam = find(Kind::Optimizer, "adam").map(Builtin::signature);
        assert_eq!(
            adam.as_deref(),
            Some("adam(lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0, amsgrad = false)")
        );
        let keys = setting_keys();
        assert!(keys.contains(&"train.epochs".to_string()));
        assert!(keys.contains(&"seed".to_string()));
        assert!(!keys.contains(&"data".to_string()));
    }
}
