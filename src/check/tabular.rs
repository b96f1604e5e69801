//! §14 facts that need the recipe and the prepared data: class names against the
//! loss and the output width, items that do not fit the loss, and the lints that
//! save a wasted run (feature or target scale far from 1 without normalisation,
//! classes so imbalanced that accuracy misleads).

use miette::Diagnostic;
use thiserror::Error;

use crate::ast::Span;
use crate::data::prep::FeatureKind;
use crate::ir::{Data, Loss, Metric, Normalize};

use super::data::RData;
use super::error::same_source;
use super::Cx;
use crate::ir::Task;

/// Check errors of §14.
#[derive(Debug, Error, Diagnostic)]
pub enum TabularError {
    /// `features = ["a"]` and `ignore = ["b"]` together.
    #[error("`features` and `ignore` cannot both be given")]
    #[diagnostic(
        code(nnt::check::features_with_ignore),
        help("`features` lists the columns to use (every other column is ignored); `ignore` lists the columns to leave out: keep one of them")
    )]
    FeaturesWithIgnore {
        #[label(primary, "ignore")]
        span: Span,
        #[label("features")]
        features: Option<Span>,
    },

    /// `split(train, 0.2, stratify = true)` with a regression loss.
    #[error("`stratify = true` needs a classification loss")]
    #[diagnostic(
        code(nnt::check::stratify_regression),
        help("stratified splits keep each class's share; with a regression loss remove `stratify = true`")
    )]
    StratifyRegression {
        #[label(primary, "stratified")]
        span: Span,
        #[label("a regression loss")]
        loss: Option<Span>,
    },

    /// `normalize_targets = standard` with a classification loss.
    #[error("`normalize_targets` is for regression; class labels are not normalised")]
    #[diagnostic(
        code(nnt::check::normalize_targets_classification),
        help("remove `normalize_targets`, or use a regression loss such as `mse`")
    )]
    NormalizeTargetsClassification {
        #[label(primary, "normalize_targets")]
        span: Span,
        #[label("a classification loss")]
        loss: Option<Span>,
    },

    /// Three class names and `dense(2)` with cross_entropy.
    #[error("the train split has {classes} classes ({names}), but the output layer has {width} unit{plural}")]
    #[diagnostic(
        code(nnt::check::class_count),
        help("make the output layer `dense({classes})`")
    )]
    ClassNamesCount {
        classes: usize,
        names: String,
        width: usize,
        plural: &'static str,
        #[label(primary, "{width} output unit{plural}")]
        span: Span,
        #[label("needs one unit per class")]
        loss: Option<Span>,
    },

    /// Three class names with binary_cross_entropy.
    #[error("binary_cross_entropy needs exactly two classes; the train split's labels have {classes} names ({names})")]
    #[diagnostic(code(nnt::check::binary_label), help("{help}"))]
    BinaryClassNames {
        classes: usize,
        names: String,
        help: String,
        #[label(primary, "this data")]
        span: Span,
        #[label("two classes")]
        loss: Option<Span>,
    },
}

/// Warnings of §14.
#[derive(Debug, Error, Diagnostic)]
pub enum TabularLint {
    /// A numeric feature in the thousands with `normalize = none`.
    #[error("{what} of {scale} without `normalize`: {columns}")]
    #[diagnostic(
        code(nnt::lint::feature_scale),
        severity(Warning),
        help("inputs far from 1 slow or stall training: add `normalize = standard` to `data`")
    )]
    FeatureScale {
        what: &'static str,
        scale: String,
        columns: String,
        #[label(primary, "this data")]
        span: Span,
    },

    /// A regression target in the thousands without `normalize_targets`.
    #[error("regression targets of {scale} without `normalize_targets`: {columns}")]
    #[diagnostic(
        code(nnt::lint::target_scale),
        severity(Warning),
        help("targets far from 1 make the loss and its gradients huge or tiny: add `normalize_targets = standard` to `data` (predictions are still given in the original units)")
    )]
    TargetScale {
        scale: String,
        columns: String,
        #[label(primary, "this data")]
        span: Span,
    },

    /// A class the model is built for with no row in the train split: labels
    /// `{0, 2}` for `dense(3)`, or a class a split took all the rows of.
    /// Fixture: tests/fixtures/tabular/empty_class.nnt
    #[error("{classes} no rows in the train split: the model cannot learn to predict {them}")]
    #[diagnostic(code(nnt::data::empty_class), severity(Warning), help("{help}"))]
    EmptyClass {
        classes: String,
        them: &'static str,
        help: String,
        #[label(primary, "this data")]
        span: Span,
    },

    /// One class holds most of the train rows.
    #[error("class `{class}` holds {percent}% of the train rows: accuracy is misleading (always predicting it scores {percent}%)")]
    #[diagnostic(code(nnt::lint::class_imbalance), severity(Warning), help("{help}"))]
    ClassImbalance {
        class: String,
        percent: usize,
        help: String,
        #[label(primary, "this data")]
        span: Span,
    },
}

