//! What `nnt predict`, `nnt eval` and `nnt explain MODEL` share: a model file
//! loaded into an evaluation-mode network, its data preparation, a streaming
//! reader of CSV rows matched to the model's columns, and the diagnostics of
//! using a model on a file.

use std::path::Path;
use std::sync::Arc;

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

use crate::data::prep::{Binding, CellIssue, CellIssueKind, Classes, Preparation};
use crate::data::{DataError, RowStream};
use crate::io::model_file::{ModelFile, ModelFileError, ModelMeta};
use crate::io::weights::WeightsError;
use crate::ir::Task;
use crate::ir::{Loss, Precision};
use crate::report::excerpt::Excerpt;
use crate::train::float::Float;
use crate::train::infer::Evaluator;
use crate::train::layers::activation::sigmoid;
use crate::train::metrics::Scorer;
use crate::train::network::Network;
use crate::train::snapshot;

/// Rows per forward pass: memory stays constant in the number of rows.
pub const CHUNK: usize = 1024;

/// Using a model on a data file.
#[derive(Debug, Error, Diagnostic)]
pub enum UseError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Model(#[from] ModelFileError),

    /// The data file does not exist: `nnt predict m.safetensors missing.csv`.
    /// Test: tests/it/model_use.rs `bad_inputs_are_diagnostics_and_nothing_is_half_written`.
    #[error("cannot read data file `{file}`: {reason}")]
    #[diagnostic(code(nnt::predict::unreadable))]
    Unreadable { file: String, reason: String },

    /// The data file read as the train file is (`nnt::data::*`): not a regular
    /// file (`/dev/zero`, a FIFO), a line over the limit, a ragged row, a cell
    /// that is not UTF-8, a used column named twice, a damaged gzip stream.
    /// Test: tests/it/model_use.rs `data_files_are_read_as_training_reads_them`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(Box<DataError>),

    /// The model was trained on synthetic data: there is no column schema to
    /// match a file against.
    #[error("{path} has no data preparation: it was trained on generated data, not on a CSV file")]
    #[diagnostic(
        code(nnt::predict::no_preparation),
        help("predict and eval need a model trained on `csv(...)` data, whose columns they match by name")
    )]
    NoPreparation { path: String },

    /// The file lacks a column the model needs (a feature, a label for `eval`, or
    /// a `--keep` column). Test: tests/it/model_use.rs `bad_inputs_are_diagnostics_and_nothing_is_half_written`.
    #[error("data file `{file}` has no column `{column}`, which {role}")]
    #[diagnostic(code(nnt::predict::missing_column), help("{help}"))]
    MissingColumn {
        file: String,
        column: String,
        role: String,
        help: String,
    },

    /// A cell that cannot be prepared as training did (not a number, missing
    /// where the model has no fill, an unknown class).
    /// Test: tests/it/model_use.rs `bad_inputs_are_diagnostics_and_nothing_is_half_written`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    BadCell(Box<BadCell>),

    /// A data file with no rows.
    #[error("data file `{file}` has no rows")]
    #[diagnostic(code(nnt::predict::empty_file))]
    Empty { file: String },

    /// The output cannot be written (`-o` in a missing directory, a closed pipe).
    /// Test: tests/it/model_use.rs `bad_inputs_are_diagnostics_and_nothing_is_half_written`.
    #[error("cannot write {path}: {reason}")]
    #[diagnostic(code(nnt::predict::write_failed))]
    Write { path: String, reason: String },
}

impl From<DataError> for UseError {
    fn from(e: DataError) -> UseError {
        match e {
            // Its help speaks of a recipe's directory: here there is none.
            DataError::FileNotFound { file, .. } => UseError::Unreadable {
                file,
                reason: "no such file".into(),
            },
            other => UseError::Data(Box::new(other)),
        }
    }
}

/// A cell of a data file that cannot be prepared, with its line as source.
#[derive(Debug, Error, Diagnostic)]
#[error("{file}:{line}: column {column} {what}")]
#[diagnostic(code(nnt::predict::bad_cell), help("{help}"))]
pub struct BadCell {
    pub file: String,
    pub line: usize,
    pub column: String,
    pub what: String,
    pub help: String,
    #[source_code]
    pub src: Arc<Excerpt>,
    #[label("here")]
    pub span: SourceSpan,
}

/// A model ready to run: its metadata, preparation and network.
pub struct Loaded {
    pub path: String,
    pub meta: ModelMeta,
    pub prep: Option<Preparation>,
    pub runner: Runner,
    /// The file's tensors (for export).
    pub weights: crate::io::weights::WeightsFile,
}

