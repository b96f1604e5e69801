//! The model as the trainer runs it: layers, the flat parameter and gradient
//! vectors, and every activation buffer, all allocated once.
//!
//! Buffers: `acts[i]` is the input of layer i (`acts[0]` the batch, `acts[L]` the
//! output), `width_i × capacity`, column-major; a batch of n rows uses the first
//! `width_i · n` elements. `dacts[i]` is ∂loss/∂`acts[i]` (`dacts[0]` is never needed
//! and stays empty). One exception: a training pass may lay the last layer's
//! output and its gradient out by unit, `output_width × n` row-major
//! ([`Network::lay_output_by_unit`], [`Network::output_is_by_unit`]).
//!
//! Parameters: each tensor in its declared layout (PyTorch's), one after
//! another. One exception: a training run may store the first layer's weight
//! by input ([`Network::lay_first_weight_by_input`]); what reads or writes
//! the parameters (or a vector laid out like them) from outside a step goes
//! through [`Storage::declared`] and [`Storage::from_declared`].

use rand_chacha::ChaCha8Rng;

use crate::ir::{Clip, Loss, Model, Regularize};
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
    /// Whether a training pass lays the output out by unit
    /// ([`Network::lay_output_by_unit`]).
    output_by_unit: bool,
    /// How the parameters are stored ([`Network::lay_first_weight_by_input`]).
    storage: Storage,
    /// The weight stored by input while [`Network::declared_while`] lays it
    /// out as declared (allocated once, by `lay_first_weight_by_input`).
    stored_weight: Vec<T>,
}

/// How a network's parameters are stored: each tensor as declared, but for
/// the weight stored by input, when there is one
/// ([`Network::lay_first_weight_by_input`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Storage {
    /// The weight stored by input: its offset, units and inputs.
    by_input: Option<(usize, usize, usize)>,
}

impl Storage {
    /// `buf` (a vector laid out like the parameters in this storage: the
    /// parameters, a copy of them, an optimizer's buffer) with every tensor
    /// as declared.
    pub fn declared<T: Copy>(self, buf: &[T]) -> std::borrow::Cow<'_, [T]> {
        let Some((offset, units, inputs)) = self.by_input else {
            return std::borrow::Cow::Borrowed(buf);
        };
        let mut out = buf.to_vec();
        let range = offset..offset + units * inputs;
        if let (Some(stored), Some(w)) = (buf.get(range.clone()), out.get_mut(range)) {
            transpose(stored, inputs, units, w);
        }
        std::borrow::Cow::Owned(out)
    }

    /// Puts `buf` (a vector laid out like the parameters, each tensor as
    /// declared) into this storage, in place.
    pub fn from_declared<T: Copy>(self, buf: &mut [T]) {
        if let Some((offset, units, inputs)) = self.by_input {
            if let Some(w) = buf.get_mut(offset..offset + units * inputs) {
                let declared = w.to_vec();
                transpose(&declared, units, inputs, w);
            }
        }
    }
}

/// dst (`cols × rows` row-major) ← the transpose of src (`rows × cols`
/// row-major).
fn transpose<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    for (r, row) in src.chunks_exact(cols.max(1)).take(rows).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            dst[c * rows + r] = v;
        }
    }
}

