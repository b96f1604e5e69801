//! Optimizers (§7), PyTorch's update rules over the flat parameter vector. The
//! state buffers are allocated once, at construction; `step` allocates nothing.
//!
//! The seam is the [`Rule`] trait (the update, the state buffers and scalars a
//! checkpoint keeps), implemented in each optimizer's file; [`Optim`] is the enum
//! the trainer holds (static dispatch) and hands each call to its variant.
//! Each file also writes its optimizer's `torch.optim` line for `nnt export
//! torch` ([`torch`] dispatches). Adding an optimizer: its declaration in
//! `check::catalog`, its `ir::Optimizer` variant, its file here with `impl Rule`
//! and `torch`, and its arms in this file ([`Optim`], `each_optim!`,
//! [`Optim::new`], [`torch`]).

pub mod adagrad;
pub mod adam;
pub mod adamw;
pub mod nadam;
pub mod rmsprop;
pub mod sgd;

use crate::ir::Optimizer;
use crate::train::finite::finite_block;
use crate::train::float::Float;
use crate::train::linalg;
use crate::train::network::ParamTensor;
use crate::train::simd::multiversion;

/// [`Optim::step_measured`] sums and updates the gradient block by block, so that a
/// block is still in L1 when the update reads it the second time.
const BLOCK: usize = 4096;

/// One optimizer's update rule and its state.
pub trait Rule<T: Float> {
    /// One update of `params` with gradient `grads` at learning rate `lr`.
    fn step(&mut self, params: &mut [T], grads: &[T], lr: f64);

    /// The update of [`Rule::step`] fused with the gradient-norm pass (see
    /// [`Optim::step_measured`], which checks that `tensors` tile `params` before
    /// calling it) and with the finiteness check of the updated parameters:
    /// `Some(every parameter finite)`, or `None`, having changed nothing, for a
    /// rule without one.
    fn step_measured(
        &mut self,
        _params: &mut [T],
        _grads: &[T],
        _lr: f64,
        _tensors: &[ParamTensor],
        _sq: &mut [f64],
    ) -> Option<bool> {
        None
    }

    /// Steps taken so far.
    fn steps(&self) -> u64;

    fn set_steps(&mut self, steps: u64);

    /// The state buffers by name, for checkpoints (`optim.{name}`); an unused
    /// buffer is empty.
    fn buffers(&self) -> Vec<(&'static str, &[T])>;

    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)>;

    /// The scalar state beyond the step count, by name, for checkpoints (kept in
    /// f64 whatever the precision).
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    /// Sets the scalar `name` of [`Rule::scalars`]; `false` when there is none of
    /// that name.
    fn set_scalar(&mut self, _name: &str, _value: f64) -> bool {
        false
    }
}

/// The state buffers that are running sums or averages of squared gradients
/// (Adam's `v` and `vmax`, RMSprop's `square_avg`, Adagrad's `sum`): never
/// negative, so a checkpoint holding a negative one was tampered with.
pub const SQUARE_BUFFERS: &[&str] = &["v", "vmax", "square_avg", "sum"];

/// `$body` with `$o` bound to the rule inside `$optim`, whatever its variant.
macro_rules! each_optim {
    ($optim:expr, $o:ident => $body:expr) => {
        match $optim {
            Optim::Sgd($o) => $body,
            Optim::Adam($o) => $body,
            Optim::AdamW($o) => $body,
            Optim::RmsProp($o) => $body,
            Optim::Adagrad($o) => $body,
            Optim::NAdam($o) => $body,
        }
    };
}

/// One optimizer with its state, for `len` parameters.
#[derive(Debug, Clone)]
pub enum Optim<T> {
    Sgd(sgd::Sgd<T>),
    Adam(adam::Adam<T>),
    AdamW(adamw::AdamW<T>),
    RmsProp(rmsprop::RmsProp<T>),
    Adagrad(adagrad::Adagrad<T>),
    NAdam(nadam::NAdam<T>),
}

