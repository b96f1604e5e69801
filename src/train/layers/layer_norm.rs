//! `layer_norm(eps)`: `nn.LayerNorm(width, eps)` (v1.2).
//!
//! Shapes: x, y, x̂ `width × n`, column-major, so column k is example k's features
//! (`x[j + k·width]`), and each column is normalised on its own; weight γ and bias
//! β `[width]`; the per-example 1/√(var + eps) `[n]`. The layer sees them as
//! nalgebra matrix views over the network's flat buffers (no copies).
//!
//! Forward, for each column x: μ = Σx/w, σ² = Σ(x − μ)²/w (biased),
//! x̂ = (x − μ)/√(σ² + eps), y = γ∘x̂ + β. The same in training and evaluation:
//! no running statistics.
//!
//! Backward, with g = γ∘dy for each column: dx = (w·g − Σg − x̂·Σ(g∘x̂))/(w·√(σ² + eps));
//! over the batch dγ = Σ_k dy∘x̂, dβ = Σ_k dy.

use crate::train::float::Float;
use crate::train::linalg;
use crate::train::network::{ParamKind, ParamLayout};
use crate::train::simd::multiversion;

#[derive(Debug, Clone)]
pub struct LayerNorm<T> {
    pub width: usize,
    pub eps: f64,
    /// Offset of γ `[width]` in the flat parameters.
    pub weight: usize,
    /// Offset of β `[width]`.
    pub bias: usize,
    /// x̂ of the last forward pass, `width × capacity`.
    xhat: Vec<T>,
    /// 1/√(σ² + eps) of each example of the last forward pass, `[capacity]`.
    inv_std: Vec<T>,
}

impl<T: Float> LayerNorm<T> {
    /// Layer norm over `width` features for batches of up to `capacity` rows,
    /// its weight and bias `[width]` declared in the parameter layout.
    pub fn build(width: usize, eps: f64, capacity: usize, layout: &mut ParamLayout) -> Self {
        let weight = layout.tensor("weight", vec![width], ParamKind::Scale);
        let bias = layout.tensor("bias", vec![width], ParamKind::Shift);
        Self::new(width, eps, weight, bias, capacity)
    }

    /// Buffers for batches of up to `capacity` examples, allocated once.
    pub fn new(width: usize, eps: f64, weight: usize, bias: usize, capacity: usize) -> Self {
        LayerNorm {
            width,
            eps,
            weight,
            bias,
            xhat: vec![T::zero(); width * capacity],
            inv_std: vec![T::zero(); capacity],
        }
    }

    /// y (`width × n`) ← γ∘x̂ + β, keeping x̂ and 1/√(σ² + eps) for backward.
    pub fn forward(&mut self, params: &[T], x: &[T], y: &mut [T], n: usize) {
        let w = self.width;
        let len = w * n;
        if self.inv_std.len() < n {
            // An evaluation pass (predict, eval) may run more rows than the
            // network's training capacity: the buffers grow once (never in a
            // training step, whose batches fit the capacity).
            self.inv_std.resize(n, T::zero());
            self.xhat.resize(len, T::zero());
        }
        let gamma = &params[self.weight..self.weight + w];
        let beta = &params[self.bias..self.bias + w];
        let wt = T::of(w as f64);
        let eps = T::of(self.eps);
        normalize_columns(
            &x[..len],
            &mut self.xhat[..len],
            &mut y[..len],
            &mut self.inv_std[..n],
            w,
            wt,
            eps,
            gamma,
            beta,
        );
    }

    /// Given dy (`width × n`): writes dγ = Σ_k dy∘x̂ and dβ = Σ_k dy into `grads`
    /// (overwriting), and dx (`width × n`) when asked for.
    pub fn backward(
        &self,
        params: &[T],
        grads: &mut [T],
        dy: &[T],
        dx: Option<&mut [T]>,
        n: usize,
    ) {
        let w = self.width;
        let len = w * n;
        let (dy, xhat) = (&dy[..len], &self.xhat[..len]);
        {
            let (head, tail) = grads.split_at_mut(self.bias.max(self.weight));
            let (dgamma, dbeta) = if self.weight < self.bias {
                (&mut head[self.weight..self.weight + w], &mut tail[..w])
            } else {
                (&mut tail[..w], &mut head[self.bias..self.bias + w])
            };
            linalg::sum_columns_and_products(dy, xhat, w, 0, dbeta, dgamma);
        }
        let Some(dx) = dx else {
            return;
        };
        let gamma = &params[self.weight..self.weight + w];
        let wt = T::of(w as f64);
        input_gradients(dy, xhat, &mut dx[..len], &self.inv_std[..n], w, wt, gamma);
    }
}

