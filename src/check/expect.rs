//! The `expect` section (§16): `expect { valid_accuracy = at_least(0.9) }`.
//! Each item names a field the run logs and the bound it must reach; a field this
//! recipe's run cannot log is a check error.
//!
//! The fields are declared here once: [`EPOCH_FIELDS`], [`END_FIELDS`] and the
//! `valid_NAME`/`test_NAME` fields of each metric (`ir::Metric`, logged when
//! `train { metrics = [NAME] }` lists it); [`fields`] is every one of them, and
//! `train::expect::field` reads each from the events.

use crate::ast::{Entry, Section, Span};
use crate::ir::{Bound, Loss, Metric, Regularize};

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

/// Every field `expect` can name: the epoch fields, each metric's `valid_NAME`,
/// the end fields, each metric's `test_NAME`.
pub fn fields() -> Vec<&'static str> {
    EPOCH_FIELDS
        .iter()
        .copied()
        .chain(Metric::ALL.iter().map(Metric::valid_name))
        .chain(END_FIELDS.iter().copied())
        .chain(Metric::ALL.iter().map(Metric::test_name))
        .collect()
}

/// The fields that measure the model, in [`fields`]' order: every field but the
/// run's own gradient norm and learning rate (a sweep's summary columns, §18).
pub fn metric_fields() -> Vec<&'static str> {
    fields()
        .into_iter()
        .filter(|f| !matches!(*f, "grad_norm" | "lr"))
        .collect()
}

/// The metric whose `valid_NAME` or `test_NAME` field `field` is.
pub fn metric_of(field: &str) -> Option<Metric> {
    Metric::ALL
        .into_iter()
        .find(|m| m.valid_name() == field || m.test_name() == field)
}

/// The help for an unknown name with no close match: the epoch and end
/// fields, the fields of the metrics this recipe lists (`listed`), and how a
/// metric's fields are logged.
fn known_help(listed: &[Metric]) -> String {
    let shown: Vec<&str> = EPOCH_FIELDS
        .iter()
        .copied()
        .chain(listed.iter().map(Metric::valid_name))
        .chain(END_FIELDS.iter().copied())
        .chain(listed.iter().map(Metric::test_name))
        .collect();
    format!(
        "expected one of: {}; a metric NAME in `train {{ metrics = [...] }}` is logged as valid_NAME and test_NAME",
        shown.join(", ")
    )
}

/// One valid item: a known field, named once, and its bound.
#[derive(Debug, Clone)]
pub struct RExpect {
    pub field: String,
    pub bound: Bound,
    pub span: Span,
}

/// A known field named by an item (its first item when it is named twice),
/// whatever its bound: what [`loggable`] judges.
#[derive(Debug, Clone)]
pub struct Named {
    pub field: String,
    pub span: Span,
}

/// The items of the section whose field and bound are valid, the fields named
/// (each known field once, also of an item whose bound is wrong), and whether
/// every item is valid. Each part of an item is checked on its own (the field
/// is known, not named before, and its bound valid), and the named fields are
/// still checked against the recipe ([`loggable`]), so that one error hides no
/// other (§13). `listed`: the metrics of `train { metrics = [...] }`, for the
/// help.
pub fn resolve(cx: &mut Cx, sec: &Section, listed: &[Metric]) -> (Vec<RExpect>, Vec<Named>, bool) {
    let before = cx.errors.len();
    let known = fields();
    let mut out: Vec<RExpect> = Vec::new();
    let mut named: Vec<Named> = Vec::new();
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
        // The field: known, and named once.
        let mut field_ok = false;
        if !known.contains(&name.name.as_str()) {
            cx.err(CheckError::UnknownName {
                what: "logged field".into(),
                name: name.name.clone(),
                span: name.span,
                help: Some(match suggest::closest(&name.name, &known) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => known_help(listed),
                }),
            });
        } else if let Some(prev) = named.iter().find(|r| r.field == name.name) {
            cx.err(CheckError::DuplicateItem {
                name: name.name.clone(),
                span: name.span,
                first: Some(prev.span).filter(|p| p.source == name.span.source),
            });
        } else {
            named.push(Named {
                field: name.name.clone(),
                span: name.span,
            });
            field_ok = true;
        }
        // The bound, whatever the field.
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
        let (Some(bound), true) = (bound, field_ok) else {
            continue;
        };
        out.push(RExpect {
            field: name.name.clone(),
            bound,
            span: s.span,
        });
    }
    let ok = cx.errors.len() == before;
    (out, named, ok)
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

