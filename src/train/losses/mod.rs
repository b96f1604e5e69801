//! Losses (§6), each PyTorch's `reduction = "mean"`. One function per loss computes
//! the batch mean (in f64, for the log) and, in training, the gradient of that mean
//! with respect to the model output.
//!
//! Shapes: z (model output) `k × n` column-major, y (targets) `t × n` where t = 1
//! for the classification losses (the class index or 0/1) and t = k for regression;
//! dz `k × n`.

pub mod bce;
pub mod cross_entropy;
pub mod huber;
pub mod mae;
pub mod mse;

use crate::ir::Loss;
use crate::train::float::Float;

/// What one batch's loss pass yields.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BatchLoss {
    /// The batch mean loss (what PyTorch's criterion returns).
    pub mean: f64,
    /// Rows predicted correctly (classification losses; 0 otherwise).
    pub correct: usize,
}

impl BatchLoss {
    /// The loss of a batch whose slices are shorter than its shape says (a
    /// caller's mismatch): NaN, with nothing read or written out of bounds.
    pub const UNDEFINED: BatchLoss = BatchLoss {
        mean: f64::NAN,
        correct: 0,
    };
}

/// Whether slices of lengths `z`, `y` and `dz` (when given) hold `len` values each.
fn fits(len: usize, z: usize, y: usize, dz: Option<usize>) -> bool {
    z >= len && y >= len && dz.is_none_or(|d| d >= len)
}

/// Loss of a batch of `n` rows, and dz = ∂mean/∂z when `dz` is given.
pub fn evaluate<T: Float>(
    loss: &Loss,
    z: &[T],
    y: &[T],
    k: usize,
    n: usize,
    dz: Option<&mut [T]>,
) -> BatchLoss {
    let bl = match *loss {
        Loss::CrossEntropy { label_smoothing } => {
            cross_entropy::forward_backward(label_smoothing, z, y, k, n, dz)
        }
        Loss::BinaryCrossEntropy => bce::forward_backward(z, y, n, dz),
        Loss::Mse => mse::forward_backward(z, y, k * n, dz),
        Loss::Mae => mae::forward_backward(z, y, k * n, dz),
        Loss::Huber { delta } => huber::forward_backward(delta, z, y, k * n, dz),
    };
    within_precision::<T>(bl)
}

/// The batch loss as the run's precision holds it. The sums run in f64
/// (PyTorch's accuracy where it accumulates wider), but a loss beyond the
/// run's precision is not finite there (§3: the precision is that of all
/// training arithmetic; §10: printed `null`, a divergence): an f32 run's MSE
/// of outputs near 1e37 is inf, not 1e74.
fn within_precision<T: Float>(mut bl: BatchLoss) -> BatchLoss {
    if bl.mean.is_finite() && !T::of(bl.mean).is_finite() {
        bl.mean = f64::INFINITY.copysign(bl.mean);
    }
    bl
}

/// Whether the loss takes a training pass's output laid out by unit
/// ([`crate::train::network::Network::lay_output_by_unit`]): cross-entropy
/// over rows of 6 classes or more (up to 5 its rows unrolled are faster).
pub fn takes_output_by_unit(loss: &Loss, k: usize) -> bool {
    matches!(loss, Loss::CrossEntropy { .. }) && k >= 6
}

/// [`evaluate`] on an output laid out by unit (`k × n` row-major), for a loss
/// that [`takes_output_by_unit`] (another gets [`BatchLoss::UNDEFINED`]).
pub fn evaluate_by_unit<T: Float>(
    loss: &Loss,
    z: &[T],
    y: &[T],
    k: usize,
    n: usize,
    dz: Option<&mut [T]>,
) -> BatchLoss {
    match *loss {
        Loss::CrossEntropy { label_smoothing } if takes_output_by_unit(loss, k) => {
            within_precision::<T>(cross_entropy::forward_backward_by_class(
                label_smoothing,
                z,
                y,
                k,
                n,
                dz,
            ))
        }
        _ => BatchLoss::UNDEFINED,
    }
}

