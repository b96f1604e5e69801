//! `nnt eval MODEL DATA.csv [--format text|json]` (§15): the model's loss and the
//! metrics of scikit-learn on a labelled file, through the same evaluation pass
//! and the same metric definitions as training's valid and test splits
//! ([`crate::train::metrics`]).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use super::model_use::{bind, in_precision, Loaded, Rows, UseError, CHUNK};
use crate::io::model_file::ModelFileError;
use crate::ir::Loss;
use crate::report::number::json_number;
use crate::train::metrics::{self, PerClass, RegressionScores, Scorer, TargetSums, Wants};

/// What `eval` found.
#[derive(Debug, Clone)]
pub struct Report {
    pub model: String,
    pub data: String,
    pub rows: usize,
    pub loss: f64,
    /// The loss the model was trained with.
    pub loss_function: Loss,
    pub classification: Option<Classification>,
    pub regression: Option<Regression>,
}

#[derive(Debug, Clone)]
pub struct Classification {
    pub accuracy: f64,
    pub classes: Vec<String>,
    pub per_class: PerClass,
    pub confusion: Vec<Vec<u64>>,
    /// Binary cross-entropy: ROC AUC of the positive-class probability.
    pub auc: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Regression {
    pub targets: Vec<String>,
    pub per_target: Vec<RegressionScores>,
    pub average: RegressionScores,
}

/// Evaluates the model at `model` on the labelled file `data`.
pub fn run(model: &Path, data: &Path) -> Result<Report, UseError> {
    let mut loaded = Loaded::read(model)?;
    let prep = loaded.prep()?.clone();
    let mut rows = Rows::open(data, &prep, loaded.meta.precision)?;
    let binding = bind(&rows, &prep, true)?;
    rows.read_columns(&binding, &[]);
    let loss = loaded.loss();
    let precision = loaded.meta.precision;
    let width = prep.input_width();
    let k = loaded.meta.output_width();
    let t = prep.labels.len().max(1);
    let mut scorer = Scorer::new(loss, k, Wants::all(&loss));
    // Regression metrics in the file's units, on the values `predict` prints.
    let mut sums = vec![TargetSums::default(); if loss.is_classification() { 0 } else { k }];
    let mut x = vec![0.0f64; CHUNK * width];
    let mut y = vec![0.0f64; CHUNK * t];
    let mut out: Vec<f64> = Vec::with_capacity(CHUNK * k);
    let mut truth: Vec<f64> = vec![0.0; t];
    let mut pred: Vec<f64> = vec![0.0; k];
    let mut unseen = 0usize;
    let mut n = 0usize;
    let model_path = loaded.path.clone();
    let mut flush = |n: usize, x: &[f64], y: &[f64], scorer: &mut Scorer| {
        out.clear();
        // `Loaded::read` checked the output width against the loss and labels;
        // a chunk that still does not fit is the file's inconsistency.
        loaded
            .runner
            .score(&x[..n * width], &y[..n * t], n, scorer, &mut out)
            .map_err(|reason| ModelFileError::BadMetadata {
                path: model_path.clone(),
                key: "nnt.layers".into(),
                reason,
            })?;
        for r in 0..n {
            if sums.is_empty() {
                break;
            }
            let (Some(ys), Some(zs)) = (y.get(r * t..(r + 1) * t), out.get(r * k..(r + 1) * k))
            else {
                break;
            };
            // The target as the network's precision holds it, as training's
            // validation reads it (an f32 model's 0.1 is 0.1f32 in both).
            for (t, &v) in truth.iter_mut().zip(ys) {
                *t = in_precision(precision, v);
            }
            prep.targets_to_original(&mut truth);
            pred.copy_from_slice(zs);
            prep.targets_to_original(&mut pred);
            for (s, (&a, &b)) in sums.iter_mut().zip(truth.iter().zip(&pred)) {
                s.add(a, in_precision(precision, b));
            }
        }
        Ok::<(), UseError>(())
    };
    while let Some(line) = rows.advance()? {
        let cells = rows.cells()?;
        let xs = &mut x[n * width..(n + 1) * width];
        prep.prepare_row(&binding, &cells, xs, &mut unseen)
            .map_err(|issue| rows.cell_error(&cells, line, &issue))?;
        let ys = &mut y[n * t..(n + 1) * t];
        prep.label_row(&binding, &cells, ys)
            .map_err(|issue| rows.cell_error(&cells, line, &issue))?;
        rows.check_prepared(&prep, &binding, &cells, line, xs, Some(ys))?;
        n += 1;
        if n == CHUNK {
            flush(n, &x, &y, &mut scorer)?;
            n = 0;
        }
    }
    if n > 0 {
        flush(n, &x, &y, &mut scorer)?;
    }
    if scorer.rows() == 0 {
        return Err(UseError::Empty { file: rows.file });
    }
    let classification = match (scorer.per_class(), scorer.confusion.clone()) {
        (Some(per_class), Some(confusion)) => Some(Classification {
            accuracy: scorer.accuracy().unwrap_or(f64::NAN),
            classes: loaded.class_labels(),
            per_class,
            confusion,
            auc: scorer.auc(),
        }),
        _ => None,
    };
    let regression = (!sums.is_empty()).then(|| {
        let per_target: Vec<RegressionScores> = sums.iter().map(TargetSums::scores).collect();
        Regression {
            targets: loaded.target_names(),
            average: metrics::average(&per_target),
            per_target,
        }
    });
    Ok(Report {
        model: model.display().to_string(),
        data: rows.file.clone(),
        rows: scorer.rows(),
        loss: scorer.loss(),
        loss_function: loss,
        classification,
        regression,
    })
}

/// A JSON number (`null` when not finite).
fn num(v: f64) -> Value {
    serde_json::from_str(&json_number(v)).unwrap_or(Value::Null)
}

fn prf(p: f64, r: f64, f: f64, support: u64) -> Value {
    json!({"precision": num(p), "recall": num(r), "f1": num(f), "support": support})
}

impl Report {
    /// `--format json`: one object with the names of §15.
    pub fn json(&self, loss: &Loss) -> String {
        let mut o = serde_json::Map::new();
        o.insert("rows".into(), json!(self.rows));
        o.insert("loss".into(), num(self.loss));
        o.insert("loss_function".into(), json!(loss.name()));
        if let Some(c) = &self.classification {
            o.insert("accuracy".into(), num(c.accuracy));
            let mut classes = serde_json::Map::new();
            for (i, name) in c.classes.iter().enumerate() {
                let p = &c.per_class;
                classes.insert(
                    name.clone(),
                    prf(p.precision[i], p.recall[i], p.f1[i], p.support[i]),
                );
            }
            o.insert("classes".into(), Value::Object(classes));
            let m = c.per_class.macro_average();
            o.insert("macro".into(), prf(m.precision, m.recall, m.f1, m.support));
            let w = c.per_class.weighted_average();
            o.insert(
                "weighted".into(),
                prf(w.precision, w.recall, w.f1, w.support),
            );
            o.insert(
                "confusion".into(),
                json!({"labels": c.classes, "matrix": c.confusion}),
            );
            if let Some(auc) = c.auc {
                o.insert("auc".into(), num(auc));
                o.insert("threshold".into(), json!(0.5));
            }
        }
        if let Some(r) = &self.regression {
            let mut targets = serde_json::Map::new();
            for (name, s) in r.targets.iter().zip(&r.per_target) {
                targets.insert(name.clone(), scores_json(s));
            }
            o.insert("targets".into(), Value::Object(targets));
            if let Value::Object(avg) = scores_json(&r.average) {
                o.extend(avg);
            }
        }
        Value::Object(o).to_string()
    }

