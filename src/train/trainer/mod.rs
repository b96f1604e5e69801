//! The run (§9, §10), in parts: [`step`] is one training step, `epoch` an
//! epoch's steps and what follows them (valid split, events, schedule, early
//! stopping), `end` the end of the run (kept parameters, `save`, test split,
//! `expect`), `checkpointer` when checkpoints are written. This file builds the
//! run's state and drives the epochs.

mod checkpointer;
mod end;
mod epoch;
pub mod step;
pub mod team;

use std::time::Instant;

use rand_chacha::ChaCha8Rng;

use crate::events::{EndReason, EpochEvent, Event, Observer, StartEvent};
use crate::io::checkpoint;
use crate::io::weights::WeightsFile;
use crate::ir::Program;
use crate::rng::{generator, Stream};
use crate::train::diagnose::{Diagnoser, Facts, LayerInfo};
use crate::train::early_stop::EarlyStopper;
use crate::train::float::Float;
use crate::train::infer::Evaluator;
use crate::train::init;
use crate::train::layers::Node;
use crate::train::linalg;
use crate::train::losses;
use crate::train::metrics::{Scorer, Wants};
use crate::train::network::Network;
use crate::train::optim::Optim;
use crate::train::schedule::Scheduler;
use crate::train::snapshot;
use crate::train::{RunOptions, RunOutcome, TrainError};

use checkpointer::Checkpointer;
use epoch::EpochResult;
pub use step::{Blowup, Split, StepPlan, StepStats, StepWatch, Stepper};

/// The most classes for which the end event carries a confusion matrix.
pub const MAX_CONFUSION_CLASSES: usize = 50;

/// What the epochs of this invocation have done so far (not checkpointed: a
/// resumed run starts these afresh).
pub(crate) struct Progress {
    /// The last epoch whose event was sent.
    pub epochs_logged: usize,
    /// The epoch events, for `expect` (read on the kept epoch at the end).
    pub logged: Vec<EpochEvent>,
    /// Wall-clock seconds of the epochs (for `--timings`).
    pub seconds: f64,
    /// Training steps taken.
    pub steps: usize,
}

/// The state of a run, generic over the float type.
pub struct Trainer<'p, T> {
    pub(crate) program: &'p Program,
    pub(crate) opts: RunOptions,
    pub(crate) net: Network<T>,
    pub(crate) optim: Optim<T>,
    pub(crate) sched: Scheduler,
    pub(crate) stopper: Option<EarlyStopper>,
    /// Parameters and running statistics of the best epoch (with early_stop).
    pub(crate) best: Option<(Vec<T>, Vec<Vec<T>>)>,
    pub(crate) shuffle_rng: ChaCha8Rng,
    pub(crate) dropout_rng: ChaCha8Rng,
    /// Epochs already done (from a checkpoint); the loop starts at `done + 1`.
    pub(crate) done: usize,
    /// The checkpoint said the run had already stopped early.
    pub(crate) stopped: bool,
    /// The events of the last epoch and of the best epoch under early_stop (the
    /// end event's `best`, §18); kept in checkpoints so a resumed log ends the same.
    pub(crate) last_event: Option<EpochEvent>,
    pub(crate) best_event: Option<EpochEvent>,
    train: Split<T>,
    valid: Option<Split<T>>,
    test: Option<Split<T>>,
    /// The rows of the epoch, in the order the steps take them.
    order: Vec<usize>,
    targets: usize,
    batch: usize,
    /// The step's own buffers.
    stepper: Stepper<T>,
    /// The run-time detectors of §13.
    pub(crate) diag: Diagnoser,
    /// What checkpoints depend on (empty when the run neither writes nor reads one).
    pub(crate) fingerprint: Vec<(&'static str, String)>,
    /// The checkpoints of the run resumed that lie in this run's checkpoint
    /// directory (its epochs up to the one resumed, same fingerprint), oldest
    /// first: this run continues that one, so `keep` counts them with its own.
    pub(crate) resumed_checkpoints: Vec<std::path::PathBuf>,
    /// The evaluation-mode pass (valid and test splits).
    evaluator: Evaluator<T>,
    /// Whether the team of threads helps now (measured; see [`team`]).
    team: team::Team,
}

