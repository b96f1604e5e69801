//! The run's state as safetensors tensors and metadata: what `save` writes (the
//! model), what `init_from` reads, and what a checkpoint holds and `--resume`
//! restores (model, optimizer buffers `optim.{name}`, best-epoch parameters
//! `best.{name}`, and in the metadata the epoch, optimizer step count and scalars
//! (`optim.mu_product` for nadam, exact f64), schedule
//! and early-stop state and the random streams' word positions).

use std::collections::HashMap;

use crate::events::EpochEvent;
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
        convert(&mut net.params[off..off + len], values, file, &name)?;
    }
    for (name, buf) in net.running_stats_mut() {
        let shape = [buf.len()];
        let name = format!("{prefix}{name}");
        if let Some(values) = file.get_optional(&name, &shape)? {
            convert(buf, values, file, &name)?;
        }
    }
    Ok(())
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
    for (name, value) in tr.optim.scalars() {
        m.insert(format!("optim.{name}"), f(value));
    }
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
    for (name, value) in &tr.fingerprint {
        m.insert(
            format!("{}{name}", crate::train::fingerprint::PREFIX),
            value.clone(),
        );
    }
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
    for (key, ev) in [
        ("last_event", &tr.last_event),
        ("best_event", &tr.best_event),
    ] {
        if let Some(ev) = ev {
            m.insert(key.to_string(), encode_event(ev));
        }
    }
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
    let opt = get("optimizer")?;
    if opt != tr.program.optimizer.name() {
        return Err(bad(format!(
            "it was written with optimizer {opt}, the recipe uses {}",
            tr.program.optimizer.name()
        )));
    }
    let has_fingerprint = file
        .metadata
        .keys()
        .any(|k| k.starts_with(crate::train::fingerprint::PREFIX));
    if !has_fingerprint {
        return Err(bad(
            "it has no fingerprint of the run that wrote it (an older nnt wrote it)".to_string(),
        ));
    }
    let differ = crate::train::fingerprint::differences(&tr.fingerprint, &file.metadata);
    if !differ.is_empty() {
        return Err(TrainError::Weights(WeightsError::ForeignCheckpoint {
            path: file.path.clone(),
            differ: differ.join(", "),
        }));
    }
    // The model's shapes first: a checkpoint of another model says so, whatever
    // its epoch.
    load_parameters(&mut tr.net, file, "")?;
    if epoch > tr.program.train.epochs {
        return Err(bad(format!(
            "it is from epoch {epoch} but the recipe trains {} epochs",
            tr.program.train.epochs
        )));
    }
    for (name, buf) in tr.optim.buffers_mut() {
        if !buf.is_empty() {
            let name = format!("optim.{name}");
            let values = file.get(&name, &[buf.len()])?;
            convert(buf, values, file, &name)?;
        }
    }
    tr.optim
        .set_steps(parse("optimizer_steps", &get("optimizer_steps")?).map_err(bad)?);
    for (name, _) in tr.optim.scalars() {
        let key = format!("optim.{name}");
        let value: f64 = parse(&key, &get(&key)?).map_err(bad)?;
        tr.optim.set_scalar(name, value);
    }
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
    // Values the file may have been tampered with: a learning rate must be a
    // finite non-negative number no larger than the optimizer's, a best value
    // must not be NaN (+inf is the state before the first epoch).
    let rate = tr.sched.plateau.rate;
    if !(rate.is_finite() && rate >= 0.0 && rate <= tr.program.optimizer.lr()) {
        return Err(bad(format!(
            "metadata `plateau_rate` = {rate:?} is not a learning rate of this optimizer"
        )));
    }
    let best = tr.sched.plateau.best;
    if best.is_nan() || best == f64::NEG_INFINITY {
        return Err(bad(format!(
            "metadata `plateau_best` = {best:?} is not valid"
        )));
    }
    if let Some(s) = tr.stopper.as_mut() {
        let best = get("early_stop_best")?;
        s.best = if best == "none" {
            None
        } else {
            let v: f64 = parse("early_stop_best", &best).map_err(bad)?;
            if !v.is_finite() {
                return Err(bad(format!(
                    "metadata `early_stop_best` = {best:?} is not valid"
                )));
            }
            Some(v)
        };
        s.best_epoch =
            parse("early_stop_best_epoch", &get("early_stop_best_epoch")?).map_err(bad)?;
        s.wait = parse("early_stop_wait", &get("early_stop_wait")?).map_err(bad)?;
    }
    let has_best: bool = parse("has_best", &get("has_best")?).map_err(bad)?;
    if has_best {
        let mut params = tr.net.params.clone();
        for t in &tr.net.tensors {
            let name = format!("best.{}", t.name);
            let values = file.get(&name, &t.shape)?;
            convert(&mut params[t.offset..t.offset + t.len], values, file, &name)?;
        }
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
    // Absent from checkpoints written before §18: the end event then has no `best`.
    for (key, slot) in [
        ("last_event", &mut tr.last_event),
        ("best_event", &mut tr.best_event),
    ] {
        *slot = match file.metadata.get(key) {
            Some(s) => {
                Some(decode_event(s).ok_or_else(|| bad(format!("metadata `{key}` is not valid")))?)
            }
            None => None,
        };
    }
    tr.stopped = parse("stopped", &get("stopped")?).map_err(bad)?;
    tr.done = epoch;
    Ok(())
}

