//! `huber(delta = δ)`: `nn.HuberLoss`. With d = z − y: 0.5·d² when |d| < δ, else
//! δ·(|d| − 0.5·δ); the mean over rows × targets. ∂/∂z = d (quadratic region) or
//! δ·sign(d), divided by len. Shapes: z, y, dz `k × n`.

use super::BatchLoss;
use crate::train::float::Float;

pub fn forward_backward<T: Float>(
    delta: f64,
    z: &[T],
    y: &[T],
    len: usize,
    mut dz: Option<&mut [T]>,
) -> BatchLoss {
    if !super::fits(len, z.len(), y.len(), dz.as_deref().map(<[T]>::len)) {
        return BatchLoss::UNDEFINED;
    }
    let mut total = 0.0f64;
    let inv = 1.0 / len as f64;
    for i in 0..len {
        let d = z[i].to_f64() - y[i].to_f64();
        let (l, g) = if d.abs() < delta {
            (0.5 * d * d, d)
        } else {
            (delta * (d.abs() - 0.5 * delta), delta * d.signum())
        };
        total += l;
        if let Some(dz) = dz.as_deref_mut() {
            dz[i] = T::of(g * inv);
        }
    }
    BatchLoss {
        mean: total * inv,
        correct: 0,
    }
}