impl<T: Float> Optim<T> {
    pub fn new(config: &Optimizer, len: usize) -> Self {
        match *config {
            Optimizer::Sgd {
                momentum,
                dampening,
                nesterov,
                weight_decay,
                ..
            } => Optim::Sgd(sgd::Sgd::new(
                len,
                momentum,
                dampening,
                nesterov,
                weight_decay,
            )),
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                amsgrad,
                ..
            } => Optim::Adam(adam::Adam::new(
                len,
                beta1,
                beta2,
                eps,
                weight_decay,
                amsgrad,
            )),
            Optimizer::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => Optim::AdamW(adamw::AdamW::new(len, beta1, beta2, eps, weight_decay)),
            Optimizer::RmsProp {
                alpha,
                eps,
                momentum,
                centered,
                weight_decay,
                ..
            } => Optim::RmsProp(rmsprop::RmsProp::new(
                len,
                alpha,
                eps,
                momentum,
                centered,
                weight_decay,
            )),
            Optimizer::Adagrad {
                eps, weight_decay, ..
            } => Optim::Adagrad(adagrad::Adagrad::new(len, eps, weight_decay)),
            Optimizer::NAdam {
                beta1,
                beta2,
                eps,
                weight_decay,
                momentum_decay,
                ..
            } => Optim::NAdam(nadam::NAdam::new(
                len,
                beta1,
                beta2,
                eps,
                weight_decay,
                momentum_decay,
            )),
        }
    }

    /// One update of `params` with gradient `grads` at learning rate `lr`.
    #[inline]
    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        each_optim!(self, o => Rule::step(o, params, grads, lr))
    }

    /// One update, as [`Optim::step`], that also adds each tensor's Σ g² to
    /// `sq[tensor.layer]` (the gradient norms the log and the detectors use),
    /// reading each gradient from memory once instead of twice: the separate pass
    /// cost 2–7 % of a step. Sums go block by block (fixed blocks; a large tensor
    /// in two fixed halves, one a thread), so they are the same with one thread or
    /// two. Only sgd, adam, adamw and nadam have it: for the others, or tensors that do
    /// not tile the parameters in order, it returns `false` having changed
    /// nothing, and the caller measures and steps apart. (State buffers always
    /// have the parameters' length, or none: construction and checkpoint restore
    /// keep it so.)
    pub fn step_measured(
        &mut self,
        params: &mut [T],
        grads: &[T],
        lr: f64,
        tensors: &[ParamTensor],
        sq: &mut [f64],
    ) -> Option<bool> {
        let mut at = 0;
        for t in tensors {
            if t.offset != at || t.layer >= sq.len() {
                return None;
            }
            at += t.len;
        }
        if at != params.len() || grads.len() != params.len() {
            return None;
        }
        each_optim!(self, o => Rule::step_measured(o, params, grads, lr, tensors, sq))
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        each_optim!(self, o => Rule::steps(o))
    }

    pub fn set_steps(&mut self, steps: u64) {
        each_optim!(self, o => Rule::set_steps(o, steps))
    }

    /// The state buffers by name, for checkpoints.
    pub fn buffers(&self) -> Vec<(&'static str, &[T])> {
        each_optim!(self, o => Rule::buffers(o))
    }

    pub fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        each_optim!(self, o => Rule::buffers_mut(o))
    }

    /// The scalar state beyond the step count, by name, for checkpoints (kept in
    /// f64 whatever the precision): nadam's `mu_product`.
    pub fn scalars(&self) -> Vec<(&'static str, f64)> {
        each_optim!(self, o => Rule::scalars(o))
    }

    /// Sets the scalar `name` of [`Optim::scalars`]; `false` when there is none
    /// of that name.
    pub fn set_scalar(&mut self, name: &str, value: f64) -> bool {
        each_optim!(self, o => Rule::set_scalar(o, name, value))
    }
}

/// The update rule of one step over a range: parameters, gradients and up to
/// three state buffers of the same range (empty when the optimizer has fewer);
/// what it returns (`R`) is the caller's.
pub(crate) type Update<'u, T, R = ()> = dyn Fn(&mut [T], &[T], [&mut [T]; 3]) -> R + Sync + 'u;

