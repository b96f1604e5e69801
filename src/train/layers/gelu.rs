//! Exact GELU (`nn.GELU()`, erf form), forward and backward side by side, with
//! the forward pass's erf kept for the backward pass.
//!
//! y = x · Φ(x) with Φ(x) = ½ · (1 + erf(x/√2)); dy/dx = Φ(x) + x · φ(x) with
//! φ(x) = e^(−x²/2)/√(2π). The erf is the costliest part of both (three rational
//! approximations and two exponentials a value, all computed for every lane so
//! that the loop vectorises), so a training forward pass keeps `1 + erf(x/√2)`
//! for each value and the backward pass reads it instead of computing it again:
//! the backward pass costs one exponential a value instead of an erf and an
//! exponential. Both passes compute every value with the same operations in the
//! same order as without the kept terms, so the bits are the same.
//!
//! Shapes: x, y, dy, dx and the kept terms are all `width × n` (column-major
//! batch).
//!
//! [`Activation::Gelu`] is the form without kept terms that evaluation,
//! `predict` and the gradient check use; its passes are [`forward_values`] and
//! [`backward_values`], on the same formulas (`erf_terms`, `value`,
//! `slope`).

use std::f64::consts::FRAC_1_SQRT_2;

use crate::train::float::Float;
use crate::train::layers::activation::Activation;
use crate::train::linalg;
use crate::train::simd::multiversion;

/// The engine's GELU layer: [`Activation::Gelu`] plus the kept `1 + erf(x/√2)`
/// of the last training batch.
#[derive(Debug, Clone)]
pub struct Gelu<T> {
    /// `1 + erf(x/√2)` of the last training forward pass, `width × capacity`
    /// (allocated once, when the network is built).
    erf_terms: Vec<T>,
    /// How many values of `erf_terms` belong to the last forward pass: 0 after
    /// an evaluation pass (a backward pass then computes the erf itself).
    kept: usize,
}

impl<T: Float> Gelu<T> {
    /// A GELU layer of `width` features for batches of up to `capacity` rows.
    pub fn new(width: usize, capacity: usize) -> Self {
        Gelu {
            erf_terms: vec![T::zero(); width * capacity],
            kept: 0,
        }
    }

    /// y ← x · Φ(x), x and y `width × n`; a training pass keeps the erf terms
    /// (the buffer holds the training batch; a larger one is not kept).
    pub fn forward(&mut self, x: &[T], y: &mut [T], width: usize, n: usize, train: bool) {
        let len = width * n;
        if !train || len > self.erf_terms.len() {
            self.kept = 0;
            Activation::Gelu.forward(x, y, width, n);
            return;
        }
        let terms = &mut self.erf_terms[..len];
        let cost = Activation::Gelu.cost();
        linalg::split_columns_costly_two(cost, x, y, terms, width, n, |_, x, y, terms| {
            forward_keeping(x, y, terms)
        });
        self.kept = len;
    }

    /// dx ← dy · GELU′(x), all `width × n`, from the kept erf terms when the
    /// last forward pass kept this batch's.
    pub fn backward(&self, x: &[T], y: &[T], dy: &[T], dx: &mut [T], width: usize, n: usize) {
        let len = width * n;
        if self.kept != len {
            Activation::Gelu.backward(x, y, dy, dx, width, n);
            return;
        }
        let (x, terms) = (&x[..len], &self.erf_terms[..len]);
        let cost = Activation::Gelu.cost();
        linalg::split_columns_costly(cost, dy, width, dx, width, n, |first, dy, dx| {
            let r = first * width..first * width + dy.len();
            backward_kept(&x[r.clone()], &terms[r], dy, dx)
        });
    }
}

/// 1/√(2π)
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// `1 + erf(v/√2)`: twice Φ(v), in the run's precision, one value at a time
/// (the definition [`erf_terms`] is tested against).
#[cfg(test)]
fn erf_term<T: Float>(v: T) -> T {
    T::one() + (v * T::of(FRAC_1_SQRT_2)).erf_libm()
}

/// How many values [`erf_terms`] takes at a time (its far lanes are gathered
/// in arrays of this size on the stack), and the passes without kept terms.
const CHUNK: usize = 256;

/// terms ← [`erf_term`] of each of x (of one length), the same bits, in two
/// passes a chunk: erf's intervals near 0 for every value (vectorised), then
/// its tail intervals for the values that need them alone, gathered (|x/√2| ≥
/// 1.25: under a tenth of a normalised batch). `erf_term` computes every
/// interval for every value, about three times the work.
#[inline(always)]
fn erf_terms<T: Float>(x: &[T], terms: &mut [T]) {
    let c = T::of(FRAC_1_SQRT_2);
    let mut far = [T::zero(); CHUNK];
    let mut at = [0usize; CHUNK];
    for (x, terms) in x.chunks(CHUNK).zip(terms.chunks_mut(CHUNK)) {
        for (t, &v) in terms.iter_mut().zip(x) {
            *t = T::one() + (v * c).erf_near_libm();
        }
        // The far lanes' arguments and places, in order (each value is
        // written to the next slot; the count moves on only for a far one).
        let mut count = 0;
        for (i, &v) in x.iter().enumerate() {
            let u = v * c;
            far[count] = u;
            at[count] = i;
            count += usize::from(u.erf_is_far());
        }
        for u in &mut far[..count] {
            *u = u.erf_far_libm();
        }
        for (&e, &i) in far[..count].iter().zip(&at[..count]) {
            terms[i] = T::one() + e;
        }
    }
}

