//! `batch_norm(momentum, eps)`: `nn.BatchNorm1d`.
//!
//! Shapes: x, y `width × n` (column-major: feature j of example k is `x[j + k·width]`);
//! weight γ, bias β, running_mean, running_var, and the per-step caches `[width]`;
//! x̂ `width × n`.
//!
//! Training: batch mean and biased variance normalise; running estimates move by
//! `momentum` towards the batch mean and the unbiased variance. Evaluation: the
//! running estimates normalise.
//!
//! The layer sees x, y, x̂, dy and dx as `width × n` nalgebra views and γ, β as
//! vector views over the network's flat buffers ([`crate::train::view`], no
//! copies); its passes run over the views' values, feature by feature or column
//! by column, in pieces on the team's threads for a large batch.

use nalgebra::{DMatrixView, DMatrixViewMut, DVectorView};

use crate::train::float::Float;
use crate::train::linalg;
use crate::train::network::{ParamKind, ParamLayout};
use crate::train::simd::multiversion;
use crate::train::view;

#[derive(Debug, Clone)]
pub struct BatchNorm<T> {
    pub width: usize,
    pub momentum: f64,
    pub eps: f64,
    /// Offset of γ `[width]` in the flat parameters (β follows right after).
    pub weight: usize,
    pub bias: usize,
    pub running_mean: Vec<T>,
    pub running_var: Vec<T>,
    /// Normalised input of the last training forward pass, `width × capacity`.
    xhat: Vec<T>,
    mean: Vec<T>,
    inv_std: Vec<T>,
    /// Scratch sums for backward.
    sum_dy: Vec<T>,
    sum_dy_xhat: Vec<T>,
    /// γ·inv_std/n a feature, for backward's dx.
    dx_scale: Vec<T>,
}

impl<T: Float> BatchNorm<T> {
    /// Batch norm over `width` features for batches of up to `capacity` rows,
    /// its weight and bias `[width]` declared in the parameter layout.
    pub fn build(
        width: usize,
        momentum: f64,
        eps: f64,
        capacity: usize,
        layout: &mut ParamLayout,
    ) -> Self {
        let weight = layout.tensor("weight", vec![width], ParamKind::Scale);
        let bias = layout.tensor("bias", vec![width], ParamKind::Shift);
        Self::new(width, momentum, eps, weight, bias, capacity)
    }

    pub fn new(
        width: usize,
        momentum: f64,
        eps: f64,
        weight: usize,
        bias: usize,
        capacity: usize,
    ) -> Self {
        BatchNorm {
            width,
            momentum,
            eps,
            weight,
            bias,
            running_mean: vec![T::zero(); width],
            running_var: vec![T::one(); width],
            xhat: vec![T::zero(); width * capacity],
            mean: vec![T::zero(); width],
            inv_std: vec![T::zero(); width],
            sum_dy: vec![T::zero(); width],
            sum_dy_xhat: vec![T::zero(); width],
            dx_scale: vec![T::zero(); width],
        }
    }

