//! `sgd(lr, momentum, dampening, nesterov, weight_decay)`: `torch.optim.SGD`.
//! g ← g + wd·θ; with momentum b ← g at t = 1, else b ← μ·b + (1 − dampening)·g;
//! d = g + μ·b (nesterov) or b; without momentum d = g; θ ← θ − lr·d.

use super::Measure;
use crate::train::float::Float;
use crate::train::linalg::{SquareLanes, SQUARE_LANES};
use crate::train::simd::multiversion;

#[derive(Debug, Clone)]
pub struct Sgd<T> {
    pub momentum: f64,
    pub dampening: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    pub steps: u64,
    /// Momentum buffer b (empty without momentum).
    pub momentum_buf: Vec<T>,
}

impl<T: Float> Sgd<T> {
    pub fn new(
        len: usize,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
        weight_decay: f64,
    ) -> Self {
        let buf_len = if momentum > 0.0 { len } else { 0 };
        Sgd {
            momentum,
            dampening,
            nesterov,
            weight_decay,
            steps: 0,
            momentum_buf: vec![T::zero(); buf_len],
        }
    }

    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        let k = self.begin(lr);
        // Element-wise: a large vector updates in pieces on the team's threads.
        let buf = &mut self.momentum_buf;
        super::in_pieces(
            params,
            grads,
            [buf, &mut [], &mut []],
            &|p, g, [b, _, _]| k.update(p, g, b),
        );
    }

    /// Counts the step and returns its update rule (the state stays here).
    pub(crate) fn begin(&mut self, lr: f64) -> SgdStep<T> {
        self.steps += 1;
        SgdStep {
            lr: T::of(lr),
            wd: T::of(self.weight_decay),
            use_wd: self.weight_decay != 0.0,
            momentum: self.momentum > 0.0,
            mu: T::of(self.momentum),
            damp: T::of(1.0 - self.dampening),
            first: self.steps == 1,
            nesterov: self.nesterov,
        }
    }
}

/// One step's update rule, applied to any range of the parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SgdStep<T> {
    lr: T,
    wd: T,
    use_wd: bool,
    momentum: bool,
    mu: T,
    damp: T,
    first: bool,
    nesterov: bool,
}

impl<T: Float> SgdStep<T> {
    /// Updates `params` from `grads`; `buf` is the range's momentum buffer (empty
    /// without momentum).
    pub(crate) fn update(&self, params: &mut [T], grads: &[T], buf: &mut [T]) {
        sgd_update(*self, params, grads, buf);
    }
}

multiversion! {
    /// The sgd update of one range (AVX-512, AVX2 or baseline: the same bits).
    fn sgd_update<T: Float>(k: SgdStep<T>, params: &mut [T], grads: &[T], buf: &mut [T]) {
        if !k.momentum {
            for (p, &g) in params.iter_mut().zip(grads) {
                *p = plain(k, *p, g);
            }
            return;
        }
        for ((p, &g), b) in params.iter_mut().zip(grads).zip(buf.iter_mut()) {
            let g = if k.use_wd { g + k.wd * *p } else { g };
            *b = if k.first {
                g
            } else {
                (k.mu * *b + k.damp * g).flush()
            };
            let d = if k.nesterov { g + k.mu * *b } else { *b };
            *p -= k.lr * d;
        }
    }
}

/// A parameter `p` after a plain sgd step (no momentum) with gradient `g`:
/// `p − lr·(g + wd·p)`, the one formula of [`sgd_update`] and
/// [`update_measured_plain`].
#[inline(always)]
fn plain<T: Float>(k: SgdStep<T>, p: T, g: T) -> T {
    let g = if k.use_wd { g + k.wd * p } else { g };
    p - k.lr * g
}

multiversion! {
    /// One block's Σ g², plain sgd update (no momentum) and finiteness check
    /// of the new parameters in one pass, a chunk of [`SQUARE_LANES`] values
    /// at a time, each new value checked from the register it was computed in
    /// (the three passes of `optim::measured`, each a chain of dependent
    /// additions or a loop of its own, took 287 ns for the 2 410 parameters of
    /// the 64-32-10 network, an eighth of its step). Σ g² has the bits of
    /// [`crate::train::linalg::sum_squares_block`] ([`SquareLanes`]); each new
    /// parameter is `p − lr·(g + wd·p)` as in [`sgd_update`].
    fn update_measured_plain<T: Float>(k: SgdStep<T>, params: &mut [T], grads: &[T]) -> Measure {
        let n = params.len().min(grads.len());
        let (params, grads) = (&mut params[..n], &grads[..n]);
        let mut lanes = SquareLanes::new();
        let zero = T::zero();
        let mut finite = [zero; SQUARE_LANES];
        let mut p_chunks = params.chunks_exact_mut(SQUARE_LANES);
        let mut g_chunks = grads.chunks_exact(SQUARE_LANES);
        for (pc, gc) in (&mut p_chunks).zip(&mut g_chunks) {
            lanes.add_chunk(gc);
            for ((p, &g), f) in pc.iter_mut().zip(gc).zip(finite.iter_mut()) {
                // From the register, not read back (a store-forwarding stall).
                let v = plain(k, *p, g);
                *p = v;
                *f += v * zero;
            }
        }
        let (p_rest, g_rest) = (p_chunks.into_remainder(), g_chunks.remainder());
        lanes.add_rest(g_rest);
        let mut rest_ok = true;
        for (p, &g) in p_rest.iter_mut().zip(g_rest) {
            *p = plain(k, *p, g);
            rest_ok &= p.is_finite();
        }
        Measure {
            sq: lanes.total(),
            finite: finite.iter().fold(rest_ok, |ok, l| ok & l.is_finite()),
        }
    }
}

