//! Element-wise activations and softmax, forward and backward side by side.
//!
//! Shapes: x, y, dy, dx are all `width × n` (column-major batch). Backward gets both
//! the input x and the output y and uses whichever gives the cheaper exact formula.
//! Derivatives at kinks are PyTorch's: relu′(0) = 0, leaky_relu′(0) = slope,
//! elu′(x) = alpha·eˣ for x ≤ 0.
//!
//! The layer sees its batches as nalgebra views over the network's flat buffers
//! ([`crate::train::view`], no copies); the element-wise passes run over the
//! views' values (whole columns, in pieces of columns on the team's threads for
//! a large batch), compiled per SIMD level.

use nalgebra::{DMatrixView, DMatrixViewMut};

use crate::train::float::Float;
use crate::train::layers::gelu;
use crate::train::linalg;
use crate::train::simd::multiversion;
use crate::train::view;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Relu,
    LeakyRelu {
        slope: f64,
    },
    Elu {
        alpha: f64,
    },
    Gelu,
    Sigmoid,
    Tanh,
    /// Softmax over each column (`nn.Softmax(dim=1)` on row-major batches).
    Softmax,
}

impl Activation {
    /// y ← f(x) for a batch of `width × n`.
    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T], width: usize, n: usize) {
        self.forward_views(view::cols(x, width, n), &mut view::cols_mut(y, width, n));
    }

    /// y ← f(x), x and y `width × n` (in pieces of columns on the team's threads
    /// when the batch is large; every value is the same either way).
    pub fn forward_views<T: Float>(&self, x: DMatrixView<'_, T>, y: &mut DMatrixViewMut<'_, T>) {
        let (width, n) = x.shape();
        let (Some(x), Some(y)) = (view::slice(x), view::slice_mut(y)) else {
            return; // views that are not packed: the network makes none
        };
        linalg::split_columns_costly(self.cost(), x, width, y, width, n, |_, x, y| {
            forward_columns(*self, x, y, width, x.len() / width.max(1))
        });
    }

    /// dx ← dy · f′ given the forward input x and output y, all `width × n`.
    pub fn backward<T: Float>(
        &self,
        x: &[T],
        y: &[T],
        dy: &[T],
        dx: &mut [T],
        width: usize,
        n: usize,
    ) {
        let (x, y, dy) = (
            view::cols(x, width, n),
            view::cols(y, width, n),
            view::cols(dy, width, n),
        );
        self.backward_views(x, y, dy, &mut view::cols_mut(dx, width, n));
    }

    /// dx ← dy · f′ given the forward input x and output y, all `width × n` (in
    /// pieces of columns on the team's threads when the batch is large).
    pub fn backward_views<T: Float>(
        &self,
        x: DMatrixView<'_, T>,
        y: DMatrixView<'_, T>,
        dy: DMatrixView<'_, T>,
        dx: &mut DMatrixViewMut<'_, T>,
    ) {
        let (width, n) = dy.shape();
        let values = (view::slice(x), view::slice(y), view::slice(dy));
        let ((Some(x), Some(y), Some(dy)), Some(dx)) = (values, view::slice_mut(dx)) else {
            return; // views that are not packed: the network makes none
        };
        linalg::split_columns_costly(self.cost(), dy, width, dx, width, n, |first, dy, dx| {
            let r = first * width..first * width + dy.len();
            backward_columns(
                *self,
                &x[r.clone()],
                &y[r],
                dy,
                dx,
                width,
                dy.len() / width.max(1),
            )
        });
    }

    /// What a value costs next to a relu, for how finely a batch is cut into
    /// pieces (`linalg::split_columns_costly`): an exponential or erf is ~8×.
    pub(super) fn cost(&self) -> usize {
        match self {
            Activation::Relu | Activation::LeakyRelu { .. } => 1,
            _ => 8,
        }
    }

    /// Whether this is a relu (for the dead-unit detector).
    pub fn is_relu(&self) -> bool {
        matches!(self, Activation::Relu)
    }
}

