//! Whole runs of the engine: determinism, checkpoints and exact resume, interrupt,
//! divergence, weights-file errors.

use crate::common;
use crate::engine_support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use engine_support::*;
use nnt::events::{EndReason, Event, Observer};
use nnt::ir::*;
use nnt::train::{run, RunOptions, TrainError};

/// Iris with everything random switched on: shuffling, dropout, a schedule with
/// state, early stopping.
fn iris(epochs: usize) -> Program {
    let mut train = plan(epochs, Batch::Size(16));
    train.shuffle = true;
    train.lr_schedule = Schedule::ReduceOnPlateau {
        factor: 0.5,
        patience: 1,
        monitor: Monitor::ValidLoss,
    };
    train.early_stop = Some(EarlyStop {
        patience: 4,
        monitor: Monitor::ValidAccuracy,
        min_delta: 0.0,
    });
    let mut p = program(
        "iris_adam_tanh",
        ("train.csv", Some("valid.csv"), None),
        &["label"],
        Normalize::Standard,
        vec![
            LayerKind::Dense {
                units: 16,
                init: Init::HeNormal,
                bias: true,
            },
            LayerKind::Relu,
            LayerKind::Dropout { p: 0.3 },
            LayerKind::Dense {
                units: 8,
                init: Init::TorchDefault,
                bias: true,
            },
            LayerKind::BatchNorm {
                momentum: 0.1,
                eps: 1e-5,
            },
            LayerKind::Tanh,
            dense(3),
        ],
        Loss::CrossEntropy {
            label_smoothing: 0.05,
        },
        Optimizer::Adam {
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: true,
        },
        train,
    );
    p.init_from = None;
    p.seed = 11;
    p.regularize = Regularize {
        l1: 1e-4,
        l2: 1e-4,
        has_penalty: true,
        max_norm: Some(3.0),
    };
    p
}

fn record(p: &Program, opts: &RunOptions) -> Recorder {
    let mut rec = Recorder::default();
    run(p, opts, &mut rec).expect("run");
    rec
}

#[test]
fn same_program_twice_gives_identical_events() {
    let p = iris(12);
    let a = record(&p, &RunOptions::default());
    let b = record(&p, &RunOptions::default());
    assert!(a.epochs().len() >= 5);
    assert_eq!(a.events, b.events);
    // A different seed changes the run.
    let mut q = p.clone();
    q.seed = 12;
    assert_ne!(record(&q, &RunOptions::default()).events, a.events);
}

#[test]
fn precision_f64_runs_too() {
    let mut p = iris(3);
    p.precision = Precision::F64;
    let a = record(&p, &RunOptions::default());
    assert_eq!(a.epochs().len(), 3);
    assert_eq!(a.events, record(&p, &RunOptions::default()).events);
}

#[test]
fn resume_continues_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = iris(14);
    p.train.early_stop = Some(EarlyStop {
        patience: 6,
        monitor: Monitor::ValidLoss,
        min_delta: 0.0,
    });
    p.checkpoint = Some(CheckpointPlan {
        every: 1,
        path: dir.path().join("ck"),
        keep: 100,
    });
    let save_full = dir.path().join("full.safetensors");
    p.save = Some(save_full.clone());
    let full = record(&p, &RunOptions::default());
    let n = full.epochs().len();
    assert!(n >= 6, "{n} epochs");
    for k in [1, 3, n - 1] {
        let mut q = p.clone();
        let save_resumed = dir.path().join(format!("resumed-{k}.safetensors"));
        q.save = Some(save_resumed.clone());
        let opts = RunOptions {
            resume: Some(nnt::io::checkpoint::path_for(&dir.path().join("ck"), k)),
            ..Default::default()
        };
        let resumed = record(&q, &opts);
        assert_eq!(
            resumed.epochs(),
            full.epochs()[k..].to_vec(),
            "resumed from epoch {k}"
        );
        // The same end event, but for where each run saved its parameters.
        let (mut got, mut want) = (resumed.end().unwrap(), full.end().unwrap());
        assert_eq!(got.save.take(), Some(save_resumed.display().to_string()));
        assert_eq!(want.save.take(), Some(save_full.display().to_string()));
        assert_eq!(got, want);
        assert_eq!(
            std::fs::read(&save_resumed).unwrap(),
            std::fs::read(&save_full).unwrap()
        );
    }
}

