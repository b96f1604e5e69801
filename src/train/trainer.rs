//! The epoch loop (§9, §10): batches, steps, evaluation, events, schedule, early
//! stopping, checkpoints, divergence and interruption.
//!
//! A step: gather the batch → forward (train mode) → loss and ∂loss/∂output →
//! backward → add penalty gradients → per-layer and global gradient norms (logged
//! `grad_norm`, divergence check) → clip → optimizer step → max_norm. Nothing is
//! allocated in a step.

use std::sync::atomic::Ordering;
use std::time::Instant;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::events::{
    EndEvent, EndReason, EpochEvent, Event, Observer, RunDiagnostic, Severity, StartEvent,
};
use crate::io::checkpoint;
use crate::io::model_file;
use crate::io::weights::{self, WeightsFile};
use crate::ir::{Loss, Monitor, Program, Schedule, Table};
use crate::rng::{generator, Stream};
use crate::train::clip;
use crate::train::diagnose::{Diagnoser, Facts, LayerInfo};
use crate::train::early_stop::EarlyStopper;
use crate::train::float::Float;
use crate::train::infer::Evaluator;
use crate::train::init;
use crate::train::layers::Node;
use crate::train::linalg;
use crate::train::losses;
use crate::train::metrics::{Scorer, Wants};
use crate::train::network::{Network, ParamKind};
use crate::train::optim::Optim;
use crate::train::penalty;
use crate::train::schedule::Scheduler;
use crate::train::snapshot;
use crate::train::{RunOptions, RunOutcome, TrainError};

/// The most classes for which the end event carries a confusion matrix.
pub const MAX_CONFUSION_CLASSES: usize = 50;

/// One split converted to the run's precision.
#[derive(Debug, Clone)]
pub struct Split<T> {
    pub rows: usize,
    /// `features × rows`, column-major (= the table's row-major order).
    pub x: Vec<T>,
    /// `targets × rows`.
    pub y: Vec<T>,
}

impl<T: Float> Split<T> {
    fn from_table(t: &Table) -> Self {
        Split {
            rows: t.rows,
            x: t.x.iter().map(|&v| T::of(v)).collect(),
            y: t.y.iter().map(|&v| T::of(v)).collect(),
        }
    }
}

/// Where a non-finite value first showed up in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blowup {
    Forward(usize),
    Loss,
    Gradient(Option<usize>),
    /// The update left a parameter of this layer non-finite.
    Update(Option<usize>),
}

/// Whether every value is finite (in pieces on the team's threads for a large
/// vector; [`finite_block`] on each).
fn all_finite<T: Float>(v: &[T]) -> bool {
    let (len, pieces) = (v.len(), linalg::element_pieces(v.len()));
    let mut ok = [true; linalg::MAX_PIECES];
    let parts = ok.iter_mut().take(pieces).enumerate().map(|(i, o)| {
        let r = linalg::cut(len, pieces, i)..linalg::cut(len, pieces, i + 1);
        (&v[r], o)
    });
    linalg::run_parts(parts, |_, (v, o)| *o = finite_block(v));
    ok.iter().all(|&o| o)
}

/// Whether every value is finite: `x·0` is 0 for a finite `x` and NaN otherwise,
/// summed in eight independent lanes (one vectorised pass over the values).
fn finite_block<T: Float>(v: &[T]) -> bool {
    let zero = T::zero();
    let mut lanes = [zero; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += x * zero;
        }
    }
    rest.iter().all(|x| x.is_finite()) && lanes.iter().all(|l| l.is_finite())
}

