//! `dense(units)` / `linear`: `nn.Linear`. y = W·x + b.
//!
//! Shapes: x `inputs × n` (column-major batch), W `[units, inputs]` (row-major, as
//! PyTorch), b `[units]`, y `units × n`.

use crate::train::float::Float;
use crate::train::linalg;
use crate::train::network::{ParamKind, ParamLayout};
use crate::train::simd::multiversion;

/// A dense layer: where its parameters live in the flat parameter vector.
#[derive(Debug, Clone)]
pub struct Dense {
    pub inputs: usize,
    pub units: usize,
    /// Offset of the weight `[units, inputs]`.
    pub weight: usize,
    /// Offset of the bias `[units]`, absent with `bias = false`.
    pub bias: Option<usize>,
}

impl Dense {
    /// A dense layer of `units` over `inputs`, its weight `[units, inputs]` and
    /// (with `bias`) its bias `[units]` declared in the parameter layout.
    pub fn build(inputs: usize, units: usize, bias: bool, layout: &mut ParamLayout) -> Self {
        let weight = layout.tensor("weight", vec![units, inputs], ParamKind::DenseWeight);
        let bias = bias.then(|| layout.tensor("bias", vec![units], ParamKind::DenseBias));
        Dense {
            inputs,
            units,
            weight,
            bias,
        }
    }

    pub fn weight_len(&self) -> usize {
        self.units * self.inputs
    }

    /// y (`units × n`) ← W·x + b. The bias is broadcast into y first and the product
    /// accumulated on top of it, so the bias add costs no extra pass.
    pub fn forward<T: Float>(&self, params: &[T], x: &[T], y: &mut [T], n: usize) {
        let w = &params[self.weight..self.weight + self.weight_len()];
        let accumulate = match self.bias {
            Some(off) => {
                let b = &params[off..off + self.units];
                let units = self.units.max(1);
                linalg::split_columns(b, 0, y, units, n, |_, _, y| {
                    for col in y.chunks_exact_mut(units) {
                        col.copy_from_slice(b);
                    }
                });
                true
            }
            None => false,
        };
        linalg::w_x(w, x, y, self.units, self.inputs, n, accumulate);
    }

    /// Given dy (`units × n`): writes dW = dy·xᵀ and db = Σ_columns dy into `grads`
    /// (overwriting), and dx = Wᵀ·dy (`inputs × n`) when asked for.
    pub fn backward<T: Float>(
        &self,
        params: &[T],
        grads: &mut [T],
        x: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        n: usize,
    ) {
        let wl = self.weight_len();
        let w = &params[self.weight..self.weight + wl];
        let dw = &mut grads[self.weight..self.weight + wl];
        linalg::dense_backward(dy, x, w, dw, dx, self.units, self.inputs, n);
        if let Some(off) = self.bias {
            let db = &mut grads[off..off + self.units];
            let units = self.units;
            // Each unit's sum runs over the columns in order; a large batch cuts
            // the units (not the columns) into pieces on the team's threads.
            let pieces = linalg::column_pieces(units, n).min(units).max(1);
            let mut rest = Some(db);
            let parts = (0..pieces).filter_map(|i| {
                let db = rest.take()?;
                let (first, end) = (
                    linalg::cut(units, pieces, i),
                    linalg::cut(units, pieces, i + 1),
                );
                let (d0, d1) = db.split_at_mut(end - first);
                rest = Some(d1);
                Some((first, d0))
            });
            linalg::run_parts(parts, |_, (first, db)| sum_columns(dy, db, units, first, n));
        }
    }
}

multiversion! {
    /// db ← Σ over the n columns of dy (`units × n`) of rows first.., in column order.
    fn sum_columns<T: Float>(dy: &[T], db: &mut [T], units: usize, first: usize, n: usize) {
        db.fill(T::zero());
        for col in dy[..units * n].chunks_exact(units.max(1)) {
            for (g, &d) in db.iter_mut().zip(&col[first..]) {
                *g += d;
            }
        }
    }
}

impl<T: Float> super::Layer<T> for Dense {
    #[inline]
    fn forward(
        &mut self,
        params: &[T],
        x: &[T],
        y: &mut [T],
        shape: super::Shape,
        _: &mut super::Mode<'_>,
    ) {
        Dense::forward(self, params, x, y, shape.n);
    }

    #[inline]
    fn backward(
        &mut self,
        params: &[T],
        grads: &mut [T],
        x: &[T],
        _: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        shape: super::Shape,
    ) {
        Dense::backward(self, params, grads, x, dy, dx, shape.n);
    }
}

// ---------------------------------------------------------------- the concept

/// `dense` as the rest of nnt sees it (explain, the exporters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub units: usize,
    pub bias: bool,
    pub init: crate::ir::Init,
}

impl super::Concept for Spec {
    fn text(&self, _num: fn(f64) -> String) -> String {
        if self.bias {
            format!("dense({})", self.units)
        } else {
            format!("dense({}, bias = false)", self.units)
        }
    }

    fn model_text(&self) -> String {
        if self.bias {
            "dense"
        } else {
            "dense (no bias)"
        }
        .to_string()
    }

    fn torch(&self, in_width: usize) -> String {
        use crate::ir::Init;
        use crate::report::number::python;
        let init = match self.init {
            Init::Normal { std } => format!("normal(std = {})", python(std)),
            Init::Uniform { limit } => format!("uniform(limit = {})", python(limit)),
            other => other.name().to_string(),
        };
        format!(
            "nn.Linear({in_width}, {}{})  # dense, init {init} (drawn into init.safetensors)",
            self.units,
            if self.bias { "" } else { ", bias=False" },
        )
    }

    fn onnx(
        &self,
        g: &mut dyn super::Graph,
        k: usize,
        in_width: usize,
        out_width: usize,
        x: String,
    ) -> Result<String, super::MissingTensor> {
        let mut inputs = vec![x, g.tensor(format!("{k}.weight"), &[out_width, in_width])?];
        if self.bias {
            inputs.push(g.tensor(format!("{k}.bias"), &[out_width])?);
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(g.node("Gemm", &refs, &[super::Attr::Int("transB", 1)]))
    }
}