/// Reports the fields that this recipe's run does not log. `metrics`: the
/// metrics `train` lists (`None` when `train` does not check: no metric field
/// is judged then).
pub fn loggable(
    cx: &mut Cx,
    items: &[Named],
    data: Option<&RData>,
    loss: Option<Loss>,
    regularize: Option<&Regularize>,
    metrics: Option<&[Metric]>,
) {
    for item in items {
        let f = item.field.as_str();
        let metric = metric_of(f);
        let unlisted = metric.filter(|m| metrics.is_some_and(|l| !l.contains(m)));
        let unfit = metric.filter(|m| loss.is_some_and(|l| !m.fits(&l)));
        // The split the field is measured on, and what the field needs besides:
        // every reason is given at once (§13), the split's first.
        let split = if f.starts_with("valid_") && data.is_some_and(|d| d.spec.valid.is_none()) {
            Some((
                "the recipe has no valid split".to_string(),
                "add `valid = split(train, 0.2)` to `data`".to_string(),
            ))
        } else if f.starts_with("test_") && data.is_some_and(|d| d.spec.test.is_none()) {
            Some((
                "the recipe has no test split".to_string(),
                "add `test = split(train, 0.2)` to `data`".to_string(),
            ))
        } else {
            None
        };
        let other = if f.ends_with("_accuracy") && loss.is_some_and(|l| !l.is_classification()) {
            Some((
                "accuracy is only measured for classification losses".to_string(),
                format!(
                    "expect a loss instead, e.g. `{}_loss = at_most(0.1)`",
                    f.split('_').next().unwrap_or("valid")
                ),
            ))
        } else if f == "penalty" && regularize.is_some_and(|r| !r.has_penalty) {
            // A list the recipe has (with max_norm) is added to, not given twice.
            let listed = regularize.is_some_and(|r| r.max_norm.is_some());
            Some((
                "`regularize` holds no l1 or l2 penalty".to_string(),
                if listed {
                    "add `l2(1e-4)` to the `regularize` list, or expect another field"
                } else {
                    "add `regularize = [l2(1e-4)]`, or expect another field"
                }
                .to_string(),
            ))
        } else if let (Some(m), Some(l)) = (unfit, loss) {
            // A listed metric that does not fit is `metric_loss` at the list.
            unlisted.map(|_| {
                (
                    format!("`{}` is not measured for {}", m.name(), l.name()),
                    fitting_help(&l),
                )
            })
        } else {
            unlisted.map(|m| {
                (
                    format!("`train` has no `{}` in `metrics`", m.name()),
                    if metrics.is_some_and(|l| !l.is_empty()) {
                        format!("add `{}` to `train`'s `metrics`", m.name())
                    } else {
                        format!("add `metrics = [{}]` to `train`", m.name())
                    },
                )
            })
        };
        let (reasons, helps): (Vec<String>, Vec<String>) = split.into_iter().chain(other).unzip();
        if !reasons.is_empty() {
            cx.err(CheckError::NotLogged {
                field: item.field.clone(),
                reason: reasons.join(", and "),
                span: item.span,
                help: Some(helps.join("; ")),
            });
        }
    }
}

/// The metrics a run with `loss` can log, as a help.
fn fitting_help(loss: &Loss) -> String {
    let names: Vec<&str> = Metric::ALL
        .iter()
        .filter(|m| m.fits(loss))
        .map(Metric::name)
        .collect();
    format!(
        "a run with {} can log {} (as valid_NAME and test_NAME)",
        loss.name(),
        names.join(", ")
    )
}
