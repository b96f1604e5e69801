//! The run's state as safetensors tensors and metadata: what `save` writes (the
//! model), what `init_from` reads, and what a checkpoint holds and `--resume`
//! restores: the model, optimizer buffers `optim.{name}`, best-epoch parameters
//! `best.{name}`, and in the metadata one typed, versioned [`RunState`] (epoch,
//! fingerprint, optimizer step count and scalars, random streams' word positions,
//! schedule, early-stop and detector state, the last and best epoch events).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::events::EpochEvent;
use crate::io::model_file::{self, ModelMeta};
use crate::io::weights::{OutTensor, WeightsError, WeightsFile};
use crate::ir::Metric;
use crate::ir::Program;
use crate::rng::{generator, Stream};
use crate::train::diagnose::DiagnoseState;
use crate::train::float::Float;
use crate::train::network::Network;
use crate::train::trainer::Trainer;
use crate::train::TrainError;

/// The checkpoint marker of the first versions (`format`), refused as format 1.
const LEGACY_FORMAT: &str = "nnt-checkpoint-1";
/// The checkpoint marker (`nnt.checkpoint`): checkpoints are model files (§15) with
/// the run's state in further tensors and metadata.
const CHECKPOINT_KEY: &str = "nnt.checkpoint";

/// The model-file metadata of a program's model (§15).
pub fn model_meta(program: &Program) -> ModelMeta {
    let prep = program
        .data
        .prep
        .as_ref()
        .and_then(|p| serde_json::to_value(p).ok());
    ModelMeta::new(&program.model, &program.loss, program.precision, prep)
}

/// The model's tensors in `nn.Sequential` order: dense `k.weight`, `k.bias`; batch
/// norm `k.weight`, `k.bias`, `k.running_mean`, `k.running_var`.
pub fn model_tensors<T: Float>(net: &Network<T>) -> Vec<OutTensor> {
    let stats = net.running_stats();
    let params = net.storage().declared(&net.params);
    let mut out = Vec::new();
    for (pos, slot) in net.layers.iter().enumerate() {
        for t in net.tensors.iter().filter(|t| t.layer == pos) {
            out.push(OutTensor {
                name: t.name.clone(),
                shape: t.shape.clone(),
                data: params[t.offset..t.offset + t.len]
                    .iter()
                    .map(|v| v.to_f64())
                    .collect(),
            });
        }
        let prefix = format!("{}.", slot.index);
        for (name, v) in stats.iter().filter(|(n, _)| n.starts_with(&prefix)) {
            out.push(OutTensor {
                name: name.clone(),
                shape: vec![v.len()],
                data: v.iter().map(|x| x.to_f64()).collect(),
            });
        }
    }
    out
}

/// Replaces the parameters (and the running statistics present in the file) with
/// the file's tensors `{prefix}{name}`. Every parameter must be there with the
/// model's shape; the first missing or mis-shaped one is reported.
pub fn load_parameters<T: Float>(
    net: &mut Network<T>,
    file: &WeightsFile,
    prefix: &str,
) -> Result<(), WeightsError> {
    for i in 0..net.tensors.len() {
        let (name, shape, off, len) = {
            let t = &net.tensors[i];
            (
                format!("{prefix}{}", t.name),
                t.shape.clone(),
                t.offset,
                t.len,
            )
        };
        let values = file.get(&name, &shape)?;
        convert(&mut net.params[off..off + len], values, file, &name)?;
    }
    net.storage().from_declared(&mut net.params);
    for (name, buf) in net.running_stats_mut() {
        let shape = [buf.len()];
        let name = format!("{prefix}{name}");
        if let Some(values) = file.get_optional(&name, &shape)? {
            convert(buf, values, file, &name)?;
        }
    }
    Ok(())
}