/// The state of a run, generic over the float type.
pub struct Trainer<'p, T> {
    pub program: &'p Program,
    pub opts: RunOptions,
    pub net: Network<T>,
    pub optim: Optim<T>,
    pub sched: Scheduler,
    pub stopper: Option<EarlyStopper>,
    /// Parameters and running statistics of the best epoch (with early_stop).
    pub best: Option<(Vec<T>, Vec<Vec<T>>)>,
    pub shuffle_rng: ChaCha8Rng,
    pub dropout_rng: ChaCha8Rng,
    /// Epochs already done (from a checkpoint); the loop starts at `done + 1`.
    pub done: usize,
    /// The checkpoint said the run had already stopped early.
    pub stopped: bool,
    /// The events of the last epoch and of the best epoch under early_stop (the
    /// end event's `best`, §18); kept in checkpoints so a resumed log ends the same.
    pub last_event: Option<EpochEvent>,
    pub best_event: Option<EpochEvent>,
    train: Split<T>,
    valid: Option<Split<T>>,
    test: Option<Split<T>>,
    order: Vec<usize>,
    ybuf: Vec<T>,
    targets: usize,
    batch: usize,
    /// Squared gradient norm of each layer in the last step (for the detectors).
    pub layer_grad_sq: Vec<f64>,
    /// The run-time detectors of §13.
    pub diag: Diagnoser,
    /// Positions of the relu layers (the dead-unit detector reads their output).
    relu_layers: Vec<usize>,
    /// What checkpoints depend on (empty when the run neither writes nor reads one).
    pub fingerprint: Vec<(&'static str, String)>,
    /// The evaluation-mode pass (valid and test splits).
    evaluator: Evaluator<T>,
}

impl<'p, T: Float> Trainer<'p, T> {
    /// Builds the network, initialises it (or loads `init_from`), and restores a
    /// checkpoint when resuming.
    pub fn new(program: &'p Program, opts: &RunOptions) -> Result<Self, TrainError> {
        let data = &program.data;
        let train_rows = data.train.rows;
        let batch = program.train.batch.rows(train_rows).min(train_rows.max(1));
        let capacity = program.row_capacity();
        let mut net = Network::<T>::new(&program.model, capacity);

        // Initialise dense layers from the Init stream, layer by layer.
        let mut rng = generator(program.seed, Stream::Init);
        for slot in &net.layers {
            if let Node::Dense(d) = &slot.node {
                let ir_layer = program.model.layers.iter().find(|l| l.index == slot.index);
                if let Some(crate::ir::LayerKind::Dense { init: how, .. }) =
                    ir_layer.map(|l| &l.kind)
                {
                    let (wo, wl) = (d.weight, d.weight_len());
                    let (head, tail) = net.params.split_at_mut(wo + wl);
                    let w = &mut head[wo..];
                    let b = d
                        .bias
                        .map(|bo| &mut tail[bo - (wo + wl)..bo - (wo + wl) + d.units]);
                    init::dense(how, d.inputs, d.units, w, b, &mut rng);
                }
            }
        }
        if let Some(path) = &program.init_from {
            let file = WeightsFile::read(path)?;
            snapshot::load_parameters(&mut net, &file, "")?;
        }

        let targets = losses::target_width(&program.loss, net.output_width);
        let infos: Vec<LayerInfo> = net
            .layers
            .iter()
            .enumerate()
            .map(|(pos, s)| LayerInfo {
                index: s.index,
                line: s.line,
                name: s.name,
                trainable: net.tensors.iter().any(|t| t.layer == pos),
                is_dense: matches!(s.node, Node::Dense(_)),
                is_relu: matches!(s.node, Node::Activation(a) if a.is_relu()),
                width: s.out_width,
            })
            .collect();
        let diag = Diagnoser::new(program.diagnose.clone(), infos).with_facts(Facts::of(program));
        let relu_layers = if diag.watches_relu() {
            diag.layers
                .iter()
                .enumerate()
                .filter(|(_, l)| l.is_relu)
                .map(|(p, _)| p)
                .collect()
        } else {
            Vec::new()
        };
        let mut trainer = Trainer {
            program,
            opts: opts.clone(),
            optim: Optim::new(&program.optimizer, net.params.len()),
            sched: Scheduler::new(
                &program.train.lr_schedule,
                program.optimizer.lr(),
                program.train.epochs,
            ),
            stopper: program.train.early_stop.map(EarlyStopper::new),
            best: None,
            shuffle_rng: generator(program.seed, Stream::Shuffle),
            dropout_rng: generator(program.seed, Stream::Dropout),
            done: 0,
            stopped: false,
            last_event: None,
            best_event: None,
            train: Split::from_table(&data.train),
            valid: data.valid.as_ref().map(Split::from_table),
            test: data.test.as_ref().map(Split::from_table),
            order: (0..train_rows).collect(),
            ybuf: vec![T::zero(); targets * capacity],
            targets,
            batch: batch.max(1),
            layer_grad_sq: vec![0.0; net.layers.len()],
            diag,
            relu_layers,
            evaluator: Evaluator::new(&net.layers, net.input_width, net.capacity),
            net,
            fingerprint: if program.checkpoint.is_some() || opts.resume.is_some() {
                crate::train::fingerprint::of(program)
            } else {
                Vec::new()
            },
        };
        if let Some(path) = &opts.resume {
            let file = checkpoint::read(path)?;
            snapshot::restore(&mut trainer, &file)?;
            // Resuming from a checkpoint this run would write again (it is in the
            // checkpoint directory, named after a later epoch) would replace it.
            if let Some(ck) = &program.checkpoint {
                if let Some(e) = crate::train::preflight::checkpoint_epoch_in(&ck.path, path) {
                    if e > trainer.done && e <= program.train.epochs {
                        return Err(crate::io::guard::IoError::OutputIsInput {
                            output_role: "checkpoint".to_string(),
                            output: checkpoint::path_for(&ck.path, e).display().to_string(),
                            input_role: "checkpoint resumed".to_string(),
                            input: path.display().to_string(),
                        }
                        .into());
                    }
                }
            }
        }
        Ok(trainer)
    }