/// Width of the target rows the loss expects for a model output of width `k`.
pub fn target_width(loss: &Loss, k: usize) -> usize {
    if loss.is_classification() {
        1
    } else {
        k
    }
}

/// Predicted class of one output column: the largest logit (first on ties) for
/// cross-entropy, `logit > 0` for binary cross-entropy.
pub fn predict<T: Float>(loss: &Loss, z: &[T]) -> usize {
    match loss {
        Loss::BinaryCrossEntropy => usize::from(z.first().is_some_and(|&v| v > T::zero())),
        _ => {
            let mut best = 0;
            for (c, &v) in z.iter().enumerate() {
                if v > z[best] {
                    best = c;
                }
            }
            best
        }
    }
}

#[cfg(test)]
mod tests {
    /// A loss beyond f32's range is not finite in an f32 run (it was logged as
    /// 4.6e74); the same batch in f64 keeps its value.
    #[test]
    fn a_loss_beyond_the_precision_is_not_finite() {
        let loss = crate::ir::Loss::Mse;
        let z32 = [1e37f32, -3e37];
        let y32 = [0.0f32, 0.0];
        let bl = super::evaluate(&loss, &z32, &y32, 1, 2, None);
        assert_eq!(bl.mean, f64::INFINITY);
        let z64 = [1e37f64, -3e37];
        let y64 = [0.0f64, 0.0];
        let bl = super::evaluate(&loss, &z64, &y64, 1, 2, None);
        assert!(bl.mean.is_finite() && bl.mean > 1e74, "{}", bl.mean);
        // Within the range nothing changes.
        let bl = super::evaluate(&loss, &[3.0f32, 1.0], &[1.0f32, 1.0], 1, 2, None);
        assert_eq!(bl.mean, 2.0);
    }

    use super::*;

    /// Slices shorter than the shapes say give an undefined loss, with nothing
    /// read or written out of bounds (`eval` of a model with more outputs than
    /// label columns panicked in mse.rs).
    #[test]
    fn short_slices_are_an_undefined_loss_not_a_panic() {
        let z = [0.5f64, 1.0, 1.5, 2.0];
        let y = [0.0f64, 1.0];
        let ce = Loss::CrossEntropy {
            label_smoothing: 0.0,
        };
        for loss in [Loss::Mse, Loss::Mae, Loss::Huber { delta: 1.0 }] {
            // k = 2, n = 2: four targets needed, two given.
            assert!(
                evaluate(&loss, &z, &y, 2, 2, None).mean.is_nan(),
                "{loss:?}"
            );
            let mut dz = [0.0f64; 4];
            assert!(evaluate(&loss, &z, &y, 2, 2, Some(&mut dz)).mean.is_nan());
            assert_eq!(dz, [0.0; 4]);
        }
        // Three classes × two rows need six logits; one label for two rows.
        assert!(evaluate(&ce, &z, &y, 3, 2, None).mean.is_nan());
        assert!(evaluate(&ce, &z, &y[..1], 2, 2, None).mean.is_nan());
        assert!(evaluate(&Loss::BinaryCrossEntropy, &z[..1], &y, 1, 2, None)
            .mean
            .is_nan());
        // A short gradient buffer.
        let mut dz = [0.0f64; 3];
        assert!(evaluate(&ce, &z, &y, 2, 2, Some(&mut dz)).mean.is_nan());
        // The right shapes are unchanged.
        assert_eq!(evaluate(&Loss::Mse, &z, &z, 2, 2, None).mean, 0.0);
        assert!(evaluate(&ce, &z, &y, 2, 2, None).mean.is_finite());
        // An empty output predicts class 0.
        assert_eq!(predict::<f64>(&Loss::BinaryCrossEntropy, &[]), 0);
    }
}