/// The recipe items that do not fit the loss (checked before the data is read).
pub fn items(cx: &mut Cx, rdata: &RData, loss: Option<(Loss, Span)>) {
    let Some((loss, loss_span)) = loss else {
        return;
    };
    if let Some(span) = rdata.stratify_span {
        if !loss.is_classification() {
            cx.errors.push((
                span,
                Box::new(TabularError::StratifyRegression {
                    span,
                    loss: same_source(span, Some(loss_span)),
                }),
            ));
        }
    }
    if let (Some(span), true) = (rdata.normalize_targets_span, rdata.spec.normalize_targets) {
        if loss.is_classification() {
            cx.errors.push((
                span,
                Box::new(TabularError::NormalizeTargetsClassification {
                    span,
                    loss: same_source(span, Some(loss_span)),
                }),
            ));
        }
    }
}

fn list(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
    if names.len() > 8 {
        format!("{}, ... ({} in all)", shown.join(", "), names.len())
    } else {
        shown.join(", ")
    }
}

/// Class names against the loss and the output width; returns false on error.
pub fn classes(
    cx: &mut Cx,
    data: &Data,
    rdata: &RData,
    loss: Loss,
    loss_span: Span,
    out_width: usize,
    out_span: Span,
) -> bool {
    let Some(prep) = &data.prep else {
        return true;
    };
    let Some(names) = prep.class_names() else {
        return true;
    };
    match loss.task() {
        Task::Multiclass if names.len() != out_width => {
            cx.errors.push((
                out_span,
                Box::new(TabularError::ClassNamesCount {
                    classes: names.len(),
                    names: list(names),
                    width: out_width,
                    plural: if out_width == 1 { "" } else { "s" },
                    span: out_span,
                    loss: same_source(out_span, Some(loss_span)),
                }),
            ));
            false
        }
        Task::Binary if names.len() != 2 => {
            let help = if names.len() > 2 {
                format!(
                    "for {} classes use `loss = cross_entropy` with `dense({})` at the end of the model",
                    names.len(),
                    names.len()
                )
            } else {
                "the train split needs rows of both classes".to_string()
            };
            cx.errors.push((
                rdata.train_span,
                Box::new(TabularError::BinaryClassNames {
                    classes: names.len(),
                    names: list(names),
                    help,
                    span: rdata.train_span,
                    loss: same_source(rdata.train_span, Some(loss_span)),
                }),
            ));
            false
        }
        Task::Multiclass | Task::Binary | Task::Regression => true,
    }
}