/// Whether the weights file at `path` loads into `program`'s model as
/// `init_from` does at the start of a run (every tensor there with its shape,
/// finite in the run's precision), without a run: for `nnt check`.
pub fn check_init_from(program: &Program, path: &std::path::Path) -> Result<(), WeightsError> {
    let file = WeightsFile::read(path)?;
    match program.precision {
        crate::ir::Precision::F32 => {
            load_parameters(&mut Network::<f32>::new(&program.model, 1), &file, "")
        }
        crate::ir::Precision::F64 => {
            load_parameters(&mut Network::<f64>::new(&program.model, 1), &file, "")
        }
    }
}

/// Copies a file's values into the run's precision; a value that is not finite
/// there (NaN, ±inf, or an F64 beyond F32's range) is an error naming the tensor.
fn convert<T: Float>(
    dst: &mut [T],
    values: &[f64],
    file: &WeightsFile,
    name: &str,
) -> Result<(), WeightsError> {
    for (i, (d, &v)) in dst.iter_mut().zip(values).enumerate() {
        *d = T::of(v);
        if !d.is_finite() {
            let detail = if v.is_finite() {
                format!(" in {:?} (element {i} is {v:e})", T::DTYPE)
            } else {
                format!(" (element {i} is {v})")
            };
            return Err(WeightsError::NonFinite {
                path: file.path.clone(),
                name: name.to_string(),
                detail,
            });
        }
    }
    Ok(())
}

/// The checkpoint format, in the `nnt.checkpoint` marker and in
/// [`RunState::version`]. Format 1 kept the run's state as ~30 hand-keyed metadata
/// strings; it is refused with [`StateError::OldFormat`].
pub const RUN_STATE_VERSION: u32 = 2;
/// The metadata key of the run state (JSON of [`RunState`]).
const RUN_STATE_KEY: &str = "nnt.run_state";

/// Everything of a run beyond its tensors that a checkpoint keeps, so that a
/// resumed run continues bit for bit: one typed, versioned value, serialised as
/// JSON into the checkpoint's metadata. Floats are written as Rust prints them
/// (`{:?}`: shortest round trip, `inf`, `NaN`), so every bit survives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunState {
    /// [`RUN_STATE_VERSION`].
    pub version: u32,
    /// Epochs done.
    pub epoch: usize,
    /// Whether early stopping had ended the run.
    pub stopped: bool,
    /// What the checkpoint depends on ([`crate::train::fingerprint`]): component →
    /// value.
    pub fingerprint: BTreeMap<String, String>,
    pub optimizer: OptimizerState,
    /// Word positions of the shuffle and dropout streams.
    #[serde(with = "text")]
    pub shuffle_word_pos: u128,
    #[serde(with = "text")]
    pub dropout_word_pos: u128,
    pub plateau: PlateauSaved,
    /// Present when the recipe has `early_stop`.
    pub early_stop: Option<EarlyStopSaved>,
    /// Whether the `best.*` tensors (the best epoch's parameters) are present.
    pub has_best: bool,
    /// The run-time detectors' state.
    pub diagnose: DiagnoseState,
    /// The events of the last epoch and of the best epoch under early_stop (the
    /// end event's `best`, §18).
    pub last_event: Option<SavedEvent>,
    pub best_event: Option<SavedEvent>,
}

/// The optimizer's state beyond its buffers (which are `optim.{name}` tensors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerState {
    /// The optimizer's name (`adam`, …).
    pub name: String,
    /// Steps taken.
    pub steps: u64,
    /// Scalars beyond the step count, kept in f64 whatever the precision
    /// (nadam's `mu_product`).
    pub scalars: BTreeMap<String, Exact>,
}

/// `reduce_on_plateau`'s state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlateauSaved {
    pub rate: Exact,
    pub best: Exact,
    pub bad_epochs: usize,
}

/// Early stopping's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopSaved {
    pub best: Option<Exact>,
    pub best_epoch: usize,
    pub wait: usize,
}

