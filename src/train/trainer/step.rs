//! One training step, the whole of it: gather the batch → forward (train mode) →
//! loss and ∂loss/∂output → backward → add penalty gradients → per-layer and global
//! gradient norms (logged `grad_norm`, divergence check) → clip → optimizer step →
//! max_norm → the finiteness check of every updated parameter. Nothing is
//! allocated in a step.
//!
//! The trainer calls it for every batch and `benches/step.rs` calls the same
//! function; what the run watches (the dead-unit and exploding-gradient
//! detectors) comes in through [`StepWatch`], which costs nothing when unused.

use rand_chacha::ChaCha8Rng;

use crate::ir::{Clip, Loss, Regularize};
use crate::train::clip;
use crate::train::finite::all_finite;
use crate::train::float::Float;
use crate::train::linalg;
use crate::train::losses;
use crate::train::network::{Network, ParamKind};
use crate::train::optim::Optim;
use crate::train::penalty;

/// One split converted to the run's precision.
#[derive(Debug, Clone)]
pub struct Split<T> {
    pub rows: usize,
    /// `features × rows`, column-major (= the table's row-major order).
    pub x: Vec<T>,
    /// `targets × rows`.
    pub y: Vec<T>,
}

impl<T: Float> Split<T> {
    pub fn from_table(t: &crate::ir::Table) -> Self {
        Split {
            rows: t.rows,
            x: t.x.iter().map(|&v| T::of(v)).collect(),
            y: t.y.iter().map(|&v| T::of(v)).collect(),
        }
    }
}

/// What a step needs of the program.
#[derive(Debug, Clone, Copy)]
pub struct StepPlan<'a> {
    pub loss: &'a Loss,
    pub regularize: &'a Regularize,
    pub clip: Option<&'a Clip>,
}

/// Where a non-finite value first showed up in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blowup {
    /// The output of the layer at this position.
    Forward(usize),
    Loss,
    /// The gradient of the layer at this position (when one is known).
    Gradient(Option<usize>),
    /// The update left a parameter of this layer non-finite.
    Update(Option<usize>),
}

/// What a finished step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Mean loss over the batch.
    pub loss: f64,
    /// Correctly classified rows (classification losses).
    pub correct: usize,
    /// Global gradient norm, before clipping.
    pub norm: f64,
}

/// What a run watches inside a step. `()` watches nothing.
pub trait StepWatch<T> {
    /// After the forward pass: the output `y` (`width × n`) of the relu layer at
    /// position `pos` (only the positions given to [`Stepper::new`]).
    fn relu(&mut self, pos: usize, y: &[T], width: usize);
    /// After the gradient norms (before clipping and the update): each layer's
    /// squared gradient norm.
    fn norms(&mut self, layer_sq: &[f64]);
}

impl<T> StepWatch<T> for () {
    fn relu(&mut self, _: usize, _: &[T], _: usize) {}
    fn norms(&mut self, _: &[f64]) {}
}

/// The buffers of a step beyond the network's: the batch's targets and each
/// layer's squared gradient norm. Allocated once.
#[derive(Debug, Clone)]
pub struct Stepper<T> {
    ybuf: Vec<T>,
    targets: usize,
    /// Squared gradient norm of each layer in the last step.
    pub layer_grad_sq: Vec<f64>,
    /// Positions of the layers whose output [`StepWatch::relu`] sees.
    relu_layers: Vec<usize>,
}

impl<T: Float> Stepper<T> {
    /// For `net` (batches up to its capacity) and `targets` target values per row;
    /// `relu_layers` are the positions the watch sees after the forward pass.
    pub fn new(net: &Network<T>, targets: usize, relu_layers: Vec<usize>) -> Self {
        Stepper {
            ybuf: vec![T::zero(); targets * net.capacity],
            targets,
            layer_grad_sq: vec![0.0; net.layers.len()],
            relu_layers,
        }
    }

