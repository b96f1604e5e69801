//! `clip = norm(max) | value(max)`, applied to all gradients before each step:
//! `clip_grad_norm_` scales by min(1, max/(N + 1e-6)) where N is the global L2 norm;
//! `clip_grad_value_` clamps each element to [−max, max].

use crate::ir::Clip;
use crate::train::float::Float;
use crate::train::linalg;
use crate::train::simd::multiversion;

/// Clips `grads` in place; `norm` is their global L2 norm (already computed).
/// Element-wise, in pieces on the team's threads for a large vector (each value
/// clipped the same way in any piece).
pub fn apply<T: Float>(clip: &Clip, grads: &mut [T], norm: f64) {
    match *clip {
        Clip::Norm(max) => {
            let coef = max / (norm + 1e-6);
            if coef < 1.0 {
                let k = T::of(coef);
                linalg::split_elements(&[] as &[T], grads, |_, _, g| scale(g, k));
            }
        }
        Clip::Value(max) => {
            let (lo, hi) = (T::of(-max), T::of(max));
            linalg::split_elements(&[] as &[T], grads, |_, _, g| clamp(g, lo, hi));
        }
    }
}

multiversion! {
    /// g ← g·k
    fn scale<T: Float>(g: &mut [T], k: T) {
        for g in g.iter_mut() {
            *g *= k;
        }
    }
}

multiversion! {
    /// g ← g clamped to [lo, hi]
    fn clamp<T: Float>(g: &mut [T], lo: T, hi: T) {
        for g in g.iter_mut() {
            if *g > hi {
                *g = hi;
            } else if *g < lo {
                *g = lo;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_clip_scales_to_max() {
        let mut g = [3.0f64, 4.0];
        apply(&Clip::Norm(1.0), &mut g, 5.0);
        let n = (g[0] * g[0] + g[1] * g[1]).sqrt();
        assert!((n - 5.0 / (5.0 + 1e-6)).abs() < 1e-12);
        let mut small = [0.1f64, 0.2];
        apply(&Clip::Norm(1.0), &mut small, 0.05f64.sqrt());
        assert_eq!(small, [0.1, 0.2]);
    }

    #[test]
    fn value_clip_clamps() {
        let mut g = [-2.0f64, 0.3, 0.7];
        apply(&Clip::Value(0.5), &mut g, 0.0);
        assert_eq!(g, [-0.5, 0.3, 0.5]);
    }
}