/// An epoch event, bit for bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedEvent {
    pub epoch: usize,
    pub lr: Exact,
    pub train_loss: Exact,
    pub train_accuracy: Option<Exact>,
    pub valid_loss: Option<Exact>,
    pub valid_accuracy: Option<Exact>,
    pub penalty: Option<Exact>,
    pub grad_norm: Exact,
    pub seconds: Option<Exact>,
    /// `(metric name, value)` in the order the run logs them.
    pub valid_metrics: Vec<(String, Exact)>,
}

/// An f64 that serialises as its shortest round-trip text (`{:?}`), so that NaN,
/// ±inf and every bit survive JSON.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Exact(#[serde(with = "text_f64")] pub f64);

impl PartialEq for Exact {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

/// A value as its `Display` text, read back with `FromStr` (u128 is beyond JSON
/// numbers that every reader keeps exactly).
mod text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, V: std::fmt::Display>(v: &V, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, V: std::str::FromStr>(
        d: D,
    ) -> Result<V, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a valid number")))
    }
}

mod text_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{v:?}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a number")))
    }
}

impl SavedEvent {
    fn of(e: &EpochEvent) -> Self {
        let x = |v: Option<f64>| v.map(Exact);
        SavedEvent {
            epoch: e.epoch,
            lr: Exact(e.lr),
            train_loss: Exact(e.train_loss),
            train_accuracy: x(e.train_accuracy),
            valid_loss: x(e.valid_loss),
            valid_accuracy: x(e.valid_accuracy),
            penalty: x(e.penalty),
            grad_norm: Exact(e.grad_norm),
            seconds: x(e.seconds),
            valid_metrics: e
                .valid_metrics
                .iter()
                .map(|(m, v)| (m.name().to_string(), Exact(*v)))
                .collect(),
        }
    }

    fn event(&self) -> Result<EpochEvent, StateError> {
        let x = |v: Option<Exact>| v.map(|v| v.0);
        let mut valid_metrics = Vec::with_capacity(self.valid_metrics.len());
        for (name, v) in &self.valid_metrics {
            let m = Metric::ALL
                .iter()
                .find(|m| m.name() == name)
                .ok_or_else(|| StateError::Invalid {
                    field: "valid_metrics",
                    value: name.clone(),
                })?;
            valid_metrics.push((*m, v.0));
        }
        Ok(EpochEvent {
            epoch: self.epoch,
            lr: self.lr.0,
            train_loss: self.train_loss.0,
            train_accuracy: x(self.train_accuracy),
            valid_loss: x(self.valid_loss),
            valid_accuracy: x(self.valid_accuracy),
            valid_metrics,
            penalty: x(self.penalty),
            grad_norm: self.grad_norm.0,
            seconds: x(self.seconds),
        })
    }
}

