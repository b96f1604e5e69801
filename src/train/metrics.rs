//! The metrics of §15, with scikit-learn's definitions, computed in f64: every
//! number that `train { metrics = [...] }` logs and that `nnt eval` reports comes
//! from this file.
//!
//! - precision, recall, F1 per class: `precision_recall_fscore_support` with
//!   `zero_division=0` (a ratio with a zero denominator is 0); their `macro`
//!   average is the plain mean over the labels that occur in the true or the
//!   predicted classes (scikit-learn's `unique_labels`), `weighted` the mean
//!   weighted by support;
//! - `auc`: `roc_auc_score` of the positive-class probability: the Mann–Whitney
//!   statistic with tied scores given their average rank (what the trapezoidal
//!   ROC area is); not defined (NaN) when the truth has only one class;
//! - regression, per target: `mean_squared_error`, its square root,
//!   `mean_absolute_error`, `r2_score` (1 − SS_res/SS_tot; when SS_tot is 0: 1 if
//!   SS_res is 0, else 0, scikit-learn's `force_finite`); averaged over targets
//!   with equal weights (`multioutput="uniform_average"`; the averaged rmse is the
//!   mean of the per-target rmse, as `root_mean_squared_error`).
//!
//! [`Scorer`] accumulates a labelled split chunk by chunk (constant memory except
//! the scores kept for `auc`).

use crate::ir::{Loss, Metric};
use crate::train::float::Float;
use crate::train::layers::activation::sigmoid;
use crate::train::losses;

// ---------------------------------------------------------------- classification

/// Per-class precision, recall, F1 and support of a confusion matrix
/// (`confusion[true][predicted]`).
#[derive(Debug, Clone, PartialEq)]
pub struct PerClass {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub f1: Vec<f64>,
    pub support: Vec<u64>,
    /// Whether the class occurs among the true or the predicted classes (only
    /// those enter the macro average).
    pub present: Vec<bool>,
}

/// `a / b`, or 0 when `b` is 0 (`zero_division=0`).
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

pub fn per_class(confusion: &[Vec<u64>]) -> PerClass {
    let c = confusion.len();
    let mut out = PerClass {
        precision: Vec::with_capacity(c),
        recall: Vec::with_capacity(c),
        f1: Vec::with_capacity(c),
        support: Vec::with_capacity(c),
        present: Vec::with_capacity(c),
    };
    for i in 0..c {
        let tp = confusion[i].get(i).copied().unwrap_or(0) as f64;
        let support: u64 = confusion[i].iter().sum();
        let predicted: u64 = confusion
            .iter()
            .map(|row| row.get(i).copied().unwrap_or(0))
            .sum();
        let fn_ = support as f64 - tp;
        let fp = predicted as f64 - tp;
        out.precision.push(ratio(tp, tp + fp));
        out.recall.push(ratio(tp, tp + fn_));
        // scikit-learn ≥ 1.3: F = 2·tp / (2·tp + fp + fn).
        out.f1.push(ratio(2.0 * tp, 2.0 * tp + fp + fn_));
        out.support.push(support);
        out.present.push(support > 0 || predicted > 0);
    }
    out
}

/// Precision, recall and F1 averaged one way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Average {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

impl PerClass {
    /// The plain mean over the classes present in truth or prediction.
    pub fn macro_average(&self) -> Average {
        let present: Vec<usize> = (0..self.present.len())
            .filter(|&i| self.present[i])
            .collect();
        let n = present.len() as f64;
        let mean = |v: &[f64]| ratio(present.iter().map(|&i| v[i]).sum::<f64>(), n);
        Average {
            precision: mean(&self.precision),
            recall: mean(&self.recall),
            f1: mean(&self.f1),
            support: self.support.iter().sum(),
        }
    }

    /// The mean weighted by support (0 when there is no row).
    pub fn weighted_average(&self) -> Average {
        let total: u64 = self.support.iter().sum();
        let mean = |v: &[f64]| {
            ratio(
                v.iter()
                    .zip(&self.support)
                    .map(|(m, &s)| m * s as f64)
                    .sum::<f64>(),
                total as f64,
            )
        };
        Average {
            precision: mean(&self.precision),
            recall: mean(&self.recall),
            f1: mean(&self.f1),
            support: total,
        }
    }
}

