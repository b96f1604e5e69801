//! `expect { … }` (§16): the bounds a run must reach, checked once training ends
//! on the epoch whose parameters the run keeps (or, for `test_*`, the end event).

use crate::events::{EndEvent, EpochEvent, RunDiagnostic, Severity};
use crate::ir::{Bound, Expectation, Metric};
use crate::report::number::json_number;

/// The code of an unmet expectation.
pub const CODE: &str = "nnt::run::expectation";

/// The value of a logged field, when the event has it: a `test_*` field from
/// the end event, any other from `epoch`; a metric's `valid_NAME` and
/// `test_NAME` (§15) from the event's metric values.
pub fn field(name: &str, epoch: Option<&EpochEvent>, end: &EndEvent) -> Option<f64> {
    let value_of =
        |list: &[(Metric, f64)], m: Metric| list.iter().find(|(x, _)| *x == m).map(|(_, v)| *v);
    if let Some(m) = Metric::ALL.into_iter().find(|m| m.test_name() == name) {
        return value_of(&end.test_metrics, m);
    }
    if let Some(m) = Metric::ALL.into_iter().find(|m| m.valid_name() == name) {
        return value_of(&epoch?.valid_metrics, m);
    }
    match name {
        "test_loss" => end.test_loss,
        "test_accuracy" => end.test_accuracy,
        _ => {
            let e = epoch?;
            match name {
                "train_loss" => Some(e.train_loss),
                "train_accuracy" => e.train_accuracy,
                "valid_loss" => e.valid_loss,
                "valid_accuracy" => e.valid_accuracy,
                "penalty" => e.penalty,
                "grad_norm" => Some(e.grad_norm),
                "lr" => Some(e.lr),
                _ => None,
            }
        }
    }
}

/// `at least 0.9`, `at most 1e-7`: the bound as the log would spell it.
fn describe(bound: &Bound) -> String {
    match *bound {
        Bound::AtLeast(x) => format!("at least {}", json_number(x)),
        Bound::AtMost(x) => format!("at most {}", json_number(x)),
    }
}

/// One diagnostic per unmet expectation, in recipe order. `kept` is the epoch
/// whose parameters the run keeps (the best under early stopping, else the last).
pub fn unmet(
    expect: &[Expectation],
    kept: Option<&EpochEvent>,
    end: &EndEvent,
) -> Vec<RunDiagnostic> {
    let mut out = Vec::new();
    for (i, x) in expect.iter().enumerate() {
        let value = field(&x.field, kept, end);
        if value.is_some_and(|v| x.bound.holds(v)) {
            continue;
        }
        let at = if x.from_end() {
            "at the end".to_string()
        } else {
            match kept {
                Some(e) => format!("at epoch {}", e.epoch),
                None => "with no epoch logged".to_string(),
            }
        };
        // Numbers spelt as the log spells them (`1.2906609516685523e38`).
        let got = match value {
            Some(v) if v.is_finite() => json_number(v),
            Some(_) => "not a finite number".to_string(),
            None => "not logged".to_string(),
        };
        out.push(RunDiagnostic {
            severity: Severity::Error,
            code: CODE,
            epoch: kept.map_or(end.epochs, |e| e.epoch),
            step: None,
            layer: None,
            line: x.line,
            expectation: Some(i),
            message: format!(
                "expectation not met: `{}` is {got} {at}, expected {}",
                x.field,
                describe(&x.bound)
            ),
            help: None,
        });
    }
    out
}
