//! `loss` (§6), `optimizer` (§7) and `regularize` (§8).

use crate::ast::{Expr, ExprKind, Span};
use crate::ir::{Loss, Optimizer, Regularize};

use super::args::{bind, Args};
use super::catalog::Kind;
use super::error::CheckError;
use super::values;
use super::Cx;

pub fn loss(cx: &mut Cx, e: &Expr) -> Option<Loss> {
    let (decl, _) = values::declared(cx, e, Kind::Loss, "loss", "cross_entropy")?;
    let args = bind(cx, e, decl);
    decl.build.loss().and_then(|build| build(cx, &args))
}

// The builders of the losses declared in `catalog`.

pub(super) fn cross_entropy(cx: &mut Cx, b: &Args) -> Option<Loss> {
    let label_smoothing = b.float(cx, "label_smoothing")?;
    Some(Loss::CrossEntropy { label_smoothing })
}

pub(super) fn huber(cx: &mut Cx, b: &Args) -> Option<Loss> {
    let delta = b.float(cx, "delta")?;
    Some(Loss::Huber { delta })
}

pub(super) fn binary_cross_entropy(_: &mut Cx, _: &Args) -> Option<Loss> {
    Some(Loss::BinaryCrossEntropy)
}

pub(super) fn mse(_: &mut Cx, _: &Args) -> Option<Loss> {
    Some(Loss::Mse)
}

pub(super) fn mae(_: &mut Cx, _: &Args) -> Option<Loss> {
    Some(Loss::Mae)
}

/// The resolved optimizer and the spans lints and later checks point at.
#[derive(Debug, Clone)]
pub struct ROptimizer {
    pub opt: Optimizer,
    pub span: Span,
    pub lr_span: Span,
    pub weight_decay_span: Option<Span>,
}

pub fn optimizer(cx: &mut Cx, e: &Expr) -> Option<ROptimizer> {
    let (decl, _) = values::declared(cx, e, Kind::Optimizer, "optimizer", "adam(lr = 0.001)")?;
    let b = bind(cx, e, decl);
    let opt = decl.build.optimizer().and_then(|build| build(cx, &b))?;
    Some(ROptimizer {
        opt,
        span: e.span,
        lr_span: b.get("lr").map_or(e.span, |x| x.span),
        weight_decay_span: b.get("weight_decay").map(|x| x.span),
    })
}

/// The learning rate and weight decay, read first by every optimizer (every
/// independent error is reported: a wrong learning rate does not hide the rest).
pub(super) fn lr_and_decay(cx: &mut Cx, b: &Args) -> (Option<f64>, Option<f64>) {
    let lr = b.float(cx, "lr");
    let weight_decay = b.float(cx, "weight_decay");
    (lr, weight_decay)
}

// The builders of the optimizers declared in `catalog`.

pub(super) fn sgd(cx: &mut Cx, b: &Args) -> Option<Optimizer> {
    let (lr, weight_decay) = lr_and_decay(cx, b);
    // Nesterov's conditions depend on these three alone: a wrong learning rate
    // does not hide them (every independent error at once).
    let momentum = b.float(cx, "momentum");
    let dampening = b.float(cx, "dampening");
    let nesterov = b.boolean(cx, "nesterov");
    let (momentum, dampening, nesterov) = (momentum?, dampening?, nesterov?);
    if nesterov {
        // Both conditions are reported, and the help speaks of what is written
        // (a momentum given as 0 is set, not added; nesterov may be positional).
        let span = b.get("nesterov").map_or(b.span, |x| x.span);
        let mut ok = true;
        if momentum <= 0.0 {
            let fix = if b.get("momentum").is_some() {
                "set `momentum` above 0 (for example 0.9)"
            } else {
                "add `momentum = 0.9`"
            };
            cx.err(CheckError::Nesterov {
                reason: "momentum > 0".into(),
                span,
                help: Some(format!("{fix}, or turn nesterov off (`nesterov = false`)")),
            });
            ok = false;
        }
        if dampening != 0.0 {
            cx.err(CheckError::Nesterov {
                reason: "dampening = 0".into(),
                span,
                help: Some("set `dampening = 0`, or turn nesterov off (`nesterov = false`)".into()),
            });
            ok = false;
        }
        if !ok {
            return None;
        }
    }
    Some(Optimizer::Sgd {
        lr: lr?,
        momentum,
        dampening,
        nesterov,
        weight_decay: weight_decay?,
    })
}

