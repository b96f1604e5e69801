//! The `expect` section (§16): `expect { valid_accuracy = at_least(0.9) }`.
//! Each item names a field the run logs and the bound it must reach; a field this
//! recipe's run cannot log is a check error.

use crate::ast::{Entry, Section, Span};
use crate::ir::{Bound, Loss, Regularize};

use super::args::{bind, Args};
use super::catalog::Kind;
use super::data::RData;
use super::error::CheckError;
use super::suggest;
use super::values;
use super::Cx;

/// Fields of the epoch event, read from the kept epoch.
pub const EPOCH_FIELDS: &[&str] = &[
    "train_loss",
    "train_accuracy",
    "valid_loss",
    "valid_accuracy",
    "penalty",
    "grad_norm",
    "lr",
];
/// Fields of the end event.
pub const END_FIELDS: &[&str] = &["test_loss", "test_accuracy"];

/// One resolved item, before it is checked against the data, loss and penalties.
#[derive(Debug, Clone)]
pub struct RExpect {
    pub field: String,
    pub bound: Bound,
    pub span: Span,
    pub name_span: Span,
}

pub fn resolve(cx: &mut Cx, sec: &Section) -> Option<Vec<RExpect>> {
    let before = cx.errors.len();
    let known: Vec<&str> = EPOCH_FIELDS.iter().chain(END_FIELDS).copied().collect();
    let mut out: Vec<RExpect> = Vec::new();
    for e in &sec.entries {
        let s = match e {
            Entry::Layer(expr) => {
                cx.err(CheckError::LayerOutsideModel {
                    section: sec.name.name.clone(),
                    span: expr.span,
                });
                continue;
            }
            Entry::Setting(s) => s,
        };
        let name = &s.name;
        if !known.contains(&name.name.as_str()) {
            cx.err(CheckError::UnknownName {
                what: "logged field".into(),
                name: name.name.clone(),
                span: name.span,
                help: suggest::help(&name.name, &known)
                    .or_else(|| Some(format!("the fields are: {}", known.join(", ")))),
            });
            continue;
        }
        if let Some(prev) = out.iter().find(|r| r.field == name.name) {
            cx.err(CheckError::DuplicateItem {
                name: name.name.clone(),
                span: name.span,
                first: Some(prev.name_span).filter(|p| p.source == name.span.source),
            });
            continue;
        }
        let Some((decl, _)) = values::declared(
            cx,
            &s.value,
            Kind::Expectation,
            "expectation",
            "at_least(0.9)",
        ) else {
            continue;
        };
        let b = bind(cx, &s.value, decl);
        let bound = decl.build.expectation().and_then(|build| build(cx, &b));
        let Some(bound) = bound else {
            continue;
        };
        out.push(RExpect {
            field: name.name.clone(),
            bound,
            span: s.span,
            name_span: name.span,
        });
    }
    (cx.errors.len() == before).then_some(out)
}

// The builders of the expectations declared in `catalog`. The bound is any number
// (not checked for a range).

pub(super) fn at_least(cx: &mut Cx, b: &Args) -> Option<Bound> {
    let x = values::float(cx, b.get("value")?, "the bound")?;
    Some(Bound::AtLeast(x))
}

pub(super) fn at_most(cx: &mut Cx, b: &Args) -> Option<Bound> {
    let x = values::float(cx, b.get("value")?, "the bound")?;
    Some(Bound::AtMost(x))
}

/// Reports the fields that this recipe's run does not log.
pub fn loggable(
    cx: &mut Cx,
    items: &[RExpect],
    data: Option<&RData>,
    loss: Option<Loss>,
    regularize: Option<&Regularize>,
) {
    for item in items {
        let f = item.field.as_str();
        let missing = if f.starts_with("valid_") && data.is_some_and(|d| d.spec.valid.is_none()) {
            Some((
                "the recipe has no valid split",
                "add `valid = split(train, 0.2)` to `data`",
            ))
        } else if f.starts_with("test_") && data.is_some_and(|d| d.spec.test.is_none()) {
            Some((
                "the recipe has no test split",
                "add `test = split(train, 0.2)` to `data`",
            ))
        } else if f.ends_with("_accuracy") && loss.is_some_and(|l| !l.is_classification()) {
            Some((
                "accuracy is only measured for classification losses",
                "expect a loss instead, e.g. `valid_loss = at_most(0.1)`",
            ))
        } else if f == "penalty" && regularize.is_some_and(|r| !r.has_penalty) {
            Some((
                "`regularize` holds no l1 or l2 penalty",
                "add `regularize = [l2(1e-4)]`, or expect another field",
            ))
        } else {
            None
        };
        if let Some((reason, help)) = missing {
            cx.err(CheckError::NotLogged {
                field: item.field.clone(),
                reason: reason.into(),
                span: item.name_span,
                help: Some(help.into()),
            });
        }
    }
}