    /// γ and β (`[width]`), views of the flat parameters.
    fn gamma_beta<'a>(&self, params: &'a [T]) -> (DVectorView<'a, T>, DVectorView<'a, T>) {
        let w = self.width;
        (
            DVectorView::from_slice(&params[self.weight..self.weight + w], w),
            DVectorView::from_slice(&params[self.bias..self.bias + w], w),
        )
    }

    /// y (`width × n`) ← γ∘x̂ + β from x (`width × n`): x̂ by the batch's
    /// statistics in training (kept for backward, the running estimates
    /// updated), by the running estimates in evaluation.
    pub fn forward(&mut self, params: &[T], x: &[T], y: &mut [T], n: usize, train: bool) {
        let w = self.width;
        let x = view::cols(x, w, n);
        let mut y = view::cols_mut(y, w, n);
        if train {
            self.forward_train(params, x, &mut y);
        } else {
            self.forward_eval(params, x, &mut y);
        }
    }

    /// Evaluation: x̂ = (x − running_mean)/√(running_var + eps).
    fn forward_eval(&self, params: &[T], x: DMatrixView<'_, T>, y: &mut DMatrixViewMut<'_, T>) {
        let w = self.width;
        let (gamma, beta) = self.gamma_beta(params);
        let (gamma, beta) = (gamma.as_slice(), beta.as_slice());
        let (Some(x), Some(y)) = (view::slice(x), view::slice_mut(y)) else {
            return; // views that are not packed: the layer makes none
        };
        let eps = T::of(self.eps);
        for (xc, yc) in x.chunks_exact(w).zip(y.chunks_exact_mut(w)) {
            for j in 0..w {
                let inv = T::one() / (self.running_var[j] + eps).sqrt();
                yc[j] = (xc[j] - self.running_mean[j]) * inv * gamma[j] + beta[j];
            }
        }
    }

    /// Training: the batch's mean and biased variance normalise.
    fn forward_train(
        &mut self,
        params: &[T],
        x: DMatrixView<'_, T>,
        y: &mut DMatrixViewMut<'_, T>,
    ) {
        let (w, n) = x.shape();
        let len = w * n;
        let (gamma, beta) = self.gamma_beta(params);
        let (gamma, beta) = (gamma.as_slice(), beta.as_slice());
        let mut xhat = view::cols_mut(&mut self.xhat, w, n);
        let ((Some(x), Some(y)), Some(xhat)) = (
            (view::slice(x), view::slice_mut(y)),
            view::slice_mut(&mut xhat),
        ) else {
            return; // views that are not packed: the layer makes none
        };
        let nt = T::of(n as f64);
        let mom = T::of(self.momentum);
        let unbias = T::of(n as f64 / (n as f64 - 1.0));
        let eps = T::of(self.eps);
        // Statistics feature by feature (each summed over the columns in order),
        // in pieces of features on the team's threads for a large batch.
        let stats = (
            &mut self.mean[..],
            &mut self.inv_std[..],
            &mut self.running_mean[..],
            &mut self.running_var[..],
        );
        feature_pieces(w, n, stats, |f0, (mean, inv_std, rmean, rvar)| {
            linalg::sum_columns(x, mean, w, f0, n);
            for m in mean.iter_mut() {
                *m /= nt;
            }
            // Biased variance, two-pass for accuracy.
            squared_deviations(x, w, f0, mean, inv_std);
            for j in 0..mean.len() {
                let var = inv_std[j] / nt;
                rmean[j] = (T::one() - mom) * rmean[j] + mom * mean[j];
                rvar[j] = (T::one() - mom) * rvar[j] + mom * var * unbias;
                inv_std[j] = T::one() / (var + eps).sqrt();
            }
        });
        let (mean, inv_std) = (&self.mean[..], &self.inv_std[..]);
        debug_assert_eq!(x.len(), len);
        column_pieces(w, n, x, xhat, y, |x, xhat, y| {
            normalize(x, xhat, y, w, mean, inv_std, gamma, beta);
        });
    }

    /// Backward of the training forward pass: dγ = Σ dy·x̂, dβ = Σ dy,
    /// dx = γ·inv_std/n · (n·dy − dβ − x̂·dγ).
    pub fn backward(
        &mut self,
        params: &[T],
        grads: &mut [T],
        dy: &[T],
        dx: Option<&mut [T]>,
        n: usize,
    ) {
        let w = self.width;
        let dy = view::cols(dy, w, n);
        let mut dx = dx.map(|dx| view::cols_mut(dx, w, n));
        self.backward_views(params, grads, dy, dx.as_mut());
    }

    /// [`BatchNorm::backward`] on views: dy and dx `width × n`.
    fn backward_views(
        &mut self,
        params: &[T],
        grads: &mut [T],
        dy: DMatrixView<'_, T>,
        dx: Option<&mut DMatrixViewMut<'_, T>>,
    ) {
        let (w, n) = dy.shape();
        let xhat = view::cols(&self.xhat, w, n);
        let (Some(dy), Some(xhat)) = (view::slice(dy), view::slice(xhat)) else {
            return; // views that are not packed: the layer makes none
        };
        let sums = (
            &mut self.sum_dy[..],
            &mut self.sum_dy_xhat[..],
            &mut [] as &mut [T],
            &mut [] as &mut [T],
        );
        feature_pieces(w, n, sums, |f0, (sum_dy, sum_dy_xhat, _, _)| {
            linalg::sum_columns_and_products(dy, xhat, w, f0, sum_dy, sum_dy_xhat);
        });
        grads[self.weight..self.weight + w].copy_from_slice(&self.sum_dy_xhat);
        grads[self.bias..self.bias + w].copy_from_slice(&self.sum_dy);
        if let Some(dx) = dx.and_then(view::slice_mut) {
            let (gamma, _) = self.gamma_beta(params);
            let gamma = gamma.as_slice();
            let nt = T::of(n as f64);
            // γ·inv_std/n once a feature (the same value each column computed).
            for ((k, &g), &s) in self.dx_scale.iter_mut().zip(gamma).zip(&self.inv_std) {
                *k = g * s / nt;
            }
            let (scale, sum_dy, sum_dy_xhat) = (&self.dx_scale, &self.sum_dy, &self.sum_dy_xhat);
            column_pieces(w, n, dy, dx, xhat, |dy, dx, xhat| {
                input_gradient(dy, xhat, dx, w, nt, scale, sum_dy, sum_dy_xhat);
            });
        }
    }
}