impl Loaded {
    pub fn read(path: &Path) -> Result<Loaded, UseError> {
        let file = ModelFile::read(path)?;
        let shown = path.display().to_string();
        let prep = match &file.meta.preparation {
            Some(v) => Some(
                serde_json::from_value::<Preparation>(v.clone()).map_err(|e| {
                    ModelFileError::BadMetadata {
                        path: shown.clone(),
                        key: "nnt.preparation".into(),
                        reason: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        if let Some(p) = &prep {
            // A newer layout may mean something this nnt would misread.
            if p.version != crate::data::prep::PREP_VERSION {
                return Err(ModelFileError::BadMetadata {
                    path: shown,
                    key: "nnt.preparation".into(),
                    reason: format!(
                        "its version is {}; this nnt reads version {}",
                        p.version,
                        crate::data::prep::PREP_VERSION
                    ),
                }
                .into());
            }
            if p.input_width() != file.meta.input_width {
                return Err(ModelFileError::BadMetadata {
                    path: shown,
                    key: "nnt.preparation".into(),
                    reason: format!(
                        "it prepares {} inputs, the model takes {}",
                        p.input_width(),
                        file.meta.input_width
                    ),
                }
                .into());
            }
        }
        check_outputs(&file.meta, prep.as_ref(), &shown)?;
        // Every width is bounded by the file's tensors (`ModelFile::read`); the
        // buffers of a chunk must still fit.
        file.meta.check_run_size(&shown, CHUNK)?;
        let runner = Runner::new(&file).map_err(ModelFileError::from)?;
        Ok(Loaded {
            path: shown,
            meta: file.meta,
            prep,
            runner,
            weights: file.weights,
        })
    }

    /// The values of tensor `name` with exactly `shape`.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f64>, WeightsError> {
        self.weights.get(name, shape).map(<[f64]>::to_vec)
    }

    /// The preparation, required for reading files.
    pub fn prep(&self) -> Result<&Preparation, UseError> {
        self.prep.as_ref().ok_or_else(|| UseError::NoPreparation {
            path: self.path.clone(),
        })
    }

    pub fn loss(&self) -> Loss {
        self.meta.loss
    }

    /// Class names for the report: the names, or the class indices.
    pub fn class_labels(&self) -> Vec<String> {
        let count = match self.meta.loss.task() {
            Task::Multiclass => self.meta.output_width(),
            Task::Binary => 2,
            Task::Regression => 0,
        };
        match self.prep.as_ref().and_then(|p| p.class_names()) {
            Some(names) => names.to_vec(),
            None => (0..count).map(|c| c.to_string()).collect(),
        }
    }

    /// The target column names (regression output columns).
    pub fn target_names(&self) -> Vec<String> {
        match &self.prep {
            Some(p) if !p.labels.is_empty() => p.labels.iter().map(|c| c.name.clone()).collect(),
            _ => (0..self.meta.output_width())
                .map(|j| format!("target_{j}"))
                .collect(),
        }
    }
}

/// The network's output width must be what the loss and the data preparation
/// imply: one logit for binary cross-entropy, one per class for cross-entropy
/// (the class count of the preparation), one per label column for a regression
/// loss; classification has classes and one label column, regression none.
fn check_outputs(
    meta: &ModelMeta,
    prep: Option<&Preparation>,
    path: &str,
) -> Result<(), ModelFileError> {
    let width = meta.output_width();
    let loss = meta.loss.name();
    let task = meta.loss.task();
    let bad = |key: &str, reason: String| ModelFileError::BadMetadata {
        path: path.to_string(),
        key: key.to_string(),
        reason,
    };
    let outputs = |n: usize| format!("{n} output{}", if n == 1 { "" } else { "s" });
    if task == Task::Binary && width != 1 {
        return Err(bad(
            "nnt.loss",
            format!(
                "{loss} takes one output (a logit), but the network has {}",
                outputs(width)
            ),
        ));
    }
    let Some(p) = prep else {
        return Ok(());
    };
    let labels = p.labels.len();
    match (task, &p.classes) {
        (Task::Regression, Some(_)) => {
            return Err(bad(
                "nnt.loss",
                format!("{loss} is a regression loss, but the data preparation has classes"),
            ))
        }
        (Task::Regression, None) if labels != width => {
            return Err(bad(
                "nnt.preparation",
                format!(
                    "it has {labels} label column{}, but the {loss} network has {} (one per label column)",
                    if labels == 1 { "" } else { "s" },
                    outputs(width)
                ),
            ))
        }
        (Task::Regression, None) => {}
        (Task::Multiclass | Task::Binary, None) => {
            return Err(bad(
                "nnt.preparation",
                format!("it has no classes, but {loss} is a classification loss"),
            ))
        }
        (_, Some(_)) if labels != 1 => {
            return Err(bad(
                "nnt.preparation",
                format!("it has {labels} label columns, but {loss} predicts one"),
            ))
        }
        (_, Some(classes)) => {
            let count = match classes {
                Classes::Names { names } => names.len(),
                Classes::Numeric { count } => *count,
            };
            let needed = if task == Task::Binary { 2 } else { width };
            if count != needed {
                let why = if task == Task::Binary {
                    format!("{loss} has 2 classes")
                } else {
                    format!("the {loss} network has {} (one per class)", outputs(width))
                };
                return Err(bad(
                    "nnt.preparation",
                    format!("it has {count} classes, but {why}"),
                ));
            }
        }
    }
    if let Some(t) = &p.targets {
        if t.mean.len() != labels || t.std.len() != labels {
            return Err(bad(
                "nnt.preparation",
                format!(
                    "its target scaling has {} means and {} deviations for {labels} label columns",
                    t.mean.len(),
                    t.std.len()
                ),
            ));
        }
    }
    Ok(())
}

/// The network in the model's precision.
pub enum Runner {
    F32(Typed<f32>),
    F64(Typed<f64>),
}

pub struct Typed<T> {
    net: Network<T>,
    ev: Evaluator<T>,
    /// The targets of a chunk, in T (for scoring).
    y: Vec<T>,
}

impl<T: Float> Typed<T> {
    fn new(file: &ModelFile) -> Result<Self, WeightsError> {
        let model = file.meta.model();
        // The network holds the parameters; its own (training) buffers are sized
        // for one row and never used: the evaluator has the inference buffers.
        let mut net = Network::<T>::new(&model, 1);
        snapshot::load_parameters(&mut net, &file.weights, "")?;
        let ev = Evaluator::new(&net.layers, net.input_width, CHUNK);
        Ok(Typed {
            net,
            ev,
            y: Vec::new(),
        })
    }

    /// Forward of `n` rows (`x` row-major, `n × inputs`, in f64); the outputs
    /// (`n × outputs`, row-major) are appended to `out` as f64 (exact widening).
    fn forward(&mut self, x: &[f64], n: usize, out: &mut Vec<f64>) {
        for (dst, &v) in self.ev.input_mut(n).iter_mut().zip(x) {
            *dst = T::of(v);
        }
        let y = self.ev.forward(&mut self.net.layers, &self.net.params, n);
        out.extend(y.iter().map(|v| v.to_f64()));
    }

    fn score(
        &mut self,
        x: &[f64],
        y: &[f64],
        n: usize,
        scorer: &mut Scorer,
        out: &mut Vec<f64>,
    ) -> Result<(), String> {
        for (dst, &v) in self.ev.input_mut(n).iter_mut().zip(x) {
            *dst = T::of(v);
        }
        self.y.clear();
        self.y.extend(y.iter().map(|&v| T::of(v)));
        let z = self.ev.forward(&mut self.net.layers, &self.net.params, n);
        scorer.try_add(z, &self.y, n)?;
        out.extend(z.iter().map(|v| v.to_f64()));
        Ok(())
    }
}

impl Runner {
    fn new(file: &ModelFile) -> Result<Runner, WeightsError> {
        Ok(match file.meta.precision {
            Precision::F32 => Runner::F32(Typed::new(file)?),
            Precision::F64 => Runner::F64(Typed::new(file)?),
        })
    }

    /// Outputs of `n ≤ CHUNK` prepared rows, appended to `out`.
    pub fn forward(&mut self, x: &[f64], n: usize, out: &mut Vec<f64>) {
        match self {
            Runner::F32(t) => t.forward(x, n, out),
            Runner::F64(t) => t.forward(x, n, out),
        }
    }

    /// Scores `n ≤ CHUNK` prepared rows with their targets (training units); the
    /// outputs are appended to `out`. Targets of a width the model's output and
    /// loss do not take are an error (see [`Scorer::try_add`]).
    pub fn score(
        &mut self,
        x: &[f64],
        y: &[f64],
        n: usize,
        scorer: &mut Scorer,
        out: &mut Vec<f64>,
    ) -> Result<(), String> {
        match self {
            Runner::F32(t) => t.score(x, y, n, scorer, out),
            Runner::F64(t) => t.score(x, y, n, scorer, out),
        }
    }
}

/// A value rounded to the model's precision (what the network computes in).
pub fn in_precision(p: Precision, v: f64) -> f64 {
    match p {
        Precision::F32 => v as f32 as f64,
        Precision::F64 => v,
    }
}

/// The shortest decimal that round-trips `v` in the model's precision;
/// exponent form for very small or large magnitudes.
pub fn shortest(p: Precision, v: f64) -> String {
    let mut s = String::new();
    shortest_into(p, v, &mut s);
    s
}

/// [`shortest`] into a reused buffer (cleared first).
pub fn shortest_into(p: Precision, v: f64, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    let _ = write!(out, "{}", Shortest(p, v));
}

/// Displays as [`shortest`].
struct Shortest(Precision, f64);

impl std::fmt::Display for Shortest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Shortest(p, v) = *self;
        if v.is_nan() {
            return f.write_str("nan");
        }
        if v.is_infinite() {
            return f.write_str(if v > 0.0 { "inf" } else { "-inf" });
        }
        let a = v.abs();
        let plain = a == 0.0 || (1e-5..1e16).contains(&a);
        match (p, plain) {
            (Precision::F32, true) => write!(f, "{}", v as f32),
            (Precision::F32, false) => write!(f, "{:e}", v as f32),
            (Precision::F64, true) => write!(f, "{v}"),
            (Precision::F64, false) => write!(f, "{v:e}"),
        }
    }
}

/// Softmax of one row of logits (computed in f64, then rounded to the model's
/// precision).
pub fn softmax(p: Precision, z: &[f64], out: &mut Vec<f64>) {
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = z.iter().map(|&v| (v - max).exp()).sum();
    out.clear();
    out.extend(z.iter().map(|&v| in_precision(p, (v - max).exp() / sum)));
}

/// The positive-class probability of a logit, in the model's precision.
pub fn positive_probability(p: Precision, logit: f64) -> f64 {
    in_precision(p, sigmoid(logit))
}

// ---------------------------------------------------------------- reading rows

/// A CSV file read row by row with each row's line number: the data stage's
/// [`RowStream`] (the checks of a train file, one row in memory), and the cells
/// the model uses.
pub struct Rows {
    pub file: String,
    stream: RowStream,
    /// The columns whose cells are read (they must be UTF-8).
    used: Vec<bool>,
    /// The class count of numeric class labels (for messages).
    classes: Option<usize>,
    /// The model's precision: every prepared value must be finite in it.
    precision: Precision,
}

impl Rows {
    pub fn open(path: &Path, prep: &Preparation, precision: Precision) -> Result<Rows, UseError> {
        let file = path.display().to_string();
        let delimiter = prep.delimiter.bytes().next().unwrap_or(b',');
        let stream = RowStream::open(path, &file, delimiter, prep.header)?;
        let classes = match &prep.classes {
            Some(Classes::Numeric { count }) => Some(*count),
            _ => None,
        };
        Ok(Rows {
            used: vec![false; stream.columns()],
            file,
            stream,
            classes,
            precision,
        })
    }

    /// Checks a prepared row (and its targets): every value the network gets
    /// must be finite in the model's precision (`1e39` is not in f32).
    pub fn check_prepared(
        &self,
        prep: &Preparation,
        binding: &Binding,
        cells: &[&str],
        line: usize,
        row: &[f64],
        targets: Option<&[f64]>,
    ) -> Result<(), UseError> {
        let p = self.precision;
        prep.check_row(binding, cells, row, targets, |v| p.holds(v))
            .map_err(|issue| self.cell_error(cells, line, &issue))
    }

    /// The header names (when the model's train file had a header).
    pub fn header(&self) -> Option<&[String]> {
        self.stream.header()
    }

    /// Marks the columns of `binding` (features, and labels that are bound) and
    /// `keep` as read.
    pub fn read_columns(&mut self, binding: &Binding, keep: &[usize]) {
        let bound = binding.labels.iter().flatten();
        for &c in binding.features.iter().chain(bound).chain(keep) {
            if let Some(u) = self.used.get_mut(c) {
                *u = true;
            }
        }
    }

    /// Reads the next row; its 1-based line, or `None` at the end.
    pub fn advance(&mut self) -> Result<Option<usize>, UseError> {
        Ok(self.stream.advance()?)
    }

    /// The cells of the row last read (those not read may be empty).
    pub fn cells(&self) -> Result<Vec<&str>, UseError> {
        Ok(self.stream.cells(&self.used)?)
    }

    /// The column's name in this file (header name, or its 1-based number).
    fn column_name(&self, i: usize) -> String {
        match self.header().and_then(|h| h.get(i)) {
            Some(n) => format!("`{n}`"),
            None => format!("{}", i + 1),
        }
    }

    /// The diagnostic of a bad cell of the row `cells` (at `line`).
    pub fn cell_error(&self, cells: &[&str], line: usize, issue: &CellIssue) -> UseError {
        let cell = cells.get(issue.column).map_or("", |c| c.trim());
        let (what, help) = match &issue.kind {
            CellIssueKind::Missing => (
                format!("is missing: `{cell}`"),
                "the model was trained with `missing = error` (or `drop`), so it has no fill for a missing feature".to_string(),
            ),
            CellIssueKind::NotANumber(t) => (
                format!("is not a number: `{t}`"),
                "the model was trained on numbers in this column".to_string(),
            ),
            CellIssueKind::NotFinite(t) => (
                format!("is not a finite number: `{t}`"),
                "every number must be finite".to_string(),
            ),
            CellIssueKind::UnknownClass(t) => (
                format!("holds `{t}`, which is not a class of the model"),
                "the label must be one of the classes the model was trained on".to_string(),
            ),
            CellIssueKind::BadClass(t) => (
                format!("holds `{t}`, which is not a class index of the model"),
                match self.classes {
                    Some(1) => "the model has 1 class: its only label is 0".to_string(),
                    Some(2) => "the model has 2 classes: labels are 0 or 1".to_string(),
                    Some(c) if c > 0 => format!(
                        "the model has {c} classes: labels are whole numbers from 0 to {}",
                        c - 1
                    ),
                    _ => "numeric class labels are whole numbers from 0 to the class count − 1"
                        .to_string(),
                },
            ),
            CellIssueKind::TooLarge(t) => (
                format!(
                    "is too large for the model's {} precision: `{t}`",
                    self.precision.name()
                ),
                format!(
                    "the model computes in {0}: this value, prepared as training did (normalised), is beyond {0}'s range",
                    self.precision.name()
                ),
            ),
            CellIssueKind::NoCell => (
                "is absent: the row is too short".to_string(),
                "every row needs a cell for each column the model was trained on".to_string(),
            ),
        };
        let (src, span, line) = self.stream.cell_source(line, issue.column);
        UseError::BadCell(Box::new(BadCell {
            file: self.file.clone(),
            line,
            column: self.column_name(issue.column),
            what,
            help,
            src,
            span,
        }))
    }
}

/// Matches a file's header to the model's columns; a missing column names
/// itself, a used one named twice is `nnt::data::ambiguous_column` (columns the
/// model does not use may repeat, as in a valid or test file).
pub fn bind(rows: &Rows, prep: &Preparation, need_labels: bool) -> Result<Binding, UseError> {
    if prep.header {
        let labels = prep.labels.iter().filter(|_| need_labels);
        for c in prep.features.iter().map(|f| &f.column).chain(labels) {
            rows.stream.find(&c.name)?;
        }
    }
    prep.bind(rows.header(), need_labels).map_err(|e| {
        let known = rows.header().map(|h| h.join(", ")).unwrap_or_default();
        UseError::MissingColumn {
            file: rows.file.clone(),
            column: e.column,
            role: if e.label {
                "is the model's label (eval needs it)".into()
            } else {
                "is a feature of the model".into()
            },
            help: if known.is_empty() {
                "without a header, columns are matched by position".into()
            } else {
                format!("the file's columns are: {known}")
            },
        }
    })
}

/// The file column of a `--keep` column: by header name, or a 0-based index
/// without a header.
pub fn keep_column(rows: &Rows, name: &str) -> Result<usize, UseError> {
    let found = match rows.header() {
        Some(_) => rows.stream.find(name)?,
        None => name
            .parse::<usize>()
            .ok()
            .filter(|&i| i < rows.stream.columns()),
    };
    found.ok_or_else(|| UseError::MissingColumn {
        file: rows.file.clone(),
        column: name.to_string(),
        role: "`--keep` names".into(),
        help: match rows.header() {
            Some(h) => format!("the file's columns are: {}", h.join(", ")),
            None => format!(
                "without a header, `--keep` takes a 0-based column index (this file has {} columns)",
                rows.stream.columns()
            ),
        },
    })
}
