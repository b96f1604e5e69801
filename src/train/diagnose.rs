//! Run-time detectors (§13): exploding and vanishing gradients, dead ReLU units,
//! and a plateau of the train loss. They read statistics the trainer computes
//! anyway (each layer's squared gradient norm per step, each layer's weight norm
//! per epoch) plus one cheap pass over each relu layer's output, and report each
//! finding once per run as a warning that names the layer, its recipe line, the
//! numbers behind the finding and the usual fixes.
//!
//! The state is plain data (serialisable) so that a resumed run reports exactly
//! what the uninterrupted run would have.

use serde::{Deserialize, Serialize};

use crate::events::{RunDiagnostic, Severity};
use crate::ir::{DiagnoseConfig, Init, LayerKind, Program, Table};

/// Steps a layer must have seen before its running level is trusted.
const WARMUP_STEPS: u64 = 10;

/// A jump relative to the running level counts once it lasts this many steps in
/// a row: one large batch near convergence (a healthy run at 99.7 % accuracy
/// once met a 115× spike in a single step) is not an explosion, which grows
/// step after step.
const EXPLODING_STEPS: u32 = 2;

/// A jump relative to the running level only counts from this norm up: growing
/// from 1e-9 to 1e-6 (a layer waking up from a zero start) is not an explosion.
const MIN_EXPLODING_NORM: f64 = 1.0;

/// A layer only counts as vanishing when its gradient/weight ratio is also this
/// many times smaller than the last dense layer's: a converged network has small
/// gradients everywhere, which is not the same thing.
const VANISHING_SPREAD: f64 = 100.0;

/// Train accuracy below which a flat loss is premature convergence.
const POOR_ACCURACY: f64 = 0.9;

/// A plateau spans at least this many optimizer steps.
const MIN_PLATEAU_STEPS: u64 = 50;

/// Relative change of the weights per epoch below which a learning rate is
/// judged too small to move them (plateau causes).
const STILL_WEIGHTS: f64 = 1e-3;

/// What the detectors know about one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    pub index: usize,
    pub line: usize,
    pub name: &'static str,
    /// Has trainable parameters (dense, batch_norm or layer_norm).
    pub trainable: bool,
    pub is_dense: bool,
    pub is_relu: bool,
    pub width: usize,
}

/// What the recipe already does, so that the help of a finding never recommends
/// it (issue 11, item 20): "normalise the inputs" when they are, "add clip" when
/// the run clips, "he_uniform" when the layer starts from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The train inputs are standardised or min-max scaled (by `normalize`, or
    /// already so in the data).
    pub inputs_normalized: bool,
    /// The train section clips gradients.
    pub clip: bool,
    /// The model has a batch_norm layer.
    pub batch_norm: bool,
    /// Layer indices whose nearest dense layer (itself or before it) starts from
    /// he_uniform or he_normal, or from `init_from` (no initialiser at all).
    pub he_fed: Vec<usize>,
    /// Every hidden dense layer does (the output layer, which feeds no
    /// activation, keeps its own initialiser).
    pub all_he: bool,
    /// The model has activations and every one is of the relu family (relu,
    /// leaky_relu, elu, gelu).
    pub relu_family: bool,
    /// The learning rate follows a schedule.
    pub schedule: bool,
    /// The optimizer is plain sgd (the help may suggest adam).
    pub sgd: bool,
    /// The model has one dense layer (no "between layers" to add anything to).
    pub single_dense: bool,
    /// Regression: the train loss of the best constant prediction (per target,
    /// the mean for mse, the median for mae and huber), what "accuracy is still
    /// low" means without classes (§13): a loss above half of it has learnt
    /// little. `None` for classification.
    pub constant_loss: Option<f64>,
}

impl Facts {
    /// The help of `nnt::train::diverged`: the fixes this recipe does not have yet.
    pub fn divergence_help(&self) -> String {
        alternatives(&self.blowup_fixes())
    }

    /// What tames a gradient that blows up, less what the recipe already does:
    /// the divergence's help, and the start of the exploding gradient's.
    fn blowup_fixes(&self) -> Vec<&'static str> {
        let mut fixes = vec!["lower the learning rate"];
        if !self.clip {
            fixes.push("add `clip = norm(1.0)` to the train section");
        }
        if !self.inputs_normalized {
            fixes.push("normalise the inputs (`normalize = standard`)");
        }
        fixes
    }

    pub fn of(program: &Program) -> Self {
        let replaced = program.init_from.is_some();
        let mut he_fed = Vec::new();
        let mut fed = false;
        let layers = &program.model.layers;
        let last_dense = layers
            .iter()
            .rposition(|l| matches!(l.kind, LayerKind::Dense { .. }));
        let mut all_he = true;
        for (at, layer) in layers.iter().enumerate() {
            if let LayerKind::Dense { init, .. } = &layer.kind {
                fed = replaced || matches!(init, Init::HeUniform | Init::HeNormal);
                if Some(at) != last_dense {
                    all_he &= fed;
                }
            }
            if fed {
                he_fed.push(layer.index);
            }
        }
        use crate::ir::Family;
        let activations: Vec<Family> = layers
            .iter()
            .map(|l| l.kind.family())
            .filter(|f| matches!(f, Family::ReluLike | Family::Saturating))
            .collect();
        let relu_family =
            !activations.is_empty() && activations.iter().all(|f| *f == Family::ReluLike);
        Facts {
            // The recipe's `normalize` says so (a constant column it only
            // centres is not unit-scale when measured), else the data itself.
            inputs_normalized: program
                .data
                .prep
                .as_ref()
                .is_some_and(|p| p.normalize != crate::ir::Normalize::None)
                || unit_scale(&program.data.train),
            clip: program.train.clip.is_some(),
            batch_norm: program
                .model
                .layers
                .iter()
                .any(|l| matches!(l.kind, LayerKind::BatchNorm { .. })),
            he_fed,
            all_he,
            relu_family,
            schedule: !matches!(program.train.lr_schedule, crate::ir::Schedule::Constant),
            sgd: matches!(program.optimizer, crate::ir::Optimizer::Sgd { .. }),
            single_dense: layers
                .iter()
                .filter(|l| matches!(l.kind, LayerKind::Dense { .. }))
                .count()
                <= 1,
            constant_loss: constant_loss(&program.loss, &program.data.train),
        }
    }
}