impl<T: Float> super::Layer<T> for BatchNorm<T> {
    #[inline]
    fn forward(
        &mut self,
        params: &[T],
        x: &[T],
        y: &mut [T],
        shape: super::Shape,
        mode: &mut super::Mode<'_>,
    ) {
        BatchNorm::forward(self, params, x, y, shape.n, mode.is_train());
    }

    #[inline]
    fn backward(
        &mut self,
        params: &[T],
        grads: &mut [T],
        _: &[T],
        _: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        shape: super::Shape,
    ) {
        BatchNorm::backward(self, params, grads, dy, dx, shape.n);
    }

    fn running_stats(&self) -> Vec<(&'static str, &[T])> {
        vec![
            ("running_mean", &self.running_mean[..]),
            ("running_var", &self.running_var[..]),
        ]
    }

    fn running_stats_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![
            ("running_mean", &mut self.running_mean),
            ("running_var", &mut self.running_var),
        ]
    }
}

multiversion! {
    /// acc[j] ← Σ over the columns of x, in column order, of (x − mean[j])²
    /// for feature f0 + j.
    fn squared_deviations<T: Float>(x: &[T], w: usize, f0: usize, mean: &[T], acc: &mut [T]) {
        acc.fill(T::zero());
        let f1 = f0 + acc.len();
        for xc in x.chunks_exact(w) {
            for ((a, &v), &m) in acc.iter_mut().zip(&xc[f0..f1]).zip(mean) {
                let d = v - m;
                *a += d * d;
            }
        }
    }
}

multiversion! {
    /// x̂ ← (x − mean)·inv_std and y ← x̂·γ + β, column by column (`w` a column).
    fn normalize<T: Float>(
        x: &[T],
        xhat: &mut [T],
        y: &mut [T],
        w: usize,
        mean: &[T],
        inv_std: &[T],
        gamma: &[T],
        beta: &[T],
    ) {
        let (mean, inv_std, gamma, beta) = (&mean[..w], &inv_std[..w], &gamma[..w], &beta[..w]);
        for ((xc, hc), yc) in x
            .chunks_exact(w)
            .zip(xhat.chunks_exact_mut(w))
            .zip(y.chunks_exact_mut(w))
        {
            for j in 0..w {
                let h = (xc[j] - mean[j]) * inv_std[j];
                hc[j] = h;
                yc[j] = h * gamma[j] + beta[j];
            }
        }
    }
}

multiversion! {
    /// dx ← k·(n·dy − Σdy − x̂·Σdy·x̂) column by column, k = γ·inv_std/n
    /// (`scale`) a feature.
    fn input_gradient<T: Float>(
        dy: &[T],
        xhat: &[T],
        dx: &mut [T],
        w: usize,
        nt: T,
        scale: &[T],
        sum_dy: &[T],
        sum_dy_xhat: &[T],
    ) {
        let (scale, sum_dy, sum_dy_xhat) = (&scale[..w], &sum_dy[..w], &sum_dy_xhat[..w]);
        for ((dc, hc), oc) in dy
            .chunks_exact(w)
            .zip(xhat.chunks_exact(w))
            .zip(dx.chunks_exact_mut(w))
        {
            for j in 0..w {
                oc[j] = scale[j] * (nt * dc[j] - sum_dy[j] - hc[j] * sum_dy_xhat[j]);
            }
        }
    }
}

/// A batch-norm pass costs about this many plain element-wise passes (two or
/// three reads and writes a value): batches of a few thousand values are cut.
const COST: usize = 4;

/// A slice, shared or not, cut in two (an empty one stays empty).
trait Cut: Sized {
    fn cut(self, at: usize) -> (Self, Self);
}

impl<T> Cut for &[T] {
    fn cut(self, at: usize) -> (Self, Self) {
        self.split_at(at.min(self.len()))
    }
}

