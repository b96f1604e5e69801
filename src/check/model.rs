//! The `model` section: layers, their arguments and initialisers (§5). Widths are
//! filled in later, once the data's feature count is known.

use crate::ast::{Entry, Expr, Section, Span};
use crate::ir::{Family, Init, LayerKind};

use super::args::{bind, Args};
use super::catalog::Kind;
use super::error::CheckError;
use super::values;
use super::Cx;

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

/// The model section as far as it can be resolved. A layer whose arguments
/// have errors still gives its kind when its width is known (placeholder values
/// where an argument is wrong; its errors are reported and no program is
/// built), so that the checks that need the data (input width, class count)
/// are still made and a recipe reports all its errors at once (§13). `None`
/// when some entry gives no layer at all (an unknown name, `dense` without a
/// valid width), since no width after it is known.
pub fn resolve(cx: &mut Cx, sec: &Section) -> Option<RModel> {
    let mut complete = true;
    let mut input = None;
    let mut layers: Vec<RLayer> = Vec::new();
    let mut explicit_init: Vec<bool> = Vec::new();
    // Layers seen so far (known or not), settings left out: `input` comes first
    // among the layers whatever setting is misplaced before it.
    let mut pos = 0;
    for entry in &sec.entries {
        let e = match entry {
            Entry::Setting(s) => {
                let help = if super::catalog::items("train").contains(&s.name.name.as_str()) {
                    Some(format!("`{}` belongs in the `train` section", s.name.name))
                } else {
                    Some("write layers on their own, one per line: `dense(16)`, `relu`".to_string())
                };
                cx.err(CheckError::SettingInModel {
                    name: s.name.name.clone(),
                    span: s.name.span,
                    help,
                });
                // A misplaced setting changes no width: the checks that need
                // the data are still made (§13).
                continue;
            }
            Entry::Layer(e) => {
                pos += 1;
                e
            }
        };
        let Some((decl, _)) = values::declared(cx, e, Kind::Layer, "layer", "dense(16)") else {
            complete = false;
            continue;
        };
        let before = cx.errors.len();
        let b = bind(cx, e, decl);
        match decl.build.layer() {
            // `input(features)`, the one layer declaration that builds no layer.
            None => {
                let n = b.count(cx, "features");
                if pos != 1 || input.is_some() {
                    cx.err(CheckError::InputNotFirst { span: e.span });
                    complete = false;
                } else if let Some(n) = n {
                    input = Some((n, e.span));
                } else {
                    complete = false;
                }
            }
            Some(build) => {
                if let Some(kind) = build(cx, &b) {
                    let init_span = b.get("init").map(|x| x.span);
                    // A layer with errors gets the default initialiser, so that
                    // no lint judges a placeholder.
                    explicit_init.push(init_span.is_some() && cx.errors.len() == before);
                    layers.push(RLayer {
                        kind,
                        span: e.span,
                        init_span,
                    });
                } else {
                    complete = false;
                }
            }
        }
    }
    if !complete {
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
            .find(|l| !l.kind.family().init_looks_past())
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
    if next.is_some_and(|k| k.family() == Family::ReluLike) {
        Init::HeUniform
    } else {
        Init::XavierUniform
    }
}

// The builders of the layers declared in `catalog`.

/// `dense` and `linear`. Every argument is checked before giving up, so all errors
/// are reported; the default initialiser is chosen once the next layer is known.
pub(super) fn dense(cx: &mut Cx, b: &Args) -> Option<LayerKind> {
    let units = b.count(cx, "units");
    // A wrong `init` or `bias` is reported and leaves a placeholder: the width
    // is what the checks after the model need ([`resolve`]).
    let init = b.get("init").and_then(|x| init(cx, x));
    let bias = b.boolean(cx, "bias");
    Some(LayerKind::Dense {
        units: units?,
        init: init.unwrap_or(Init::XavierUniform),
        bias: bias.unwrap_or(true),
    })
}

pub(super) fn relu(_: &mut Cx, _: &Args) -> Option<LayerKind> {
    Some(LayerKind::Relu)
}

pub(super) fn sigmoid(_: &mut Cx, _: &Args) -> Option<LayerKind> {
    Some(LayerKind::Sigmoid)
}

pub(super) fn tanh(_: &mut Cx, _: &Args) -> Option<LayerKind> {
    Some(LayerKind::Tanh)
}

pub(super) fn gelu(_: &mut Cx, _: &Args) -> Option<LayerKind> {
    Some(LayerKind::Gelu)
}

pub(super) fn softmax(_: &mut Cx, _: &Args) -> Option<LayerKind> {
    Some(LayerKind::Softmax)
}

pub(super) fn leaky_relu(cx: &mut Cx, b: &Args) -> Option<LayerKind> {
    // Placeholders after an error: the width is what [`resolve`] needs.
    let slope = b.float(cx, "slope").unwrap_or(0.01);
    Some(LayerKind::LeakyRelu { slope })
}

pub(super) fn elu(cx: &mut Cx, b: &Args) -> Option<LayerKind> {
    let alpha = b.float(cx, "alpha").unwrap_or(1.0);
    Some(LayerKind::Elu { alpha })
}

pub(super) fn dropout(cx: &mut Cx, b: &Args) -> Option<LayerKind> {
    let p = b.float(cx, "p").unwrap_or(0.0);
    Some(LayerKind::Dropout { p })
}

pub(super) fn batch_norm(cx: &mut Cx, b: &Args) -> Option<LayerKind> {
    let momentum = b.float(cx, "momentum").unwrap_or(0.1);
    let eps = b.float(cx, "eps").unwrap_or(1e-5);
    Some(LayerKind::BatchNorm { momentum, eps })
}

/// An initialiser expression: `he_uniform`, `normal(std = 0.02)`, …
pub fn init(cx: &mut Cx, e: &Expr) -> Option<Init> {
    let (decl, _) = values::declared(cx, e, Kind::Init, "initialiser", "he_uniform")?;
    let b = bind(cx, e, decl);
    decl.build.init().and_then(|build| build(cx, &b))
}

// The builders of the initialisers declared in `catalog`.

pub(super) fn normal(cx: &mut Cx, b: &Args) -> Option<Init> {
    let std = b.float(cx, "std")?;
    Some(Init::Normal { std })
}

pub(super) fn uniform(cx: &mut Cx, b: &Args) -> Option<Init> {
    let limit = b.float(cx, "limit")?;
    Some(Init::Uniform { limit })
}

pub(super) fn he_uniform(_: &mut Cx, _: &Args) -> Option<Init> {
    Some(Init::HeUniform)
}

pub(super) fn he_normal(_: &mut Cx, _: &Args) -> Option<Init> {
    Some(Init::HeNormal)
}

pub(super) fn xavier_uniform(_: &mut Cx, _: &Args) -> Option<Init> {
    Some(Init::XavierUniform)
}

pub(super) fn xavier_normal(_: &mut Cx, _: &Args) -> Option<Init> {
    Some(Init::XavierNormal)
}

pub(super) fn lecun_normal(_: &mut Cx, _: &Args) -> Option<Init> {
    Some(Init::LecunNormal)
}

pub(super) fn zeros(_: &mut Cx, _: &Args) -> Option<Init> {
    Some(Init::Zeros)
}

pub(super) fn torch_default(_: &mut Cx, _: &Args) -> Option<Init> {
    Some(Init::TorchDefault)
}