/// nadam's state (m, v, the step count and Πₜ, `mu_product`) and a network with
/// layer_norm go through a checkpoint exactly: resuming after any epoch gives the
/// rest of the run and the saved weights bit for bit.
#[test]
fn nadam_and_layer_norm_resume_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = iris(8);
    p.train.early_stop = None;
    p.optimizer = Optimizer::NAdam {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 1e-3,
        momentum_decay: 0.004,
    };
    for l in &mut p.model.layers {
        if matches!(l.kind, LayerKind::BatchNorm { .. }) {
            l.kind = LayerKind::LayerNorm { eps: 1e-5 };
        }
    }
    let ck = dir.path().join("ck");
    p.checkpoint = Some(CheckpointPlan {
        every: 1,
        path: ck.clone(),
        keep: 100,
    });
    let save_full = dir.path().join("full.safetensors");
    p.save = Some(save_full.clone());
    let full = record(&p, &RunOptions::default());
    assert_eq!(full.epochs().len(), 8);
    // After epoch 3 (8 steps an epoch), Π₂₄ = μ₁·…·μ₂₄ is in the checkpoint.
    let file = nnt::io::checkpoint::read(&nnt::io::checkpoint::path_for(&ck, 3)).unwrap();
    let state = nnt::train::snapshot::read_state(&file.metadata).unwrap();
    let steps = state.optimizer.steps;
    assert_eq!(steps, 24);
    let mu = |t: u64| 0.9 * (1.0 - 0.5 * 0.96f64.powf(t as f64 * 0.004));
    let product = (1..=steps).fold(1.0, |acc, t| acc * mu(t));
    assert_eq!(
        state.optimizer.scalars["mu_product"].0.to_bits(),
        product.to_bits()
    );
    for k in [1, 3, 7] {
        let mut q = p.clone();
        let save_resumed = dir.path().join(format!("resumed-{k}.safetensors"));
        q.save = Some(save_resumed.clone());
        let opts = RunOptions {
            resume: Some(nnt::io::checkpoint::path_for(&ck, k)),
            ..Default::default()
        };
        let resumed = record(&q, &opts);
        assert_eq!(resumed.epochs(), full.epochs()[k..].to_vec(), "from {k}");
        // The end events agree but for `save`: the two runs save to two files.
        let without_save =
            |e: Option<nnt::events::EndEvent>| e.map(|e| nnt::events::EndEvent { save: None, ..e });
        assert_eq!(without_save(resumed.end()), without_save(full.end()));
        assert_eq!(
            std::fs::read(&save_resumed).unwrap(),
            std::fs::read(&save_full).unwrap()
        );
    }
}

#[test]
fn checkpoints_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = iris(7);
    p.train.early_stop = None;
    p.checkpoint = Some(CheckpointPlan {
        every: 2,
        path: dir.path().join("ck"),
        keep: 2,
    });
    record(&p, &RunOptions::default());
    assert_eq!(
        nnt::io::checkpoint::list(&dir.path().join("ck")),
        vec![4, 6]
    );
}

/// Sets the interrupt flag when epoch 3 starts.
struct Interrupter {
    rec: Recorder,
    flag: Arc<AtomicBool>,
}

