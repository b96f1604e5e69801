//! The declaration of every built-in of the language (spec §§3–9): its kind, name,
//! parameters (type, range, default, how messages name it), a one-line doc, an
//! example, and the function that builds its IR.
//!
//! This table is the authority: the checker looks names up here (an unknown name is
//! an error from the lookup, with the closest declared name suggested), binds the
//! arguments by name from the declared parameters ([`super::args::bind`]), reads
//! each through its declared type, range and default, and calls the declared
//! builder. The language server's hover and completion, the shell completion of
//! `--set` keys and the reference table `docs/REFERENCE.md` (generated from
//! [`reference()`], kept in step by a test) read it too.

use crate::ir;

use super::args::Args;
use super::values::Range;
use super::Cx;

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

/// The type of a parameter's value, with its range: the checker reads the argument
/// through it ([`Args::float`], [`Args::count`], [`Args::boolean`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    /// A number in the range.
    Float(Range),
    /// An integer of at least `min` (and at most `max`).
    Count {
        min: i64,
        max: Option<i64>,
    },
    Bool,
    /// A string in double quotes.
    Text,
    /// A column name in quotes or a 0-based index, or a list of them.
    Columns,
    /// A built-in name of this kind.
    Name(Kind),
    /// The split rows are taken from: `train`.
    Split,
}

impl Ty {
    /// The type in words, for the reference table.
    pub fn describe(&self) -> String {
        match self {
            Ty::Float(r) => format!("number {}", r.words()),
            Ty::Count { min, max: None } => format!("integer ≥ {min}"),
            Ty::Count { min, max: Some(m) } => format!("integer in [{min}, {m}]"),
            Ty::Bool => "`true` or `false`".into(),
            Ty::Text => "string".into(),
            Ty::Columns => "column name or index, or a list of them".into(),
            Ty::Name(k) => k.describe(),
            Ty::Split => "the name `train`".into(),
        }
    }
}

/// A parameter of a call: its name, type and default (`None`: required).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub ty: Ty,
    /// How error messages name the value (`the learning rate`).
    pub what: &'static str,
}