    /// The readable report.
    pub fn text(&self, loss: &Loss) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} on {}: {} rows, {} loss {}",
            self.model,
            self.data,
            self.rows,
            loss.name(),
            fixed4(self.loss)
        );
        // Class and target names come from a data file: shown with their
        // control characters escaped (a terminal's escape sequences), as
        // diagnostics show them, and measured that way for the columns.
        let shown = |names: &[String]| -> Vec<String> {
            names
                .iter()
                .map(|n| crate::report::diagnostic::printable(n).into_owned())
                .collect()
        };
        if let Some(c) = &self.classification {
            let classes = shown(&c.classes);
            let _ = writeln!(s, "accuracy {:.1}%", c.accuracy * 100.0);
            if let Some(auc) = c.auc {
                let shown = if auc.is_finite() {
                    format!("{auc:.4}")
                } else {
                    "- (the file has one class only)".into()
                };
                let _ = writeln!(s, "auc {shown}");
            }
            s.push('\n');
            let w = classes
                .iter()
                .map(|n| n.chars().count())
                .chain(["weighted avg".len()])
                .max()
                .unwrap_or(5);
            let _ = writeln!(
                s,
                "{:<w$}  {:>9}  {:>9}  {:>9}  {:>7}",
                "class", "precision", "recall", "f1", "support"
            );
            let p = &c.per_class;
            for (i, name) in classes.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{name:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}",
                    p.precision[i], p.recall[i], p.f1[i], p.support[i]
                );
            }
            for (label, a) in [
                ("macro avg", p.macro_average()),
                ("weighted avg", p.weighted_average()),
            ] {
                let _ = writeln!(
                    s,
                    "{label:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}",
                    a.precision, a.recall, a.f1, a.support
                );
            }
            s.push('\n');
            if matches!(loss, Loss::BinaryCrossEntropy) {
                let _ = writeln!(
                    s,
                    "confusion matrix at threshold 0.5 (probability of `{}`; rows: true, columns: predicted)",
                    classes.get(1).map_or("1", String::as_str)
                );
            } else {
                let _ = writeln!(s, "confusion matrix (rows: true class, columns: predicted)");
            }
            s.push_str(&confusion_table(&classes, &c.confusion));
        }
        if let Some(r) = &self.regression {
            let targets = shown(&r.targets);
            s.push('\n');
            let w = targets
                .iter()
                .map(|n| n.chars().count())
                .chain(["average".len(), "target".len()])
                .max()
                .unwrap_or(7);
            let _ = writeln!(
                s,
                "{:<w$}  {:>12}  {:>12}  {:>12}  {:>9}",
                "target", "mse", "rmse", "mae", "r2"
            );
            let rows = targets
                .iter()
                .map(String::as_str)
                .zip(r.per_target.iter())
                .chain(std::iter::once(("average", &r.average)));
            for (name, m) in rows {
                let _ = writeln!(
                    s,
                    "{name:<w$}  {:>12}  {:>12}  {:>12}  {:>9}",
                    crate::report::number::human(m.mse, 6),
                    crate::report::number::human(m.rmse, 6),
                    crate::report::number::human(m.mae, 6),
                    fixed4(m.r2)
                );
            }
        }
        s
    }
}