multiversion! {
    /// y ← f(x) for whole columns (AVX-512, AVX2 or baseline: the same bits).
    fn forward_columns<T: Float>(act: Activation, x: &[T], y: &mut [T], width: usize, n: usize) {
        let len = width * n;
        let (x, y) = (&x[..len], &mut y[..len]);
        match act {
            Activation::Relu => {
                for (o, &v) in y.iter_mut().zip(x) {
                    *o = if v > T::zero() { v } else { T::zero() };
                }
            }
            Activation::LeakyRelu { slope } => {
                let s = T::of(slope);
                for (o, &v) in y.iter_mut().zip(x) {
                    let vs = v * s;
                    *o = if v > T::zero() { v } else { vs };
                }
            }
            Activation::Elu { alpha } => {
                let a = T::of(alpha);
                for (o, &v) in y.iter_mut().zip(x) {
                    *o = if v > T::zero() {
                        v
                    } else {
                        a * (v.exp_libm() - T::one())
                    };
                }
            }
            // In the run's precision (f32: erff, 16 lanes to a vector).
            Activation::Gelu => gelu::forward_values(x, y),
            Activation::Sigmoid => {
                for (o, &v) in y.iter_mut().zip(x) {
                    *o = sigmoid(v);
                }
            }
            Activation::Tanh => {
                for (o, &v) in y.iter_mut().zip(x) {
                    *o = v.tanh_libm();
                }
            }
            Activation::Softmax => {
                for (xc, yc) in x.chunks_exact(width).zip(y.chunks_exact_mut(width)) {
                    softmax_column(xc, yc);
                }
            }
        }
    }
}

multiversion! {
    /// dx ← dy · f′ for whole columns (AVX-512, AVX2 or baseline: the same bits).
    fn backward_columns<T: Float>(
        act: Activation,
        x: &[T],
        y: &[T],
        dy: &[T],
        dx: &mut [T],
        width: usize,
        n: usize,
    ) {
        let len = width * n;
        let (x, y, dy, dx) = (&x[..len], &y[..len], &dy[..len], &mut dx[..len]);
        // Zipped iterators with both arms computed: the loops compile to blends.
        macro_rules! xs {
            () => {
                x.iter().zip(dy).zip(dx.iter_mut())
            };
        }
        macro_rules! ys {
            () => {
                y.iter().zip(dy).zip(dx.iter_mut())
            };
        }
        match act {
            Activation::Relu => {
                for ((&v, &d), o) in xs!() {
                    *o = if v > T::zero() { d } else { T::zero() };
                }
            }
            Activation::LeakyRelu { slope } => {
                let s = T::of(slope);
                for ((&v, &d), o) in xs!() {
                    let ds = d * s;
                    *o = if v > T::zero() { d } else { ds };
                }
            }
            Activation::Elu { alpha } => {
                let a = T::of(alpha);
                for ((&v, &d), o) in xs!() {
                    *o = if v > T::zero() {
                        d
                    } else {
                        d * a * v.exp_libm()
                    };
                }
            }
            Activation::Gelu => gelu::backward_values(x, dy, dx),
            Activation::Sigmoid => {
                for ((&v, &d), o) in ys!() {
                    *o = d * v * (T::one() - v);
                }
            }
            Activation::Tanh => {
                for ((&v, &d), o) in ys!() {
                    *o = d * (T::one() - v * v);
                }
            }
            Activation::Softmax => {
                for ((yc, dyc), dxc) in y
                    .chunks_exact(width)
                    .zip(dy.chunks_exact(width))
                    .zip(dx.chunks_exact_mut(width))
                {
                    let mut dot = T::zero();
                    for (&a, &b) in yc.iter().zip(dyc) {
                        dot += a * b;
                    }
                    for ((o, &a), &b) in dxc.iter_mut().zip(yc).zip(dyc) {
                        *o = a * (b - dot);
                    }
                }
            }
        }
    }
}

