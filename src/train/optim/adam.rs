//! `adam(lr, beta1, beta2, eps, weight_decay, amsgrad)`: `torch.optim.Adam`.
//! g ← g + wd·θ; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
//! with amsgrad vmax ← max(vmax, v), u = vmax, else u = v;
//! θ ← θ − (lr/(1−β1ᵗ))·m / (√u/√(1−β2ᵗ) + eps) (PyTorch's grouping of the same formula).

use crate::train::float::Float;
use crate::train::simd::multiversion;

#[derive(Debug, Clone)]
pub struct Adam<T> {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub steps: u64,
    pub m: Vec<T>,
    pub v: Vec<T>,
    /// Running maximum of v (empty without amsgrad).
    pub vmax: Vec<T>,
}

impl<T: Float> Adam<T> {
    pub fn new(
        len: usize,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        amsgrad: bool,
    ) -> Self {
        Adam {
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
            steps: 0,
            m: vec![T::zero(); len],
            v: vec![T::zero(); len],
            vmax: vec![T::zero(); if amsgrad { len } else { 0 }],
        }
    }

    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        let c = self.begin(lr);
        // Element-wise: a large vector updates in pieces on the team's threads.
        super::in_pieces(params, grads, self.moments(), &|p, g, [m, v, x]| {
            c.update(p, g, m, v, x)
        });
    }

    /// The state buffers as one update takes them: m, v, and vmax (empty without
    /// amsgrad).
    pub(crate) fn moments(&mut self) -> [&mut [T]; 3] {
        let vmax = if self.amsgrad {
            &mut self.vmax[..]
        } else {
            &mut self.vmax[..0]
        };
        [&mut self.m, &mut self.v, vmax]
    }

    /// Counts the step and returns its update rule (the moments stay here).
    pub(crate) fn begin(&mut self, lr: f64) -> AdamStep<T> {
        self.steps += 1;
        let t = self.steps as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2_sqrt = (1.0 - self.beta2.powi(t)).sqrt();
        let step_size = T::of(lr / bc1);
        let inv_bc2_sqrt = T::of(1.0 / bc2_sqrt);
        let (b1, b2) = (T::of(self.beta1), T::of(self.beta2));
        let (ob1, ob2) = (T::of(1.0 - self.beta1), T::of(1.0 - self.beta2));
        let eps = T::of(self.eps);
        let wd = T::of(self.weight_decay);
        let use_wd = self.weight_decay != 0.0;
        // Subnormal intermediates cost x86 a microcode assist each (~100× an
        // add), and a converged classifier's gradients sink that low: a gradient
        // whose (1 − β₂)·g² would be subnormal, and a moment whose step_size·m
        // would be, count as 0 (they could move no normal parameter anyway).
        let tiny = T::TINY.to_f64();
        let g_min = T::of(
            (tiny / (1.0 - self.beta2).max(tiny))
                .sqrt()
                .max(tiny / (1.0 - self.beta1).max(tiny)),
        );
        let m_min = T::of(tiny / (lr / bc1).max(tiny));
        AdamStep {
            step_size,
            inv_bc2_sqrt,
            b1,
            b2,
            ob1,
            ob2,
            eps,
            wd,
            use_wd,
            g_min,
            m_min,
        }
    }
}

/// One step's update rule (its constants), applied to any range of the
/// parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamStep<T> {
    step_size: T,
    inv_bc2_sqrt: T,
    b1: T,
    b2: T,
    ob1: T,
    ob2: T,
    eps: T,
    wd: T,
    use_wd: bool,
    g_min: T,
    m_min: T,
}

impl<T: Float> AdamStep<T> {
    /// Updates one range of parameters; `vmax` is empty without amsgrad.
    pub(crate) fn update(
        &self,
        params: &mut [T],
        grads: &[T],
        m: &mut [T],
        v: &mut [T],
        vmax: &mut [T],
    ) {
        if vmax.is_empty() {
            adam_update(*self, params, grads, m, v);
        } else {
            amsgrad_update(*self, params, grads, m, v, vmax);
        }
    }
}

