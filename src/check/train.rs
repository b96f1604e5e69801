//! The `train` section (§9): epochs, batch, shuffle, schedule, clipping, early stop.

use crate::ast::ExprKind;
use crate::ast::{Expr, Section, Span};
use crate::ir::{Batch, Clip, EarlyStop, Loss, Metric, Monitor, Schedule, TrainPlan};

use super::args::{bind, Args};
use super::catalog::Kind;
use super::error::CheckError;
use super::layout;
use super::values;
use super::Cx;

/// Every `monitor` in use, with where it is written or where its default
/// applies; and the recipe's loss, when it resolved, so that "did you mean"
/// suggests only monitors the run measures.
#[derive(Debug)]
pub struct Monitors {
    pub named: Vec<(Monitor, Span)>,
    pub loss: Option<Loss>,
}

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

pub fn resolve(cx: &mut Cx, sec: &Section, loss: Option<Loss>) -> Option<RTrain> {
    let before = cx.errors.len();
    let e = layout::entries(cx, sec);
    let get = |name: &str| e.value(name);
    let mut monitors = Monitors {
        named: Vec::new(),
        loss,
    };
    let epochs = match get("epochs") {
        Some(x) => values::count(cx, x, "epochs", 1),
        None => {
            layout::missing_entry(cx, sec, "epochs", "epochs = 10");
            None
        }
    };
    let batch = match get("batch") {
        Some(x) => batch(cx, x),
        None => Some(Batch::Size(32)),
    };
    let shuffle = match get("shuffle") {
        Some(x) => values::boolean(cx, x, "shuffle"),
        None => Some(true),
    };
    let lr_schedule = match get("lr_schedule") {
        Some(x) => schedule(cx, x, false, &mut monitors),
        None => Some(Schedule::Constant),
    };
    let clip = match get("clip") {
        Some(x) => clip(cx, x).map(Some),
        None => Some(None),
    };
    let early_stop = match get("early_stop") {
        Some(x) => early_stop(cx, x, &mut monitors).map(Some),
        None => Some(None),
    };
    let metrics = match get("metrics") {
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
        batch_span: get("batch").map(|x| x.span),
        monitors: monitors.named,
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
        match values::declared_value(
            cx,
            x,
            "metric",
            Kind::Value("metrics"),
            &Metric::ALL,
            Metric::name,
        ) {
            Some(m) => {
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

fn monitor(cx: &mut Cx, e: Option<&Expr>, at: Span, out: &mut Monitors) -> Option<Monitor> {
    let m = match e {
        Some(x) if unknown_for_loss(cx, x, out.loss.as_ref()) => return None,
        Some(x) => values::declared_value(
            cx,
            x,
            "monitor",
            Kind::Value("monitor"),
            &Monitor::all(),
            Monitor::name,
        )?,
        None => Monitor::ValidLoss,
    };
    out.named.push((m, e.map_or(at, |x| x.span)));
    Some(m)
}

/// Reports a monitor name that is no monitor at all, suggesting only the
/// monitors a run with `loss` measures (a regression's `valid_acuracy` is not
/// `valid_accuracy`, which it does not measure): `true` when reported. Known
/// names, and any name when the loss did not resolve, are left to
/// [`values::declared_value`].
fn unknown_for_loss(cx: &mut Cx, e: &Expr, loss: Option<&Loss>) -> bool {
    let (Some(id), Some(loss)) = (values::bare_name(e), loss) else {
        return false;
    };
    let known = super::catalog::names(Kind::Value("monitor"));
    if known.contains(&id.name.as_str()) {
        return false;
    }
    let measured: Vec<&str> = Monitor::all()
        .iter()
        .filter(|m| m.fits(loss))
        .map(Monitor::name)
        .filter(|n| known.contains(n))
        .collect();
    // Not among them either: reported with the closest of them.
    let _ = values::lookup(cx, id, "monitor", &measured);
    true
}

fn schedule(cx: &mut Cx, e: &Expr, inner: bool, monitors: &mut Monitors) -> Option<Schedule> {
    let (decl, id) =
        values::declared(cx, e, Kind::Schedule, "schedule", "cosine(min_lr = 0.0001)")?;
    // The inner schedule of a warm-up is one of the stateless ones that do not
    // nest (§9).
    if inner && matches!(decl.name, "warmup" | "reduce_on_plateau") {
        cx.err(CheckError::NestedSchedule {
            inner: decl.name.to_string(),
            span: id.span,
        });
        return None;
    }
    let b = bind(cx, e, decl);
    decl.build
        .schedule()
        .and_then(|build| build(cx, &b, monitors))
}

// The builders of the schedules, clipping rules and early stopping declared in
// `catalog`.

pub(super) fn constant(_: &mut Cx, _: &Args, _: &mut Monitors) -> Option<Schedule> {
    Some(Schedule::Constant)
}

pub(super) fn step(cx: &mut Cx, b: &Args, _: &mut Monitors) -> Option<Schedule> {
    let every = b.count(cx, "every");
    let factor = b.float(cx, "factor");
    Some(Schedule::Step {
        every: every?,
        factor: factor?,
    })
}

pub(super) fn exponential(cx: &mut Cx, b: &Args, _: &mut Monitors) -> Option<Schedule> {
    let gamma = b.float(cx, "gamma")?;
    Some(Schedule::Exponential { gamma })
}

pub(super) fn cosine(cx: &mut Cx, b: &Args, _: &mut Monitors) -> Option<Schedule> {
    let min_lr = b.float(cx, "min_lr")?;
    Some(Schedule::Cosine { min_lr })
}

pub(super) fn warmup(cx: &mut Cx, b: &Args, monitors: &mut Monitors) -> Option<Schedule> {
    let epochs = b.count(cx, "epochs");
    let then = match b.get("then") {
        Some(x) => schedule(cx, x, true, monitors),
        None => Some(Schedule::Constant),
    };
    Some(Schedule::Warmup {
        epochs: epochs?,
        then: Box::new(then?),
    })
}

pub(super) fn reduce_on_plateau(
    cx: &mut Cx,
    b: &Args,
    monitors: &mut Monitors,
) -> Option<Schedule> {
    let factor = b.float(cx, "factor");
    let patience = b.count(cx, "patience");
    let monitor = monitor(cx, b.get("monitor"), b.span, monitors);
    Some(Schedule::ReduceOnPlateau {
        factor: factor?,
        patience: patience?,
        monitor: monitor?,
    })
}

fn clip(cx: &mut Cx, e: &Expr) -> Option<Clip> {
    let (decl, _) = values::declared(cx, e, Kind::Clip, "clipping", "norm(1.0)")?;
    let b = bind(cx, e, decl);
    decl.build.clip().and_then(|build| build(cx, &b))
}

pub(super) fn clip_norm(cx: &mut Cx, b: &Args) -> Option<Clip> {
    b.float(cx, "max").map(Clip::Norm)
}

pub(super) fn clip_value(cx: &mut Cx, b: &Args) -> Option<Clip> {
    b.float(cx, "max").map(Clip::Value)
}

fn early_stop(cx: &mut Cx, e: &Expr, monitors: &mut Monitors) -> Option<EarlyStop> {
    let (decl, _) = values::declared(
        cx,
        e,
        Kind::EarlyStop,
        "early stopping rule",
        "patience(10)",
    )?;
    let b = bind(cx, e, decl);
    decl.build
        .early_stop()
        .and_then(|build| build(cx, &b, monitors))
}

pub(super) fn patience(cx: &mut Cx, b: &Args, monitors: &mut Monitors) -> Option<EarlyStop> {
    let patience = b.count(cx, "p");
    let monitor = monitor(cx, b.get("monitor"), b.span, monitors);
    let min_delta = b.float(cx, "min_delta");
    Some(EarlyStop {
        patience: patience?,
        monitor: monitor?,
        min_delta: min_delta?,
    })
}