multiversion! {
    /// Each column (`w` values) of x normalised: μ = Σx/w, σ² = Σ(x − μ)²/w (each
    /// sum in feature order, from 0), inv_std = 1/√(σ² + eps), x̂ = (x − μ)·inv_std,
    /// y = x̂·γ + β.
    fn normalize_columns<T: Float>(
        x: &[T],
        xhat: &mut [T],
        y: &mut [T],
        inv_std: &mut [T],
        w: usize,
        wt: T,
        eps: T,
        gamma: &[T],
        beta: &[T],
    ) {
        if w == 0 {
            return;
        }
        let (gamma, beta) = (&gamma[..w], &beta[..w]);
        let columns = x
            .chunks_exact(w)
            .zip(xhat.chunks_exact_mut(w))
            .zip(y.chunks_exact_mut(w))
            .zip(inv_std.iter_mut());
        for (((xc, hc), yc), inv_std) in columns {
            let mut sum = T::zero();
            for &v in xc {
                sum += v;
            }
            let mean = sum / wt;
            // Biased variance, two-pass for accuracy.
            let mut ss = T::zero();
            for &v in xc {
                let d = v - mean;
                ss += d * d;
            }
            let inv = T::one() / (ss / wt + eps).sqrt();
            *inv_std = inv;
            for j in 0..w {
                let h = (xc[j] - mean) * inv;
                hc[j] = h;
                yc[j] = h * gamma[j] + beta[j];
            }
        }
    }
}

multiversion! {
    /// dx of each column: with g = γ∘dy, s = Σg and sh = Σ g∘x̂ (in feature
    /// order), dx = inv_std/w · (w·γ∘dy − s − x̂·sh).
    fn input_gradients<T: Float>(
        dy: &[T],
        xhat: &[T],
        dx: &mut [T],
        inv_std: &[T],
        w: usize,
        wt: T,
        gamma: &[T],
    ) {
        if w == 0 {
            return;
        }
        let gamma = &gamma[..w];
        let columns = dy
            .chunks_exact(w)
            .zip(xhat.chunks_exact(w))
            .zip(dx.chunks_exact_mut(w))
            .zip(inv_std);
        for (((dc, hc), oc), &inv) in columns {
            let (mut s, mut sh) = (T::zero(), T::zero());
            for j in 0..w {
                let g = gamma[j] * dc[j];
                s += g;
                sh += g * hc[j];
            }
            let scale = inv / wt;
            for j in 0..w {
                oc[j] = scale * (wt * gamma[j] * dc[j] - s - hc[j] * sh);
            }
        }
    }
}

impl<T: Float> super::Layer<T> for LayerNorm<T> {
    /// The same in training and evaluation.
    #[inline]
    fn forward(
        &mut self,
        params: &[T],
        x: &[T],
        y: &mut [T],
        shape: super::Shape,
        _: &mut super::Mode<'_>,
    ) {
        LayerNorm::forward(self, params, x, y, shape.n);
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
        LayerNorm::backward(self, params, grads, dy, dx, shape.n);
    }
}

// ---------------------------------------------------------------- the concept

/// `layer_norm` as the rest of nnt sees it (explain, the exporters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub eps: f64,
}

impl super::Concept for Spec {
    fn text(&self, num: fn(f64) -> String) -> String {
        format!("layer_norm({})", num(self.eps))
    }

    fn torch(&self, in_width: usize) -> String {
        let eps = crate::report::number::python(self.eps);
        format!("nn.LayerNorm({in_width}, eps={eps})")
    }

