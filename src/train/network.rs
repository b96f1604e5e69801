//! The model as the trainer runs it: layers, the flat parameter and gradient
//! vectors, and every activation buffer, all allocated once.
//!
//! Buffers: `acts[i]` is the input of layer i (`acts[0]` the batch, `acts[L]` the
//! output), `width_i × capacity`, column-major; a batch of n rows uses the first
//! `width_i · n` elements. `dacts[i]` is ∂loss/∂acts[i] (`dacts[0]` is never needed
//! and stays empty).

use rand_chacha::ChaCha8Rng;

use crate::ir::Model;
use crate::train::float::Float;
use crate::train::layers::{self, Layer, Mode, Node, Shape};

/// What a parameter tensor is to the trainer: the dense weights take the §8
/// penalties, a normalisation's scale starts at 1. (What the tensor belongs to is
/// its layer's business, so a new layer reuses these kinds.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    DenseWeight,
    DenseBias,
    /// A normalisation's scale γ (batch_norm, layer_norm): starts at 1.
    Scale,
    /// A normalisation's shift β: starts at 0.
    Shift,
}

/// One trainable tensor in the flat vector.
#[derive(Debug, Clone)]
pub struct ParamTensor {
    /// `{index}.weight` / `{index}.bias`.
    pub name: String,
    /// Position of the owning layer in `Network::layers`.
    pub layer: usize,
    pub offset: usize,
    pub len: usize,
    pub shape: Vec<usize>,
    pub kind: ParamKind,
}

/// The flat parameter vector as it is laid out, layer by layer: each layer's
/// `build` (in its own file) declares its tensors here and keeps their offsets.
#[derive(Debug, Default)]
pub struct ParamLayout {
    tensors: Vec<ParamTensor>,
    offset: usize,
    layer: usize,
    index: usize,
}

impl ParamLayout {
    /// The tensors that follow belong to the layer at `pos` of the network,
    /// `index` of `nn.Sequential`.
    fn layer(&mut self, pos: usize, index: usize) -> &mut Self {
        self.layer = pos;
        self.index = index;
        self
    }

    /// Declares the current layer's tensor `{index}.{suffix}` of `shape` and
    /// returns its offset in the flat vector.
    pub fn tensor(&mut self, suffix: &str, shape: Vec<usize>, kind: ParamKind) -> usize {
        let len = shape.iter().product();
        let offset = self.offset;
        self.offset += len;
        self.tensors.push(ParamTensor {
            name: format!("{}.{suffix}", self.index),
            layer: self.layer,
            offset,
            len,
            shape,
            kind,
        });
        offset
    }
}

/// A layer with its place in the recipe.
#[derive(Debug, Clone)]
pub struct Slot<T> {
    /// `nn.Sequential` index.
    pub index: usize,
    /// 1-based recipe line.
    pub line: usize,
    pub name: &'static str,
    pub in_width: usize,
    pub out_width: usize,
    pub node: Node<T>,
}

#[derive(Debug, Clone)]
pub struct Network<T> {
    pub layers: Vec<Slot<T>>,
    pub params: Vec<T>,
    pub grads: Vec<T>,
    pub tensors: Vec<ParamTensor>,
    pub input_width: usize,
    pub output_width: usize,
    /// Columns (rows of data) every buffer holds.
    pub capacity: usize,
    acts: Vec<Vec<T>>,
    dacts: Vec<Vec<T>>,
}

impl<T: Float> Network<T> {
    /// Lays out the parameters (zero) and allocates every buffer for batches of up to
    /// `capacity` rows.
    pub fn new(model: &Model, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let mut layout = ParamLayout::default();
        let mut layers = Vec::new();
        for (pos, l) in model.layers.iter().enumerate() {
            let node = layers::node(&l.kind, l.in_width, capacity, layout.layer(pos, l.index));
            layers.push(Slot {
                index: l.index,
                line: l.line,
                name: l.kind.name(),
                in_width: l.in_width,
                out_width: l.out_width,
                node,
            });
        }
        let ParamLayout {
            tensors, offset, ..
        } = layout;
        let mut params = vec![T::zero(); offset];
        // Batch norm and layer norm start at weight 1, bias 0.
        for t in &tensors {
            if t.kind == ParamKind::Scale {
                params[t.offset..t.offset + t.len].fill(T::one());
            }
        }
        let mut acts = vec![vec![T::zero(); model.input_width * capacity]];
        // dacts[0] is only read when there are no layers (the output is the input).
        let mut dacts = vec![if layers.is_empty() {
            vec![T::zero(); model.input_width * capacity]
        } else {
            Vec::new()
        }];
        for l in &layers {
            acts.push(vec![T::zero(); l.out_width * capacity]);
            dacts.push(vec![T::zero(); l.out_width * capacity]);
        }
        Network {
            layers,
            grads: vec![T::zero(); params.len()],
            params,
            tensors,
            input_width: model.input_width,
            output_width: model.output_width(),
            capacity,
            acts,
            dacts,
        }
    }

