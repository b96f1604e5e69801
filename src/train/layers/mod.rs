//! The layers of §5, one file each, forward and backward side by side.
//!
//! The seam is the [`Layer`] trait: a layer computes its forward pass and its
//! backward pass over the network's flat buffers (its trainable parameters live
//! in the flat parameter vector at the offsets it holds) and may keep running
//! statistics. Inside, every layer sees its weights, inputs, outputs and
//! gradients as nalgebra matrix views over those buffers (a batch of width `w`
//! is a column-major `w × n` view; a dense weight, row-major as PyTorch stores
//! it, is its transpose's column-major view), made by [`crate::train::view`]
//! without copies; products go from those views to faer's kernels through
//! [`crate::train::linalg`], element-wise passes run over the views' values. Each layer file implements it; [`Node`] is the enum the network
//! stores (static dispatch, no vtable in the step) and implements it by handing
//! each call to its variant. What the rest of nnt knows of a layer besides its
//! engine (how `explain` and `explain MODEL` show it, its PyTorch module, its ONNX
//! nodes) is the [`Concept`] trait, implemented in the same file. Adding a
//! layer: its declaration in `check::catalog`, its `ir::LayerKind` variant, its
//! file here with `impl Layer` and `impl Concept`, and its arms in this file
//! ([`Node`], `each_node!`, [`node`], [`concept`]).

pub mod activation;
pub mod batch_norm;
pub mod dense;
pub mod dropout;
pub mod gelu;
pub mod layer_norm;

use rand_chacha::ChaCha8Rng;

use crate::ir::LayerKind;
use crate::train::float::Float;
use crate::train::network::ParamLayout;
use activation::Activation;
use batch_norm::BatchNorm;
use dense::Dense;
use dropout::Dropout;
use gelu::Gelu;
use layer_norm::LayerNorm;

/// The sizes of one pass through a layer: `in_width × n` in, `out_width × n`
/// out, column-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub in_width: usize,
    pub out_width: usize,
    pub n: usize,
}

/// Training (dropout draws from the generator, batch norm uses and updates the
/// batch statistics) or evaluation.
pub enum Mode<'r> {
    Train(&'r mut ChaCha8Rng),
    Eval,
}

impl Mode<'_> {
    pub fn is_train(&self) -> bool {
        matches!(self, Mode::Train(_))
    }
}

/// One layer of the engine.
pub trait Layer<T: Float> {
    /// y (`out_width × n`) from x (`in_width × n`), keeping what backward needs.
    fn forward(&mut self, params: &[T], x: &[T], y: &mut [T], shape: Shape, mode: &mut Mode<'_>);

    /// After a training forward pass, given x, y and dy: writes the gradients of
    /// the layer's parameters into `grads` (overwriting) and dx (`in_width × n`)
    /// when asked for (the first layer's is not).
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &mut self,
        params: &[T],
        grads: &mut [T],
        x: &[T],
        y: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        shape: Shape,
    );

    /// Running statistics (buffers that are state, not trainable parameters) by
    /// tensor-name suffix, in `state_dict` order: batch norm's `running_mean`,
    /// `running_var`.
    fn running_stats(&self) -> Vec<(&'static str, &[T])> {
        Vec::new()
    }

    /// [`Layer::running_stats`], to overwrite (resume, the best epoch).
    fn running_stats_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        Vec::new()
    }
}

/// One layer of the network with its own (non-trainable) state; trainable
/// parameters live in the network's flat vector at the offsets the layer holds.
#[derive(Debug, Clone)]
pub enum Node<T> {
    Dense(Dense),
    Activation(Activation),
    Dropout(Dropout<T>),
    Gelu(Gelu<T>),
    BatchNorm(BatchNorm<T>),
    LayerNorm(LayerNorm<T>),
}

/// `$body` with `$l` bound to the layer inside `$node`, whatever its variant.
macro_rules! each_node {
    ($node:expr, $l:ident => $body:expr) => {
        match $node {
            Node::Dense($l) => $body,
            Node::Activation($l) => $body,
            Node::Dropout($l) => $body,
            Node::Gelu($l) => $body,
            Node::BatchNorm($l) => $body,
            Node::LayerNorm($l) => $body,
        }
    };
}

impl<T: Float> Layer<T> for Node<T> {
    #[inline]
    fn forward(&mut self, params: &[T], x: &[T], y: &mut [T], shape: Shape, mode: &mut Mode<'_>) {
        each_node!(self, l => Layer::forward(l, params, x, y, shape, mode))
    }

