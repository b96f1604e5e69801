//! One training step of each benchmark network of BENCHMARKS.md, on the engine's
//! thread pool: `cargo bench --bench step`. The step is the trainer's own
//! (`Stepper::step`: batch gather, forward, cross-entropy loss and gradient,
//! backward, gradient norms, optimizer update, finiteness check), so the numbers
//! are those of a run's steps without its per-epoch work.

use criterion::{criterion_group, criterion_main, Criterion};

use nnt::ast::{SourceId, Span};
use nnt::ir::{Init, Layer, LayerKind, Loss, Model, Optimizer, Regularize};
use nnt::rng::{generator, Stream};
use nnt::train::layers::Node;
use nnt::train::network::Network;
use nnt::train::optim::Optim;
use nnt::train::trainer::{Split, StepPlan, Stepper};
use nnt::train::{init, linalg};

/// (name, widths input..output, batch, adam?)
const NETWORKS: [(&str, &[usize], usize, bool); 5] = [
    ("10-5-2 b32 sgd", &[10, 5, 2], 32, false),
    ("64-32-10 b16 sgd", &[64, 32, 10], 16, false),
    ("784-128-10 b64 sgd", &[784, 128, 10], 64, false),
    ("784-128-10 b64 adam", &[784, 128, 10], 64, true),
    ("784-512-512-10 b256 sgd", &[784, 512, 512, 10], 256, false),
];

/// Dense + relu stack (no relu after the last layer), as the recipes.
fn model(widths: &[usize]) -> Model {
    let mut layers = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        let mut push = |kind, in_width, out_width| {
            layers.push(Layer {
                index: layers.len(),
                kind,
                in_width,
                out_width,
                span: Span::new(SourceId::RECIPE, 0, 0),
                line: layers.len() + 1,
            })
        };
        push(
            LayerKind::Dense {
                units: w[1],
                init: Init::XavierUniform,
                bias: true,
            },
            w[0],
            w[1],
        );
        if i + 2 < widths.len() {
            push(LayerKind::Relu, w[1], w[1]);
        }
    }
    Model {
        input_width: widths[0],
        layers,
    }
}

fn step(c: &mut Criterion) {
    for (name, widths, batch, adam) in NETWORKS {
        let model = model(widths);
        let mut net = Network::<f32>::new(&model, batch);
        let mut rng = generator(0, Stream::Init);
        for slot in &net.layers {
            if let Node::Dense(d) = &slot.node {
                let (w, b) = net.params.split_at_mut(d.weight + d.weight_len());
                let bias = d.bias.map(|o| &mut b[o - w.len()..o - w.len() + d.units]);
                init::dense(
                    &Init::XavierUniform,
                    d.inputs,
                    d.units,
                    &mut w[d.weight..],
                    bias,
                    &mut rng,
                );
            }
        }
        let config = if adam {
            Optimizer::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
                amsgrad: false,
            }
        } else {
            Optimizer::Sgd {
                lr: 0.01,
                momentum: 0.0,
                dampening: 0.0,
                nesterov: false,
                weight_decay: 0.0,
            }
        };
        let mut optim = Optim::<f32>::new(&config, net.params.len());
        // As torch_bench.py: 16 batches of random inputs and labels, cycled (one
        // fixed batch would be learnt by heart, with vanishing gradients).
        let (features, classes) = (widths[0], widths[widths.len() - 1]);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let data = Split {
            rows: 16 * batch,
            x: (0..16 * batch * features)
                .map(|_| (next() % 2001) as f32 / 1000.0 - 1.0)
                .collect(),
            y: (0..16 * batch)
                .map(|_| (next() % classes as u64) as f32)
                .collect(),
        };
        let order: Vec<usize> = (0..16 * batch).collect();
        let mut i = 0usize;
        let loss = Loss::CrossEntropy {
            label_smoothing: 0.0,
        };
        let regularize = Regularize::default();
        net.lay_out_for_training(&loss, &regularize, None, batch);
        let plan = StepPlan {
            loss: &loss,
            regularize: &regularize,
            clip: None,
        };
        let mut stepper = Stepper::new(&net, 1, Vec::new());
        let mut dropout = generator(0, Stream::Dropout);
        // The steps of each sample run inside one team (as a training run does).
        c.bench_function(name, |b| {
            b.iter_custom(|iters| {
                linalg::pool(linalg::default_threads(), || {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        let j = i % 16;
                        i += 1;
                        let stats = stepper.step(
                            &mut net,
                            &mut optim,
                            plan,
                            &data,
                            &order[j * batch..(j + 1) * batch],
                            0.01,
                            &mut dropout,
                            &mut (),
                        );
                        std::hint::black_box(stats.map(|s| s.loss).unwrap_or(f64::NAN));
                    }
                    start.elapsed()
                })
            })
        });
    }
}

criterion_group!(benches, step);
criterion_main!(benches);
