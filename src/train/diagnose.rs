//! Run-time detectors (§13): exploding and vanishing gradients, dead ReLU units,
//! and a plateau of the train loss. They read statistics the trainer computes
//! anyway (each layer's squared gradient norm per step) plus one cheap pass over
//! each relu layer's output, and report each finding once per run as a warning
//! that names the layer, its recipe line and the usual fixes.
//!
//! The state is plain data (serialisable) so that a resumed run reports exactly
//! what the uninterrupted run would have.

use serde::{Deserialize, Serialize};

use crate::events::{RunDiagnostic, Severity};
use crate::ir::DiagnoseConfig;

/// Steps a layer must have seen before its running level is trusted.
const WARMUP_STEPS: u64 = 20;

/// A jump relative to the running level only counts from this norm up: growing
/// from 1e-9 to 1e-6 (a layer waking up from a zero start) is not an explosion.
const MIN_EXPLODING_NORM: f64 = 1.0;

/// What the detectors know about one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    pub index: usize,
    pub line: usize,
    pub name: &'static str,
    /// Has trainable parameters (dense or batch_norm).
    pub trainable: bool,
    pub is_dense: bool,
    pub is_relu: bool,
    pub width: usize,
}

/// Detector state (serialisable for checkpoints).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiagnoseState {
    /// Mean gradient norm of each layer over the steps seen so far.
    #[serde(with = "exact_floats")]
    pub grad_mean: Vec<f64>,
    pub steps: u64,
    /// Largest gradient norm of each layer this epoch.
    #[serde(with = "exact_floats")]
    pub epoch_grad_max: Vec<f64>,
    /// Per relu layer: whether each unit was non-zero at least once this epoch.
    pub alive: Vec<Vec<bool>>,
    /// Train loss of each finished epoch.
    #[serde(with = "exact_floats")]
    pub losses: Vec<f64>,
    /// Codes already reported per layer (`code@layer`), so each is said once.
    pub reported: Vec<String>,
}

/// f64 values as their shortest round-trip decimal strings: JSON number parsing
/// is not guaranteed to give back the same bits, and a resumed run must.
mod exact_floats {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| format!("{x:?}")))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let strings = Vec::<String>::deserialize(d)?;
        strings
            .iter()
            .map(|s| s.parse::<f64>().map_err(serde::de::Error::custom))
            .collect()
    }
}

/// The detectors of one run.
#[derive(Debug, Clone)]
pub struct Diagnoser {
    pub config: DiagnoseConfig,
    pub layers: Vec<LayerInfo>,
    pub state: DiagnoseState,
}

impl Diagnoser {
    pub fn new(config: DiagnoseConfig, layers: Vec<LayerInfo>) -> Self {
        let n = layers.len();
        let alive = layers
            .iter()
            .map(|l| {
                if l.is_relu {
                    vec![false; l.width]
                } else {
                    Vec::new()
                }
            })
            .collect();
        Diagnoser {
            config,
            layers,
            state: DiagnoseState {
                grad_mean: vec![0.0; n],
                epoch_grad_max: vec![0.0; n],
                alive,
                ..Default::default()
            },
        }
    }

    /// Whether the dead-relu detector wants relu outputs.
    pub fn watches_relu(&self) -> bool {
        self.config.dead_relu_fraction.is_some()
    }

    /// After a training forward pass: mark the relu units of layer `pos` that were
    /// non-zero. `y` is `width × n`, column-major.
    pub fn observe_relu<T: PartialOrd + Default + Copy>(
        &mut self,
        pos: usize,
        y: &[T],
        width: usize,
    ) {
        let alive = &mut self.state.alive[pos];
        if alive.len() != width || width == 0 {
            return;
        }
        // Once every unit has fired this epoch, nothing more can be learnt.
        if alive.iter().all(|&a| a) {
            return;
        }
        let zero = T::default();
        for col in y.chunks_exact(width) {
            for (a, &v) in alive.iter_mut().zip(col) {
                *a |= v > zero;
            }
        }
    }

