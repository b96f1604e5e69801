//! Check errors: one variant per kind, code `nnt::check::<name>`. Above each variant,
//! a minimal recipe that triggers it; that recipe is the fixture
//! `tests/fixtures/invalid/<name>.nnt` (a full recipe around the shown line).

use std::sync::Arc;

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

use crate::ast::Span;
use crate::report::excerpt::Excerpt;

#[derive(Debug, Error, Diagnostic)]
pub enum CheckError {
    /// `optimizer = adamm(lr = 0.1)`
    #[error("unknown {what} `{name}`")]
    #[diagnostic(code(nnt::check::unknown_name))]
    UnknownName {
        what: String,
        name: String,
        #[label(primary, "not a known {what}")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `sed = 1` at the top level, or `epoch = 3` in `train`.
    #[error("unknown item `{name}` {place}")]
    #[diagnostic(code(nnt::check::unknown_item))]
    UnknownItem {
        place: String,
        name: String,
        #[label(primary, "not a known item {place}")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `seed = 1` twice.
    #[error("`{name}` is given twice")]
    #[diagnostic(code(nnt::check::duplicate_item), help("keep one of them"))]
    DuplicateItem {
        name: String,
        #[label(primary, "given again here")]
        span: Span,
        #[label("first given here")]
        first: Option<Span>,
    },

    /// A recipe without `optimizer = …`, or a `train` section without `epochs`.
    #[error("missing {what}")]
    #[diagnostic(code(nnt::check::missing_item))]
    MissingItem {
        what: String,
        #[label(primary, "{label}")]
        span: Span,
        label: String,
        #[help]
        help: Option<String>,
    },

    /// `model = dense(3)`
    #[error("`{name}` is a section, not a setting")]
    #[diagnostic(code(nnt::check::expected_section))]
    ExpectedSection {
        name: String,
        #[label(primary, "a section is written `{name} {{ … }}`")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `loss { mse }`
    #[error("`{name}` is a setting, not a section")]
    #[diagnostic(code(nnt::check::expected_setting))]
    ExpectedSetting {
        name: String,
        #[label(primary, "a setting is written `{name} = value`")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `train { relu }`
    #[error("a layer can only appear inside `model`, not in `{section}`")]
    #[diagnostic(
        code(nnt::check::layer_outside_model),
        help("entries of this section are written `name = value`")
    )]
    LayerOutsideModel {
        section: String,
        #[label(primary, "a layer (a value on its own)")]
        span: Span,
    },

    /// `model { epochs = 3 }`
    #[error("`model` holds layers, not settings: `{name} = …` does not belong here")]
    #[diagnostic(code(nnt::check::setting_in_model))]
    SettingInModel {
        name: String,
        #[label(primary, "a setting inside `model`")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `dense(16.0)`
    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(nnt::check::wrong_type))]
    WrongType {
        expected: String,
        found: String,
        #[label(primary, "expected {expected}")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `optimizer = adam()`
    #[error("`{call}` needs the argument `{param}`")]
    #[diagnostic(code(nnt::check::missing_argument))]
    MissingArgument {
        call: String,
        param: String,
        #[label(primary, "`{param}` missing here")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `dense(8, activation = relu)`
    #[error("`{call}` has no argument `{name}`")]
    #[diagnostic(code(nnt::check::unknown_argument))]
    UnknownArgument {
        call: String,
        name: String,
        #[label(primary, "unknown argument")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `adam(0.1, lr = 0.2)`
    #[error("the argument `{name}` is given twice")]
    #[diagnostic(code(nnt::check::repeated_argument), help("give each argument once"))]
    RepeatedArgument {
        name: String,
        #[label(primary, "given again here")]
        span: Span,
        #[label("first given here")]
        first: Option<Span>,
    },

    /// `adam(lr = 0.1, 0.9)`
    #[error("a positional argument cannot follow a named one")]
    #[diagnostic(
        code(nnt::check::positional_after_named),
        help("put positional arguments first, or name this one too")
    )]
    PositionalAfterNamed {
        #[label(primary, "positional argument")]
        span: Span,
        #[label("after this named argument")]
        named: Option<Span>,
    },

    /// `dropout(0.1, 0.2)`
    #[error("`{call}` takes at most {max} argument{plural}")]
    #[diagnostic(code(nnt::check::too_many_arguments))]
    TooManyArguments {
        call: String,
        max: usize,
        plural: &'static str,
        #[label(primary, "one too many")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `optimizer = adam(lr = 0)`
    #[error("{what} must be {rule}, found {value}")]
    #[diagnostic(code(nnt::check::out_of_range))]
    OutOfRange {
        what: String,
        rule: String,
        value: String,
        #[label(primary, "must be {rule}")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `model { dense(4); input(4) }`
    #[error("`input` must be the first layer of the model")]
    #[diagnostic(
        code(nnt::check::input_not_first),
        help("move `input(N)` to the top of `model`, or remove it: the width comes from the data")
    )]
    InputNotFirst {
        #[label(primary, "not the first layer")]
        span: Span,
    },

    /// `input(5)` with data of 4 feature columns.
    #[error(
        "`input({given})` does not match the data, which has {features} feature column{plural}"
    )]
    #[diagnostic(code(nnt::check::input_width))]
    InputWidth {
        given: usize,
        features: usize,
        plural: &'static str,
        #[label(primary, "the data has {features} feature column{plural}")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `model { relu }`
    #[error("the model has no dense layer, so there is nothing to train")]
    #[diagnostic(
        code(nnt::check::no_dense_layer),
        help("add at least one `dense(units)` layer")
    )]
    NoDenseLayer {
        #[label(primary, "no dense layer in here")]
        span: Span,
    },

    /// `dense(3)` as the output of a cross_entropy model whose labels go up to 4.
    #[error("the output layer has {width} unit{plural} but the data needs {needed} classes (largest label {largest} + 1{at})")]
    #[diagnostic(code(nnt::check::class_count))]
    ClassCount {
        width: usize,
        plural: &'static str,
        needed: usize,
        largest: usize,
        /// `, found on line L of `file`` for data read from a CSV file, else empty.
        at: String,
        #[label(
            primary,
            "{width} output unit{plural}: classes 0..{width_minus_one} only"
        )]
        span: Span,
        width_minus_one: usize,
        #[label("cross-entropy: one output unit per class")]
        loss: Option<Span>,
        /// The label's cell in its data file, when read from one.
        #[related]
        cell: Vec<LabelCell>,
        #[help]
        help: Option<String>,
    },

    /// cross_entropy with a label `2.5` or `-1` in the data.
    #[error("cross-entropy needs integer class labels 0, 1, 2, …, but row {row} of the {split} split{at} has label {value}")]
    #[diagnostic(code(nnt::check::label_not_class))]
    LabelNotClass {
        split: String,
        row: usize,
        /// ` (line L of `file`)` for data read from a CSV file, else empty.
        at: String,
        value: String,
        #[label(primary, "the {split} data")]
        span: Span,
        #[label("cross-entropy")]
        loss: Option<Span>,
        /// The label's cell in its data file, when read from one.
        #[related]
        cell: Vec<LabelCell>,
        #[help]
        help: Option<String>,
    },

    /// binary_cross_entropy with a label `2` in the data.
    #[error("binary cross-entropy needs labels 0 or 1, but row {row} of the {split} split{at} has label {value}")]
    #[diagnostic(code(nnt::check::binary_label))]
    BinaryLabel {
        split: String,
        row: usize,
        /// ` (line L of `file`)` for data read from a CSV file, else empty.
        at: String,
        value: String,
        #[label(primary, "the {split} data")]
        span: Span,
        #[label("binary cross-entropy")]
        loss: Option<Span>,
        /// The label's cell in its data file, when read from one.
        #[related]
        cell: Vec<LabelCell>,
        #[help]
        help: Option<String>,
    },

    /// binary_cross_entropy with `dense(2)` as the output, or mse with 1 unit for 2 targets.
    #[error("the output layer has {width} unit{plural} but {loss_name} needs {needed}")]
    #[diagnostic(code(nnt::check::output_width))]
    OutputWidth {
        width: usize,
        plural: &'static str,
        needed: usize,
        loss_name: String,
        #[label(primary, "{width} output unit{plural}")]
        span: Span,
        #[label("{loss_name}")]
        loss: Option<Span>,
        #[help]
        help: Option<String>,
    },

    /// cross_entropy with `label = ["a", "b"]`.
    #[error("{loss_name} needs exactly one label column, but the data has {targets}")]
    #[diagnostic(code(nnt::check::label_count))]
    LabelCount {
        loss_name: String,
        targets: usize,
        #[label(primary, "{targets} label columns")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `early_stop = patience(5, monitor = valid_loss)` without `valid = …`.
    #[error("`{monitor}` needs a valid split, but `data` has no `valid`")]
    #[diagnostic(code(nnt::check::no_valid_split))]
    NoValidSplit {
        monitor: String,
        #[label(primary, "monitors the valid split")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `early_stop = patience(5, monitor = valid_accuracy)` with `loss = mse`.
    #[error("`valid_accuracy` is only measured for classification losses")]
    #[diagnostic(code(nnt::check::no_accuracy))]
    NoAccuracy {
        #[label(primary, "no accuracy to monitor with this loss")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `metrics = [auc]` with `loss = mse` (§15).
    /// Fixture: tests/fixtures/invalid/metric_loss.nnt
    #[error("the metric `{metric}` is not defined for {loss_name}")]
    #[diagnostic(code(nnt::check::metric_loss))]
    MetricLoss {
        metric: String,
        loss_name: String,
        #[label(primary, "needs {needs}")]
        span: Span,
        needs: String,
        #[help]
        help: Option<String>,
    },

    /// `early_stop = patience(5, monitor = valid_f1)` without `f1` in `metrics`.
    /// Fixture: tests/fixtures/invalid/monitor_not_logged.nnt
    #[error("`{monitor}` is not logged: `train` has no `{metric}` in `metrics`")]
    #[diagnostic(code(nnt::check::monitor_not_logged))]
    MonitorNotLogged {
        monitor: String,
        metric: String,
        #[label(primary, "monitors a metric that is not computed")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `expect { valid_accuracy = at_least(0.9) }` without `valid = …`;
    /// `expect { valid_f1 = at_least(0.5) }` without `f1` in `train { metrics
    /// = [...] }`, or `valid_rmse` with a classification loss.
    /// Fixtures: tests/fixtures/invalid/expect_test_accuracy_regression.nnt,
    /// tests/fixtures/invalid/expect_metric_not_listed.nnt; tests/it/cli_test.rs
    /// `expectations_on_metric_fields_read_the_log`, tests/it/check_api.rs
    /// `every_expect_error_is_reported_at_once`.
    #[error("`{field}` is not logged by this run: {reason}")]
    #[diagnostic(code(nnt::check::not_logged))]
    NotLogged {
        field: String,
        reason: String,
        #[label(primary, "this run does not log `{field}`")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `sgd(lr = 0.1, nesterov = true)`
    #[error("nesterov momentum needs {reason}")]
    #[diagnostic(code(nnt::check::nesterov))]
    Nesterov {
        reason: String,
        #[label(primary, "nesterov = true")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `batch_norm` with `batch = 1`, or 33 train rows in batches of 32.
    #[error("batch_norm cannot train on a batch of one row: {why}")]
    #[diagnostic(code(nnt::check::batch_norm_one_row))]
    BatchNormOneRow {
        why: String,
        #[label(primary, "batch_norm here")]
        span: Span,
        #[label("the batch size")]
        batch: Option<Span>,
        #[help]
        help: Option<String>,
    },

    /// `warmup(epochs = 2, then = warmup(epochs = 1))`
    #[error("the schedule after warmup cannot be `{inner}`")]
    #[diagnostic(
        code(nnt::check::nested_schedule),
        help("use constant, step, exponential or cosine after warmup")
    )]
    NestedSchedule {
        inner: String,
        #[label(primary, "not allowed after warmup")]
        span: Span,
    },

    /// `train = split(train, 0.2)`
    #[error("`split` can only be used for `valid` and `test`")]
    #[diagnostic(
        code(nnt::check::split_for_train),
        help("the train split comes from a file or a synthetic set: csv(\"…\", label = …), blobs(…), …")
    )]
    SplitForTrain {
        #[label(primary, "train cannot be split from itself")]
        span: Span,
    },

    /// `valid = csv(…)` with other columns than `train = csv(…)`.
    #[error("the {split} data has {found} {what} but the train data has {expected}")]
    #[diagnostic(code(nnt::check::split_shape))]
    SplitShape {
        split: String,
        what: &'static str,
        found: usize,
        expected: usize,
        #[label(primary, "{found} {what}")]
        span: Span,
        #[label("{expected} {what}")]
        train: Option<Span>,
        #[help]
        help: Option<String>,
    },

    /// `valid = split(train, 0.5)` and `test = split(train, 0.5)` on 2 rows.
    #[error("the train split has no rows left")]
    #[diagnostic(code(nnt::check::empty_train))]
    EmptyTrain {
        #[label(primary, "no rows left for training")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// A model whose parameters, optimizer state and activations need more memory
    /// than `super::memory::LIMIT` (100 × `dense(16384)` with sgd: 213 GB).
    /// Minimal recipe: model_too_large.nnt.
    #[error(
        "this model needs {needed} of memory to train ({parts}), more than the limit of {limit}"
    )]
    #[diagnostic(code(nnt::check::model_too_large))]
    ModelTooLarge {
        needed: String,
        parts: String,
        limit: String,
        #[label(primary, "this model")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// More errors than are worth reading: the rest are summarised.
    /// Minimal recipe: 51 unknown items `a1 = 1` … `a51 = 1` (too_many_errors.nnt).
    #[error("{more} more error{plural} not shown")]
    #[diagnostic(
        code(nnt::check::too_many_errors),
        help("fix the errors above and check again")
    )]
    TooManyErrors {
        more: usize,
        plural: &'static str,
        #[label(primary, "the next one is here")]
        span: Span,
    },

    /// `--set train.epoch=3` or `--set epochs`.
    #[error("bad override `{text}`: {reason}")]
    #[diagnostic(code(nnt::check::bad_override))]
    BadOverride {
        text: String,
        reason: String,
        #[label(primary, "{reason}")]
        span: Span,
        #[help]
        help: Option<String>,
    },
}