pub(super) fn adam(cx: &mut Cx, b: &Args) -> Option<Optimizer> {
    let (lr, weight_decay) = lr_and_decay(cx, b);
    let beta1 = b.float(cx, "beta1");
    let beta2 = b.float(cx, "beta2");
    let eps = b.float(cx, "eps");
    let amsgrad = b.boolean(cx, "amsgrad");
    Some(Optimizer::Adam {
        lr: lr?,
        beta1: beta1?,
        beta2: beta2?,
        eps: eps?,
        weight_decay: weight_decay?,
        amsgrad: amsgrad?,
    })
}

pub(super) fn adamw(cx: &mut Cx, b: &Args) -> Option<Optimizer> {
    let (lr, weight_decay) = lr_and_decay(cx, b);
    let beta1 = b.float(cx, "beta1");
    let beta2 = b.float(cx, "beta2");
    let eps = b.float(cx, "eps");
    Some(Optimizer::AdamW {
        lr: lr?,
        beta1: beta1?,
        beta2: beta2?,
        eps: eps?,
        weight_decay: weight_decay?,
    })
}

pub(super) fn rmsprop(cx: &mut Cx, b: &Args) -> Option<Optimizer> {
    let (lr, weight_decay) = lr_and_decay(cx, b);
    let alpha = b.float(cx, "alpha");
    let eps = b.float(cx, "eps");
    let momentum = b.float(cx, "momentum");
    let centered = b.boolean(cx, "centered");
    Some(Optimizer::RmsProp {
        lr: lr?,
        alpha: alpha?,
        eps: eps?,
        momentum: momentum?,
        centered: centered?,
        weight_decay: weight_decay?,
    })
}

pub(super) fn adagrad(cx: &mut Cx, b: &Args) -> Option<Optimizer> {
    let (lr, weight_decay) = lr_and_decay(cx, b);
    let eps = b.float(cx, "eps");
    Some(Optimizer::Adagrad {
        lr: lr?,
        eps: eps?,
        weight_decay: weight_decay?,
    })
}

/// One entry of `regularize`, as its builder reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Penalty {
    L1(f64),
    L2(f64),
    MaxNorm(f64),
}

pub(super) fn l1(cx: &mut Cx, b: &Args) -> Option<Penalty> {
    b.float(cx, "lambda").map(Penalty::L1)
}

pub(super) fn l2(cx: &mut Cx, b: &Args) -> Option<Penalty> {
    b.float(cx, "lambda").map(Penalty::L2)
}

pub(super) fn max_norm(cx: &mut Cx, b: &Args) -> Option<Penalty> {
    b.float(cx, "c").map(Penalty::MaxNorm)
}

/// The resolved `regularize` list, with the span of an `l2` entry (for a lint).
#[derive(Debug, Clone, Default)]
pub struct RRegularize {
    pub reg: Regularize,
    pub l2_span: Option<Span>,
}

pub fn regularize(cx: &mut Cx, e: &Expr) -> Option<RRegularize> {
    let ExprKind::List(items) = &e.kind else {
        cx.err(CheckError::WrongType {
            expected: "a list".into(),
            found: values::describe(e),
            span: e.span,
            help: Some(format!("write `regularize = [{e}]`")),
        });
        return None;
    };
    let mut out = RRegularize::default();
    let mut ok = true;
    let mut max_norm_at: Option<Span> = None;
    for x in items {
        let Some((decl, id)) =
            values::declared(cx, x, Kind::Regularizer, "regulariser", "l2(1e-4)")
        else {
            ok = false;
            continue;
        };
        let b = bind(cx, x, decl);
        let penalty = decl.build.penalty().and_then(|build| build(cx, &b));
        let Some(penalty) = penalty else {
            ok = false;
            continue;
        };
        match penalty {
            Penalty::L1(v) => {
                out.reg.l1 += v;
                out.reg.has_penalty = true;
            }
            Penalty::L2(v) => {
                out.reg.l2 += v;
                out.reg.has_penalty = true;
                out.l2_span.get_or_insert(x.span);
            }
            Penalty::MaxNorm(v) => {
                if let Some(first) = max_norm_at {
                    cx.err(CheckError::DuplicateItem {
                        name: "max_norm".into(),
                        span: id.span,
                        first: Some(first),
                    });
                    ok = false;
                } else {
                    max_norm_at = Some(id.span);
                    out.reg.max_norm = Some(v);
                }
            }
        }
    }
    ok.then_some(out)
}
