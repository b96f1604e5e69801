//! Check-time warnings (§13, issue 5): recipes that are valid but waste a training
//! run. Each variant's doc comment gives a minimal model that triggers it; the full
//! recipe is `tests/fixtures/warn/<name>.nnt`. None fires on a reasonable recipe.

use miette::Diagnostic;
use thiserror::Error;

use crate::ast::Span;
use crate::ir::{Family, Init, LayerKind, Loss, Optimizer};

use super::error::same_source;
use super::model::RModel;
use super::optim::{ROptimizer, RRegularize};

#[derive(Debug, Error, Diagnostic)]
pub enum Lint {
    /// `model { dense(3); softmax }` with `loss = cross_entropy`.
    #[error("softmax before cross_entropy: softmax is applied twice")]
    #[diagnostic(
        code(nnt::lint::softmax_before_cross_entropy),
        severity(Warning),
        help(
            "remove this `softmax`: cross_entropy takes raw logits and applies log-softmax itself"
        )
    )]
    SoftmaxBeforeCrossEntropy {
        #[label(primary, "softmax on the output")]
        span: Span,
        #[label("already includes a softmax")]
        loss: Option<Span>,
    },

    /// `model { dense(1); sigmoid }` with `loss = binary_cross_entropy`.
    #[error("sigmoid before binary_cross_entropy: the sigmoid is applied twice")]
    #[diagnostic(
        code(nnt::lint::sigmoid_before_binary_cross_entropy),
        severity(Warning),
        help("remove this `sigmoid`: binary_cross_entropy takes a raw logit and applies the sigmoid itself")
    )]
    SigmoidBeforeBinaryCrossEntropy {
        #[label(primary, "sigmoid on the output")]
        span: Span,
        #[label("already includes a sigmoid")]
        loss: Option<Span>,
    },

    /// Four `dense(8); sigmoid` pairs and no `batch_norm`.
    #[error("{count} sigmoid/tanh layers and no batch_norm: gradients are likely to vanish")]
    #[diagnostic(
        code(nnt::lint::deep_saturating_stack),
        severity(Warning),
        help("use relu (or gelu) in the hidden layers, or add batch_norm before the activations")
    )]
    DeepSaturatingStack {
        count: usize,
        #[label(primary, "the first of {count} saturating activations")]
        span: Span,
        #[label("the deepest")]
        last: Option<Span>,
    },

    /// `dense(16, init = xavier_uniform); relu`
    #[error("`{init}` does not suit the `{activation}` that follows")]
    #[diagnostic(code(nnt::lint::init_mismatch), severity(Warning))]
    InitMismatch {
        init: String,
        activation: String,
        #[label(primary, "{init}")]
        span: Span,
        #[label("followed by {activation}")]
        next: Option<Span>,
        #[help]
        help: Option<String>,
    },

    /// `dense(16); batch_norm`
    #[error("the dense layer's bias is redundant before batch_norm")]
    #[diagnostic(
        code(nnt::lint::bias_before_batch_norm),
        severity(Warning),
        help("batch_norm subtracts the mean, cancelling the bias: write `dense(…, bias = false)`")
    )]
    BiasBeforeBatchNorm {
        #[label(primary, "has a bias")]
        span: Span,
        #[label("removes it again")]
        norm: Option<Span>,
    },

    /// `dense(16); dense(3)`
    #[error("two dense layers with no activation between them collapse into one linear map")]
    #[diagnostic(
        code(nnt::lint::stacked_dense),
        severity(Warning),
        help("add an activation such as `relu` between them, or remove one")
    )]
    StackedDense {
        #[label(primary, "no activation before this layer")]
        span: Span,
        #[label("the previous dense layer")]
        previous: Option<Span>,
    },

    /// `optimizer = sgd(lr = 5)`
    #[error("learning rate {lr} is far outside the usual range for {optimizer} ({low} to {high})")]
    #[diagnostic(code(nnt::lint::learning_rate), severity(Warning))]
    LearningRate {
        lr: String,
        optimizer: String,
        low: String,
        high: String,
        #[label(primary, "unusual for {optimizer}")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// `model { dense(3); dropout(0.5) }`
    #[error("dropout on the model's output")]
    #[diagnostic(
        code(nnt::lint::dropout_on_output),
        severity(Warning),
        help("dropout belongs between hidden layers; on the output it zeroes predictions during training")
    )]
    DropoutOnOutput {
        #[label(primary, "the last layer")]
        span: Span,
    },

    /// `regularize = [l2(1e-4)]` with `optimizer = adamw(lr = 0.001)`.
    #[error("l2 together with adamw's weight_decay: the weights are decayed twice")]
    #[diagnostic(
        code(nnt::lint::double_weight_decay),
        severity(Warning),
        help("keep one: remove `l2`, or set `weight_decay = 0` in adamw")
    )]
    DoubleWeightDecay {
        #[label(primary, "l2 penalty")]
        span: Span,
        #[label("adamw decays the weights too")]
        optimizer: Option<Span>,
    },
}

impl Lint {
    pub fn primary(&self) -> Span {
        use Lint::*;
        match self {
            SoftmaxBeforeCrossEntropy { span, .. }
            | SigmoidBeforeBinaryCrossEntropy { span, .. }
            | DeepSaturatingStack { span, .. }
            | InitMismatch { span, .. }
            | BiasBeforeBatchNorm { span, .. }
            | StackedDense { span, .. }
            | LearningRate { span, .. }
            | DropoutOnOutput { span }
            | DoubleWeightDecay { span, .. } => *span,
        }
    }
}

