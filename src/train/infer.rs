//! Inference: the network in evaluation mode, with its own activation buffers and
//! nothing of training (no dropout generator, no labels, no gradients, no
//! backward buffers). The trainer's valid and test evaluations, `nnt eval` and
//! `nnt predict` all run through [`Evaluator::forward`], so they can never
//! disagree.

use crate::train::float::Float;
use crate::train::layers::{Layer, Mode, Shape};
use crate::train::network::Slot;

/// Activation buffers for evaluation-mode passes of up to `capacity` rows.
#[derive(Debug, Clone)]
pub struct Evaluator<T> {
    pub input_width: usize,
    pub output_width: usize,
    pub capacity: usize,
    /// `acts[0]` the input, `acts[i + 1]` the output of layer i; `width × capacity`,
    /// column-major (one row of data per column).
    acts: Vec<Vec<T>>,
}

impl<T: Float> Evaluator<T> {
    pub fn new(layers: &[Slot<T>], input_width: usize, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let mut acts = vec![vec![T::zero(); input_width * capacity]];
        for l in layers {
            acts.push(vec![T::zero(); l.out_width * capacity]);
        }
        Evaluator {
            input_width,
            output_width: layers.last().map_or(input_width, |l| l.out_width),
            capacity,
            acts,
        }
    }

    /// The input buffer for `n ≤ capacity` rows (`input_width × n`), to fill.
    pub fn input_mut(&mut self, n: usize) -> &mut [T] {
        &mut self.acts[0][..self.input_width * n]
    }

    /// The evaluation-mode forward pass over the `n` rows in the input buffer;
    /// returns the output (`output_width × n`). Dropout is the identity and batch
    /// norm uses its running statistics.
    pub fn forward(&mut self, layers: &mut [Slot<T>], params: &[T], n: usize) -> &[T] {
        for (i, slot) in layers.iter_mut().enumerate() {
            let (before, after) = self.acts.split_at_mut(i + 1);
            let x = &before[i][..slot.in_width * n];
            let y = &mut after[0][..slot.out_width * n];
            let shape = Shape {
                in_width: slot.in_width,
                out_width: slot.out_width,
                n,
            };
            slot.node.forward(params, x, y, shape, &mut Mode::Eval);
        }
        let last = self.acts.len() - 1;
        &self.acts[last][..self.output_width * n]
    }

    /// Runs every chunk of `rows` rows of `x` (`input_width × rows`) and hands
    /// each chunk's start row, row count and output to `each`.
    pub fn run(
        &mut self,
        layers: &mut [Slot<T>],
        params: &[T],
        x: &[T],
        rows: usize,
        mut each: impl FnMut(usize, usize, &[T]),
    ) {
        let f = self.input_width;
        let mut start = 0;
        while start < rows {
            let n = self.capacity.min(rows - start);
            self.input_mut(n)
                .copy_from_slice(&x[start * f..(start + n) * f]);
            let out = self.forward(layers, params, n);
            each(start, n, out);
            start += n;
        }
    }
}
