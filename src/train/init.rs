//! Initialisers (§5) for a dense layer, drawn from the Init stream in a fixed order:
//! layer by layer, the weight row-major (`[units, inputs]`), then (torch_default
//! only) the bias. Normal draws are not truncated.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::ir::Init;
use crate::train::float::Float;

/// Fills `weight` (`[units, inputs]`) and `bias` (when present) of one dense layer.
pub fn dense<T: Float>(
    init: &Init,
    inputs: usize,
    units: usize,
    weight: &mut [T],
    bias: Option<&mut [T]>,
    rng: &mut ChaCha8Rng,
) {
    let fan_in = inputs.max(1) as f64;
    let fan_out = units as f64;
    let uniform = |limit: f64, out: &mut [T], rng: &mut ChaCha8Rng| {
        for v in out.iter_mut() {
            *v = T::of(limit * (2.0 * rng.gen::<f64>() - 1.0));
        }
    };
    let normal = |std: f64, out: &mut [T], rng: &mut ChaCha8Rng| {
        for v in out.iter_mut() {
            let z: f64 = rng.sample(StandardNormal);
            *v = T::of(std * z);
        }
    };
    match *init {
        Init::HeUniform => uniform((6.0 / fan_in).sqrt(), weight, rng),
        Init::HeNormal => normal((2.0 / fan_in).sqrt(), weight, rng),
        Init::XavierUniform => uniform((6.0 / (fan_in + fan_out)).sqrt(), weight, rng),
        Init::XavierNormal => normal((2.0 / (fan_in + fan_out)).sqrt(), weight, rng),
        Init::LecunNormal => normal((1.0 / fan_in).sqrt(), weight, rng),
        Init::Normal { std } => normal(std, weight, rng),
        Init::Uniform { limit } => uniform(limit, weight, rng),
        Init::Zeros => weight.fill(T::zero()),
        Init::TorchDefault => {
            let limit = 1.0 / fan_in.sqrt();
            uniform(limit, weight, rng);
            if let Some(b) = bias {
                uniform(limit, b, rng);
            }
            return;
        }
    }
    if let Some(b) = bias {
        b.fill(T::zero());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{generator, Stream};

    #[test]
    fn he_uniform_stays_in_bounds_and_spreads() {
        let mut rng = generator(3, Stream::Init);
        let mut w = vec![0.0f64; 64 * 100];
        let mut b = vec![1.0f64; 64];
        dense(&Init::HeUniform, 100, 64, &mut w, Some(&mut b), &mut rng);
        let lim = (6.0f64 / 100.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= lim));
        let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
        assert!((var - lim * lim / 3.0).abs() < 0.1 * lim * lim / 3.0);
        assert!(b.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn normal_variance_and_torch_default_bias() {
        let mut rng = generator(1, Stream::Init);
        let mut w = vec![0.0f64; 20000];
        dense(&Init::HeNormal, 50, 400, &mut w, None, &mut rng);
        let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
        assert!((var - 0.04).abs() < 0.004, "{var}");
        let mut w = vec![0.0f64; 12];
        let mut b = vec![0.0f64; 3];
        dense(&Init::TorchDefault, 4, 3, &mut w, Some(&mut b), &mut rng);
        assert!(b.iter().all(|&v| v != 0.0 && v.abs() <= 0.5));
    }
}
