//! Facts that need the loaded data: the input width, every layer's widths, labels
//! that fit the loss and the output width, and batch_norm's one-row batches.

use crate::ast::{SourceId, Span};
use crate::data::prep::is_class_label;
use crate::ir::{
    Batch, CsvSpec, Data, Layer, LayerKind, Loss, Model, SourceFile, SourceSpec, Table,
};

use super::data::RData;
use super::error::{plural, same_source, CheckError, LabelCell};
use super::model::RModel;
use super::train::RTrain;
use super::Cx;
use crate::ir::Task;

/// At most this many weights in one dense layer (1 GiB in f32).
const MAX_WEIGHTS: usize = 1 << 28;

/// Builds the IR model (widths known) and checks the data against it.
pub fn check(
    cx: &mut Cx,
    source: &SourceFile,
    data: &Data,
    rdata: &RData,
    model: Option<&RModel>,
    loss: Option<(Loss, Span)>,
    train: Option<&RTrain>,
) -> Option<Model> {
    let before = cx.errors.len();
    if data.train.rows == 0 {
        cx.err(CheckError::EmptyTrain {
            // The split taken last is the one that left train empty.
            span: rdata
                .test_span
                .or(rdata.valid_span)
                .unwrap_or(rdata.train_span),
            help: Some("use smaller split fractions, or more data".into()),
        });
    }
    let features = data.train.features;
    let targets = data.train.targets;
    for (split, t, span) in splits(data, rdata).into_iter().skip(1) {
        for (what, found, expected) in [
            ("feature columns", t.features, features),
            ("label columns", t.targets, targets),
        ] {
            if found != expected {
                cx.err(CheckError::SplitShape {
                    split: split.into(),
                    what,
                    found,
                    expected,
                    span,
                    train: same_source(span, Some(rdata.train_span)),
                    help: Some("every split needs the same feature and label columns".into()),
                });
            }
        }
    }
    if cx.errors.len() > before {
        return None;
    }
    let model = model?;
    if let Some((n, span)) = model.input {
        if n != features {
            cx.err(CheckError::InputWidth {
                given: n,
                features,
                plural: plural(features),
                span,
                help: Some(format!(
                    "write `input({features})`, or remove it: the width comes from the data"
                )),
            });
        }
    }
    let mut layers = Vec::with_capacity(model.layers.len());
    let mut width = features;
    let mut lines = LineCursor::new(&source.text);
    for (index, l) in model.layers.iter().enumerate() {
        let in_width = width;
        if let LayerKind::Dense { units, .. } = l.kind {
            width = units;
        }
        let dense = matches!(l.kind, LayerKind::Dense { .. });
        if dense && in_width.saturating_mul(width) > MAX_WEIGHTS {
            cx.err(CheckError::OutOfRange {
                what: "the weights of this layer (inputs × units)".into(),
                rule: format!("at most {MAX_WEIGHTS}"),
                value: format!("{in_width} × {width}"),
                span: l.span,
                help: Some("use fewer units".into()),
            });
        }
        let line = if l.span.source == SourceId::RECIPE {
            lines.line_of(l.span.start)
        } else {
            0
        };
        layers.push(Layer {
            index,
            kind: l.kind.clone(),
            in_width,
            out_width: width,
            span: l.span,
            line,
        });
    }
    let out_width = width;
    // The layer that decides the output width: the last dense one.
    let out_span = model
        .layers
        .iter()
        .rev()
        .find(|l| matches!(l.kind, LayerKind::Dense { .. }))
        .map_or(model.span, |l| l.span);
    if let Some((loss, loss_span)) = loss {
        if !super::tabular::classes(cx, data, rdata, loss, loss_span, out_width, out_span) {
            return None;
        }
        labels(
            cx, data, rdata, loss, loss_span, out_width, out_span, targets,
        );
    }
    if let Some(t) = train {
        batch_norm(cx, data, model, t);
    }
    (cx.errors.len() == before).then_some(Model {
        input_width: features,
        layers,
    })
}

