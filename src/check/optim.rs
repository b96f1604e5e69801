//! `loss` (§6), `optimizer` (§7) and `regularize` (§8).

use crate::ast::{Expr, ExprKind, Span};
use crate::ir::{Loss, Optimizer, Regularize};

use super::args::{bind, Sig};
use super::error::CheckError;
use super::values::{self, Range};
use super::Cx;

pub const LOSSES: &[&str] = &[
    "cross_entropy",
    "binary_cross_entropy",
    "mse",
    "mae",
    "huber",
];
pub const OPTIMIZERS: &[&str] = &["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam"];
pub const REGULARIZERS: &[&str] = &["l1", "l2", "max_norm"];

pub fn loss(cx: &mut Cx, e: &Expr) -> Option<Loss> {
    let (which, _) = values::callee_in(cx, e, "loss", "cross_entropy", LOSSES)?;
    Some(match LOSSES[which] {
        "cross_entropy" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["label_smoothing"],
                    required: 0,
                    example: "cross_entropy(label_smoothing = 0.1)",
                },
            );
            let label_smoothing = match b.get(0) {
                Some(x) => values::float_in(cx, x, "label_smoothing", Range::Unit)?,
                None => 0.0,
            };
            Loss::CrossEntropy { label_smoothing }
        }
        "huber" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["delta"],
                    required: 0,
                    example: "huber(delta = 1.0)",
                },
            );
            let delta = match b.get(0) {
                Some(x) => values::float_in(cx, x, "delta", Range::Positive)?,
                None => 1.0,
            };
            Loss::Huber { delta }
        }
        other => {
            bind(
                cx,
                e,
                &Sig {
                    params: &[],
                    required: 0,
                    example: "mse",
                },
            );
            match other {
                "binary_cross_entropy" => Loss::BinaryCrossEntropy,
                "mse" => Loss::Mse,
                _ => Loss::Mae,
            }
        }
    })
}

/// The resolved optimizer and the spans lints and later checks point at.
#[derive(Debug, Clone)]
pub struct ROptimizer {
    pub opt: Optimizer,
    pub span: Span,
    pub lr_span: Span,
    pub weight_decay_span: Option<Span>,
}

fn opt_float(
    cx: &mut Cx,
    x: Option<&Expr>,
    what: &str,
    range: Range,
    default: f64,
    ok: &mut bool,
) -> f64 {
    match x {
        Some(x) => match values::float_in(cx, x, what, range) {
            Some(v) => v,
            None => {
                *ok = false;
                default
            }
        },
        None => default,
    }
}

fn opt_bool(cx: &mut Cx, x: Option<&Expr>, what: &str, ok: &mut bool) -> bool {
    match x {
        Some(x) => match values::boolean(cx, x, what) {
            Some(v) => v,
            None => {
                *ok = false;
                false
            }
        },
        None => false,
    }
}

