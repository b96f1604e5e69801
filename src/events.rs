//! What a training run reports, as data: produced by [`crate::train`], rendered by
//! [`crate::report`] (JSONL, terminal text, plots). The field meanings are §10 of
//! the specification.

use crate::ir::Metric;

/// Receives the events of a run as they happen.
pub trait Observer {
    fn event(&mut self, event: &Event);
    /// Called after every training step; for progress bars only (never logged).
    /// `step` counts from 1 within the epoch.
    fn step(&mut self, _epoch: usize, _step: usize, _steps_per_epoch: usize, _running_loss: f64) {}
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Start(StartEvent),
    Epoch(EpochEvent),
    Diagnostic(RunDiagnostic),
    End(EndEvent),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StartEvent {
    /// The recipe path as given on the command line.
    pub recipe: String,
    /// Trainable parameters.
    pub parameters: usize,
    pub train_rows: usize,
    pub valid_rows: Option<usize>,
    pub test_rows: Option<usize>,
    pub seed: u64,
    /// Rows removed by `missing = drop` (§14); `None` (not logged) otherwise.
    pub dropped_rows: Option<usize>,
    /// Class names (§14), for the confusion matrix of the text report; not logged.
    pub class_names: Option<Vec<String>>,
    /// The version of nnt that ran (§18).
    pub nnt: String,
    /// The recipe after `--set` overrides, in `nnt fmt` layout (§18).
    pub config: String,
    /// Classification runs: number of classes (for confusion matrices); `None` for regression.
    pub classes: Option<usize>,
    /// Total epochs planned (for progress bars; not logged).
    pub epochs: usize,
    /// Steps per epoch (for progress bars; not logged).
    pub steps_per_epoch: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EpochEvent {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub train_accuracy: Option<f64>,
    pub valid_loss: Option<f64>,
    pub valid_accuracy: Option<f64>,
    pub penalty: Option<f64>,
    pub grad_norm: f64,
    /// `valid_NAME` of each metric of `train { metrics = [...] }` (§15), in order.
    pub valid_metrics: Vec<(Metric, f64)>,
    /// Only with `--timings`.
    pub seconds: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A run-time finding about the training (§13): exploding or vanishing gradients,
/// divergence, dead units, a plateau.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDiagnostic {
    pub severity: Severity,
    /// Stable code, e.g. `nnt::train::vanishing_gradient`.
    pub code: &'static str,
    pub epoch: usize,
    /// Step within the epoch (from 1), when the finding is about one step.
    pub step: Option<usize>,
    /// `nn.Sequential` index of the layer concerned.
    pub layer: Option<usize>,
    /// 1-based recipe line of that layer (for the terminal rendering).
    pub line: Option<usize>,
    /// The index in [`crate::ir::Program::expect`] of the expectation not met
    /// (`nnt::run::expectation`; several can share a line). Not in the log.
    pub expectation: Option<usize>,
    pub message: String,
    pub help: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Completed,
    EarlyStop,
    Diverged,
    /// Stopped by Ctrl-C (an extension; never in a completed log).
    Interrupted,
}

impl EndReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::EarlyStop => "early_stop",
            EndReason::Diverged => "diverged",
            EndReason::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndEvent {
    pub reason: EndReason,
    /// Number of epoch events printed.
    pub epochs: usize,
    pub best_epoch: Option<usize>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    /// `test_NAME` of each metric of `train { metrics = [...] }` (§15), in order.
    pub test_metrics: Vec<(Metric, f64)>,
    /// Classification: confusion matrix of the test split (or valid when there is
    /// no test split), `confusion[true][predicted]`.
    pub confusion: Option<Vec<Vec<u64>>>,
    /// The kept epoch's event (§18): the best epoch under `early_stop`, else the
    /// last; only when the run completed or stopped early and that epoch ran in
    /// this process (a run resumed after it does not have it).
    pub best: Option<EpochEvent>,
    /// Where the parameters were written, when they were (§18).
    pub save: Option<String>,
    /// Only with `--timings`.
    pub seconds: Option<f64>,
    pub steps_per_second: Option<f64>,
    /// Only with `--timings` (an extension of §10): the threads of the run's
    /// team (1 when it ran alone); results never depend on it.
    pub threads: Option<usize>,
    /// Some `expect { … }` item was not met (§16): logged as `"expectations":"failed"`.
    pub expectations_failed: bool,
}
