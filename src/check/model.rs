//! The `model` section: layers, their arguments and initialisers (§5). Widths are
//! filled in later, once the data's feature count is known.

use crate::ast::{Entry, Expr, Section, Span};
use crate::ir::{Init, LayerKind};

use super::args::{bind, Sig};
use super::error::CheckError;
use super::values::{self, Range};
use super::Cx;

pub const LAYERS: &[&str] = &[
    "dense",
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "gelu",
    "softmax",
    "leaky_relu",
    "elu",
    "dropout",
    "batch_norm",
    "layer_norm",
    "input",
];

pub const INITS: &[&str] = &[
    "he_uniform",
    "he_normal",
    "xavier_uniform",
    "xavier_normal",
    "lecun_normal",
    "normal",
    "uniform",
    "zeros",
    "torch_default",
];

/// A layer as resolved before the data is known.
#[derive(Debug, Clone)]
pub struct RLayer {
    pub kind: LayerKind,
    pub span: Span,
    /// The span of the explicit `init = …`, when given.
    pub init_span: Option<Span>,
}

#[derive(Debug, Clone)]
pub struct RModel {
    /// `input(N)` when written first.
    pub input: Option<(usize, Span)>,
    pub layers: Vec<RLayer>,
    /// The section's name, for errors about the model as a whole.
    pub span: Span,
}

pub fn resolve(cx: &mut Cx, sec: &Section) -> Option<RModel> {
    let before = cx.errors.len();
    let mut input = None;
    let mut layers: Vec<RLayer> = Vec::new();
    let mut explicit_init: Vec<bool> = Vec::new();
    for (pos, entry) in sec.entries.iter().enumerate() {
        let e = match entry {
            Entry::Setting(s) => {
                let help = if super::train::ITEMS.contains(&s.name.name.as_str()) {
                    Some(format!("`{}` belongs in the `train` section", s.name.name))
                } else {
                    Some("write layers on their own, one per line: `dense(16)`, `relu`".to_string())
                };
                cx.err(CheckError::SettingInModel {
                    name: s.name.name.clone(),
                    span: s.name.span,
                    help,
                });
                continue;
            }
            Entry::Layer(e) => e,
        };
        let Some((which, _)) = values::callee_in(cx, e, "layer", "dense(16)", LAYERS) else {
            continue;
        };
        if LAYERS[which] == "input" {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["features"],
                    required: 1,
                    example: "input(4)",
                },
            );
            let n = b
                .get(0)
                .and_then(|x| values::count_in(cx, x, "the input width", 1, values::MAX_SIZE));
            if pos != 0 || input.is_some() {
                cx.err(CheckError::InputNotFirst { span: e.span });
            } else if let Some(n) = n {
                input = Some((n, e.span));
            }
            continue;
        }
        if let Some((kind, init_span)) = layer(cx, e, LAYERS[which]) {
            explicit_init.push(init_span.is_some());
            layers.push(RLayer {
                kind,
                span: e.span,
                init_span,
            });
        }
    }
    if cx.errors.len() > before {
        return None;
    }
    if !layers
        .iter()
        .any(|l| matches!(l.kind, LayerKind::Dense { .. }))
    {
        cx.err(CheckError::NoDenseLayer {
            span: sec.name.span,
        });
        return None;
    }
    // The default initialiser depends on the next layer that is not dropout,
    // batch_norm or layer_norm (§5).
    for i in 0..layers.len() {
        if explicit_init[i] {
            continue;
        }
        let next = layers[i + 1..]
            .iter()
            .find(|l| {
                !matches!(
                    l.kind,
                    LayerKind::Dropout { .. }
                        | LayerKind::BatchNorm { .. }
                        | LayerKind::LayerNorm { .. }
                )
            })
            .map(|l| l.kind.clone());
        if let LayerKind::Dense { init, .. } = &mut layers[i].kind {
            *init = default_init(next.as_ref());
        }
    }
    Some(RModel {
        input,
        layers,
        span: sec.name.span,
    })
}

/// §5: he_uniform before the relu family and gelu, xavier_uniform otherwise.
pub fn default_init(next: Option<&LayerKind>) -> Init {
    match next {
        Some(
            LayerKind::Relu | LayerKind::LeakyRelu { .. } | LayerKind::Elu { .. } | LayerKind::Gelu,
        ) => Init::HeUniform,
        _ => Init::XavierUniform,
    }
}