/// Why a checkpoint's run state cannot be resumed (shown as the reason of
/// `nnt::io::bad_checkpoint`).
#[derive(Debug, Error, PartialEq)]
pub enum StateError {
    #[error("it was not written by this version of nnt")]
    NotACheckpoint,
    /// `--resume model.safetensors`, a file `save` wrote: a model, no run state.
    #[error("it is a model file (what `save` writes), not a checkpoint: it holds no optimizer or run state to continue from; resume from a checkpoint (`checkpoint {{ path = … }}` writes them), or start a run from the model with `init_from`")]
    ModelFile,
    #[error("it was written by an earlier nnt (checkpoint format {found}; this nnt reads format {RUN_STATE_VERSION}): train from the start, or resume it with the nnt that wrote it")]
    OldFormat { found: String },
    #[error("metadata `{0}` is missing")]
    Missing(&'static str),
    #[error("its run state is not valid: {0}")]
    Unreadable(String),
    #[error("it was written with optimizer {found}, the recipe uses {recipe}")]
    Optimizer { found: String, recipe: String },
    #[error("it has no fingerprint of the run that wrote it (an older nnt wrote it)")]
    NoFingerprint,
    #[error("it is from epoch {epoch} but the recipe trains {epochs} epochs")]
    BeyondEpochs { epoch: usize, epochs: usize },
    #[error("its optimizer state has no `{0}`")]
    MissingScalar(&'static str),
    #[error("`{field}` = {value} is not valid")]
    Invalid { field: &'static str, value: String },
    #[error("`plateau.rate` = {0:?} is not a learning rate of this optimizer")]
    PlateauRate(f64),
    #[error("its detector state is for a different model")]
    DetectorShape,
    #[error("`optim.{0}` holds a negative value, but it is a running sum of squares")]
    NegativeSquares(&'static str),
}

/// Why the trainer's state could not be serialised.
#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error("cannot encode the run state: {0}")]
    Encode(#[from] serde_json::Error),
    /// The model file writer refused the tensors (a non-finite value).
    #[error("{0}")]
    Tensors(String),
}

impl<T: Float> Trainer<'_, T> {
    /// The run's state beyond its tensors, after the last finished epoch.
    pub(crate) fn run_state(&self) -> RunState {
        RunState {
            version: RUN_STATE_VERSION,
            epoch: self.done,
            stopped: self.stopped,
            fingerprint: self
                .fingerprint
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            optimizer: OptimizerState {
                name: self.program.optimizer.name().to_string(),
                steps: self.optim.steps(),
                scalars: self
                    .optim
                    .scalars()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Exact(v)))
                    .collect(),
            },
            shuffle_word_pos: self.shuffle_rng.get_word_pos(),
            dropout_word_pos: self.dropout_rng.get_word_pos(),
            plateau: PlateauSaved {
                rate: Exact(self.sched.plateau.rate),
                best: Exact(self.sched.plateau.best),
                bad_epochs: self.sched.plateau.bad_epochs,
            },
            early_stop: self.stopper.as_ref().map(|s| EarlyStopSaved {
                best: s.best.map(Exact),
                best_epoch: s.best_epoch,
                wait: s.wait,
            }),
            has_best: self.best.is_some(),
            diagnose: self.diag.state.clone(),
            last_event: self.last_event.as_ref().map(SavedEvent::of),
            best_event: self.best_event.as_ref().map(SavedEvent::of),
        }
    }
}

/// The checkpoint bytes of the trainer's current state (after an epoch): the
/// model's tensors, the optimizer buffers `optim.{name}`, the best epoch's
/// `best.{name}`, and the [`RunState`] in the metadata.
pub fn serialize<T: Float>(tr: &Trainer<'_, T>) -> Result<Vec<u8>, SnapshotError> {
    let mut tensors = model_tensors(&tr.net);
    // The optimizer's buffers and the best epoch's parameters are laid out
    // like the parameters: written as declared, whatever the storage.
    for (name, buf) in tr.optim.buffers() {
        if !buf.is_empty() {
            tensors.push(OutTensor {
                name: format!("optim.{name}"),
                shape: vec![buf.len()],
                data: tr
                    .net
                    .storage()
                    .declared(buf)
                    .iter()
                    .map(|v| v.to_f64())
                    .collect(),
            });
        }
    }
    if let Some((params, stats)) = &tr.best {
        let params = tr.net.storage().declared(params);
        for t in &tr.net.tensors {
            tensors.push(OutTensor {
                name: format!("best.{}", t.name),
                shape: t.shape.clone(),
                data: params[t.offset..t.offset + t.len]
                    .iter()
                    .map(|v| v.to_f64())
                    .collect(),
            });
        }
        for ((name, _), s) in tr.net.running_stats().iter().zip(stats) {
            tensors.push(OutTensor {
                name: format!("best.{name}"),
                shape: vec![s.len()],
                data: s.iter().map(|v| v.to_f64()).collect(),
            });
        }
    }
    let mut m = HashMap::new();
    m.insert(CHECKPOINT_KEY.to_string(), RUN_STATE_VERSION.to_string());
    m.insert(
        RUN_STATE_KEY.to_string(),
        serde_json::to_string(&tr.run_state())?,
    );
    let steps = tr.optim.steps();
    model_file::serialize(&tensors, T::DTYPE, &model_meta(tr.program), steps, m)
        .map_err(SnapshotError::Tensors)
}

/// The run state of a checkpoint file; a file of the earlier format, or none of
/// nnt's, is refused.
pub fn read_state(metadata: &HashMap<String, String>) -> Result<RunState, StateError> {
    let marker = metadata.get(CHECKPOINT_KEY).map(String::as_str);
    let legacy = metadata.get("format").map(String::as_str) == Some(LEGACY_FORMAT);
    if legacy {
        return Err(StateError::OldFormat {
            found: "1".to_string(),
        });
    }
    match marker {
        Some(v) if v == RUN_STATE_VERSION.to_string() => {}
        Some(v) if v.parse::<u32>().is_ok_and(|v| v < RUN_STATE_VERSION) => {
            return Err(StateError::OldFormat {
                found: v.to_string(),
            })
        }
        None if metadata.contains_key(crate::io::model_file::LAYOUT_KEY) => {
            return Err(StateError::ModelFile)
        }
        _ => return Err(StateError::NotACheckpoint),
    }
    let text = metadata
        .get(RUN_STATE_KEY)
        .ok_or(StateError::Missing(RUN_STATE_KEY))?;
    let state: RunState =
        serde_json::from_str(text).map_err(|e| StateError::Unreadable(e.to_string()))?;
    if state.version != RUN_STATE_VERSION {
        return Err(StateError::Invalid {
            field: "version",
            value: state.version.to_string(),
        });
    }
    Ok(state)
}

/// Restores a trainer from a checkpoint written by [`serialize`] for the same recipe.
pub fn restore<T: Float>(tr: &mut Trainer<'_, T>, file: &WeightsFile) -> Result<(), TrainError> {
    let bad = |e: StateError| {
        TrainError::Weights(WeightsError::BadCheckpoint {
            path: file.path.clone(),
            reason: e.to_string(),
        })
    };
    let state = read_state(&file.metadata).map_err(bad)?;
    let recipe_optimizer = tr.program.optimizer.name();
    if state.optimizer.name != recipe_optimizer {
        return Err(bad(StateError::Optimizer {
            found: state.optimizer.name.clone(),
            recipe: recipe_optimizer.to_string(),
        }));
    }
    if state.fingerprint.is_empty() {
        return Err(bad(StateError::NoFingerprint));
    }
    let differ = crate::train::fingerprint::differences(&tr.fingerprint, &state.fingerprint);
    if !differ.is_empty() {
        return Err(TrainError::Weights(WeightsError::ForeignCheckpoint {
            path: file.path.clone(),
            differ: differ.join(", "),
        }));
    }
    // The model's shapes first: a checkpoint of another model says so, whatever
    // its epoch.
    load_parameters(&mut tr.net, file, "")?;
    if state.epoch > tr.program.train.epochs {
        return Err(bad(StateError::BeyondEpochs {
            epoch: state.epoch,
            epochs: tr.program.train.epochs,
        }));
    }
    // A checkpoint is written after an epoch (epoch 0 is the untrained model),
    // and no run takes more optimizer steps than its epochs' batches.
    if state.epoch == 0 {
        return Err(bad(StateError::Invalid {
            field: "epoch",
            value: "0".into(),
        }));
    }
    let most_steps = (state.epoch as u64).saturating_mul(tr.steps_per_epoch() as u64);
    if state.optimizer.steps > most_steps {
        return Err(bad(StateError::Invalid {
            field: "optimizer.steps",
            value: state.optimizer.steps.to_string(),
        }));
    }
    let storage = tr.net.storage();
    for (name, buf) in tr.optim.buffers_mut() {
        if !buf.is_empty() {
            let key = format!("optim.{name}");
            let values = file.get(&key, &[buf.len()])?;
            convert(buf, values, file, &key)?;
            storage.from_declared(buf);
            if crate::train::optim::SQUARE_BUFFERS.contains(&name)
                && buf.iter().any(|v| v.to_f64() < 0.0)
            {
                return Err(bad(StateError::NegativeSquares(name)));
            }
        }
    }
    tr.optim.set_steps(state.optimizer.steps);
    for (name, _) in tr.optim.scalars() {
        let value = state
            .optimizer
            .scalars
            .get(name)
            .ok_or(StateError::MissingScalar(name))
            .map_err(bad)?;
        tr.optim.set_scalar(name, value.0);
    }
    let seed = tr.program.seed;
    tr.shuffle_rng = generator(seed, Stream::Shuffle);
    tr.shuffle_rng.set_word_pos(state.shuffle_word_pos);
    tr.dropout_rng = generator(seed, Stream::Dropout);
    tr.dropout_rng.set_word_pos(state.dropout_word_pos);
    // Values the file may have been tampered with: a learning rate must be a
    // finite non-negative number no larger than the optimizer's, a best value
    // must not be NaN (+inf is the state before the first epoch).
    let rate = state.plateau.rate.0;
    if !(rate.is_finite() && rate >= 0.0 && rate <= tr.program.optimizer.lr()) {
        return Err(bad(StateError::PlateauRate(rate)));
    }
    let best = state.plateau.best.0;
    if best.is_nan() || best == f64::NEG_INFINITY {
        return Err(bad(StateError::Invalid {
            field: "plateau.best",
            value: format!("{best:?}"),
        }));
    }
    tr.sched.plateau.rate = rate;
    tr.sched.plateau.best = best;
    tr.sched.plateau.bad_epochs = state.plateau.bad_epochs;
    if let Some(s) = tr.stopper.as_mut() {
        let saved = state
            .early_stop
            .as_ref()
            .ok_or(StateError::Missing("early_stop"))
            .map_err(bad)?;
        if let Some(v) = saved.best.filter(|v| !v.0.is_finite()) {
            return Err(bad(StateError::Invalid {
                field: "early_stop.best",
                value: format!("{:?}", v.0),
            }));
        }
        s.best = saved.best.map(|v| v.0);
        s.best_epoch = saved.best_epoch;
        s.wait = saved.wait;
    }
    if state.has_best {
        let mut params = tr.net.params.clone();
        for t in &tr.net.tensors {
            let name = format!("best.{}", t.name);
            let values = file.get(&name, &t.shape)?;
            convert(&mut params[t.offset..t.offset + t.len], values, file, &name)?;
        }
        tr.net.storage().from_declared(&mut params);
        let mut stats = Vec::new();
        for (name, cur) in tr.net.running_stats() {
            let name = format!("best.{name}");
            let values = file.get(&name, &[cur.len()])?;
            let mut s = vec![T::zero(); cur.len()];
            convert(&mut s, values, file, &name)?;
            stats.push(s);
        }
        tr.best = Some((params, stats));
    }
    let n = tr.diag.layers.len();
    let d = &state.diagnose;
    let widths_match = d
        .alive
        .iter()
        .zip(&tr.diag.state.alive)
        .all(|(a, b)| a.len() == b.len());
    if d.grad_mean.len() != n || d.epoch_grad_max.len() != n || d.alive.len() != n || !widths_match
    {
        return Err(bad(StateError::DetectorShape));
    }
    tr.last_event = state
        .last_event
        .as_ref()
        .map(SavedEvent::event)
        .transpose()
        .map_err(bad)?;
    tr.best_event = state
        .best_event
        .as_ref()
        .map(SavedEvent::event)
        .transpose()
        .map_err(bad)?;
    tr.diag.state = state.diagnose;
    tr.stopped = state.stopped;
    tr.done = state.epoch;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> RunState {
        RunState {
            version: RUN_STATE_VERSION,
            epoch: 3,
            stopped: false,
            fingerprint: [("seed".to_string(), "7".to_string())].into(),
            optimizer: OptimizerState {
                name: "nadam".to_string(),
                steps: 24,
                scalars: [("mu_product".to_string(), Exact(0.1 + 0.2))].into(),
            },
            shuffle_word_pos: u128::from(u64::MAX) * 5 + 3,
            dropout_word_pos: 0,
            plateau: PlateauSaved {
                rate: Exact(1e-3),
                best: Exact(f64::INFINITY),
                bad_epochs: 1,
            },
            early_stop: Some(EarlyStopSaved {
                best: None,
                best_epoch: 0,
                wait: 2,
            }),
            has_best: false,
            diagnose: DiagnoseState::default(),
            last_event: Some(SavedEvent::of(&EpochEvent {
                epoch: 3,
                lr: 0.01,
                train_loss: f64::MIN_POSITIVE,
                train_accuracy: Some(0.5),
                valid_loss: None,
                valid_accuracy: None,
                penalty: Some(-0.0),
                grad_norm: f64::NAN,
                valid_metrics: vec![(Metric::ALL[0], 1.0 / 3.0)],
                seconds: None,
            })),
            best_event: None,
        }
    }

    fn metadata(state: &RunState) -> HashMap<String, String> {
        [
            (CHECKPOINT_KEY.to_string(), RUN_STATE_VERSION.to_string()),
            (
                RUN_STATE_KEY.to_string(),
                serde_json::to_string(state).unwrap(),
            ),
        ]
        .into()
    }

    /// Every bit survives the JSON: NaN, ±inf, −0, subnormal-adjacent values,
    /// u128 word positions.
    #[test]
    fn the_run_state_round_trips_bit_for_bit() {
        let s = state();
        let back = read_state(&metadata(&s)).unwrap();
        assert_eq!(back, s);
        let ev = back.last_event.unwrap().event().unwrap();
        assert!(ev.grad_norm.is_nan());
        assert_eq!(ev.penalty.map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(ev.valid_metrics, vec![(Metric::ALL[0], 1.0 / 3.0)]);
    }

    /// Checkpoints of the first format (hand-keyed metadata) are refused as such.
    #[test]
    fn old_formats_are_refused_by_name() {
        let legacy: HashMap<String, String> =
            [("format".to_string(), LEGACY_FORMAT.to_string())].into();
        let marked: HashMap<String, String> =
            [(CHECKPOINT_KEY.to_string(), "1".to_string())].into();
        for m in [legacy, marked] {
            let e = read_state(&m).unwrap_err();
            assert_eq!(
                e,
                StateError::OldFormat {
                    found: "1".to_string()
                }
            );
            assert!(e.to_string().contains("earlier nnt (checkpoint format 1"));
        }
        let none = HashMap::new();
        assert_eq!(read_state(&none), Err(StateError::NotACheckpoint));
        let future: HashMap<String, String> =
            [(CHECKPOINT_KEY.to_string(), "3".to_string())].into();
        assert_eq!(read_state(&future), Err(StateError::NotACheckpoint));
        // A model file (`save`) says what it is, not "another version of nnt".
        let model: HashMap<String, String> = [(
            crate::io::model_file::LAYOUT_KEY.to_string(),
            "1".to_string(),
        )]
        .into();
        assert_eq!(read_state(&model), Err(StateError::ModelFile));
        assert!(StateError::ModelFile.to_string().contains("model file"));
    }

    #[test]
    fn a_state_of_another_shape_is_unreadable() {
        let mut m = metadata(&state());
        m.remove(RUN_STATE_KEY);
        assert_eq!(read_state(&m), Err(StateError::Missing(RUN_STATE_KEY)));
        let mut m = metadata(&state());
        let text = m[RUN_STATE_KEY].replace("\"epoch\":3", "\"epoch\":\"3\"");
        m.insert(RUN_STATE_KEY.to_string(), text);
        assert!(matches!(read_state(&m), Err(StateError::Unreadable(_))));
        let mut bad = state();
        bad.version = 9;
        assert_eq!(
            read_state(&metadata(&bad)),
            Err(StateError::Invalid {
                field: "version",
                value: "9".to_string()
            })
        );
    }
}