    fn steps_per_epoch(&self) -> usize {
        self.train.rows.div_ceil(self.batch).max(1)
    }

    /// Runs the remaining epochs and the end of the run, with the engine's
    /// threads (`RunOptions::threads`) at hand when the network has work large
    /// enough to split (see `linalg::pool`).
    pub fn run(self, observer: &mut (dyn Observer + Send)) -> Result<RunOutcome, TrainError> {
        let threads = if self.worth_a_team() {
            self.opts.threads.unwrap_or_else(linalg::default_threads)
        } else {
            1
        };
        linalg::pool(threads, || self.run_on_pool(observer))
    }

    /// Whether a step has a matrix product or an element-wise pass large enough
    /// that `linalg` cuts it into pieces; tiny networks run on one core.
    fn worth_a_team(&self) -> bool {
        let n = self.batch;
        self.net.params.len() >= linalg::PAR_ELEMENTS
            || self.net.layers.iter().any(|l| {
                l.in_width.max(l.out_width) * n >= linalg::PAR_ELEMENTS
                    || l.in_width * l.out_width * n >= linalg::PAR_WORK
            })
    }

    fn run_on_pool(mut self, observer: &mut dyn Observer) -> Result<RunOutcome, TrainError> {
        let program = self.program;
        let plan = &program.train;
        let classes = match program.loss {
            Loss::CrossEntropy { .. } => Some(self.net.output_width),
            Loss::BinaryCrossEntropy => Some(2),
            _ => None,
        };
        observer.event(&Event::Start(StartEvent {
            recipe: program.source.name.clone(),
            parameters: self.net.parameter_count(),
            train_rows: self.train.rows,
            valid_rows: self.valid.as_ref().map(|s| s.rows),
            test_rows: self.test.as_ref().map(|s| s.rows),
            seed: program.seed,
            dropped_rows: program.data.dropped_rows,
            class_names: program
                .data
                .prep
                .as_ref()
                .and_then(|p| p.class_names())
                .map(<[String]>::to_vec),
            nnt: env!("CARGO_PKG_VERSION").to_string(),
            config: program.source.config.clone(),
            classes,
            epochs: plan.epochs,
            steps_per_epoch: self.steps_per_epoch(),
        }));

        let mut reason = EndReason::Completed;
        let mut epochs_logged = self.done;
        // The epoch events, for `expect` (read on the kept epoch at the end).
        let mut logged: Vec<EpochEvent> = Vec::new();
        let mut total_seconds = 0.0f64;
        let mut total_steps = 0usize;
        // Serialised state after the last finished epoch, for Ctrl-C.
        let mut last_snapshot: Option<(usize, Vec<u8>)> = None;
        // The checkpoints this run wrote, oldest first: the only ones rotation deletes.
        let mut written: Vec<std::path::PathBuf> = Vec::new();
        if self.stopped {
            reason = EndReason::EarlyStop;
        }
        let start_epoch = self.done + 1;
        let mut epoch = start_epoch;
        while !self.stopped && epoch <= plan.epochs {
            let t0 = Instant::now();
            match self.train_epoch(epoch, observer) {
                EpochResult::Done(mut ev, steps) => {
                    total_steps += steps;
                    if let Some(v) = self.valid.take() {
                        let wants = Wants::for_metrics(&program.loss, &plan.metrics, false);
                        let scored = self.evaluate(&v, wants);
                        self.valid = Some(v);
                        ev.valid_loss = Some(scored.loss());
                        ev.valid_accuracy = scored.accuracy();
                        ev.valid_metrics = scored.values(&plan.metrics);
                    }
                    let seconds = t0.elapsed().as_secs_f64();
                    total_seconds += seconds;
                    if self.opts.timings {
                        ev.seconds = Some(seconds);
                    }
                    observer.event(&Event::Epoch(ev.clone()));
                    epochs_logged = epoch;
                    if !program.expect.is_empty() {
                        logged.push(ev.clone());
                    }
                    let norms = self.weight_norms();
                    for d in self
                        .diag
                        .end_epoch(epoch, ev.train_loss, ev.train_accuracy, &norms)
                    {
                        observer.event(&Event::Diagnostic(d));
                    }
                    let monitored = |m: Monitor| match m {
                        Monitor::TrainLoss => ev.train_loss,
                        Monitor::ValidLoss => ev.valid_loss.unwrap_or(f64::NAN),
                        Monitor::ValidAccuracy => ev.valid_accuracy.unwrap_or(f64::NAN),
                        Monitor::Valid(metric) => ev
                            .valid_metrics
                            .iter()
                            .find(|(x, _)| *x == metric)
                            .map_or(f64::NAN, |(_, v)| *v),
                    };
                    if let Schedule::ReduceOnPlateau { monitor, .. } = self.sched.schedule {
                        let v = monitored(monitor);
                        self.sched
                            .observe(if monitor.higher_is_better() { -v } else { v });
                    }
                    if let Some(stopper) = self.stopper.as_mut() {
                        let verdict = stopper.observe(epoch, monitored(stopper.config.monitor));
                        if verdict.improved {
                            self.remember_best();
                        }
                        if verdict.stop {
                            self.stopped = true;
                            reason = EndReason::EarlyStop;
                        }
                    }
                    if self.stopper.is_some_and(|s| s.best_epoch == epoch) {
                        self.best_event = Some(ev.clone());
                    }
                    self.last_event = Some(ev);
                    self.done = epoch;
                    if let Some(ck) = &program.checkpoint {
                        let due = epoch.is_multiple_of(ck.every.max(1));
                        let wanted_for_interrupt = self.opts.interrupt.is_some();
                        if due || wanted_for_interrupt {
                            let bytes = snapshot::serialize(&self).map_err(|e| {
                                TrainError::Weights(weights::WeightsError::Write {
                                    path: checkpoint::path_for(&ck.path, epoch)
                                        .display()
                                        .to_string(),
                                    source: std::io::Error::other(e),
                                })
                            })?;
                            if due {
                                let p = checkpoint::write(&ck.path, epoch, &bytes)?;
                                checkpoint::rotate(&mut written, p, ck.keep);
                                last_snapshot = None;
                            } else {
                                last_snapshot = Some((epoch, bytes));
                            }
                        }
                    }
                }
                EpochResult::Diverged(diag) => {
                    observer.event(&Event::Diagnostic(diag));
                    reason = EndReason::Diverged;
                    break;
                }
                EpochResult::Interrupted(steps) => {
                    total_steps += steps;
                    reason = EndReason::Interrupted;
                    if let (Some(ck), Some((e, bytes))) = (&program.checkpoint, &last_snapshot) {
                        let p = checkpoint::write(&ck.path, *e, bytes)?;
                        checkpoint::rotate(&mut written, p, ck.keep);
                    }
                    break;
                }
            }
            epoch += 1;
        }

        let mut end = EndEvent {
            reason,
            epochs: epochs_logged,
            best_epoch: self
                .stopper
                .as_ref()
                .map(|s| s.best_epoch)
                .filter(|&e| e > 0),
            test_loss: None,
            test_accuracy: None,
            test_metrics: Vec::new(),
            confusion: None,
            best: None,
            save: None,
            seconds: None,
            steps_per_second: None,
            expectations_failed: false,
        };
        if matches!(reason, EndReason::Completed | EndReason::EarlyStop) {
            // With early_stop, the best epoch's parameters are the ones saved and tested.
            if let Some((params, stats)) = self.best.as_mut() {
                std::mem::swap(&mut self.net.params, params);
                for ((_, cur), saved) in self
                    .net
                    .running_stats_mut()
                    .into_iter()
                    .zip(stats.iter_mut())
                {
                    std::mem::swap(cur, saved);
                }
            }
            // The weights first: nothing after training (an evaluation, a large
            // confusion matrix) may cost them.
            if let Some(path) = &program.save {
                // Batch norm's `num_batches_tracked`: the steps up to the kept epoch.
                let kept = self
                    .stopper
                    .as_ref()
                    .map(|s| s.best_epoch)
                    .filter(|&e| e > 0)
                    .unwrap_or(epochs_logged);
                let steps = (kept * self.steps_per_epoch()) as u64;
                model_file::write(
                    path,
                    &snapshot::model_tensors(&self.net),
                    T::DTYPE,
                    &snapshot::model_meta(program),
                    steps,
                )?;
                end.save = Some(path.display().to_string());
            }
            // A confusion matrix only where it can be read (C ≤ 50): C² counts of
            // 20 000 classes would take gigabytes.
            let classes = classes.filter(|&c| c <= MAX_CONFUSION_CLASSES);
            if let Some(test) = self.test.take() {
                let wants = Wants::for_metrics(&program.loss, &plan.metrics, classes.is_some());
                let scored = self.evaluate(&test, wants);
                end.test_loss = Some(scored.loss());
                end.test_accuracy = scored.accuracy();
                end.test_metrics = scored.values(&plan.metrics);
                end.confusion = scored.confusion.filter(|_| classes.is_some());
            } else if let Some(valid) = self.valid.take() {
                let wants = Wants::for_metrics(&program.loss, &[], classes.is_some());
                let scored = self.evaluate(&valid, wants);
                end.confusion = scored.confusion.filter(|_| classes.is_some());
                self.valid = Some(valid);
            }
            end.best = if self.stopper.is_some() {
                self.best_event.take()
            } else {
                self.last_event.take()
            };
        }
        if self.opts.timings {
            end.seconds = Some(total_seconds);
            end.steps_per_second = Some(if total_seconds > 0.0 {
                total_steps as f64 / total_seconds
            } else {
                0.0
            });
        }
        if matches!(reason, EndReason::Completed | EndReason::EarlyStop) {
            let kept_epoch = end.best_epoch.unwrap_or(epochs_logged);
            let kept = logged.iter().find(|e| e.epoch == kept_epoch);
            let unmet = crate::train::expect::unmet(&program.expect, kept, &end);
            end.expectations_failed = !unmet.is_empty();
            for d in unmet {
                observer.event(&Event::Diagnostic(d));
            }
        }
        observer.event(&Event::End(end.clone()));
        Ok(RunOutcome { end })
    }

