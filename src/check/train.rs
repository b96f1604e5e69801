//! The `train` section (§9): epochs, batch, shuffle, schedule, clipping, early stop.

use crate::ast::ExprKind;
use crate::ast::{Expr, Section, Span};
use crate::ir::{Batch, Clip, EarlyStop, Metric, Monitor, Schedule, TrainPlan};

use super::args::{bind, Sig};
use super::error::CheckError;
use super::layout;
use super::values::{self, Range};
use super::Cx;

pub const ITEMS: &[&str] = &[
    "epochs",
    "batch",
    "shuffle",
    "lr_schedule",
    "clip",
    "early_stop",
    "metrics",
];
pub const SCHEDULES: &[&str] = &[
    "constant",
    "step",
    "exponential",
    "cosine",
    "warmup",
    "reduce_on_plateau",
];
pub const MONITORS: &[&str] = &[
    "train_loss",
    "valid_loss",
    "valid_accuracy",
    "valid_precision",
    "valid_recall",
    "valid_f1",
    "valid_auc",
    "valid_rmse",
    "valid_mae",
    "valid_r2",
];
/// The names of `metrics = [...]` (§15), in [`Metric::ALL`] order.
pub const METRICS: &[&str] = &["precision", "recall", "f1", "auc", "rmse", "mae", "r2"];

#[derive(Debug, Clone)]
pub struct RTrain {
    pub plan: TrainPlan,
    /// The `batch = …` value, when written.
    pub batch_span: Option<Span>,
    /// Every `monitor` in use (early stop, reduce_on_plateau), with where it is
    /// written, or where its default applies.
    pub monitors: Vec<(Monitor, Span)>,
    /// Each listed metric with where it is written.
    pub metrics: Vec<(Metric, Span)>,
}

pub fn resolve(cx: &mut Cx, sec: &Section) -> Option<RTrain> {
    let before = cx.errors.len();
    let e = layout::entries(cx, sec, ITEMS);
    let get = |i: usize| e[i].map(|s| &s.value);
    let mut monitors = Vec::new();
    let epochs = match get(0) {
        Some(x) => values::count(cx, x, "epochs", 1),
        None => {
            layout::missing_entry(cx, sec, "epochs", "epochs = 10");
            None
        }
    };
    let batch = match get(1) {
        Some(x) => batch(cx, x),
        None => Some(Batch::Size(32)),
    };
    let shuffle = match get(2) {
        Some(x) => values::boolean(cx, x, "shuffle"),
        None => Some(true),
    };
    let lr_schedule = match get(3) {
        Some(x) => schedule(cx, x, false, &mut monitors),
        None => Some(Schedule::Constant),
    };
    let clip = match get(4) {
        Some(x) => clip(cx, x).map(Some),
        None => Some(None),
    };
    let early_stop = match get(5) {
        Some(x) => early_stop(cx, x, &mut monitors).map(Some),
        None => Some(None),
    };
    let metrics = match get(6) {
        Some(x) => metrics(cx, x),
        None => Some(Vec::new()),
    };
    if cx.errors.len() > before {
        return None;
    }
    let metrics = metrics?;
    Some(RTrain {
        plan: TrainPlan {
            epochs: epochs?,
            batch: batch?,
            shuffle: shuffle?,
            lr_schedule: lr_schedule?,
            clip: clip?,
            early_stop: early_stop?,
            metrics: metrics.iter().map(|(m, _)| *m).collect(),
        },
        batch_span: get(1).map(|x| x.span),
        monitors,
        metrics,
    })
}