/// The train loss of the best constant prediction of a regression loss (see
/// [`Facts::constant_loss`]), averaged over targets; `None` for classification
/// or without rows.
fn constant_loss(loss: &crate::ir::Loss, t: &Table) -> Option<f64> {
    use crate::ir::Loss;
    let (rows, k) = (t.rows, t.targets);
    if rows == 0 || k == 0 || t.y.len() < rows * k {
        return None;
    }
    let mut total = 0.0;
    for j in 0..k {
        let mut col: Vec<f64> = (0..rows).map(|r| t.y[r * k + j]).collect();
        let n = rows as f64;
        total += match *loss {
            Loss::Mse => {
                let mean = col.iter().sum::<f64>() / n;
                col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
            }
            Loss::Mae | Loss::Huber { .. } => {
                col.sort_by(f64::total_cmp);
                let median = col[rows / 2];
                let d = |v: f64| (v - median).abs();
                match *loss {
                    Loss::Huber { delta } => {
                        col.iter()
                            .map(|&v| {
                                let a = d(v);
                                if a < delta {
                                    0.5 * a * a
                                } else {
                                    delta * (a - 0.5 * delta)
                                }
                            })
                            .sum::<f64>()
                            / n
                    }
                    _ => col.iter().map(|&v| d(v)).sum::<f64>() / n,
                }
            }
            Loss::CrossEntropy { .. } | Loss::BinaryCrossEntropy => return None,
        };
    }
    Some(total / k as f64)
}

/// Whether every feature column of `t` is standardised (mean 0, standard
/// deviation 1) or min-max scaled (from 0 to 1), as `normalize` leaves it; a
/// constant column of zeros is either.
pub fn unit_scale(t: &Table) -> bool {
    let (rows, f) = (t.rows, t.features);
    if rows == 0 || f == 0 || t.x.len() != rows * f {
        return false;
    }
    (0..f).all(|j| {
        let column = || t.x.iter().skip(j).step_by(f).copied();
        let (mut lo, mut hi, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for v in column() {
            lo = lo.min(v);
            hi = hi.max(v);
            sum += v;
        }
        if lo == 0.0 && hi == 0.0 {
            return true;
        }
        if lo == 0.0 && hi == 1.0 {
            return true;
        }
        // A constant column of small magnitude (a one-hot column of a single
        // category, a centred constant) is no scale problem.
        if hi - lo <= 1e-12 * hi.abs().max(lo.abs()).max(1.0) && hi.abs().max(lo.abs()) <= 1.0 {
            return true;
        }
        let mean = sum / rows as f64;
        let var = column().map(|v| (v - mean) * (v - mean)).sum::<f64>() / rows as f64;
        mean.abs() <= 1e-9 && (var.sqrt() - 1.0).abs() <= 1e-6
    })
}

/// "a, b, or c": the fixes that apply, as one sentence.
fn alternatives(parts: &[&str]) -> String {
    match parts.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{}, or {last}", rest.join(", ")),
    }
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
    /// What has been reported, each (detector, layer) once.
    pub reported: Reported,
    /// Each finished epoch's weight norm per layer, epoch after epoch.
    #[serde(default, with = "exact_floats")]
    pub weight_history: Vec<f64>,
    /// `steps` at the end of each finished epoch.
    #[serde(default)]
    pub epoch_steps: Vec<u64>,
    /// Per layer: steps in a row whose norm was past the exploding ratio.
    #[serde(default)]
    pub over_ratio: Vec<u32>,
    /// The last finished epoch's gradient/weight ratio per layer (0 when untrainable).
    #[serde(default, with = "exact_floats")]
    pub ratios: Vec<f64>,
    /// The last finished epoch's dead fraction per relu layer (0 elsewhere).
    #[serde(default, with = "exact_floats")]
    pub dead_fraction: Vec<f64>,
}

/// A run-time detector, as it is named in checkpoints (`nnt::train::NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detector {
    ExplodingGradient,
    VanishingGradient,
    DeadRelu,
    Plateau,
}

impl Detector {
    const ALL: [Detector; 4] = [
        Detector::ExplodingGradient,
        Detector::VanishingGradient,
        Detector::DeadRelu,
        Detector::Plateau,
    ];

    /// The name in checkpoints and in the diagnostic's code.
    pub fn name(self) -> &'static str {
        match self {
            Detector::ExplodingGradient => "exploding_gradient",
            Detector::VanishingGradient => "vanishing_gradient",
            Detector::DeadRelu => "dead_relu",
            Detector::Plateau => "plateau",
        }
    }
}

/// The findings already reported: a set of (detector, layer position), so each is
/// said once per run (`None`: the detector reports once for the whole network).
///
/// Kept in the order found; a checkpoint holds them as `NAME` or `NAME@POSITION`
/// strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reported(Vec<(Detector, Option<usize>)>);

impl Reported {
    pub fn contains(&self, detector: Detector, layer: Option<usize>) -> bool {
        self.0.contains(&(detector, layer))
    }

    /// Adds a finding; `false` when it was already there.
    pub fn insert(&mut self, detector: Detector, layer: Option<usize>) -> bool {
        if self.contains(detector, layer) {
            false
        } else {
            self.0.push((detector, layer));
            true
        }
    }

    fn key((detector, layer): &(Detector, Option<usize>)) -> String {
        match layer {
            Some(p) => format!("{}@{p}", detector.name()),
            None => detector.name().to_string(),
        }
    }

    fn parse(key: &str) -> Option<(Detector, Option<usize>)> {
        let (name, layer) = match key.split_once('@') {
            Some((name, p)) => (name, Some(p.parse().ok()?)),
            None => (key, None),
        };
        let detector = Detector::ALL.into_iter().find(|d| d.name() == name)?;
        Some((detector, layer))
    }
}

impl Serialize for Reported {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Reported::key))
    }
}

impl<'de> Deserialize<'de> for Reported {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let keys = Vec::<String>::deserialize(d)?;
        keys.iter()
            .map(|k| {
                Reported::parse(k)
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown finding `{k}`")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Reported)
    }
}

/// A likely cause of a plateau: what the message says about it, and the help for
/// it (leaving out what the recipe already does).
#[derive(Debug, Clone, PartialEq)]
enum PlateauCause {
    /// Relu layers with many dead units (`layers`: each with its dead share).
    DeadRelu { layers: String },
    /// The gradients of the dense `layers` vanish: sigmoid/tanh units saturated,
    /// or (without them) an initialisation too small for the depth.
    Vanishing {
        saturating: bool,
        layers: String,
        ratios: String,
    },
    /// The weight norms barely moved: a learning rate too small.
    StillWeights { moved: f64 },
    /// The loss swings by this share per epoch: a learning rate too large.
    Swinging { swing: f64 },
    /// Nothing the detectors saw.
    Unexplained,
}

impl PlateauCause {
    /// Which cause's help is given when there are several: the first to fix.
    fn rank(&self) -> u8 {
        match self {
            PlateauCause::StillWeights { .. } => 0,
            PlateauCause::DeadRelu { .. } => 1,
            PlateauCause::Vanishing { .. } => 2,
            PlateauCause::Swinging { .. } => 3,
            PlateauCause::Unexplained => 4,
        }
    }