/// Declares [`Build`] with one builder variant per kind of built-in, and for
/// each a typed accessor (`decl.build.loss()`: the builder of a loss
/// declaration) and the kind it builds ([`Build::kind`]): the checker asks a
/// declaration for its kind's builder, so no resolver matches the whole enum
/// with a catch-all arm, and a unit test checks that every declaration's builder
/// is its kind's.
macro_rules! builders {
    ($($(#[$doc:meta])* $variant:ident($($arg:ty),*) -> $out:ty, $kind:ident, $get:ident;)*) => {
        /// The function that builds a built-in's IR from its bound arguments.
        /// Names that are values, settings, sections and items are resolved by
        /// the code of the item they belong to ([`Build::Item`]).
        #[derive(Debug, Clone, Copy)]
        pub enum Build {
            Item,
            /// `input(features)`: the input width, checked against the data; not a layer.
            Input,
            $($(#[$doc])* $variant(fn($($arg),*) -> Option<$out>),)*
        }

        impl Build {
            $(
                /// The builder, when this is a declaration of its kind.
                pub fn $get(self) -> Option<fn($($arg),*) -> Option<$out>> {
                    if let Build::$variant(build) = self {
                        Some(build)
                    } else {
                        None
                    }
                }
            )*

            /// The kind of built-in this builds (`None` for names resolved by
            /// their item).
            pub fn kind(self) -> Option<Kind> {
                match self {
                    Build::Item => None,
                    Build::Input => Some(Kind::Layer),
                    $(Build::$variant(_) => Some(Kind::$kind),)*
                }
            }
        }
    };
}

builders! {
    Layer(&mut Cx, &Args) -> ir::LayerKind, Layer, layer;
    Init(&mut Cx, &Args) -> ir::Init, Init, init;
    Loss(&mut Cx, &Args) -> ir::Loss, Loss, loss;
    Optimizer(&mut Cx, &Args) -> ir::Optimizer, Optimizer, optimizer;
    Penalty(&mut Cx, &Args) -> super::optim::Penalty, Regularizer, penalty;
    Source(&mut Cx, &Args, &super::data::SourceCx) -> ir::SourceSpec, Source, source;
    Schedule(&mut Cx, &Args, &mut super::train::Monitors) -> ir::Schedule, Schedule, schedule;
    Clip(&mut Cx, &Args) -> ir::Clip, Clip, clip;
    EarlyStop(&mut Cx, &Args, &mut super::train::Monitors) -> ir::EarlyStop, EarlyStop, early_stop;
    Expectation(&mut Cx, &Args) -> ir::Bound, Expectation, expectation;
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
    /// A correct use, for help texts and the reference.
    pub example: &'static str,
    pub build: Build,
    /// Top-level items: the place in the canonical layout of §3 that `nnt fmt`
    /// writes (0 for the rest).
    pub order: u8,
    /// Settings and items: what kind of built-in their value is (for a section:
    /// the value of every one of its items), for completion.
    pub values: Option<Kind>,
    /// Sections: the item `--set` help shows as an example (`--set train.epochs=…`).
    pub example_item: Option<&'static str>,
}

impl Builtin {
    /// The declaration with the kind of its value (settings, items, sections).
    const fn of(self, kind: Kind) -> Builtin {
        Builtin {
            values: Some(kind),
            ..self
        }
    }

    /// A section's declaration with the item help texts show as an example.
    const fn example_item(self, item: &'static str) -> Builtin {
        Builtin {
            example_item: Some(item),
            ..self
        }
    }

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

    /// How many parameters have no default (they come first).
    pub fn required(&self) -> usize {
        self.params.iter().filter(|p| p.default.is_none()).count()
    }

    /// The parameter names, in positional order.
    pub fn param_names(&self) -> Vec<&'static str> {
        self.params.iter().map(|p| p.name).collect()
    }
}

const fn req(name: &'static str, ty: Ty, what: &'static str) -> Param {
    Param {
        name,
        default: None,
        ty,
        what,
    }
}

const fn opt(name: &'static str, default: &'static str, ty: Ty, what: &'static str) -> Param {
    Param {
        name,
        default: Some(default),
        ty,
        what,
    }
}

/// A name that is a value (of a setting, item or parameter).
const fn b(kind: Kind, name: &'static str, params: &'static [Param], doc: &'static str) -> Builtin {
    Builtin {
        kind,
        name,
        params,
        doc,
        default: None,
        example: name,
        build: Build::Item,
        order: 0,
        values: None,
        example_item: None,
    }
}

/// A callable built-in with its builder.
const fn call(
    kind: Kind,
    name: &'static str,
    params: &'static [Param],
    example: &'static str,
    build: Build,
    doc: &'static str,
) -> Builtin {
    Builtin {
        kind,
        name,
        params,
        doc,
        default: None,
        example,
        build,
        order: 0,
        values: None,
        example_item: None,
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
        example: name,
        build: Build::Item,
        order: 0,
        values: None,
        example_item: None,
    }
}

/// A top-level setting or section: its place in the canonical layout and an
/// example.
const fn top(
    kind: Kind,
    name: &'static str,
    order: u8,
    example: &'static str,
    default: Option<&'static str>,
    doc: &'static str,
) -> Builtin {
    Builtin {
        kind,
        name,
        params: &[],
        doc,
        default,
        example,
        build: Build::Item,
        order,
        values: None,
        example_item: None,
    }
}

// Parameter types used often.
const POSITIVE: Ty = Ty::Float(Range::Positive);
const NON_NEGATIVE: Ty = Ty::Float(Range::NonNegative);
const UNIT: Ty = Ty::Float(Range::Unit);
const UNIT_OPEN: Ty = Ty::Float(Range::UnitOpen);
const ANY: Ty = Ty::Float(Range::Any);
const SIZE: Ty = Ty::Count {
    min: 1,
    max: Some(super::values::MAX_SIZE),
};
const COUNT1: Ty = Ty::Count { min: 1, max: None };
const MONITOR: Ty = Ty::Name(Kind::Value("monitor"));

use super::{data as d, model as m, optim as o, train as t};

use Kind::*;

const DENSE: &[Param] = &[
    req("units", SIZE, "units"),
    opt("init", "auto", Ty::Name(Init), "init"),
    opt("bias", "true", Ty::Bool, "bias"),
];
const LR: Param = req("lr", POSITIVE, "the learning rate");
const WD0: Param = opt("weight_decay", "0", NON_NEGATIVE, "weight_decay");
const BETA1: Param = opt("beta1", "0.9", UNIT_OPEN, "beta1");
const BETA2: Param = opt("beta2", "0.999", UNIT_OPEN, "beta2");
const EPS8: Param = opt("eps", "1e-8", POSITIVE, "eps");

/// Every built-in name, grouped by kind.
pub const BUILTINS: &[Builtin] = &[
    // ------------------------------------------------------------ top level (§3)
    top(Setting, "seed", 0, "seed = 7", Some("0"), "Seed (≥ 0) of the one random generator: synthetic data, splits, init, shuffle, dropout."),
    top(Setting, "precision", 1, "precision = f64", Some("f32"), "Floating-point type of the model and all training arithmetic: `f32` or `f64`.").of(Value("precision")),
    top(Setting, "loss", 4, "loss = cross_entropy", None, "The loss minimised (required): cross_entropy, binary_cross_entropy, mse, mae, huber.").of(Loss),
    top(Setting, "optimizer", 5, "optimizer = adam(lr = 0.001)", None, "The optimizer (required), PyTorch's algorithm and defaults: sgd, adam, adamw, rmsprop, adagrad, nadam.").of(Optimizer),
    top(Setting, "regularize", 6, "regularize = [l2(1e-4)]", Some("[]"), "A list of penalties and constraints: l1, l2, max_norm.").of(Regularizer),
    top(Setting, "init_from", 10, "init_from = \"init.safetensors\"", None, "A safetensors file whose tensors replace the initialised parameters before training."),
    top(Setting, "save", 11, "save = \"model.safetensors\"", None, "A safetensors file written after training: the final (with early_stop the best) parameters."),
    top(Section, "data", 2, "data { train = csv(\"train.csv\", label = \"label\") }", None, "Where examples come from: `train` (required), `valid`, `test`, `normalize`.").example_item("normalize"),
    top(Section, "model", 3, "model { dense(16); relu; dense(3) }", None, "The layers, in network order; the input width is the data's feature count."),
    top(Section, "train", 7, "train { epochs = 10 }", None, "The schedule: `epochs` (required), `batch`, `shuffle`, `lr_schedule`, `clip`, `early_stop`.").example_item("epochs"),
    top(Section, "checkpoint", 12, "checkpoint { every = 5; path = \"ckpt\"; keep = 3 }", None, "A checkpoint each `every` epochs into directory `path`, keeping the newest `keep`.").example_item("every"),
    top(Section, "diagnose", 9, "diagnose { plateau_epochs = 10 }", None, "Thresholds of the run-time diagnostics (a number, or `off`).").of(Value("diagnose")).example_item("plateau_epochs"),
    top(Section, "expect", 8, "expect { valid_accuracy = at_least(0.9) }", None, "What a run must reach, per logged field: `valid_accuracy = at_least(0.9)` (checked by `nnt test`).").of(Expectation).example_item("valid_accuracy"),
    // ------------------------------------------------------------ data (§4)
    item(Item("data"), "train", None, "The training split (required): a data source.").of(Source),
    item(Item("data"), "valid", None, "The validation split, evaluated after every epoch: a source or `split(train, FRACTION)`.").of(Source),
    item(Item("data"), "test", None, "The test split, evaluated once after training: a source or `split(train, FRACTION)`.").of(Source),
    item(Item("data"), "normalize", Some("none"), "Per-feature normalisation with train-split statistics: none, standard, minmax.").of(Value("normalize")),
    item(Item("data"), "features", None, "Only these columns are features, in this order (default: every column that is not a label or ignored)."),
    item(Item("data"), "ignore", Some("[]"), "Columns that are neither features nor labels (ids, dates, free text)."),
    item(Item("data"), "categorical", Some("[]"), "Feature columns whose cells are category names, each one-hot encoded."),
    item(Item("data"), "missing", Some("error"), "What a missing cell means: error, drop, mean, median, zero.").of(Value("missing")),
    item(Item("data"), "normalize_targets", Some("none"), "Regression only: standardise the targets with train-split statistics: none, standard.").of(Value("normalize_targets")),
    b(Value("missing"), "error", &[], "A missing cell is an error naming file, line and column."),
    b(Value("missing"), "drop", &[], "Rows with a missing feature or label cell are removed."),
    b(Value("missing"), "mean", &[], "A missing numeric cell becomes its column's train-split mean."),
    b(Value("missing"), "median", &[], "A missing numeric cell becomes its column's train-split median."),
    b(Value("missing"), "zero", &[], "A missing numeric cell becomes 0."),
    b(Value("normalize_targets"), "none", &[], "Targets as they are."),
    b(Value("normalize_targets"), "standard", &[], "Targets standardised for training; predictions in the original units."),
    call(Source, "csv", &[req("path", Ty::Text, "the path"), req("label", Ty::Columns, "label"), opt("header", "true", Ty::Bool, "header"), opt("delimiter", "\",\"", Ty::Text, "the delimiter")], "csv(\"train.csv\", label = \"label\")", Build::Source(d::csv), "A CSV file (`.gz` read through gzip); `label` names the target column(s) by header name or index."),
    call(Source, "split", &[req("from", Ty::Split, "the split to take rows from"), req("fraction", Ty::Float(Range::Fraction), "the split fraction"), opt("stratify", "false", Ty::Bool, "stratify")], "split(train, 0.2)", Build::Source(d::split), "Moves round(fraction × train rows) seeded-random rows out of train into this split; `stratify = true` takes that share of every class."),
    call(Source, "blobs", &[req("n", SIZE, "the number of rows"), req("features", SIZE, "features"), req("classes", SIZE, "classes"), opt("spread", "1.0", NON_NEGATIVE, "spread")], "blobs(n = 300, features = 2, classes = 3)", Build::Source(d::blobs), "Synthetic Gaussian blobs, one per class."),
    call(Source, "spirals", &[req("n", SIZE, "the number of rows"), req("classes", SIZE, "classes"), opt("noise", "0.2", NON_NEGATIVE, "noise")], "spirals(n = 300, classes = 3)", Build::Source(d::spirals), "Synthetic interleaved spirals (2 features)."),
    call(Source, "moons", &[req("n", SIZE, "the number of rows"), opt("noise", "0.1", NON_NEGATIVE, "noise")], "moons(n = 200)", Build::Source(d::moons), "Synthetic two moons (2 features, 2 classes)."),
    call(Source, "xor", &[req("n", SIZE, "the number of rows"), opt("noise", "0.1", NON_NEGATIVE, "noise")], "xor(n = 200)", Build::Source(d::xor), "Synthetic XOR quadrants (2 features, 2 classes)."),
    call(Source, "linear", &[req("n", SIZE, "the number of rows"), req("features", SIZE, "features"), opt("targets", "1", SIZE, "targets"), opt("noise", "0.1", NON_NEGATIVE, "noise")], "linear(n = 200, features = 3)", Build::Source(d::linear), "Synthetic linear regression targets."),
    b(Value("normalize"), "none", &[], "No normalisation."),
    b(Value("normalize"), "standard", &[], "(x − mean) / std, population std, from the train split."),
    b(Value("normalize"), "minmax", &[], "(x − min) / (max − min) into [0, 1], from the train split."),
    // ------------------------------------------------------------ model (§5)
    call(Layer, "dense", DENSE, "dense(16)", Build::Layer(m::dense), "A fully connected layer (`nn.Linear`); init defaults to he_uniform before a ReLU-like activation, else xavier_uniform."),
    call(Layer, "linear", DENSE, "dense(16)", Build::Layer(m::dense), "The same layer as `dense` (`nn.Linear`)."),
    call(Layer, "relu", &[], "relu", Build::Layer(m::relu), "max(0, x) (`nn.ReLU`)."),
    call(Layer, "sigmoid", &[], "sigmoid", Build::Layer(m::sigmoid), "1 / (1 + e^−x) (`nn.Sigmoid`)."),
    call(Layer, "tanh", &[], "tanh", Build::Layer(m::tanh), "Hyperbolic tangent (`nn.Tanh`)."),
    call(Layer, "gelu", &[], "gelu", Build::Layer(m::gelu), "Exact GELU, with erf (`nn.GELU()`)."),
    call(Layer, "softmax", &[], "softmax", Build::Layer(m::softmax), "Softmax over the features (`nn.Softmax(dim=1)`); not before cross_entropy, which applies it."),
    call(Layer, "leaky_relu", &[opt("slope", "0.01", ANY, "the slope")], "leaky_relu(0.01)", Build::Layer(m::leaky_relu), "x for x > 0, slope·x otherwise (`nn.LeakyReLU`)."),
    call(Layer, "elu", &[opt("alpha", "1.0", ANY, "alpha")], "elu(1.0)", Build::Layer(m::elu), "x for x > 0, alpha·(eˣ − 1) otherwise (`nn.ELU`)."),
    call(Layer, "dropout", &[req("p", UNIT_OPEN, "the dropout probability")], "dropout(0.1)", Build::Layer(m::dropout), "In training zeroes each unit with probability p and scales the rest by 1/(1−p) (`nn.Dropout`)."),
    call(Layer, "batch_norm", &[opt("momentum", "0.1", UNIT, "the batch_norm momentum"), opt("eps", "1e-5", POSITIVE, "eps")], "batch_norm(momentum = 0.1)", Build::Layer(m::batch_norm), "Batch normalisation (`nn.BatchNorm1d`)."),
    call(Layer, "layer_norm", &[opt("eps", "1e-5", POSITIVE, "eps")], "layer_norm(eps = 1e-5)", Build::Layer(|cx, b| Some(ir::LayerKind::LayerNorm { eps: b.float(cx, "eps").unwrap_or(1e-5) })), "Normalises each row over its features, then scales and shifts (`nn.LayerNorm`)."),
    call(Layer, "input", &[req("features", SIZE, "the input width")], "input(4)", Build::Input, "Optional first layer: the number of features, checked against the data."),
    call(Init, "he_uniform", &[], "he_uniform", Build::Init(m::he_uniform), "U(±√(6/fan_in))."),
    call(Init, "he_normal", &[], "he_normal", Build::Init(m::he_normal), "Normal, mean 0, variance 2/fan_in."),
    call(Init, "xavier_uniform", &[], "xavier_uniform", Build::Init(m::xavier_uniform), "U(±√(6/(fan_in+fan_out)))."),
    call(Init, "xavier_normal", &[], "xavier_normal", Build::Init(m::xavier_normal), "Normal, mean 0, variance 2/(fan_in+fan_out)."),
    call(Init, "lecun_normal", &[], "lecun_normal", Build::Init(m::lecun_normal), "Normal, mean 0, variance 1/fan_in."),
    call(Init, "normal", &[opt("std", "0.01", NON_NEGATIVE, "std")], "normal(std = 0.01)", Build::Init(m::normal), "Normal, mean 0, standard deviation std."),
    call(Init, "uniform", &[opt("limit", "0.05", NON_NEGATIVE, "limit")], "uniform(limit = 0.05)", Build::Init(m::uniform), "U(−limit, +limit)."),
    call(Init, "zeros", &[], "zeros", Build::Init(m::zeros), "All weights 0."),
    call(Init, "torch_default", &[], "torch_default", Build::Init(m::torch_default), "What `nn.Linear` does: weight and bias U(±1/√fan_in)."),
    // ------------------------------------------------------------ loss (§6)
    call(Loss, "cross_entropy", &[opt("label_smoothing", "0.0", UNIT, "label_smoothing")], "cross_entropy(label_smoothing = 0.1)", Build::Loss(o::cross_entropy), "Softmax cross-entropy over C logits (`nn.CrossEntropyLoss`)."),
    call(Loss, "binary_cross_entropy", &[], "binary_cross_entropy", Build::Loss(o::binary_cross_entropy), "Sigmoid cross-entropy on one logit (`nn.BCEWithLogitsLoss`)."),
    call(Loss, "mse", &[], "mse", Build::Loss(o::mse), "Mean squared error (`nn.MSELoss`)."),
    call(Loss, "mae", &[], "mae", Build::Loss(o::mae), "Mean absolute error (`nn.L1Loss`)."),
    call(Loss, "huber", &[opt("delta", "1.0", POSITIVE, "delta")], "huber(delta = 1.0)", Build::Loss(o::huber), "Huber loss (`nn.HuberLoss`)."),
    // ------------------------------------------------------------ optimizer (§7)
    call(Optimizer, "sgd", &[LR, opt("momentum", "0", NON_NEGATIVE, "momentum"), opt("dampening", "0", UNIT, "dampening"), opt("nesterov", "false", Ty::Bool, "nesterov"), WD0], "sgd(lr = 0.1, momentum = 0.9)", Build::Optimizer(o::sgd), "Stochastic gradient descent, with optional momentum (`torch.optim.SGD`)."),
    call(Optimizer, "adam", &[LR, BETA1, BETA2, EPS8, WD0, opt("amsgrad", "false", Ty::Bool, "amsgrad")], "adam(lr = 0.001)", Build::Optimizer(o::adam), "Adam (`torch.optim.Adam`)."),
    call(Optimizer, "adamw", &[LR, BETA1, BETA2, EPS8, opt("weight_decay", "0.01", NON_NEGATIVE, "weight_decay")], "adamw(lr = 0.001)", Build::Optimizer(o::adamw), "Adam with decoupled weight decay (`torch.optim.AdamW`)."),
    call(Optimizer, "rmsprop", &[LR, opt("alpha", "0.99", UNIT, "alpha"), EPS8, opt("momentum", "0", NON_NEGATIVE, "momentum"), opt("centered", "false", Ty::Bool, "centered"), WD0], "rmsprop(lr = 0.01)", Build::Optimizer(o::rmsprop), "RMSprop (`torch.optim.RMSprop`)."),
    call(Optimizer, "adagrad", &[LR, opt("eps", "1e-10", POSITIVE, "eps"), WD0], "adagrad(lr = 0.01)", Build::Optimizer(o::adagrad), "Adagrad (`torch.optim.Adagrad`)."),
    call(Optimizer, "nadam", &[LR, BETA1, BETA2, EPS8, WD0, opt("momentum_decay", "0.004", NON_NEGATIVE, "momentum_decay")], "nadam(lr = 0.002)", Build::Optimizer(|cx, b| { let (lr, weight_decay) = o::lr_and_decay(cx, b); let (beta1, beta2, eps) = (b.float(cx, "beta1"), b.float(cx, "beta2"), b.float(cx, "eps")); let momentum_decay = b.float(cx, "momentum_decay"); Some(ir::Optimizer::NAdam { lr: lr?, beta1: beta1?, beta2: beta2?, eps: eps?, weight_decay: weight_decay?, momentum_decay: momentum_decay? }) }), "Adam with Nesterov momentum (`torch.optim.NAdam`)."),
    // ------------------------------------------------------------ regularize (§8)
    call(Regularizer, "l1", &[req("lambda", NON_NEGATIVE, "lambda")], "l1(1e-5)", Build::Penalty(o::l1), "Adds lambda · Σ |w| over the dense weights to the objective."),
    call(Regularizer, "l2", &[req("lambda", NON_NEGATIVE, "lambda")], "l2(1e-4)", Build::Penalty(o::l2), "Adds lambda · Σ w² over the dense weights to the objective."),
    call(Regularizer, "max_norm", &[req("c", POSITIVE, "the max_norm limit")], "max_norm(3.0)", Build::Penalty(o::max_norm), "After each step, rescales each unit's incoming weights to L2 norm ≤ c."),
    // ------------------------------------------------------------ train (§9)
    item(Item("train"), "epochs", None, "Passes over the train split, ≥ 1 (required)."),
    item(Item("train"), "batch", Some("32"), "Mini-batch size, or `full` for the whole split.").of(Value("batch")),
    item(Item("train"), "shuffle", Some("true"), "Seeded reshuffle of the train rows at the start of each epoch."),
    item(Item("train"), "lr_schedule", Some("constant"), "The learning rate of each epoch.").of(Schedule),
    item(Item("train"), "clip", None, "Gradient clipping before every step: `norm(max)` or `value(max)`.").of(Clip),
    item(Item("train"), "early_stop", None, "Stop when the monitored value stops improving: `patience(p, monitor, min_delta)`.").of(EarlyStop),
    item(Item("train"), "metrics", Some("[]"), "Metrics logged as `valid_NAME` each epoch and `test_NAME` at the end: precision, recall, f1, auc, rmse, mae, r2."),
    b(Value("batch"), "full", &[], "The whole train split in one batch."),
    call(Schedule, "constant", &[], "constant", Build::Schedule(t::constant), "The optimizer's lr in every epoch."),
    call(Schedule, "step", &[req("every", COUNT1, "every"), opt("factor", "0.1", POSITIVE, "the step factor")], "step(every = 10, factor = 0.5)", Build::Schedule(t::step), "lr · factor^⌊(e−1)/every⌋ (StepLR)."),
    call(Schedule, "exponential", &[req("gamma", POSITIVE, "gamma")], "exponential(0.95)", Build::Schedule(t::exponential), "lr · gamma^(e−1) (ExponentialLR)."),
    call(Schedule, "cosine", &[opt("min_lr", "0", NON_NEGATIVE, "min_lr")], "cosine(min_lr = 0.0001)", Build::Schedule(t::cosine), "Cosine annealing from lr to min_lr over the epochs (CosineAnnealingLR)."),
    call(Schedule, "warmup", &[req("epochs", COUNT1, "the warm-up epochs"), opt("then", "constant", Ty::Name(Schedule), "then")], "warmup(epochs = 5, then = cosine)", Build::Schedule(t::warmup), "Linear warm-up over `epochs`, then the inner schedule."),
    call(Schedule, "reduce_on_plateau", &[opt("factor", "0.1", Ty::Float(Range::Fraction), "the reduce_on_plateau factor"), opt("patience", "10", Ty::Count { min: 0, max: None }, "patience"), opt("monitor", "valid_loss", MONITOR, "monitor")], "reduce_on_plateau(factor = 0.5, patience = 3)", Build::Schedule(t::reduce_on_plateau), "Multiplies the rate by factor when the monitored value stops improving (ReduceLROnPlateau)."),
    call(Clip, "norm", &[req("max", POSITIVE, "the clipping limit")], "norm(1.0)", Build::Clip(t::clip_norm), "Scales all gradients when their global L2 norm exceeds max (`clip_grad_norm_`)."),
    call(Clip, "value", &[req("max", POSITIVE, "the clipping limit")], "value(0.5)", Build::Clip(t::clip_value), "Clamps each gradient element to [−max, max] (`clip_grad_value_`)."),
    call(EarlyStop, "patience", &[req("p", COUNT1, "patience"), opt("monitor", "valid_loss", MONITOR, "monitor"), opt("min_delta", "0", NON_NEGATIVE, "min_delta")], "patience(10, monitor = valid_loss)", Build::EarlyStop(t::patience), "Stops after p consecutive epochs without improvement (Keras EarlyStopping)."),
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
    call(Expectation, "at_least", &[req("value", ANY, "the bound")], "at_least(0.9)", Build::Expectation(super::expect::at_least), "The field must reach at least this value."),
    call(Expectation, "at_most", &[req("value", ANY, "the bound")], "at_least(0.9)", Build::Expectation(super::expect::at_most), "The field must reach at most this value."),
];

/// The built-ins of one kind.
pub fn of_kind(kind: Kind) -> impl Iterator<Item = &'static Builtin> {
    BUILTINS.iter().filter(move |b| b.kind == kind)
}

/// The names of the built-ins of one kind, in declaration order (the order of
/// "expected one of" help texts).
pub fn names(kind: Kind) -> Vec<&'static str> {
    of_kind(kind).map(|b| b.name).collect()
}

/// The top-level settings, in declaration order.
pub fn settings() -> Vec<&'static str> {
    names(Kind::Setting)
}

