//! `nadam(lr, beta1, beta2, eps, weight_decay, momentum_decay)`: `torch.optim.NAdam`
//! (v1.2), its single-tensor algorithm with `decoupled_weight_decay = False`.
//!
//! With t the step count from 1 and ψ = momentum_decay:
//! μₜ = β1·(1 − ½·0.96^(t·ψ)), Πₜ = μ₁·…·μₜ (kept in the state as `mu_product`);
//! g ← g + wd·θ; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
//! d = √(v/(1−β2ᵗ)) + eps;
//! θ ← θ − (lr·(1−μₜ)/(1−Πₜ))·g/d, then θ ← θ − (lr·μₜ₊₁/(1−Πₜ·μₜ₊₁))·m/d
//! (PyTorch's two `addcdiv_`s, in its order).
//!
//! Shapes: θ, g, m, v are all the flat parameter vector's length; μₜ, Πₜ and the
//! two step sizes are scalars computed once per step in f64, as PyTorch does in
//! Python floats.

use crate::train::float::Float;
use crate::train::simd::multiversion;

#[derive(Debug, Clone)]
pub struct NAdam<T> {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum_decay: f64,
    pub steps: u64,
    /// Πₜ, the product of the momentum coefficients so far (1 before the first step).
    pub mu_product: f64,
    /// m, the first moment.
    pub m: Vec<T>,
    /// v, the second moment.
    pub v: Vec<T>,
}

impl<T: Float> NAdam<T> {
    pub fn new(
        len: usize,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        momentum_decay: f64,
    ) -> Self {
        NAdam {
            beta1,
            beta2,
            eps,
            weight_decay,
            momentum_decay,
            steps: 0,
            mu_product: 1.0,
            m: vec![T::zero(); len],
            v: vec![T::zero(); len],
        }
    }

    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        let c = self.begin(lr);
        // Element-wise: a large vector updates in pieces on the team's threads.
        super::in_pieces(params, grads, self.moments(), &|p, g, [m, v, _]| {
            c.update(p, g, m, v)
        });
    }

    /// The state buffers as one update takes them: m, v (and no third).
    pub(crate) fn moments(&mut self) -> [&mut [T]; 3] {
        [&mut self.m, &mut self.v, &mut []]
    }

    /// μ at step `t`.
    fn mu(&self, t: f64) -> f64 {
        self.beta1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay))
    }

    /// Counts the step, advances Πₜ, and returns the step's update rule (the
    /// moments stay here).
    pub(crate) fn begin(&mut self, lr: f64) -> NAdamStep<T> {
        self.steps += 1;
        let t = self.steps as f64;
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let mu = self.mu(t);
        let mu_next = self.mu(t + 1.0);
        self.mu_product *= mu;
        let mu_product_next = self.mu_product * mu_next;
        NAdamStep {
            grad_size: T::of(lr * (1.0 - mu) / (1.0 - self.mu_product)),
            moment_size: T::of(lr * mu_next / (1.0 - mu_product_next)),
            bias_correction2: T::of(bias_correction2),
            b1: T::of(self.beta1),
            b2: T::of(self.beta2),
            ob1: T::of(1.0 - self.beta1),
            ob2: T::of(1.0 - self.beta2),
            eps: T::of(self.eps),
            wd: T::of(self.weight_decay),
            use_wd: self.weight_decay != 0.0,
        }
    }
}

/// One step's update rule (its constants), applied to any range of the
/// parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NAdamStep<T> {
    /// lr·(1−μₜ)/(1−Πₜ).
    grad_size: T,
    /// lr·μₜ₊₁/(1−Πₜ₊₁).
    moment_size: T,
    bias_correction2: T,
    b1: T,
    b2: T,
    ob1: T,
    ob2: T,
    eps: T,
    wd: T,
    use_wd: bool,
}

impl<T: Float> NAdamStep<T> {
    /// Updates one range of parameters and their moments.
    pub(crate) fn update(&self, params: &mut [T], grads: &[T], m: &mut [T], v: &mut [T]) {
        nadam_update(*self, params, grads, m, v);
    }
}