/// Four decimals, as the report shows a loss or r² (`0.3012`); a magnitude of a
/// million or more in exponent form (`{:.4}` of 1e300 wrote 300 digits).
fn fixed4(v: f64) -> String {
    if v.abs() < 1e6 || !v.is_finite() {
        format!("{v:.4}")
    } else {
        crate::report::number::human(v, 5)
    }
}

fn scores_json(s: &RegressionScores) -> Value {
    json!({"mse": num(s.mse), "rmse": num(s.rmse), "mae": num(s.mae), "r2": num(s.r2)})
}

/// The confusion matrix with class names on both axes.
fn confusion_table(names: &[String], m: &[Vec<u64>]) -> String {
    let label = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(1)
        .max(4);
    let cell = m
        .iter()
        .flatten()
        .map(|v| v.to_string().len())
        .chain(names.iter().map(|n| n.chars().count()))
        .max()
        .unwrap_or(1)
        .max(3);
    let mut s = format!("{:>label$}", "");
    for n in names {
        s.push_str(&format!(" {n:>cell$}"));
    }
    s.push('\n');
    for (i, row) in m.iter().enumerate() {
        let name = names.get(i).map_or("?", String::as_str);
        s.push_str(&format!("{name:>label$}"));
        for v in row {
            s.push_str(&format!(" {v:>cell$}"));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::fixed4;

    /// A loss or r² of any magnitude in a few characters (`{:.4}` of 1e300
    /// wrote 300 digits); the usual ones as before.
    #[test]
    fn report_numbers_stay_short() {
        assert_eq!(fixed4(0.30123), "0.3012");
        assert_eq!(fixed4(-2.5), "-2.5000");
        assert_eq!(fixed4(1e300), "1e300");
        assert_eq!(fixed4(-3.25e12), "-3.25e12");
        assert_eq!(fixed4(f64::NAN), "NaN");
    }
}
