//! `dropout(p)`: `nn.Dropout` (inverted). In training each element is zeroed with
//! probability p and the rest scaled by 1/(1−p); in evaluation the identity.
//!
//! Shapes: x, y, mask `width × n`. The mask holds 0 or 1/(1−p) and is what backward
//! multiplies by. Draws come from the Dropout stream, one per element in storage
//! order (column by column), so a run is reproducible and resumable.
//!
//! The layer sees x, y, dy, dx and its mask as nalgebra views over the flat
//! buffers ([`crate::train::view`], no copies); the element-wise passes run over
//! the views' values, in pieces on the team's threads for a large batch.

use nalgebra::{DMatrixView, DMatrixViewMut};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;

use crate::train::float::Float;
use crate::train::linalg;
use crate::train::simd::multiversion;
use crate::train::view;

/// 32-bit words of the ChaCha stream one `gen::<f64>()` takes (`next_u64`).
const WORDS_PER_DRAW: u128 = 2;

/// A draw costs about this many plain element-wise operations: masks of a few
/// thousand values are already worth pieces (`linalg::split_elements_costly`).
const DRAW_COST: usize = 8;

/// Draws whose words are taken before their mask values are computed at once.
const WORDS_AT_ONCE: usize = 64;

/// `gen::<f64>()` is `(w >> 11) · 2⁻⁵³` for the next 64-bit word `w` (rand's
/// `Standard`), and a value is dropped when that is below p. Both sides scaled
/// by 2⁵³ (exactly), that is `w >> 11 < ⌈p · 2⁵³⌉` on integers, which a vector
/// unit compares without converting to f64.
fn threshold(p: f64) -> u64 {
    (p * (1u64 << 53) as f64)
        .ceil()
        .clamp(0.0, (1u64 << 53) as f64) as u64
}

multiversion! {
    /// The mask values of the words `w`: 0 when `w >> 11 < below`, else `scale`.
    fn fill_mask<T: Float>(mask: &mut [T], words: &[u64], below: u64, scale: T) {
        for (m, &w) in mask.iter_mut().zip(words) {
            *m = if (w >> 11) < below { T::zero() } else { scale };
        }
    }
}

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

    /// Draws a fresh mask for `len` elements: draw `i` of the mask is draw `i`
    /// after the stream's position whatever the pieces (each piece seeks a copy
    /// of the generator to its first draw: an f64 takes two 32-bit words of the
    /// ChaCha stream), so a large mask is drawn on the team's threads with the
    /// bits of one thread drawing in order. The stream ends after the last draw.
    pub fn draw_mask(&mut self, len: usize, rng: &mut ChaCha8Rng) {
        let scale = T::of(1.0 / (1.0 - self.p));
        let below = threshold(self.p);
        let start = rng.get_word_pos();
        let base: &ChaCha8Rng = rng;
        // The words a chunk of draws takes, then the chunk's mask in one
        // vectorised pass (`fill_mask`).
        let draw = |r: &mut ChaCha8Rng, mask: &mut [T]| {
            let mut words = [0u64; WORDS_AT_ONCE];
            for chunk in mask.chunks_mut(WORDS_AT_ONCE) {
                let words = &mut words[..chunk.len()];
                for w in words.iter_mut() {
                    *w = r.next_u64();
                }
                fill_mask(chunk, words, below, scale);
            }
        };
        if linalg::element_pieces(len * DRAW_COST) < 2 {
            draw(rng, &mut self.mask[..len]);
            return;
        }
        let mask = &mut self.mask[..len];
        linalg::split_elements_costly(DRAW_COST, &[] as &[T], mask, |first, _, mask| {
            let mut r = base.clone();
            r.set_word_pos(start + WORDS_PER_DRAW * first as u128);
            draw(&mut r, mask);
        });
        rng.set_word_pos(start + WORDS_PER_DRAW * len as u128);
    }

    /// The mask of the last draw, `width × n`.
    pub fn mask(&self, width: usize, n: usize) -> DMatrixView<'_, T> {
        view::cols(&self.mask, width, n)
    }

    /// Training: y ← x ⊙ mask (the mask drawn beforehand). Evaluation: y ← x.
    /// x and y are `width × n`.
    pub fn forward(&self, x: &[T], y: &mut [T], width: usize, n: usize, train: bool) {
        let x = view::cols(x, width, n);
        let mut y = view::cols_mut(y, width, n);
        if train && self.p > 0.0 {
            times_mask(x, self.mask(width, n), &mut y);
        } else {
            copy(x, &mut y);
        }
    }

    /// dx ← dy ⊙ mask, dy and dx `width × n`.
    pub fn backward(&self, dy: &[T], dx: &mut [T], width: usize, n: usize) {
        let dy = view::cols(dy, width, n);
        let mut dx = view::cols_mut(dx, width, n);
        if self.p > 0.0 {
            times_mask(dy, self.mask(width, n), &mut dx);
        } else {
            copy(dy, &mut dx);
        }
    }
}