    #[inline]
    fn backward(
        &mut self,
        params: &[T],
        grads: &mut [T],
        x: &[T],
        y: &[T],
        dy: &[T],
        dx: Option<&mut [T]>,
        shape: Shape,
    ) {
        each_node!(self, l => Layer::backward(l, params, grads, x, y, dy, dx, shape))
    }

    fn running_stats(&self) -> Vec<(&'static str, &[T])> {
        each_node!(self, l => Layer::running_stats(l))
    }

    fn running_stats_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        each_node!(self, l => Layer::running_stats_mut(l))
    }
}

/// The engine's node for a layer of kind `kind` taking `in_width` features, its
/// parameter tensors declared in `layout`, its buffers for `capacity` rows.
pub fn node<T: Float>(
    kind: &LayerKind,
    in_width: usize,
    capacity: usize,
    layout: &mut ParamLayout,
) -> Node<T> {
    match *kind {
        LayerKind::Dense { units, bias, .. } => {
            Node::Dense(Dense::build(in_width, units, bias, layout))
        }
        LayerKind::BatchNorm { momentum, eps } => {
            Node::BatchNorm(BatchNorm::build(in_width, momentum, eps, capacity, layout))
        }
        LayerKind::LayerNorm { eps } => {
            Node::LayerNorm(LayerNorm::build(in_width, eps, capacity, layout))
        }
        LayerKind::Dropout { p } => Node::Dropout(Dropout::new(p, in_width, capacity)),
        LayerKind::Relu => Node::Activation(Activation::Relu),
        LayerKind::Sigmoid => Node::Activation(Activation::Sigmoid),
        LayerKind::Tanh => Node::Activation(Activation::Tanh),
        LayerKind::Gelu => Node::Gelu(Gelu::new(in_width, capacity)),
        LayerKind::Softmax => Node::Activation(Activation::Softmax),
        LayerKind::LeakyRelu { slope } => Node::Activation(Activation::LeakyRelu { slope }),
        LayerKind::Elu { alpha } => Node::Activation(Activation::Elu { alpha }),
    }
}

/// What the rest of nnt knows of a layer besides its engine, one implementation
/// per layer, in its file: the exporters, `explain` and `explain MODEL` read it
/// through [`concept`] instead of matching on every kind.
pub trait Concept {
    /// The layer as `explain` writes it, numbers written by `num`
    /// (`layer_norm(1e-05)`, `dense(16, bias = false)`).
    fn text(&self, num: fn(f64) -> String) -> String;

    /// The layer as `nnt explain MODEL` writes it (a model file's layer).
    fn model_text(&self) -> String {
        self.text(|x| x.to_string())
    }

    /// The PyTorch module of §17's `train.py` for `in_width` features; what
    /// follows `  # ` is the line's comment.
    fn torch(&self, in_width: usize) -> String;

    /// The ONNX nodes that compute the layer at `nn.Sequential` index `index`
    /// (widths `in_width` → `out_width`) from the value `x`; the name of the
    /// output value.
    fn onnx(
        &self,
        g: &mut dyn Graph,
        index: usize,
        in_width: usize,
        out_width: usize,
        x: String,
    ) -> Result<String, MissingTensor>;
}

/// The [`Concept`] of a layer of kind `kind`.
pub fn concept(kind: &LayerKind) -> Box<dyn Concept> {
    match *kind {
        LayerKind::Dense { units, bias, init } => Box::new(dense::Spec { units, bias, init }),
        LayerKind::BatchNorm { momentum, eps } => Box::new(batch_norm::Spec { momentum, eps }),
        LayerKind::LayerNorm { eps } => Box::new(layer_norm::Spec { eps }),
        LayerKind::Dropout { p } => Box::new(dropout::Spec { p }),
        LayerKind::Relu => Box::new(Activation::Relu),
        LayerKind::Sigmoid => Box::new(Activation::Sigmoid),
        LayerKind::Tanh => Box::new(Activation::Tanh),
        LayerKind::Gelu => Box::new(Activation::Gelu),
        LayerKind::Softmax => Box::new(Activation::Softmax),
        LayerKind::LeakyRelu { slope } => Box::new(Activation::LeakyRelu { slope }),
        LayerKind::Elu { alpha } => Box::new(Activation::Elu { alpha }),
    }
}