/// [`Optim::step_measured`] for adam (`decay: None`) and adamw (the decoupled
/// decay factor).
#[allow(clippy::too_many_arguments)]
fn adam_measured<T: Float>(
    o: &mut adam::Adam<T>,
    decay: Option<T>,
    params: &mut [T],
    grads: &[T],
    lr: f64,
    tensors: &[ParamTensor],
    sq: &mut [f64],
) -> Option<bool> {
    let k = o.begin(lr);
    let update = |p: &mut [T], g: &[T], [m, v, x]: [&mut [T]; 3]| {
        if let Some(d) = decay {
            scale(p, d);
        }
        k.update(p, g, m, v, x)
    };
    Some(measured(params, grads, o.moments(), tensors, sq, &update))
}

multiversion! {
    /// p ← p·d (adamw's decoupled decay).
    pub(crate) fn scale<T: Float>(p: &mut [T], d: T) {
        for p in p.iter_mut() {
            *p *= d;
        }
    }
}

/// An element-wise update `f` over the parameters (with the same ranges of the
/// state buffers), in pieces on the team's threads when the vector holds at least
/// `PAR_ELEMENTS` values (`linalg::element_pieces`: cut by the length alone;
/// every value is updated by the same operations in any piece).
pub(crate) fn in_pieces<T: Float>(p: &mut [T], g: &[T], bufs: [&mut [T]; 3], f: &Update<'_, T>) {
    let len = p.len();
    let pieces = linalg::element_pieces(len);
    if pieces < 2 {
        f(p, g, bufs);
        return;
    }
    let [b0, b1, b2] = bufs;
    let mut rest = Some((p, g, b0, b1, b2));
    let parts = (0..pieces).filter_map(|i| {
        let (p, g, b0, b1, b2) = rest.take()?;
        let w = linalg::cut(len, pieces, i + 1) - linalg::cut(len, pieces, i);
        let (p0, p1) = p.split_at_mut(w.min(p.len()));
        let (g0, g1) = g.split_at(w.min(g.len()));
        let ((x0, x1), (y0, y1), (z0, z1)) = (take(b0, w), take(b1, w), take(b2, w));
        rest = Some((p1, g1, x1, y1, z1));
        Some((p0, g0, [x0, y0, z0]))
    });
    linalg::run_parts(parts, |_, (p, g, bufs)| f(p, g, bufs));
}

/// `f` over a whole range of the parameters (with the same ranges of the state
/// buffers), or over its two fixed halves on two threads when it holds at least
/// `PAR_ELEMENTS` values; the results in order (the second is `R::default()`
/// when the range was not cut). The cut depends on the length alone.
pub(crate) fn in_halves<T: Float, R: Send + Default>(
    p: &mut [T],
    g: &[T],
    bufs: [&mut [T]; 3],
    f: &Update<'_, T, R>,
) -> (R, R) {
    if p.len() < linalg::PAR_ELEMENTS {
        return (f(p, g, bufs), R::default());
    }
    let h = p.len() / 2;
    let [b0, b1, b2] = bufs;
    let (p0, p1) = p.split_at_mut(h);
    let (g0, g1) = g.split_at(h.min(g.len()));
    let ((x0, x1), (y0, y1), (z0, z1)) = (take(b0, h), take(b1, h), take(b2, h));
    let (mut r0, mut r1) = (R::default(), R::default());
    linalg::both(
        || r0 = f(p0, g0, [x0, y0, z0]),
        || r1 = f(p1, g1, [x1, y1, z1]),
    );
    (r0, r1)
}

/// Walks the tensors in order (they tile `params`), updating each and adding its
/// Σ g² to `sq[layer]`; a tensor of at least `PAR_ELEMENTS` values goes as two
/// halves on two threads. Returns whether every updated parameter is finite
/// (checked block by block right after the update, while the block is cached).
fn measured<T: Float>(
    params: &mut [T],
    grads: &[T],
    bufs: [&mut [T]; 3],
    tensors: &[ParamTensor],
    sq: &mut [f64],
    update: &Update<'_, T>,
) -> bool {
    measured_fused(params, grads, bufs, tensors, sq, &|p, g, bufs| {
        three_passes(p, g, bufs, update)
    })
}

