//! The `diagnose { … }` section (an extension, issue 5): thresholds of the
//! run-time detectors, each a number or `off`.

use crate::ast::{Expr, Section};
use crate::ir::DiagnoseConfig;

use super::error::CheckError;
use super::layout;
use super::values::{self, Range};
use super::Cx;

/// A threshold: a number in `range`, or `off`.
fn threshold(cx: &mut Cx, e: &Expr, what: &str, range: Range) -> Option<Option<f64>> {
    if let Some(id) = values::bare_name(e) {
        if id.name == "off" {
            return Some(None);
        }
        values::lookup(cx, id, "threshold", &["off"])?;
    }
    if !matches!(e.kind, crate::ast::ExprKind::Number(_)) {
        cx.err(CheckError::WrongType {
            expected: "a number or `off`".into(),
            found: values::describe(e),
            span: e.span,
            help: Some(format!(
                "write a threshold for {what}, or `off` to turn the detector off"
            )),
        });
        return None;
    }
    values::float_in(cx, e, what, range).map(Some)
}

pub fn resolve(cx: &mut Cx, sec: &Section) -> Option<DiagnoseConfig> {
    let before = cx.errors.len();
    let e = layout::entries(cx, sec);
    let mut cfg = DiagnoseConfig::default();
    type Field = fn(&mut DiagnoseConfig) -> &mut Option<f64>;
    let thresholds: [(&str, Range, Field); 5] = [
        ("exploding_ratio", Range::Positive, |c| {
            &mut c.exploding_ratio
        }),
        ("exploding_abs", Range::Positive, |c| &mut c.exploding_abs),
        ("vanishing_ratio", Range::Positive, |c| {
            &mut c.vanishing_ratio
        }),
        ("dead_relu_fraction", Range::UnitPositive, |c| {
            &mut c.dead_relu_fraction
        }),
        ("plateau_delta", Range::NonNegative, |c| {
            &mut c.plateau_delta
        }),
    ];
    for (what, range, field) in thresholds {
        let Some(x) = e.value(what) else { continue };
        if let Some(v) = threshold(cx, x, what, range) {
            *field(&mut cfg) = v;
        }
    }
    if let Some(x) = e.value("plateau_epochs") {
        if let Some(v) = values::count(cx, x, "plateau_epochs", 1) {
            cfg.plateau_epochs = v;
        }
    }
    (cx.errors.len() == before).then_some(cfg)
}
