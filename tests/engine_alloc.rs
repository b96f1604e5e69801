//! The training step allocates nothing: a run with four times as many steps per
//! epoch makes exactly as many heap allocations, for a small network (faer's
//! small-matrix kernels, on one thread) and for an MNIST-size one (faer's
//! kernels, products split over the two-thread pool), and not even the first
//! step of a run on a fresh thread allocates. The counter sees every thread.

mod engine_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use engine_support::*;
use nnt::events::{Event, Observer};
use nnt::ir::*;
use nnt::train::{run, RunOptions};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `run` on the iris data repeated `copies` times.
/// `order_free`: without penalties, max_norm or norm clipping, so that the
/// first layer's weight is stored by input
/// (`Network::lay_first_weight_by_input`).
fn allocations(
    copies: usize,
    optimizer: Optimizer,
    extra: Vec<LayerKind>,
    order_free: bool,
) -> usize {
    let mut train = plan(2, Batch::Size(8));
    train.shuffle = true;
    train.clip = (!order_free).then_some(Clip::Norm(1.0));
    let mut kinds = vec![dense(16), LayerKind::Relu];
    kinds.extend(extra);
    kinds.push(dense(3));
    let mut p = program(
        "iris_adam_tanh",
        ("train.csv", Some("valid.csv"), None),
        &["label"],
        Normalize::Standard,
        kinds,
        Loss::CrossEntropy {
            label_smoothing: 0.1,
        },
        optimizer,
        train,
    );
    p.init_from = None;
    if !order_free {
        p.regularize = Regularize {
            l1: 1e-4,
            l2: 1e-4,
            has_penalty: true,
            max_norm: Some(2.0),
        };
    }
    let t = &mut p.data.train;
    let (x, y) = (t.x.clone(), t.y.clone());
    for _ in 1..copies {
        t.x.extend_from_slice(&x);
        t.y.extend_from_slice(&y);
    }
    t.rows *= copies;
    let mut rec = Recorder::default();
    rec.events.reserve(64);
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    run(&p, &RunOptions::default(), &mut rec).expect("run");
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

/// One test on one thread: the counter sees every thread, and a test thread that
/// ends takes its pool down (which allocates) while another would be counting.
#[test]
fn steps_do_not_allocate() {
    small_steps_do_not_allocate();
    mnist_size_steps_do_not_allocate();
    the_first_step_allocates_nothing();
}

fn small_steps_do_not_allocate() {
    let optimizers = [
        Optimizer::Sgd {
            lr: 0.05,
            momentum: 0.9,
            dampening: 0.0,
            nesterov: true,
            weight_decay: 1e-4,
        },
        Optimizer::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: true,
        },
        Optimizer::RmsProp {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.5,
            centered: true,
            weight_decay: 0.0,
        },
        Optimizer::NAdam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
            momentum_decay: 0.004,
        },
    ];
    for opt in optimizers {
        let extra = vec![
            LayerKind::Dropout { p: 0.2 },
            LayerKind::Dense {
                units: 8,
                init: Init::HeUniform,
                bias: true,
            },
            LayerKind::BatchNorm {
                momentum: 0.1,
                eps: 1e-5,
            },
            LayerKind::Gelu,
            LayerKind::LayerNorm { eps: 1e-5 },
        ];
        for order_free in [false, true] {
            // the first run on this thread makes the engine's thread pool
            allocations(1, opt, extra.clone(), order_free);
            let small = allocations(1, opt, extra.clone(), order_free);
            let large = allocations(4, opt, extra.clone(), order_free);
            assert_eq!(
                small, large,
                "{opt:?} (order free: {order_free}): 15 steps per epoch made {small} allocations, 60 made {large}"
            );
        }
    }
}

/// A 784-128-10 relu network on `steps` batches of `batch` synthetic rows
/// (784 features, 10 classes), `epochs` epochs, without shuffling.
fn mnist_size_program(batch: usize, steps: usize, epochs: usize, optimizer: Optimizer) -> Program {
    let mut p = program(
        "iris_adam_tanh",
        ("train.csv", None, None),
        &["label"],
        Normalize::None,
        vec![dense(128), LayerKind::Relu, dense(10)],
        Loss::CrossEntropy {
            label_smoothing: 0.0,
        },
        optimizer,
        plan(epochs, Batch::Size(batch)),
    );
    p.init_from = None;
    let (features, rows) = (784, batch * steps);
    p.data.train = Table {
        rows,
        features,
        targets: 1,
        x: (0..rows * features)
            .map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0)
            .collect(),
        y: (0..rows).map(|r| (r % 10) as f64).collect(),
        lines: Vec::new(),
    };
    p.model = layers(features, vec![dense(128), LayerKind::Relu, dense(10)], 1);
    p
}

