//! `normalize = none | standard | minmax` (§4): per-feature statistics in f64 on the
//! train split only, applied to every split.

use crate::ir::{Data, Normalize, Table};

/// Per-feature map x ↦ (x − shift) / divisor; a divisor of 0 maps every value to 0
/// (minmax of a constant feature).
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    pub shift: Vec<f64>,
    pub divisor: Vec<f64>,
}

/// Fits the statistics on `train` (`None` for `Normalize::None` or an empty table).
pub fn fit(train: &Table, how: Normalize) -> Option<Transform> {
    let (rows, f) = (train.rows, train.features);
    if how == Normalize::None || rows == 0 || f == 0 {
        return None;
    }
    let mut min = vec![f64::INFINITY; f];
    let mut max = vec![f64::NEG_INFINITY; f];
    let mut sum = vec![0.0f64; f];
    for row in train.x.chunks_exact(f) {
        for (j, &v) in row.iter().enumerate() {
            min[j] = min[j].min(v);
            max[j] = max[j].max(v);
            sum[j] += v;
        }
    }
    match how {
        Normalize::None => None,
        Normalize::MinMax => {
            // A constant feature becomes 0: shift by min, scale 0.
            let divisor = (0..f)
                .map(|j| {
                    if max[j] > min[j] {
                        max[j] - min[j]
                    } else {
                        0.0
                    }
                })
                .collect();
            Some(Transform {
                shift: min,
                divisor,
            })
        }
        Normalize::Standard => {
            let n = rows as f64;
            let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
            // Two-pass population variance: exact enough and simple.
            let mut ss = vec![0.0f64; f];
            for row in train.x.chunks_exact(f) {
                for (j, &v) in row.iter().enumerate() {
                    let d = v - mean[j];
                    ss[j] += d * d;
                }
            }
            let divisor = (0..f)
                .map(|j| {
                    let std = (ss[j] / n).sqrt();
                    // A constant feature (max = min) is only centred.
                    if max[j] > min[j] && std > 0.0 {
                        std
                    } else {
                        1.0
                    }
                })
                .collect();
            Some(Transform {
                shift: mean,
                divisor,
            })
        }
    }
}

/// Applies the transform in place.
pub fn apply(t: &Transform, table: &mut Table) {
    let f = table.features;
    if f == 0 || t.shift.len() != f {
        return;
    }
    for row in table.x.chunks_exact_mut(f) {
        for (j, v) in row.iter_mut().enumerate() {
            let d = t.divisor[j];
            *v = if d == 0.0 { 0.0 } else { (*v - t.shift[j]) / d };
        }
    }
}

/// Fits on train and applies to every split.
pub fn normalize(data: &mut Data, how: Normalize) {
    if let Some(t) = fit(&data.train, how) {
        apply(&t, &mut data.train);
        for table in [data.valid.as_mut(), data.test.as_mut()]
            .into_iter()
            .flatten()
        {
            apply(&t, table);
        }
    }
}
