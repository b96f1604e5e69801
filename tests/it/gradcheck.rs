//! Finite-difference gradient checks, in f64, for every layer, loss and penalty,
//! and for a whole network through `Network::forward`/`backward`.
//!
//! Layers are checked on the scalar L = Σ r ⊙ y for a fixed random r, so the
//! backward pass is fed dy = r; central differences with h = 1e-6 must agree with
//! the analytic gradient to 1e-6 relative (1e-8 absolute).

use nnt::ast::{SourceId, Span};
use nnt::ir::{Init, Layer, LayerKind, Loss, Model};
use nnt::rng::{generator, Stream};
use nnt::train::layers::activation::Activation;
use nnt::train::layers::batch_norm::BatchNorm;
use nnt::train::layers::dense::Dense;
use nnt::train::layers::dropout::Dropout;
use nnt::train::layers::layer_norm::LayerNorm;
use nnt::train::losses;
use nnt::train::network::Network;
use nnt::train::penalty;
use rand::Rng;

const H: f64 = 1e-6;

fn random(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = generator(seed, Stream::Data);
    (0..n).map(|_| rng.gen::<f64>() * 2.0 - 1.0).collect()
}

/// Inputs bounded away from 0 so no finite difference straddles a kink.
fn away_from_kinks(n: usize, seed: u64) -> Vec<f64> {
    random(n, seed)
        .into_iter()
        .map(|v| {
            if v.abs() < 0.05 {
                v + 0.1_f64.copysign(v)
            } else {
                v * 2.0
            }
        })
        .collect()
}

fn assert_close(what: &str, analytic: &[f64], numeric: &[f64]) {
    assert_eq!(analytic.len(), numeric.len());
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        let tol = 1e-6 * a.abs().max(n.abs()) + 1e-8;
        assert!(
            (a - n).abs() <= tol.max(1e-7),
            "{what}[{i}]: analytic {a}, numeric {n}"
        );
    }
}

