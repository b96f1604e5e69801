//! The training engine: runs a checked [`crate::ir::Program`] and reports
//! what happens through an [`crate::events::Observer`].
//!
//! Layout: one concept per file. `layers/`, `losses/`, `optim/` hold the numerical
//! pieces (forward and backward side by side); `network` owns the parameters and
//! every buffer (allocated once); `trainer` is the epoch loop; `snapshot` turns the
//! run's state into checkpoint tensors and back.

pub mod clip;
pub mod diagnose;
pub mod early_stop;
pub mod expect;
pub mod fingerprint;
pub mod finite;
pub mod float;
pub mod infer;
pub mod init;
pub mod layers;
pub mod linalg;
pub mod losses;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod penalty;
pub mod preflight;
pub mod schedule;
pub mod simd;
pub mod small_product;
pub mod snapshot;
pub mod trainer;
pub mod view;
pub mod vmath;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use miette::Diagnostic;
use thiserror::Error;

use crate::events::{EndEvent, Observer};
use crate::io::weights::WeightsError;
use crate::ir::{Precision, Program};

/// How to run, beyond the recipe.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Continue from this checkpoint (`--resume`).
    pub resume: Option<PathBuf>,
    /// Add wall-clock fields to the events (`--timings`).
    pub timings: bool,
    /// Set by a Ctrl-C handler: finish the current step, checkpoint, stop.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Further files the run reads, as (role, path): the recipe, the data files.
    /// No output may replace one.
    pub inputs: Vec<(String, PathBuf)>,
    /// Further files the caller writes after the run (role, path), e.g. `--plot`:
    /// probed before training like `save`.
    pub outputs: Vec<(String, PathBuf)>,
    /// Threads of the run's team (`--threads N`); `None`: every core
    /// (`linalg::default_threads`). The results are the same for any count.
    pub threads: Option<usize>,
}

/// The result of a run; the `end` event has already been sent to the observer.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// Reason `Diverged` means the caller exits with status 3.
    pub end: EndEvent,
}

/// What can stop a run other than the training itself: files.
#[derive(Debug, Error, Diagnostic)]
pub enum TrainError {
    /// Weights, `init_from`, `save`, checkpoint and resume file problems.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Weights(#[from] WeightsError),
    /// An output that is an input, cannot be written, or a locked checkpoint directory.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] crate::io::guard::IoError),
}

/// Trains `program`, sending every event to `observer`. The observer is `Send`
/// because the run may execute inside a thread team (the calling thread still
/// does all the observing).
pub fn run(
    program: &Program,
    opts: &RunOptions,
    observer: &mut (dyn Observer + Send),
) -> Result<RunOutcome, TrainError> {
    // Held until the run ends: the checkpoint directory is this run's.
    let _lock = preflight::prepare(program, opts)?;
    match program.precision {
        Precision::F32 => trainer::Trainer::<f32>::new(program, opts)?.run(observer),
        Precision::F64 => trainer::Trainer::<f64>::new(program, opts)?.run(observer),
    }
}
