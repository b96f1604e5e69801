//! The transcendental element-wise passes, per element: exact GELU forward and
//! backward on a 256 × 128 batch (the rich network's first hidden layer), sigmoid
//! and tanh forward (f32 and f64) and the binary cross-entropy of 256 logits,
//! each through the engine (`train::vmath`, vectorised) and as the scalar `libm`
//! loop it replaced (the same bits); and the cross-entropy with label smoothing
//! of 10 classes × 16 and × 128 rows (the digits and rich rows' shapes), the
//! engine's pass alone: `cargo bench --bench elementwise`
//! (`RAYON_NUM_THREADS=1` keeps the activations on one thread).

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
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let mut y64 = vec![0.0f64; x.len()];
    let mut g = c.benchmark_group("tanh 256x128");
    g.bench_function("f32 vmath", |b| {
        b.iter(|| Activation::Tanh.forward(black_box(&x), &mut y, WIDTH, BATCH))
    });
    g.bench_function("f32 libm scalar", |b| {
        b.iter(|| {
            for (o, &v) in y.iter_mut().zip(black_box(&x)) {
                *o = nnt::math::tanhf(v);
            }
        })
    });
    g.bench_function("f64 vmath", |b| {
        b.iter(|| Activation::Tanh.forward(black_box(&x64), &mut y64, WIDTH, BATCH))
    });
    g.bench_function("f64 libm scalar", |b| {
        b.iter(|| {
            for (o, &v) in y64.iter_mut().zip(black_box(&x64)) {
                *o = nnt::math::tanh(v);
            }
        })
    });
    g.finish();
    let z = &x[..WIDTH];
    let labels: Vec<f32> = (0..WIDTH).map(|i| (i % 3 == 0) as u8 as f32).collect();
    let mut dz = vec![0.0f32; WIDTH];
    let mut g = c.benchmark_group("binary_cross_entropy 256 rows f32");
    g.bench_function("vmath", |b| {
        b.iter(|| {
            nnt::train::losses::bce::forward_backward(black_box(z), &labels, WIDTH, Some(&mut dz))
        })
    });
    g.bench_function("libm scalar", |b| {
        b.iter(|| {
            let mut total = 0.0f64;
            for ((&zk, &yk), o) in black_box(z).iter().zip(&labels).zip(dz.iter_mut()) {
                let (zf, yf) = (zk as f64, yk as f64);
                total += zf.max(0.0) - zf * yf + nnt::math::ln_1p(nnt::math::exp(-zf.abs()));
                let s = if zf >= 0.0 {
                    1.0 / (1.0 + nnt::math::exp(-zf))
                } else {
                    nnt::math::exp(zf) / (1.0 + nnt::math::exp(zf))
                };
                *o = ((s - yf) / WIDTH as f64) as f32;
            }
            total
        })
    });
    g.finish();
    // Cross-entropy with label smoothing: the tiny row's 2 classes × 32 rows,
    // the digits row's 10 × 16 and the rich row's 10 × 128.
    for (classes, rows) in [(2usize, 32usize), (10, 16), (10, 128)] {
        let z = &x[..classes * rows];
        let labels: Vec<f32> = (0..rows).map(|i| (i * 7 % classes) as f32).collect();
        let mut dz = vec![0.0f32; classes * rows];
        let mut g = c.benchmark_group(format!("cross_entropy {classes}x{rows} f32"));
        g.bench_function("vmath", |b| {
            b.iter(|| {
                nnt::train::losses::cross_entropy::forward_backward(
                    0.1,
                    black_box(z),
                    &labels,
                    classes,
                    rows,
                    Some(&mut dz),
                )
            })
        });
        g.bench_function("by class", |b| {
            b.iter(|| {
                nnt::train::losses::cross_entropy::forward_backward_by_class(
                    0.1,
                    black_box(z),
                    &labels,
                    classes,
                    rows,
                    Some(&mut dz),
                )
            })
        });
        g.finish();
    }
}

fn dense_forward(c: &mut Criterion) {
    use nnt::train::{linalg, view, view::Read};
    let w2: Vec<f32> = (0..320).map(|i| ((i as f32) * 0.37).sin()).collect();
    let h: Vec<f32> = (0..512).map(|i| ((i as f32) * 0.11).cos()).collect();
    let mut z = vec![0.5f32; 160];
    // The digits network's output product (10 units × 32 inputs, batch 16),
    // its output by row and by unit (`Network::lay_output_by_unit`).
    let mut g = c.benchmark_group("dense forward 10x32x16 f32");
    for (name, read, (rows, cols)) in [
        ("by row", Read::AsIs, (10, 16)),
        ("by unit", Read::Transposed, (16, 10)),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let wt = view::cols(black_box(&w2), 32, 10);
                let xv = view::cols(&h, 32, 16);
                let mut y = view::cols_mut(&mut z, rows, cols);
                linalg::w_x(
                    linalg::Weight::rows(wt),
                    xv,
                    &mut y,
                    read,
                    linalg::Start::Accumulate,
                );
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2));
    targets = bench, dense_forward
}
criterion_main!(benches);