impl Observer for Interrupter {
    fn event(&mut self, event: &Event) {
        self.rec.event(event);
    }
    fn step(&mut self, epoch: usize, step: usize, _: usize, _: f64) {
        if epoch == 3 && step == 2 {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn interrupt_checkpoints_the_last_finished_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let mut p = iris(10);
    p.train.early_stop = None;
    p.checkpoint = Some(CheckpointPlan {
        every: 5,
        path: ck.clone(),
        keep: 3,
    });
    let flag = Arc::new(AtomicBool::new(false));
    let mut obs = Interrupter {
        rec: Recorder::default(),
        flag: flag.clone(),
    };
    let opts = RunOptions {
        interrupt: Some(flag),
        ..Default::default()
    };
    let out = run(&p, &opts, &mut obs).unwrap();
    assert_eq!(out.end.reason, EndReason::Interrupted);
    assert_eq!(out.end.epochs, 2);
    assert_eq!(obs.rec.epochs().len(), 2);
    assert_eq!(nnt::io::checkpoint::list(&ck), vec![2]);
    // Resuming from it gives the uninterrupted run's epochs 3..10.
    let full = record(&p, &RunOptions::default());
    let resumed = record(
        &p,
        &RunOptions {
            resume: Some(nnt::io::checkpoint::path_for(&ck, 2)),
            ..Default::default()
        },
    );
    assert_eq!(resumed.epochs(), full.epochs()[2..].to_vec());
}

#[test]
fn divergence_stops_at_once_and_names_the_place() {
    let mut train = plan(5, Batch::Size(32));
    train.shuffle = false;
    let mut p = program(
        "warmup_cosine_adam",
        ("train.csv", Some("valid.csv"), None),
        &["y"],
        Normalize::None,
        vec![dense(16), LayerKind::Relu, dense(1)],
        Loss::Mse,
        Optimizer::Sgd {
            lr: 1e6,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        },
        train,
    );
    p.init_from = None;
    let rec = record(&p, &RunOptions::default());
    let end = rec.end().unwrap();
    assert_eq!(end.reason, EndReason::Diverged);
    assert_eq!(end.epochs, rec.epochs().len());
    let diags: Vec<_> = rec
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Diagnostic(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    // Gradients blowing up are reported before they turn non-finite.
    assert_eq!(diags[0].code, "nnt::train::exploding_gradient");
    let diag = diags.last().expect("a diagnostic").clone();
    assert_eq!(diag.code, "nnt::train::diverged");
    assert!(diag.step.is_some());
    assert!(
        diag.message.contains("diverged at epoch"),
        "{}",
        diag.message
    );
    // The diagnostic comes right before the end event, after the last full epoch.
    let n = rec.events.len();
    assert!(matches!(rec.events[n - 2], Event::Diagnostic(_)));
}

/// A learning rate too large for f32 makes the first update non-finite while
/// the gradient is finite: the run stops at that step and names the layer,
/// whether the optimizer checks each block as it updates (sgd, adam), the step
/// checks afterwards (rmsprop), or max_norm rescales after the update.
#[test]
fn a_non_finite_update_stops_the_run_and_names_the_layer() {
    let sgd = Optimizer::Sgd {
        lr: 1e300,
        momentum: 0.0,
        dampening: 0.0,
        nesterov: false,
        weight_decay: 0.0,
    };
    let adam = Optimizer::Adam {
        lr: 1e300,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        amsgrad: false,
    };
    let rmsprop = Optimizer::RmsProp {
        lr: 1e300,
        alpha: 0.99,
        eps: 1e-8,
        momentum: 0.0,
        centered: false,
        weight_decay: 0.0,
    };
    for (optimizer, max_norm) in [(sgd, None), (adam, None), (rmsprop, None), (sgd, Some(3.0))] {
        let mut train = plan(5, Batch::Size(32));
        train.shuffle = false;
        let mut p = program(
            "warmup_cosine_adam",
            ("train.csv", Some("valid.csv"), None),
            &["y"],
            Normalize::None,
            vec![dense(16), LayerKind::Relu, dense(1)],
            Loss::Mse,
            optimizer,
            train,
        );
        p.init_from = None;
        p.regularize.max_norm = max_norm;
        let rec = record(&p, &RunOptions::default());
        let end = rec.end().unwrap();
        assert_eq!(end.reason, EndReason::Diverged, "{optimizer:?}");
        assert_eq!(end.epochs, 0, "{optimizer:?}");
        let diag = rec
            .events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::Diagnostic(d) => Some(d.clone()),
                _ => None,
            })
            .expect("a diagnostic");
        assert_eq!(diag.code, "nnt::train::diverged");
        assert_eq!(diag.step, Some(1), "{optimizer:?}");
        assert!(
            diag.message
                .contains("the update made the parameters of layer 0"),
            "{optimizer:?}: {}",
            diag.message
        );
    }
}

fn seed_program(init_from: &str) -> Program {
    let mut p = program(
        "seed_sgd",
        ("train.csv", Some("valid.csv"), None),
        &["label"],
        Normalize::None,
        vec![dense(5), LayerKind::Relu, dense(2)],
        Loss::CrossEntropy {
            label_smoothing: 0.0,
        },
        Optimizer::Sgd {
            lr: 0.01,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        },
        plan(1, Batch::Size(8)),
    );
    p.init_from = Some(PathBuf::from(init_from));
    p
}

fn error_of(p: &Program) -> TrainError {
    match run(p, &RunOptions::default(), &mut Recorder::default()) {
        Err(e) => e,
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn weights_file_errors_are_diagnostics() {
    let cases = [
        (
            "missing_file",
            "tests/fixtures/engine/errors/nowhere.safetensors",
            "nnt::io::unreadable",
        ),
        (
            "not_safetensors",
            "tests/fixtures/engine/errors/not_safetensors.safetensors",
            "nnt::io::not_safetensors",
        ),
        (
            "missing_tensor",
            "tests/fixtures/engine/errors/missing_tensor.safetensors",
            "nnt::io::missing_tensor",
        ),
        (
            "wrong_shape",
            "tests/fixtures/engine/errors/wrong_shape.safetensors",
            "nnt::io::wrong_shape",
        ),
        (
            "wrong_dtype",
            "tests/fixtures/engine/errors/wrong_dtype.safetensors",
            "nnt::io::wrong_dtype",
        ),
    ];
    for (name, path, code) in cases {
        let err = error_of(&seed_program(path));
        let code_got = miette::Diagnostic::code(&err).map(|c| c.to_string());
        assert_eq!(code_got.as_deref(), Some(code), "{name}");
        insta::assert_snapshot!(format!("weights_error_{name}"), common::render(&err));
    }
}

#[test]
fn f64_start_weights_load_into_f32() {
    let p = seed_program("tests/fixtures/engine/errors/good_f64.safetensors");
    let rec = record(&p, &RunOptions::default());
    assert_eq!(rec.epochs().len(), 1);
}

#[test]
fn bad_checkpoint_is_an_error() {
    let p = seed_program("tests/fixtures/engine/errors/good_f64.safetensors");
    let opts = RunOptions {
        resume: Some(PathBuf::from(
            "tests/fixtures/engine/errors/bad_checkpoint.safetensors",
        )),
        ..Default::default()
    };
    let err = match run(&p, &opts, &mut Recorder::default()) {
        Err(e) => e,
        Ok(_) => panic!("expected an error"),
    };
    assert_eq!(
        miette::Diagnostic::code(&err)
            .map(|c| c.to_string())
            .as_deref(),
        Some("nnt::io::bad_checkpoint")
    );
    insta::assert_snapshot!("bad_checkpoint", common::render(&err));
}

#[test]
fn unwritable_save_is_an_error() {
    let mut p = seed_program("tests/fixtures/engine/errors/good_f64.safetensors");
    p.save = Some(PathBuf::from(
        "tests/fixtures/engine/errors/no/such/directory/out.safetensors",
    ));
    let err = error_of(&p);
    assert_eq!(
        miette::Diagnostic::code(&err)
            .map(|c| c.to_string())
            .as_deref(),
        Some("nnt::io::write_failed")
    );
}

/// A deep sigmoid stack trained with a small learning rate: the first layers'
/// gradients vanish, the loss stalls, and the detectors say so, naming the layer
/// and its recipe line.
#[test]
fn detectors_report_vanishing_gradients_and_plateau() {
    let mut kinds = vec![];
    for _ in 0..8 {
        kinds.push(LayerKind::Dense {
            units: 16,
            init: Init::Normal { std: 0.05 },
            bias: true,
        });
        kinds.push(LayerKind::Sigmoid);
    }
    kinds.push(dense(3));
    let mut p = program(
        "iris_adam_tanh",
        ("train.csv", Some("valid.csv"), None),
        &["label"],
        Normalize::Standard,
        kinds,
        Loss::CrossEntropy {
            label_smoothing: 0.0,
        },
        Optimizer::Sgd {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        },
        plan(12, Batch::Size(16)),
    );
    p.init_from = None;
    // A looser plateau threshold than the default, so 12 epochs suffice.
    p.diagnose.plateau_delta = Some(1e-2);
    p.diagnose.plateau_epochs = 3;
    let rec = record(&p, &RunOptions::default());
    let diags: Vec<_> = rec
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Diagnostic(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    let vanishing = diags
        .iter()
        .find(|d| d.code == "nnt::train::vanishing_gradient")
        .expect("vanishing");
    assert_eq!(vanishing.layer, Some(0));
    assert_eq!(vanishing.line, Some(p.model.layers[0].line));
    assert_eq!(vanishing.epoch, 1);
    assert!(
        diags.iter().any(|d| d.code == "nnt::train::plateau"),
        "{diags:#?}"
    );
    let text: Vec<String> = diags
        .iter()
        .map(|d| format!("{} [{}] {}", d.code, d.epoch, d.message))
        .collect();
    insta::assert_snapshot!("deep_sigmoid_diagnostics", text.join("\n"));
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 6, ..Default::default() })]

    /// A checkpoint read back and written again is the same file, byte for byte.
    #[test]
    fn checkpoint_round_trips(seed in 0u64..1000, epochs in 1usize..5, f64_precision in proptest::bool::ANY) {
        let dir = tempfile::tempdir().unwrap();
        let mut p = iris(epochs);
        p.seed = seed;
        if f64_precision {
            p.precision = Precision::F64;
        }
        p.checkpoint = Some(CheckpointPlan { every: 1, path: dir.path().join("ck"), keep: 10 });
        record(&p, &RunOptions::default());
        for e in nnt::io::checkpoint::list(&dir.path().join("ck")) {
            let path = nnt::io::checkpoint::path_for(&dir.path().join("ck"), e);
            let opts = RunOptions { resume: Some(path.clone()), ..Default::default() };
            let again = if f64_precision {
                nnt::train::snapshot::serialize(&nnt::train::trainer::Trainer::<f64>::new(&p, &opts).unwrap())
            } else {
                nnt::train::snapshot::serialize(&nnt::train::trainer::Trainer::<f32>::new(&p, &opts).unwrap())
            };
            let written = std::fs::read(&path).unwrap();
            let again = again.unwrap();
            let a = nnt::io::weights::WeightsFile::parse(&written, "a".into()).unwrap();
            let b = nnt::io::weights::WeightsFile::parse(&again, "b".into()).unwrap();
            let mut differ: Vec<String> = a
                .tensors
                .iter()
                .filter(|(k, v)| b.tensors.get(*k) != Some(v))
                .map(|(k, _)| k.clone())
                .collect();
            differ.extend(a.metadata.iter().filter(|(k, v)| b.metadata.get(*k) != Some(v)).map(|(k, v)| format!("{k}={v} vs {:?}", b.metadata.get(k))));
            differ.sort();
            proptest::prop_assert!(differ.is_empty() && a.tensors.len() == b.tensors.len(), "epoch {}: {:?}", e, differ);
        }
    }
}

/// Storing the first layer's weight by input
/// (`Network::lay_first_weight_by_input`) changes no value a run keeps: with
/// it (no penalty, no max_norm) and without it (a max_norm too large to act,
/// which keeps the weight as declared) the same epochs are logged but for the
/// last bits of `grad_norm` (whose squares are summed in storage order), and
/// every checkpoint holds the same model, optimizer (Adam's m, v and vmax) and
/// best-epoch tensors, as declared; resuming after any epoch gives the rest of
/// the run and the saved model bit for bit.
#[test]
fn first_weight_by_input_keeps_runs_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let mut by_input = iris(8);
    by_input.regularize = Regularize {
        l1: 0.0,
        l2: 0.0,
        has_penalty: false,
        max_norm: None,
    };
    let laid =
        nnt::train::network::Network::<f32>::new(&by_input.model, 16).lay_first_weight_by_input(16);
    assert!(laid, "the first layer's weight is stored by input");
    let mut declared = by_input.clone();
    declared.regularize.max_norm = Some(1e30);
    let mut runs = Vec::new();
    for (name, p) in [("by_input", &mut by_input), ("declared", &mut declared)] {
        p.checkpoint = Some(CheckpointPlan {
            every: 1,
            path: dir.path().join(name),
            keep: 100,
        });
        p.save = Some(dir.path().join(format!("{name}.safetensors")));
        runs.push(record(p, &RunOptions::default()));
    }
    let strip = |r: &Recorder| {
        r.epochs()
            .into_iter()
            .map(|mut e| (std::mem::replace(&mut e.grad_norm, 0.0), e))
            .collect::<Vec<_>>()
    };
    let (a, b) = (strip(&runs[0]), strip(&runs[1]));
    assert_eq!(a.len(), 8);
    for ((na, ea), (nb, eb)) in a.iter().zip(&b) {
        assert_eq!(ea, eb);
        assert!((na - nb).abs() <= 1e-12 * nb, "grad_norm {na} against {nb}");
    }
    for epoch in 1..=8 {
        let read = |name: &str| {
            let path = nnt::io::checkpoint::path_for(&dir.path().join(name), epoch);
            let mut t: Vec<_> = nnt::io::checkpoint::read(&path)
                .unwrap()
                .tensors
                .into_iter()
                .collect();
            t.sort_by(|x, y| x.0.cmp(&y.0));
            t
        };
        let (got, want) = (read("by_input"), read("declared"));
        assert!(
            got.iter().any(|(n, _)| n == "optim.vmax")
                && got.iter().any(|(n, _)| n.starts_with("best."))
        );
        assert_eq!(got, want, "checkpoint of epoch {epoch}");
    }
    let saved = |name: &str| std::fs::read(dir.path().join(format!("{name}.safetensors"))).unwrap();
    assert_eq!(saved("by_input"), saved("declared"));
    for k in [1, 4, 7] {
        let mut q = by_input.clone();
        let save_resumed = dir.path().join(format!("resumed-{k}.safetensors"));
        q.save = Some(save_resumed.clone());
        let opts = RunOptions {
            resume: Some(nnt::io::checkpoint::path_for(
                &dir.path().join("by_input"),
                k,
            )),
            ..Default::default()
        };
        let resumed = record(&q, &opts);
        assert_eq!(
            resumed.epochs(),
            runs[0].epochs()[k..].to_vec(),
            "resumed from epoch {k}"
        );
        assert_eq!(std::fs::read(&save_resumed).unwrap(), saved("by_input"));
    }
}