    /// The fix, without what the recipe already does (`facts`).
    fn help(&self, facts: &Facts) -> String {
        let (he, bn) = (facts.all_he, facts.batch_norm);
        let mut fixes: Vec<&str> = Vec::new();
        match self {
            PlateauCause::StillWeights { .. } => {
                fixes.push("raise the learning rate (e.g. 10×)");
                if facts.sgd {
                    fixes.push("use adam(lr = 0.001)");
                }
            }
            PlateauCause::DeadRelu { .. } => {
                fixes.extend(["lower the learning rate", "use leaky_relu"]);
                if !he {
                    fixes.push("initialise with he_uniform");
                }
            }
            PlateauCause::Vanishing { .. } => {
                match (facts.relu_family, he) {
                    (false, false) => fixes.push("use relu with he_uniform init"),
                    (false, true) => fixes.push("use relu"),
                    (true, false) => fixes.push("initialise the dense layers with he_uniform"),
                    (true, true) => {}
                }
                if !bn {
                    fixes.push("add batch_norm between the layers");
                }
                if fixes.len() < 2 {
                    fixes.push("make the model shallower");
                }
            }
            PlateauCause::Swinging { .. } => {
                fixes.push("lower the learning rate");
                if !facts.schedule {
                    fixes.push("add a schedule (`lr_schedule = cosine`)");
                }
            }
            PlateauCause::Unexplained => {
                fixes.extend([
                    "widen or deepen the model",
                    "train with a larger learning rate",
                ]);
            }
        }
        alternatives(&fixes)
    }
}

impl std::fmt::Display for PlateauCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlateauCause::DeadRelu { layers } => write!(f, "dead relu units ({layers})"),
            PlateauCause::Vanishing {
                saturating,
                layers,
                ratios,
            } => {
                let what = if *saturating {
                    "saturated sigmoid/tanh units"
                } else {
                    "vanishing gradients (an initialisation too small for the depth)"
                };
                write!(
                    f,
                    "{what}: the gradients of {layers} vanish (gradient/weight ratio per dense layer: {ratios})"
                )
            }
            PlateauCause::StillWeights { moved } => write!(
                f,
                "a learning rate too small: the weight norms changed by at most {moved:.1e} (relative) per epoch"
            ),
            PlateauCause::Swinging { swing } => write!(
                f,
                "the loss goes up and down by up to {:.0}% per epoch: a learning rate too large",
                swing * 100.0
            ),
            PlateauCause::Unexplained => f.write_str(
                "the model may be too small for the data, or the optimizer stuck in a poor region",
            ),
        }
    }
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
    /// What the recipe already does (the help leaves it out).
    pub facts: Facts,
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
            facts: Facts::default(),
            state: DiagnoseState {
                grad_mean: vec![0.0; n],
                over_ratio: vec![0; n],
                epoch_grad_max: vec![0.0; n],
                alive,
                ratios: vec![0.0; n],
                dead_fraction: vec![0.0; n],
                ..Default::default()
            },
        }
    }

    /// The same detectors, knowing what the recipe already does.
    pub fn with_facts(mut self, facts: Facts) -> Self {
        self.facts = facts;
        self
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
        let Some(alive) = self.state.alive.get_mut(pos) else {
            return;
        };
        if alive.len() != width || width == 0 {
            return;
        }
        // Once every unit has fired this epoch, nothing more can be learnt.
        let silent = alive.iter().filter(|&&a| !a).count();
        if silent == 0 {
            return;
        }
        let zero = T::default();
        let columns = y.len() / width;
        let y = &y[..columns * width];
        if silent * 8 >= width.max(16) {
            // Many units not yet seen firing (the first steps of an epoch, or a
            // layer that died): one pass over the batch in memory order, which
            // vectorises. Unit by unit, the strided reads of a dead 32-unit
            // layer cost the 64-32-10 network 4 % of its step (round 14). A
            // layer narrower than a vector gains nothing from the pass (its
            // rows are too short to vectorise): one silent unit of 5 is read
            // alone, 32 values a step of the 10-5-2 network instead of 160.
            for col in y.chunks_exact(width) {
                for (a, &v) in alive.iter_mut().zip(col) {
                    *a |= v > zero;
                }
            }
            return;
        }
        // A few units: each alone until its first positive output, where a
        // pass over every value cost a small network ~4 % of its step.
        for (j, a) in alive.iter_mut().enumerate() {
            if !*a {
                *a = y.iter().skip(j).step_by(width).any(|&v| v > zero);
            }
        }
    }

    /// After a step's gradients: `layer_sq` holds each layer's squared gradient
    /// norm. Returns an exploding-gradient warning the first time (in the run) a
    /// layer's norm jumps past its running level or the absolute limit; it names
    /// the layer that jumped furthest.
    pub fn observe_step(
        &mut self,
        epoch: usize,
        step: usize,
        layer_sq: &[f64],
    ) -> Option<RunDiagnostic> {
        let steps = self.state.steps;
        let watching = !self
            .state
            .reported
            .contains(Detector::ExplodingGradient, None);
        // (position, norm, running level, jump) of the worst layer this step.
        let mut worst: Option<(usize, f64, f64, Option<f64>)> = None;
        // A checkpoint of an older nnt has no streaks: they start afresh (the
        // one allocation, in the first step after resuming such a checkpoint).
        if self.state.over_ratio.len() != layer_sq.len() {
            self.state.over_ratio.resize(layer_sq.len(), 0);
        }
        for (pos, &sq) in layer_sq.iter().enumerate() {
            if !self.layers.get(pos).is_some_and(|l| l.trainable) {
                continue;
            }
            let g = sq.sqrt();
            let mean = self.state.grad_mean[pos];
            if g > self.state.epoch_grad_max[pos] {
                self.state.epoch_grad_max[pos] = g;
            }
            if watching {
                let over = self
                    .config
                    .exploding_ratio
                    .filter(|_| steps >= WARMUP_STEPS && mean > 0.0 && g >= MIN_EXPLODING_NORM)
                    .and_then(|r| (g > r * mean).then_some(g / mean));
                let streak = &mut self.state.over_ratio[pos];
                *streak = if over.is_some() { *streak + 1 } else { 0 };
                let jump = over.filter(|_| *streak >= EXPLODING_STEPS);
                let by_abs = self.config.exploding_abs.is_some_and(|a| g > a);
                if jump.is_some() || by_abs {
                    // Rank by the jump when there is one, else by the norm itself.
                    let score =
                        |w: &(usize, f64, f64, Option<f64>)| (w.3.is_some(), w.3.unwrap_or(w.1));
                    let cand = (pos, g, mean, jump);
                    if worst.as_ref().is_none_or(|w| score(&cand) > score(w)) {
                        worst = Some(cand);
                    }
                }
            }
            self.state.grad_mean[pos] = mean + (g - mean) / (steps + 1) as f64;
        }
        self.state.steps += 1;
        let (pos, g, mean, jump) = worst?;
        self.state
            .reported
            .insert(Detector::ExplodingGradient, None);
        Some(self.exploding(pos, epoch, step, g, mean, jump, layer_sq))
    }

    fn describe(&self, pos: usize) -> String {
        let l = &self.layers[pos];
        format!(
            "layer {} ({}, {})",
            l.index,
            l.name,
            crate::ir::layer_place(l.line)
        )
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
            line: Some(self.layers[pos].line).filter(|&l| l > 0),
            expectation: None,
            message,
            help: Some(help.to_string()),
        }
    }

    /// `index: value` for each trainable layer (dense only with `dense_only`).
    fn per_layer(&self, values: &[f64], dense_only: bool) -> String {
        self.layers
            .iter()
            .zip(values)
            .filter(|(l, _)| l.trainable && (l.is_dense || !dense_only))
            .map(|(l, v)| format!("{}: {v:.1e}", l.index))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[allow(clippy::too_many_arguments)]
    fn exploding(
        &self,
        pos: usize,
        epoch: usize,
        step: usize,
        g: f64,
        mean: f64,
        jump: Option<f64>,
        layer_sq: &[f64],
    ) -> RunDiagnostic {
        let how = match (jump, self.config.exploding_ratio) {
            (Some(j), Some(r)) => {
                format!("{j:.0}× its running level {mean:.2e} (the limit is {r}×)")
            }
            _ => format!(
                "above the limit {:.0e}",
                self.config.exploding_abs.unwrap_or(f64::INFINITY)
            ),
        };
        let norms: Vec<f64> = layer_sq.iter().map(|v| v.sqrt()).collect();
        let message = format!(
            "exploding gradient: at epoch {epoch}, step {step} the gradient norm of {} is {g:.2e}, {how}; gradient norm per layer at this step: {}",
            self.describe(pos),
            self.per_layer(&norms, false)
        );
        let f = &self.facts;
        let mut fixes = f.blowup_fixes();
        if !f.batch_norm && !f.single_dense {
            fixes.push("add batch_norm between layers");
        }
        self.diagnostic(
            "nnt::train::exploding_gradient",
            epoch,
            Some(step),
            pos,
            message,
            &alternatives(&fixes),
        )
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
        let n = self.layers.len();
        let mut out = Vec::new();
        // A state from a checkpoint written before these fields existed.
        self.state.dead_fraction.resize(n, 0.0);
        self.state.ratios = (0..n)
            .map(|p| {
                let w = weight_norms.get(p).copied().unwrap_or(0.0);
                if self.layers[p].trainable && w > 0.0 {
                    self.state.epoch_grad_max[p] / w
                } else {
                    0.0
                }
            })
            .collect();
        self.state
            .weight_history
            .extend((0..n).map(|p| weight_norms.get(p).copied().unwrap_or(0.0)));
        self.state.epoch_steps.push(self.state.steps);
        self.vanishing(epoch, &mut out);
        self.dead_relu(epoch, &mut out);
        self.plateau(epoch, train_loss, accuracy, &mut out);
        for m in &mut self.state.epoch_grad_max {
            *m = 0.0;
        }
        for a in &mut self.state.alive {
            a.iter_mut().for_each(|v| *v = false);
        }
        out
    }

    /// Dense layers (before the last) whose gradient/weight ratio this epoch is
    /// below the threshold and far below the last dense layer's.
    fn vanishing_layers(&self) -> Vec<usize> {
        let Some(threshold) = self.config.vanishing_ratio else {
            return Vec::new();
        };
        let dense: Vec<usize> = (0..self.layers.len())
            .filter(|&p| self.layers[p].is_dense && self.layers[p].trainable)
            .collect();
        let Some((&last, early)) = dense.split_last() else {
            return Vec::new();
        };
        let r = &self.state.ratios;
        if r[last].is_nan() || r[last] < threshold {
            return Vec::new();
        }
        early
            .iter()
            .copied()
            .filter(|&p| r[p] < threshold && r[p] * VANISHING_SPREAD < r[last])
            .collect()
    }

    fn vanishing(&mut self, epoch: usize, out: &mut Vec<RunDiagnostic>) {
        let affected = self.vanishing_layers();
        let Some(&first) = affected.first() else {
            return;
        };
        if !self
            .state
            .reported
            .insert(Detector::VanishingGradient, None)
        {
            return;
        }
        let threshold = self.config.vanishing_ratio.unwrap_or(0.0);
        let last_ratio = self
            .layers
            .iter()
            .zip(&self.state.ratios)
            .rev()
            .find(|(l, _)| l.is_dense && l.trainable)
            .map_or(0.0, |(_, r)| *r);
        let names: Vec<String> = affected.iter().map(|&p| self.describe(p)).collect();
        let message = format!(
            "vanishing gradient: in epoch {epoch} the largest gradient of {} stayed below {threshold:.0e} of the layer's weight norm, while the last dense layer's reached {last_ratio:.1e}; gradient/weight ratio per dense layer: {}",
            names.join(", "),
            self.per_layer(&self.state.ratios, true)
        );
        let f = &self.facts;
        let mut fixes = Vec::new();
        match (f.relu_family, f.all_he) {
            (false, true) => fixes.push("use relu-family activations (relu, leaky_relu, gelu)"),
            (false, false) => fixes
                .push("use relu-family activations (relu, leaky_relu, gelu) with he_uniform init"),
            (true, false) => fixes.push("initialise the dense layers with he_uniform"),
            (true, true) => {}
        }
        if !f.batch_norm {
            fixes.push("add batch_norm between the layers");
        }
        fixes.push("make the model shallower");
        let help = alternatives(&fixes);
        out.push(self.diagnostic(
            "nnt::train::vanishing_gradient",
            epoch,
            None,
            first,
            message,
            &help,
        ));
    }

    /// Reports relu layers with too many dead units and records each relu
    /// layer's dead fraction (a likely cause of a plateau).
    fn dead_relu(&mut self, epoch: usize, out: &mut Vec<RunDiagnostic>) {
        let Some(threshold) = self.config.dead_relu_fraction else {
            return;
        };
        for p in 0..self.layers.len() {
            let alive = &self.state.alive[p];
            if !self.layers[p].is_relu || alive.is_empty() {
                continue;
            }
            let width = alive.len();
            let dead = alive.iter().filter(|a| !**a).count();
            let frac = dead as f64 / width as f64;
            self.state.dead_fraction[p] = frac;
            if dead > 0
                && frac >= threshold
                && self.state.reported.insert(Detector::DeadRelu, Some(p))
            {
                let message = format!(
                    "dead relu units: {dead} of {width} units ({:.0}%) of {} output 0 for every training example of epoch {epoch}; a dead unit gets no gradient and never recovers",
                    frac * 100.0,
                    self.describe(p)
                );
                let f = &self.facts;
                let mut fixes = vec!["lower the learning rate"];
                if !f.inputs_normalized {
                    fixes.push("normalise the inputs (`normalize = standard`)");
                }
                fixes.push("use leaky_relu or elu instead");
                if !f.he_fed.contains(&self.layers[p].index) {
                    fixes.push("initialise the dense layer before it with he_uniform");
                }
                let help = alternatives(&fixes);
                out.push(self.diagnostic("nnt::train::dead_relu", epoch, None, p, message, &help));
            }
        }
    }

    fn plateau(
        &mut self,
        epoch: usize,
        loss: f64,
        accuracy: Option<f64>,
        out: &mut Vec<RunDiagnostic>,
    ) {
        self.state.losses.push(loss);
        let Some(delta) = self.config.plateau_delta else {
            return;
        };
        let s = &self.state.epoch_steps;
        let last_steps = match s.len() {
            0 => return,
            1 => s[0],
            k => s[k - 1] - s[k - 2],
        }
        .max(1);
        // At least `plateau_epochs` epochs and at least MIN_PLATEAU_STEPS steps:
        // a handful of full-batch steps says nothing about a plateau.
        let n = self
            .config
            .plateau_epochs
            .max(1)
            .max(MIN_PLATEAU_STEPS.div_ceil(last_steps) as usize);
        let l = &self.state.losses;
        if l.len() < n + 1 || self.state.reported.contains(Detector::Plateau, None) {
            return;
        }
        let window = &l[l.len() - n - 1..];
        let limit = delta;
        let base = window[0].abs().max(1e-12);
        let best = window[1..].iter().cloned().fold(f64::INFINITY, f64::min);
        let improvement = (window[0] - best) / base / n as f64;
        let flat = improvement < limit;
        // Without accuracy (regression): worse than half of what predicting a
        // constant achieves; without that either, half of epoch 1's loss (a
        // linear fit that is good from epoch 1 on is not a plateau).
        let baseline = self
            .facts
            .constant_loss
            .filter(|b| b.is_finite() && *b > 0.0);
        let poor = match (accuracy, baseline) {
            (Some(a), _) => a < POOR_ACCURACY,
            (None, Some(b)) => loss > 0.5 * b,
            (None, None) => loss > 0.5 * l[0],
        };
        if !(flat && poor && loss.is_finite()) {
            return;
        }
        self.state.reported.insert(Detector::Plateau, None);
        let (causes, pos) = self.plateau_causes(n, window, limit);
        let state = match (accuracy, baseline) {
            (Some(a), _) => format!("train accuracy is only {a:.3}"),
            (None, Some(b)) => format!(
                "train loss {loss:.4} is still above half of what predicting a constant gives ({b:.4})"
            ),
            (None, None) => format!(
                "train loss {loss:.4} is still above half of epoch 1's ({:.4})",
                l[0]
            ),
        };
        let message = format!(
            "premature convergence: the train loss has improved by {:.1e} (relative) per epoch over the {n} epochs up to epoch {epoch}, below the limit {limit:.0e}, while {state}; likely causes: {}",
            improvement.max(0.0),
            causes
                .iter()
                .map(PlateauCause::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
        // The help of the cause that comes first in fixing order.
        let help = causes
            .iter()
            .min_by_key(|c| c.rank())
            .map_or(PlateauCause::Unexplained.help(&self.facts), |c| {
                c.help(&self.facts)
            });
        out.push(self.diagnostic("nnt::train::plateau", epoch, None, pos, message, &help));
    }

    /// Likely causes of a plateau, from what the detectors have seen, and the
    /// layer the finding points at.
    fn plateau_causes(&self, n: usize, window: &[f64], limit: f64) -> (Vec<PlateauCause>, usize) {
        let st = &self.state;
        let mut causes = Vec::new();
        let mut pos = None;
        let threshold = self.config.dead_relu_fraction.unwrap_or(f64::INFINITY);
        let dead: Vec<usize> = (0..self.layers.len())
            .filter(|&p| {
                self.layers[p].is_relu
                    && st.dead_fraction[p] > 0.0
                    && st.dead_fraction[p] >= threshold
            })
            .collect();
        if !dead.is_empty() {
            let list: Vec<String> = dead
                .iter()
                .map(|&p| {
                    format!(
                        "{} {:.0}% dead",
                        self.describe(p),
                        st.dead_fraction[p] * 100.0
                    )
                })
                .collect();
            causes.push(PlateauCause::DeadRelu {
                layers: list.join(", "),
            });
            pos = dead.first().copied();
        }
        let vanishing = self.vanishing_layers();
        if !vanishing.is_empty() {
            let saturating = self
                .layers
                .iter()
                .any(|l| l.name == "sigmoid" || l.name == "tanh");
            causes.push(PlateauCause::Vanishing {
                saturating,
                layers: vanishing
                    .iter()
                    .map(|&p| format!("layer {}", self.layers[p].index))
                    .collect::<Vec<_>>()
                    .join(", "),
                ratios: self.per_layer(&st.ratios, true),
            });
            pos = pos.or(vanishing.first().copied());
        }
        // How far the weights moved over the window, relative to their size.
        let k = self.layers.len();
        let h = &st.weight_history;
        let epochs = h.len() / k.max(1);
        let mut moved = 0.0f64;
        let mut any_weights = false;
        if k > 0 && epochs > n {
            let (old, new) = (
                &h[(epochs - n - 1) * k..(epochs - n) * k],
                &h[(epochs - 1) * k..],
            );
            for p in 0..k {
                if self.layers[p].trainable && old[p] > 0.0 {
                    any_weights = true;
                    moved = moved.max((new[p] - old[p]).abs() / old[p] / n as f64);
                }
            }
        }
        if causes.is_empty() && any_weights && moved < STILL_WEIGHTS {
            causes.push(PlateauCause::StillWeights { moved });
        }
        let swing = window
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f64, f64::max)
            / window[0].abs().max(1e-12);
        if swing > 10.0 * limit.max(1e-12) && swing > 0.01 {
            causes.push(PlateauCause::Swinging { swing });
        }
        if causes.is_empty() {
            causes.push(PlateauCause::Unexplained);
        }
        let pos = pos
            .or_else(|| (0..k).rev().find(|&p| self.layers[p].trainable))
            .unwrap_or(0);
        (causes, pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_a_set_of_detector_and_layer_stored_as_before() {
        let mut r = Reported::default();
        assert!(r.insert(Detector::DeadRelu, Some(3)));
        assert!(r.insert(Detector::Plateau, None));
        assert!(!r.insert(Detector::DeadRelu, Some(3)));
        assert!(r.insert(Detector::DeadRelu, Some(1)));
        assert!(r.contains(Detector::DeadRelu, Some(1)));
        assert!(!r.contains(Detector::DeadRelu, None));
        // The checkpoint format of the earlier `code@layer` strings, in order found.
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"["dead_relu@3","plateau","dead_relu@1"]"#);
        let back: Reported = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let old: Reported =
            serde_json::from_str(r#"["exploding_gradient","vanishing_gradient"]"#).unwrap();
        assert!(old.contains(Detector::ExplodingGradient, None));
        assert!(old.contains(Detector::VanishingGradient, None));
        assert!(serde_json::from_str::<Reported>(r#"["dead_relu@x"]"#).is_err());
        assert!(serde_json::from_str::<Reported>(r#"["nothing"]"#).is_err());
    }

    #[test]
    fn the_plateau_help_is_the_first_cause_to_fix() {
        let dead = PlateauCause::DeadRelu {
            layers: "layer 1 (relu, line 3) 90% dead".into(),
        };
        let still = PlateauCause::StillWeights { moved: 1e-6 };
        let swing = PlateauCause::Swinging { swing: 0.2 };
        let vanishing = PlateauCause::Vanishing {
            saturating: true,
            layers: "layer 0".into(),
            ratios: "…".into(),
        };
        let pick = |causes: &[&PlateauCause], facts: &Facts| {
            causes
                .iter()
                .min_by_key(|c| c.rank())
                .map(|c| c.help(facts))
                .unwrap()
        };
        let none = Facts::default();
        assert_eq!(pick(&[&swing, &still, &dead], &none), still.help(&none));
        assert_eq!(pick(&[&swing, &vanishing, &dead], &none), dead.help(&none));
        assert_eq!(pick(&[&swing, &vanishing], &none), vanishing.help(&none));
        assert_eq!(pick(&[&swing], &none), swing.help(&none));
        // The help leaves out what the recipe already does.
        let he = Facts {
            all_he: true,
            ..Facts::default()
        };
        assert!(dead.help(&none).contains("he_uniform"));
        assert!(!dead.help(&he).contains("he_uniform"));
        assert!(!vanishing.help(&he).contains("he_uniform"));
        assert_eq!(
            swing.to_string(),
            "the loss goes up and down by up to 20% per epoch: a learning rate too large"
        );
    }

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

    /// One epoch of `steps` steps with the given per-layer squared norms and a
    /// relu layer whose units all fire.
    fn epoch(
        d: &mut Diagnoser,
        e: usize,
        steps: usize,
        sq: &[f64],
        loss: f64,
        acc: Option<f64>,
        w: &[f64],
    ) -> Vec<RunDiagnostic> {
        let mut found = Vec::new();
        for s in 1..=steps {
            found.extend(d.observe_step(e, s, sq));
            d.observe_relu(1, &[1.0f32; 4], 4);
        }
        found.extend(d.end_epoch(e, loss, acc, w));
        found
    }

    #[test]
    fn exploding_once_per_run_after_warmup_naming_the_worst_layer() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        for s in 1..=30 {
            assert!(d.observe_step(1, s, &[1.0, 0.0, 1.0]).is_none());
        }
        // both layers jump; layer 2 jumps further
        let hit = d.observe_step(1, 31, &[1e6, 0.0, 1e7]).expect("exploding");
        assert_eq!(hit.code, "nnt::train::exploding_gradient");
        assert_eq!(
            (hit.layer, hit.line, hit.step),
            (Some(2), Some(7), Some(31))
        );
        assert!(
            hit.message.contains("0: 1.0e3, 2: 3.2e3"),
            "{}",
            hit.message
        );
        assert!(
            d.observe_step(1, 32, &[1e8, 0.0, 1e8]).is_none(),
            "reported once"
        );
    }

    /// One step far above the running level is a large batch, not an
    /// explosion (a healthy run near convergence met a 115× spike once); a
    /// jump that lasts is reported at its second step.
    #[test]
    fn a_single_spike_is_not_an_explosion() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        let calm = [0.05f64 * 0.05, 0.0, 0.01];
        for s in 1..=100 {
            assert!(d.observe_step(1, s, &calm).is_none());
        }
        let spike = [5.67f64 * 5.67, 0.0, 0.01];
        assert!(d.observe_step(1, 101, &spike).is_none(), "one step");
        for s in 102..=110 {
            assert!(d.observe_step(1, s, &calm).is_none());
        }
        // Growing two steps in a row, each far past the running level.
        assert!(d
            .observe_step(1, 111, &[50.0f64 * 50.0, 0.0, 0.01])
            .is_none());
        let hit = d
            .observe_step(1, 112, &[500.0f64 * 500.0, 0.0, 0.01])
            .expect("a jump that lasts");
        assert_eq!(hit.code, "nnt::train::exploding_gradient");
        assert_eq!((hit.layer, hit.step), (Some(0), Some(112)));
    }

    #[test]
    fn exploding_by_absolute_limit_without_warmup() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        let hit = d.observe_step(1, 1, &[1e10, 0.0, 1.0]).expect("abs");
        assert_eq!(hit.layer, Some(0));
        assert!(
            hit.message.contains("above the limit 1e3"),
            "{}",
            hit.message
        );
        let mut off = Diagnoser::new(
            DiagnoseConfig {
                exploding_abs: None,
                ..DiagnoseConfig::default()
            },
            layers(),
        );
        assert!(off.observe_step(1, 1, &[1e10, 0.0, 1.0]).is_none());
    }

    #[test]
    fn small_norms_waking_up_are_not_explosions() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        for s in 1..=30 {
            assert!(d.observe_step(1, s, &[1e-18, 0.0, 1.0]).is_none());
        }
        assert!(d.observe_step(1, 31, &[1e-6, 0.0, 1.0]).is_none());
    }

    /// A unit counts as alive when any of its outputs in any observed batch was
    /// positive, however the batches come (units firing late in a batch, only
    /// in a later batch, never; a ragged last column is ignored as before).
    #[test]
    fn alive_units_are_those_with_a_positive_output() {
        let width = 4;
        let batches: [&[f32]; 3] = [
            &[0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.5],
            &[0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0],
            &[0.0, 0.0, 0.0, 0.0],
        ];
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        let mut want = vec![false; width];
        for y in batches {
            d.observe_relu(1, y, width);
            for col in y.chunks_exact(width) {
                for (w, &v) in want.iter_mut().zip(col) {
                    *w |= v > 0.0;
                }
            }
            assert_eq!(d.state.alive[1], want);
        }
        assert_eq!(want, [false, true, false, true]);
    }

    /// Both ways of looking (one pass over the batch while many units are
    /// silent, unit by unit once few are) mark the same units: a 16-unit layer
    /// whose units fire one batch at a time, the last ones alone.
    #[test]
    fn alive_units_are_found_both_ways() {
        let width = 16;
        let mut layers = layers();
        layers[1].width = width;
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers);
        let mut want = vec![false; width];
        // Batch b (3 columns): unit u fires in column u % 3 when `fires`: 5,
        // 10, 15 units after the first three batches (one pass each), the
        // last unit silent in the fourth and firing in the fifth (unit by unit).
        let fires = |u: usize, b: usize| u < 5 * b + 5 && (u < 15 || b >= 4);
        for b in 0..6 {
            let y: Vec<f32> = (0..3 * width)
                .map(|i| {
                    let (col, u) = (i / width, i % width);
                    if fires(u, b) && col == u % 3 {
                        1.0
                    } else {
                        -1.0
                    }
                })
                .collect();
            d.observe_relu(1, &y, width);
            for (u, w) in want.iter_mut().enumerate() {
                *w |= fires(u, b);
            }
            assert_eq!(d.state.alive[1], want, "batch {b}");
        }
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
            found[0].message.contains("0: 1.0e-8, 2: 1.0e0"),
            "{}",
            found[0].message
        );
        assert!(
            found[1].message.contains("3 of 4 units (75%)"),
            "{}",
            found[1].message
        );
    }

    #[test]
    fn small_gradients_everywhere_are_not_vanishing() {
        // A converged network: every layer's gradient is small, none far below
        // the last layer's.
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        let found = epoch(
            &mut d,
            1,
            3,
            &[1e-10, 0.0, 1e-9],
            0.01,
            Some(1.0),
            &[1.0, 0.0, 1.0],
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn plateau_needs_flat_loss_and_poor_accuracy() {
        let w = [1.0, 0.0, 1.0];
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        let mut found = vec![];
        for e in 1..=8 {
            found.extend(epoch(&mut d, e, 10, &[1.0, 0.0, 1.0], 0.7, Some(0.5), &w));
        }
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].code, "nnt::train::plateau");
        assert_eq!(found[0].epoch, 6);
        // weights did not move at all while gradients are of normal size
        assert!(
            found[0].message.contains("a learning rate too small"),
            "{}",
            found[0].message
        );
        let mut ok = Diagnoser::new(DiagnoseConfig::default(), layers());
        for e in 1..=8 {
            assert!(epoch(&mut ok, e, 10, &[1.0, 0.0, 1.0], 0.1, Some(0.99), &w).is_empty());
        }
    }

    /// Regression (no accuracy): a flat loss is premature convergence only
    /// while it is above half of what predicting a constant gives. A linear
    /// fit at its noise floor from epoch 1 on (loss 1.01, constant 5.0) is not
    /// one; it was reported as "still above half of epoch 1's".
    #[test]
    fn a_regression_plateau_is_judged_against_a_constant_prediction() {
        let w = [1.0, 0.0, 1.0];
        let run = |constant: Option<f64>| {
            let mut d = Diagnoser::new(DiagnoseConfig::default(), layers()).with_facts(Facts {
                constant_loss: constant,
                ..Facts::default()
            });
            let mut found = vec![];
            for e in 1..=8 {
                found.extend(epoch(&mut d, e, 10, &[1.0, 0.0, 1.0], 1.01, None, &w));
            }
            found
        };
        assert!(run(Some(5.0)).is_empty(), "{:?}", run(Some(5.0)));
        let found = run(Some(1.5));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("predicting a constant gives (1.5000)"),
            "{}",
            found[0].message
        );
    }

    /// The constant prediction's loss: the variance for mse, the mean absolute
    /// deviation from the median for mae, averaged over targets.
    #[test]
    fn constant_losses() {
        let t = Table {
            rows: 4,
            features: 0,
            targets: 2,
            x: vec![],
            y: vec![1.0, 10.0, 2.0, 10.0, 3.0, 10.0, 6.0, 10.0],
            lines: vec![],
        };
        // target 0: mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5; target 1: 0
        assert_eq!(constant_loss(&crate::ir::Loss::Mse, &t), Some(1.75));
        // target 0: median (upper) 3, |d| = 2, 1, 0, 3 → 1.5; target 1: 0
        assert_eq!(constant_loss(&crate::ir::Loss::Mae, &t), Some(0.75));
        assert_eq!(
            constant_loss(
                &crate::ir::Loss::CrossEntropy {
                    label_smoothing: 0.0
                },
                &t
            ),
            None
        );
    }

    #[test]
    fn plateau_spans_at_least_fifty_steps() {
        // Full batch: one step per epoch, so five flat epochs are not enough.
        let w = [1.0, 0.0, 1.0];
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        let mut found = vec![];
        for e in 1..=40 {
            found.extend(epoch(&mut d, e, 1, &[1.0, 0.0, 1.0], 0.7, Some(0.5), &w));
        }
        assert!(found.is_empty(), "{found:?}");
        for e in 41..=60 {
            found.extend(epoch(&mut d, e, 1, &[1.0, 0.0, 1.0], 0.7, Some(0.5), &w));
        }
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].epoch, 51);
    }

    #[test]
    fn plateau_with_dead_units_names_them() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        let mut found = vec![];
        for e in 1..=8 {
            for s in 1..=10 {
                d.observe_step(e, s, &[0.0, 0.0, 1.0]);
                d.observe_relu(1, &[0.0f32; 4], 4);
            }
            found.extend(d.end_epoch(e, 1.1, Some(0.33), &[1.0, 0.0, 1.0]));
        }
        let p = found
            .iter()
            .find(|f| f.code == "nnt::train::plateau")
            .expect("plateau");
        assert!(
            p.message.contains("dead relu units (layer 1"),
            "{}",
            p.message
        );
        assert_eq!(p.layer, Some(1));
    }

    #[test]
    fn state_round_trips_and_reads_older_checkpoints() {
        let mut d = Diagnoser::new(DiagnoseConfig::default(), layers());
        epoch(
            &mut d,
            1,
            3,
            &[0.1, 0.0, 0.3],
            0.7,
            Some(0.5),
            &[1.5, 0.0, 0.25],
        );
        let json = serde_json::to_string(&d.state).unwrap();
        let back: DiagnoseState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d.state);
        // a state written before the history fields existed still loads
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        for k in ["weight_history", "epoch_steps", "ratios", "dead_fraction"] {
            v.as_object_mut().unwrap().remove(k);
        }
        let old: DiagnoseState = serde_json::from_value(v).unwrap();
        assert!(old.weight_history.is_empty());
        // and training continues from it
        d.state = old;
        for e in 2..=12 {
            epoch(
                &mut d,
                e,
                10,
                &[0.1, 0.0, 0.3],
                0.7,
                Some(0.5),
                &[1.5, 0.0, 0.25],
            );
        }
        assert!(d.state.reported.contains(Detector::Plateau, None));
    }

    /// Issue 11, item 20: the help leaves out what the recipe already does.
    #[test]
    fn help_leaves_out_what_the_recipe_already_does() {
        let findings = |facts: Facts| {
            let mut d = Diagnoser::new(DiagnoseConfig::default(), layers()).with_facts(facts);
            for s in 1..=30 {
                d.observe_step(1, s, &[1.0, 0.0, 1.0]);
            }
            let exploding = d.observe_step(1, 31, &[1e6, 0.0, 1e7]).expect("exploding");
            let mut d =
                Diagnoser::new(DiagnoseConfig::default(), layers()).with_facts(d.facts.clone());
            d.observe_step(1, 1, &[1e-16, 0.0, 1.0]);
            d.observe_relu(1, &[0.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0], 4);
            let found = d.end_epoch(1, 1.0, Some(0.5), &[1.0, 0.0, 1.0]);
            let help = |code: &str| {
                found
                    .iter()
                    .find(|f| f.code == code)
                    .and_then(|f| f.help.clone())
                    .unwrap()
            };
            (
                exploding.help.unwrap(),
                help("nnt::train::vanishing_gradient"),
                help("nnt::train::dead_relu"),
            )
        };
        let (exploding, vanishing, dead) = findings(Facts::default());
        assert_eq!(
            exploding,
            "lower the learning rate, add `clip = norm(1.0)` to the train section, normalise the inputs (`normalize = standard`), or add batch_norm between layers"
        );
        assert_eq!(
            vanishing,
            "use relu-family activations (relu, leaky_relu, gelu) with he_uniform init, add batch_norm between the layers, or make the model shallower"
        );
        assert_eq!(
            dead,
            "lower the learning rate, normalise the inputs (`normalize = standard`), use leaky_relu or elu instead, or initialise the dense layer before it with he_uniform"
        );
        let (exploding, vanishing, dead) = findings(Facts {
            inputs_normalized: true,
            clip: true,
            batch_norm: true,
            he_fed: vec![0, 1, 2],
            all_he: true,
            ..Facts::default()
        });
        assert_eq!(exploding, "lower the learning rate");
        assert_eq!(
            vanishing,
            "use relu-family activations (relu, leaky_relu, gelu), or make the model shallower"
        );
        // A relu model whose hidden layers start from he_uniform is told
        // neither (its output layer keeps xavier: it feeds no activation).
        let (_, vanishing, _) = findings(Facts {
            he_fed: vec![0, 1, 2],
            all_he: true,
            relu_family: true,
            ..Facts::default()
        });
        assert_eq!(
            vanishing,
            "add batch_norm between the layers, or make the model shallower"
        );
        assert_eq!(
            dead,
            "lower the learning rate, or use leaky_relu or elu instead"
        );
        let (exploding, _, dead) = findings(Facts {
            inputs_normalized: true,
            ..Facts::default()
        });
        assert!(!exploding.contains("normalise"), "{exploding}");
        assert!(!dead.contains("normalise"), "{dead}");
        assert!(dead.contains("he_uniform"), "{dead}");
    }

    /// The divergence help left out what the recipe already has (it said "add
    /// `clip = norm(1.0)`" to a recipe that clips).
    #[test]
    fn the_divergence_help_fits_the_recipe() {
        assert_eq!(
            Facts::default().divergence_help(),
            "lower the learning rate, add `clip = norm(1.0)` to the train section, or normalise the inputs (`normalize = standard`)"
        );
        let both = Facts {
            inputs_normalized: true,
            clip: true,
            ..Facts::default()
        };
        assert_eq!(both.divergence_help(), "lower the learning rate");
        let clips = Facts {
            clip: true,
            ..Facts::default()
        };
        assert!(!clips.divergence_help().contains("clip"));
    }

    #[test]
    fn unit_scale_recognises_normalized_inputs() {
        use crate::data::normalize::{apply, fit};
        use crate::ir::Normalize;
        let raw = Table {
            rows: 4,
            features: 2,
            targets: 1,
            x: vec![5.1, 100.0, 4.9, 130.0, 6.3, 90.0, 7.0, 0.0],
            y: vec![0.0; 4],
            lines: Vec::new(),
        };
        assert!(!unit_scale(&raw));
        for how in [Normalize::Standard, Normalize::MinMax] {
            let mut t = raw.clone();
            apply(&fit(&t, how).unwrap(), &mut t);
            assert!(unit_scale(&t), "{how:?}: {:?}", t.x);
        }
    }
}
