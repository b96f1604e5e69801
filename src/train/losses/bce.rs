//! `binary_cross_entropy`: `nn.BCEWithLogitsLoss` on one logit per row.
//!
//! loss = max(z, 0) − z·y + log(1 + e^(−|z|)) (the stable softplus form);
//! ∂loss/∂z = σ(z) − y. The batch value is the row mean.
//! Shapes: z `1 × n`, y `1 × n` (0 or 1), dz `1 × n`.
//!
//! The per-row terms go into a buffer on the stack a block of rows at a time,
//! in one loop the compiler vectorises ([`vmath::exp`] and [`vmath::log1p`]:
//! the bits of `libm::exp` and `libm::log1p`); the batch sum then adds them in
//! row order, as one loop over the rows does. σ(z) is 1/(1 + e^(−z)) for z ≥ 0
//! and e^z/(1 + e^z) below: both are the one e^(−|z|) the loss computes.

use super::BatchLoss;
use crate::train::float::Float;
use crate::train::simd::multiversion;
use crate::train::vmath;

/// Rows whose terms are computed in one vectorised loop.
const BLOCK: usize = 256;

pub fn forward_backward<T: Float>(z: &[T], y: &[T], n: usize, dz: Option<&mut [T]>) -> BatchLoss {
    if !super::fits(n, z.len(), y.len(), dz.as_deref().map(<[T]>::len)) {
        return BatchLoss::UNDEFINED;
    }
    let inv_n = 1.0 / n as f64;
    let (total, correct) = rows(&z[..n], &y[..n], inv_n, dz);
    BatchLoss {
        mean: total * inv_n,
        correct,
    }
}

multiversion! {
    /// Σ of the per-row losses and the rows predicted correctly; dz (when given)
    /// gets the gradient of the batch mean.
    fn rows<T: Float>(z: &[T], y: &[T], inv_n: f64, dz: Option<&mut [T]>) -> (f64, usize) {
        let mut dz = dz;
        let (mut term, mut exps) = ([0.0f64; BLOCK], [0.0f64; BLOCK]);
        let mut total = 0.0f64;
        let mut correct = 0usize;
        for (b, (zb, yb)) in z.chunks(BLOCK).zip(y.chunks(BLOCK)).enumerate() {
            let (term, exps) = (&mut term[..zb.len()], &mut exps[..zb.len()]);
            for (((t, e), &zk), &yk) in term.iter_mut().zip(exps.iter_mut()).zip(zb).zip(yb) {
                let (zf, yf) = (zk.to_f64(), yk.to_f64());
                *e = vmath::exp(-zf.abs());
                *t = zf.max(0.0) - zf * yf + vmath::log1p(*e);
            }
            for ((&t, &zk), &yk) in term.iter().zip(zb).zip(yb) {
                total += t;
                if (zk.to_f64() > 0.0) == (yk.to_f64() > 0.5) {
                    correct += 1;
                }
            }
            if let Some(dz) = dz.as_deref_mut() {
                let start = b * BLOCK;
                let dzb = &mut dz[start..start + zb.len()];
                for (((o, &e), &zk), &yk) in dzb.iter_mut().zip(exps.iter()).zip(zb).zip(yb) {
                    let (zf, yf) = (zk.to_f64(), yk.to_f64());
                    let s = if zf >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
                    *o = T::of((s - yf) * inv_n);
                }
            }
        }
        (total, correct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math;
    use crate::train::simd::{force, Level};

    /// The loss as one scalar loop over the rows with `libm`'s functions.
    fn reference(z: &[f64], y: &[f64]) -> (f64, usize, Vec<f64>) {
        let (mut total, mut correct, mut dz) = (0.0f64, 0, Vec::new());
        let inv_n = 1.0 / z.len() as f64;
        for (&zf, &yf) in z.iter().zip(y) {
            total += zf.max(0.0) - zf * yf + math::ln_1p(math::exp(-zf.abs()));
            if (zf > 0.0) == (yf > 0.5) {
                correct += 1;
            }
            let s = if zf >= 0.0 {
                1.0 / (1.0 + math::exp(-zf))
            } else {
                math::exp(zf) / (1.0 + math::exp(zf))
            };
            dz.push((s - yf) * inv_n);
        }
        (total * inv_n, correct, dz)
    }

    #[test]
    fn the_bits_of_one_scalar_loop_at_every_level() {
        // Several blocks and a partial one; logits from −800 to 800, ±0.
        let n = 3 * BLOCK + 37;
        let mut z: Vec<f64> = (0..n)
            .map(|i| ((i as f64 * 0.618_034).fract() - 0.5) * 40.0)
            .collect();
        z[1] = -0.0;
        z[2] = 0.0;
        z[3] = 800.0;
        z[4] = -800.0;
        z[5] = 1e-300;
        let y: Vec<f64> = (0..n).map(|i| ((i * 7) % 3 == 0) as u8 as f64).collect();
        let (mean, correct, want) = reference(&z, &y);
        let (z32, y32): (Vec<f32>, Vec<f32>) = z
            .iter()
            .zip(&y)
            .map(|(&a, &b)| (a as f32, b as f32))
            .unzip();
        let z32w: Vec<f64> = z32.iter().map(|&v| v as f64).collect();
        let (mean32, correct32, want32) = reference(&z32w, &y);
        for level in [Level::Baseline, Level::V3, Level::V4] {
            force(Some(level));
            let mut dz = vec![0.0f64; n];
            let got = forward_backward(&z, &y, n, Some(&mut dz));
            assert_eq!(got.mean.to_bits(), mean.to_bits(), "{level:?}");
            assert_eq!(got.correct, correct);
            for (a, b) in dz.iter().zip(&want) {
                assert_eq!(a.to_bits(), b.to_bits(), "{level:?}");
            }
            let mut dz = vec![0.0f32; n];
            let got = forward_backward(&z32, &y32, n, Some(&mut dz));
            assert_eq!(got.mean.to_bits(), mean32.to_bits(), "{level:?}");
            assert_eq!(got.correct, correct32);
            for (a, &b) in dz.iter().zip(&want32) {
                assert_eq!(a.to_bits(), (b as f32).to_bits(), "{level:?}");
            }
            let got = forward_backward(&z, &y, n, None);
            assert_eq!(got.mean.to_bits(), mean.to_bits(), "{level:?}");
        }
        force(None);
    }
}