/// out ← a (one copy of the values under packed views).
fn copy<T: Float>(a: DMatrixView<'_, T>, out: &mut DMatrixViewMut<'_, T>) {
    match (view::slice(a), view::slice_mut(out)) {
        (Some(a), Some(o)) => o.copy_from_slice(a),
        _ => out.copy_from(&a),
    }
}

/// out ← a ⊙ mask, element by element (in pieces on the team's threads for a
/// large batch).
fn times_mask<T: Float>(
    a: DMatrixView<'_, T>,
    mask: DMatrixView<'_, T>,
    out: &mut DMatrixViewMut<'_, T>,
) {
    let ((Some(a), Some(mask)), Some(out)) =
        ((view::slice(a), view::slice(mask)), view::slice_mut(out))
    else {
        return; // views that are not packed: the layer makes none
    };
    linalg::split_elements(a, out, |first, a, out| {
        if let Some(mask) = mask.get(first..) {
            multiply(a, mask, out);
        }
    });
}

multiversion! {
    /// out ← a ⊙ mask, value by value.
    fn multiply<T: Float>(a: &[T], mask: &[T], out: &mut [T]) {
        for ((o, &v), &m) in out.iter_mut().zip(a).zip(mask) {
            *o = v * m;
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
        let (width, n) = (shape.out_width, shape.n);
        let train = mode.is_train();
        if let super::Mode::Train(rng) = mode {
            if self.p > 0.0 {
                self.draw_mask(width * n, rng);
            }
        }
        Dropout::forward(self, x, y, width, n, train);
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
            Dropout::backward(self, dy, dx, shape.out_width, shape.n);
        }
    }
}

// ---------------------------------------------------------------- the concept

/// `dropout` as the rest of nnt sees it (explain, the exporters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub p: f64,
}

impl super::Concept for Spec {
    fn text(&self, num: fn(f64) -> String) -> String {
        format!("dropout({})", num(self.p))
    }

    fn model_text(&self) -> String {
        format!("dropout({}) (identity)", self.p)
    }

    fn torch(&self, _in_width: usize) -> String {
        format!("nn.Dropout({})", crate::report::number::python(self.p))
    }

    /// The identity in evaluation.
    fn onnx(
        &self,
        _g: &mut dyn super::Graph,
        _k: usize,
        _in_width: usize,
        _out_width: usize,
        x: String,
    ) -> Result<String, super::MissingTensor> {
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{generator, Stream};
    use rand::Rng;

    /// The integer test is `gen::<f64>() < p` for every word, at the edges of
    /// each p (p·2⁵³ whole or not, 0, just below 1).
    #[test]
    fn the_integer_threshold_decides_as_the_f64_draw_does() {
        let ps = [
            0.0,
            1e-300,
            0.1,
            0.2,
            0.3,
            0.5,
            0.7,
            0.999_999_999,
            1.0 - f64::EPSILON,
        ];
        let mut rng = generator(3, Stream::Dropout);
        for p in ps {
            let t = threshold(p);
            let mut words: Vec<u64> = (0..20_000).map(|_| rng.next_u64()).collect();
            for d in [-2i64, -1, 0, 1, 2] {
                let x = (t as i64 + d).clamp(0, (1 << 53) - 1) as u64;
                words.push(x << 11);
                words.push((x << 11) | 0x7ff);
            }
            for w in words {
                let draw = (w >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                assert_eq!((w >> 11) < t, draw < p, "p {p} w {w:#x}");
            }
        }
    }

    /// A mask large enough to be drawn in pieces on a team of three threads is the
    /// mask of one thread drawing in order, and leaves the stream where that does.
    #[test]
    fn pieces_draw_the_sequential_mask() {
        let len = linalg::PAR_ELEMENTS * 3 + 5;
        assert!(linalg::element_pieces(len * DRAW_COST) > 2);
        let mut want_rng = generator(7, Stream::Dropout);
        let _: u32 = want_rng.gen(); // an odd start: the draws straddle blocks
        let mut rng = want_rng.clone();
        let want: Vec<f32> = (0..len)
            .map(|_| {
                if want_rng.gen::<f64>() < 0.3 {
                    0.0
                } else {
                    (1.0f64 / 0.7) as f32
                }
            })
            .collect();
        let mut d = Dropout::<f32>::new(0.3, len, 1);
        linalg::pool(3, || d.draw_mask(len, &mut rng));
        assert_eq!(d.mask, want);
        assert_eq!(rng.gen::<u64>(), want_rng.gen::<u64>());
        // and a small one, drawn in order
        d.draw_mask(10, &mut rng);
        let small: Vec<f32> = (0..10)
            .map(|_| {
                if want_rng.gen::<f64>() < 0.3 {
                    0.0
                } else {
                    (1.0f64 / 0.7) as f32
                }
            })
            .collect();
        assert_eq!(d.mask[..10], small[..]);
    }
}
