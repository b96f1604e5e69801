//! `dense(units)` / `linear`: `nn.Linear`. y = W·x + b.
//!
//! Shapes: x `inputs × n` (column-major batch), W `units × inputs` stored
//! row-major as PyTorch stores it (`[units, inputs]`), b `[units]`, y `units × n`.
//! The layer computes on nalgebra views over the network's flat buffers
//! ([`crate::train::view`], no copies): x, y, dy, dx as `width × n` views, W and
//! dW as Wᵀ (`inputs × units`: their row-major storage read column-major),
//! which the products read transposed; products go to faer's kernels through
//! [`linalg`] (in pieces on the team's threads when large). One exception: in
//! training the first layer's W and dW may be stored by input (column-major,
//! [`Dense::by_input`]), and are then read as they are.

use nalgebra::{DMatrixView, DMatrixViewMut};

use crate::train::float::Float;
use crate::train::linalg::{self, Start, Weight};
use crate::train::network::{ParamKind, ParamLayout};
use crate::train::view::{self, Read};

/// A dense layer: where its parameters live in the flat parameter vector.
#[derive(Debug, Clone)]
pub struct Dense {
    pub inputs: usize,
    pub units: usize,
    /// Offset of the weight `[units, inputs]`.
    pub weight: usize,
    /// Offset of the bias `[units]`, absent with `bias = false`.
    pub bias: Option<usize>,
    /// Whether W and dW are stored by input (column-major: each input's
    /// `units` weights side by side, the row-major storage of Wᵀ) instead of
    /// as declared, as a training run lays out the first layer's weight
    /// ([`crate::train::network::Network::lay_first_weight_by_input`]).
    pub by_input: bool,
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
            by_input: false,
        }
    }

    pub fn weight_len(&self) -> usize {
        self.units * self.inputs
    }

    /// How W (and dW) is stored: the shape of its column-major view and how
    /// the products read that view as W (`units × inputs`). As declared, Wᵀ
    /// read transposed; by input, W as it is.
    fn stored(&self) -> ((usize, usize), Read) {
        if self.by_input {
            ((self.units, self.inputs), Read::AsIs)
        } else {
            ((self.inputs, self.units), Read::Transposed)
        }
    }

    /// W over its storage in `params`.
    fn w<'a, T: Float>(&self, params: &'a [T]) -> Weight<DMatrixView<'a, T>> {
        let ((rows, cols), read) = self.stored();
        Weight {
            view: view::cols(&params[self.weight..], rows, cols),
            read,
        }
    }

    /// b (`[units]`), when the layer has one.
    fn b<'a, T: Float>(&self, params: &'a [T]) -> Option<&'a [T]> {
        let off = self.bias?;
        params.get(off..off + self.units)
    }

    /// y (`units × n`) ← W·x + b: each value the bias plus the product's chain,
    /// added once ([`linalg::w_x`] from `Start::RowBias`).
    pub fn forward<T: Float>(&self, params: &[T], x: &[T], y: &mut [T], n: usize) {
        self.forward_laid_out(params, x, y, n, Read::AsIs);
    }

    /// [`Dense::forward`] with y laid out by unit (`units × n` row-major: each
    /// unit's n values side by side), as a training step lays out the last
    /// layer's output for cross-entropy
    /// ([`crate::train::network::Network::lay_output_by_unit`]): the same
    /// values, the bias first and the product's chain added to it once.
    pub fn forward_by_unit<T: Float>(&self, params: &[T], x: &[T], y: &mut [T], n: usize) {
        self.forward_laid_out(params, x, y, n, Read::Transposed);
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
        self.backward_laid_out(params, grads, x, dy, dx, n, Read::AsIs);
    }

    /// [`Dense::backward`] given dy laid out by unit (`units × n` row-major,
    /// after [`Dense::forward_by_unit`]); dx is laid out as usual. The same
    /// values: each product's chains run over the same operands in the same
    /// order, and each unit's bias gradient sums its row in column order.
    pub fn backward_by_unit<T: Float>(
        &self,
        params: &[T],
        grads: &mut [T],
        x: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        n: usize,
    ) {
        self.backward_laid_out(params, grads, x, dy, dx, n, Read::Transposed);
    }

    /// A view of y or dy (`units × n`) as `read` says: `AsIs` by row (the
    /// usual column-major `units × n`), `Transposed` by unit (the `n × units`
    /// column-major view of its row-major storage).
    fn output_view<'a, T: Float>(&self, y: &'a [T], n: usize, read: Read) -> DMatrixView<'a, T> {
        match read {
            Read::AsIs => view::cols(y, self.units, n),
            Read::Transposed => view::cols(y, n, self.units),
        }
    }

    /// [`Dense::output_view`], writable.
    fn output_view_mut<'a, T: Float>(
        &self,
        y: &'a mut [T],
        n: usize,
        read: Read,
    ) -> DMatrixViewMut<'a, T> {
        match read {
            Read::AsIs => view::cols_mut(y, self.units, n),
            Read::Transposed => view::cols_mut(y, n, self.units),
        }
    }

    /// [`Dense::forward`] with y laid out as `y_read` says ([`Dense::output_view`]).
    fn forward_laid_out<T: Float>(
        &self,
        params: &[T],
        x: &[T],
        y: &mut [T],
        n: usize,
        y_read: Read,
    ) {
        let x = view::cols(x, self.inputs, n);
        let start = match self.b(params) {
            Some(b) => Start::RowBias(b),
            None => Start::Zero,
        };
        let mut y = self.output_view_mut(y, n, y_read);
        linalg::w_x(self.w(params), x, &mut y, y_read, start);
    }

    /// [`Dense::backward`] with dy laid out as `dy_read` says ([`Dense::output_view`]).
    #[allow(clippy::too_many_arguments)]
    fn backward_laid_out<T: Float>(
        &self,
        params: &[T],
        grads: &mut [T],
        x: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        n: usize,
        dy_read: Read,
    ) {
        let (x, dyv) = (
            view::cols(x, self.inputs, n),
            self.output_view(dy, n, dy_read),
        );
        let mut dx = dx.map(|dx| view::cols_mut(dx, self.inputs, n));
        {
            let ((rows, cols), read) = self.stored();
            let mut dw = view::cols_mut(&mut grads[self.weight..], rows, cols);
            let dw = Weight {
                view: &mut dw,
                read,
            };
            linalg::dense_backward(dyv, dy_read, x, self.w(params), dw, dx.as_mut());
        }
        if let Some(off) = self.bias {
            let db = &mut grads[off..off + self.units];
            match dy_read {
                Read::AsIs => self.bias_grad(dyv, db),
                // Each unit's row in column order.
                Read::Transposed => {
                    for (g, row) in db
                        .iter_mut()
                        .zip(dy[..self.units * n].chunks_exact(n.max(1)))
                    {
                        *g = row.iter().fold(T::zero(), |s, &d| s + d);
                    }
                }
            }
        }
    }

    /// db (`[units]`) ← Σ over the columns of dy (`units × n`).
    fn bias_grad<T: Float>(&self, dy: DMatrixView<'_, T>, db: &mut [T]) {
        let Some(dys) = view::slice(dy) else {
            // A view that is not packed (the layer makes none): column by column.
            for (g, row) in db.iter_mut().zip(dy.row_iter()) {
                *g = row.iter().fold(T::zero(), |s, &d| s + d);
            }
            return;
        };
        let (units, n) = (self.units, dy.ncols());
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
        linalg::run_parts(parts, |_, (first, db)| {
            linalg::sum_columns(dys, db, units, first, n)
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::simd::{force, Level};

    /// The bias gradient of a few units (summed in one vector) has the bits of
    /// the plain sum over the columns in order, for every piece start, at
    /// every SIMD level, on values whose sums round.
    #[test]
    fn small_bias_sums_keep_the_bits() {
        for (units, n) in [(1, 5), (2, 32), (5, 32), (8, 16), (7, 3), (9, 4), (3, 0)] {
            let dy: Vec<f32> = (0..units * n)
                .map(|i| ((i * 7919) % 997) as f32 / 997.0 - 0.5 + 1e-3 * (i % 7) as f32)
                .collect();
            for first in 0..units {
                let mut want = vec![0.0f32; units - first];
                for col in dy.chunks_exact(units) {
                    for (g, &d) in want.iter_mut().zip(&col[first..]) {
                        *g += d;
                    }
                }
                for level in [Level::Baseline, Level::V3, Level::V4] {
                    force(Some(level));
                    let mut db = vec![9.0f32; units - first];
                    linalg::sum_columns(&dy, &mut db, units, first, n);
                    force(None);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&db), bits(&want), "{units}×{n} from {first} {level:?}");
                }
            }
        }
    }
}
