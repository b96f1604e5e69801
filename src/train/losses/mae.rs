//! `mae`: `nn.L1Loss`, the mean of |z − y| over rows × targets;
//! ∂/∂z = sign(z − y)/len with sign(0) = 0. Shapes: z, y, dz `k × n`.

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
        total += d.abs();
        if let Some(dz) = dz.as_deref_mut() {
            let s = if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            };
            dz[i] = T::of(s * inv);
        }
    }
    BatchLoss {
        mean: total * inv,
        correct: 0,
    }
}