impl<T> Cut for &mut [T] {
    fn cut(self, at: usize) -> (Self, Self) {
        let at = at.min(self.len());
        self.split_at_mut(at)
    }
}

/// `f(first_feature, (a, b, c, d))` over pieces of the `w` features (the four
/// per-feature vectors cut alike), on the team's threads when the `w × n` batch
/// is large (cut by shape alone, as `linalg::column_pieces` cuts columns).
fn feature_pieces<A: Cut + Send, B: Cut + Send, C: Cut + Send, D: Cut + Send>(
    w: usize,
    n: usize,
    v: (A, B, C, D),
    f: impl Fn(usize, (A, B, C, D)) + Sync,
) {
    let pieces = linalg::column_pieces(n * COST, w).min(w).max(1);
    let mut rest = Some(v);
    let parts = (0..pieces).filter_map(|i| {
        let (a, b, c, d) = rest.take()?;
        let (f0, f1) = (linalg::cut(w, pieces, i), linalg::cut(w, pieces, i + 1));
        let ((a0, a1), (b0, b1)) = (a.cut(f1 - f0), b.cut(f1 - f0));
        let ((c0, c1), (d0, d1)) = (c.cut(f1 - f0), d.cut(f1 - f0));
        rest = Some((a1, b1, c1, d1));
        Some((f0, (a0, b0, c0, d0)))
    });
    linalg::run_parts(parts, |_, (f0, v)| f(f0, v));
}

/// `f(a, b, c)` over pieces of whole columns of three `w × n` batches, on the
/// team's threads when the batch is large (`linalg::column_pieces`).
fn column_pieces<A: Cut + Send, B: Cut + Send, C: Cut + Send>(
    w: usize,
    n: usize,
    a: A,
    b: B,
    c: C,
    f: impl Fn(A, B, C) + Sync,
) {
    let pieces = linalg::column_pieces(w * COST, n);
    let mut rest = Some((a, b, c));
    let parts = (0..pieces).filter_map(|i| {
        let (a, b, c) = rest.take()?;
        let cols = linalg::cut(n, pieces, i + 1) - linalg::cut(n, pieces, i);
        let ((a0, a1), (b0, b1), (c0, c1)) = (a.cut(w * cols), b.cut(w * cols), c.cut(w * cols));
        rest = Some((a1, b1, c1));
        Some((a0, b0, c0))
    });
    linalg::run_parts(parts, |_, (a, b, c)| f(a, b, c));
}

// ---------------------------------------------------------------- the concept

/// `batch_norm` as the rest of nnt sees it (explain, the exporters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub momentum: f64,
    pub eps: f64,
}

impl super::Concept for Spec {
    fn text(&self, num: fn(f64) -> String) -> String {
        format!("batch_norm({}, {})", num(self.momentum), num(self.eps))
    }

    fn torch(&self, in_width: usize) -> String {
        use crate::report::number::python;
        format!(
            "nn.BatchNorm1d({in_width}, eps={}, momentum={})",
            python(self.eps),
            python(self.momentum)
        )
    }

    fn onnx(
        &self,
        g: &mut dyn super::Graph,
        k: usize,
        _in_width: usize,
        w: usize,
        x: String,
    ) -> Result<String, super::MissingTensor> {
        let mut names = Vec::new();
        for part in ["weight", "bias", "running_mean", "running_var"] {
            names.push(g.tensor(format!("{k}.{part}"), &[w])?);
        }
        Ok(g.node(
            "BatchNormalization",
            &[&x, &names[0], &names[1], &names[2], &names[3]],
            &[super::Attr::Float("epsilon", self.eps)],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Training forward and backward give the same bits at every SIMD level,
    /// alone and on a team (pieces of features and of columns), on widths
    /// that are not whole vectors and values whose sums round.
    #[test]
    fn every_level_gives_the_same_bits() {
        let shapes = [(37, 70), (256, 128), (3, 5)];
        super::super::assert_same_bits_at_every_level(&shapes, &[1, 2], |w, n, params, x, dy| {
            let mut bn = BatchNorm::<f32>::new(w, 0.1, 1e-5, 0, w, n);
            let (mut y, mut dx, mut grads) = (vec![0.0; w * n], vec![0.0; w * n], vec![0.0; 2 * w]);
            bn.forward(params, x, &mut y, n, true);
            bn.backward(params, &mut grads, dy, Some(&mut dx), n);
            [y, dx, grads, bn.running_mean, bn.running_var].concat()
        });
    }
}