/// An epoch event, bit for bit, as metadata text: a JSON array of its fields (f64
/// values as their bit patterns, absent ones `null`), then, when the run logs
/// metrics (§15), one more element: the metrics as `[index in Metric::ALL, bits]`.
fn encode_event(e: &EpochEvent) -> String {
    let bits = |v: f64| Some(v.to_bits());
    let mut fields: Vec<serde_json::Value> = [
        Some(e.epoch as u64),
        bits(e.lr),
        bits(e.train_loss),
        e.train_accuracy.and_then(bits),
        e.valid_loss.and_then(bits),
        e.valid_accuracy.and_then(bits),
        e.penalty.and_then(bits),
        bits(e.grad_norm),
        e.seconds.and_then(bits),
    ]
    .iter()
    .map(|v| v.map_or(serde_json::Value::Null, serde_json::Value::from))
    .collect();
    if !e.valid_metrics.is_empty() {
        let metrics: Vec<[u64; 2]> = e
            .valid_metrics
            .iter()
            .filter_map(|(m, v)| {
                let i = crate::ir::Metric::ALL.iter().position(|x| x == m)?;
                Some([i as u64, v.to_bits()])
            })
            .collect();
        fields.push(serde_json::json!(metrics));
    }
    serde_json::to_string(&fields).unwrap_or_default()
}

fn decode_event(s: &str) -> Option<EpochEvent> {
    let all: Vec<serde_json::Value> = serde_json::from_str(s).ok()?;
    if all.len() != 9 && all.len() != 10 {
        return None;
    }
    let mut f = [None::<u64>; 9];
    for (slot, v) in f.iter_mut().zip(&all) {
        *slot = if v.is_null() { None } else { Some(v.as_u64()?) };
    }
    let num = |v: Option<u64>| v.map(f64::from_bits);
    let mut valid_metrics = Vec::new();
    if let Some(list) = all.get(9) {
        let pairs: Vec<[u64; 2]> = serde_json::from_value(list.clone()).ok()?;
        for [i, v] in pairs {
            let m = *crate::ir::Metric::ALL.get(usize::try_from(i).ok()?)?;
            valid_metrics.push((m, f64::from_bits(v)));
        }
    }
    Some(EpochEvent {
        epoch: usize::try_from(f[0]?).ok()?,
        lr: num(f[1])?,
        train_loss: num(f[2])?,
        train_accuracy: num(f[3]),
        valid_loss: num(f[4]),
        valid_accuracy: num(f[5]),
        valid_metrics,
        penalty: num(f[6]),
        grad_norm: num(f[7])?,
        seconds: num(f[8]),
    })
}