/// GELU(v) from v's erf term `t`: ½ · v · t.
#[inline(always)]
fn value<T: Float>(v: T, t: T) -> T {
    T::of(0.5) * v * t
}

/// GELU′(v) from v's erf term `t`: ½ · t + v · φ(v).
#[inline(always)]
fn slope<T: Float>(v: T, t: T) -> T {
    let cdf = T::of(0.5) * t;
    let pdf = T::of(INV_SQRT_2PI) * (T::of(-0.5) * v * v).exp_libm();
    cdf + v * pdf
}

/// y ← GELU(x), of one length, without keeping the terms (a chunk's terms on
/// the stack): [`Activation::Gelu`]'s forward pass.
#[inline(always)]
pub fn forward_values<T: Float>(x: &[T], y: &mut [T]) {
    let mut terms = [T::zero(); CHUNK];
    for (x, y) in x.chunks(CHUNK).zip(y.chunks_mut(CHUNK)) {
        let terms = &mut terms[..x.len()];
        erf_terms(x, terms);
        for ((o, &v), &t) in y.iter_mut().zip(x).zip(terms.iter()) {
            *o = value(v, t);
        }
    }
}

/// dx ← dy · GELU′(x), of one length, computing the terms (a chunk's on the
/// stack): [`Activation::Gelu`]'s backward pass.
#[inline(always)]
pub fn backward_values<T: Float>(x: &[T], dy: &[T], dx: &mut [T]) {
    let mut terms = [T::zero(); CHUNK];
    let chunks = x.chunks(CHUNK).zip(dy.chunks(CHUNK));
    for ((x, dy), dx) in chunks.zip(dx.chunks_mut(CHUNK)) {
        let terms = &mut terms[..x.len()];
        erf_terms(x, terms);
        for (((o, &v), &t), &d) in dx.iter_mut().zip(x).zip(terms.iter()).zip(dy) {
            *o = d * slope(v, t);
        }
    }
}

multiversion! {
    /// y ← GELU(x) and terms ← 1 + erf(x/√2), all of one length.
    fn forward_keeping<T: Float>(x: &[T], y: &mut [T], terms: &mut [T]) {
        let len = x.len();
        let (y, terms) = (&mut y[..len], &mut terms[..len]);
        erf_terms(x, terms);
        for ((o, &t), &v) in y.iter_mut().zip(terms.iter()).zip(x) {
            *o = value(v, t);
        }
    }
}

multiversion! {
    /// dx ← dy · GELU′(x) from the kept terms, all of one length.
    fn backward_kept<T: Float>(x: &[T], terms: &[T], dy: &[T], dx: &mut [T]) {
        let len = dx.len();
        let (x, terms, dy) = (&x[..len], &terms[..len], &dy[..len]);
        for (((o, &v), &t), &d) in dx.iter_mut().zip(x).zip(terms).zip(dy) {
            *o = d * slope(v, t);
        }
    }
}

impl<T: Float> super::Layer<T> for Gelu<T> {
    /// Training keeps the erf terms for the backward pass.
    #[inline]
    fn forward(
        &mut self,
        _: &[T],
        x: &[T],
        y: &mut [T],
        shape: super::Shape,
        mode: &mut super::Mode<'_>,
    ) {
        let train = mode.is_train();
        Gelu::forward(self, x, y, shape.out_width, shape.n, train);
    }

