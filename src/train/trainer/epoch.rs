//! One epoch: the steps over the shuffled rows ([`Trainer::train_epoch`]) and
//! what follows them ([`Trainer::end_epoch`]): the valid split, the epoch event,
//! the end-of-epoch detectors, the schedule and early stopping.

use std::sync::atomic::Ordering;
use std::time::Instant;

use rand::Rng;

use crate::events::{EpochEvent, Event, Observer, RunDiagnostic, Severity};
use crate::ir::{Monitor, Schedule};
use crate::train::diagnose::Diagnoser;
use crate::train::float::Float;
use crate::train::metrics::Wants;
use crate::train::network::ParamKind;
use crate::train::penalty;

use super::step::{Blowup, StepPlan, StepWatch};
use super::{Progress, Trainer};

/// How an epoch's steps ended.
pub(crate) enum EpochResult {
    /// The epoch event (valid fields not yet filled) and the steps taken.
    Done(EpochEvent, usize),
    Diverged(RunDiagnostic),
    /// Stopped by the interrupt flag after this many steps.
    Interrupted(usize),
}

/// The run's detectors inside a step, reporting to the observer.
struct Watch<'a> {
    diag: &'a mut Diagnoser,
    observer: &'a mut dyn Observer,
    epoch: usize,
    step: usize,
}

impl<T: Float> StepWatch<T> for Watch<'_> {
    fn relu(&mut self, pos: usize, y: &[T], width: usize) {
        self.diag.observe_relu(pos, y, width);
    }

    fn norms(&mut self, layer_sq: &[f64]) {
        if let Some(d) = self.diag.observe_step(self.epoch, self.step, layer_sq) {
            self.observer.event(&Event::Diagnostic(d));
        }
    }
}

impl<T: Float> Trainer<'_, T> {
    /// The steps of one epoch.
    pub(crate) fn train_epoch(&mut self, epoch: usize, observer: &mut dyn Observer) -> EpochResult {
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
        let plan = StepPlan {
            loss: &program.loss,
            regularize: &program.regularize,
            clip: program.train.clip.as_ref(),
        };
        let mut loss_sum = 0.0f64;
        let mut correct = 0usize;
        let mut norm_sum = 0.0f64;
        let mut done_rows = 0usize;
        for step in 1..=steps {
            let start = (step - 1) * self.batch;
            let n = self.batch.min(rows - start);
            let mut watch = Watch {
                diag: &mut self.diag,
                observer: &mut *observer,
                epoch,
                step,
            };
            self.team.before_step();
            let stats = match self.stepper.step(
                &mut self.net,
                &mut self.optim,
                plan,
                &self.train,
                &self.order[start..start + n],
                lr,
                &mut self.dropout_rng,
                &mut watch,
            ) {
                Ok(s) => s,
                Err(where_) => return EpochResult::Diverged(self.divergence(epoch, step, where_)),
            };
            self.team.after_step();
            norm_sum += stats.norm;
            loss_sum += stats.loss * n as f64;
            correct += stats.correct;
            done_rows += n;
            observer.step(epoch, step, steps, loss_sum / done_rows as f64);
            if let Some(flag) = &self.opts.interrupt {
                if flag.load(Ordering::SeqCst) {
                    return EpochResult::Interrupted(step);
                }
            }
        }
        self.team.pause();
        let rows_f = rows.max(1) as f64;
        let reg = program.regularize;
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

    /// After the steps of `epoch` (begun at `t0`): scores the valid split, sends
    /// the epoch event and the end-of-epoch diagnostics, steps the plateau
    /// schedule and early stopping, and records the epoch as done.
    pub(crate) fn end_epoch(
        &mut self,
        epoch: usize,
        mut ev: EpochEvent,
        t0: Instant,
        progress: &mut Progress,
        observer: &mut dyn Observer,
    ) {
        let program = self.program;
        let plan = &program.train;
        if let Some(v) = self.valid.take() {
            let wants = Wants::for_metrics(&program.loss, &plan.metrics, false);
            let scored = self.evaluate(&v, wants);
            self.valid = Some(v);
            ev.valid_loss = Some(scored.loss());
            ev.valid_accuracy = scored.accuracy();
            ev.valid_metrics = scored.values(&plan.metrics);
        }
        let seconds = t0.elapsed().as_secs_f64();
        progress.seconds += seconds;
        if self.opts.timings {
            ev.seconds = Some(seconds);
        }
        observer.event(&Event::Epoch(ev.clone()));
        progress.epochs_logged = epoch;
        if !program.expect.is_empty() {
            progress.logged.push(ev.clone());
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
            }
        }
        if self.stopper.is_some_and(|s| s.best_epoch == epoch) {
            self.best_event = Some(ev.clone());
        }
        self.last_event = Some(ev);
        self.done = epoch;
    }

    /// L2 norm of each layer's trainable parameters.
    fn weight_norms(&self) -> Vec<f64> {
        let mut sq = vec![0.0f64; self.net.layers.len()];
        for t in &self.net.tensors {
            sq[t.layer] +=
                crate::train::linalg::sum_squares(&self.net.params[t.offset..t.offset + t.len]);
        }
        sq.into_iter().map(f64::sqrt).collect()
    }

    /// Keeps the parameters and running statistics of the best epoch so far.
    fn remember_best(&mut self) {
        let stats = self.net.running_stats();
        match self.best.as_mut() {
            // Copied in place: the buffers of the first best epoch are reused.
            Some((p, s)) => {
                p.copy_from_slice(&self.net.params);
                for (dst, (_, src)) in s.iter_mut().zip(&stats) {
                    dst.copy_from_slice(src);
                }
            }
            None => {
                let stats = stats.into_iter().map(|(_, v)| v.to_vec()).collect();
                self.best = Some((self.net.params.clone(), stats));
            }
        }
    }

    /// The `nnt::train::diverged` diagnostic of a step that blew up.
    fn divergence(&self, epoch: usize, step: usize, where_: Blowup) -> RunDiagnostic {
        let layer_desc = |pos: usize| {
            let s = &self.net.layers[pos];
            (
                Some(s.index),
                Some(s.line).filter(|&l| l > 0),
                format!(
                    "layer {} ({}, {})",
                    s.index,
                    s.name,
                    crate::ir::layer_place(s.line)
                ),
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
            expectation: None,
            message,
            help: Some(self.diag.facts.divergence_help()),
        }
    }
}
