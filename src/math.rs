//! Every transcendental function of the training path (and of the synthetic data
//! and the schedules), in one place, from the `libm` crate: a pure-Rust port of
//! musl's functions, compiled into the binary, with no FMA and no run-time
//! choice of code path. The system's libm picks an implementation per CPU
//! (glibc runs FMA variants of `exp`, `log`, `pow`, `sin`, `cos`, `tan`, … where
//! the CPU has FMA), so its last bit can differ between machines; these do not:
//! the same binary gives the same bits on every x86-64 machine (spec §16).
//!
//! `sqrt` is not here: IEEE 754 rounds it exactly, so the hardware instruction
//! gives the same bits everywhere. Neither is `powi`: it compiles to repeated
//! multiplication inside the binary (compiler-rt's `__powidf2`), never the system's
//! libm.

/// eˣ
#[inline]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// eˣ in f32.
#[inline]
pub fn expf(x: f32) -> f32 {
    libm::expf(x)
}

/// ln x
#[inline]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// ln(1 + x)
#[inline]
pub fn ln_1p(x: f64) -> f64 {
    libm::log1p(x)
}

/// tanh x
#[inline]
pub fn tanh(x: f64) -> f64 {
    libm::tanh(x)
}

/// tanh x in f32.
#[inline]
pub fn tanhf(x: f32) -> f32 {
    libm::tanhf(x)
}

/// The error function.
#[inline]
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// cos x
#[inline]
pub fn cos(x: f64) -> f64 {
    libm::cos(x)
}

/// sin x
#[inline]
pub fn sin(x: f64) -> f64 {
    libm::sin(x)
}

/// xʸ
#[inline]
pub fn powf(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_definitions() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(ln(1.0), 0.0);
        assert!((exp(1.0) - std::f64::consts::E).abs() < 1e-15);
        assert!((ln_1p(1e-20) - 1e-20).abs() < 1e-35);
        assert!((tanh(0.5) - 0.462_117_157_260_009_8).abs() < 1e-15);
        assert!((tanhf(0.5) - 0.462_117_16).abs() < 1e-7);
        assert!((expf(1.0) - std::f32::consts::E).abs() < 1e-6);
        assert!((erf(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
        assert!((cos(std::f64::consts::PI) + 1.0).abs() < 1e-15);
        assert!(sin(0.0) == 0.0);
        assert_eq!(powf(2.0, 10.0), 1024.0);
    }
}