/// `metrics = [f1, auc]`: a list of metric names; a name written twice counts once.
fn metrics(cx: &mut Cx, e: &Expr) -> Option<Vec<(Metric, Span)>> {
    let ExprKind::List(items) = &e.kind else {
        cx.err(CheckError::WrongType {
            expected: "a list of metric names".into(),
            found: values::describe(e),
            span: e.span,
            help: Some(format!("write `metrics = [{e}]`")),
        });
        return None;
    };
    let mut out: Vec<(Metric, Span)> = Vec::new();
    let mut ok = true;
    for x in items {
        match values::choice(cx, x, "metric", METRICS) {
            Some(i) => {
                let m = Metric::ALL[i];
                if !out.iter().any(|(seen, _)| *seen == m) {
                    out.push((m, x.span));
                }
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn batch(cx: &mut Cx, e: &Expr) -> Option<Batch> {
    if let Some(id) = values::bare_name(e) {
        if id.name == "full" {
            return Some(Batch::Full);
        }
        values::lookup(cx, id, "batch size", &["full"])?;
    }
    if !matches!(e.kind, crate::ast::ExprKind::Number(_)) {
        cx.err(CheckError::WrongType {
            expected: "a batch size".into(),
            found: values::describe(e),
            span: e.span,
            help: Some("write a number of rows such as `32`, or `full` for the whole split".into()),
        });
        return None;
    }
    values::count(cx, e, "the batch size", 1).map(Batch::Size)
}

fn monitor(
    cx: &mut Cx,
    e: Option<&Expr>,
    at: Span,
    out: &mut Vec<(Monitor, Span)>,
) -> Option<Monitor> {
    let m = match e {
        Some(x) => match values::choice(cx, x, "monitor", MONITORS)? {
            0 => Monitor::TrainLoss,
            1 => Monitor::ValidLoss,
            2 => Monitor::ValidAccuracy,
            i => Monitor::Valid(Metric::ALL[i - 3]),
        },
        None => Monitor::ValidLoss,
    };
    out.push((m, e.map_or(at, |x| x.span)));
    Some(m)
}

fn schedule(
    cx: &mut Cx,
    e: &Expr,
    inner: bool,
    monitors: &mut Vec<(Monitor, Span)>,
) -> Option<Schedule> {
    let (which, id) = values::callee_in(cx, e, "schedule", "cosine(min_lr = 0.0001)", SCHEDULES)?;
    let name = SCHEDULES[which];
    if inner && (name == "warmup" || name == "reduce_on_plateau") {
        cx.err(CheckError::NestedSchedule {
            inner: name.to_string(),
            span: id.span,
        });
        return None;
    }
    Some(match name {
        "constant" => {
            bind(
                cx,
                e,
                &Sig {
                    params: &[],
                    required: 0,
                    example: "constant",
                },
            );
            Schedule::Constant
        }
        "step" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["every", "factor"],
                    required: 1,
                    example: "step(every = 10, factor = 0.5)",
                },
            );
            let every = b.get(0).and_then(|x| values::count(cx, x, "every", 1));
            let factor = match b.get(1) {
                Some(x) => values::float_in(cx, x, "the step factor", Range::Positive),
                None => Some(0.1),
            };
            Schedule::Step {
                every: every?,
                factor: factor?,
            }
        }
        "exponential" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["gamma"],
                    required: 1,
                    example: "exponential(0.95)",
                },
            );
            let gamma = values::float_in(cx, b.get(0)?, "gamma", Range::Positive)?;
            Schedule::Exponential { gamma }
        }
        "cosine" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["min_lr"],
                    required: 0,
                    example: "cosine(min_lr = 0.0001)",
                },
            );
            let min_lr = match b.get(0) {
                Some(x) => values::float_in(cx, x, "min_lr", Range::NonNegative)?,
                None => 0.0,
            };
            Schedule::Cosine { min_lr }
        }
        "warmup" => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["epochs", "then"],
                    required: 1,
                    example: "warmup(epochs = 5, then = cosine)",
                },
            );
            let epochs = b
                .get(0)
                .and_then(|x| values::count(cx, x, "the warm-up epochs", 1));
            let then = match b.get(1) {
                Some(x) => schedule(cx, x, true, monitors),
                None => Some(Schedule::Constant),
            };
            Schedule::Warmup {
                epochs: epochs?,
                then: Box::new(then?),
            }
        }
        _ => {
            let b = bind(
                cx,
                e,
                &Sig {
                    params: &["factor", "patience", "monitor"],
                    required: 0,
                    example: "reduce_on_plateau(factor = 0.5, patience = 3)",
                },
            );
            let factor = match b.get(0) {
                Some(x) => values::float_in(cx, x, "the reduce_on_plateau factor", Range::Fraction),
                None => Some(0.1),
            };
            let patience = match b.get(1) {
                Some(x) => values::count(cx, x, "patience", 0),
                None => Some(10),
            };
            let monitor = monitor(cx, b.get(2), e.span, monitors);
            Schedule::ReduceOnPlateau {
                factor: factor?,
                patience: patience?,
                monitor: monitor?,
            }
        }
    })
}

fn clip(cx: &mut Cx, e: &Expr) -> Option<Clip> {
    let (which, _) = values::callee_in(cx, e, "clipping", "norm(1.0)", &["norm", "value"])?;
    let example = if which == 0 {
        "norm(1.0)"
    } else {
        "value(0.5)"
    };
    let b = bind(
        cx,
        e,
        &Sig {
            params: &["max"],
            required: 1,
            example,
        },
    );
    let max = values::float_in(cx, b.get(0)?, "the clipping limit", Range::Positive)?;
    Some(if which == 0 {
        Clip::Norm(max)
    } else {
        Clip::Value(max)
    })
}

fn early_stop(cx: &mut Cx, e: &Expr, monitors: &mut Vec<(Monitor, Span)>) -> Option<EarlyStop> {
    values::callee_in(cx, e, "early stopping rule", "patience(10)", &["patience"])?;
    let b = bind(
        cx,
        e,
        &Sig {
            params: &["p", "monitor", "min_delta"],
            required: 1,
            example: "patience(10, monitor = valid_loss)",
        },
    );
    let patience = b.get(0).and_then(|x| values::count(cx, x, "patience", 1));
    let monitor = monitor(cx, b.get(1), e.span, monitors);
    let min_delta = match b.get(2) {
        Some(x) => values::float_in(cx, x, "min_delta", Range::NonNegative),
        None => Some(0.0),
    };
    Some(EarlyStop {
        patience: patience?,
        monitor: monitor?,
        min_delta: min_delta?,
    })
}
