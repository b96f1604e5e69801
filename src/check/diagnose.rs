//! The `diagnose { … }` section (an extension, issue 5): thresholds of the
//! run-time detectors, each a number or `off`.

use crate::ast::{Expr, Section};
use crate::ir::DiagnoseConfig;

use super::error::CheckError;
use super::layout;
use super::values::{self, Range};
use super::Cx;

pub const ITEMS: &[&str] = &[
    "exploding_ratio",
    "exploding_abs",
    "vanishing_ratio",
    "dead_relu_fraction",
    "plateau_delta",
    "plateau_epochs",
];

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
    let e = layout::entries(cx, sec, ITEMS);
    let mut cfg = DiagnoseConfig::default();
    let ranges = [
        ("exploding_ratio", Range::Positive),
        ("exploding_abs", Range::Positive),
        ("vanishing_ratio", Range::Positive),
        ("dead_relu_fraction", Range::UnitPositive),
        ("plateau_delta", Range::NonNegative),
    ];
    for (i, (what, range)) in ranges.iter().enumerate() {
        let Some(s) = e[i] else { continue };
        if let Some(v) = threshold(cx, &s.value, what, *range) {
            match i {
                0 => cfg.exploding_ratio = v,
                1 => cfg.exploding_abs = v,
                2 => cfg.vanishing_ratio = v,
                3 => cfg.dead_relu_fraction = v,
                _ => cfg.plateau_delta = v,
            }
        }
    }
    if let Some(s) = e[5] {
        if let Some(v) = values::count(cx, &s.value, "plateau_epochs", 1) {
            cfg.plateau_epochs = v;
        }
    }
    (cx.errors.len() == before).then_some(cfg)
}
