//! Optimizers (§7), PyTorch's update rules over the flat parameter vector. The
//! state buffers are allocated once, at construction; `step` allocates nothing.

pub mod adagrad;
pub mod adam;
pub mod adamw;
pub mod rmsprop;
pub mod sgd;

use crate::ir::Optimizer;
use crate::train::float::Float;

/// One optimizer with its state, for `len` parameters.
#[derive(Debug, Clone)]
pub enum Optim<T> {
    Sgd(sgd::Sgd<T>),
    Adam(adam::Adam<T>),
    AdamW(adamw::AdamW<T>),
    RmsProp(rmsprop::RmsProp<T>),
    Adagrad(adagrad::Adagrad<T>),
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
        }
    }

    /// One update of `params` with gradient `grads` at learning rate `lr`.
    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        match self {
            Optim::Sgd(o) => o.step(params, grads, lr),
            Optim::Adam(o) => o.step(params, grads, lr),
            Optim::AdamW(o) => o.step(params, grads, lr),
            Optim::RmsProp(o) => o.step(params, grads, lr),
            Optim::Adagrad(o) => o.step(params, grads, lr),
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        match self {
            Optim::Sgd(o) => o.steps,
            Optim::Adam(o) => o.steps,
            Optim::AdamW(o) => o.inner.steps,
            Optim::RmsProp(o) => o.steps,
            Optim::Adagrad(o) => o.steps,
        }
    }

    pub fn set_steps(&mut self, steps: u64) {
        match self {
            Optim::Sgd(o) => o.steps = steps,
            Optim::Adam(o) => o.steps = steps,
            Optim::AdamW(o) => o.inner.steps = steps,
            Optim::RmsProp(o) => o.steps = steps,
            Optim::Adagrad(o) => o.steps = steps,
        }
    }

    /// The state buffers by name, for checkpoints.
    pub fn buffers(&self) -> Vec<(&'static str, &[T])> {
        match self {
            Optim::Sgd(o) => vec![("momentum", &o.momentum_buf[..])],
            Optim::Adam(o) => vec![("m", &o.m[..]), ("v", &o.v[..]), ("vmax", &o.vmax[..])],
            Optim::AdamW(o) => vec![
                ("m", &o.inner.m[..]),
                ("v", &o.inner.v[..]),
                ("vmax", &o.inner.vmax[..]),
            ],
            Optim::RmsProp(o) => vec![
                ("square_avg", &o.square_avg[..]),
                ("grad_avg", &o.grad_avg[..]),
                ("momentum", &o.momentum_buf[..]),
            ],
            Optim::Adagrad(o) => vec![("sum", &o.sum[..])],
        }
    }

    pub fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<T>)> {
        match self {
            Optim::Sgd(o) => vec![("momentum", &mut o.momentum_buf)],
            Optim::Adam(o) => vec![("m", &mut o.m), ("v", &mut o.v), ("vmax", &mut o.vmax)],
            Optim::AdamW(o) => vec![
                ("m", &mut o.inner.m),
                ("v", &mut o.inner.v),
                ("vmax", &mut o.inner.vmax),
            ],
            Optim::RmsProp(o) => vec![
                ("square_avg", &mut o.square_avg),
                ("grad_avg", &mut o.grad_avg),
                ("momentum", &mut o.momentum_buf),
            ],
            Optim::Adagrad(o) => vec![("sum", &mut o.sum)],
        }
    }
}
