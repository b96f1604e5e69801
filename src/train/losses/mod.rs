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

/// Loss of a batch of `n` rows, and dz = ∂mean/∂z when `dz` is given.
pub fn evaluate<T: Float>(
    loss: &Loss,
    z: &[T],
    y: &[T],
    k: usize,
    n: usize,
    dz: Option<&mut [T]>,
) -> BatchLoss {
    match *loss {
        Loss::CrossEntropy { label_smoothing } => {
            cross_entropy::forward_backward(label_smoothing, z, y, k, n, dz)
        }
        Loss::BinaryCrossEntropy => bce::forward_backward(z, y, n, dz),
        Loss::Mse => mse::forward_backward(z, y, k * n, dz),
        Loss::Mae => mae::forward_backward(z, y, k * n, dz),
        Loss::Huber { delta } => huber::forward_backward(delta, z, y, k * n, dz),
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
        Loss::BinaryCrossEntropy => usize::from(z[0] > T::zero()),
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