impl<T: Float> super::Rule<T> for Sgd<T> {
    #[inline]
    fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        Sgd::step(self, params, grads, lr);
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
        let buf = &mut self.momentum_buf;
        let update = |p: &mut [T], g: &[T], [b, _, _]: [&mut [T]; 3]| k.update(p, g, b);
        let block = |p: &mut [T], g: &[T], bufs: [&mut [T]; 3]| {
            if k.momentum {
                super::three_passes(p, g, bufs, &update)
            } else {
                update_measured_plain(k, p, g)
            }
        };
        Some(super::measured_fused(
            params,
            grads,
            [buf, &mut [], &mut []],
            tensors,
            sq,
            &block,
        ))
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
    }

    fn buffers(&self) -> Vec<(&'static str, &[T])> {
        vec![("momentum", &self.momentum_buf[..])]
    }

    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        vec![("momentum", &mut self.momentum_buf)]
    }
}

// ---------------------------------------------------------------- the concept

/// The optimizer in §17's exported PyTorch program.
#[allow(clippy::too_many_arguments)]
pub fn torch(lr: f64, momentum: f64, dampening: f64, nesterov: bool, weight_decay: f64) -> String {
    use crate::report::number::{python, python_bool};
    format!(
        "torch.optim.SGD(params, lr={}, momentum={}, dampening={}, nesterov={}, weight_decay={})",
        python(lr),
        python(momentum),
        python(dampening),
        python_bool(nesterov),
        python(weight_decay)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::finite::finite_block;
    use crate::train::linalg;
    use crate::train::simd::{self, Level};

    /// The fused pass of plain sgd is the three passes it replaces, bit for
    /// bit, at every SIMD level: the same new parameters, the same Σ g² as
    /// `sum_squares_block`, and the same answer on finiteness (an overflowing
    /// update in a chunk and in the rest).
    #[test]
    fn the_fused_pass_is_the_three_passes() {
        let val = |i: usize, m: usize| (((i * m) % 997) as f32 - 498.0) * 1e-3;
        for level in [Level::Baseline, Level::V3, Level::V4] {
            simd::force(Some(level));
            for wd in [0.0, 0.01] {
                let mut sgd = Sgd::<f32>::new(0, 0.0, 0.0, false, wd);
                let k = sgd.begin(0.05);
                for len in [0, 1, 5, 31, 32, 33, 100, 2048 + 17] {
                    let g: Vec<f32> = (0..len).map(|i| val(i, 13)).collect();
                    let mut fused: Vec<f32> = (0..len).map(|i| val(i, 7)).collect();
                    let mut passes = fused.clone();
                    let m = update_measured_plain(k, &mut fused, &g);
                    let sq = linalg::sum_squares_block(&g);
                    sgd_update(k, &mut passes, &g, &mut []);
                    assert_eq!(fused, passes, "{level:?}, wd {wd}, {len} values");
                    assert_eq!(m.sq.to_bits(), sq.to_bits(), "{level:?}, {len} values");
                    assert!(m.finite && finite_block(&passes));
                }
                // An update that overflows, in the first chunk and in the rest.
                for at in [3, 40] {
                    let mut p = vec![1.0f32; 41];
                    let mut g = vec![0.5f32; 41];
                    p[at] = f32::MAX;
                    g[at] = -f32::MAX;
                    let big = sgd.begin(10.0);
                    assert!(!update_measured_plain(big, &mut p, &g).finite, "at {at}");
                }
            }
        }
        simd::force(None);
    }

    #[test]
    fn nesterov_momentum_by_hand() {
        // θ0 = 1, g = 0.5 both steps, μ = 0.9, lr = 0.1, wd = 0.1
        let mut o = Sgd::<f64>::new(1, 0.9, 0.0, true, 0.1);
        let mut p = [1.0];
        o.step(&mut p, &[0.5], 0.1);
        // g = 0.6, b = 0.6, d = 0.6 + 0.54 = 1.14, θ = 1 − 0.114
        assert!((p[0] - 0.886).abs() < 1e-12);
        o.step(&mut p, &[0.5], 0.1);
        let g = 0.5 + 0.1 * 0.886;
        let b = 0.9 * 0.6 + g;
        let d = g + 0.9 * b;
        assert!((p[0] - (0.886 - 0.1 * d)).abs() < 1e-12);
    }

    #[test]
    fn dampening_applies_after_first_step() {
        let mut o = Sgd::<f64>::new(1, 0.5, 0.5, false, 0.0);
        let mut p = [0.0];
        o.step(&mut p, &[1.0], 1.0);
        assert_eq!(p[0], -1.0); // b = g
        o.step(&mut p, &[1.0], 1.0);
        assert_eq!(p[0], -2.0); // b = 0.5·1 + 0.5·1 = 1
    }
}