impl<'p, T: Float> Trainer<'p, T> {
    /// Builds the network, initialises it (or loads `init_from`), and restores a
    /// checkpoint when resuming.
    pub fn new(program: &'p Program, opts: &RunOptions) -> Result<Self, TrainError> {
        let data = &program.data;
        let train_rows = data.train.rows;
        let batch = program.batch_rows();
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
        net.lay_out_for_training(
            &program.loss,
            &program.regularize,
            program.train.clip.as_ref(),
            batch,
        );

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
            targets,
            batch: batch.max(1),
            stepper: Stepper::new(&net, targets, relu_layers),
            // An explicit `--threads N` is taken as asked; the default team
            // adapts to the load of the machine.
            team: team::Team::new(opts.threads.is_none()),
            diag,
            evaluator: Evaluator::new(&net.layers, net.input_width, net.capacity),
            net,
            fingerprint: if program.checkpoint.is_some() || opts.resume.is_some() {
                crate::train::fingerprint::of(program)
            } else {
                Vec::new()
            },
            resumed_checkpoints: Vec::new(),
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
                    trainer.resumed_checkpoints = trainer.checkpoints_continued(&ck.path);
                }
            }
        }
        Ok(trainer)
    }

    /// The checkpoints in `dir` (the run's checkpoint directory, where the
    /// checkpoint resumed lies) of epochs up to the one resumed whose run state
    /// has this run's fingerprint: the run this one continues wrote them. Any
    /// other file, or one that cannot be read, is not counted (and so never
    /// deleted by rotation).
    fn checkpoints_continued(&self, dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        checkpoint::list(dir)
            .into_iter()
            .filter(|&e| e <= self.done)
            .map(|e| checkpoint::path_for(dir, e))
            .filter(|p| {
                // The header alone: a checkpoint's tensors may be large.
                checkpoint::read_metadata(p)
                    .and_then(|metadata| snapshot::read_state(&metadata).ok())
                    .is_some_and(|state| {
                        !state.fingerprint.is_empty()
                            && crate::train::fingerprint::differences(
                                &self.fingerprint,
                                &state.fingerprint,
                            )
                            .is_empty()
                    })
            })
            .collect()
    }

    pub(crate) fn steps_per_epoch(&self) -> usize {
        self.train.rows.div_ceil(self.batch).max(1)
    }

    /// Runs the remaining epochs and the end of the run, with the engine's
    /// threads (`RunOptions::threads`) at hand when the network has work large
    /// enough to split (see `linalg::pool`).
    pub fn run(self, observer: &mut (dyn Observer + Send)) -> Result<RunOutcome, TrainError> {
        let threads = if self.worth_a_team() {
            let asked = self.opts.threads.unwrap_or_else(linalg::default_threads);
            asked.min(self.useful_threads())
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

    /// The most threads a step keeps busy ([`linalg::useful_threads`] of its
    /// dense layers' products).
    fn useful_threads(&self) -> usize {
        let n = self.batch;
        linalg::useful_threads(
            self.net
                .layers
                .iter()
                .filter(|l| matches!(l.node, crate::train::layers::Node::Dense(_)))
                .map(|l| l.in_width * l.out_width * n),
        )
    }

    /// Whether a step has a product large enough for faer's packing kernels
    /// (and their per-thread workspace, [`linalg::prepare_threads`]): the
    /// 10-5-2 network's never are, and preparing them anyway cost its run 2 MB
    /// of resident memory for nothing.
    fn products_reach_faer(&self) -> bool {
        let n = self.batch;
        self.net.layers.iter().any(|l| {
            matches!(l.node, crate::train::layers::Node::Dense(_))
                && l.in_width * l.out_width * n > linalg::FAER_TINY_WORK
        })
    }

    fn run_on_pool(mut self, observer: &mut dyn Observer) -> Result<RunOutcome, TrainError> {
        let program = self.program;
        if self.products_reach_faer() {
            linalg::prepare_threads::<T>();
        }
        self.start(observer);
        let mut progress = Progress {
            epochs_logged: self.done,
            logged: Vec::new(),
            seconds: 0.0,
            steps: 0,
        };
        let mut checkpoints = Checkpointer::new(
            program.checkpoint.as_ref(),
            self.opts.interrupt.is_some(),
            std::mem::take(&mut self.resumed_checkpoints),
        );
        let mut reason = if self.stopped {
            EndReason::EarlyStop
        } else {
            EndReason::Completed
        };
        let mut epoch = self.done + 1;
        while !self.stopped && epoch <= program.train.epochs {
            let t0 = Instant::now();
            match self.train_epoch(epoch, observer) {
                EpochResult::Done(ev, steps) => {
                    progress.steps += steps;
                    self.end_epoch(epoch, ev, t0, &mut progress, observer);
                    if self.stopped {
                        reason = EndReason::EarlyStop;
                    }
                    checkpoints.epoch_done(&self, epoch)?;
                }
                EpochResult::Diverged(diag) => {
                    observer.event(&Event::Diagnostic(diag));
                    reason = EndReason::Diverged;
                    break;
                }
                EpochResult::Interrupted(steps) => {
                    progress.steps += steps;
                    reason = EndReason::Interrupted;
                    checkpoints.interrupted()?;
                    break;
                }
            }
            epoch += 1;
        }
        self.end_run(reason, progress, observer)
    }

    /// The classes of a classification loss (for the start event and the
    /// confusion matrix).
    fn classes(&self) -> Option<usize> {
        match self.program.loss.task() {
            crate::ir::Task::Multiclass => Some(self.net.output_width),
            crate::ir::Task::Binary => Some(2),
            crate::ir::Task::Regression => None,
        }
    }

    /// Sends the start event.
    fn start(&self, observer: &mut dyn Observer) {
        let program = self.program;
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
            classes: self.classes(),
            epochs: program.train.epochs,
            steps_per_epoch: self.steps_per_epoch(),
        }));
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
        // As declared: the bits of `nnt eval` on the saved model, for any
        // number of rows ([`Network::declared_while`]).
        let evaluator = &mut self.evaluator;
        self.net.declared_while(|net| {
            evaluator.run(
                &mut net.layers,
                &net.params,
                &split.x,
                split.rows,
                |start, n, out| {
                    scorer.add(out, &split.y[start * targets..(start + n) * targets], n);
                },
            )
        });
        scorer
    }
}