fn is_relu_family(k: &LayerKind) -> bool {
    k.family() == Family::ReluLike
}

fn is_saturating(k: &LayerKind) -> bool {
    k.family() == Family::Saturating
}

/// Layers that neither change the function class nor count as an activation.
fn is_transparent(k: &LayerKind) -> bool {
    k.family() == Family::Transparent
}

/// Lints of the model alone and with the loss.
pub fn model(model: &RModel, loss: Option<(Loss, Span)>) -> Vec<Lint> {
    let mut out = Vec::new();
    let layers = &model.layers;
    if let (Some(last), Some((loss, loss_span))) = (layers.last(), loss) {
        match (&last.kind, loss) {
            (LayerKind::Softmax, Loss::CrossEntropy { .. }) => {
                out.push(Lint::SoftmaxBeforeCrossEntropy {
                    span: last.span,
                    loss: same_source(last.span, Some(loss_span)),
                })
            }
            (LayerKind::Sigmoid, Loss::BinaryCrossEntropy) => {
                out.push(Lint::SigmoidBeforeBinaryCrossEntropy {
                    span: last.span,
                    loss: same_source(last.span, Some(loss_span)),
                })
            }
            _ => {}
        }
    }
    if let Some(last) = layers.last() {
        if matches!(last.kind, LayerKind::Dropout { .. }) {
            out.push(Lint::DropoutOnOutput { span: last.span });
        }
    }
    let saturating: Vec<&super::model::RLayer> =
        layers.iter().filter(|l| is_saturating(&l.kind)).collect();
    let has_norm = layers.iter().any(|l| l.kind.normalises());
    if saturating.len() >= 4 && !has_norm {
        let first = saturating[0].span;
        out.push(Lint::DeepSaturatingStack {
            count: saturating.len(),
            span: first,
            last: saturating.last().map(|l| l.span).filter(|s| *s != first),
        });
    }
    for (i, l) in layers.iter().enumerate() {
        let LayerKind::Dense { init, bias, .. } = &l.kind else {
            continue;
        };
        if *bias {
            if let Some(n) = layers.get(i + 1) {
                if matches!(n.kind, LayerKind::BatchNorm { .. }) {
                    out.push(Lint::BiasBeforeBatchNorm {
                        span: l.span,
                        norm: Some(n.span),
                    });
                }
            }
        }
        if let Some(init_span) = l.init_span {
            if let Some(next) = layers[i + 1..]
                .iter()
                .find(|n| !n.kind.family().init_looks_past())
            {
                let relu_bad = matches!(
                    init,
                    Init::XavierUniform | Init::XavierNormal | Init::LecunNormal
                );
                let he = matches!(init, Init::HeUniform | Init::HeNormal);
                let help = if is_relu_family(&next.kind) && relu_bad {
                    Some(format!(
                        "{} keeps the variance for symmetric activations; for {} use `he_uniform` or `he_normal` (the default)",
                        init.name(),
                        next.kind.name()
                    ))
                } else if is_saturating(&next.kind) && he {
                    Some(format!(
                        "{} doubles the variance for relu; for {} use `xavier_uniform` or `xavier_normal` (the default)",
                        init.name(),
                        next.kind.name()
                    ))
                } else {
                    None
                };
                if help.is_some() {
                    out.push(Lint::InitMismatch {
                        init: init.name().to_string(),
                        activation: next.kind.name().to_string(),
                        span: init_span,
                        next: same_source(init_span, Some(next.span)),
                        help,
                    });
                }
            }
        }
        // Two dense layers with only dropout/batch_norm between them.
        if let Some(next) = layers[i + 1..].iter().find(|n| !is_transparent(&n.kind)) {
            if matches!(next.kind, LayerKind::Dense { .. }) {
                out.push(Lint::StackedDense {
                    span: next.span,
                    previous: Some(l.span),
                });
            }
        }
    }
    out
}

/// Lints of the optimizer and the regularisers.
pub fn optimizer(opt: &ROptimizer, reg: Option<&RRegularize>) -> Vec<Lint> {
    let mut out = Vec::new();
    let (low, high, typical) = opt.opt.usual_lr();
    let lr = opt.opt.lr();
    if lr > high || lr < low {
        let direction = if lr > high { "diverge" } else { "barely move" };
        out.push(Lint::LearningRate {
            lr: format_num(lr),
            optimizer: opt.opt.name().to_string(),
            low: format_num(low),
            high: format_num(high),
            span: opt.lr_span,
            help: Some(format!(
                "training is likely to {direction}; {} usually works with {typical}",
                opt.opt.name()
            )),
        });
    }
    if let (Optimizer::AdamW { weight_decay, .. }, Some(reg)) = (opt.opt, reg) {
        if let Some(l2_span) = reg.l2_span {
            if weight_decay > 0.0 && reg.reg.l2 > 0.0 {
                out.push(Lint::DoubleWeightDecay {
                    span: l2_span,
                    optimizer: same_source(
                        l2_span,
                        Some(opt.weight_decay_span.unwrap_or(opt.span)),
                    ),
                });
            }
        }
    }
    out
}

/// `0.01` stays as is; very small or large rates read better as `1e-9`.
fn format_num(v: f64) -> String {
    crate::report::number::shortest(v, 1e-3..1e4)
}
