//! The run's state as safetensors tensors and metadata: what `save` writes (the
//! model), what `init_from` reads, and what a checkpoint holds and `--resume`
//! restores (model, optimizer buffers `optim.{name}`, best-epoch parameters
//! `best.{name}`, and in the metadata the epoch, optimizer step count, schedule
//! and early-stop state and the random streams' word positions).

use std::collections::HashMap;

use crate::io::model_file::{self, ModelMeta};
use crate::io::weights::{OutTensor, WeightsError, WeightsFile};
use crate::ir::Program;
use crate::rng::{generator, Stream};
use crate::train::float::Float;
use crate::train::network::Network;
use crate::train::trainer::Trainer;
use crate::train::TrainError;

/// The checkpoint marker of earlier versions (`format`), still read.
const LEGACY_FORMAT: &str = "nnt-checkpoint-1";
/// The checkpoint marker (`nnt.checkpoint`): checkpoints are model files (§15) with
/// the run's state in further tensors and metadata.
const CHECKPOINT_KEY: &str = "nnt.checkpoint";
const CHECKPOINT_VERSION: &str = "1";

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
    let mut out = Vec::new();
    for (pos, slot) in net.layers.iter().enumerate() {
        for t in net.tensors.iter().filter(|t| t.layer == pos) {
            out.push(OutTensor {
                name: t.name.clone(),
                shape: t.shape.clone(),
                data: net.params[t.offset..t.offset + t.len]
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
        for (dst, &v) in net.params[off..off + len].iter_mut().zip(values) {
            *dst = T::of(v);
        }
    }
    for (name, buf) in net.running_stats_mut() {
        let shape = [buf.len()];
        if let Some(values) = file.get_optional(&format!("{prefix}{name}"), &shape)? {
            for (dst, &v) in buf.iter_mut().zip(values) {
                *dst = T::of(v);
            }
        }
    }
    Ok(())
}

fn f(v: f64) -> String {
    format!("{v:?}")
}

/// The checkpoint bytes of the trainer's current state (after an epoch).
pub fn serialize<T: Float>(tr: &Trainer<'_, T>) -> Result<Vec<u8>, String> {
    let mut tensors = model_tensors(&tr.net);
    for (name, buf) in tr.optim.buffers() {
        if !buf.is_empty() {
            tensors.push(OutTensor {
                name: format!("optim.{name}"),
                shape: vec![buf.len()],
                data: buf.iter().map(|v| v.to_f64()).collect(),
            });
        }
    }
    if let Some((params, stats)) = &tr.best {
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
    m.insert(CHECKPOINT_KEY.to_string(), CHECKPOINT_VERSION.to_string());
    m.insert("epoch".to_string(), tr.done.to_string());
    m.insert("stopped".to_string(), tr.stopped.to_string());
    m.insert(
        "optimizer".to_string(),
        tr.program.optimizer.name().to_string(),
    );
    m.insert("optimizer_steps".to_string(), tr.optim.steps().to_string());
    m.insert(
        "shuffle_word_pos".to_string(),
        tr.shuffle_rng.get_word_pos().to_string(),
    );
    m.insert(
        "dropout_word_pos".to_string(),
        tr.dropout_rng.get_word_pos().to_string(),
    );
    m.insert("plateau_rate".to_string(), f(tr.sched.plateau.rate));
    m.insert("plateau_best".to_string(), f(tr.sched.plateau.best));
    m.insert(
        "plateau_bad_epochs".to_string(),
        tr.sched.plateau.bad_epochs.to_string(),
    );
    m.insert("has_best".to_string(), tr.best.is_some().to_string());
    if let Some(s) = &tr.stopper {
        m.insert(
            "early_stop_best".to_string(),
            s.best.map_or_else(|| "none".to_string(), f),
        );
        m.insert(
            "early_stop_best_epoch".to_string(),
            s.best_epoch.to_string(),
        );
        m.insert("early_stop_wait".to_string(), s.wait.to_string());
    }
    m.insert(
        "diagnose".to_string(),
        serde_json::to_string(&tr.diag.state).map_err(|e| e.to_string())?,
    );
    let steps = tr.optim.steps();
    model_file::serialize(&tensors, T::DTYPE, &model_meta(tr.program), steps, m)
}

/// Restores a trainer from a checkpoint written by [`serialize`] for the same recipe.
pub fn restore<T: Float>(tr: &mut Trainer<'_, T>, file: &WeightsFile) -> Result<(), TrainError> {
    let bad = |reason: String| {
        TrainError::Weights(WeightsError::BadCheckpoint {
            path: file.path.clone(),
            reason,
        })
    };
    let meta = |key: &str| {
        file.metadata
            .get(key)
            .ok_or_else(|| bad(format!("metadata `{key}` is missing")))
    };
    fn parse<V: std::str::FromStr>(key: &str, s: &str) -> Result<V, String> {
        s.parse()
            .map_err(|_| format!("metadata `{key}` = {s:?} is not valid"))
    }
    let current = file.metadata.get(CHECKPOINT_KEY).map(String::as_str) == Some(CHECKPOINT_VERSION);
    let legacy = file.metadata.get("format").map(String::as_str) == Some(LEGACY_FORMAT);
    if !current && !legacy {
        return Err(bad("it was not written by this version of nnt".to_string()));
    }
    let get = |key: &str| -> Result<String, TrainError> { meta(key).cloned() };
    let epoch: usize = parse("epoch", &get("epoch")?).map_err(bad)?;
    if epoch > tr.program.train.epochs {
        return Err(bad(format!(
            "it is from epoch {epoch} but the recipe trains {} epochs",
            tr.program.train.epochs
        )));
    }
    let opt = get("optimizer")?;
    if opt != tr.program.optimizer.name() {
        return Err(bad(format!(
            "it was written with optimizer {opt}, the recipe uses {}",
            tr.program.optimizer.name()
        )));
    }
    load_parameters(&mut tr.net, file, "")?;
    for (name, buf) in tr.optim.buffers_mut() {
        if !buf.is_empty() {
            let values = file.get(&format!("optim.{name}"), &[buf.len()])?;
            for (dst, &v) in buf.iter_mut().zip(values) {
                *dst = T::of(v);
            }
        }
    }
    tr.optim
        .set_steps(parse("optimizer_steps", &get("optimizer_steps")?).map_err(bad)?);
    let seed = tr.program.seed;
    tr.shuffle_rng = generator(seed, Stream::Shuffle);
    tr.shuffle_rng
        .set_word_pos(parse("shuffle_word_pos", &get("shuffle_word_pos")?).map_err(bad)?);
    tr.dropout_rng = generator(seed, Stream::Dropout);
    tr.dropout_rng
        .set_word_pos(parse("dropout_word_pos", &get("dropout_word_pos")?).map_err(bad)?);
    tr.sched.plateau.rate = parse("plateau_rate", &get("plateau_rate")?).map_err(bad)?;
    tr.sched.plateau.best = parse("plateau_best", &get("plateau_best")?).map_err(bad)?;
    tr.sched.plateau.bad_epochs =
        parse("plateau_bad_epochs", &get("plateau_bad_epochs")?).map_err(bad)?;
    if let Some(s) = tr.stopper.as_mut() {
        let best = get("early_stop_best")?;
        s.best = if best == "none" {
            None
        } else {
            Some(parse("early_stop_best", &best).map_err(bad)?)
        };
        s.best_epoch =
            parse("early_stop_best_epoch", &get("early_stop_best_epoch")?).map_err(bad)?;
        s.wait = parse("early_stop_wait", &get("early_stop_wait")?).map_err(bad)?;
    }
    let has_best: bool = parse("has_best", &get("has_best")?).map_err(bad)?;
    if has_best {
        let mut params = tr.net.params.clone();
        for t in &tr.net.tensors {
            let values = file.get(&format!("best.{}", t.name), &t.shape)?;
            for (dst, &v) in params[t.offset..t.offset + t.len].iter_mut().zip(values) {
                *dst = T::of(v);
            }
        }
        let mut stats = Vec::new();
        for (name, cur) in tr.net.running_stats() {
            let values = file.get(&format!("best.{name}"), &[cur.len()])?;
            stats.push(values.iter().map(|&v| T::of(v)).collect());
        }
        tr.best = Some((params, stats));
    }
    let state = get("diagnose")?;
    let state: crate::train::diagnose::DiagnoseState = serde_json::from_str(&state)
        .map_err(|e| bad(format!("metadata `diagnose` is not valid: {e}")))?;
    let n = tr.diag.layers.len();
    let widths_match = state
        .alive
        .iter()
        .zip(&tr.diag.state.alive)
        .all(|(a, b)| a.len() == b.len());
    if state.grad_mean.len() != n
        || state.epoch_grad_max.len() != n
        || state.alive.len() != n
        || !widths_match
    {
        return Err(bad(
            "its detector state is for a different model".to_string()
        ));
    }
    tr.diag.state = state;
    tr.stopped = parse("stopped", &get("stopped")?).map_err(bad)?;
    tr.done = epoch;
    Ok(())
}
