//! Same program, same events, whatever the number of threads: large products are
//! split by shape alone, so running on the two-thread pool or on one thread gives
//! bit-identical logs (§10).

use crate::engine_support;

use engine_support::*;
use nnt::events::Event;
use nnt::ir::*;
use nnt::train::{run, RunOptions};

/// A 600-300-300-10 network on batches of 256: the first layer's products are
/// split in halves, the second layer's backward pair runs side by side, the last
/// layer's products are below the threshold; the activations, bias sums, the
/// cross-entropy pass and the momentum update run in two halves.
fn wide_program() -> Program {
    let kinds = vec![
        dense(300),
        LayerKind::Relu,
        dense(300),
        LayerKind::Relu,
        dense(10),
    ];
    let mut p = program(
        "iris_adam_tanh",
        ("train.csv", None, None),
        &["label"],
        Normalize::None,
        kinds.clone(),
        Loss::CrossEntropy {
            label_smoothing: 0.0,
        },
        Optimizer::Sgd {
            lr: 0.05,
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        },
        plan(3, Batch::Size(256)),
    );
    p.init_from = None;
    let (features, rows) = (600, 512);
    p.data.train = Table {
        rows,
        features,
        targets: 1,
        x: (0..rows * features)
            .map(|i| (((i * 7919) % 997) as f64 / 498.0 - 1.0) * 0.5)
            .collect(),
        y: (0..rows).map(|r| ((r * 31) % 10) as f64).collect(),
        lines: Vec::new(),
    };
    p.model = layers(features, kinds, 1);
    p
}

fn events(p: &Program) -> Vec<Event> {
    let mut rec = Recorder::default();
    run(p, &RunOptions::default(), &mut rec).expect("run");
    rec.events
}

#[test]
fn one_and_two_threads_give_identical_events() {
    let p = wide_program();
    const { assert!(300 * 300 * 256 >= nnt::train::linalg::PAR_WORK) };
    const { assert!(300 * 256 >= nnt::train::linalg::PAR_ELEMENTS) };
    let pooled = events(&p);
    // Inside another rayon pool of one thread the engine runs every product on
    // that thread alone.
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(|| events(&p));
    assert_eq!(pooled.len(), 5, "start, 3 epochs, end");
    assert_eq!(pooled, single);
    // and the run is repeatable
    assert_eq!(pooled, events(&p));
}
