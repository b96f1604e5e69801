//! `adamw(lr, beta1, beta2, eps, weight_decay)`: `torch.optim.AdamW`.
//! θ ← θ·(1 − lr·wd) first (decoupled decay), then the Adam step without decay.

use super::adam::Adam;
use crate::train::float::Float;

#[derive(Debug, Clone)]
pub struct AdamW<T> {
    pub weight_decay: f64,
    pub inner: Adam<T>,
}

impl<T: Float> AdamW<T> {
    pub fn new(len: usize, beta1: f64, beta2: f64, eps: f64, weight_decay: f64) -> Self {
        AdamW {
            weight_decay,
            inner: Adam::new(len, beta1, beta2, eps, 0.0, false),
        }
    }

    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        // The decoupled decay, then adam's update, value by value in the same
        // pass (the same operations on each value as two passes).
        let decay = (self.weight_decay != 0.0).then(|| T::of(1.0 - lr * self.weight_decay));
        let c = self.inner.begin(lr);
        super::in_pieces(params, grads, self.inner.moments(), &|p, g, [m, v, x]| {
            if let Some(d) = decay {
                super::scale(p, d);
            }
            c.update(p, g, m, v, x)
        });
    }
}

impl<T: Float> super::Rule<T> for AdamW<T> {
    #[inline]
    fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        AdamW::step(self, params, grads, lr);
    }

    fn step_measured(
        &mut self,
        params: &mut [T],
        grads: &[T],
        lr: f64,
        tensors: &[crate::train::network::ParamTensor],
        sq: &mut [f64],
    ) -> Option<bool> {
        // Decoupled decay first, value by value, as `AdamW::step` does for the
        // whole vector: the same operations on each value.
        let decay = (self.weight_decay != 0.0).then(|| T::of(1.0 - lr * self.weight_decay));
        super::adam_measured(&mut self.inner, decay, params, grads, lr, tensors, sq)
    }

    fn steps(&self) -> u64 {
        self.inner.steps
    }

    fn set_steps(&mut self, steps: u64) {
        self.inner.steps = steps;
    }

    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        super::Rule::buffers(&self.inner)
    }

    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        super::Rule::buffers_mut(&mut self.inner)
    }
}

// ---------------------------------------------------------------- the concept

/// The optimizer in §17's exported PyTorch program.
#[allow(clippy::too_many_arguments)]
pub fn torch(lr: f64, beta1: f64, beta2: f64, eps: f64, weight_decay: f64) -> String {
    use crate::report::number::python;
    format!(
        "torch.optim.AdamW(params, lr={}, betas=({}, {}), eps={}, weight_decay={})",
        python(lr),
        python(beta1),
        python(beta2),
        python(eps),
        python(weight_decay)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_is_decoupled() {
        let mut o = AdamW::<f64>::new(1, 0.9, 0.999, 1e-8, 0.1);
        let mut p = [2.0];
        o.step(&mut p, &[0.5], 0.01);
        let decayed = 2.0 * (1.0 - 0.01 * 0.1);
        assert!((p[0] - (decayed - 0.01 * 0.5 / (0.5 + 1e-8))).abs() < 1e-12);
    }
}