fn layer(cx: &mut Cx, e: &Expr, name: &str) -> Option<(LayerKind, Option<Span>)> {
    let none = Sig {
        params: &[],
        required: 0,
        example: "relu",
    };
    let kind = match name {
        "dense" | "linear" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["units", "init", "bias"],
                    required: 1,
                    example: "dense(16)",
                },
            );
            let units = b
                .get(0)
                .and_then(|x| values::count_in(cx, x, "units", 1, values::MAX_SIZE));
            // Every argument is checked before giving up, so all errors are reported.
            let init = match b.get(1) {
                Some(x) => init(cx, x).map(Some),
                None => Some(None),
            };
            let bias = match b.get(2) {
                Some(x) => values::boolean(cx, x, "bias"),
                None => Some(true),
            };
            let (init, bias) = (init?, bias?);
            let init_span = b.get(1).map(|x| x.span);
            return Some((
                LayerKind::Dense {
                    units: units?,
                    init: init.unwrap_or(Init::XavierUniform),
                    bias,
                },
                init_span,
            ));
        }
        "relu" | "sigmoid" | "tanh" | "gelu" | "softmax" => {
            // No parameters: any argument is reported as one too many.
            bind(cx, e, &none);
            match name {
                "relu" => LayerKind::Relu,
                "sigmoid" => LayerKind::Sigmoid,
                "tanh" => LayerKind::Tanh,
                "gelu" => LayerKind::Gelu,
                _ => LayerKind::Softmax,
            }
        }
        "leaky_relu" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["slope"],
                    required: 0,
                    example: "leaky_relu(0.01)",
                },
            );
            let slope = match b.get(0) {
                Some(x) => values::float_in(cx, x, "the slope", Range::Any)?,
                None => 0.01,
            };
            LayerKind::LeakyRelu { slope }
        }
        "elu" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["alpha"],
                    required: 0,
                    example: "elu(1.0)",
                },
            );
            let alpha = match b.get(0) {
                Some(x) => values::float_in(cx, x, "alpha", Range::Any)?,
                None => 1.0,
            };
            LayerKind::Elu { alpha }
        }
        "dropout" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["p"],
                    required: 1,
                    example: "dropout(0.1)",
                },
            );
            let p = values::float_in(cx, b.get(0)?, "the dropout probability", Range::UnitOpen)?;
            LayerKind::Dropout { p }
        }
        "batch_norm" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["momentum", "eps"],
                    required: 0,
                    example: "batch_norm(momentum = 0.1)",
                },
            );
            let momentum = match b.get(0) {
                Some(x) => values::float_in(cx, x, "the batch_norm momentum", Range::Unit)?,
                None => 0.1,
            };
            let eps = match b.get(1) {
                Some(x) => values::float_in(cx, x, "eps", Range::Positive)?,
                None => 1e-5,
            };
            LayerKind::BatchNorm { momentum, eps }
        }
        "layer_norm" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["eps"],
                    required: 0,
                    example: "layer_norm(eps = 1e-5)",
                },
            );
            let eps = match b.get(0) {
                Some(x) => values::float_in(cx, x, "eps", Range::Positive)?,
                None => 1e-5,
            };
            LayerKind::LayerNorm { eps }
        }
        _ => return None,
    };
    Some((kind, None))
}

/// An initialiser expression: `he_uniform`, `normal(std = 0.02)`, …
pub fn init(cx: &mut Cx, e: &Expr) -> Option<Init> {
    let (which, _) = values::callee_in(cx, e, "initialiser", "he_uniform", INITS)?;
    let name = INITS[which];
    let none = Sig {
        params: &[],
        required: 0,
        example: "he_uniform",
    };
    Some(match name {
        "normal" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["std"],
                    required: 0,
                    example: "normal(std = 0.01)",
                },
            );
            let std = match b.get(0) {
                Some(x) => values::float_in(cx, x, "std", Range::NonNegative)?,
                None => 0.01,
            };
            Init::Normal { std }
        }
        "uniform" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["limit"],
                    required: 0,
                    example: "uniform(limit = 0.05)",
                },
            );
            let limit = match b.get(0) {
                Some(x) => values::float_in(cx, x, "limit", Range::NonNegative)?,
                None => 0.05,
            };
            Init::Uniform { limit }
        }
        other => {
            bind(cx, e, &none);
            match other {
                "he_uniform" => Init::HeUniform,
                "he_normal" => Init::HeNormal,
                "xavier_uniform" => Init::XavierUniform,
                "xavier_normal" => Init::XavierNormal,
                "lecun_normal" => Init::LecunNormal,
                "zeros" => Init::Zeros,
                _ => Init::TorchDefault,
            }
        }
    })
}