/// One block's Σ g² ([`linalg::sum_squares_block`]), `update`, and the
/// finiteness check of the new parameters, as three passes over the cached
/// block (the `block` of [`measured_fused`] for a rule without a fused pass).
pub(crate) fn three_passes<T: Float>(
    p: &mut [T],
    g: &[T],
    bufs: [&mut [T]; 3],
    update: &Update<'_, T>,
) -> Measure {
    let sq = linalg::sum_squares_block(g);
    update(p, g, bufs);
    Measure {
        sq,
        finite: finite_block(p),
    }
}

/// [`measured`] with each block's three passes (Σ g², the update, the
/// finiteness check) done by `block` (one fused pass where a rule has one:
/// plain sgd's, `sgd::update_measured_plain`). `block` must sum the squares as
/// [`linalg::sum_squares_block`] does, so that the norms' bits do not depend on
/// the path.
pub(crate) fn measured_fused<T: Float>(
    params: &mut [T],
    grads: &[T],
    bufs: [&mut [T]; 3],
    tensors: &[ParamTensor],
    sq: &mut [f64],
    block: &Update<'_, T, Measure>,
) -> bool {
    let [mut b0, mut b1, mut b2] = bufs;
    let (mut p, mut g) = (params, grads);
    let mut finite = true;
    for t in tensors {
        let (pt, rest) = std::mem::take(&mut p).split_at_mut(t.len);
        p = rest;
        let (gt, rest) = g.split_at(t.len);
        g = rest;
        let (x0, x1, x2);
        (x0, b0) = take(b0, t.len);
        (x1, b1) = take(b1, t.len);
        (x2, b2) = take(b2, t.len);
        let (s0, s1) = in_halves(pt, gt, [x0, x1, x2], &|p, g, bufs| {
            blocks(p, g, bufs, block)
        });
        finite &= s0.finite && s1.finite;
        if let Some(v) = sq.get_mut(t.layer) {
            *v += s0.sq + s1.sq;
        }
    }
    finite
}

/// What a pass over a range measured of it.
pub(crate) struct Measure {
    /// Σ g² of the range.
    pub(crate) sq: f64,
    /// Whether every updated parameter of the range is finite.
    pub(crate) finite: bool,
}

impl Default for Measure {
    /// An empty range: nothing summed, nothing non-finite.
    fn default() -> Self {
        Measure {
            sq: 0.0,
            finite: true,
        }
    }
}

/// Σ g² of one range, summed and updated block by block (`block`); each
/// block's new parameters are checked for finiteness while they are in the
/// cache.
fn blocks<T: Float>(
    p: &mut [T],
    g: &[T],
    bufs: [&mut [T]; 3],
    block: &Update<'_, T, Measure>,
) -> Measure {
    let [b0, b1, b2] = bufs;
    let mut m = Measure::default();
    let mut start = 0;
    while start < p.len() {
        let r = start..(start + BLOCK).min(p.len());
        let b = block(
            &mut p[r.clone()],
            &g[r.clone()],
            [part(b0, &r), part(b1, &r), part(b2, &r)],
        );
        m.sq += b.sq;
        m.finite &= b.finite;
        start = r.end;
    }
    m
}

/// The first `n` values of a state buffer and the rest (an empty buffer stays
/// empty).
pub(crate) fn take<T>(b: &mut [T], n: usize) -> (&mut [T], &mut [T]) {
    if b.is_empty() {
        (b, &mut [])
    } else {
        b.split_at_mut(n.min(b.len()))
    }
}

/// A range of a state buffer (an empty buffer stays empty).
fn part<'b, T>(b: &'b mut [T], r: &std::ops::Range<usize>) -> &'b mut [T] {
    if b.is_empty() {
        b
    } else {
        &mut b[r.clone()]
    }
}