    /// The input buffer for a batch of n rows (`input_width × n`), to fill.
    pub fn input_mut(&mut self, n: usize) -> &mut [T] {
        &mut self.acts[0][..self.input_width * n]
    }

    /// The output of the last forward pass (`output_width × n`).
    pub fn output(&self, n: usize) -> &[T] {
        let last = self.acts.len() - 1;
        &self.acts[last][..self.output_width * n]
    }

    /// The output and the buffer for ∂loss/∂output, to fill from the loss.
    pub fn output_and_grad(&mut self, n: usize) -> (&[T], &mut [T]) {
        let last = self.acts.len() - 1;
        let k = self.output_width * n;
        (&self.acts[last][..k], &mut self.dacts[last][..k])
    }

    /// The activation after layer `pos` (`out_width × n`).
    pub fn layer_output(&self, pos: usize, n: usize) -> &[T] {
        &self.acts[pos + 1][..self.layers[pos].out_width * n]
    }

    /// Forward pass over the n rows in the input buffer. `dropout_rng` is drawn from
    /// only in training.
    pub fn forward(&mut self, n: usize, train: bool, dropout_rng: &mut ChaCha8Rng) {
        self.forward_from(None, n, train, dropout_rng);
    }

    /// [`Network::forward`] reading the first layer's input from `input` (`input_width
    /// × n`, column-major, as the input buffer holds it) when given: rows that lie
    /// one after another in the data need no copy. The same `input` must be given
    /// to [`Network::backward_from`]. Without layers the output is the input
    /// buffer, so `input` must be `None` then (it is ignored).
    pub fn forward_from(
        &mut self,
        input: Option<&[T]>,
        n: usize,
        train: bool,
        dropout_rng: &mut ChaCha8Rng,
    ) {
        let mut mode = if train {
            Mode::Train(dropout_rng)
        } else {
            Mode::Eval
        };
        for (i, slot) in self.layers.iter_mut().enumerate() {
            let (before, after) = self.acts.split_at_mut(i + 1);
            let x = match input {
                Some(input) if i == 0 => &input[..slot.in_width * n],
                _ => &before[i][..slot.in_width * n],
            };
            let y = &mut after[0][..slot.out_width * n];
            let shape = Shape {
                in_width: slot.in_width,
                out_width: slot.out_width,
                n,
            };
            slot.node.forward(&self.params, x, y, shape, &mut mode);
        }
    }

    /// Backward pass after a training forward pass, from ∂loss/∂output (already in
    /// place) down to the first layer; overwrites every gradient in `grads`.
    pub fn backward(&mut self, n: usize) {
        self.backward_from(None, n);
    }

    /// [`Network::backward`] after [`Network::forward_from`] with the same `input`.
    pub fn backward_from(&mut self, input: Option<&[T]>, n: usize) {
        for i in (0..self.layers.len()).rev() {
            let slot = &mut self.layers[i];
            let (dbefore, dafter) = self.dacts.split_at_mut(i + 1);
            let dy = &dafter[0][..slot.out_width * n];
            let dx = if i == 0 {
                None
            } else {
                Some(&mut dbefore[i][..slot.in_width * n])
            };
            let x = match input {
                Some(input) if i == 0 => &input[..slot.in_width * n],
                _ => &self.acts[i][..slot.in_width * n],
            };
            let y = &self.acts[i + 1][..slot.out_width * n];
            let shape = Shape {
                in_width: slot.in_width,
                out_width: slot.out_width,
                n,
            };
            slot.node
                .backward(&self.params, &mut self.grads, x, y, dy, dx, shape);
        }
    }

    /// Position of the first layer whose output (of the last forward pass) holds a
    /// value that is not finite.
    pub fn first_nonfinite_output(&self, n: usize) -> Option<usize> {
        (0..self.layers.len()).find(|&p| self.layer_output(p, n).iter().any(|v| !v.is_finite()))
    }

    /// Trainable parameter count.
    pub fn parameter_count(&self) -> usize {
        self.params.len()
    }

    /// The layers' running statistics by tensor name (`{index}.running_mean`, …).
    pub fn running_stats(&self) -> Vec<(String, &[T])> {
        let mut out = Vec::new();
        for s in &self.layers {
            for (name, v) in s.node.running_stats() {
                out.push((format!("{}.{name}", s.index), v));
            }
        }
        out
    }

    /// Mutable running statistics by tensor name.
    pub fn running_stats_mut(&mut self) -> Vec<(String, &mut Vec<T>)> {
        let mut out = Vec::new();
        for s in &mut self.layers {
            let index = s.index;
            for (name, v) in s.node.running_stats_mut() {
                out.push((format!("{index}.{name}"), v));
            }
        }
        out
    }
}
