//! `rmsprop(lr, alpha, eps, momentum, centered, weight_decay)`: `torch.optim.RMSprop`.
//! g ← g + wd·θ; s ← α·s + (1−α)·g²; centered: ḡ ← α·ḡ + (1−α)·g, s̃ = s − ḡ²;
//! r = √s̃ + eps; with momentum b ← μ·b + g/r, θ ← θ − lr·b; else θ ← θ − lr·g/r.

use crate::train::float::Float;
use crate::train::simd::multiversion;

#[derive(Debug, Clone)]
pub struct RmsProp<T> {
    pub alpha: f64,
    pub eps: f64,
    pub momentum: f64,
    pub centered: bool,
    pub weight_decay: f64,
    pub steps: u64,
    pub square_avg: Vec<T>,
    /// ḡ (empty unless centered).
    pub grad_avg: Vec<T>,
    /// b (empty without momentum).
    pub momentum_buf: Vec<T>,
}

impl<T: Float> RmsProp<T> {
    pub fn new(
        len: usize,
        alpha: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
        weight_decay: f64,
    ) -> Self {
        RmsProp {
            alpha,
            eps,
            momentum,
            centered,
            weight_decay,
            steps: 0,
            square_avg: vec![T::zero(); len],
            grad_avg: vec![T::zero(); if centered { len } else { 0 }],
            momentum_buf: vec![T::zero(); if momentum > 0.0 { len } else { 0 }],
        }
    }

    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        self.steps += 1;
        let c = RmsPropStep {
            lr: T::of(lr),
            a: T::of(self.alpha),
            oa: T::of(1.0 - self.alpha),
            eps: T::of(self.eps),
            mu: T::of(self.momentum),
            wd: T::of(self.weight_decay),
            use_wd: self.weight_decay != 0.0,
            centered: self.centered,
            use_momentum: self.momentum > 0.0,
        };
        rmsprop_update(
            c,
            params,
            grads,
            &mut self.square_avg,
            &mut self.grad_avg,
            &mut self.momentum_buf,
        );
    }
}

/// One step's constants of the rmsprop update.
#[derive(Debug, Clone, Copy)]
struct RmsPropStep<T> {
    lr: T,
    a: T,
    oa: T,
    eps: T,
    mu: T,
    wd: T,
    use_wd: bool,
    centered: bool,
    use_momentum: bool,
}

multiversion! {
    /// The rmsprop update (AVX-512, AVX2 or baseline: the same bits). The
    /// centred average and the momentum buffer are empty when not used.
    fn rmsprop_update<T: Float>(
        c: RmsPropStep<T>,
        params: &mut [T],
        grads: &[T],
        square_avg: &mut [T],
        grad_avg: &mut [T],
        momentum_buf: &mut [T],
    ) {
        let n = params.len().min(grads.len()).min(square_avg.len());
        let (params, grads, square_avg) = (&mut params[..n], &grads[..n], &mut square_avg[..n]);
        let grad_avg = if c.centered { grad_avg.get_mut(..n) } else { Some(&mut [][..]) };
        let momentum_buf = if c.use_momentum { momentum_buf.get_mut(..n) } else { Some(&mut [][..]) };
        // Buffers are sized with the parameters when built; a short one is a bug.
        let (Some(grad_avg), Some(momentum_buf)) = (grad_avg, momentum_buf) else {
            debug_assert!(false, "rmsprop state shorter than the parameters");
            return;
        };
        for i in 0..n {
            let g = if c.use_wd {
                grads[i] + c.wd * params[i]
            } else {
                grads[i]
            };
            let s = (c.a * square_avg[i] + c.oa * g * g).flush();
            square_avg[i] = s;
            let st = if c.centered {
                let gb = (c.a * grad_avg[i] + c.oa * g).flush();
                grad_avg[i] = gb;
                s - gb * gb
            } else {
                s
            };
            let r = st.sqrt() + c.eps;
            if c.use_momentum {
                let b = (c.mu * momentum_buf[i] + g / r).flush();
                momentum_buf[i] = b;
                params[i] -= c.lr * b;
            } else {
                params[i] -= c.lr * g / r;
            }
        }
    }
}

