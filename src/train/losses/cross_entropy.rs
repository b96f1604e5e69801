//! `cross_entropy(label_smoothing = ε)`: `nn.CrossEntropyLoss` on logits.
//!
//! Per row with logits z (`C`), label y: lse = log Σ exp z_c,
//! loss = (1−ε)·(lse − z_y) + (ε/C)·Σ_c (lse − z_c);
//! ∂loss/∂z_c = softmax_c − (1−ε)·[c = y] − ε/C. The batch value is the row mean.
//! Shapes: z `C × n`, y `1 × n` (class indices), dz `C × n`.

use super::BatchLoss;
use crate::math;
use crate::train::float::Float;
use crate::train::linalg;

pub fn forward_backward<T: Float>(
    eps: f64,
    z: &[T],
    y: &[T],
    c: usize,
    n: usize,
    dz: Option<&mut [T]>,
) -> BatchLoss {
    let inv_n = 1.0 / n as f64;
    // Two exponentials a logit make this pass costly next to its size: a large
    // batch runs as two halves of columns (each summed in order, then the two
    // sums added), cut by shape alone.
    let (total, correct) = match ((c * n >= PAR_LOGITS && n >= 2).then_some(n / 2), dz) {
        (Some(h), Some(dz)) => {
            let (z0, z1) = z[..c * n].split_at(c * h);
            let (y0, y1) = y[..n].split_at(h);
            let (d0, d1) = dz[..c * n].split_at_mut(c * h);
            let (mut a, mut b) = ((0.0, 0), (0.0, 0));
            linalg::both(
                || a = columns(eps, z0, y0, c, inv_n, Some(d0)),
                || b = columns(eps, z1, y1, c, inv_n, Some(d1)),
            );
            (a.0 + b.0, a.1 + b.1)
        }
        (_, dz) => columns(eps, &z[..c * n], &y[..n], c, inv_n, dz),
    };
    BatchLoss {
        mean: total * inv_n,
        correct,
    }
}

/// Logits in a batch from which the training pass splits between two threads
/// (~25 ns a logit, against ~1 µs to hand half to the second thread).
const PAR_LOGITS: usize = 1 << 9;

/// Σ of the per-row losses over the columns of `z` and the rows predicted
/// correctly; dz (when given) gets the gradient of the batch mean (`inv_n` =
/// 1 / the whole batch's row count).
fn columns<T: Float>(
    eps: f64,
    z: &[T],
    y: &[T],
    c: usize,
    inv_n: f64,
    mut dz: Option<&mut [T]>,
) -> (f64, usize) {
    let mut total = 0.0f64;
    let mut correct = 0usize;
    let cf = c as f64;
    for (k, col) in z.chunks_exact(c.max(1)).enumerate() {
        let label = y[k].to_f64() as usize;
        let mut m = f64::NEG_INFINITY;
        let mut arg = 0;
        for (j, &v) in col.iter().enumerate() {
            let v = v.to_f64();
            if v > m {
                m = v;
                arg = j;
            }
        }
        if arg == label {
            correct += 1;
        }
        let mut s = 0.0f64;
        let mut sum_z = 0.0f64;
        for &v in col {
            s += exp(v.to_f64() - m);
            sum_z += v.to_f64();
        }
        let lse = m + math::ln(s);
        let zy = col.get(label).map_or(f64::NAN, |v| v.to_f64());
        total += (1.0 - eps) * (lse - zy) + (eps / cf) * (cf * lse - sum_z);
        if let Some(dz) = dz.as_deref_mut() {
            let out = &mut dz[k * c..(k + 1) * c];
            for (j, (o, &v)) in out.iter_mut().zip(col).enumerate() {
                let p = exp(v.to_f64() - lse);
                let target = if j == label { 1.0 - eps } else { 0.0 } + eps / cf;
                *o = quiet(T::of((p - target) * inv_n));
            }
        }
    }
    (total, correct)
}

/// eˣ through the `libm` crate (compiled into the binary) rather than the
/// system's libm: called right after the AVX-512 matrix kernels, the system
/// function ran ~10× slower (measured: the loss cost more than the products).
/// Below −746, eˣ < 2⁻¹⁰⁷⁵ rounds to 0: skip the underflow path.
#[inline]
fn exp(x: f64) -> f64 {
    if x < -746.0 {
        0.0
    } else {
        math::exp(x)
    }
}

/// A gradient within 2²⁴ of the smallest normal number counts as 0: a confident
/// model's far-off logits give such values, and the backward products would
/// carry them (times weights below 1) into subnormal numbers, on which every x86
/// multiply-add takes a ~100× slower microcode path. No parameter update can
/// come from them (lr·g is below any normal parameter's rounding step).
#[inline]
fn quiet<T: Float>(g: T) -> T {
    if g.abs() < T::TINY * T::of(16_777_216.0) {
        T::zero()
    } else {
        g
    }
}