    /// After a step's gradients: `layer_sq` holds each layer's squared gradient
    /// norm. Returns an exploding-gradient warning the first time a layer jumps.
    pub fn observe_step(
        &mut self,
        epoch: usize,
        step: usize,
        layer_sq: &[f64],
    ) -> Option<RunDiagnostic> {
        let mut found = None;
        let steps = self.state.steps;
        for (pos, &sq) in layer_sq.iter().enumerate() {
            if !self.layers[pos].trainable {
                continue;
            }
            let g = sq.sqrt();
            let mean = self.state.grad_mean[pos];
            let max = &mut self.state.epoch_grad_max[pos];
            if g > *max {
                *max = g;
            }
            if found.is_none() {
                let by_ratio = self
                    .config
                    .exploding_ratio
                    .filter(|_| steps >= WARMUP_STEPS && mean > 0.0 && g >= MIN_EXPLODING_NORM)
                    .and_then(|r| (g > r * mean).then_some(g / mean));
                let by_abs = self.config.exploding_abs.is_some_and(|a| g > a);
                if by_ratio.is_some() || by_abs {
                    found = self.exploding(pos, epoch, step, g, mean, by_ratio);
                }
            }
            self.state.grad_mean[pos] = mean + (g - mean) / (steps + 1) as f64;
        }
        self.state.steps += 1;
        found
    }

    fn once(&mut self, code: &str, pos: usize) -> bool {
        let key = format!("{code}@{pos}");
        if self.state.reported.contains(&key) {
            false
        } else {
            self.state.reported.push(key);
            true
        }
    }

    fn describe(&self, pos: usize) -> String {
        let l = &self.layers[pos];
        format!("layer {} ({}, line {})", l.index, l.name, l.line)
    }

    fn diagnostic(
        &self,
        code: &'static str,
        epoch: usize,
        step: Option<usize>,
        pos: usize,
        message: String,
        help: &str,
    ) -> RunDiagnostic {
        RunDiagnostic {
            severity: Severity::Warning,
            code,
            epoch,
            step,
            layer: Some(self.layers[pos].index),
            line: Some(self.layers[pos].line),
            message,
            help: Some(help.to_string()),
        }
    }

    fn exploding(
        &mut self,
        pos: usize,
        epoch: usize,
        step: usize,
        g: f64,
        mean: f64,
        ratio: Option<f64>,
    ) -> Option<RunDiagnostic> {
        if !self.once("exploding_gradient", pos) {
            return None;
        }
        let how = match ratio {
            Some(r) => format!("{r:.0}× its running level {mean:.3e}"),
            None => format!(
                "above the limit {:.3e}",
                self.config.exploding_abs.unwrap_or(f64::INFINITY)
            ),
        };
        let message = format!("exploding gradient: the gradient norm of {} is {g:.3e} at epoch {epoch}, step {step}, {how}", self.describe(pos));
        Some(self.diagnostic(
            "nnt::train::exploding_gradient",
            epoch,
            Some(step),
            pos,
            message,
            "lower the learning rate, add `clip = norm(1.0)` to the train section, or normalise activations with batch_norm",
        ))
    }

    /// After an epoch's event: vanishing gradients, dead relu units, plateau.
    /// `weight_norms[pos]` is the L2 norm of the layer's parameters now;
    /// `accuracy` the epoch's train accuracy (classification only).
    pub fn end_epoch(
        &mut self,
        epoch: usize,
        train_loss: f64,
        accuracy: Option<f64>,
        weight_norms: &[f64],
    ) -> Vec<RunDiagnostic> {
        let mut out = Vec::new();
        self.vanishing(epoch, weight_norms, &mut out);
        let dead = self.dead_relu(epoch, &mut out);
        self.plateau(epoch, train_loss, accuracy, dead, &mut out);
        for m in &mut self.state.epoch_grad_max {
            *m = 0.0;
        }
        for a in &mut self.state.alive {
            a.iter_mut().for_each(|v| *v = false);
        }
        out
    }