    /// nn.LayerNorm over the features, in opset 13 (LayerNormalization is opset
    /// 17): means as products with a column of 1/width.
    fn onnx(
        &self,
        g: &mut dyn super::Graph,
        k: usize,
        _in_width: usize,
        w: usize,
        x: String,
    ) -> Result<String, super::MissingTensor> {
        let avg = g.constant(format!("{k}.average"), &[w, 1], vec![1.0 / w as f32; w]);
        let mean = g.node("MatMul", &[&x, &avg], &[]);
        let d = g.node("Sub", &[&x, &mean], &[]);
        let sq = g.node("Mul", &[&d, &d], &[]);
        let var = g.node("MatMul", &[&sq, &avg], &[]);
        let e = g.constant(format!("{k}.eps"), &[], vec![self.eps as f32]);
        let ve = g.node("Add", &[&var, &e], &[]);
        let sd = g.node("Sqrt", &[&ve], &[]);
        let n = g.node("Div", &[&d, &sd], &[]);
        let wn = g.tensor(format!("{k}.weight"), &[w])?;
        let bn = g.tensor(format!("{k}.bias"), &[w])?;
        let scaled = g.node("Mul", &[&n, &wn], &[]);
        Ok(g.node("Add", &[&scaled, &bn], &[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forward and backward give the same bits at every SIMD level, on widths
    /// that are not whole vectors and values whose sums round.
    #[test]
    fn every_level_gives_the_same_bits() {
        let shapes = [(37, 70), (128, 64), (3, 5)];
        super::super::assert_same_bits_at_every_level(&shapes, &[1], |w, n, params, x, dy| {
            let mut ln = LayerNorm::<f32>::new(w, 1e-5, 0, w, n);
            let (mut y, mut dx, mut grads) = (vec![0.0; w * n], vec![0.0; w * n], vec![0.0; 2 * w]);
            ln.forward(params, x, &mut y, n);
            ln.backward(params, &mut grads, dy, Some(&mut dx), n);
            [y, dx, grads].concat()
        });
    }

    /// Each output column has mean β and (biased) variance γ²·σ²/(σ² + eps).
    #[test]
    fn columns_are_normalised() {
        let (w, n) = (4, 3);
        // γ = 1, β = 0 at offsets 0 and 4.
        let mut params = vec![1.0f64; w];
        params.extend(vec![0.0; w]);
        let x: Vec<f64> = (0..w * n).map(|i| ((i * 7) % 5) as f64 - 1.5).collect();
        let mut ln = LayerNorm::<f64>::new(w, 1e-5, 0, w, n);
        let mut y = vec![0.0; w * n];
        ln.forward(&params, &x, &mut y, n);
        for (xc, yc) in x.chunks(w).zip(y.chunks(w)) {
            let mean_x = xc.iter().sum::<f64>() / w as f64;
            let var_x = xc.iter().map(|v| (v - mean_x).powi(2)).sum::<f64>() / w as f64;
            let mean = yc.iter().sum::<f64>() / w as f64;
            let var = yc.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / w as f64;
            assert!(mean.abs() < 1e-12, "{mean}");
            assert!((var - var_x / (var_x + 1e-5)).abs() < 1e-12, "{var}");
        }
    }

    /// A pass over more rows than the capacity it was built for (evaluation
    /// chunks of a model file loaded with a small capacity) gives the same
    /// output as one built for them (it panicked before).
    #[test]
    fn more_rows_than_the_capacity() {
        let (w, n) = (3, 7);
        let mut params = vec![1.5f64; w];
        params.extend(vec![0.25; w]);
        let x: Vec<f64> = (0..w * n).map(|i| ((i * 5) % 7) as f64 - 2.0).collect();
        let mut small = LayerNorm::<f64>::new(w, 1e-5, 0, w, 2);
        let mut large = LayerNorm::<f64>::new(w, 1e-5, 0, w, n);
        let (mut ys, mut yl) = (vec![0.0; w * n], vec![0.0; w * n]);
        small.forward(&params, &x, &mut ys, n);
        large.forward(&params, &x, &mut yl, n);
        assert_eq!(ys, yl);
    }
}