    /// L2 norm of each layer's trainable parameters.
    fn weight_norms(&self) -> Vec<f64> {
        let mut sq = vec![0.0f64; self.net.layers.len()];
        for t in &self.net.tensors {
            sq[t.layer] += linalg::sum_squares(&self.net.params[t.offset..t.offset + t.len]);
        }
        sq.into_iter().map(f64::sqrt).collect()
    }

    fn remember_best(&mut self) {
        let stats: Vec<Vec<T>> = self
            .net
            .running_stats()
            .into_iter()
            .map(|(_, v)| v.to_vec())
            .collect();
        match self.best.as_mut() {
            Some((p, s)) => {
                p.copy_from_slice(&self.net.params);
                for (dst, src) in s.iter_mut().zip(&stats) {
                    dst.copy_from_slice(src);
                }
            }
            None => self.best = Some((self.net.params.clone(), stats)),
        }
    }

    /// One epoch of training steps.
    fn train_epoch(&mut self, epoch: usize, observer: &mut dyn Observer) -> EpochResult {
        let program = self.program;
        let lr = self.sched.rate(epoch);
        let rows = self.train.rows;
        for (i, o) in self.order.iter_mut().enumerate() {
            *o = i;
        }
        if program.train.shuffle {
            for i in (1..rows).rev() {
                let j = self.shuffle_rng.gen_range(0..=i as u64) as usize;
                self.order.swap(i, j);
            }
        }
        let steps = self.steps_per_epoch();
        let features = self.net.input_width;
        let k = self.net.output_width;
        let targets = self.targets;
        let reg = program.regularize;
        let mut loss_sum = 0.0f64;
        let mut correct = 0usize;
        let mut norm_sum = 0.0f64;
        let mut done_rows = 0usize;
        for step in 1..=steps {
            let start = (step - 1) * self.batch;
            let n = self.batch.min(rows - start);
            {
                let input = self.net.input_mut(n);
                let (order, x) = (&self.order[start..start + n], &self.train.x[..]);
                linalg::split_columns(order, 1, input, features, n, |_, order, input| {
                    for (c, &r) in order.iter().enumerate() {
                        input[c * features..(c + 1) * features]
                            .copy_from_slice(&x[r * features..(r + 1) * features]);
                    }
                });
                for (c, &r) in order.iter().enumerate() {
                    self.ybuf[c * targets..(c + 1) * targets]
                        .copy_from_slice(&self.train.y[r * targets..(r + 1) * targets]);
                }
            }
            self.net.forward(n, true, &mut self.dropout_rng);
            for &pos in &self.relu_layers {
                let width = self.net.layers[pos].out_width;
                self.diag
                    .observe_relu(pos, self.net.layer_output(pos, n), width);
            }
            let (out, dout) = self.net.output_and_grad(n);
            let bl = losses::evaluate(
                &program.loss,
                out,
                &self.ybuf[..targets * n],
                k,
                n,
                Some(dout),
            );
            if !bl.mean.is_finite() {
                let where_ = match self.net.first_nonfinite_output(n) {
                    Some(p) => Blowup::Forward(p),
                    None => Blowup::Loss,
                };
                return EpochResult::Diverged(self.divergence(epoch, step, where_));
            }
            self.net.backward(n);
            if reg.l1 != 0.0 || reg.l2 != 0.0 {
                for t in &self.net.tensors {
                    if t.kind == ParamKind::DenseWeight {
                        let r = t.offset..t.offset + t.len;
                        penalty::add_gradient(
                            &self.net.params[r.clone()],
                            &mut self.net.grads[r],
                            reg.l1,
                            reg.l2,
                        );
                    }
                }
            }
            // Per-layer squared norms, summed in a fixed order. Without clipping
            // nothing needs the norm before the update, so sgd, adam and adamw measure
            // the gradient while they apply it (one pass over it instead of two).
            // On a non-finite norm the run stops just below with the parameters
            // updated; nothing reads them after a divergence (no save, and a
            // checkpoint holds the previous epoch's state).
            self.layer_grad_sq.iter_mut().for_each(|v| *v = 0.0);
            let updated = program.train.clip.is_none()
                && self.optim.step_measured(
                    &mut self.net.params,
                    &self.net.grads,
                    lr,
                    &self.net.tensors,
                    &mut self.layer_grad_sq,
                );
            if !updated {
                for t in &self.net.tensors {
                    self.layer_grad_sq[t.layer] +=
                        linalg::sum_squares(&self.net.grads[t.offset..t.offset + t.len]);
                }
            }
            let total: f64 = self.layer_grad_sq.iter().sum();
            let norm = total.sqrt();
            if !norm.is_finite() {
                let where_ = match self.net.first_nonfinite_output(n) {
                    Some(p) => Blowup::Forward(p),
                    None => {
                        Blowup::Gradient(self.layer_grad_sq.iter().rposition(|v| !v.is_finite()))
                    }
                };
                return EpochResult::Diverged(self.divergence(epoch, step, where_));
            }
            norm_sum += norm;
            if let Some(d) = self.diag.observe_step(epoch, step, &self.layer_grad_sq) {
                observer.event(&Event::Diagnostic(d));
            }
            if !updated {
                if let Some(c) = &program.train.clip {
                    clip::apply(c, &mut self.net.grads, norm);
                }
                self.optim.step(&mut self.net.params, &self.net.grads, lr);
            }
            if let Some(c) = reg.max_norm {
                for t in &self.net.tensors {
                    if t.kind == ParamKind::DenseWeight {
                        let inputs = t.shape[1];
                        penalty::max_norm(
                            &mut self.net.params[t.offset..t.offset + t.len],
                            inputs,
                            c,
                        );
                    }
                }
            }
            // An update can overflow parameters while the gradient was finite
            // (a huge learning rate): check every update, before anything is
            // logged or written.
            if !all_finite(&self.net.params) {
                let layer = self
                    .net
                    .tensors
                    .iter()
                    .find(|t| !all_finite(&self.net.params[t.offset..t.offset + t.len]))
                    .map(|t| t.layer);
                return EpochResult::Diverged(self.divergence(epoch, step, Blowup::Update(layer)));
            }
            loss_sum += bl.mean * n as f64;
            correct += bl.correct;
            done_rows += n;
            observer.step(epoch, step, steps, loss_sum / done_rows as f64);
            if let Some(flag) = &self.opts.interrupt {
                if flag.load(Ordering::SeqCst) {
                    return EpochResult::Interrupted(step);
                }
            }
        }
        let rows_f = rows.max(1) as f64;
        let penalty = reg.has_penalty.then(|| {
            self.net
                .tensors
                .iter()
                .filter(|t| t.kind == ParamKind::DenseWeight)
                .map(|t| {
                    penalty::value(&self.net.params[t.offset..t.offset + t.len], reg.l1, reg.l2)
                })
                .sum()
        });
        EpochResult::Done(
            EpochEvent {
                epoch,
                lr,
                train_loss: loss_sum / rows_f,
                train_accuracy: program
                    .loss
                    .is_classification()
                    .then(|| correct as f64 / rows_f),
                valid_loss: None,
                valid_accuracy: None,
                penalty,
                grad_norm: norm_sum / steps as f64,
                valid_metrics: Vec::new(),
                seconds: None,
            },
            steps,
        )
    }