/// The scale lints and the imbalance lint.
pub fn lints(cx: &mut Cx, data: &Data, rdata: &RData, loss: Option<Loss>, metrics: &[Metric]) {
    let Some(prep) = &data.prep else {
        return;
    };
    let span = rdata.train_span;
    let t = &data.train;
    if prep.normalize == Normalize::None && t.rows > 0 {
        let mut big = Vec::new();
        let mut small = Vec::new();
        let mut at = 0;
        for f in &prep.features {
            if let FeatureKind::Numeric { .. } = f.kind {
                let m = (0..t.rows)
                    .map(|r| t.x[r * t.features + at].abs())
                    .fold(0.0f64, f64::max);
                if m >= 1e3 {
                    big.push((f.column.name.clone(), m));
                } else if m > 0.0 && m <= 1e-3 {
                    small.push((f.column.name.clone(), m));
                }
            }
            at += f.width();
        }
        for (what, cols) in [("numeric features", big), ("numeric features", small)] {
            if cols.is_empty() {
                continue;
            }
            let largest = cols.iter().map(|c| c.1).fold(0.0f64, f64::max);
            let scale = if largest >= 1e3 {
                format!("up to {}", crate::report::number::human(largest, 4))
            } else {
                format!("at most {}", crate::report::number::human(largest, 4))
            };
            let names: Vec<String> = cols.into_iter().map(|c| c.0).collect();
            cx.warn_any(
                span,
                Box::new(TabularLint::FeatureScale {
                    what,
                    scale,
                    columns: list(&names),
                    span,
                }),
            );
        }
    }
    if let Some(loss) = loss {
        if !loss.is_classification() && prep.targets.is_none() && t.rows > 0 && t.targets > 0 {
            let mut cols = Vec::new();
            let mut largest = 0.0f64;
            for j in 0..t.targets {
                let m = (0..t.rows)
                    .map(|r| t.y[r * t.targets + j].abs())
                    .fold(0.0f64, f64::max);
                if m >= 1e3 {
                    cols.push(prep.labels.get(j).map_or(j.to_string(), |c| c.name.clone()));
                    largest = largest.max(m);
                }
            }
            if !cols.is_empty() {
                cx.warn_any(
                    span,
                    Box::new(TabularLint::TargetScale {
                        scale: format!("up to {}", crate::report::number::human(largest, 4)),
                        columns: list(&cols),
                        span,
                    }),
                );
            }
        }
        if loss.is_classification() && prep.classes.is_some() {
            let total: usize = data.class_counts.iter().map(|(_, c)| c[0]).sum();
            if let Some((name, counts)) = data.class_counts.iter().max_by_key(|(_, c)| c[0]) {
                let percent = counts[0] * 100 / total.max(1);
                if total >= 10 && percent >= 80 && data.class_counts.len() >= 2 {
                    // What the recipe does not do yet: per-class metrics,
                    // stratified splits (of the splits taken from train).
                    let per_class = [Metric::F1, Metric::Precision, Metric::Recall];
                    let mut fixes = Vec::new();
                    if !per_class.iter().all(|m| metrics.contains(m)) {
                        fixes.push("judge the model by per-class metrics: `train { metrics = [f1, precision, recall] }` (and `nnt eval`)");
                    }
                    let unstratified = [&rdata.spec.valid, &rdata.spec.test].iter().any(|s| {
                        matches!(
                            s,
                            Some(crate::ir::SourceSpec::Split {
                                stratify: false,
                                ..
                            })
                        )
                    });
                    if unstratified {
                        fixes.push("keep every class in each split with `split(train, f, stratify = true)`");
                    }
                    let help = match fixes.as_slice() {
                        [] => {
                            "per-class metrics and `nnt eval` show how each class fares".to_string()
                        }
                        parts => parts.join(", and "),
                    };
                    cx.warn_any(
                        span,
                        Box::new(TabularLint::ClassImbalance {
                            class: name.clone(),
                            percent,
                            help,
                            span,
                        }),
                    );
                }
            }
        }
    }
}

/// The classes of `data.class_counts` with no train row, in one warning (after
/// the labels are found to be classes: a label that is not one is its own error).
pub fn empty_classes(cx: &mut Cx, data: &Data, rdata: &RData) {
    let counts = &data.class_counts;
    let empty: Vec<&str> = counts
        .iter()
        .filter(|(_, c)| c.first() == Some(&0))
        .map(|(n, _)| n.as_str())
        .collect();
    if empty.is_empty() || empty.len() == counts.len() {
        // No train rows at all is an error of its own.
        return;
    }
    // Classes past the last one any split uses: the output is wider than the labels.
    let used = counts
        .iter()
        .rposition(|(_, c)| c.iter().any(|&n| n > 0))
        .map_or(0, |i| i + 1);
    let past_the_labels = counts[used..].len() == empty.len();
    let shown: Vec<String> = empty.iter().take(8).map(|n| format!("`{n}`")).collect();
    let more = if empty.len() > 8 {
        format!(" and {} more", empty.len() - 8)
    } else {
        String::new()
    };
    let classes = if empty.len() == 1 {
        format!("class {} has", shown.join(""))
    } else {
        format!("classes {}{more} have", shown.join(", "))
    };
    // A split taken from train (not a file of its own) holds a class train lacks.
    let taken = [&rdata.spec.valid, &rdata.spec.test]
        .iter()
        .any(|s| matches!(s, Some(crate::ir::SourceSpec::Split { .. })));
    let elsewhere = counts
        .iter()
        .any(|(_, c)| c.first() == Some(&0) && c.iter().any(|&n| n > 0));
    let split_taken = taken && elsewhere;
    let help = if past_the_labels {
        format!(
            "the labels use {used} classes (0 to {}): make the output layer dense({used})",
            used.saturating_sub(1)
        )
    } else if split_taken {
        "a split took every row of the class: keep each class in train with `split(train, f, stratify = true)`, or use more data".to_string()
    } else if counts.len() == 2 {
        "a binary classifier learns from rows of both classes, 0 and 1: give the train split rows of each".to_string()
    } else if elsewhere {
        "the valid or test file has rows of it, the train file none: give the train file rows of every class".to_string()
    } else {
        "class labels are 0-based indices: check that the labels are numbered from 0 with no gap"
            .to_string()
    };
    let span = rdata.train_span;
    cx.warn_any(
        span,
        Box::new(TabularLint::EmptyClass {
            classes,
            them: if empty.len() == 1 { "it" } else { "them" },
            help,
            span,
        }),
    );
}
