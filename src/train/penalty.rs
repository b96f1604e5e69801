//! §8 penalties and the max-norm constraint, on dense weights only (never biases or
//! batch-norm parameters).
//!
//! - `l2(λ)`: λ·Σw², gradient 2λw;
//! - `l1(λ)`: λ·Σ|w|, gradient λ·sign(w) with sign(0) = 0;
//! - `max_norm(c)`: after each step, each row (one unit's incoming weights) of a
//!   `[units, inputs]` weight with L2 norm above c is scaled by c/norm.

use crate::train::float::Float;

/// Penalty value of one weight tensor, in f64.
pub fn value<T: Float>(w: &[T], l1: f64, l2: f64) -> f64 {
    let (mut a, mut s) = (0.0f64, 0.0f64);
    for &v in w {
        let v = v.to_f64();
        a += v.abs();
        s += v * v;
    }
    l1 * a + l2 * s
}

/// Adds the penalty gradient of weight `w` into its gradient `g`.
pub fn add_gradient<T: Float>(w: &[T], g: &mut [T], l1: f64, l2: f64) {
    if l2 != 0.0 {
        let k = T::of(2.0 * l2);
        for (gi, &wi) in g.iter_mut().zip(w) {
            *gi += k * wi;
        }
    }
    if l1 != 0.0 {
        let k = T::of(l1);
        for (gi, &wi) in g.iter_mut().zip(w) {
            if wi > T::zero() {
                *gi += k;
            } else if wi < T::zero() {
                *gi -= k;
            }
        }
    }
}

/// Applies `max_norm(c)` to a row-major `[units, inputs]` weight.
pub fn max_norm<T: Float>(w: &mut [T], inputs: usize, c: f64) {
    if inputs == 0 {
        return;
    }
    let cap = T::of(c);
    for row in w.chunks_exact_mut(inputs) {
        let mut s = T::zero();
        for &v in row.iter() {
            s += v * v;
        }
        let norm = s.sqrt();
        if norm > cap {
            let k = cap / norm;
            for v in row.iter_mut() {
                *v *= k;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_norm_scales_only_long_rows() {
        let mut w = [3.0f64, 4.0, 0.3, 0.4];
        max_norm(&mut w, 2, 1.0);
        assert!((w[0] - 0.6).abs() < 1e-15 && (w[1] - 0.8).abs() < 1e-15);
        assert_eq!(&w[2..], &[0.3, 0.4]);
    }
}