/// An ONNX node attribute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attr {
    Float(&'static str, f64),
    Int(&'static str, i64),
}

/// A tensor of the model file that could not be read (the graph keeps the error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingTensor;

/// The ONNX graph a layer's nodes are added to (`cli::export_onnx` implements it).
pub trait Graph {
    /// A node `op` over `inputs`; the name of its output value.
    fn node(&mut self, op: &str, inputs: &[&str], attrs: &[Attr]) -> String;
    /// A float32 constant `name` of `shape`; its name.
    fn constant(&mut self, name: String, shape: &[usize], values: Vec<f32>) -> String;
    /// The model's tensor `name` of `shape`, as a constant; its name.
    fn tensor(&mut self, name: String, shape: &[usize]) -> Result<String, MissingTensor>;
}

/// Test help for the normalisation layers' files: `pass(w, n, params, x, dy)`
/// (a forward and backward pass of width `w` over `n` columns, γ and β at
/// offsets 0 and `w`) returns the same bits at every SIMD level and on each
/// team size of `threads`, on widths that are not whole vectors and values
/// whose sums round.
#[cfg(test)]
pub(crate) fn assert_same_bits_at_every_level(
    shapes: &[(usize, usize)],
    threads: &[usize],
    pass: impl Fn(usize, usize, &[f32], &[f32], &[f32]) -> Vec<f32> + Sync,
) {
    use crate::train::simd::{force, Level};
    let val = |i: usize, a: usize, p: usize| {
        (((i * a) % p) as f32 / p as f32 - 0.5) * 3.7 + 1e-3 * (i % 7) as f32
    };
    for &(w, n) in shapes {
        let params: Vec<f32> = (0..2 * w).map(|i| val(i, 31, 101) + 1.0).collect();
        let x: Vec<f32> = (0..w * n).map(|i| val(i, 7919, 997)).collect();
        let dy: Vec<f32> = (0..w * n).map(|i| val(i, 104_729, 1009)).collect();
        let run = |level: Level, threads: usize| {
            force(Some(level));
            let out = crate::train::linalg::pool(threads, || pass(w, n, &params, &x, &dy));
            force(None);
            out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        let want = run(Level::Baseline, 1);
        for level in [Level::V3, Level::V4] {
            for &t in threads {
                assert!(run(level, t) == want, "{w}×{n} {level:?} {t} threads");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{generator, Stream};

    fn shape(width: usize, n: usize) -> Shape {
        Shape {
            in_width: width,
            out_width: width,
            n,
        }
    }

    /// Through the trait, dropout is the identity in evaluation and draws a
    /// mask (0 or 1/(1−p)) in training; backward multiplies by that mask.
    #[test]
    fn dropout_through_the_trait() {
        let (width, n) = (4, 8);
        let x: Vec<f64> = (0..width * n).map(|i| i as f64 + 1.0).collect();
        let mut node = Node::Dropout(Dropout::<f64>::new(0.5, width, n));
        let mut y = vec![0.0; width * n];
        node.forward(&[], &x, &mut y, shape(width, n), &mut Mode::Eval);
        assert_eq!(y, x);
        let mut rng = generator(3, Stream::Dropout);
        node.forward(&[], &x, &mut y, shape(width, n), &mut Mode::Train(&mut rng));
        assert!(y.iter().zip(&x).all(|(&o, &v)| o == 0.0 || o == 2.0 * v));
        assert!(y.contains(&0.0) && y.iter().any(|&o| o != 0.0));
        let dy = vec![1.0; width * n];
        let mut dx = vec![0.0; width * n];
        node.backward(&[], &mut [], &x, &y, &dy, Some(&mut dx), shape(width, n));
        for ((&d, &o), &v) in dx.iter().zip(&y).zip(&x) {
            assert_eq!(d, o / v);
        }
    }

    /// Running statistics are batch norm's alone, in `state_dict` order.
    #[test]
    fn running_statistics_are_named() {
        let mut bn = Node::BatchNorm(BatchNorm::<f32>::new(3, 0.1, 1e-5, 0, 3, 4));
        let names: Vec<_> = bn.running_stats().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["running_mean", "running_var"]);
        assert_eq!(bn.running_stats_mut().len(), 2);
        for mut node in [
            Node::<f32>::Activation(Activation::Relu),
            Node::Dropout(Dropout::new(0.1, 3, 4)),
            Node::Gelu(Gelu::new(3, 4)),
            Node::LayerNorm(LayerNorm::new(3, 1e-5, 0, 3, 4)),
            Node::Dense(Dense {
                inputs: 3,
                units: 2,
                weight: 0,
                bias: None,
                by_input: false,
            }),
        ] {
            assert!(node.running_stats().is_empty());
            assert!(node.running_stats_mut().is_empty());
        }
    }
}