/// ROC AUC of `(score, is_positive)` pairs, ties at their average rank; NaN when
/// either class is absent (scikit-learn raises there).
pub fn roc_auc(scores: &[(f64, bool)]) -> f64 {
    let positives = scores.iter().filter(|s| s.1).count();
    let negatives = scores.len() - positives;
    if positives == 0 || negatives == 0 {
        return f64::NAN;
    }
    let mut sorted: Vec<(f64, bool)> = scores.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].0 == sorted[i].0 {
            j += 1;
        }
        let average_rank = (i + 1 + j + 1) as f64 / 2.0;
        let pos_in_tie = sorted[i..=j].iter().filter(|s| s.1).count();
        rank_sum += average_rank * pos_in_tie as f64;
        i = j + 1;
    }
    let p = positives as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64)
}

// ---------------------------------------------------------------- regression

/// Running sums of one target: its mean and squared deviations (Welford/Chan,
/// stable for large offsets), the squared and absolute residuals.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TargetSums {
    pub rows: u64,
    pub mean_y: f64,
    pub m2_y: f64,
    pub sq_err: f64,
    pub abs_err: f64,
}

impl TargetSums {
    pub fn add(&mut self, truth: f64, prediction: f64) {
        self.rows += 1;
        let d = truth - self.mean_y;
        self.mean_y += d / self.rows as f64;
        self.m2_y += d * (truth - self.mean_y);
        let r = truth - prediction;
        self.sq_err += r * r;
        self.abs_err += r.abs();
    }

    pub fn scores(&self) -> RegressionScores {
        let n = self.rows as f64;
        let mse = ratio(self.sq_err, n);
        let r2 = if self.m2_y == 0.0 {
            if self.sq_err == 0.0 {
                1.0
            } else {
                0.0
            }
        } else {
            1.0 - self.sq_err / self.m2_y
        };
        RegressionScores {
            mse,
            rmse: mse.sqrt(),
            mae: ratio(self.abs_err, n),
            r2,
        }
    }
}

/// The regression metrics of one target (or their average over targets).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionScores {
    pub mse: f64,
    pub rmse: f64,
    pub mae: f64,
    pub r2: f64,
}

/// The uniform average over targets.
pub fn average(per_target: &[RegressionScores]) -> RegressionScores {
    let n = per_target.len() as f64;
    let mean = |f: fn(&RegressionScores) -> f64| ratio(per_target.iter().map(f).sum(), n);
    RegressionScores {
        mse: mean(|s| s.mse),
        rmse: mean(|s| s.rmse),
        mae: mean(|s| s.mae),
        r2: mean(|s| s.r2),
    }
}

// ---------------------------------------------------------------- a split

/// What to accumulate beyond loss and accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wants {
    /// The confusion matrix (classification).
    pub confusion: bool,
    /// The positive-class probabilities, for `auc` (binary cross-entropy).
    pub auc: bool,
    /// Per-target residual sums (regression).
    pub regression: bool,
}

impl Wants {
    /// What computing `metrics` (and optionally the confusion matrix) needs.
    pub fn for_metrics(loss: &Loss, metrics: &[Metric], confusion: bool) -> Wants {
        let any = |f: fn(&Metric) -> bool| metrics.iter().any(f);
        Wants {
            confusion: loss.is_classification()
                && (confusion
                    || any(|m| matches!(m, Metric::Precision | Metric::Recall | Metric::F1))),
            auc: matches!(loss, Loss::BinaryCrossEntropy) && any(|m| *m == Metric::Auc),
            regression: !loss.is_classification()
                && any(|m| matches!(m, Metric::Rmse | Metric::Mae | Metric::R2)),
        }
    }

    /// Everything `nnt eval` reports.
    pub fn all(loss: &Loss) -> Wants {
        Wants {
            confusion: loss.is_classification(),
            auc: matches!(loss, Loss::BinaryCrossEntropy),
            regression: !loss.is_classification(),
        }
    }
}

/// Accumulates a labelled split's loss, accuracy and metrics from the model's
/// evaluation-mode outputs, chunk by chunk.
#[derive(Debug, Clone)]
pub struct Scorer {
    loss: Loss,
    /// Output width of the model.
    k: usize,
    /// Width of a target row.
    targets: usize,
    rows: usize,
    loss_sum: f64,
    correct: usize,
    pub confusion: Option<Vec<Vec<u64>>>,
    scores: Option<Vec<(f64, bool)>>,
    regression: Option<Vec<TargetSums>>,
    /// `normalize_targets`: per-target (mean, std); regression metrics are then
    /// computed in the file's units (the loss stays in training units).
    scaling: Option<(Vec<f64>, Vec<f64>)>,
}