/// ∂f/∂v by central differences, for every element of v.
fn numeric(v: &mut [f64], mut f: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    (0..v.len())
        .map(|i| {
            let keep = v[i];
            v[i] = keep + H;
            let up = f(v);
            v[i] = keep - H;
            let down = f(v);
            v[i] = keep;
            (up - down) / (2.0 * H)
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A dense layer's gradients against finite differences, its weight stored as
/// declared or by input (`Dense::by_input`, column-major).
fn check_dense(bias: bool, by_input: bool) {
    let (inputs, units, n) = (7, 6, 9);
    let d = Dense {
        inputs,
        units,
        weight: 0,
        bias: bias.then_some(units * inputs),
        by_input,
    };
    let mut params = random(units * inputs + if bias { units } else { 0 }, 1);
    let mut x = random(inputs * n, 2);
    let r = random(units * n, 3);
    let mut y = vec![0.0; units * n];
    let mut grads = vec![0.0; params.len()];
    let mut dx = vec![0.0; inputs * n];
    d.backward(&params, &mut grads, &x, &r, Some(&mut dx), n);
    let p0 = params.clone();
    let num_x = numeric(&mut x, |x| {
        let mut y = vec![0.0; units * n];
        d.forward(&p0, x, &mut y, n);
        dot(&y, &r)
    });
    assert_close("dense dx", &dx, &num_x);
    let x0 = x.clone();
    let num_p = numeric(&mut params, |p| {
        d.forward(p, &x0, &mut y, n);
        dot(&y, &r)
    });
    assert_close("dense dparams", &grads, &num_p);
}

#[test]
fn dense_with_and_without_bias() {
    check_dense(true, false);
    check_dense(false, false);
}

#[test]
fn dense_stored_by_input() {
    check_dense(true, true);
    check_dense(false, true);
}

#[test]
fn dense_tiny_shapes() {
    // Below the gemm size threshold: the plain-loop path.
    let d = Dense {
        inputs: 3,
        units: 2,
        weight: 0,
        bias: Some(6),
        by_input: false,
    };
    let mut params = random(8, 4);
    let x = random(3 * 4, 5);
    let r = random(2 * 4, 6);
    let mut grads = vec![0.0; 8];
    d.backward(&params, &mut grads, &x, &r, None, 4);
    let mut y = vec![0.0; 8];
    let num = numeric(&mut params, |p| {
        d.forward(p, &x, &mut y, 4);
        dot(&y, &r)
    });
    assert_close("tiny dense", &grads, &num);
}

#[test]
fn every_activation() {
    let acts = [
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.1 },
        Activation::Elu { alpha: 1.3 },
        Activation::Gelu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
    ];
    let (w, n) = (5, 4);
    for a in acts {
        let mut x = away_from_kinks(w * n, 7);
        let r = random(w * n, 8);
        let mut y = vec![0.0; w * n];
        a.forward(&x, &mut y, w, n);
        let mut dx = vec![0.0; w * n];
        a.backward(&x, &y, &r, &mut dx, w, n);
        let num = numeric(&mut x, |x| {
            let mut y = vec![0.0; w * n];
            a.forward(x, &mut y, w, n);
            dot(&y, &r)
        });
        assert_close(&format!("{a:?}"), &dx, &num);
    }
}

#[test]
fn kinks_follow_pytorch() {
    let x = [0.0f64];
    let y = [0.0f64];
    let dy = [1.0f64];
    let mut dx = [9.0f64];
    Activation::Relu.backward(&x, &y, &dy, &mut dx, 1, 1);
    assert_eq!(dx[0], 0.0);
    Activation::LeakyRelu { slope: 0.2 }.backward(&x, &y, &dy, &mut dx, 1, 1);
    assert_eq!(dx[0], 0.2);
    Activation::Elu { alpha: 1.5 }.backward(&x, &y, &dy, &mut dx, 1, 1);
    assert_eq!(dx[0], 1.5);
}

#[test]
fn dropout_with_a_fixed_mask() {
    let (w, n) = (4, 3);
    let mut d = Dropout::<f64>::new(0.5, w, n);
    d.draw_mask(w * n, &mut generator(9, Stream::Dropout));
    assert!(d.mask.contains(&0.0) && d.mask.contains(&2.0));
    let mut x = random(w * n, 10);
    let r = random(w * n, 11);
    let mut dx = vec![0.0; w * n];
    d.backward(&r, &mut dx, w, n);
    let num = numeric(&mut x, |x| {
        let mut y = vec![0.0; w * n];
        d.forward(x, &mut y, w, n, true);
        dot(&y, &r)
    });
    assert_close("dropout", &dx, &num);
    // evaluation is the identity
    let mut y = vec![0.0; w * n];
    d.forward(&x, &mut y, w, n, false);
    assert_eq!(y, x);
}

#[test]
fn batch_norm_training_mode() {
    let (w, n) = (3, 6);
    let mut params = random(2 * w, 12);
    let mut x = random(w * n, 13);
    let r = random(w * n, 14);
    let mut bn = BatchNorm::<f64>::new(w, 0.1, 1e-5, 0, w, n);
    let mut y = vec![0.0; w * n];
    bn.forward(&params, &x, &mut y, n, true);
    let mut grads = vec![0.0; 2 * w];
    let mut dx = vec![0.0; w * n];
    bn.backward(&params, &mut grads, &r, Some(&mut dx), n);
    let p0 = params.clone();
    let mut probe = BatchNorm::<f64>::new(w, 0.1, 1e-5, 0, w, n);
    let num_x = numeric(&mut x, |x| {
        let mut y = vec![0.0; w * n];
        probe.forward(&p0, x, &mut y, n, true);
        dot(&y, &r)
    });
    assert_close("batch_norm dx", &dx, &num_x);
    let x0 = x.clone();
    let num_p = numeric(&mut params, |p| {
        let mut y = vec![0.0; w * n];
        probe.forward(p, &x0, &mut y, n, true);
        dot(&y, &r)
    });
    assert_close("batch_norm dγ dβ", &grads, &num_p);
}

#[test]
fn batch_norm_running_estimates() {
    let (w, n) = (2, 4);
    let params = [1.0, 1.0, 0.0, 0.0];
    let x = [1.0, 10.0, 2.0, 10.0, 3.0, 10.0, 4.0, 10.0];
    let mut bn = BatchNorm::<f64>::new(w, 0.1, 1e-5, 0, w, n);
    let mut y = vec![0.0; 8];
    bn.forward(&params, &x, &mut y, n, true);
    // mean (2.5, 10); unbiased variance (5/3, 0)
    assert!((bn.running_mean[0] - 0.25).abs() < 1e-12 && (bn.running_mean[1] - 1.0).abs() < 1e-12);
    assert!((bn.running_var[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-12);
    assert!((bn.running_var[1] - 0.9).abs() < 1e-12);
}

/// γ and β away from 1 and 0, with β stored before γ (the layer takes any
/// offsets), on a width of 5 and one of 1 (x̂ = 0: only β moves the output).
#[test]
fn layer_norm() {
    for (w, n) in [(5, 4), (1, 3)] {
        let mut params = random(2 * w + 1, 30);
        let mut x = away_from_kinks(w * n, 31);
        let r = random(w * n, 32);
        // β at 1, γ at w + 1.
        let mut ln = LayerNorm::<f64>::new(w, 1e-5, w + 1, 1, n);
        let mut y = vec![0.0; w * n];
        ln.forward(&params, &x, &mut y, n);
        let mut grads = vec![7.0; params.len()];
        let mut dx = vec![0.0; w * n];
        ln.backward(&params, &mut grads, &r, Some(&mut dx), n);
        let mut probe = LayerNorm::<f64>::new(w, 1e-5, w + 1, 1, n);
        let p0 = params.clone();
        let num_x = numeric(&mut x, |x| {
            let mut y = vec![0.0; w * n];
            probe.forward(&p0, x, &mut y, n);
            dot(&y, &r)
        });
        assert_close("layer_norm dx", &dx, &num_x);
        let x0 = x.clone();
        let num_p = numeric(&mut params, |p| {
            let mut y = vec![0.0; w * n];
            probe.forward(p, &x0, &mut y, n);
            dot(&y, &r)
        });
        // The value at offset 0 is no parameter of the layer: left as it was.
        assert_eq!(grads[0], 7.0);
        assert_close("layer_norm dγ dβ", &grads[1..], &num_p[1..]);
    }
}

fn check_loss(loss: Loss, z: &mut [f64], y: &[f64], k: usize, n: usize) {
    let mut dz = vec![0.0; z.len()];
    losses::evaluate(&loss, z, y, k, n, Some(&mut dz));
    let num = numeric(z, |z| losses::evaluate(&loss, z, y, k, n, None).mean);
    assert_close(&format!("{loss:?}"), &dz, &num);
}

#[test]
fn every_loss() {
    let (k, n) = (4, 5);
    let labels: Vec<f64> = (0..n).map(|i| (i % k) as f64).collect();
    for eps in [0.0, 0.1] {
        let mut z = random(k * n, 15)
            .iter()
            .map(|v| v * 3.0)
            .collect::<Vec<_>>();
        check_loss(
            Loss::CrossEntropy {
                label_smoothing: eps,
            },
            &mut z,
            &labels,
            k,
            n,
        );
    }
    let mut z = random(n, 16).iter().map(|v| v * 4.0).collect::<Vec<_>>();
    let bin: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
    check_loss(Loss::BinaryCrossEntropy, &mut z, &bin, 1, n);
    let targets = random(k * n, 17);
    let mut z = random(k * n, 18);
    check_loss(Loss::Mse, &mut z, &targets, k, n);
    let mut z: Vec<f64> = targets
        .iter()
        .zip(away_from_kinks(k * n, 19))
        .map(|(t, d)| t + d)
        .collect();
    check_loss(Loss::Mae, &mut z, &targets, k, n);
    // Huber, both regions: |d| < δ and |d| > δ
    let d = away_from_kinks(k * n, 20);
    assert!(d.iter().any(|v| v.abs() < 0.7) && d.iter().any(|v| v.abs() > 0.8));
    let mut z: Vec<f64> = targets.iter().zip(&d).map(|(t, d)| t + d).collect();
    check_loss(Loss::Huber { delta: 0.75 }, &mut z, &targets, k, n);
}

#[test]
fn loss_values_match_pytorch_formulas() {
    // cross-entropy with smoothing on one row: z = (1, 2, 3), y = 0, ε = 0.3
    let z = [1.0f64, 2.0, 3.0];
    let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
    let want = 0.7 * (lse - 1.0) + 0.1 * ((lse - 1.0) + (lse - 2.0) + (lse - 3.0));
    let got = losses::evaluate(
        &Loss::CrossEntropy {
            label_smoothing: 0.3,
        },
        &z,
        &[0.0],
        3,
        1,
        None,
    )
    .mean;
    assert!((got - want).abs() < 1e-12);
    // BCE with logits stays finite for large logits
    let got = losses::evaluate(
        &Loss::BinaryCrossEntropy,
        &[-800.0f64, 800.0],
        &[1.0, 0.0],
        1,
        2,
        None,
    )
    .mean;
    assert!((got - 800.0).abs() < 1e-9);
    // Huber on both sides of δ = 1: d = 0.5 → 0.125, d = 3 → 2.5
    let got = losses::evaluate(
        &Loss::Huber { delta: 1.0 },
        &[0.5f64, 3.0],
        &[0.0, 0.0],
        1,
        2,
        None,
    )
    .mean;
    assert!((got - (0.125 + 2.5) / 2.0).abs() < 1e-12);
}

#[test]
fn every_penalty() {
    let mut w = away_from_kinks(12, 21);
    for (l1, l2) in [(0.3, 0.0), (0.0, 0.2), (0.1, 0.05)] {
        let mut g = vec![0.0; w.len()];
        penalty::add_gradient(&w, &mut g, l1, l2);
        let num = numeric(&mut w, |w| penalty::value(w, l1, l2));
        assert_close(&format!("penalty l1={l1} l2={l2}"), &g, &num);
    }
    // sign(0) = 0
    let mut g = vec![0.0; 1];
    penalty::add_gradient(&[0.0f64], &mut g, 1.0, 0.0);
    assert_eq!(g[0], 0.0);
}

/// The whole chain dense → batch_norm → elu → dropout → dense → softmax → mse,
/// through the network's buffers, checked against differences of the loss.
#[test]
fn whole_network() {
    check_network(vec![
        LayerKind::Dense {
            units: 6,
            init: Init::XavierUniform,
            bias: true,
        },
        LayerKind::BatchNorm {
            momentum: 0.1,
            eps: 1e-5,
        },
        LayerKind::Elu { alpha: 1.0 },
        LayerKind::Dropout { p: 0.3 },
        LayerKind::Dense {
            units: 3,
            init: Init::XavierUniform,
            bias: false,
        },
        LayerKind::Tanh,
    ]);
}

/// dense → layer_norm → relu → dense → layer_norm → tanh → mse.
#[test]
fn whole_network_with_layer_norm() {
    check_network(vec![
        LayerKind::Dense {
            units: 6,
            init: Init::XavierUniform,
            bias: true,
        },
        LayerKind::LayerNorm { eps: 1e-5 },
        LayerKind::LeakyRelu { slope: 0.1 },
        LayerKind::Dense {
            units: 3,
            init: Init::XavierUniform,
            bias: false,
        },
        LayerKind::LayerNorm { eps: 1e-3 },
        LayerKind::Tanh,
    ]);
}

/// The network of `kinds` (4 inputs, 3 outputs) under mse, checked through the
/// network's buffers against differences of the loss.
fn check_network(kinds: Vec<LayerKind>) {
    let mut width = 4;
    let mut layers = vec![];
    for (i, kind) in kinds.into_iter().enumerate() {
        let out = if let LayerKind::Dense { units, .. } = kind {
            units
        } else {
            width
        };
        layers.push(Layer {
            index: i,
            kind,
            in_width: width,
            out_width: out,
            span: Span::new(SourceId::RECIPE, 0, 0),
            line: i + 1,
        });
        width = out;
    }
    let model = Model {
        input_width: 4,
        layers,
    };
    let n = 5;
    let mut net = Network::<f64>::new(&model, n);
    let mut params = random(net.params.len(), 22);
    let x = random(4 * n, 23);
    let y = random(3 * n, 24);
    let loss = Loss::Mse;
    let eval = |net: &mut Network<f64>, p: &[f64], grad: bool| {
        net.params.copy_from_slice(p);
        net.input_mut(n).copy_from_slice(&x);
        // The same dropout mask every time: a fresh generator per pass.
        net.forward(n, true, &mut generator(5, Stream::Dropout));
        let (out, dout) = net.output_and_grad(n);
        let l = losses::evaluate(&loss, out, &y, 3, n, Some(dout)).mean;
        if grad {
            net.backward(n);
        }
        l
    };
    eval(&mut net, &params, true);
    let analytic = net.grads.clone();
    let num = numeric(&mut params, |p| eval(&mut net, p, false));
    assert_close("network", &analytic, &num);
}