impl<T: Float> super::Rule<T> for RmsProp<T> {
    #[inline]
    fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        RmsProp::step(self, params, grads, lr);
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
    }

    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![
            ("square_avg", &self.square_avg[..]),
            ("grad_avg", &self.grad_avg[..]),
            ("momentum", &self.momentum_buf[..]),
        ]
    }

    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![
            ("square_avg", &mut self.square_avg),
            ("grad_avg", &mut self.grad_avg),
            ("momentum", &mut self.momentum_buf),
        ]
    }
}

// ---------------------------------------------------------------- the concept

/// The optimizer in §17's exported PyTorch program.
#[allow(clippy::too_many_arguments)]
pub fn torch(
    lr: f64,
    alpha: f64,
    eps: f64,
    momentum: f64,
    centered: bool,
    weight_decay: f64,
) -> String {
    use crate::report::number::{python, python_bool};
    format!(
        "torch.optim.RMSprop(params, lr={}, alpha={}, eps={}, weight_decay={}, momentum={}, centered={})",
        python(lr),
        python(alpha),
        python(eps),
        python(weight_decay),
        python(momentum),
        python_bool(centered)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rmsprop, adagrad and nadam steps give the same bits at every SIMD level
    /// (their updates are compiled for each), with every option that changes
    /// the loop: centring, momentum, weight decay.
    #[test]
    fn updates_give_the_same_bits_at_every_level() {
        use crate::train::optim::{adagrad::Adagrad, nadam::NAdam};
        use crate::train::simd::{force, Level};
        let len = 1000 + 13;
        let p0: Vec<f32> = (0..len)
            .map(|i| ((i * 7919) % 997) as f32 / 997.0 - 0.5)
            .collect();
        let grads: Vec<Vec<f32>> = (0..3)
            .map(|k| {
                (0..len)
                    .map(|i| (((i + k) * 104_729) % 1009) as f32 / 1009.0 - 0.45)
                    .collect()
            })
            .collect();
        let run = |level: Level, which: usize| {
            force(Some(level));
            let mut p = p0.clone();
            let (mut r, mut a, mut n) = (
                RmsProp::<f32>::new(len, 0.9, 1e-8, 0.5, true, 0.01),
                Adagrad::<f32>::new(len, 1e-10, 0.01),
                NAdam::<f32>::new(len, 0.9, 0.999, 1e-8, 0.01, 0.004),
            );
            let mut plain = RmsProp::<f32>::new(len, 0.99, 1e-8, 0.0, false, 0.0);
            for g in &grads {
                match which {
                    0 => r.step(&mut p, g, 0.01),
                    1 => a.step(&mut p, g, 0.01),
                    2 => n.step(&mut p, g, 0.01),
                    _ => plain.step(&mut p, g, 0.01),
                }
            }
            force(None);
            p.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        for which in 0..4 {
            let want = run(Level::Baseline, which);
            for level in [Level::V3, Level::V4] {
                assert!(run(level, which) == want, "optimizer {which} {level:?}");
            }
        }
    }

    #[test]
    fn centered_momentum_two_steps() {
        let mut o = RmsProp::<f64>::new(1, 0.9, 1e-8, 0.5, true, 0.0);
        let mut p = [1.0];
        o.step(&mut p, &[2.0], 0.01);
        let s1: f64 = 0.1 * 4.0;
        let gb1: f64 = 0.1 * 2.0;
        let b1 = 2.0 / ((s1 - gb1 * gb1).sqrt() + 1e-8);
        let p1 = 1.0 - 0.01 * b1;
        assert!((p[0] - p1).abs() < 1e-12);
        o.step(&mut p, &[1.0], 0.01);
        let s2: f64 = 0.9 * s1 + 0.1;
        let gb2 = 0.9 * gb1 + 0.1;
        let b2 = 0.5 * b1 + 1.0 / ((s2 - gb2 * gb2).sqrt() + 1e-8);
        assert!((p[0] - (p1 - 0.01 * b2)).abs() < 1e-12);
    }
}