/// Logistic function without overflow for large |x|: 1/(1 + e⁻ˣ) for x ≥ 0,
/// eˣ/(1 + eˣ) below, both from the one e^(−|x|) (both arms computed, so a
/// loop over a slice vectorises).
#[inline(always)]
pub fn sigmoid<T: Float>(v: T) -> T {
    let e = (-v.abs()).exp_libm();
    let (pos, neg) = (T::one() / (T::one() + e), e / (T::one() + e));
    if v >= T::zero() {
        pos
    } else {
        neg
    }
}

/// Numerically stable softmax of one column.
#[inline(always)]
fn softmax_column<T: Float>(x: &[T], y: &mut [T]) {
    let mut m = x[0];
    for &v in &x[1..] {
        if v > m {
            m = v;
        }
    }
    let mut s = T::zero();
    for (o, &v) in y.iter_mut().zip(x) {
        *o = (v - m).exp_libm();
        s += *o;
    }
    for o in y.iter_mut() {
        *o /= s;
    }
}

impl<T: Float> super::Layer<T> for Activation {
    #[inline]
    fn forward(
        &mut self,
        _: &[T],
        x: &[T],
        y: &mut [T],
        shape: super::Shape,
        _: &mut super::Mode<'_>,
    ) {
        Activation::forward(self, x, y, shape.out_width, shape.n);
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
            Activation::backward(self, x, y, dy, dx, shape.out_width, shape.n);
        }
    }
}

// ---------------------------------------------------------------- the concept

/// The activations as the rest of nnt sees them (explain, the exporters).
impl super::Concept for Activation {
    fn text(&self, num: fn(f64) -> String) -> String {
        match *self {
            Activation::Relu => "relu".into(),
            Activation::Sigmoid => "sigmoid".into(),
            Activation::Tanh => "tanh".into(),
            Activation::Gelu => "gelu".into(),
            Activation::Softmax => "softmax".into(),
            Activation::LeakyRelu { slope } => format!("leaky_relu({})", num(slope)),
            Activation::Elu { alpha } => format!("elu({})", num(alpha)),
        }
    }

    fn torch(&self, _in_width: usize) -> String {
        use crate::report::number::python;
        match *self {
            Activation::Relu => "nn.ReLU()".into(),
            Activation::Sigmoid => "nn.Sigmoid()".into(),
            Activation::Tanh => "nn.Tanh()".into(),
            Activation::Gelu => "nn.GELU()".into(),
            Activation::Softmax => "nn.Softmax(dim=1)".into(),
            Activation::LeakyRelu { slope } => format!("nn.LeakyReLU({})", python(slope)),
            Activation::Elu { alpha } => format!("nn.ELU(alpha={})", python(alpha)),
        }
    }

    fn onnx(
        &self,
        g: &mut dyn super::Graph,
        k: usize,
        _in_width: usize,
        _out_width: usize,
        x: String,
    ) -> Result<String, super::MissingTensor> {
        use super::Attr;
        Ok(match *self {
            Activation::Relu => g.node("Relu", &[&x], &[]),
            Activation::Sigmoid => g.node("Sigmoid", &[&x], &[]),
            Activation::Tanh => g.node("Tanh", &[&x], &[]),
            Activation::Softmax => g.node("Softmax", &[&x], &[Attr::Int("axis", 1)]),
            Activation::LeakyRelu { slope } => {
                g.node("LeakyRelu", &[&x], &[Attr::Float("alpha", slope)])
            }
            Activation::Elu { alpha } => g.node("Elu", &[&x], &[Attr::Float("alpha", alpha)]),
            Activation::Gelu => {
                // Exact GELU (erf), as nn.GELU(): 0.5 · x · (1 + erf(x / √2)).
                let sqrt2 = g.constant(format!("{k}.sqrt2"), &[], vec![std::f32::consts::SQRT_2]);
                let one = g.constant(format!("{k}.one"), &[], vec![1.0]);
                let half = g.constant(format!("{k}.half"), &[], vec![0.5]);
                let d = g.node("Div", &[&x, &sqrt2], &[]);
                let e = g.node("Erf", &[&d], &[]);
                let a = g.node("Add", &[&e, &one], &[]);
                let m1 = g.node("Mul", &[&x, &a], &[]);
                g.node("Mul", &[&m1, &half], &[])
            }
        })
    }
}