    /// One step on the rows `rows` of `data` (at most the network's capacity) at
    /// learning rate `lr`. On a non-finite value the step stops where it is found
    /// (parameters may be updated: nothing reads them after a divergence).
    #[allow(clippy::too_many_arguments)]
    pub fn step<W: StepWatch<T>>(
        &mut self,
        net: &mut Network<T>,
        optim: &mut Optim<T>,
        plan: StepPlan<'_>,
        data: &Split<T>,
        rows: &[usize],
        lr: f64,
        dropout_rng: &mut ChaCha8Rng,
        watch: &mut W,
    ) -> Result<StepStats, Blowup> {
        let n = rows.len();
        let (features, k, targets) = (net.input_width, net.output_width, self.targets);
        // An unshuffled epoch takes consecutive rows: one block copy each for the
        // features and the targets instead of a copy a row (at 10 features, a
        // row's copy cost more than its share of the products).
        let consecutive = rows.windows(2).all(|w| w[1] == w[0] + 1);
        // Consecutive rows are already the first layer's input, in the layout of
        // the input buffer (features × n, column-major): no copy at all.
        let direct = match rows.first() {
            Some(&first) if consecutive && !net.layers.is_empty() => {
                data.x.get(first * features..(first + n) * features)
            }
            _ => None,
        };
        if direct.is_none() {
            gather(net.input_mut(n), &data.x, rows, features, consecutive);
        }
        let ybuf = &mut self.ybuf[..targets * n];
        match rows.first() {
            Some(&first) if consecutive => {
                ybuf.copy_from_slice(&data.y[first * targets..(first + n) * targets]);
            }
            _ if targets == 1 => {
                for (o, &r) in ybuf.iter_mut().zip(rows) {
                    *o = data.y[r];
                }
            }
            _ => {
                for (o, &r) in ybuf.chunks_exact_mut(targets.max(1)).zip(rows) {
                    o.copy_from_slice(&data.y[r * targets..(r + 1) * targets]);
                }
            }
        }
        net.forward_from(direct, n, true, dropout_rng);
        for &pos in &self.relu_layers {
            let width = net.layers[pos].out_width;
            watch.relu(pos, net.layer_output(pos, n), width);
        }
        let by_unit = net.output_is_by_unit(n);
        let (out, dout) = net.output_and_grad(n);
        let y = &self.ybuf[..targets * n];
        let bl = if by_unit {
            losses::evaluate_by_unit(plan.loss, out, y, k, n, Some(dout))
        } else {
            losses::evaluate(plan.loss, out, y, k, n, Some(dout))
        };
        if !bl.mean.is_finite() {
            return Err(match net.first_nonfinite_output(n) {
                Some(p) => Blowup::Forward(p),
                None => Blowup::Loss,
            });
        }
        net.backward_from(direct, n);
        let reg = plan.regularize;
        if reg.l1 != 0.0 || reg.l2 != 0.0 {
            for t in &net.tensors {
                if t.kind == ParamKind::DenseWeight {
                    let r = t.offset..t.offset + t.len;
                    penalty::add_gradient(
                        &net.params[r.clone()],
                        &mut net.grads[r],
                        reg.l1,
                        reg.l2,
                    );
                }
            }
        }
        // Per-layer squared norms, summed in a fixed order. Without clipping
        // nothing needs the norm before the update, so sgd, adam, adamw and nadam
        // measure the gradient while they apply it (one pass over it instead of two).
        // The fused update also checks each block of new parameters for
        // finiteness (`Some(finite)`), so no separate pass is needed below.
        self.layer_grad_sq.iter_mut().for_each(|v| *v = 0.0);
        let measured = if plan.clip.is_none() {
            optim.step_measured(
                &mut net.params,
                &net.grads,
                lr,
                &net.tensors,
                &mut self.layer_grad_sq,
            )
        } else {
            None
        };
        let updated = measured.is_some();
        if !updated {
            for t in &net.tensors {
                self.layer_grad_sq[t.layer] +=
                    linalg::sum_squares(&net.grads[t.offset..t.offset + t.len]);
            }
        }
        let total: f64 = self.layer_grad_sq.iter().sum();
        let norm = total.sqrt();
        if !norm.is_finite() {
            return Err(match net.first_nonfinite_output(n) {
                Some(p) => Blowup::Forward(p),
                None => Blowup::Gradient(self.layer_grad_sq.iter().rposition(|v| !v.is_finite())),
            });
        }
        watch.norms(&self.layer_grad_sq);
        if !updated {
            if let Some(c) = plan.clip {
                clip::apply(c, &mut net.grads, norm);
            }
            optim.step(&mut net.params, &net.grads, lr);
        }
        if let Some(c) = reg.max_norm {
            for t in &net.tensors {
                if t.kind == ParamKind::DenseWeight {
                    let inputs = t.shape[1];
                    penalty::max_norm(&mut net.params[t.offset..t.offset + t.len], inputs, c);
                }
            }
        }
        // An update can overflow parameters while the gradient was finite (a huge
        // learning rate): check every update, before anything is logged or written
        // (max_norm rescales after the fused check, so it is checked again).
        let checked_finite = measured == Some(true) && reg.max_norm.is_none();
        if !checked_finite && !all_finite(&net.params) {
            let layer = net
                .tensors
                .iter()
                .find(|t| !all_finite(&net.params[t.offset..t.offset + t.len]))
                .map(|t| t.layer);
            return Err(Blowup::Update(layer));
        }
        Ok(StepStats {
            loss: bl.mean,
            correct: bl.correct,
            norm,
        })
    }
}

/// Copies the feature columns of `rows` into the input buffer (`features × n`),
/// in column pieces on the team's threads when the batch is large enough; rows that
/// follow each other (`consecutive`) as one block a half.
fn gather<T: Float>(input: &mut [T], x: &[T], rows: &[usize], features: usize, consecutive: bool) {
    let n = rows.len();
    linalg::split_columns(rows, 1, input, features, n, |_, rows, input| {
        match rows.first() {
            Some(&first) if consecutive => {
                input.copy_from_slice(&x[first * features..(first + rows.len()) * features]);
            }
            _ => {
                for (c, &r) in rows.iter().enumerate() {
                    input[c * features..(c + 1) * features]
                        .copy_from_slice(&x[r * features..(r + 1) * features]);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block copy of consecutive rows is the row-by-row copy.
    #[test]
    fn consecutive_rows_gather_as_rows_do() {
        let features = 3;
        let x: Vec<f32> = (0..40 * features).map(|i| i as f32 * 0.5).collect();
        for (start, n) in [(0, 1), (5, 7), (33, 7)] {
            let rows: Vec<usize> = (start..start + n).collect();
            let mut block = vec![0.0f32; features * n];
            let mut by_row = vec![0.0f32; features * n];
            gather(&mut block, &x, &rows, features, true);
            gather(&mut by_row, &x, &rows, features, false);
            assert_eq!(block, by_row);
            assert_eq!(block, x[start * features..(start + n) * features]);
        }
    }
}
