//! The floating-point type of a run: `f32` by default, `f64` under `precision = f64`.
//! Everything in the engine is generic over [`Float`]; `run` picks the type once.

/// Values whose exponentials [`Float::exps_at_precision`] computes side by
/// side (f32 runs): four AVX-512 vectors of f64, after groups of twice as many
/// (eight vectors, whose chains of dependent operations overlap where four
/// waited on them: the 64-32-10 step ~0.5 % faster). Each value's exponential
/// is the same function of it in any group.
const EXP_GROUP: usize = 32;

/// [`crate::train::vmath::exp_for_f32_lanes`] over the whole groups of N
/// values of `x`; the values left over (fewer than N) are returned.
#[inline(always)]
fn exps_in_groups<const N: usize>(x: &mut [f64]) -> &mut [f64] {
    let mut groups = x.chunks_exact_mut(N);
    for g in &mut groups {
        if let Ok(g) = <&mut [f64; N]>::try_from(g) {
            crate::train::vmath::exp_for_f32_lanes(g);
        }
    }
    groups.into_remainder()
}

/// Element type of parameters, activations, gradients and optimizer state.
pub trait Float:
    nalgebra::RealField + Copy + Default + std::fmt::Debug + Send + Sync + 'static
{
    /// The safetensors dtype this type is saved as.
    const DTYPE: safetensors::Dtype;
    /// Converts from f64 (rounding to nearest for f32).
    fn of(x: f64) -> Self;
    /// Widens to f64 (exact).
    fn to_f64(self) -> f64;
    /// The smallest positive normal value.
    const TINY: Self;
    /// eˣ, the bits of [`crate::math`]'s (never the system's libm), by
    /// [`crate::train::vmath`]'s branch-free port that vectorises in loops.
    fn exp_libm(self) -> Self;
    /// eˣ of an f64 as exact as a value of this type needs, in f64: for f32
    /// [`crate::train::vmath::exp_for_f32`] (within 2⁻³⁵, no division), for
    /// f64 libm's `exp` ([`crate::train::vmath::exp`]); both vectorise in loops.
    fn exp_at_precision(x: f64) -> f64;
    /// [`Float::exp_at_precision`] of every value of `x`, in place (the same
    /// bits), in groups of vectors side by side where that is faster.
    #[inline(always)]
    fn exps_at_precision(x: &mut [f64]) {
        for v in x.iter_mut() {
            *v = Self::exp_at_precision(*v);
        }
    }
    /// tanh x: `libm`'s `tanhf` for f32, `tanh` for f64, by
    /// [`crate::train::vmath`]'s branch-free ports that vectorise in loops.
    fn tanh_libm(self) -> Self;
    /// The error function: `libm`'s `erff` for f32, `erf` for f64, by
    /// [`crate::train::vmath`]'s branch-free ports that vectorise in loops.
    fn erf_libm(self) -> Self;
    /// [`Float::erf_libm`] where it takes its intervals near 0 (|x| < 1.25,
    /// [`Float::erf_is_far`] false): a third of the work.
    fn erf_near_libm(self) -> Self;
    /// [`Float::erf_libm`] where it takes its tail intervals (|x| ≥ 1.25, ±∞, NaN).
    fn erf_far_libm(self) -> Self;
    /// Whether [`Float::erf_libm`] takes its tail intervals at `self`.
    fn erf_is_far(self) -> bool;

    /// `dst ← a·b`, or `dst ← dst + a·b` when `accumulate`, on the calling thread
    /// (faer's kernels; [`crate::train::linalg`] decides about threads). The
    /// layers reach it through nalgebra views: [`crate::train::view`] converts
    /// them to these faer views of the same memory.
    fn matmul(
        dst: faer::MatMut<'_, Self>,
        accumulate: bool,
        a: faer::MatRef<'_, Self>,
        b: faer::MatRef<'_, Self>,
    );

    /// `dst ← start + a·b` for a small product with `dst` column-major, by
    /// [`crate::train::small_product`]'s kernels with faer's bits; `false`,
    /// having written nothing, where they do not take it (f64, the shape, the
    /// CPU), and the caller goes to [`Float::matmul`].
    fn small_product(
        _dst: &mut [Self],
        _start: crate::train::small_product::Start<'_, Self>,
        _a: &[Self],
        _b: &[Self],
        _shape: (usize, usize, usize),
        _strides: crate::train::small_product::Strides,
    ) -> bool {
        false
    }

    /// `self`, or 0 when it is subnormal. Optimizer state that decays geometrically
    /// (momentum of a unit whose gradient is 0) would otherwise sink into subnormal
    /// numbers, on which x86 arithmetic is ~100× slower; values this small change no
    /// update by a representable amount.
    #[inline(always)]
    fn flush(self) -> Self {
        if self.abs() < Self::TINY {
            Self::zero()
        } else {
            self
        }
    }
}