multiversion! {
    /// The adam update of one range (AVX-512, AVX2 or baseline: the same bits).
    fn adam_update<T: Float>(c: AdamStep<T>, params: &mut [T], grads: &[T], m: &mut [T], v: &mut [T]) {
        let it = params
            .iter_mut()
            .zip(grads)
            .zip(m.iter_mut())
            .zip(v.iter_mut());
        for (((p, &g), m), v) in it {
            let g = if c.use_wd { g + c.wd * *p } else { g };
            let g = quiet(g, c.g_min);
            *m = (c.b1 * *m + c.ob1 * g).flush();
            *v = (c.b2 * *v + c.ob2 * g * g).flush();
            *p -= c.step_size * quiet(*m, c.m_min) / (v.sqrt() * c.inv_bc2_sqrt + c.eps);
        }
    }
}

multiversion! {
    /// The amsgrad update of one range.
    fn amsgrad_update<T: Float>(
        c: AdamStep<T>,
        params: &mut [T],
        grads: &[T],
        m: &mut [T],
        v: &mut [T],
        vmax: &mut [T],
    ) {
        let it = params
            .iter_mut()
            .zip(grads)
            .zip(m.iter_mut())
            .zip(v.iter_mut())
            .zip(vmax.iter_mut());
        for ((((p, &g), m), v), vmax) in it {
            let g = if c.use_wd { g + c.wd * *p } else { g };
            let g = quiet(g, c.g_min);
            *m = (c.b1 * *m + c.ob1 * g).flush();
            *v = (c.b2 * *v + c.ob2 * g * g).flush();
            if *v > *vmax {
                *vmax = *v;
            }
            *p -= c.step_size * quiet(*m, c.m_min) / (vmax.sqrt() * c.inv_bc2_sqrt + c.eps);
        }
    }
}

/// `v`, or 0 when |v| < `min` (a blend, so the loop stays vectorised).
#[inline(always)]
fn quiet<T: Float>(v: T, min: T) -> T {
    if v.abs() < min {
        T::zero()
    } else {
        v
    }
}

impl<T: Float> super::Rule<T> for Adam<T> {
    #[inline]
    fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        Adam::step(self, params, grads, lr);
    }

    fn step_measured(
        &mut self,
        params: &mut [T],
        grads: &[T],
        lr: f64,
        tensors: &[crate::train::network::ParamTensor],
        sq: &mut [f64],
    ) -> Option<bool> {
        super::adam_measured(self, None, params, grads, lr, tensors, sq)
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
    }

    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![
            ("m", &self.m[..]),
            ("v", &self.v[..]),
            ("vmax", &self.vmax[..]),
        ]
    }

    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![
            ("m", &mut self.m),
            ("v", &mut self.v),
            ("vmax", &mut self.vmax),
        ]
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
    amsgrad: bool,
) -> String {
    use crate::report::number::{python, python_bool};
    format!(
        "torch.optim.Adam(params, lr={}, betas=({}, {}), eps={}, weight_decay={}, amsgrad={})",
        python(lr),
        python(beta1),
        python(beta2),
        python(eps),
        python(weight_decay),
        python_bool(amsgrad)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_lr() {
        // At t = 1, m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps) ≈ lr·sign(g).
        let mut o = Adam::<f64>::new(2, 0.9, 0.999, 1e-8, 0.0, false);
        let mut p = [1.0, -1.0];
        o.step(&mut p, &[0.3, -2.0], 0.01);
        assert!((p[0] - (1.0 - 0.01 * 0.3 / (0.3 + 1e-8))).abs() < 1e-12);
        assert!((p[1] - (-1.0 + 0.01 * 2.0 / (2.0 + 1e-8))).abs() < 1e-12);
    }

    #[test]
    fn second_step_matches_formula_with_amsgrad() {
        let mut o = Adam::<f64>::new(1, 0.9, 0.999, 1e-8, 0.01, true);
        let mut p = [0.5];
        o.step(&mut p, &[1.0], 0.1);
        let p1 = p[0];
        o.step(&mut p, &[0.1], 0.1);
        let g1 = 1.0 + 0.01 * 0.5;
        let (m1, v1) = (0.1 * g1, 0.001 * g1 * g1);
        let g2 = 0.1 + 0.01 * p1;
        let m2 = 0.9 * m1 + 0.1 * g2;
        let v2 = 0.999 * v1 + 0.001 * g2 * g2;
        let u = v1.max(v2);
        let want = p1 - 0.1 * (m2 / (1.0 - 0.81)) / ((u / (1.0 - 0.999f64.powi(2))).sqrt() + 1e-8);
        assert!((p[0] - want).abs() < 1e-12, "{} vs {want}", p[0]);
    }
}
