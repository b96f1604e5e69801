//! Whether values are finite: the check of every update (issue 11: a step that
//! leaves a parameter NaN or infinite stops the run, naming the layer).
//!
//! `finite_block` is one vectorised pass; the optimizers that measure the
//! gradient while they update (`optim::measured`) also run it over each block
//! they have just written, while it is in the cache, so the step needs no
//! separate pass over the parameters (`all_finite` is for the others).

use crate::train::float::Float;
use crate::train::linalg;
use crate::train::simd::multiversion;

/// Whether every value is finite (in pieces on the team's threads for a large
/// vector; [`finite_block`] on each).
pub(crate) fn all_finite<T: Float>(v: &[T]) -> bool {
    let (len, pieces) = (v.len(), linalg::element_pieces(v.len()));
    let mut ok = [true; linalg::MAX_PIECES];
    let parts = ok.iter_mut().take(pieces).enumerate().map(|(i, o)| {
        let r = linalg::cut(len, pieces, i)..linalg::cut(len, pieces, i + 1);
        (&v[r], o)
    });
    linalg::run_parts(parts, |_, (v, o)| *o = finite_block(v));
    ok.iter().all(|&o| o)
}

/// The independent sums of [`finite_block`]: with eight, each addition waited
/// for the one before in its lane (a chain of `len / 8` additions).
const LANES: usize = 64;

multiversion! {
    /// Whether every value is finite: `x·0` is 0 for a finite `x` and NaN
    /// otherwise, summed in [`LANES`] independent lanes (one vectorised pass over
    /// the values, compiled for each SIMD level: a step checks every parameter).
    /// Only the answer matters, not the sums' bits, so the lanes are as many as
    /// keep the additions' latency hidden (four vectors of AVX-512).
    pub(crate) fn finite_block<T: Float>(v: &[T]) -> bool {
        let zero = T::zero();
        let mut lanes = [zero; LANES];
        let chunks = v.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for (l, &x) in lanes.iter_mut().zip(c) {
                *l += x * zero;
            }
        }
        // Without short-circuits, so that both checks run as vector compares
        // (`all` compiled to one compare and branch a value: 64 of them a
        // call, about half of the pass on a small layer).
        let rest_ok = rest.iter().fold(true, |ok, x| ok & x.is_finite());
        lanes.iter().fold(rest_ok, |ok, l| ok & l.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every SIMD level finds a non-finite value wherever it is (in the lanes or
    /// in the remainder).
    #[test]
    fn all_finite_finds_every_non_finite_value() {
        use crate::train::simd::{force, Level};
        for level in [Level::Baseline, Level::V3, Level::V4] {
            force(Some(level));
            for len in [0usize, 1, 7, 8, 9, 63, 64, 65, 67, 130, 2410] {
                let v: Vec<f32> = (0..len).map(|i| i as f32 - 30.0).collect();
                assert!(all_finite(&v), "{level:?} {len}");
                for at in [0, len / 2, len.saturating_sub(1)] {
                    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                        if len == 0 {
                            continue;
                        }
                        let mut w = v.clone();
                        w[at] = bad;
                        assert!(!all_finite(&w), "{level:?} {len} {at} {bad}");
                    }
                }
            }
        }
        force(None);
    }
}
