//! `batch_norm(momentum, eps)`: `nn.BatchNorm1d`.
//!
//! Shapes: x, y `width × n` (column-major: feature j of example k is `x[j + k·width]`);
//! weight γ, bias β, running_mean, running_var, and the per-step caches `[width]`;
//! x̂ `width × n`.
//!
//! Training: batch mean and biased variance normalise; running estimates move by
//! `momentum` towards the batch mean and the unbiased variance. Evaluation: the
//! running estimates normalise.

use crate::train::float::Float;

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
}

impl<T: Float> BatchNorm<T> {
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
        }
    }

    pub fn forward(&mut self, params: &[T], x: &[T], y: &mut [T], n: usize, train: bool) {
        let w = self.width;
        let len = w * n;
        let gamma = &params[self.weight..self.weight + w];
        let beta = &params[self.bias..self.bias + w];
        if !train {
            let eps = T::of(self.eps);
            for (xc, yc) in x[..len].chunks_exact(w).zip(y[..len].chunks_exact_mut(w)) {
                for j in 0..w {
                    let inv = T::one() / (self.running_var[j] + eps).sqrt();
                    yc[j] = (xc[j] - self.running_mean[j]) * inv * gamma[j] + beta[j];
                }
            }
            return;
        }
        let nt = T::of(n as f64);
        self.mean.fill(T::zero());
        for xc in x[..len].chunks_exact(w) {
            for (m, &v) in self.mean.iter_mut().zip(xc) {
                *m += v;
            }
        }
        for m in &mut self.mean {
            *m /= nt;
        }
        // Biased variance, two-pass for accuracy.
        self.inv_std.fill(T::zero());
        for xc in x[..len].chunks_exact(w) {
            for ((acc, &v), &m) in self.inv_std.iter_mut().zip(xc).zip(&self.mean) {
                let d = v - m;
                *acc += d * d;
            }
        }
        let mom = T::of(self.momentum);
        let unbias = T::of(n as f64 / (n as f64 - 1.0));
        let eps = T::of(self.eps);
        for j in 0..w {
            let var = self.inv_std[j] / nt;
            self.running_mean[j] = (T::one() - mom) * self.running_mean[j] + mom * self.mean[j];
            self.running_var[j] = (T::one() - mom) * self.running_var[j] + mom * var * unbias;
            self.inv_std[j] = T::one() / (var + eps).sqrt();
        }
        for ((xc, hc), yc) in x[..len]
            .chunks_exact(w)
            .zip(self.xhat[..len].chunks_exact_mut(w))
            .zip(y[..len].chunks_exact_mut(w))
        {
            for j in 0..w {
                let h = (xc[j] - self.mean[j]) * self.inv_std[j];
                hc[j] = h;
                yc[j] = h * gamma[j] + beta[j];
            }
        }
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
        let len = w * n;
        self.sum_dy.fill(T::zero());
        self.sum_dy_xhat.fill(T::zero());
        for (dc, hc) in dy[..len]
            .chunks_exact(w)
            .zip(self.xhat[..len].chunks_exact(w))
        {
            for j in 0..w {
                self.sum_dy[j] += dc[j];
                self.sum_dy_xhat[j] += dc[j] * hc[j];
            }
        }
        grads[self.weight..self.weight + w].copy_from_slice(&self.sum_dy_xhat);
        grads[self.bias..self.bias + w].copy_from_slice(&self.sum_dy);
        if let Some(dx) = dx {
            let gamma = &params[self.weight..self.weight + w];
            let nt = T::of(n as f64);
            for ((dc, hc), oc) in dy[..len]
                .chunks_exact(w)
                .zip(self.xhat[..len].chunks_exact(w))
                .zip(dx[..len].chunks_exact_mut(w))
            {
                for j in 0..w {
                    let k = gamma[j] * self.inv_std[j] / nt;
                    oc[j] = k * (nt * dc[j] - self.sum_dy[j] - hc[j] * self.sum_dy_xhat[j]);
                }
            }
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