impl Float for f32 {
    const DTYPE: safetensors::Dtype = safetensors::Dtype::F32;
    const TINY: Self = f32::MIN_POSITIVE;
    #[inline(always)]
    fn exp_libm(self) -> Self {
        crate::train::vmath::expf(self)
    }
    #[inline(always)]
    fn exp_at_precision(x: f64) -> f64 {
        crate::train::vmath::exp_for_f32(x)
    }
    #[inline(always)]
    fn exps_at_precision(x: &mut [f64]) {
        let rest = exps_in_groups::<{ 2 * EXP_GROUP }>(x);
        let rest = exps_in_groups::<EXP_GROUP>(rest);
        for v in rest {
            *v = crate::train::vmath::exp_for_f32(*v);
        }
    }
    #[inline(always)]
    fn tanh_libm(self) -> Self {
        crate::train::vmath::tanhf(self)
    }
    #[inline(always)]
    fn erf_libm(self) -> Self {
        crate::train::vmath::erff(self)
    }
    #[inline(always)]
    fn erf_near_libm(self) -> Self {
        crate::train::vmath::erff_near(self)
    }
    #[inline(always)]
    fn erf_far_libm(self) -> Self {
        crate::train::vmath::erff_far(self)
    }
    #[inline(always)]
    fn erf_is_far(self) -> bool {
        crate::train::vmath::erff_is_far(self)
    }
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn matmul(
        dst: faer::MatMut<'_, Self>,
        accumulate: bool,
        a: faer::MatRef<'_, Self>,
        b: faer::MatRef<'_, Self>,
    ) {
        faer_matmul(dst, accumulate, a, b, 1.0);
    }
    fn small_product(
        dst: &mut [Self],
        start: crate::train::small_product::Start<'_, Self>,
        a: &[Self],
        b: &[Self],
        shape: (usize, usize, usize),
        strides: crate::train::small_product::Strides,
    ) -> bool {
        crate::train::small_product::product(dst, start, a, b, shape, strides)
    }
}

impl Float for f64 {
    const DTYPE: safetensors::Dtype = safetensors::Dtype::F64;
    const TINY: Self = f64::MIN_POSITIVE;
    #[inline(always)]
    fn exp_libm(self) -> Self {
        crate::train::vmath::exp(self)
    }
    #[inline(always)]
    fn exp_at_precision(x: f64) -> f64 {
        crate::train::vmath::exp(x)
    }
    #[inline(always)]
    fn tanh_libm(self) -> Self {
        crate::train::vmath::tanh(self)
    }
    #[inline(always)]
    fn erf_libm(self) -> Self {
        crate::train::vmath::erf(self)
    }
    #[inline(always)]
    fn erf_near_libm(self) -> Self {
        crate::train::vmath::erf_near(self)
    }
    #[inline(always)]
    fn erf_far_libm(self) -> Self {
        crate::train::vmath::erf_far(self)
    }
    #[inline(always)]
    fn erf_is_far(self) -> bool {
        crate::train::vmath::erf_is_far(self)
    }
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    fn matmul(
        dst: faer::MatMut<'_, Self>,
        accumulate: bool,
        a: faer::MatRef<'_, Self>,
        b: faer::MatRef<'_, Self>,
    ) {
        faer_matmul(dst, accumulate, a, b, 1.0);
    }
}

fn faer_matmul<T: faer::traits::ComplexField>(
    dst: faer::MatMut<'_, T>,
    accumulate: bool,
    a: faer::MatRef<'_, T>,
    b: faer::MatRef<'_, T>,
    one: T,
) {
    let accum = if accumulate {
        faer::Accum::Add
    } else {
        faer::Accum::Replace
    };
    faer::linalg::matmul::matmul(dst, accum, a, b, one, faer::Par::Seq);
    crate::train::simd::clean_upper_state();
}