/// Where a label named by a check error sits in its data file: the line, the
/// label's cell underlined (shown below the error, as a related diagnostic).
#[derive(Debug, Error, Diagnostic)]
#[error("the label is on line {line} of `{file}`")]
#[diagnostic(severity(Advice))]
pub struct LabelCell {
    pub file: String,
    pub line: usize,
    #[source_code]
    pub src: Arc<Excerpt>,
    #[label("label {value}")]
    pub span: SourceSpan,
    pub value: String,
}

impl CheckError {
    /// The span of the main label: it decides which source text the diagnostic shows.
    pub fn primary(&self) -> Span {
        use CheckError::*;
        match self {
            UnknownName { span, .. }
            | UnknownItem { span, .. }
            | DuplicateItem { span, .. }
            | MissingItem { span, .. }
            | ExpectedSection { span, .. }
            | ExpectedSetting { span, .. }
            | LayerOutsideModel { span, .. }
            | SettingInModel { span, .. }
            | WrongType { span, .. }
            | MissingArgument { span, .. }
            | UnknownArgument { span, .. }
            | RepeatedArgument { span, .. }
            | PositionalAfterNamed { span, .. }
            | TooManyArguments { span, .. }
            | OutOfRange { span, .. }
            | InputNotFirst { span }
            | InputWidth { span, .. }
            | NoDenseLayer { span }
            | ClassCount { span, .. }
            | LabelNotClass { span, .. }
            | BinaryLabel { span, .. }
            | OutputWidth { span, .. }
            | LabelCount { span, .. }
            | NoValidSplit { span, .. }
            | NoAccuracy { span, .. }
            | MetricLoss { span, .. }
            | MonitorNotLogged { span, .. }
            | NotLogged { span, .. }
            | Nesterov { span, .. }
            | BatchNormOneRow { span, .. }
            | NestedSchedule { span, .. }
            | SplitForTrain { span }
            | EmptyTrain { span, .. }
            | ModelTooLarge { span, .. }
            | SplitShape { span, .. }
            | TooManyErrors { span, .. }
            | BadOverride { span, .. } => *span,
        }
    }
}

/// Keeps a secondary label only when it points into the same text as the primary
/// one (a diagnostic renders one source).
pub fn same_source(primary: Span, other: Option<Span>) -> Option<Span> {
    other.filter(|o| o.source == primary.source)
}

/// "s" for plural counts.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
