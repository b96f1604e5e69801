//! Element-wise activations and softmax, forward and backward side by side.
//!
//! Shapes: x, y, dy, dx are all `width × n` (column-major batch). Backward gets both
//! the input x and the output y and uses whichever gives the cheaper exact formula.
//! Derivatives at kinks are PyTorch's: relu′(0) = 0, leaky_relu′(0) = slope,
//! elu′(x) = alpha·eˣ for x ≤ 0.

use crate::train::float::Float;
use crate::train::linalg;
use crate::train::simd::multiversion;

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

const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// 1/√(2π)
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl Activation {
    /// y ← f(x) for a batch of `width × n` (two halves of columns on two threads
    /// when the batch is large; every value is the same either way).
    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T], width: usize, n: usize) {
        linalg::split_columns_costly(self.cost(), x, width, y, width, n, |_, x, y| {
            forward_columns(*self, x, y, width, x.len() / width.max(1))
        });
    }

    /// dx ← dy · f′ given the forward input x and output y (two halves of columns
    /// on two threads when the batch is large).
    pub fn backward<T: Float>(
        &self,
        x: &[T],
        y: &[T],
        dy: &[T],
        dx: &mut [T],
        width: usize,
        n: usize,
    ) {
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
    fn cost(&self) -> usize {
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
            Activation::Gelu => {
                // In the run's precision (f32: erff, 16 lanes to a vector).
                let (half, c) = (T::of(0.5), T::of(FRAC_1_SQRT_2));
                for (o, &v) in y.iter_mut().zip(x) {
                    *o = half * v * (T::one() + (v * c).erf_libm());
                }
            }
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
            Activation::Gelu => {
                let (half, c) = (T::of(0.5), T::of(FRAC_1_SQRT_2));
                let (m_half, k) = (T::of(-0.5), T::of(INV_SQRT_2PI));
                for ((&v, &d), o) in xs!() {
                    let cdf = half * (T::one() + (v * c).erf_libm());
                    let pdf = k * (m_half * v * v).exp_libm();
                    *o = d * (cdf + v * pdf);
                }
            }
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