    fn divergence(&self, epoch: usize, step: usize, where_: Blowup) -> RunDiagnostic {
        let layer_desc = |pos: usize| {
            let s = &self.net.layers[pos];
            (
                Some(s.index),
                Some(s.line),
                format!("layer {} ({}, line {})", s.index, s.name, s.line),
            )
        };
        let (layer, line, message) = match where_ {
            Blowup::Forward(p) => {
                let (l, ln, d) = layer_desc(p);
                (l, ln, format!("training diverged at epoch {epoch}, step {step}: the forward pass produced a non-finite value in the output of {d}"))
            }
            Blowup::Loss => (
                None,
                None,
                format!("training diverged at epoch {epoch}, step {step}: the loss is not finite"),
            ),
            Blowup::Gradient(Some(p)) => {
                let (l, ln, d) = layer_desc(p);
                (l, ln, format!("training diverged at epoch {epoch}, step {step}: the gradient of {d} is not finite"))
            }
            Blowup::Update(Some(p)) => {
                let (l, ln, d) = layer_desc(p);
                (l, ln, format!("training diverged at epoch {epoch}, step {step}: the update made the parameters of {d} non-finite"))
            }
            Blowup::Update(None) => (
                None,
                None,
                format!("training diverged at epoch {epoch}, step {step}: the update made a parameter non-finite"),
            ),
            Blowup::Gradient(None) => (
                None,
                None,
                format!(
                    "training diverged at epoch {epoch}, step {step}: a gradient is not finite"
                ),
            ),
        };
        RunDiagnostic {
            severity: Severity::Error,
            code: "nnt::train::diverged",
            epoch,
            step: Some(step),
            layer,
            line,
            message,
            help: Some("lower the learning rate, add `clip = norm(1.0)`, or normalise the data (`normalize = standard`)".to_string()),
        }
    }

    /// A labelled split in evaluation mode, in chunks of the buffer capacity,
    /// scored with what `wants` asks for.
    pub fn evaluate(&mut self, split: &Split<T>, wants: Wants) -> Scorer {
        let k = self.net.output_width;
        let targets = self.targets;
        let mut scorer = Scorer::new(self.program.loss, k, wants);
        if let Some(t) = self
            .program
            .data
            .prep
            .as_ref()
            .and_then(|p| p.targets.as_ref())
        {
            scorer = scorer.with_target_scaling(t.mean.clone(), t.std.clone());
        }
        let (layers, params) = (&mut self.net.layers, &self.net.params);
        self.evaluator
            .run(layers, params, &split.x, split.rows, |start, n, out| {
                scorer.add(out, &split.y[start * targets..(start + n) * targets], n);
            });
        scorer
    }
}

enum EpochResult {
    /// The epoch event (valid fields not yet filled) and the steps taken.
    Done(EpochEvent, usize),
    Diverged(RunDiagnostic),
    /// Stopped by the interrupt flag after this many steps.
    Interrupted(usize),
}