/// The optimizer in §17's exported PyTorch program (`torch.optim.…`), written by
/// its rule's file.
pub fn torch(opt: &Optimizer) -> String {
    match *opt {
        Optimizer::Sgd {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
        } => sgd::torch(lr, momentum, dampening, nesterov, weight_decay),
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
        } => adam::torch(lr, beta1, beta2, eps, weight_decay, amsgrad),
        Optimizer::AdamW {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        } => adamw::torch(lr, beta1, beta2, eps, weight_decay),
        Optimizer::RmsProp {
            lr,
            alpha,
            eps,
            momentum,
            centered,
            weight_decay,
        } => rmsprop::torch(lr, alpha, eps, momentum, centered, weight_decay),
        Optimizer::NAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            momentum_decay,
        } => nadam::torch(lr, beta1, beta2, eps, weight_decay, momentum_decay),
        Optimizer::Adagrad {
            lr,
            eps,
            weight_decay,
        } => adagrad::torch(lr, eps, weight_decay),
    }
}

/// Test help for the optimizers' files: `run` (which builds an optimizer and
/// steps it over the given gradients) leaves the same parameter bits at every
/// SIMD level, from values whose updates round.
#[cfg(test)]
pub(crate) fn assert_same_bits_at_every_level(run: impl Fn(&mut [f32], &[Vec<f32>])) {
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
    let at = |level: Level| {
        force(Some(level));
        let mut p = p0.clone();
        run(&mut p, &grads);
        force(None);
        p.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    };
    let want = at(Level::Baseline);
    for level in [Level::V3, Level::V4] {
        assert!(at(level) == want, "{level:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::network::ParamKind;

    fn tensor(layer: usize, offset: usize, len: usize) -> ParamTensor {
        ParamTensor {
            name: format!("{layer}.weight"),
            layer,
            offset,
            len,
            shape: vec![len],
            kind: ParamKind::DenseWeight,
        }
    }

    /// A large tensor (two halves, several blocks), a mid one and a tiny one,
    /// the last two in the same layer.
    fn layout() -> (Vec<ParamTensor>, usize) {
        let big = linalg::PAR_ELEMENTS + 3 * BLOCK + 17;
        let tensors = vec![
            tensor(0, 0, big),
            tensor(1, big, 5000),
            tensor(1, big + 5000, 3),
        ];
        (tensors, big + 5003)
    }

    fn values(len: usize, mul: usize, scale: f32) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * mul) % 101) as f32 - 50.0) * scale)
            .collect()
    }

    /// `step_measured` updates exactly as `step` (same bits, three steps so that
    /// momentum and moments matter) and its sums are the gradient norms.
    #[test]
    fn measured_step_is_the_plain_step() {
        let configs = [
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.0,
                dampening: 0.0,
                nesterov: false,
                weight_decay: 0.0,
            },
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.0,
                dampening: 0.0,
                nesterov: false,
                weight_decay: 0.01,
            },
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.9,
                dampening: 0.1,
                nesterov: false,
                weight_decay: 0.01,
            },
            Optimizer::Adam {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
                amsgrad: false,
            },
            Optimizer::Adam {
                lr: 0.01,
                beta1: 0.8,
                beta2: 0.99,
                eps: 1e-6,
                weight_decay: 0.1,
                amsgrad: true,
            },
            Optimizer::AdamW {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.05,
            },
            Optimizer::NAdam {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.02,
                momentum_decay: 0.004,
            },
        ];
        let (tensors, len) = layout();
        for config in configs {
            let mut plain = Optim::<f32>::new(&config, len);
            let mut fused = plain.clone();
            let mut p_plain = values(len, 7, 0.01);
            let mut p_fused = p_plain.clone();
            for step in 0..3 {
                let grads = values(len, 13 + step, 0.003);
                let mut sq = vec![0.0; 2];
                assert_eq!(
                    fused.step_measured(&mut p_fused, &grads, 0.05, &tensors, &mut sq),
                    Some(true)
                );
                plain.step(&mut p_plain, &grads, 0.05);
                assert_eq!(p_plain, p_fused, "{config:?}, step {step}");
                for (layer, &got) in sq.iter().enumerate() {
                    let want: f64 = tensors
                        .iter()
                        .filter(|t| t.layer == layer)
                        .map(|t| linalg::sum_squares(&grads[t.offset..t.offset + t.len]))
                        .sum();
                    assert!(
                        (got - want).abs() <= 1e-12 * want,
                        "{config:?}: layer {layer} {got} vs {want}"
                    );
                }
            }
            assert_eq!(plain.steps(), fused.steps());
            assert_eq!(plain.scalars(), fused.scalars());
            for ((_, a), (_, b)) in plain.buffers().iter().zip(fused.buffers()) {
                assert_eq!(a, &b);
            }
        }
    }

    /// The other optimizers, and tensors that do not tile the parameters, leave
    /// everything as it was.
    #[test]
    fn measured_step_declines_without_changing_anything() {
        let (tensors, len) = layout();
        let rmsprop = Optimizer::RmsProp {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
            weight_decay: 0.0,
        };
        let mut o = Optim::<f32>::new(&rmsprop, len);
        let mut p = values(len, 7, 0.01);
        let before = p.clone();
        let mut sq = vec![0.0; 2];
        assert_eq!(
            o.step_measured(&mut p, &values(len, 3, 0.1), 0.1, &tensors, &mut sq),
            None
        );
        assert_eq!(
            (p.clone(), o.steps(), sq.clone()),
            (before.clone(), 0, vec![0.0; 2])
        );

        let sgd = Optimizer::Sgd {
            lr: 0.1,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        };
        let mut o = Optim::<f32>::new(&sgd, len);
        let gap = [tensors[0].clone(), tensors[2].clone()];
        assert_eq!(
            o.step_measured(&mut p, &values(len, 3, 0.1), 0.1, &gap, &mut sq),
            None
        );
        assert_eq!((p, o.steps()), (before, 0));
    }

    /// The names of the state a checkpoint keeps (`optim.{name}` tensors and the
    /// run state's scalars) are part of the checkpoint format.
    #[test]
    fn state_names_are_the_checkpoint_format() {
        let configs: [(Optimizer, &[&str], &[&str]); 6] = [
            (
                Optimizer::Sgd {
                    lr: 0.1,
                    momentum: 0.9,
                    dampening: 0.0,
                    nesterov: false,
                    weight_decay: 0.0,
                },
                &["momentum"],
                &[],
            ),
            (
                Optimizer::Adam {
                    lr: 0.01,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: 0.0,
                    amsgrad: true,
                },
                &["m", "v", "vmax"],
                &[],
            ),
            (
                Optimizer::AdamW {
                    lr: 0.01,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: 0.01,
                },
                &["m", "v", "vmax"],
                &[],
            ),
            (
                Optimizer::RmsProp {
                    lr: 0.01,
                    alpha: 0.99,
                    eps: 1e-8,
                    momentum: 0.9,
                    centered: true,
                    weight_decay: 0.0,
                },
                &["square_avg", "grad_avg", "momentum"],
                &[],
            ),
            (
                Optimizer::Adagrad {
                    lr: 0.01,
                    eps: 1e-10,
                    weight_decay: 0.0,
                },
                &["sum"],
                &[],
            ),
            (
                Optimizer::NAdam {
                    lr: 0.01,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: 0.0,
                    momentum_decay: 0.004,
                },
                &["m", "v"],
                &["mu_product"],
            ),
        ];
        for (config, buffers, scalars) in configs {
            let mut o = Optim::<f64>::new(&config, 5);
            let names: Vec<_> = o.buffers().into_iter().map(|(n, _)| n).collect();
            assert_eq!(names, buffers, "{config:?}");
            let names: Vec<_> = o.buffers_mut().into_iter().map(|(n, _)| n).collect();
            assert_eq!(names, buffers, "{config:?}");
            let names: Vec<_> = o.scalars().into_iter().map(|(n, _)| n).collect();
            assert_eq!(names, scalars, "{config:?}");
            for name in scalars {
                assert!(o.set_scalar(name, 0.25));
            }
            assert_eq!(
                o.scalars().into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
                vec![0.25; scalars.len()]
            );
            assert!(!o.set_scalar("no_such_scalar", 1.0));
            o.set_steps(7);
            assert_eq!(o.steps(), 7);
        }
    }
}
