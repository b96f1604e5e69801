//! `binary_cross_entropy`: `nn.BCEWithLogitsLoss` on one logit per row.
//!
//! loss = max(z, 0) − z·y + log(1 + e^(−|z|)) (the stable softplus form);
//! ∂loss/∂z = σ(z) − y. The batch value is the row mean.
//! Shapes: z `1 × n`, y `1 × n` (0 or 1), dz `1 × n`.

use super::BatchLoss;
use crate::math;
use crate::train::float::Float;

pub fn forward_backward<T: Float>(
    z: &[T],
    y: &[T],
    n: usize,
    mut dz: Option<&mut [T]>,
) -> BatchLoss {
    let mut total = 0.0f64;
    let mut correct = 0usize;
    let inv_n = 1.0 / n as f64;
    for k in 0..n {
        let zf = z[k].to_f64();
        let yf = y[k].to_f64();
        total += zf.max(0.0) - zf * yf + math::ln_1p(math::exp(-zf.abs()));
        if (zf > 0.0) == (yf > 0.5) {
            correct += 1;
        }
        if let Some(dz) = dz.as_deref_mut() {
            let s = if zf >= 0.0 {
                1.0 / (1.0 + math::exp(-zf))
            } else {
                math::exp(zf) / (1.0 + math::exp(zf))
            };
            dz[k] = T::of((s - yf) * inv_n);
        }
    }
    BatchLoss {
        mean: total * inv_n,
        correct,
    }
}