/// A 784-`hidden`-10 network on `steps` batches of `batch` synthetic rows: its
/// products go through faer (784-128-10 at batch 64: on one thread; 784-512-512-10
/// at batch 64: the first layer's split between the pool's two threads, the
/// second layer's backward pair side by side).
fn mnist_size_allocations(
    hidden: &[usize],
    batch: usize,
    steps: usize,
    optimizer: Optimizer,
) -> usize {
    let mut p = mnist_size_program(batch, steps, 3, optimizer);
    let features = p.data.train.features;
    let mut kinds = Vec::new();
    // The nadam runs also put a layer_norm after each hidden dense layer; the
    // adamw runs are the benchmarks' "rich" network: batch_norm, gelu (which
    // keeps its erf terms) and dropout after each hidden layer, label
    // smoothing and norm clipping.
    let norm = matches!(optimizer, Optimizer::NAdam { .. });
    let rich = matches!(optimizer, Optimizer::AdamW { .. });
    for &h in hidden {
        kinds.push(dense(h));
        if norm {
            kinds.push(LayerKind::LayerNorm { eps: 1e-5 });
        }
        if rich {
            kinds.push(LayerKind::BatchNorm {
                momentum: 0.1,
                eps: 1e-5,
            });
            kinds.push(LayerKind::Gelu);
            kinds.push(LayerKind::Dropout { p: 0.2 });
        } else {
            kinds.push(LayerKind::Relu);
        }
    }
    if rich {
        p.loss = Loss::CrossEntropy {
            label_smoothing: 0.1,
        };
        p.train.clip = Some(Clip::Norm(1.0));
        p.train.shuffle = true;
    }
    kinds.push(dense(10));
    p.model = layers(features, kinds, 1);
    let mut rec = Recorder::default();
    rec.events.reserve(64);
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    run(&p, &RunOptions::default(), &mut rec).expect("run");
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

/// Counts the allocations made between the run's start event (sent once the
/// run is set up) and the end of its first epoch's steps. Allocates nothing
/// itself.
struct FirstSteps {
    at_start: usize,
    after_first_epoch: Option<usize>,
}

impl Observer for FirstSteps {
    fn event(&mut self, event: &Event) {
        if matches!(event, Event::Start(_)) {
            self.at_start = ALLOCATIONS.load(Ordering::SeqCst);
        }
    }
    fn step(&mut self, epoch: usize, step: usize, steps: usize, _loss: f64) {
        if (epoch, step) == (1, steps) {
            self.after_first_epoch = Some(ALLOCATIONS.load(Ordering::SeqCst));
        }
    }
}

/// A run set up on a thread that never trained before makes what its first
/// steps need before the start event: faer's per-thread workspace (made by a
/// thread's first product through its packing kernels) is prepared on every
/// thread of the team, so even the first steps allocate nothing (nor take the
/// page faults of fresh memory). Without `linalg::prepare_threads` the first
/// step of each run here allocates that workspace, and the team's worker its
/// own at its first piece (after the trainer's first look at one thread, 4
/// steps: the 8 steps here cover both).
fn the_first_step_allocates_nothing() {
    // 784-128-10 at batch 8 on one thread (products through faer, none
    // split) and at batch 64 on two (the first layer's split).
    for (batch, threads) in [(8, 1), (64, 2)] {
        let made = std::thread::spawn(move || {
            let sgd = Optimizer::Sgd {
                lr: 0.01,
                momentum: 0.0,
                dampening: 0.0,
                nesterov: false,
                weight_decay: 0.0,
            };
            let p = mnist_size_program(batch, 8, 1, sgd);
            let mut seen = FirstSteps {
                at_start: 0,
                after_first_epoch: None,
            };
            let opts = RunOptions {
                threads: Some(threads),
                ..RunOptions::default()
            };
            run(&p, &opts, &mut seen).expect("run");
            seen.after_first_epoch.map(|after| after - seen.at_start)
        })
        .join()
        .expect("the run's thread");
        assert_eq!(
            made,
            Some(0),
            "784-128-10 at batch {batch} on {threads} thread(s): allocations in the first 8 steps"
        );
    }
}

fn mnist_size_steps_do_not_allocate() {
    let optimizers = [
        Optimizer::Sgd {
            lr: 0.01,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        },
        Optimizer::Adam {
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        },
        Optimizer::AdamW {
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        },
        Optimizer::NAdam {
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 0.004,
        },
    ];
    // Both networks split their large products (and element-wise passes) between
    // the team's two threads; the 10-unit output layer's products stay whole.
    const { assert!(128 * 784 * 64 >= nnt::train::linalg::PAR_WORK) };
    const { assert!(10 * 128 * 64 < nnt::train::linalg::PAR_WORK) };
    for opt in optimizers {
        // 784-32-10 lays its output out by unit for cross-entropy
        // (`Network::lay_output_by_unit`: 32 inputs, batch 64).
        for hidden in [&[128][..], &[512, 512], &[32]] {
            // Warm up once: the pool's threads, faer's per-thread scratch, and the
            // first work-stealing of the pool's second thread (which registers it
            // with crossbeam's epoch collector) allocate, once per thread.
            mnist_size_allocations(hidden, 64, 4, opt);
            // The fewest of three runs each: the team's second thread, left
            // spinning by the previous run, now and then makes a stray allocation
            // inside the next run's window (one, either way). An allocating step
            // would add at least 18 (6 more steps × 3 epochs) to every large run.
            let fewest = |steps| {
                (0..3)
                    .map(|_| mnist_size_allocations(hidden, 64, steps, opt))
                    .min()
                    .unwrap_or(usize::MAX)
            };
            let (small, large) = (fewest(2), fewest(8));
            assert_eq!(
                small, large,
                "784-{hidden:?}-10 {opt:?}: 2 steps per epoch made {small} allocations, 8 made {large}"
            );
        }
    }
}