/// The sections, in declaration order.
pub fn sections() -> Vec<&'static str> {
    names(Kind::Section)
}

/// The items of section `section`, in declaration order.
pub fn items(section: &str) -> Vec<&'static str> {
    BUILTINS
        .iter()
        .filter(|b| matches!(b.kind, Kind::Item(s) if s == section))
        .map(|b| b.name)
        .collect()
}

/// The top-level settings and sections in the canonical order of §3 (`nnt fmt`).
pub fn canonical_order() -> Vec<&'static str> {
    let mut top: Vec<&Builtin> = BUILTINS
        .iter()
        .filter(|b| matches!(b.kind, Kind::Setting | Kind::Section))
        .collect();
    top.sort_by_key(|b| b.order);
    top.into_iter().map(|b| b.name).collect()
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
/// top level), or of parameter `key` of a call of a built-in of kind `call`: from
/// the declarations (a parameter's [`Ty::Name`], an item's or its section's
/// `values`).
pub fn value_kind(section: Option<&str>, call: Option<Kind>, key: &str) -> Option<Kind> {
    if let Some(c) = call {
        return of_kind(c)
            .filter_map(|b| b.param(key))
            .find_map(|p| match p.ty {
                Ty::Name(k) => Some(k),
                Ty::Float(_) | Ty::Count { .. } | Ty::Bool | Ty::Text | Ty::Columns | Ty::Split => {
                    None
                }
            });
    }
    match section {
        None => find(Kind::Setting, key).and_then(|b| b.values),
        Some(s) => BUILTINS
            .iter()
            .find(|b| matches!(b.kind, Kind::Item(x) if x == s) && b.name == key)
            .and_then(|b| b.values)
            .or_else(|| find(Kind::Section, s).and_then(|b| b.values)),
    }
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

/// The reference of every built-in, as Markdown: `docs/REFERENCE.md` is this text
/// (a test fails when the file is out of date).
pub fn reference() -> String {
    use std::fmt::Write as _;
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from(
        "# Built-in reference\n\n\
         Generated from the declarations in `src/check/catalog.rs` (the checker, \
         `--set`, `nnt fmt`, the language server and this page all read them); \
         regenerate with `NNT_UPDATE_REFERENCE=1 cargo test --test declarations`. \
         The language itself is described in `LANGUAGE.md`.\n",
    );
    let mut groups: Vec<Kind> = Vec::new();
    for b in BUILTINS {
        if !groups.contains(&b.kind) {
            groups.push(b.kind);
        }
    }
    for kind in groups {
        let title = match kind {
            Kind::Setting => "Top-level settings".to_string(),
            Kind::Section => "Sections".to_string(),
            Kind::Item(s) => format!("Items of `{s}`"),
            Kind::Value(s) => format!("Values of `{s}`"),
            k => {
                let d = k.describe();
                let mut c = d.chars();
                c.next().map_or(d.clone(), |f| {
                    // `loss` → `Losses`, `layer` → `Layers`.
                    let plural = if d.ends_with('s') { "es" } else { "s" };
                    format!("{}{}{plural}", f.to_uppercase(), c.as_str())
                })
            }
        };
        let _ = write!(out, "\n## {title}\n\n");
        let callable = !matches!(
            kind,
            Kind::Setting | Kind::Section | Kind::Item(_) | Kind::Value(_)
        );
        if callable {
            out.push_str("| name | parameters | example | description |\n|---|---|---|---|\n");
        } else {
            out.push_str("| name | default | description |\n|---|---|---|\n");
        }
        for b in of_kind(kind) {
            if callable {
                let params: Vec<String> = b
                    .params
                    .iter()
                    .map(|p| {
                        let default = p
                            .default
                            .map_or("required".to_string(), |d| format!("default `{d}`"));
                        format!("`{}`: {}, {default}", p.name, p.ty.describe())
                    })
                    .collect();
                let params = if params.is_empty() {
                    "none".to_string()
                } else {
                    params.join("<br>")
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | `{}` | {} |",
                    b.name,
                    cell(&params),
                    cell(b.example),
                    cell(b.doc)
                );
            } else {
                let default = b.default.map_or(String::new(), |d| format!("`{d}`"));
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    b.name,
                    cell(&default),
                    cell(b.doc)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every IR value the checker maps a declared value name to is declared, in
    /// the same order (the declaration is the acceptance: a value that is not
    /// declared cannot be written).
    #[test]
    fn declared_values_are_the_ir_values() {
        use crate::ir::{Metric, Missing, Monitor, Normalize};
        let same = |kind: Kind, ir: Vec<&str>| assert_eq!(names(kind), ir, "{kind:?}");
        same(
            Kind::Value("monitor"),
            Monitor::all().iter().map(|m| m.name()).collect(),
        );
        same(
            Kind::Value("metrics"),
            Metric::ALL.iter().map(|m| m.name()).collect(),
        );
        same(
            Kind::Value("missing"),
            Missing::ALL.iter().map(|m| m.name()).collect(),
        );
        same(
            Kind::Value("normalize"),
            Normalize::ALL.iter().map(|m| m.name()).collect(),
        );
        same(Kind::Value("normalize_targets"), vec!["none", "standard"]);
    }

    /// The canonical layout holds every setting and section once.
    #[test]
    fn canonical_order_is_a_permutation() {
        let mut order = canonical_order();
        let mut all = settings();
        all.extend(sections());
        assert_eq!(order.len(), all.len());
        order.sort_unstable();
        all.sort_unstable();
        assert_eq!(order, all);
        assert_eq!(
            canonical_order()[..4],
            ["seed", "precision", "data", "model"]
        );
    }

    /// Every callable kind's declarations have a builder (the declaration is the
    /// acceptance: the checker finds names only here), and only callable kinds do.
    #[test]
    fn callables_have_builders() {
        for b in BUILTINS {
            let callable = matches!(
                b.kind,
                Kind::Layer
                    | Kind::Init
                    | Kind::Loss
                    | Kind::Optimizer
                    | Kind::Regularizer
                    | Kind::Source
                    | Kind::Schedule
                    | Kind::Clip
                    | Kind::EarlyStop
                    | Kind::Expectation
            );
            assert_eq!(
                callable,
                !matches!(b.build, Build::Item),
                "{} ({:?})",
                b.name,
                b.kind
            );
            // The builder is its kind's, so the checker's typed accessor finds it.
            if callable {
                assert_eq!(b.build.kind(), Some(b.kind), "{}", b.name);
            }
        }
    }

    /// Every declared default reads as a value of the declared type.
    #[test]
    fn defaults_have_their_types() {
        for b in BUILTINS {
            for p in b.params {
                let Some(d) = p.default else { continue };
                let ok = match p.ty {
                    Ty::Float(_) => d.parse::<f64>().is_ok(),
                    Ty::Count { .. } => d.parse::<usize>().is_ok(),
                    Ty::Bool => d.parse::<bool>().is_ok(),
                    Ty::Text => d.starts_with('"'),
                    Ty::Columns | Ty::Split => false,
                    Ty::Name(k) => d == "auto" || find(k, d).is_some(),
                };
                assert!(ok, "{}.{} = {d}", b.name, p.name);
                // The parameters without a default come first (positional order).
                let i = b.params.iter().position(|q| q.name == p.name).unwrap_or(0);
                assert!(
                    b.params[i..].iter().all(|q| q.default.is_some()),
                    "{}",
                    b.name
                );
            }
        }
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
        let mut checked = 0;
        for b in BUILTINS {
            if b.params.is_empty() {
                continue;
            }
            let Some(codes) = check_call(b, &call_with_defaults(b)) else {
                continue;
            };
            assert!(codes.is_empty(), "{}: {codes:?}", call_with_defaults(b));
            checked += 1;
        }
        assert!(checked > 30, "only {checked} calls checked");
    }

    /// A recipe with `call` (a call of `b`) in its place; `None` for kinds that
    /// are not callable here.
    fn recipe_with(b: &Builtin, call: &str) -> Option<String> {
        let base = |data: &str, model: &str, loss: &str, opt: &str, reg: &str, train: &str| {
            format!(
                "data {{\n    train = {data}\n    valid = split(train, 0.2)\n}}\nmodel {{\n{model}\n    dense(2)\n}}\nloss = {loss}\noptimizer = {opt}\nregularize = [{reg}]\ntrain {{\n    epochs = 3\n    batch = 8\n{train}\n}}\n"
            )
        };
        let d = "xor(n = 32)";
        let m = "    dense(4)";
        let l = "cross_entropy";
        let o = "sgd(lr = 0.1)";
        Some(match b.kind {
            Kind::Source if b.name == "split" => {
                base(d, m, l, o, "", "").replace("split(train, 0.2)", call)
            }
            Kind::Source => base(call, m, l, o, "", ""),
            Kind::Layer if b.name == "input" => base(d, &format!("    {call}\n{m}"), l, o, "", "")
                .replace("features = 4", "features = 2"),
            Kind::Layer => base(d, &format!("{m}\n    {call}"), l, o, "", ""),
            Kind::Init => base(d, &format!("    dense(4, init = {call})"), l, o, "", ""),
            Kind::Loss => base(d, m, call, o, "", ""),
            Kind::Optimizer => base(d, m, l, call, "", ""),
            Kind::Regularizer => base(d, m, l, o, call, ""),
            Kind::Schedule => base(d, m, l, o, "", &format!("    lr_schedule = {call}")),
            Kind::Clip => base(d, m, l, o, "", &format!("    clip = {call}")),
            Kind::EarlyStop => base(d, m, l, o, "", &format!("    early_stop = {call}")),
            _ => return None,
        })
    }

    /// The error codes of checking a recipe with `call` (a call of `b`).
    fn check_call(b: &Builtin, call: &str) -> Option<Vec<String>> {
        let recipe = recipe_with(b, call)?;
        let r = crate::check::resolve_recipe(
            "t.nnt",
            recipe.as_bytes(),
            std::path::Path::new("."),
            &Default::default(),
        );
        Some(
            r.errors
                .iter()
                .map(|e| e.code().map(|c| c.to_string()).unwrap_or_default())
                .collect(),
        )
    }

    /// Every declared range is what the checker enforces: a value just outside
    /// it is `out_of_range` (checked by the declaration, through `Args`).
    #[test]
    fn declared_ranges_are_enforced() {
        let mut checked = 0;
        for b in BUILTINS {
            for p in b.params {
                let outside = match p.ty {
                    Ty::Float(Range::Any) => continue,
                    Ty::Float(Range::UnitPositive | Range::Fraction | Range::Positive) => "0",
                    Ty::Float(_) => "-1",
                    Ty::Count { min, .. } if min > 0 => "0",
                    Ty::Count { .. } => "-1",
                    Ty::Bool | Ty::Text | Ty::Columns | Ty::Name(_) | Ty::Split => continue,
                };
                let call = call_with_defaults(b).replace(
                    &format!("{} = {}", p.name, value_of(b, p)),
                    &format!("{} = {outside}", p.name),
                );
                let Some(codes) = check_call(b, &call) else {
                    continue;
                };
                assert!(
                    codes.iter().any(|c| c == "nnt::check::out_of_range"),
                    "{call}: {codes:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 40, "only {checked} parameters checked");
    }

    /// The value `call_with_defaults` gives parameter `p` of `b`.
    fn value_of(b: &Builtin, p: &Param) -> String {
        let call = call_with_defaults(b);
        let key = format!("{} = ", p.name);
        let start = call.find(&key).map_or(0, |i| i + key.len());
        call[start..]
            .split([',', ')'])
            .next()
            .unwrap_or_default()
            .to_string()
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
