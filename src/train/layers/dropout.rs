//! `dropout(p)`: `nn.Dropout` (inverted). In training each element is zeroed with
//! probability p and the rest scaled by 1/(1−p); in evaluation the identity.
//!
//! Shapes: x, y, mask `width × n`. The mask holds 0 or 1/(1−p) and is what backward
//! multiplies by. Draws come from the Dropout stream, one per element in storage
//! order (column by column), so a run is reproducible and resumable.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::train::float::Float;

#[derive(Debug, Clone)]
pub struct Dropout<T> {
    pub p: f64,
    /// `width × capacity`, reused every step.
    pub mask: Vec<T>,
}

impl<T: Float> Dropout<T> {
    pub fn new(p: f64, width: usize, capacity: usize) -> Self {
        Dropout {
            p,
            mask: vec![T::one(); width * capacity],
        }
    }

    /// Draws a fresh mask for `len` elements.
    pub fn draw_mask(&mut self, len: usize, rng: &mut ChaCha8Rng) {
        let scale = T::of(1.0 / (1.0 - self.p));
        for m in &mut self.mask[..len] {
            *m = if rng.gen::<f64>() < self.p {
                T::zero()
            } else {
                scale
            };
        }
    }

    /// Training: y ← x ⊙ mask (the mask drawn beforehand). Evaluation: y ← x.
    pub fn forward(&self, x: &[T], y: &mut [T], len: usize, train: bool) {
        if train && self.p > 0.0 {
            for ((o, &v), &m) in y[..len].iter_mut().zip(&x[..len]).zip(&self.mask[..len]) {
                *o = v * m;
            }
        } else {
            y[..len].copy_from_slice(&x[..len]);
        }
    }

    /// dx ← dy ⊙ mask.
    pub fn backward(&self, dy: &[T], dx: &mut [T], len: usize) {
        if self.p > 0.0 {
            for ((o, &d), &m) in dx[..len].iter_mut().zip(&dy[..len]).zip(&self.mask[..len]) {
                *o = d * m;
            }
        } else {
            dx[..len].copy_from_slice(&dy[..len]);
        }
    }
}

impl<T: Float> super::Layer<T> for Dropout<T> {
    /// Training draws a fresh mask from the Dropout stream first.
    #[inline]
    fn forward(
        &mut self,
        _: &[T],
        x: &[T],
        y: &mut [T],
        shape: super::Shape,
        mode: &mut super::Mode<'_>,
    ) {
        let len = shape.out_width * shape.n;
        let train = mode.is_train();
        if let super::Mode::Train(rng) = mode {
            if self.p > 0.0 {
                self.draw_mask(len, rng);
            }
        }
        Dropout::forward(self, x, y, len, train);
    }

    #[inline]
    fn backward(
        &mut self,
        _: &[T],
        _: &mut [T],
        _: &[T],
        _: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        shape: super::Shape,
    ) {
        if let Some(dx) = dx {
            Dropout::backward(self, dy, dx, shape.out_width * shape.n);
        }
    }
}