impl Scorer {
    pub fn new(loss: Loss, k: usize, wants: Wants) -> Scorer {
        let classes = match loss {
            Loss::CrossEntropy { .. } => k,
            _ => 2,
        };
        let targets = losses::target_width(&loss, k);
        Scorer {
            loss,
            k,
            targets,
            rows: 0,
            loss_sum: 0.0,
            correct: 0,
            confusion: wants.confusion.then(|| vec![vec![0u64; classes]; classes]),
            scores: wants.auc.then(Vec::new),
            regression: wants
                .regression
                .then(|| vec![TargetSums::default(); targets]),
            scaling: None,
        }
    }

    /// Regression metrics in original units: targets and outputs are mapped by
    /// v · std + mean (outputs rounded to the model's precision, as `predict`
    /// prints them).
    pub fn with_target_scaling(mut self, mean: Vec<f64>, std: Vec<f64>) -> Scorer {
        self.scaling = Some((mean, std));
        self
    }

    /// Adds a chunk of `n` rows: `out` the model output (`k × n`), `y` the targets
    /// (`targets × n`), both column-major as the engine holds them. A chunk of
    /// other shapes (which [`Scorer::try_add`] refuses) counts its rows with an
    /// undefined loss: nothing is read out of bounds.
    pub fn add<T: Float>(&mut self, out: &[T], y: &[T], n: usize) {
        if self.try_add(out, y, n).is_err() {
            self.rows += n;
            self.loss_sum = f64::NAN;
        }
    }

    /// [`Scorer::add`], or why the chunk does not fit the scorer: an output
    /// narrower than `k × n` values or fewer than `targets × n` targets (a model
    /// whose output width disagrees with its loss and labels).
    pub fn try_add<T: Float>(&mut self, out: &[T], y: &[T], n: usize) -> Result<(), String> {
        let (k, t) = (self.k, self.targets);
        if k == 0 || out.len() < k.saturating_mul(n) || y.len() < t.saturating_mul(n) {
            return Err(format!(
                "{} needs {t} target value(s) and {k} output(s) a row; {n} rows came with {} targets and {} outputs",
                self.loss.name(),
                y.len(),
                out.len()
            ));
        }
        let bl = losses::evaluate(&self.loss, out, y, k, n, None);
        self.loss_sum += bl.mean * n as f64;
        self.correct += bl.correct;
        self.rows += n;
        if let Some(m) = self.confusion.as_mut() {
            for c in 0..n {
                let truth = y[c * t].to_f64() as usize;
                let pred = losses::predict(&self.loss, &out[c * k..(c + 1) * k]);
                if let Some(cell) = m.get_mut(truth).and_then(|row| row.get_mut(pred)) {
                    *cell += 1;
                }
            }
        }
        if let Some(s) = self.scores.as_mut() {
            for c in 0..n {
                // The probability as `predict` reports it: computed in f64, then
                // rounded to the model's precision.
                let p = T::of(sigmoid(out[c * k].to_f64())).to_f64();
                s.push((p, y[c * t].to_f64() > 0.5));
            }
        }
        if let Some(r) = self.regression.as_mut() {
            for c in 0..n {
                for (j, acc) in r.iter_mut().enumerate() {
                    let (truth, pred) = (y[c * t + j].to_f64(), out[c * k + j].to_f64());
                    match &self.scaling {
                        Some((mean, std)) => {
                            let m = mean.get(j).copied().unwrap_or(0.0);
                            let s = std.get(j).copied().unwrap_or(1.0);
                            acc.add(truth * s + m, T::of(pred * s + m).to_f64());
                        }
                        None => acc.add(truth, pred),
                    }
                }
            }
        }
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Mean loss over the rows (`reduction="mean"`, accumulated per chunk).
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.rows.max(1) as f64
    }

    pub fn accuracy(&self) -> Option<f64> {
        self.loss
            .is_classification()
            .then(|| self.correct as f64 / self.rows.max(1) as f64)
    }

    pub fn per_class(&self) -> Option<PerClass> {
        self.confusion.as_deref().map(per_class)
    }

    pub fn auc(&self) -> Option<f64> {
        self.scores.as_deref().map(roc_auc)
    }

    /// Per-target regression scores.
    pub fn regression(&self) -> Option<Vec<RegressionScores>> {
        self.regression
            .as_ref()
            .map(|r| r.iter().map(TargetSums::scores).collect())
    }

    /// The value of one metric (NaN when it was not accumulated).
    pub fn value(&self, m: Metric) -> f64 {
        match m {
            Metric::Precision | Metric::Recall | Metric::F1 => {
                self.per_class().map_or(f64::NAN, |p| {
                    let a = p.macro_average();
                    match m {
                        Metric::Precision => a.precision,
                        Metric::Recall => a.recall,
                        _ => a.f1,
                    }
                })
            }
            Metric::Auc => self.auc().unwrap_or(f64::NAN),
            Metric::Rmse | Metric::Mae | Metric::R2 => self.regression().map_or(f64::NAN, |r| {
                let a = average(&r);
                match m {
                    Metric::Rmse => a.rmse,
                    Metric::Mae => a.mae,
                    _ => a.r2,
                }
            }),
        }
    }

