//! The transcendental element-wise passes, per element: exact GELU forward and
//! backward on a 256 × 128 batch (the rich network's first hidden layer) and the
//! softmax-style `exp` pass, each through the engine (`train::vmath`, vectorised)
//! and as the scalar `libm` loop it replaced (the same bits):
//! `cargo bench --bench elementwise`.

use std::f64::consts::FRAC_1_SQRT_2;

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use nnt::train::layers::activation::Activation;

const WIDTH: usize = 256;
const BATCH: usize = 128;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Pre-activations as a batch-normalised layer gives them: about N(0, 1), some tails.
fn inputs() -> Vec<f32> {
    (0..WIDTH * BATCH)
        .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 8.0 * ((i % 7) as f32 / 7.0 + 0.1))
        .collect()
}

fn bench(c: &mut Criterion) {
    let x = inputs();
    let dy: Vec<f32> = x.iter().map(|v| 1.0 - v * 0.1).collect();
    let mut y = vec![0.0f32; x.len()];
    let mut dx = vec![0.0f32; x.len()];
    let mut g = c.benchmark_group("gelu 256x128 f32");
    g.bench_function("forward vmath", |b| {
        b.iter(|| Activation::Gelu.forward(black_box(&x), &mut y, WIDTH, BATCH))
    });
    g.bench_function("forward libm scalar", |b| {
        b.iter(|| {
            for (o, &v) in y.iter_mut().zip(black_box(&x)) {
                let xf = v as f64;
                *o = (0.5 * xf * (1.0 + nnt::math::erf(xf * FRAC_1_SQRT_2))) as f32;
            }
        })
    });
    g.bench_function("backward vmath", |b| {
        b.iter(|| Activation::Gelu.backward(black_box(&x), &y, &dy, &mut dx, WIDTH, BATCH))
    });
    g.bench_function("backward libm scalar", |b| {
        b.iter(|| {
            for ((&v, &d), o) in black_box(&x).iter().zip(&dy).zip(dx.iter_mut()) {
                let xf = v as f64;
                let cdf = 0.5 * (1.0 + nnt::math::erf(xf * FRAC_1_SQRT_2));
                let pdf = INV_SQRT_2PI * nnt::math::exp(-0.5 * xf * xf);
                *o = d * (cdf + xf * pdf) as f32;
            }
        })
    });
    g.finish();
    let mut g = c.benchmark_group("sigmoid 256x128 f32");
    g.bench_function("vmath expf", |b| {
        b.iter(|| Activation::Sigmoid.forward(black_box(&x), &mut y, WIDTH, BATCH))
    });
    g.bench_function("libm expf scalar", |b| {
        b.iter(|| {
            for (o, &v) in y.iter_mut().zip(black_box(&x)) {
                *o = if v >= 0.0 {
                    1.0 / (1.0 + nnt::math::expf(-v))
                } else {
                    let e = nnt::math::expf(v);
                    e / (1.0 + e)
                };
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