/// Line numbers of increasing offsets, counted on from the last one asked: the
/// lines of a model's layers in O(text) in all, not O(text) per layer (a
/// million layers took minutes; issue 11, item 14).
struct LineCursor<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCursor<'a> {
    fn new(text: &'a str) -> Self {
        LineCursor {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// 1-based line of `offset` (as [`SourceFile::line_of`]).
    fn line_of(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.text[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

fn splits<'a>(data: &'a Data, rdata: &RData) -> Vec<(&'static str, &'a Table, Span)> {
    let mut v = vec![("train", &data.train, rdata.train_span)];
    if let (Some(t), Some(s)) = (&data.valid, rdata.valid_span) {
        v.push(("valid", t, s));
    }
    if let (Some(t), Some(s)) = (&data.test, rdata.test_span) {
        v.push(("test", t, s));
    }
    v
}

/// The line (1-based) and the file of a split's row, for splits read from a CSV
/// file (directly or split off one); `None` for generated data.
fn line_in_file<'a>(
    rdata: &'a RData,
    split: &str,
    t: &Table,
    row: usize,
) -> Option<(usize, &'a CsvSpec)> {
    // `split` is one of the names `splits` gives: train, valid, test.
    let source = if split == "valid" {
        rdata.spec.valid.as_ref()
    } else if split == "test" {
        rdata.spec.test.as_ref()
    } else {
        Some(&rdata.spec.train)
    };
    let file = match source? {
        SourceSpec::Csv(c) => c,
        SourceSpec::Split { .. } => match &rdata.spec.train {
            SourceSpec::Csv(c) => c,
            _ => return None,
        },
        _ => return None,
    };
    Some((*t.lines.get(row)?, file))
}

/// The label's cell in its data file, for a label the check finds wrong: one
/// related diagnostic showing the line, or none (generated data, more than one
/// label column, or a file that changed since it was read).
fn label_cell(found: Option<(usize, &CsvSpec)>, t: &Table, value: &str) -> Vec<LabelCell> {
    let Some((line, spec)) = found.filter(|_| t.targets == 1) else {
        return Vec::new();
    };
    crate::data::label_cell(spec, line, 0)
        .map(|(src, span)| LabelCell {
            file: spec.display.clone(),
            line,
            src,
            span,
            value: value.to_string(),
        })
        .into_iter()
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn labels(
    cx: &mut Cx,
    data: &Data,
    rdata: &RData,
    loss: Loss,
    loss_span: Span,
    out_width: usize,
    out_span: Span,
    targets: usize,
) {
    let name = loss.name();
    if loss.is_classification() && targets != 1 {
        cx.err(CheckError::LabelCount {
            loss_name: name.into(),
            targets,
            span: rdata.train_span,
            help: Some(
                "classification predicts one label column: give `label` a single column".into(),
            ),
        });
        return;
    }
    match loss.task() {
        Task::Multiclass => {
            let mut largest: Option<(f64, &str, &Table, usize)> = None;
            let mut smallest = f64::INFINITY;
            // Each split's first label that is not a class, and the class count
            // of the others, all at once (§13): one split's bad label does not
            // hide another's, nor a label past the output width.
            for (split, t, span) in splits(data, rdata) {
                let mut reported = false;
                for (row, &y) in t.y.iter().enumerate() {
                    if !is_class_label(y) {
                        if reported {
                            continue;
                        }
                        reported = true;
                        let found = line_in_file(rdata, split, t, row);
                        let value = fmt(y);
                        cx.err(CheckError::LabelNotClass {
                            split: split.into(),
                            row: row + 1,
                            at: found
                                .map(|(line, f)| format!(" (line {line} of `{}`)", f.display))
                                .unwrap_or_default(),
                            cell: label_cell(found, t, &value),
                            value,
                            span,
                            loss: same_source(span, Some(loss_span)),
                            help: Some(
                                "class labels are whole numbers from 0; for a numeric target use a regression loss such as `mse`"
                                    .into(),
                            ),
                        });
                        continue;
                    }
                    if largest.is_none_or(|(m, ..)| y > m) {
                        largest = Some((y, split, t, row));
                    }
                    smallest = smallest.min(y);
                }
            }
            if let Some((m, split, t, row)) = largest {
                // `as` saturates for absurd labels (1e300); the message stays truthful enough.
                let needed = (m as usize).saturating_add(1);
                let found = line_in_file(rdata, split, t, row);
                if needed > out_width {
                    cx.err(CheckError::ClassCount {
                        width: out_width,
                        plural: plural(out_width),
                        needed,
                        largest: m as usize,
                        at: found
                            .map(|(line, f)| format!(", found on line {line} of `{}`", f.display))
                            .unwrap_or_default(),
                        cell: label_cell(found, t, &fmt(m)),
                        span: out_span,
                        width_minus_one: out_width.saturating_sub(1),
                        loss: same_source(out_span, Some(loss_span)),
                        help: Some(class_count_help(smallest, m, out_width)),
                    });
                }
            }
        }
        Task::Binary => {
            if out_width != 1 {
                cx.err(CheckError::OutputWidth {
                    width: out_width,
                    plural: plural(out_width),
                    needed: 1,
                    loss_name: name.into(),
                    span: out_span,
                    loss: same_source(out_span, Some(loss_span)),
                    help: Some(
                        "binary cross-entropy takes one logit: end the model with `dense(1)`, or use cross_entropy with one unit per class"
                            .into(),
                    ),
                });
            }
            let values = distinct_labels(data);
            // Each split's first label other than 0 and 1 (§13: all at once).
            for (split, t, span) in splits(data, rdata) {
                if let Some((row, &y)) = t.y.iter().enumerate().find(|(_, &y)| y != 0.0 && y != 1.0)
                {
                    let found = line_in_file(rdata, split, t, row);
                    let value = fmt(y);
                    cx.err(CheckError::BinaryLabel {
                        split: split.into(),
                        row: row + 1,
                        at: found
                            .map(|(line, f)| format!(" (line {line} of `{}`)", f.display))
                            .unwrap_or_default(),
                        cell: label_cell(found, t, &value),
                        value,
                        span,
                        loss: same_source(span, Some(loss_span)),
                        help: Some(binary_label_help(&values)),
                    });
                }
            }
        }
        Task::Regression => {
            if out_width != targets {
                cx.err(CheckError::OutputWidth {
                    width: out_width,
                    plural: plural(out_width),
                    needed: targets,
                    loss_name: name.into(),
                    span: out_span,
                    loss: same_source(out_span, Some(loss_span)),
                    help: Some(format!(
                        "the data has {targets} target column{}: end the model with `dense({targets})`",
                        plural(targets)
                    )),
                });
            }
        }
    }
}

fn fmt(v: f64) -> String {
    format!("{v}")
}

/// Up to three distinct label values over every split, in order (three means
/// "more than two").
fn distinct_labels(data: &Data) -> Vec<f64> {
    let mut values: Vec<f64> = Vec::new();
    let tables = std::iter::once(&data.train)
        .chain(data.valid.as_ref())
        .chain(data.test.as_ref());
    for t in tables {
        for &y in &t.y {
            if !values.iter().any(|v| v.to_bits() == y.to_bits() || *v == y) {
                values.push(y);
                if values.len() > 2 {
                    values.sort_by(f64::total_cmp);
                    return values;
                }
            }
        }
    }
    values.sort_by(f64::total_cmp);
    values
}

/// The help for a label binary cross-entropy cannot take: it depends on what the
/// labels are (issue 11, item 20). Two values other than 0 and 1 (−1/+1, 1/2) are
/// two classes written differently: map them. More than two whole values are
/// classes: cross_entropy. Anything else is a numeric target.
fn binary_label_help(values: &[f64]) -> String {
    let whole = |v: &f64| v.is_finite() && v.fract() == 0.0 && *v >= 0.0;
    match values {
        [a, b] => {
            let maps: Vec<String> = [(*a, 0.0), (*b, 1.0)]
                .iter()
                .filter(|(from, to)| from != to)
                .map(|(from, to)| format!("{} to {}", fmt(*from), fmt(*to)))
                .collect();
            format!(
                "binary cross-entropy needs labels 0 and 1; these labels are {} and {}: map {} in the data",
                fmt(*a),
                fmt(*b),
                maps.join(" and ")
            )
        }
        [a] => format!(
            "binary cross-entropy needs labels 0 and 1; every label is {}: map it to 0 or 1 in the data",
            fmt(*a)
        ),
        v if v.iter().all(whole) => {
            "for more than two classes use `cross_entropy` with one output unit per class".into()
        }
        _ => "binary cross-entropy needs labels 0 and 1; for a numeric target use a regression loss such as `mse`".into(),
    }
}

/// The help when the largest class label does not fit the output width: labels
/// from 1 to the width look 1-based (issue 11, item 20), else widen the output.
fn class_count_help(smallest: f64, largest: f64, width: usize) -> String {
    let needed = (largest as usize).saturating_add(1);
    if smallest == 1.0 && largest as usize == width {
        format!(
            "the labels run from 1 to {width}: they look 1-based, while class labels count from 0; subtract 1 from every label (0 to {}), or, if there really are {needed} classes, make the output layer `dense({needed})`",
            width.saturating_sub(1)
        )
    } else if needed as i64 > super::values::MAX_SIZE {
        // No output layer can be that wide: the labels are no class indices.
        format!(
            "class labels are 0-based class indices, and a label of {largest} would need more output units than a layer can have ({}): is the label column an id or a measurement? for a numeric target use a regression loss such as `mse`",
            super::values::MAX_SIZE
        )
    } else {
        format!("make the output layer `dense({needed})`")
    }
}

/// The model's first batch_norm layer (where its one-row errors point).
fn first_batch_norm(model: &RModel) -> Option<&super::model::RLayer> {
    model
        .layers
        .iter()
        .find(|l| matches!(l.kind, LayerKind::BatchNorm { .. }))
}

/// `batch = 1` with batch_norm, which needs no data: checked before the data
/// is read, so that a data error does not hide it (§13).
pub fn batch_norm_batch_one(cx: &mut Cx, model: &RModel, train: &RTrain) {
    if train.plan.batch != Batch::Size(1) {
        return;
    }
    let Some(bn) = first_batch_norm(model) else {
        return;
    };
    cx.err(CheckError::BatchNormOneRow {
        why: "`batch = 1` trains on one row at a time".to_string(),
        span: bn.span,
        batch: same_source(bn.span, train.batch_span),
        help: Some("use a batch of at least 2 rows, or remove batch_norm".to_string()),
    });
}

/// batch_norm with a one-row batch that the train split's row count makes
/// (`batch = 1` is [`batch_norm_batch_one`]'s).
fn batch_norm(cx: &mut Cx, data: &Data, model: &RModel, train: &RTrain) {
    if train.plan.batch == Batch::Size(1) {
        return;
    }
    let Some(bn) = first_batch_norm(model) else {
        return;
    };
    let rows = data.train.rows;
    if rows == 0 {
        return;
    }
    let size = train.plan.batch.rows(rows);
    let why = if size == 1 {
        "the train split has a single row".to_string()
    } else if rows % size == 1 {
        format!(
            "the train split has {rows} rows, so batches of {size} leave a last batch of one row"
        )
    } else {
        return;
    };
    // A size that works: the nearest above (then below) that leaves no
    // one-row batch (`rows % s != 1`), checked rather than guessed (7 rows in
    // batches of 3 leave one row too).
    let fits = |s: usize| s >= 2 && rows % s != 1;
    let works = (size + 1..=rows)
        .find(|&s| fits(s))
        .or_else(|| (2..size).rev().find(|&s| fits(s)));
    let help = match (works, size) {
        (Some(s), 1) => {
            format!("use a batch of at least 2 rows, such as `batch = {s}`, or remove batch_norm")
        }
        (Some(s), _) => format!("use a batch size that does not leave one row over, such as {s}"),
        (None, _) => "remove batch_norm, or train on more rows".to_string(),
    };
    cx.err(CheckError::BatchNormOneRow {
        why,
        span: bn.span,
        batch: same_source(bn.span, train.batch_span),
        help: Some(help),
    });
}