    #[inline]
    fn backward(
        &mut self,
        _: &[T],
        _: &mut [T],
        x: &[T],
        y: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        shape: super::Shape,
    ) {
        if let Some(dx) = dx {
            Gelu::backward(self, x, y, dy, dx, shape.out_width, shape.n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{generator, Stream};
    use crate::train::layers::{Layer, Mode, Shape};

    /// Values around every interval of erf's approximation (|x/√2| below 2⁻²⁸,
    /// 0.84375, 1.25, 2.857, 6) and beyond, both signs.
    fn inputs<T: Float>(len: usize) -> Vec<T> {
        (0..len)
            .map(|i| {
                let u = (i as f64 * 0.618_033_988_749_895).fract() * 2.0 - 1.0;
                T::of(u * u * u * 12.0)
            })
            .collect()
    }

    fn bits<T: Float>(v: &[T]) -> Vec<u64> {
        v.iter().map(|x| x.to_f64().to_bits()).collect()
    }

    /// The kept-terms passes give the bits of the plain activation's passes,
    /// in both precisions, for a batch cut into pieces and one that is not.
    fn same_bits_as_the_activation<T: Float>() {
        let mut rng = generator(5, Stream::Dropout);
        for (width, n) in [(7, 3), (256, 128)] {
            let x: Vec<T> = inputs(width * n);
            let dy: Vec<T> = inputs::<T>(width * n).iter().rev().copied().collect();
            let shape = Shape {
                in_width: width,
                out_width: width,
                n,
            };
            let mut gelu = Gelu::<T>::new(width, n);
            let (mut y, mut dx) = (vec![T::zero(); width * n], vec![T::zero(); width * n]);
            Layer::forward(
                &mut gelu,
                &[],
                &x,
                &mut y,
                shape,
                &mut Mode::Train(&mut rng),
            );
            assert_eq!(gelu.kept, width * n);
            Layer::backward(&mut gelu, &[], &mut [], &x, &y, &dy, Some(&mut dx), shape);
            let (mut y0, mut dx0) = (vec![T::zero(); width * n], vec![T::zero(); width * n]);
            Activation::Gelu.forward(&x, &mut y0, width, n);
            Activation::Gelu.backward(&x, &y0, &dy, &mut dx0, width, n);
            assert_eq!(bits(&y), bits(&y0), "forward {width}×{n}");
            assert_eq!(bits(&dx), bits(&dx0), "backward {width}×{n}");
        }
    }

    /// The two-pass erf terms are the one-pass ones, bit for bit, for chunks
    /// of every fill (no far value, all far, a partial last chunk).
    fn erf_terms_are_erf_term<T: Float>() {
        for len in [0, 1, 5, CHUNK - 1, CHUNK, 3 * CHUNK + 17] {
            for scale in [0.5, 12.0, 1e4] {
                let x: Vec<T> = inputs::<T>(len).iter().map(|&v| v * T::of(scale)).collect();
                let mut got = vec![T::zero(); len];
                erf_terms(&x, &mut got);
                let want: Vec<T> = x.iter().map(|&v| erf_term(v)).collect();
                assert_eq!(bits(&got), bits(&want), "{len} values ×{scale}");
            }
        }
        let specials = [
            T::zero(),
            T::of(f64::INFINITY),
            T::of(-f64::INFINITY),
            T::of(f64::NAN),
        ];
        let mut got = [T::zero(); 4];
        erf_terms(&specials, &mut got);
        let want: Vec<T> = specials.iter().map(|&v| erf_term(v)).collect();
        assert_eq!(bits(&got), bits(&want));
    }

    #[test]
    fn erf_terms_are_erf_term_f32() {
        erf_terms_are_erf_term::<f32>();
    }

    #[test]
    fn erf_terms_are_erf_term_f64() {
        erf_terms_are_erf_term::<f64>();
    }

    #[test]
    fn kept_terms_give_the_activations_bits_f32() {
        same_bits_as_the_activation::<f32>();
    }

    #[test]
    fn kept_terms_give_the_activations_bits_f64() {
        same_bits_as_the_activation::<f64>();
    }

    /// An evaluation pass keeps nothing, and a backward pass after it computes
    /// the erf itself (the stale terms of an earlier batch are not read); a
    /// batch larger than the buffer is computed without keeping.
    #[test]
    fn only_a_training_pass_that_fits_keeps_terms() {
        let (width, n) = (3, 4);
        let x: Vec<f32> = inputs(width * n);
        let shape = Shape {
            in_width: width,
            out_width: width,
            n,
        };
        let mut gelu = Gelu::<f32>::new(width, n);
        let mut y = vec![0.0; width * n];
        let mut rng = generator(5, Stream::Dropout);
        Layer::forward(
            &mut gelu,
            &[],
            &x,
            &mut y,
            shape,
            &mut Mode::Train(&mut rng),
        );
        assert_eq!(gelu.kept, width * n);
        let other: Vec<f32> = x.iter().map(|v| v * 0.5).collect();
        Layer::forward(&mut gelu, &[], &other, &mut y, shape, &mut Mode::Eval);
        assert_eq!(gelu.kept, 0);
        let dy = vec![1.0f32; width * n];
        let (mut dx, mut want) = (vec![0.0; width * n], vec![0.0; width * n]);
        Layer::backward(
            &mut gelu,
            &[],
            &mut [],
            &other,
            &y,
            &dy,
            Some(&mut dx),
            shape,
        );
        Activation::Gelu.backward(&other, &y, &dy, &mut want, width, n);
        assert_eq!(bits(&dx), bits(&want));
        let big = Shape { n: 2 * n, ..shape };
        let (xb, mut yb) = (inputs::<f32>(2 * width * n), vec![0.0; 2 * width * n]);
        Layer::forward(
            &mut gelu,
            &[],
            &xb,
            &mut yb,
            big,
            &mut Mode::Train(&mut rng),
        );
        assert_eq!(gelu.kept, 0);
    }
}
