//! `adagrad(lr, eps, weight_decay)`: `torch.optim.Adagrad` (no lr decay, initial
//! accumulator 0). g ← g + wd·θ; s ← s + g²; θ ← θ − lr·g/(√s + eps).

use crate::train::float::Float;
use crate::train::simd::multiversion;

#[derive(Debug, Clone)]
pub struct Adagrad<T> {
    pub eps: f64,
    pub weight_decay: f64,
    pub steps: u64,
    pub sum: Vec<T>,
}

impl<T: Float> Adagrad<T> {
    pub fn new(len: usize, eps: f64, weight_decay: f64) -> Self {
        Adagrad {
            eps,
            weight_decay,
            steps: 0,
            sum: vec![T::zero(); len],
        }
    }

    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        self.steps += 1;
        let lr = T::of(lr);
        let eps = T::of(self.eps);
        let wd = T::of(self.weight_decay);
        let use_wd = self.weight_decay != 0.0;
        adagrad_update(params, grads, &mut self.sum, lr, eps, wd, use_wd);
    }
}

multiversion! {
    /// The adagrad update (AVX-512, AVX2 or baseline: the same bits).
    fn adagrad_update<T: Float>(
        params: &mut [T],
        grads: &[T],
        sum: &mut [T],
        lr: T,
        eps: T,
        wd: T,
        use_wd: bool,
    ) {
        for ((p, &g), s) in params.iter_mut().zip(grads).zip(sum.iter_mut()) {
            let g = if use_wd { g + wd * *p } else { g };
            *s += g * g;
            *p -= lr * g / (s.sqrt() + eps);
        }
    }
}

impl<T: Float> super::Rule<T> for Adagrad<T> {
    #[inline]
    fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        Adagrad::step(self, params, grads, lr);
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
    }

    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![("sum", &self.sum[..])]
    }

    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![("sum", &mut self.sum)]
    }
}

// ---------------------------------------------------------------- the concept

/// The optimizer in §17's exported PyTorch program.
#[allow(clippy::too_many_arguments)]
pub fn torch(lr: f64, eps: f64, weight_decay: f64) -> String {
    use crate::report::number::python;
    format!(
        "torch.optim.Adagrad(params, lr={}, eps={}, weight_decay={})",
        python(lr),
        python(eps),
        python(weight_decay)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps give the same bits at every SIMD level (with weight decay).
    #[test]
    fn updates_give_the_same_bits_at_every_level() {
        super::super::assert_same_bits_at_every_level(|p, grads| {
            let mut o = Adagrad::<f32>::new(p.len(), 1e-10, 0.01);
            for g in grads {
                o.step(p, g, 0.01);
            }
        });
    }

    #[test]
    fn accumulates_squares() {
        let mut o = Adagrad::<f64>::new(1, 1e-10, 0.0);
        let mut p = [0.0];
        o.step(&mut p, &[3.0], 0.1);
        assert!((p[0] + 0.1 * 3.0 / (3.0 + 1e-10)).abs() < 1e-12);
        let p1 = p[0];
        o.step(&mut p, &[4.0], 0.1);
        assert!((p[0] - (p1 - 0.1 * 4.0 / (5.0 + 1e-10))).abs() < 1e-12);
    }
}