/// The most rows of a batch whose output a training pass lays out by unit:
/// the depth of the weight gradient's product, up to which faer computes
/// each value as one chain in order whatever the layout of its operands
/// (`small_product::MAX_DEPTH`), so the layout changes no bit.
const BY_UNIT_ROWS: usize = crate::train::small_product::MAX_DEPTH;

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
            output_by_unit: false,
            storage: Storage::default(),
            stored_weight: Vec::new(),
        }
    }

    /// Lays the network out for training with `loss`, `regularize` and
    /// `clip` in batches of up to `batch` rows, once its parameters are set
    /// (the trainer, and `benches/step.rs` as the trainer does): the output
    /// by unit where the loss takes it ([`Network::lay_output_by_unit`]),
    /// the first weight by input where it fits
    /// ([`Network::lay_first_weight_by_input`]) and nothing at every step
    /// depends on the order of its values: the penalties sum over the
    /// weights, max_norm rescales their rows, and norm clipping scales
    /// every gradient by the global norm (whose last bits follow the
    /// storage order).
    pub fn lay_out_for_training(
        &mut self,
        loss: &Loss,
        regularize: &Regularize,
        clip: Option<&Clip>,
        batch: usize,
    ) {
        let width = self.output_width;
        self.lay_output_by_unit(crate::train::losses::takes_output_by_unit(loss, width));
        let order_matters = regularize.has_penalty
            || regularize.l1 != 0.0
            || regularize.l2 != 0.0
            || regularize.max_norm.is_some()
            || matches!(clip, Some(Clip::Norm(_)));
        if !order_matters {
            self.lay_first_weight_by_input(batch);
        }
    }

    /// Lets training passes lay the last layer's output (and its gradient)
    /// out by unit, `output_width × n` row-major, where `by_unit` (the loss
    /// takes it: cross-entropy over classes side by side,
    /// [`crate::train::losses::takes_output_by_unit`]) and the network's
    /// shape keeps every bit: the last layer is dense, f32, at most
    /// [`small_product::MAX_DEPTH`](crate::train::small_product::MAX_DEPTH)
    /// inputs and units wide (faer's products are one chain a value there
    /// whatever the operands' layout). The pass then costs less: the product
    /// writes a batch-long vector a unit, and the loss takes 16 rows a
    /// vector where a row of 10 classes filled a vector badly (digits,
    /// 64-32-10 at batch 16: the output product 0.25 against 0.35 µs, the
    /// loss 0.38 against 0.52 µs, `benches/elementwise.rs`).
    pub fn lay_output_by_unit(&mut self, by_unit: bool) {
        let depth = crate::train::small_product::MAX_DEPTH;
        let fits = self.layers.last().is_some_and(|l| {
            matches!(l.node, Node::Dense(_)) && l.in_width <= depth && l.out_width <= depth
        });
        self.output_by_unit = by_unit && fits && T::DTYPE == safetensors::Dtype::F32;
    }

    /// Stores the first layer's weight by input (column-major: each input's
    /// units side by side, [`Dense::by_input`](crate::train::layers::dense::Dense::by_input))
    /// for training in batches of up to `batch` rows, where that changes no
    /// bit of the products and lets the small-product kernels take them
    /// without a copy: the first layer is dense, f32, a whole number of
    /// vectors of units ([`small_product::LANES`](crate::train::small_product::LANES)), at most
    /// [`small_product::MAX_DEPTH`](crate::train::small_product::MAX_DEPTH)
    /// inputs, and its products at most
    /// [`small_product::SMALL_WORK`](crate::train::small_product::SMALL_WORK)
    /// multiply-adds. The parameters are transposed in place; `true` when
    /// the weight is now stored by input.
    ///
    /// Why: stored as declared, the forward product W·x reads W transposed,
    /// which faer copies into its own layout first (pack) at every step; on
    /// the digits network (64-32-10, batch 16) that copy and faer's set-up
    /// were a quarter of the first layer's forward pass, and the whole run
    /// took 1.07× the steps a second stored by input (BENCHMARKS.md, round
    /// 26). Each product
    /// value is the same chain of multiply-adds either way; what the layout
    /// changes is the order in which the weight's squared gradient (the
    /// logged `grad_norm`) and squared values (the detectors' weight norms)
    /// are summed.
    pub fn lay_first_weight_by_input(&mut self, batch: usize) -> bool {
        use crate::train::small_product::{LANES, MAX_DEPTH, SMALL_WORK};
        if self.storage.by_input.is_some() || T::DTYPE != safetensors::Dtype::F32 {
            return self.storage.by_input.is_some();
        }
        let Some(Node::Dense(d)) = self.layers.first_mut().map(|l| &mut l.node) else {
            return false;
        };
        let fits = d.units % LANES == 0
            && (2..=MAX_DEPTH).contains(&d.inputs)
            && d.units * d.inputs * batch.max(1) <= SMALL_WORK;
        if !fits {
            return false;
        }
        d.by_input = true;
        self.storage.by_input = Some((d.weight, d.units, d.inputs));
        self.stored_weight = vec![T::zero(); d.units * d.inputs];
        self.storage.from_declared(&mut self.params);
        true
    }

    /// Runs `f` with every tensor stored as declared, then puts the storage
    /// back as it was, bit for bit (nothing allocated): `f` reads the
    /// parameters, it must not change them (what it wrote into the weight
    /// would be lost). Evaluation passes and
    /// a training pass over one row run so: over one row faer computes W·x
    /// as a matrix-vector product, whose order of additions follows W's
    /// layout (as declared: the order every other build and `nnt predict`
    /// have).
    pub fn declared_while<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let Some((offset, units, inputs)) = self.storage.by_input else {
            return f(self);
        };
        let range = offset..offset + units * inputs;
        let set = |net: &mut Self, by_input: bool| {
            if let Some(Node::Dense(d)) = net.layers.first_mut().map(|l| &mut l.node) {
                d.by_input = by_input;
            }
            net.storage.by_input = by_input.then_some((offset, units, inputs));
        };
        self.stored_weight
            .copy_from_slice(&self.params[range.clone()]);
        transpose(
            &self.stored_weight,
            inputs,
            units,
            &mut self.params[range.clone()],
        );
        set(self, false);
        let out = f(self);
        set(self, true);
        self.params[range].copy_from_slice(&self.stored_weight);
        out
    }

    /// How the parameters are stored now.
    pub fn storage(&self) -> Storage {
        self.storage
    }

    /// Whether the training pass over a batch of n rows lays the output and its
    /// gradient out by unit (`output_width × n` row-major) instead of by row.
    pub fn output_is_by_unit(&self, n: usize) -> bool {
        self.output_by_unit && (1..=BY_UNIT_ROWS).contains(&n)
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

    /// The output and the buffer for ∂loss/∂output, to fill from the loss
    /// (after a training pass over n rows, both by unit when
    /// [`Network::output_is_by_unit`]).
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
        if n == 1 && self.storage.by_input.is_some() {
            return self.declared_while(|net| net.forward_from(input, n, train, dropout_rng));
        }
        let by_unit = train && self.output_is_by_unit(n);
        let last = self.layers.len().wrapping_sub(1);
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
            match &slot.node {
                Node::Dense(d) if by_unit && i == last => d.forward_by_unit(&self.params, x, y, n),
                _ => slot.node.forward(&self.params, x, y, shape, &mut mode),
            }
        }
    }

    /// Backward pass after a training forward pass, from ∂loss/∂output (already in
    /// place) down to the first layer; overwrites every gradient in `grads`.
    pub fn backward(&mut self, n: usize) {
        self.backward_from(None, n);
    }

    /// [`Network::backward`] after [`Network::forward_from`] with the same `input`.
    pub fn backward_from(&mut self, input: Option<&[T]>, n: usize) {
        let by_unit = self.output_is_by_unit(n);
        let last = self.layers.len().wrapping_sub(1);
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
            match &slot.node {
                Node::Dense(d) if by_unit && i == last => {
                    d.backward_by_unit(&self.params, &mut self.grads, x, dy, dx, n)
                }
                _ => slot
                    .node
                    .backward(&self.params, &mut self.grads, x, y, dy, dx, shape),
            }
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

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::ir::{Init, LayerKind, Loss};
    use crate::train::losses;
    use crate::train::simd::{force, Level};

    fn layer(index: usize, kind: LayerKind, in_width: usize, out_width: usize) -> crate::ir::Layer {
        crate::ir::Layer {
            index,
            kind,
            in_width,
            out_width,
            span: Default::default(),
            line: index + 1,
        }
    }

    /// Values uniform in [−1, 1) from a fixed linear congruential sequence.
    fn uniform(mut seed: u64) -> impl FnMut() -> f32 {
        move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) as f32 * 2.0 - 1.0
        }
    }

    /// dense(hidden) → relu → dense(classes) over `inputs` features, for
    /// batches of up to `capacity` rows, its parameters drawn from `next`
    /// (halved).
    fn relu_network(
        (inputs, hidden, classes): (usize, usize, usize),
        bias: bool,
        capacity: usize,
        next: &mut impl FnMut() -> f32,
    ) -> Network<f32> {
        let dense = |units| LayerKind::Dense {
            units,
            init: Init::Zeros,
            bias,
        };
        let model = Model {
            input_width: inputs,
            layers: vec![
                layer(0, dense(hidden), inputs, hidden),
                layer(1, LayerKind::Relu, hidden, hidden),
                layer(2, dense(classes), hidden, classes),
            ],
        };
        let mut net = Network::<f32>::new(&model, capacity);
        for p in &mut net.params {
            *p = next() * 0.5;
        }
        net
    }

    /// One training pass (forward, cross-entropy, backward) with the output
    /// laid out by unit or by row: the loss's bits, the count, every gradient's
    /// bits, and the input gradient of the last layer's input.
    fn pass(
        net: &mut Network<f32>,
        by_unit: bool,
        x: &[f32],
        y: &[f32],
        n: usize,
    ) -> (u64, usize, Vec<u32>) {
        let loss = Loss::CrossEntropy {
            label_smoothing: 0.1,
        };
        let k = net.output_width;
        net.lay_output_by_unit(by_unit);
        assert_eq!(net.output_is_by_unit(n), by_unit, "{k} classes, {n} rows");
        let features = net.input_width;
        net.input_mut(n).copy_from_slice(&x[..features * n]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        net.forward(n, true, &mut rng);
        let (out, dout) = net.output_and_grad(n);
        let bl = if by_unit {
            losses::evaluate_by_unit(&loss, out, y, k, n, Some(dout))
        } else {
            losses::evaluate(&loss, out, y, k, n, Some(dout))
        };
        net.backward(n);
        let hidden = net.layers.len() - 1;
        let dh = net.dacts[hidden].iter().map(|v| v.to_bits());
        let grads = net.storage().declared(&net.grads);
        let bits = grads.iter().map(|v| v.to_bits()).chain(dh).collect();
        (bl.mean.to_bits(), bl.correct, bits)
    }

    /// Laying the last dense layer's output out by unit changes no bit of the
    /// loss, the count or any gradient, at every SIMD level, for the shapes it
    /// takes: the digits network, one row, a full 64 × 64 × 64 last layer, a
    /// ragged batch, no bias.
    #[test]
    fn output_by_unit_keeps_every_bit() {
        let mut next = uniform(11);
        for &(inputs, hidden, classes, n, bias) in &[
            (64, 32, 10, 16, true),
            (7, 16, 6, 1, false),
            (12, 64, 64, 64, true),
            (5, 9, 7, 33, true),
        ] {
            let mut net = relu_network((inputs, hidden, classes), bias, 64, &mut next);
            let x: Vec<f32> = (0..inputs * n).map(|_| next() * 3.0).collect();
            let y: Vec<f32> = (0..n).map(|i| (i * 7 % classes) as f32).collect();
            for level in [Level::Baseline, Level::V3, Level::V4] {
                force(Some(level));
                let by_row = pass(&mut net, false, &x, &y, n);
                let by_unit = pass(&mut net, true, &x, &y, n);
                force(None);
                assert_eq!(
                    by_row, by_unit,
                    "{inputs}-{hidden}-{classes} × {n} {level:?}"
                );
            }
        }
    }

    /// The layout is by unit only where it keeps the bits: a dense last layer
    /// of f32 up to 64 wide, batches of 1 to 64 rows.
    #[test]
    fn output_by_unit_only_where_it_is_exact() {
        let dense = |units| LayerKind::Dense {
            units,
            init: Init::Zeros,
            bias: true,
        };
        let model = |last: usize, kind: LayerKind| Model {
            input_width: 4,
            layers: vec![layer(0, dense(last), 4, last), layer(1, kind, last, last)],
        };
        let mut net = Network::<f32>::new(&model(10, dense(10)), 100);
        net.lay_output_by_unit(true);
        assert!(
            net.output_is_by_unit(64) && !net.output_is_by_unit(65) && !net.output_is_by_unit(0)
        );
        net.lay_output_by_unit(false);
        assert!(!net.output_is_by_unit(16));
        let mut relu_last = Network::<f32>::new(&model(10, LayerKind::Relu), 16);
        relu_last.lay_output_by_unit(true);
        assert!(!relu_last.output_is_by_unit(16));
        let mut wide = Network::<f32>::new(&model(65, dense(65)), 16);
        wide.lay_output_by_unit(true);
        assert!(!wide.output_is_by_unit(16));
        let mut f64_net = Network::<f64>::new(&model(10, dense(10)), 16);
        f64_net.lay_output_by_unit(true);
        assert!(!f64_net.output_is_by_unit(16));
    }

    /// One dense layer of `units` (with bias) over `inputs` features.
    fn one_dense(inputs: usize, units: usize) -> Model {
        let dense = LayerKind::Dense {
            units,
            init: Init::Zeros,
            bias: true,
        };
        Model {
            input_width: inputs,
            layers: vec![layer(0, dense, inputs, units)],
        }
    }

    /// Storing the first layer's weight by input changes no bit of the loss,
    /// the count, any gradient (read back as declared) or the output of an
    /// evaluation pass, at every SIMD level: the digits network, one row, a
    /// ragged batch, no bias, with the output by row and by unit; and the
    /// parameters read back as declared are the ones laid in.
    #[test]
    fn first_weight_by_input_keeps_every_bit() {
        let mut next = uniform(5);
        for &(inputs, hidden, classes, n, bias) in &[
            (64, 32, 10, 16, true),
            (7, 16, 6, 1, false),
            (12, 48, 5, 33, true),
            (3, 16, 4, 2, true),
        ] {
            let eval_rows = 100;
            let mut declared = relu_network((inputs, hidden, classes), bias, eval_rows, &mut next);
            let mut by_input = declared.clone();
            assert!(by_input.lay_first_weight_by_input(n), "{inputs}-{hidden}");
            assert_ne!(by_input.params, declared.params);
            assert_eq!(
                *by_input.storage().declared(&by_input.params),
                declared.params[..]
            );
            let x: Vec<f32> = (0..inputs * eval_rows).map(|_| next() * 3.0).collect();
            let y: Vec<f32> = (0..n).map(|i| (i * 7 % classes) as f32).collect();
            for level in [Level::Baseline, Level::V3, Level::V4] {
                force(Some(level));
                for by_unit in [false, true] {
                    let want = pass(&mut declared, by_unit, &x, &y, n);
                    let got = pass(&mut by_input, by_unit, &x, &y, n);
                    assert_eq!(want, got, "{inputs}-{hidden}-{classes} × {n} {level:?}");
                }
                for rows in [1, 2, n, eval_rows] {
                    let mut rng = ChaCha8Rng::seed_from_u64(1);
                    let [want, got] = [&mut declared, &mut by_input].map(|net| {
                        net.input_mut(rows).copy_from_slice(&x[..inputs * rows]);
                        net.forward(rows, false, &mut rng);
                        net.output(rows)
                            .iter()
                            .map(|v| v.to_bits())
                            .collect::<Vec<_>>()
                    });
                    assert_eq!(want, got, "eval {inputs}-{hidden} × {rows} {level:?}");
                }
                force(None);
            }
        }
    }

    /// The weight is stored by input only where the small products take it:
    /// f32, a dense first layer of whole vectors of units, at most 64 inputs
    /// and 32 768 multiply-adds a product.
    #[test]
    fn first_weight_by_input_only_where_it_fits() {
        let model = one_dense;
        let lays = |inputs, units, batch| {
            Network::<f32>::new(&model(inputs, units), batch).lay_first_weight_by_input(batch)
        };
        assert!(lays(64, 32, 16) && lays(2, 16, 1024));
        assert!(!lays(64, 32, 17), "past 32 768 multiply-adds");
        assert!(!lays(65, 16, 1), "deeper than 64");
        assert!(!lays(1, 16, 4), "one input");
        assert!(!lays(8, 24, 4), "not a whole number of vectors");
        assert!(!Network::<f64>::new(&model(8, 16), 4).lay_first_weight_by_input(4));
        let relu_first = Model {
            input_width: 16,
            layers: vec![layer(0, LayerKind::Relu, 16, 16)],
        };
        assert!(!Network::<f32>::new(&relu_first, 4).lay_first_weight_by_input(4));
        let mut net = Network::<f32>::new(&model(3, 16), 4);
        net.params
            .iter_mut()
            .enumerate()
            .for_each(|(i, p)| *p = i as f32);
        let declared = net.params.clone();
        assert!(net.lay_first_weight_by_input(4));
        // Input 1's 16 weights side by side, then the bias as it was.
        assert_eq!(
            net.params[16..32],
            (0..16).map(|u| (u * 3 + 1) as f32).collect::<Vec<_>>()[..]
        );
        assert_eq!(net.params[48..], declared[48..]);
        let mut back = net.storage().declared(&net.params).into_owned();
        assert_eq!(back, declared);
        net.storage().from_declared(&mut back);
        assert_eq!(back, net.params);
        // declared_while: as declared inside, as stored again after.
        let inside = net.declared_while(|net| (net.params.clone(), net.storage()));
        assert_eq!(inside, (declared, Storage::default()));
        assert_eq!(net.params, back);
        assert!(net.storage() != Storage::default());
    }

    /// A training run stores the first weight by input only where nothing at
    /// every step depends on the order of its values: not with l1 or l2, not
    /// with max_norm, not with norm clipping (value clipping is element by
    /// element).
    #[test]
    fn training_layout_keeps_the_weight_as_declared_where_order_matters() {
        let model = one_dense(8, 16);
        let loss = Loss::Mse;
        let plain = Regularize::default();
        let by_input = |regularize: &Regularize, clip: Option<&Clip>| {
            let mut net = Network::<f32>::new(&model, 16);
            net.lay_out_for_training(&loss, regularize, clip, 16);
            net.storage() != Storage::default()
        };
        assert!(by_input(&plain, None));
        assert!(by_input(&plain, Some(&Clip::Value(1.0))));
        assert!(!by_input(&plain, Some(&Clip::Norm(1.0))));
        let l2 = Regularize {
            l2: 1e-4,
            has_penalty: true,
            ..plain
        };
        assert!(!by_input(&l2, None));
        let max_norm = Regularize {
            max_norm: Some(3.0),
            ..plain
        };
        assert!(!by_input(&max_norm, None));
    }
}