    /// `(metric, value)` for each of `metrics`, in order.
    pub fn values(&self, metrics: &[Metric]) -> Vec<(Metric, f64)> {
        metrics.iter().map(|&m| (m, self.value(m))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk whose targets or outputs are narrower than the scorer's shapes
    /// (a model with more outputs than label columns) is an error, never an
    /// out-of-bounds read; `add` counts it with an undefined loss.
    #[test]
    fn chunks_of_the_wrong_shape_are_refused_not_read_out_of_bounds() {
        let wants = Wants::all(&Loss::Mse);
        let mut sc = Scorer::new(Loss::Mse, 2, wants);
        // Two rows, two outputs each, but one target a row.
        let out = [0.5f64, 1.0, 1.5, 2.0];
        let y = [0.0f64, 1.0];
        assert!(sc.try_add(&out, &y, 2).is_err());
        assert_eq!(sc.rows(), 0);
        sc.add(&out, &y, 2);
        assert_eq!(sc.rows(), 2);
        assert!(sc.loss().is_nan());
        // The right shapes still score.
        let mut sc = Scorer::new(Loss::Mse, 2, wants);
        sc.try_add(&out, &[0.5, 1.0, 1.5, 2.0], 2).unwrap();
        assert_eq!(sc.loss(), 0.0);
        // A classifier's chunk with too few outputs, and a zero-width model.
        let ce = Loss::CrossEntropy {
            label_smoothing: 0.0,
        };
        let mut sc = Scorer::new(ce, 3, Wants::all(&ce));
        assert!(sc.try_add(&[0.0f64; 5], &[0.0, 1.0], 2).is_err());
        let mut sc = Scorer::new(Loss::BinaryCrossEntropy, 0, Wants::all(&ce));
        assert!(sc.try_add::<f64>(&[], &[1.0], 1).is_err());
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} != {b}");
    }

    /// y_true = [0,0,1,1,2,2], y_pred = [0,1,1,1,2,0]:
    /// class 0: tp 1, fp 1, fn 1 → p 1/2, r 1/2, f1 1/2
    /// class 1: tp 2, fp 1, fn 0 → p 2/3, r 1, f1 4/5
    /// class 2: tp 1, fp 0, fn 1 → p 1, r 1/2, f1 2/3
    #[test]
    fn precision_recall_f1_by_hand() {
        let m = vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 1]];
        let p = per_class(&m);
        close(p.precision[0], 0.5);
        close(p.precision[1], 2.0 / 3.0);
        close(p.precision[2], 1.0);
        close(p.recall[1], 1.0);
        close(p.f1[1], 0.8);
        close(p.f1[2], 2.0 / 3.0);
        let a = p.macro_average();
        close(a.precision, (0.5 + 2.0 / 3.0 + 1.0) / 3.0);
        close(a.recall, (0.5 + 1.0 + 0.5) / 3.0);
        close(a.f1, (0.5 + 0.8 + 2.0 / 3.0) / 3.0);
        let w = p.weighted_average();
        close(w.f1, (2.0 * 0.5 + 2.0 * 0.8 + 2.0 * (2.0 / 3.0)) / 6.0);
    }

    /// A class never predicted has precision 0 (zero_division=0); a class absent
    /// from truth and prediction is left out of the macro average.
    #[test]
    fn zero_division_and_absent_classes() {
        // truth [0,0,1], pred [0,0,0], class 2 never seen.
        let m = vec![vec![2, 0, 0], vec![1, 0, 0], vec![0, 0, 0]];
        let p = per_class(&m);
        close(p.precision[1], 0.0);
        close(p.f1[1], 0.0);
        assert_eq!(p.present, vec![true, true, false]);
        let a = p.macro_average();
        // class 0: p 2/3, r 1, f1 0.8; class 1: 0.
        close(a.precision, (2.0 / 3.0) / 2.0);
        close(a.f1, 0.4);
    }

    /// scores [0.1, 0.4, 0.35, 0.8] for truth [0, 0, 1, 1]: 3 of 4 pairs ordered.
    #[test]
    fn auc_by_hand() {
        let s = [(0.1, false), (0.4, false), (0.35, true), (0.8, true)];
        close(roc_auc(&s), 0.75);
        // A tie between a positive and a negative counts one half: pairs (p,n):
        // (0.5 vs 0.5) ½, (0.5 vs 0.2) 1, (0.9 vs 0.5) 1, (0.9 vs 0.2) 1 → 3.5/4.
        let t = [(0.5, false), (0.2, false), (0.5, true), (0.9, true)];
        close(roc_auc(&t), 0.875);
        assert!(roc_auc(&[(0.3, true), (0.4, true)]).is_nan());
    }

    /// truth [1, 2, 3], prediction [1, 2, 5]: mse 4/3, mae 2/3,
    /// SS_tot 2, SS_res 4 → r2 −1.
    #[test]
    fn regression_by_hand() {
        let mut t = TargetSums::default();
        for (y, p) in [(1.0, 1.0), (2.0, 2.0), (3.0, 5.0)] {
            t.add(y, p);
        }
        let s = t.scores();
        close(s.mse, 4.0 / 3.0);
        close(s.rmse, (4.0f64 / 3.0).sqrt());
        close(s.mae, 2.0 / 3.0);
        close(s.r2, -1.0);
        // Constant truth: r2 is 1 when exact, else 0.
        let mut c = TargetSums::default();
        c.add(2.0, 2.0);
        c.add(2.0, 2.0);
        close(c.scores().r2, 1.0);
        c.add(2.0, 3.0);
        close(c.scores().r2, 0.0);
        let avg = average(&[s, c.scores()]);
        close(avg.rmse, (s.rmse + c.scores().rmse) / 2.0);
    }

    /// The scorer over a binary chunk: logits → probabilities, confusion, auc.
    #[test]
    fn scorer_binary() {
        let mut sc = Scorer::new(
            Loss::BinaryCrossEntropy,
            1,
            Wants::all(&Loss::BinaryCrossEntropy),
        );
        let out = [-2.0f64, 0.5, -0.1, 3.0];
        let y = [0.0f64, 0.0, 1.0, 1.0];
        sc.add(&out, &y, 4);
        assert_eq!(sc.confusion, Some(vec![vec![1, 1], vec![1, 1]]));
        close(sc.accuracy().unwrap_or(f64::NAN), 0.5);
        // sigmoid is monotone: ranks of logits [-2, 0.5 | -0.1, 3] → 3 of 4 pairs.
        close(sc.value(Metric::Auc), 0.75);
        close(sc.value(Metric::F1), 0.5);
    }

    /// Values printed by scikit-learn 1.x for the same inputs
    /// (`precision_recall_fscore_support(..., zero_division=0)`, `roc_auc_score`,
    /// `r2_score`, `mean_squared_error`, `root_mean_squared_error`,
    /// `mean_absolute_error` on a 2-target array).
    #[test]
    fn agrees_with_scikit_learn() {
        let yt = [0, 2, 1, 1, 0, 3, 2, 2, 1, 0, 3, 3];
        let yp = [0, 1, 1, 2, 0, 3, 2, 0, 1, 1, 3, 2];
        let mut m = vec![vec![0u64; 4]; 4];
        for (t, p) in yt.iter().zip(&yp) {
            m[*t][*p] += 1;
        }
        let pc = per_class(&m);
        let a = pc.macro_average();
        close(a.precision, 0.625);
        close(a.recall, 0.5833333333333333);
        close(a.f1, 0.5928571428571429);
        let w = pc.weighted_average();
        close(w.precision, 0.625);
        close(w.recall, 0.5833333333333334);
        close(w.f1, 0.5928571428571429);

        let s = [0.9, 0.3, 0.3, 0.7, 0.5, 0.5, 0.1, 0.8, 0.3];
        let t = [1, 0, 1, 1, 0, 1, 0, 0, 0];
        let pairs: Vec<(f64, bool)> = s.iter().zip(&t).map(|(&s, &t)| (s, t == 1)).collect();
        close(roc_auc(&pairs), 0.725);

        let y = [
            [1.5, -2.0],
            [2.5, 0.5],
            [-1.0, 3.0],
            [4.0, 1.0],
            [0.5, 0.25],
        ];
        let p = [[1.0, -1.5], [2.0, 1.0], [-0.5, 2.0], [3.5, 1.5], [1.0, 0.0]];
        let mut sums = [TargetSums::default(); 2];
        for (yr, pr) in y.iter().zip(&p) {
            for j in 0..2 {
                sums[j].add(yr[j], pr[j]);
            }
        }
        let avg = average(&[sums[0].scores(), sums[1].scores()]);
        close(avg.r2, 0.8860957704741379);
        close(avg.mse, 0.30625);
        close(avg.rmse, 0.5510398644698074);
        close(avg.mae, 0.525);
    }
}