    fn vanishing(&mut self, epoch: usize, weight_norms: &[f64], out: &mut Vec<RunDiagnostic>) {
        let Some(threshold) = self.config.vanishing_ratio else {
            return;
        };
        let dense: Vec<usize> = (0..self.layers.len())
            .filter(|&p| self.layers[p].is_dense)
            .collect();
        let Some(&last) = dense.last() else { return };
        let ratios_all: Vec<f64> = (0..self.layers.len())
            .map(|p| {
                let w = weight_norms.get(p).copied().unwrap_or(0.0);
                if w > 0.0 {
                    self.state.epoch_grad_max[p] / w
                } else {
                    f64::INFINITY
                }
            })
            .collect();
        let ratio = |p: usize| ratios_all[p];
        let last_ratio = ratio(last);
        if last_ratio.is_nan() || last_ratio < threshold {
            return;
        }
        let ratios: Vec<String> = dense
            .iter()
            .map(|&p| format!("{}: {:.1e}", self.layers[p].index, ratio(p)))
            .collect();
        let affected: Vec<usize> = dense[..dense.len() - 1]
            .iter()
            .copied()
            .filter(|&p| ratio(p) < threshold)
            .collect();
        let Some(&first) = affected.first() else {
            return;
        };
        if !self.once("vanishing_gradient", first) {
            return;
        }
        let names: Vec<String> = affected.iter().map(|&p| self.describe(p)).collect();
        let message = format!(
            "vanishing gradient: in epoch {epoch} the gradients of {} stayed below {threshold:.0e} of their weights' norm while the last layer's reached {last_ratio:.1e}; gradient/weight ratio per dense layer: {}",
            names.join(", "),
            ratios.join(", ")
        );
        out.push(self.diagnostic(
            "nnt::train::vanishing_gradient",
            epoch,
            None,
            first,
            message,
            "use relu-family activations with he_uniform init, add batch_norm between layers, or make the model shallower",
        ));
    }

    /// Reports relu layers with too many dead units; returns whether any layer has
    /// dead units above the threshold (a likely cause of a plateau).
    fn dead_relu(&mut self, epoch: usize, out: &mut Vec<RunDiagnostic>) -> bool {
        let Some(threshold) = self.config.dead_relu_fraction else {
            return false;
        };
        let mut any = false;
        for p in 0..self.layers.len() {
            let alive = &self.state.alive[p];
            if !self.layers[p].is_relu || alive.is_empty() {
                continue;
            }
            let width = alive.len();
            let dead = alive.iter().filter(|a| !**a).count();
            let frac = dead as f64 / width as f64;
            if dead > 0 && frac >= threshold {
                any = true;
                if self.once("dead_relu", p) {
                    let message = format!(
                        "dead relu units: {dead} of {width} units of {} ({:.0}%) output 0 for every training example of epoch {epoch}",
                        self.describe(p),
                        frac * 100.0
                    );
                    out.push(self.diagnostic(
                        "nnt::train::dead_relu",
                        epoch,
                        None,
                        p,
                        message,
                        "lower the learning rate, use leaky_relu or elu instead, or initialise the layer before it with he_uniform",
                    ));
                }
            }
        }
        any
    }

