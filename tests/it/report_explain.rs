//! `nnt explain` on hand-built programs.

use std::sync::Arc;

use nnt::ast::Span;
use nnt::ir::*;
use nnt::report::{explain, planned_lr};

fn table(rows: usize, features: usize) -> Table {
    Table {
        rows,
        features,
        targets: 1,
        x: vec![0.0; rows * features],
        y: vec![0.0; rows],
        lines: Vec::new(),
    }
}

fn layer(index: usize, kind: LayerKind, in_width: usize, out_width: usize) -> Layer {
    Layer {
        index,
        kind,
        in_width,
        out_width,
        span: Span::default(),
        line: 10 + index,
    }
}

/// The model of §1 (iris), with a warmup-then-step schedule.
fn iris(schedule: Schedule, epochs: usize) -> Program {
    Program {
        source: SourceFile {
            name: "iris.nnt".into(),
            text: Arc::new(String::new()),
            config: String::new(),
        },
        seed: 7,
        precision: Precision::F32,
        data: Data {
            train: table(120, 4),
            valid: Some(table(30, 4)),
            test: None,
            ..Default::default()
        },
        model: Model {
            input_width: 4,
            layers: vec![
                layer(
                    0,
                    LayerKind::Dense {
                        units: 16,
                        init: Init::HeUniform,
                        bias: true,
                    },
                    4,
                    16,
                ),
                layer(1, LayerKind::Relu, 16, 16),
                layer(2, LayerKind::Dropout { p: 0.1 }, 16, 16),
                layer(
                    3,
                    LayerKind::BatchNorm {
                        momentum: 0.1,
                        eps: 1e-5,
                    },
                    16,
                    16,
                ),
                layer(
                    4,
                    LayerKind::Dense {
                        units: 3,
                        init: Init::Normal { std: 0.01 },
                        bias: false,
                    },
                    16,
                    3,
                ),
            ],
        },
        loss: Loss::CrossEntropy {
            label_smoothing: 0.0,
        },
        optimizer: Optimizer::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        },
        regularize: Regularize::default(),
        train: TrainPlan {
            epochs,
            batch: Batch::Size(16),
            shuffle: true,
            lr_schedule: schedule,
            clip: None,
            early_stop: None,
            metrics: Vec::new(),
        },
        init_from: None,
        save: None,
        checkpoint: None,
        diagnose: DiagnoseConfig::default(),
        expect: Vec::new(),
    }
}

#[test]
fn explain_shows_the_plan() {
    let schedule = Schedule::Warmup {
        epochs: 2,
        then: Box::new(Schedule::Step {
            every: 3,
            factor: 0.5,
        }),
    };
    let out = explain(&iris(schedule, 8));
    insta::assert_snapshot!("explain_iris_warmup_step", out);
    // 4·16 + 16 + 2·16 (batch_norm) + 16·3 (no bias) = 160 trainable parameters.
    assert!(out.contains("trainable parameters: 160"), "{out}");
    // 120 rows in batches of 16: 8 batches, the last of 8 rows.
    assert!(
        out.contains("8 batches per epoch (the last of 8 rows)"),
        "{out}"
    );
}

#[test]
fn explain_cosine_lists_every_epoch() {
    let out = explain(&iris(Schedule::Cosine { min_lr: 0.0 }, 4));
    insta::assert_snapshot!("explain_iris_cosine", out);
    for e in 1..=4 {
        assert!(out.contains(&format!("  epoch {e} ")), "{out}");
    }
}

#[test]
fn explain_reduce_on_plateau_depends_on_the_run() {
    let s = Schedule::ReduceOnPlateau {
        factor: 0.5,
        patience: 3,
        monitor: Monitor::ValidLoss,
    };
    let mut p = iris(s, 5);
    p.train.batch = Batch::Full;
    let out = explain(&p);
    assert!(out.contains("depends on the run"), "{out}");
    assert!(
        out.contains("batch full (120 rows): 1 batch per epoch"),
        "{out}"
    );
}

#[test]
fn planned_lr_of_warmup_into_cosine() {
    let s = Schedule::Warmup {
        epochs: 2,
        then: Box::new(Schedule::Cosine { min_lr: 0.0 }),
    };
    // Epochs 1-2 warm up; epochs 3.. are the cosine's epochs 1.. of 4 (E − W).
    assert_eq!(planned_lr(&s, 1.0, 1, 6), Some(0.5));
    assert_eq!(planned_lr(&s, 1.0, 2, 6), Some(1.0));
    assert_eq!(planned_lr(&s, 1.0, 3, 6), Some(1.0));
    let e5 = planned_lr(&s, 1.0, 5, 6).unwrap();
    assert!((e5 - 0.5).abs() < 1e-15, "{e5}");
}

/// layer_norm counts its weight and bias (2 × width), as the engine lays them
/// out; the plan names nadam.
#[test]
fn explain_counts_layer_norm_and_names_nadam() {
    let mut p = iris(Schedule::Constant, 3);
    p.model.layers[3].kind = LayerKind::LayerNorm { eps: 1e-3 };
    p.optimizer = Optimizer::NAdam {
        lr: 0.002,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        momentum_decay: 0.004,
    };
    let out = explain(&p);
    assert!(
        out.contains("  3  layer_norm(0.001)         13  [batch, 16]          32"),
        "{out}"
    );
    let net = nnt::train::network::Network::<f32>::new(&p.model, 1);
    assert_eq!(net.parameter_count(), 160);
    assert!(out.contains("trainable parameters: 160"), "{out}");
    assert!(out.contains("optimizer: nadam (lr 0.002)"), "{out}");
}
