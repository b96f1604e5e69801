//! `mse`: `nn.MSELoss`, the mean of (z − y)² over rows × targets;
//! ∂/∂z = 2(z − y)/len. Shapes: z, y, dz `k × n` (len = k·n).

use super::BatchLoss;
use crate::train::float::Float;

pub fn forward_backward<T: Float>(
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
        total += d * d;
        if let Some(dz) = dz.as_deref_mut() {
            dz[i] = T::of(2.0 * d * inv);
        }
    }
    BatchLoss {
        mean: total * inv,
        correct: 0,
    }
}