    fn plateau(
        &mut self,
        epoch: usize,
        loss: f64,
        accuracy: Option<f64>,
        dead: bool,
        out: &mut Vec<RunDiagnostic>,
    ) {
        self.state.losses.push(loss);
        let Some(delta) = self.config.plateau_delta else {
            return;
        };
        let n = self.config.plateau_epochs.max(1);
        let l = &self.state.losses;
        if l.len() < n + 1 {
            return;
        }
        let recent = &l[l.len() - n - 1..];
        let flat = recent
            .windows(2)
            .all(|w| (w[1] - w[0]).abs() <= delta * w[0].abs().max(1e-12));
        let poor = match accuracy {
            Some(a) => a < 0.9,
            None => loss > 0.5 * l[0],
        };
        if !(flat && poor) {
            return;
        }
        let Some(pos) = (0..self.layers.len())
            .rev()
            .find(|&p| self.layers[p].trainable)
        else {
            return;
        };
        if !self.once("plateau", usize::MAX) {
            return;
        }
        let mut causes = Vec::new();
        if dead {
            causes.push("dead relu units");
        }
        if self
            .state
            .reported
            .iter()
            .any(|r| r.starts_with("vanishing_gradient@"))
        {
            causes.push("vanishing gradients in the early layers (saturated sigmoid/tanh units; see the vanishing_gradient warning)");
        }
        let max_grad = self.state.grad_mean.iter().cloned().fold(0.0f64, f64::max);
        if max_grad < 1e-3 {
            causes.push("gradients too small to move the weights (a learning rate too small, or saturated sigmoid/tanh units)");
        }
        if causes.is_empty() {
            causes.push("a learning rate too small or too large for the optimizer, or a model too small for the data");
        }
        let state = match accuracy {
            Some(a) => format!("train accuracy is only {a:.3}"),
            None => format!("train loss {loss:.4} is still above half of epoch 1's"),
        };
        let message = format!(
            "premature convergence: the train loss has moved by less than {delta:.0e} (relative) per epoch for {n} epochs up to epoch {epoch}, while {state}; likely causes: {}",
            causes.join("; ")
        );
        out.push(self.diagnostic(
            "nnt::train::plateau",
            epoch,
            None,
            pos,
            message,
            "try a larger learning rate or a schedule, check the initialisation, or widen the model",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Vec<LayerInfo> {
        let dense = |index, line| LayerInfo {
            index,
            line,
            name: "dense",
            trainable: true,
            is_dense: true,
            is_relu: false,
            width: 4,
        };
        vec![
            dense(0, 5),
            LayerInfo {
                index: 1,
                line: 6,
                name: "relu",
                trainable: false,
                is_dense: false,
                is_relu: true,
                width: 4,
            },
            dense(2, 7),
        ]
    }

    #[test]
    fn exploding_once_after_warmup() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        for s in 1..=30 {
            assert!(d.observe_step(1, s, &[1.0, 0.0, 1.0]).is_none());
        }
        let hit = d.observe_step(1, 31, &[1e6, 0.0, 1.0]).expect("exploding");
        assert_eq!(hit.code, "nnt::train::exploding_gradient");
        assert_eq!(
            (hit.layer, hit.line, hit.step),
            (Some(0), Some(5), Some(31))
        );
        assert!(
            d.observe_step(1, 32, &[1e8, 0.0, 1.0]).is_none(),
            "reported once"
        );
    }

    #[test]
    fn small_norms_waking_up_are_not_explosions() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        for s in 1..=30 {
            assert!(d.observe_step(1, s, &[1e-18, 0.0, 1.0]).is_none());
        }
        assert!(d.observe_step(1, 31, &[1e-6, 0.0, 1.0]).is_none());
    }

    #[test]
    fn vanishing_and_dead_relu() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        d.observe_step(1, 1, &[1e-16, 0.0, 1.0]);
        // units 0..3 of the relu never fire
        d.observe_relu(1, &[0.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0], 4);
        let found = d.end_epoch(1, 1.0, Some(0.5), &[1.0, 0.0, 1.0]);
        let codes: Vec<&str> = found.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            vec!["nnt::train::vanishing_gradient", "nnt::train::dead_relu"]
        );
        assert!(
            found[1].message.contains("3 of 4 units"),
            "{}",
            found[1].message
        );
    }

    #[test]
    fn plateau_needs_flat_loss_and_poor_accuracy() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        let mut found = vec![];
        for e in 1..=8 {
            d.observe_step(e, 1, &[1.0, 0.0, 1.0]);
            d.observe_relu(1, &[1.0f32; 4], 4);
            found.extend(d.end_epoch(e, 0.7, Some(0.5), &[1.0, 0.0, 1.0]));
        }
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "nnt::train::plateau");
        let mut ok = Diagnoser::new(DiagnoseConfig::default(), layers());
        for e in 1..=8 {
            ok.observe_step(e, 1, &[1.0, 0.0, 1.0]);
            ok.observe_relu(1, &[1.0f32; 4], 4);
            assert!(ok
                .end_epoch(e, 0.1, Some(0.99), &[1.0, 0.0, 1.0])
                .is_empty());
        }
    }
}