multiversion! {
    /// The nadam update of one range (AVX-512, AVX2 or baseline: the same bits).
    fn nadam_update<T: Float>(c: NAdamStep<T>, params: &mut [T], grads: &[T], m: &mut [T], v: &mut [T]) {
        let it = params
            .iter_mut()
            .zip(grads)
            .zip(m.iter_mut())
            .zip(v.iter_mut());
        for (((p, &g), m), v) in it {
            let g = if c.use_wd { g + c.wd * *p } else { g };
            *m = (c.b1 * *m + c.ob1 * g).flush();
            *v = (c.b2 * *v + c.ob2 * g * g).flush();
            let d = (*v / c.bias_correction2).sqrt() + c.eps;
            *p -= c.grad_size * (g / d);
            *p -= c.moment_size * (*m / d);
        }
    }
}

impl<T: Float> super::Rule<T> for NAdam<T> {
    #[inline]
    fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        NAdam::step(self, params, grads, lr);
    }

    fn step_measured(
        &mut self,
        params: &mut [T],
        grads: &[T],
        lr: f64,
        tensors: &[crate::train::network::ParamTensor],
        sq: &mut [f64],
    ) -> Option<bool> {
        let k = self.begin(lr);
        let update = |p: &mut [T], g: &[T], [m, v, _]: [&mut [T]; 3]| k.update(p, g, m, v);
        Some(super::measured(
            params,
            grads,
            self.moments(),
            tensors,
            sq,
            &update,
        ))
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
    }

    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![("m", &self.m[..]), ("v", &self.v[..])]
    }

    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![("m", &mut self.m), ("v", &mut self.v)]
    }

    fn scalars(&self) -> Vec<(&'static str, f64)> {
        vec![("mu_product", self.mu_product)]
    }

    fn set_scalar(&mut self, name: &str, value: f64) -> bool {
        if name == "mu_product" {
            self.mu_product = value;
            true
        } else {
            false
        }
    }
}

// ---------------------------------------------------------------- the concept

/// The optimizer in §17's exported PyTorch program.
#[allow(clippy::too_many_arguments)]
pub fn torch(
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
) -> String {
    use crate::report::number::python;
    format!(
        "torch.optim.NAdam(params, lr={}, betas=({}, {}), eps={}, weight_decay={}, momentum_decay={})",
        python(lr),
        python(beta1),
        python(beta2),
        python(eps),
        python(weight_decay),
        python(momentum_decay)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps give the same bits at every SIMD level (with weight decay).
    #[test]
    fn updates_give_the_same_bits_at_every_level() {
        super::super::assert_same_bits_at_every_level(|p, grads| {
            let mut o = NAdam::<f32>::new(p.len(), 0.9, 0.999, 1e-8, 0.01, 0.004);
            for g in grads {
                o.step(p, g, 0.01);
            }
        });
    }

    /// Two steps against the formula of §7 written out by hand, with weight decay.
    #[test]
    fn two_steps_match_the_formula() {
        let (b1, b2, eps, wd, psi, lr) = (0.9, 0.999, 1e-8, 0.01, 0.004, 0.002);
        let mut o = NAdam::<f64>::new(1, b1, b2, eps, wd, psi);
        let mu = |t: f64| b1 * (1.0 - 0.5 * 0.96f64.powf(t * psi));
        let (mut p, mut m, mut v, mut prod) = (0.5f64, 0.0, 0.0, 1.0);
        let mut theta = [p];
        for (t, g) in [(1.0, 1.0), (2.0, -0.3)] {
            o.step(&mut theta, &[g], lr);
            let g = g + wd * p;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            prod *= mu(t);
            let prod_next = prod * mu(t + 1.0);
            let mhat = mu(t + 1.0) * m / (1.0 - prod_next) + (1.0 - mu(t)) * g / (1.0 - prod);
            let vhat = v / (1.0 - b2.powf(t));
            p -= lr * mhat / (vhat.sqrt() + eps);
            assert!(
                (theta[0] - p).abs() < 1e-15,
                "step {t}: {} vs {p}",
                theta[0]
            );
        }
        assert_eq!(o.steps, 2);
        assert_eq!(o.mu_product, prod);
    }
}
