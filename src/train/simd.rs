//! Run-time choice of the instruction set for the element-wise passes.
//!
//! The default build targets baseline x86-64, so one binary runs on every x86-64
//! machine. The hot element-wise loops (optimizer updates, activations, the
//! loss, gradient norms) are compiled three times by `multiversion!`: for
//! AVX-512, for AVX2+FMA and for the baseline, and each call takes the best
//! the CPU has (detected once).
//!
//! The bits do not depend on the choice: every loop computes each element by
//! the same operations in the same order whatever the vector width; Rust never
//! fuses a multiply and an add into an FMA (enabling the `fma` feature only
//! lets explicit `mul_add` use it, and nothing here calls it); and reductions
//! are written with a fixed number of interleaved lanes (8) added in a fixed
//! order, which the compiler may not reassociate. Tests compare the levels.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// x86-64 baseline (SSE2), or any other architecture.
    Baseline,
    /// AVX2 and FMA (x86-64-v3: Haswell and later).
    V3,
    /// AVX-512 F/BW/DQ/VL (x86-64-v4).
    V4,
}

const UNKNOWN: u8 = 0;
static LEVEL: AtomicU8 = AtomicU8::new(UNKNOWN);
/// Forced by tests (0: not forced).
static FORCED: AtomicU8 = AtomicU8::new(UNKNOWN);

fn encode(l: Level) -> u8 {
    match l {
        Level::Baseline => 1,
        Level::V3 => 2,
        Level::V4 => 3,
    }
}

fn decode(v: u8) -> Level {
    match v {
        3 => Level::V4,
        2 => Level::V3,
        _ => Level::Baseline,
    }
}

/// The best level this CPU supports.
pub fn detected() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        let v3 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        let v4 = v3
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl");
        if v4 {
            return Level::V4;
        }
        if v3 {
            return Level::V3;
        }
    }
    Level::Baseline
}

/// The level the element-wise passes use: the detected one, unless a test
/// forced a lower one, or `NNT_SIMD=baseline|v3|v4` asks for a lower one.
#[inline(always)]
pub fn level() -> Level {
    let forced = FORCED.load(Ordering::Relaxed);
    if forced != UNKNOWN {
        return decode(forced);
    }
    let l = LEVEL.load(Ordering::Relaxed);
    if l != UNKNOWN {
        return decode(l);
    }
    choose()
}

/// The first call's half of [`level`]: detects, reads `NNT_SIMD`, and keeps
/// the answer (out of line, so that every element-wise call inlines only the
/// two loads above: the whole function was a call of its own each time).
#[cold]
#[inline(never)]
fn choose() -> Level {
    let best = detected();
    let asked = match std::env::var("NNT_SIMD").as_deref() {
        Ok("baseline") => Level::Baseline,
        Ok("v3") => Level::V3,
        _ => Level::V4,
    };
    // Never above what the CPU has.
    let chosen = decode(encode(best).min(encode(asked)));
    LEVEL.store(encode(chosen), Ordering::Relaxed);
    chosen
}

/// Forces a level (capped at the detected one) for the rest of the process, or
/// `None` to go back to the detected one; for tests that compare the levels.
pub fn force(l: Option<Level>) {
    let v = l.map_or(UNKNOWN, |l| encode(l).min(encode(detected())));
    FORCED.store(v, Ordering::Relaxed);
}

/// Marks the upper halves of the vector registers clean (`vzeroupper`) after
/// a call into faer's matrix kernels.
///
/// Those kernels are hand-written assembly that leaves the AVX/AVX-512 upper
/// state dirty on return; until something clears it, every SSE instruction of
/// the baseline-compiled code that follows (the loss, the bookkeeping, `libm`)
/// pays a penalty. Measured on the AMD EPYC (Zen 4) benchmark machine: 160
/// scalar `exp` after one 16×64×32 product took 4.4 µs instead of 1.1 µs, and
/// the loss of the 64-32-10 benchmark cost 70 % of its step. Clearing the
/// state costs about a nanosecond and changes no value.
#[inline]
pub fn clean_upper_state() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX (checked just above), which `vzeroupper`
        // needs; it only zeroes bits 128 and up of ymm0–15, which no live
        // value holds between two calls.
        #[allow(unsafe_code)]
        unsafe {
            zero_upper()
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn zero_upper() {
    std::arch::x86_64::_mm256_zeroupper();
}

/// Defines `fn NAME<T: Float>(ARGS) -> RET { BODY }` compiled for AVX-512, for
/// AVX2+FMA and for the baseline, choosing at each call by [`level`]. The body
/// is an `#[inline(always)]` function, so every copy holds the whole loop.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident <$T:ident : Float> ( $( $arg:ident : $ty:ty ),* $(,)? ) $( -> $ret:ty )? $body:block
    ) => {
        $(#[$meta])*
        #[allow(unsafe_code, clippy::too_many_arguments)]
        $vis fn $name<$T: $crate::train::float::Float>( $( $arg : $ty ),* ) $( -> $ret )? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body<$T: $crate::train::float::Float>( $( $arg : $ty ),* ) $( -> $ret )? $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn v4<$T: $crate::train::float::Float>( $( $arg : $ty ),* ) $( -> $ret )? {
                body( $( $arg ),* )
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn v3<$T: $crate::train::float::Float>( $( $arg : $ty ),* ) $( -> $ret )? {
                body( $( $arg ),* )
            }

            #[cfg(target_arch = "x86_64")]
            match $crate::train::simd::level() {
                // SAFETY: `level` returns V4 only when the CPU has AVX-512
                // F/BW/DQ/VL, AVX2 and FMA, and V3 only when it has AVX2 and
                // FMA: exactly the features each copy is compiled for.
                $crate::train::simd::Level::V4 => return unsafe { v4( $( $arg ),* ) },
                $crate::train::simd::Level::V3 => return unsafe { v3( $( $arg ),* ) },
                $crate::train::simd::Level::Baseline => {}
            }
            body( $( $arg ),* )
        }
    };
}

pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::*;

    multiversion! {
        fn scaled_sum<T: Float>(x: &[T], y: &mut [T], a: T) -> f64 {
            for (o, &v) in y.iter_mut().zip(x) {
                *o = *o * a + v;
            }
            crate::train::linalg::sum_squares_block(y)
        }
    }

    #[test]
    fn every_level_gives_the_same_bits() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut out = Vec::new();
        for l in [Level::Baseline, Level::V3, Level::V4] {
            force(Some(l));
            let mut y: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.11).cos()).collect();
            let s = scaled_sum(&x, &mut y, 1.0001);
            out.push((y, s.to_bits()));
        }
        force(None);
        assert_eq!(out[0], out[1]);
        assert_eq!(out[0], out[2]);
    }
}