pub fn optimizer(cx: &mut Cx, e: &Expr) -> Option<ROptimizer> {
    let (which, _) = values::callee_in(cx, e, "optimizer", "adam(lr = 0.001)", OPTIMIZERS)?;
    let name = OPTIMIZERS[which];
    let sig = match name {
        "sgd" => Sig {
            params: &["lr", "momentum", "dampening", "nesterov", "weight_decay"],
            required: 1,
            example: "sgd(lr = 0.1, momentum = 0.9)",
        },
        "adam" => Sig {
            params: &["lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad"],
            required: 1,
            example: "adam(lr = 0.001)",
        },
        "adamw" => Sig {
            params: &["lr", "beta1", "beta2", "eps", "weight_decay"],
            required: 1,
            example: "adamw(lr = 0.001)",
        },
        "rmsprop" => Sig {
            params: &["lr", "alpha", "eps", "momentum", "centered", "weight_decay"],
            required: 1,
            example: "rmsprop(lr = 0.01)",
        },
        "nadam" => Sig {
            params: &[
                "lr",
                "beta1",
                "beta2",
                "eps",
                "weight_decay",
                "momentum_decay",
            ],
            required: 1,
            example: "nadam(lr = 0.002)",
        },
        _ => Sig {
            params: &["lr", "eps", "weight_decay"],
            required: 1,
            example: "adagrad(lr = 0.01)",
        },
    };
    let b = bind(cx, e, &sig);
    let mut ok = true;
    let idx = |p: &str| sig.params.iter().position(|q| *q == p);
    let arg = |p: &str| idx(p).and_then(|i| b.get(i));
    let lr_expr = arg("lr");
    let lr = match lr_expr {
        Some(x) => values::float_in(cx, x, "the learning rate", Range::Positive),
        None => None,
    };
    // Keep checking the other arguments when lr is wrong, so all errors are reported.
    if lr.is_none() {
        ok = false;
    }
    let lr = lr.unwrap_or(1.0);
    let wd_expr = arg("weight_decay");
    let wd_default = if name == "adamw" { 0.01 } else { 0.0 };
    let weight_decay = opt_float(
        cx,
        wd_expr,
        "weight_decay",
        Range::NonNegative,
        wd_default,
        &mut ok,
    );
    let opt = match name {
        "sgd" => {
            // Nesterov's conditions depend on these three alone: a wrong learning
            // rate does not hide them (every independent error at once).
            let mut momentum_ok = true;
            let momentum = opt_float(
                cx,
                arg("momentum"),
                "momentum",
                Range::NonNegative,
                0.0,
                &mut momentum_ok,
            );
            let dampening = opt_float(
                cx,
                arg("dampening"),
                "dampening",
                Range::Unit,
                0.0,
                &mut momentum_ok,
            );
            let nesterov = opt_bool(cx, arg("nesterov"), "nesterov", &mut momentum_ok);
            ok &= momentum_ok;
            if nesterov && momentum_ok {
                let span = arg("nesterov").map_or(e.span, |x| x.span);
                if momentum <= 0.0 {
                    cx.err(CheckError::Nesterov {
                        reason: "momentum > 0".into(),
                        span,
                        help: Some("add `momentum = 0.9`, or remove `nesterov = true`".into()),
                    });
                    ok = false;
                } else if dampening != 0.0 {
                    cx.err(CheckError::Nesterov {
                        reason: "dampening = 0".into(),
                        span,
                        help: Some("remove `dampening`, or remove `nesterov = true`".into()),
                    });
                    ok = false;
                }
            }
            Optimizer::Sgd {
                lr,
                momentum,
                dampening,
                nesterov,
                weight_decay,
            }
        }
        "adam" | "adamw" => {
            let beta1 = opt_float(cx, arg("beta1"), "beta1", Range::UnitOpen, 0.9, &mut ok);
            let beta2 = opt_float(cx, arg("beta2"), "beta2", Range::UnitOpen, 0.999, &mut ok);
            let eps = opt_float(cx, arg("eps"), "eps", Range::Positive, 1e-8, &mut ok);
            if name == "adam" {
                let amsgrad = opt_bool(cx, arg("amsgrad"), "amsgrad", &mut ok);
                Optimizer::Adam {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    amsgrad,
                }
            } else {
                Optimizer::AdamW {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                }
            }
        }
        "rmsprop" => {
            let alpha = opt_float(cx, arg("alpha"), "alpha", Range::Unit, 0.99, &mut ok);
            let eps = opt_float(cx, arg("eps"), "eps", Range::Positive, 1e-8, &mut ok);
            let momentum = opt_float(
                cx,
                arg("momentum"),
                "momentum",
                Range::NonNegative,
                0.0,
                &mut ok,
            );
            let centered = opt_bool(cx, arg("centered"), "centered", &mut ok);
            Optimizer::RmsProp {
                lr,
                alpha,
                eps,
                momentum,
                centered,
                weight_decay,
            }
        }
        "nadam" => {
            let beta1 = opt_float(cx, arg("beta1"), "beta1", Range::UnitOpen, 0.9, &mut ok);
            let beta2 = opt_float(cx, arg("beta2"), "beta2", Range::UnitOpen, 0.999, &mut ok);
            let eps = opt_float(cx, arg("eps"), "eps", Range::Positive, 1e-8, &mut ok);
            let momentum_decay = opt_float(
                cx,
                arg("momentum_decay"),
                "momentum_decay",
                Range::NonNegative,
                0.004,
                &mut ok,
            );
            Optimizer::NAdam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                momentum_decay,
            }
        }
        _ => {
            let eps = opt_float(cx, arg("eps"), "eps", Range::Positive, 1e-10, &mut ok);
            Optimizer::Adagrad {
                lr,
                eps,
                weight_decay,
            }
        }
    };
    let lr_span = lr_expr.map_or(e.span, |x| x.span);
    ok.then(|| ROptimizer {
        opt,
        span: e.span,
        lr_span,
        weight_decay_span: wd_expr.map(|x| x.span),
    })
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
        let Some((which, id)) = values::callee_in(cx, x, "regulariser", "l2(1e-4)", REGULARIZERS)
        else {
            ok = false;
            continue;
        };
        let name = REGULARIZERS[which];
        let (param, example) = match name {
            "l1" => ("lambda", "l1(1e-5)"),
            "l2" => ("lambda", "l2(1e-4)"),
            _ => ("c", "max_norm(3.0)"),
        };
        let params: &'static [&'static str] = if param == "c" { &["c"] } else { &["lambda"] };
        let b = bind(
            cx,
            x,
            &Sig {
                params,
                required: 1,
                example,
            },
        );
        let range = if name == "max_norm" {
            Range::Positive
        } else {
            Range::NonNegative
        };
        let what = if name == "max_norm" {
            "the max_norm limit"
        } else {
            "lambda"
        };
        let Some(v) = b.get(0).and_then(|a| values::float_in(cx, a, what, range)) else {
            ok = false;
            continue;
        };
        match name {
            "l1" => {
                out.reg.l1 += v;
                out.reg.has_penalty = true;
            }
            "l2" => {
                out.reg.l2 += v;
                out.reg.has_penalty = true;
                out.l2_span.get_or_insert(x.span);
            }
            _ => {
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
