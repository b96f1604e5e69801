//! The end of a run: the kept parameters (the best epoch's under early_stop),
//! `save`, the test split (or the valid split's confusion matrix), the end event's
//! `best`, timings and the `expect` section; then the end event.

use crate::events::{EndEvent, EndReason, Event, Observer};
use crate::io::model_file;
use crate::train::float::Float;
use crate::train::metrics::Wants;
use crate::train::snapshot;
use crate::train::{RunOutcome, TrainError};

use super::{Progress, Trainer, MAX_CONFUSION_CLASSES};

impl<T: Float> Trainer<'_, T> {
    /// Ends the run that stopped for `reason` and sends the end event.
    pub(crate) fn end_run(
        mut self,
        reason: EndReason,
        progress: Progress,
        observer: &mut dyn Observer,
    ) -> Result<RunOutcome, TrainError> {
        let program = self.program;
        let plan = &program.train;
        let mut end = EndEvent {
            reason,
            epochs: progress.epochs_logged,
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
            threads: None,
            expectations_failed: false,
        };
        let finished = matches!(reason, EndReason::Completed | EndReason::EarlyStop);
        if finished {
            self.keep_best();
            // The weights first: nothing after training (an evaluation, a large
            // confusion matrix) may cost them.
            if let Some(path) = &program.save {
                // Batch norm's `num_batches_tracked`: the steps up to the kept epoch.
                let kept = self
                    .stopper
                    .as_ref()
                    .map(|s| s.best_epoch)
                    .filter(|&e| e > 0)
                    .unwrap_or(progress.epochs_logged);
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
            let classes = self.classes().filter(|&c| c <= MAX_CONFUSION_CLASSES);
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
            end.seconds = Some(progress.seconds);
            end.steps_per_second = Some(if progress.seconds > 0.0 {
                progress.steps as f64 / progress.seconds
            } else {
                0.0
            });
            end.threads = Some(crate::train::linalg::team_size());
        }
        if finished {
            let kept_epoch = end.best_epoch.unwrap_or(progress.epochs_logged);
            let kept = progress.logged.iter().find(|e| e.epoch == kept_epoch);
            let unmet = crate::train::expect::unmet(&program.expect, kept, &end);
            end.expectations_failed = !unmet.is_empty();
            for d in unmet {
                observer.event(&Event::Diagnostic(d));
            }
        }
        observer.event(&Event::End(end.clone()));
        Ok(RunOutcome { end })
    }

    /// With early_stop, puts the best epoch's parameters and running statistics
    /// in place: they are the ones saved and tested.
    fn keep_best(&mut self) {
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
    }
}
