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
    /// centred average and the momentum buffer are empty when not used; each
    /// combination runs its own loop over only the buffers it uses (one loop
    /// that skipped an empty buffer by a flag compiled to masked loads from
    /// it, on which qemu's AVX2 emulation faults).
    fn rmsprop_update<T: Float>(
        c: RmsPropStep<T>,
        params: &mut [T],
        grads: &[T],
        square_avg: &mut [T],
        grad_avg: &mut [T],
        momentum_buf: &mut [T],
    ) {
        let it = params.iter_mut().zip(grads).zip(square_avg.iter_mut());
        match (c.centered, c.use_momentum) {
            (false, false) => {
                for ((p, &g), sq) in it {
                    let g = c.decayed(g, *p);
                    let r = c.square(sq, g).sqrt() + c.eps;
                    *p -= c.lr * g / r;
                }
            }
            (true, false) => {
                for (((p, &g), sq), ga) in it.zip(grad_avg.iter_mut()) {
                    let g = c.decayed(g, *p);
                    let s = c.square(sq, g);
                    let r = c.centred(s, ga, g).sqrt() + c.eps;
                    *p -= c.lr * g / r;
                }
            }
            (false, true) => {
                for (((p, &g), sq), mb) in it.zip(momentum_buf.iter_mut()) {
                    let g = c.decayed(g, *p);
                    let r = c.square(sq, g).sqrt() + c.eps;
                    *p -= c.lr * c.momentum(mb, g, r);
                }
            }
            (true, true) => {
                let bufs = grad_avg.iter_mut().zip(momentum_buf.iter_mut());
                for (((p, &g), sq), (ga, mb)) in it.zip(bufs) {
                    let g = c.decayed(g, *p);
                    let s = c.square(sq, g);
                    let r = c.centred(s, ga, g).sqrt() + c.eps;
                    *p -= c.lr * c.momentum(mb, g, r);
                }
            }
        }
    }
}

impl<T: Float> RmsPropStep<T> {
    /// g, with weight decay when asked: g + wd·θ.
    #[inline(always)]
    fn decayed(&self, g: T, p: T) -> T {
        if self.use_wd {
            g + self.wd * p
        } else {
            g
        }
    }

    /// The square average's new value s = α·s + (1 − α)·g², stored.
    #[inline(always)]
    fn square(&self, sq: &mut T, g: T) -> T {
        let s = (self.a * *sq + self.oa * g * g).flush();
        *sq = s;
        s
    }

    /// s − ḡ² with the gradient average's new value ḡ = α·ḡ + (1 − α)·g, stored.
    #[inline(always)]
    fn centred(&self, s: T, ga: &mut T, g: T) -> T {
        let gb = (self.a * *ga + self.oa * g).flush();
        *ga = gb;
        s - gb * gb
    }

    /// The momentum buffer's new value b = μ·b + g/r, stored.
    #[inline(always)]
    fn momentum(&self, mb: &mut T, g: T, r: T) -> T {
        let b = (self.mu * *mb + g / r).flush();
        *mb = b;
        b
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

    /// Steps give the same bits at every SIMD level, with every combination
    /// of centring and momentum (each its own loop) and weight decay.
    #[test]
    fn updates_give_the_same_bits_at_every_level() {
        for (centered, momentum, wd) in [
            (false, 0.0, 0.0),
            (true, 0.0, 0.01),
            (false, 0.5, 0.0),
            (true, 0.5, 0.01),
        ] {
            super::super::assert_same_bits_at_every_level(|p, grads| {
                let mut o = RmsProp::<f32>::new(p.len(), 0.9, 1e-8, momentum, centered, wd);
                for g in grads {
                    o.step(p, g, 0.01);
                }
            });
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
