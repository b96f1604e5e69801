//! `exp`, `expf`, `erf`, `erff`, `expm1`, `expm1f`, `tanh`, `tanhf`, `log1p` and
//! `log1pf` for the element-wise loops: branch-free ports of the `libm` crate's
//! functions (FreeBSD's `e_exp.c`, `e_expf.c`, `s_erf.c`, `s_erff.c`,
//! `s_expm1.c`, `s_expm1f.c`, `s_log1p.c`, `s_log1pf.c`; musl's `tanh.c`,
//! `tanhf.c`) that give
//! **the same bits** as [`crate::math`] for every input, written so that a loop
//! over a slice compiles to vector code.
//!
//! `libm`'s functions choose a code path per argument (special values, the
//! reduction interval, the intervals of `erf`'s rational approximations), and a
//! branch per element keeps the compiler from vectorising the loop that calls
//! them: the exact GELU of a 256-unit layer spent ~20 % of a training step in
//! scalar `erf` and `exp`. Here every path is computed with the same operations
//! in the same order as `libm` and the path's value is selected (`if` on values,
//! which compiles to blends), so each lane costs the sum of the paths but a
//! vector of 2, 4 or 8 lanes runs at once. Only plain multiplications,
//! additions and divisions appear (never `mul_add`), so no build fuses them and
//! every machine and SIMD level gives the same bits (spec §16); the unit tests
//! compare with `libm` bit for bit over dense sweeps and the special values.
//!
//! `libm`'s accuracy is therefore theirs: `exp`, `expf`, `erf`, `expm1` and
//! `log1p` below 1 ulp (FreeBSD's error analysis), `tanh` within 2 ulp (musl's
//! note); `erff`, `expm1f`, `tanhf` and `log1pf` within 2 ulp of the f64
//! functions (tested).
//!
//! `tanh` computes one `expm1` (of 2|x|, or of −2|x| below log(5/3)/2) and one
//! division whose numerator each interval selects; `expm1` writes libm's
//! reductions for k = 0, ±1 and the rest as the one `x − k·ln2_hi` they are
//! operation for operation; `log1p` runs its two reductions into one tail.
//!
//! `erf` selects its interval's numerator and denominator first and divides
//! once: the quotient of the selected pair is the one `libm` computes.
//!
//! The scaling by 2ᵏ multiplies by 2^⌊k/2⌋ and then by 2^(k−⌊k/2⌋): the first
//! product is exact and the second rounds once, the same single rounding as
//! `scalbn`, also where the result is subnormal.

// The constants are FreeBSD's, digit for digit as `libm` writes them (each
// rounds to the same f64 as its shorter form).
#![allow(clippy::excessive_precision)]

/// A branch-free `if`: both arms are already computed.
#[inline(always)]
fn pick(c: bool, a: f64, b: f64) -> f64 {
    if c {
        a
    } else {
        b
    }
}

#[inline(always)]
fn pickf(c: bool, a: f32, b: f32) -> f32 {
    if c {
        a
    } else {
        b
    }
}

/// `t as i32` (truncation toward 0) for |t| ≤ 2048, written so that it
/// vectorises: Rust's saturating `as i32` compiles to one scalar conversion and
/// range check per lane. It is ⌊|t|⌋ with t's sign: rounding |t| to an integer
/// by adding and subtracting 1.5·2⁵² is exact here, a step down where it
/// rounded up makes it the floor, and the integer is the low bits of the sum.
/// Outside ±2048 (and for NaN) the result is some value in ±2048, which the
/// callers clamp or select away, as they did the saturated `as i32`.
#[inline(always)]
fn trunc_i32(t: f64) -> i32 {
    const M: f64 = 6_755_399_441_055_744.0;
    // NaN compares false: 2048.
    let a = t.abs();
    let a = if a < 2048.0 { a } else { 2048.0 };
    let r = (a + M) - M;
    let r = if r > a { r - 1.0 } else { r };
    let n = (r + M).to_bits() as u32 as i32;
    if t < 0.0 {
        -n
    } else {
        n
    }
}

/// `t as i32` for |t| ≤ 1024 in f32, as [`trunc_i32`] (1.5·2²³).
#[inline(always)]
fn truncf_i32(t: f32) -> i32 {
    const M: f32 = 12_582_912.0;
    let a = t.abs();
    let a = if a < 1024.0 { a } else { 1024.0 };
    let r = (a + M) - M;
    let r = if r > a { r - 1.0 } else { r };
    let n = ((r + M).to_bits() as i32) - 0x4b40_0000;
    if t < 0.0 {
        -n
    } else {
        n
    }
}

/// 2ⁿ for n in [−1022, 1023].
#[inline(always)]
fn pow2(n: i32) -> f64 {
    f64::from_bits(((n + 1023) as u64) << 52)
}

/// 2ⁿ for n in [−126, 127].
#[inline(always)]
fn pow2f(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

const LN2HI: f64 = 6.931_471_803_691_238_164_90e-1;
const LN2LO: f64 = 1.908_214_929_270_587_700_02e-10;
const INVLN2: f64 = std::f64::consts::LOG2_E; // 0x3ff71547_652b82fe, as libm
const P1: f64 = 1.666_666_666_666_660_190_37e-1;
const P2: f64 = -2.777_777_777_701_559_338_42e-3;
const P3: f64 = 6.613_756_321_437_934_361_17e-5;
const P4: f64 = -1.653_390_220_546_525_153_90e-6;
const P5: f64 = 4.138_136_797_057_238_460_39e-8;

/// eˣ, bit for bit `libm::exp`.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let hx = ((x.to_bits() >> 32) as u32) & 0x7fff_ffff;
    let neg = x.to_bits() >> 63 != 0;
    // k = round(x / ln 2), as libm computes it in each interval of |x|.
    let far = trunc_i32(INVLN2 * x + pick(neg, -0.5, 0.5));
    let near = if neg { -1 } else { 1 };
    let k = if hx >= 0x3ff0_a2b2 {
        far
    } else if hx > 0x3fd6_2e42 {
        near
    } else {
        0
    };
    // Lanes whose result is selected away below may hold any k.
    let k = k.clamp(-1100, 1100);
    let kf = k as f64;
    let hi = x - kf * LN2HI;
    let lo = kf * LN2LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * (P2 + rr * (P3 + rr * (P4 + rr * P5))));
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    let half = k >> 1;
    let y = y * pow2(half.clamp(-1022, 1023)) * pow2((k - half).clamp(-1022, 1023));
    let y = pick(hx <= 0x3e30_0000, 1.0 + x, y);
    let y = pick(x > 709.782_712_893_383_973_096, f64::INFINITY, y);
    let y = pick(x < -745.133_219_101_941_108_42, 0.0, y);
    pick(x.is_nan(), x, y)
}

/// 1/n! for the Taylor series of [`exp_for_f32`].
const INV_FACT: [f64; 10] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362_880.0,
];

/// eˣ in f64 to within 2⁻³⁵ relative (a thousandth of an f32 ulp), for a value
/// that ends in f32: about a twentieth of [`exp`]'s cost in a vectorised loop,
/// because it has no division (libm's `exp` has one, and a vector f64 division
/// costs about 2 cycles a value whatever the width).
///
/// x = k·ln 2 + r with k = round(x / ln 2) and |r| ≤ ln 2 / 2 (the reduction
/// of [`exp`], with rounding by adding and subtracting 1.5·2⁵²); eʳ by its
/// Taylor series to r⁹ (the rest is below 0.35¹⁰/10!·√2 < 2⁻³⁶ relative);
/// then 2ᵏ in two factors, as [`exp`] scales. Only plain multiplications and
/// additions, so every machine and SIMD level gives the same bits. Below
/// −745.13 the result is 0, above 709.78 it is ∞, NaN stays NaN.
#[inline(always)]
pub fn exp_for_f32(x: f64) -> f64 {
    let mut one = [x];
    exp_for_f32_lanes(&mut one);
    one[0]
}

/// [`exp_for_f32`] of every value of `x`, in place (`exp_for_f32` is this
/// with one lane): each operation taken over all N lanes before the next.
/// Compiled as vector code, each step is N/8 independent vector operations
/// side by side, where a loop over [`exp_for_f32`] runs one vector's ~45
/// dependent operations after another and the processor's window holds only
/// two or three of those chains (10 × 16 logits: 20 vector exponentials in
/// ~200 ns; side by side: the cross-entropy pass of 10 × 16 logits by class
/// 411 → 383 ns, by row 550 → 515 ns, `benches/elementwise.rs`).
#[inline(always)]
pub fn exp_for_f32_lanes<const N: usize>(x: &mut [f64; N]) {
    const M: f64 = 6_755_399_441_055_744.0;
    let mut xc = [0.0f64; N];
    let mut kf = [0.0f64; N];
    let mut k = [0i32; N];
    let mut r = [0.0f64; N];
    let mut p = [0.0f64; N];
    for i in 0..N {
        xc[i] = x[i].clamp(-745.2, 709.8);
    }
    // Every lane's k stays in [−1075, 1024] (NaN lanes get some k in it too);
    // lanes out of range are selected away below.
    for i in 0..N {
        let t = xc[i] * INVLN2 + M;
        kf[i] = t - M;
        k[i] = (t.to_bits() as u32 as i32).clamp(-1075, 1024);
    }
    for i in 0..N {
        r[i] = (xc[i] - kf[i] * LN2HI) - kf[i] * LN2LO;
        p[i] = INV_FACT[9];
    }
    for &c in INV_FACT[..9].iter().rev() {
        for i in 0..N {
            p[i] = p[i] * r[i] + c;
        }
    }
    for i in 0..N {
        let half = k[i] >> 1;
        let y = p[i] * pow2(half) * pow2(k[i] - half);
        let y = pick(x[i] > 709.782_712_893_383_973_096, f64::INFINITY, y);
        let y = pick(x[i] < -745.133_219_101_941_108_42, 0.0, y);
        x[i] = pick(x[i].is_nan(), x[i], y);
    }
}

const LN2_HI_F: f32 = 6.931_457_519_5e-1;
const LN2_LO_F: f32 = 1.428_606_765_3e-6;
const INV_LN2_F: f32 = 1.442_695_021_6e0;
const P1F: f32 = 1.666_662_544_0e-1;
const P2F: f32 = -2.766_733_290_6e-3;

/// eˣ in f32, bit for bit `libm::expf`.
#[inline(always)]
pub fn expf(x: f32) -> f32 {
    let hx = x.to_bits() & 0x7fff_ffff;
    let neg = x.to_bits() >> 31 != 0;
    let far = truncf_i32(INV_LN2_F * x + pickf(neg, -0.5, 0.5));
    let near = if neg { -1 } else { 1 };
    let k = if hx > 0x3f85_1592 {
        far
    } else if hx > 0x3eb1_7218 {
        near
    } else {
        0
    };
    let k = k.clamp(-200, 200);
    let kf = k as f32;
    let hi = x - kf * LN2_HI_F;
    let lo = kf * LN2_LO_F;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1F + rr * P2F);
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    let half = k >> 1;
    let y = y * pow2f(half.clamp(-126, 127)) * pow2f((k - half).clamp(-126, 127));
    let y = pickf(hx <= 0x3900_0000, 1.0 + x, y);
    let y = pickf(!neg && hx >= 0x42b1_7218, f32::INFINITY, y);
    let y = pickf(neg && hx >= 0x42cf_f1b5, 0.0, y);
    pickf(hx > 0x7f80_0000, x, y)
}

const ERX: f64 = 8.450_629_115_104_675_292_97e-1;
const EFX8: f64 = 1.027_033_336_764_100_690_53e0;
const PP0: f64 = 1.283_791_670_955_125_585_61e-1;
const PP1: f64 = -3.250_421_072_470_014_993_70e-1;
const PP2: f64 = -2.848_174_957_559_851_047_66e-2;
const PP3: f64 = -5.770_270_296_489_441_591_57e-3;
const PP4: f64 = -2.376_301_665_665_016_260_84e-5;
const QQ1: f64 = 3.979_172_239_591_553_528_19e-1;
const QQ2: f64 = 6.502_224_998_876_729_444_85e-2;
const QQ3: f64 = 5.081_306_281_875_765_627_76e-3;
const QQ4: f64 = 1.324_947_380_043_216_445_26e-4;
const QQ5: f64 = -3.960_228_278_775_368_123_20e-6;
const PA0: f64 = -2.362_118_560_752_659_440_77e-3;
const PA1: f64 = 4.148_561_186_837_483_316_66e-1;
const PA2: f64 = -3.722_078_760_357_013_238_47e-1;
const PA3: f64 = 3.183_466_199_011_617_536_74e-1;
const PA4: f64 = -1.108_946_942_823_966_774_76e-1;
const PA5: f64 = 3.547_830_432_561_823_593_71e-2;
const PA6: f64 = -2.166_375_594_868_790_843_00e-3;
const QA1: f64 = 1.064_208_804_008_442_282_86e-1;
const QA2: f64 = 5.403_979_177_021_710_489_37e-1;
const QA3: f64 = 7.182_865_441_419_626_628_68e-2;
const QA4: f64 = 1.261_712_198_087_616_421_12e-1;
const QA5: f64 = 1.363_708_391_202_905_073_62e-2;
const QA6: f64 = 1.198_449_984_679_910_741_70e-2;
const RA0: f64 = -9.864_944_034_847_148_227_05e-3;
const RA1: f64 = -6.938_585_727_071_817_643_72e-1;
const RA2: f64 = -1.055_862_622_532_329_098_14e1;
const RA3: f64 = -6.237_533_245_032_600_603_96e1;
const RA4: f64 = -1.623_966_694_625_734_703_55e2;
const RA5: f64 = -1.846_050_929_067_110_359_94e2;
const RA6: f64 = -8.128_743_550_630_659_342_46e1;
const RA7: f64 = -9.814_329_344_169_145_485_92e0;
const SA1: f64 = 1.965_127_166_743_925_712_92e1;
const SA2: f64 = 1.376_577_541_435_190_426_00e2;
const SA3: f64 = 4.345_658_774_752_292_288_21e2;
const SA4: f64 = 6.453_872_717_332_678_803_36e2;
const SA5: f64 = 4.290_081_400_275_678_333_86e2;
const SA6: f64 = 1.086_350_055_417_794_351_34e2;
const SA7: f64 = 6.570_249_770_319_281_701_35e0;
const SA8: f64 = -6.042_441_521_485_809_874_38e-2;
const RB0: f64 = -9.864_942_924_700_099_285_97e-3;
const RB1: f64 = -7.992_832_376_805_230_065_74e-1;
const RB2: f64 = -1.775_795_491_775_475_198_89e1;
const RB3: f64 = -1.606_363_848_558_219_160_62e2;
const RB4: f64 = -6.375_664_433_683_896_277_22e2;
const RB5: f64 = -1.025_095_131_611_077_249_54e3;
const RB6: f64 = -4.835_191_916_086_513_970_19e2;
const SB1: f64 = 3.033_806_074_348_245_829_24e1;
const SB2: f64 = 3.257_925_129_965_739_188_26e2;
const SB3: f64 = 1.536_729_586_084_436_959_94e3;
const SB4: f64 = 3.199_858_219_508_595_539_08e3;
const SB5: f64 = 2.553_050_406_433_164_425_83e3;
const SB6: f64 = 4.745_285_412_069_553_672_15e2;
const SB7: f64 = -2.244_095_244_658_581_833_62e1;

/// The error function, bit for bit `libm::erf`: [`erf_near`] or [`erf_far`],
/// both computed and one picked (so that a loop over a slice vectorises).
#[inline(always)]
pub fn erf(x: f64) -> f64 {
    pick(erf_is_far(x), erf_far(x), erf_near(x))
}

/// The error function in f32, bit for bit `libm::erff` (FreeBSD's `s_erff.c`:
/// `erf`'s intervals and rational approximations with f32 coefficients):
/// [`erff_near`] or [`erff_far`].
#[inline(always)]
pub fn erff(x: f32) -> f32 {
    pickf(erff_is_far(x), erff_far(x), erff_near(x))
}

/// [`erf`] for |x| < 1.25 ([`erf_is_far`] false): libm's two intervals of
/// rational approximations near 0 (|x| < 0.84375, then below 1.25), each lane
/// dividing its own pair. Most of a normalised batch lies here, and this costs
/// about a third of the whole of `erf`.
#[inline(always)]
pub fn erf_near(x: f64) -> f64 {
    let bits = x.to_bits();
    let ix = ((bits >> 32) as u32) & 0x7fff_ffff;
    let neg = bits >> 63 != 0;
    let ax = f64::from_bits(bits & !(1 << 63));
    let small = ix < 0x3feb_0000;
    let z = x * x;
    let pp = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
    let qq = 1.0 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
    let s = ax - 1.0;
    let pa = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
    let qa = 1.0 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
    let q = pick(small, pp, pa) / pick(small, qq, qa);
    let y = 1.0 - (1.0 - ERX - q);
    let y = pick(neg, -y, y);
    if ix < 0x3e30_0000 {
        0.125 * (8.0 * x + EFX8 * x)
    } else if small {
        x + x * q
    } else {
        y
    }
}

/// [`erf`] for |x| ≥ 1.25, ±∞ and NaN ([`erf_is_far`] true): libm's tail,
/// 1 − e^(−x²−0.5625+R/S)/|x| with R/S in 1/x² on two intervals, 1 from 6 on.
#[inline(always)]
pub fn erf_far(x: f64) -> f64 {
    let bits = x.to_bits();
    let ix = ((bits >> 32) as u32) & 0x7fff_ffff;
    let neg = bits >> 63 != 0;
    let ax = f64::from_bits(bits & !(1 << 63));
    let s = 1.0 / (ax * ax);
    let near = ix < 0x4006_db6d;
    let ra = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
    let sa = 1.0
        + s * (SA1
            + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
    let rb = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
    let sb = 1.0 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
    let q = pick(near, ra, rb) / pick(near, sa, sb);
    let zh = f64::from_bits(ax.to_bits() & 0xffff_ffff_0000_0000);
    let tail = 1.0 - exp(-zh * zh - 0.5625) * exp((zh - ax) * (zh + ax) + q) / ax;
    let y = if ix < 0x4018_0000 {
        tail
    } else {
        1.0 - f64::MIN_POSITIVE
    };
    let y = pick(neg, -y, y);
    let y = pick(ax == f64::INFINITY, pick(neg, -1.0, 1.0), y);
    pick(x.is_nan(), x, y)
}

/// Whether [`erf`] of `x` takes its tail intervals (|x| ≥ 1.25, ±∞, NaN):
/// [`erf_far`] then, else [`erf_near`].
#[inline(always)]
pub fn erf_is_far(x: f64) -> bool {
    ((x.to_bits() >> 32) as u32) & 0x7fff_ffff >= 0x3ff4_0000
}

/// [`erff`] for |x| < 1.25 ([`erff_is_far`] false); see [`erf_near`].
#[inline(always)]
pub fn erff_near(x: f32) -> f32 {
    use f32c::*;
    let bits = x.to_bits();
    let ix = bits & 0x7fff_ffff;
    let neg = bits >> 31 != 0;
    let ax = f32::from_bits(ix);
    let small = ix < 0x3f58_0000;
    let z = x * x;
    let pp = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
    let qq = 1.0 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
    let s = ax - 1.0;
    let pa = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
    let qa = 1.0 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
    let q = pickf(small, pp, pa) / pickf(small, qq, qa);
    let y = 1.0 - (1.0 - ERX - q);
    let y = pickf(neg, -y, y);
    if ix < 0x3180_0000 {
        0.125 * (8.0 * x + EFX8 * x)
    } else if small {
        x + x * q
    } else {
        y
    }
}

/// [`erff`] for |x| ≥ 1.25, ±∞ and NaN ([`erff_is_far`] true); see [`erf_far`].
#[inline(always)]
pub fn erff_far(x: f32) -> f32 {
    use f32c::*;
    let bits = x.to_bits();
    let ix = bits & 0x7fff_ffff;
    let neg = bits >> 31 != 0;
    let ax = f32::from_bits(ix);
    let s = 1.0 / (ax * ax);
    let near = ix < 0x4036_db6d;
    let ra = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
    let sa = 1.0
        + s * (SA1
            + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
    let rb = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
    let sb = 1.0 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
    let q = pickf(near, ra, rb) / pickf(near, sa, sb);
    let zh = f32::from_bits(ix & 0xffff_e000);
    let tail = 1.0 - expf(-zh * zh - 0.5625) * expf((zh - ax) * (zh + ax) + q) / ax;
    let y = if ix < 0x40c0_0000 {
        tail
    } else {
        1.0 - f32::from_bits(0x0380_0000)
    };
    let y = pickf(neg, -y, y);
    let y = pickf(ax == f32::INFINITY, pickf(neg, -1.0, 1.0), y);
    pickf(x.is_nan(), x, y)
}

/// Whether [`erff`] of `x` takes its tail intervals (|x| ≥ 1.25, ±∞, NaN).
#[inline(always)]
pub fn erff_is_far(x: f32) -> bool {
    x.to_bits() & 0x7fff_ffff >= 0x3fa0_0000
}

const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
const LG1: f64 = 6.666_666_666_666_735_130e-1;
const LG2: f64 = 3.999_999_999_940_941_908e-1;
const LG3: f64 = 2.857_142_874_366_239_149e-1;
const LG4: f64 = 2.222_219_843_214_978_396e-1;
const LG5: f64 = 1.818_357_216_161_805_012e-1;
const LG6: f64 = 1.531_383_769_920_937_332e-1;
const LG7: f64 = 1.479_819_860_511_658_591e-1;

/// ln x, bit for bit `libm::log` (FreeBSD's `e_log.c`), branch-free so that a
/// loop over a slice vectorises: subnormal inputs are scaled by 2⁵⁴ as libm
/// does, and zero, negative, infinite, NaN and exactly 1 are picked at the end.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let top = (bits >> 32) as u32;
    // Zero, subnormal or negative: libm's first branch.
    let low = top < 0x0010_0000 || top >> 31 != 0;
    let scaled = pick(low, x * f64::from_bits(0x4350_0000_0000_0000), x);
    let ui = scaled.to_bits();
    // Reduce into [√2/2, √2]: x = 2ᵏ·(1 + f).
    let hx = ((ui >> 32) as u32).wrapping_add(0x3ff0_0000 - 0x3fe6_a09e);
    let k = (hx >> 20) as i32 - 0x3ff - if low { 54 } else { 0 };
    let hx = (hx & 0x000f_ffff) + 0x3fe6_a09e;
    let r = f64::from_bits((u64::from(hx) << 32) | (ui & 0xffff_ffff));
    let f = r - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let rr = t2 + t1;
    let dk = f64::from(k);
    let y = s * (hfsq + rr) + dk * LN2_LO - hfsq + f + dk * LN2_HI;
    let y = pick(top == 0x3ff0_0000 && bits << 32 == 0, 0.0, y);
    let y = pick(!low && top >= 0x7ff0_0000, x, y);
    let y = pick(low && top >> 31 != 0, f64::NAN, y);
    pick(bits << 1 == 0, f64::NEG_INFINITY, y)
}

const EM_Q1: f64 = -3.333_333_333_333_313_164_28e-2;
const EM_Q2: f64 = 1.587_301_587_254_814_601_65e-3;
const EM_Q3: f64 = -7.936_507_578_674_879_424_73e-5;
const EM_Q4: f64 = 4.008_217_827_329_362_395_52e-6;
const EM_Q5: f64 = -2.010_992_181_836_243_713_26e-7;

/// eˣ − 1, bit for bit `libm::expm1` (FreeBSD's `s_expm1.c`).
///
/// The reduction `x − k·ln2` is written once for every k: for k = ±1 it is
/// libm's `x ∓ ln2_hi` (1·ln2_hi is exact) and for k = 0 it leaves x and a
/// zero correction, as libm's paths do.
#[inline(always)]
pub fn expm1(x: f64) -> f64 {
    let hx = ((x.to_bits() >> 32) as u32) & 0x7fff_ffff;
    let neg = x.to_bits() >> 63 != 0;
    let far = trunc_i32(INVLN2 * x + pick(neg, -0.5, 0.5));
    let near = if neg { -1 } else { 1 };
    let k = if hx >= 0x3ff0_a2b2 {
        far
    } else if hx > 0x3fd6_2e42 {
        near
    } else {
        0
    };
    // |x| < 56·ln2 for negative x on the path below, so k ≥ −56; k ≤ 1024.
    let k = k.clamp(-1100, 1100);
    let t = k as f64;
    let hi = x - t * LN2HI;
    let lo = t * LN2LO;
    let r = hi - lo;
    let c = (hi - r) - lo;
    let hfx = 0.5 * r;
    let hxs = r * hfx;
    let r1 = 1.0 + hxs * (EM_Q1 + hxs * (EM_Q2 + hxs * (EM_Q3 + hxs * (EM_Q4 + hxs * EM_Q5))));
    let t = 3.0 - r1 * hfx;
    let e = hxs * ((r1 - t) / (6.0 - r * t));
    let k0 = r - (r * e - hxs);
    let e = r * (e - c) - c;
    let e = e - hxs;
    let km1 = 0.5 * (r - e) - 0.5;
    let k1 = pick(r < -0.25, -2.0 * (e - (r + 0.5)), 1.0 + 2.0 * (r - e));
    let twopk = pow2(k.clamp(-1022, 1023));
    let y = r - e + 1.0;
    let wide = pick(k == 1024, y * 2.0 * pow2(1023), y * twopk) - 1.0;
    let uf = pow2((-k).clamp(-1022, 1023));
    let low = (r - e + (1.0 - uf)) * twopk;
    let high = (r - (e + uf) + 1.0) * twopk;
    let y = if !(0..=56).contains(&k) {
        wide
    } else if k < 20 {
        low
    } else {
        high
    };
    let y = pick(k == 1, k1, y);
    let y = pick(k == -1, km1, y);
    let y = pick(k == 0, k0, y);
    let y = pick(hx < 0x3c90_0000, x, y);
    // |x| ≥ 56·ln2: −1 below, overflow above the threshold, NaN itself.
    let huge = hx >= 0x4043_687a;
    let y = pick(huge && neg, -1.0, y);
    let y = pick(x > 709.782_712_893_383_973_096, x * pow2(1023), y);
    pick(x.is_nan(), x, y)
}

const LN2_HI_EM: f32 = 6.931_381_225_6e-1;
const LN2_LO_EM: f32 = 9.058_000_614_5e-6;
const EM_Q1F: f32 = -3.333_321_213_7e-2;
const EM_Q2F: f32 = 1.580_717_042_1e-3;

/// eˣ − 1 in f32, bit for bit `libm::expm1f` (FreeBSD's `s_expm1f.c`).
#[inline(always)]
pub fn expm1f(x: f32) -> f32 {
    let hx = x.to_bits() & 0x7fff_ffff;
    let neg = x.to_bits() >> 31 != 0;
    let far = truncf_i32(INV_LN2_F * x + pickf(neg, -0.5, 0.5));
    let near = if neg { -1 } else { 1 };
    let k = if hx >= 0x3f85_1592 {
        far
    } else if hx > 0x3eb1_7218 {
        near
    } else {
        0
    };
    let k = k.clamp(-200, 200);
    let t = k as f32;
    let hi = x - t * LN2_HI_EM;
    let lo = t * LN2_LO_EM;
    let r = hi - lo;
    let c = (hi - r) - lo;
    let hfx = 0.5 * r;
    let hxs = r * hfx;
    let r1 = 1.0 + hxs * (EM_Q1F + hxs * EM_Q2F);
    let t = 3.0 - r1 * hfx;
    let e = hxs * ((r1 - t) / (6.0 - r * t));
    let k0 = r - (r * e - hxs);
    let e = r * (e - c) - c;
    let e = e - hxs;
    let km1 = 0.5 * (r - e) - 0.5;
    let k1 = pickf(r < -0.25, -2.0 * (e - (r + 0.5)), 1.0 + 2.0 * (r - e));
    let twopk = pow2f(k.clamp(-126, 127));
    let y = r - e + 1.0;
    let wide = pickf(k == 128, y * 2.0 * pow2f(127), y * twopk) - 1.0;
    let uf = pow2f((-k).clamp(-126, 127));
    let low = (r - e + (1.0 - uf)) * twopk;
    let high = (r - (e + uf) + 1.0) * twopk;
    let y = if !(0..=56).contains(&k) {
        wide
    } else if k < 23 {
        low
    } else {
        high
    };
    let y = pickf(k == 1, k1, y);
    let y = pickf(k == -1, km1, y);
    let y = pickf(k == 0, k0, y);
    let y = pickf(hx < 0x3300_0000, x, y);
    let huge = hx >= 0x4195_b844;
    let y = pickf(huge && neg, -1.0, y);
    let y = pickf(!neg && hx > 0x42b1_7217, x * pow2f(127), y);
    pickf(hx > 0x7f80_0000, x, y)
}

/// tanh x, bit for bit `libm::tanh` (musl's `tanh.c`): one `expm1` of ±2|x| and
/// one division whose numerator each interval selects.
#[inline(always)]
pub fn tanh(x: f64) -> f64 {
    let bits = x.to_bits();
    let neg = bits >> 63 != 0;
    let ax = f64::from_bits(bits & !(1 << 63));
    let w = (ax.to_bits() >> 32) as u32;
    let (big, mid) = (w > 0x3fe1_93ea, w > 0x3fd0_58ae);
    // |x| > log(3)/2: 1 − 2/(t+2); > log(5/3)/2: t/(t+2), t = expm1(2|x|);
    // below: −t/(t+2), t = expm1(−2|x|). The argument's sign is set on the
    // bits: with `pick(mid, 2|x|, −2|x|)` the compiler computed `expm1` twice,
    // once for each sign, and selected after.
    let t = expm1(f64::from_bits(
        (2.0 * ax).to_bits() | (u64::from(!mid) << 63),
    ));
    let q = pick(big, 2.0, pick(mid, t, -t)) / (t + 2.0);
    // |x| > 20: libm's 1 − 0/|x|, which is 1 but for NaN (without a division).
    let y = if w > 0x4034_0000 {
        pick(ax.is_nan(), ax, 1.0)
    } else if big {
        1.0 - q
    } else if w >= 0x0010_0000 {
        q
    } else {
        ax
    };
    pick(neg, -y, y)
}

/// tanh x in f32, bit for bit `libm::tanhf` (musl's `tanhf.c`).
#[inline(always)]
pub fn tanhf(x: f32) -> f32 {
    let bits = x.to_bits();
    let neg = bits >> 31 != 0;
    let w = bits & 0x7fff_ffff;
    let ax = f32::from_bits(w);
    let (big, mid) = (w > 0x3f0c_9f54, w > 0x3e82_c578);
    let t = expm1f(f32::from_bits(
        (2.0 * ax).to_bits() | (u32::from(!mid) << 31),
    ));
    let q = pickf(big, 2.0, pickf(mid, t, -t)) / (t + 2.0);
    let y = if w > 0x4120_0000 {
        pickf(ax.is_nan(), ax, 1.0)
    } else if big {
        1.0 - q
    } else if w >= 0x0080_0000 {
        q
    } else {
        ax
    };
    pickf(neg, -y, y)
}

/// ln(1 + x), bit for bit `libm::log1p` (FreeBSD's `s_log1p.c`).
///
/// libm's two reductions (f = x, k = 0 near 0; otherwise 1 + x = 2ᵏ(1 + f)
/// with a correction c) feed one common tail, which with k = 0 and c = 0 is
/// the near-0 formula operation for operation.
#[inline(always)]
pub fn log1p(x: f64) -> f64 {
    let hx = (x.to_bits() >> 32) as u32;
    // sqrt(2)/2 − 1 ≤ x < sqrt(2) − 1 (hx ≤ 0xbfd2bec4 on the negative side).
    let near = hx < 0x3fda_827a || (hx >> 31 != 0 && hx <= 0xbfd2_bec4);
    let u = 1.0 + x;
    let ub = u.to_bits();
    let hu = ((ub >> 32) as u32).wrapping_add(0x3ff0_0000 - 0x3fe6_a09e);
    let k = (hu >> 20) as i32 - 0x3ff;
    let c = pick(k >= 2, 1.0 - (u - x), x - (u - 1.0)) / u;
    let c = pick(k < 54, c, 0.0);
    let hu = (hu & 0x000f_ffff) + 0x3fe6_a09e;
    let f = f64::from_bits(((hu as u64) << 32) | (ub & 0xffff_ffff)) - 1.0;
    let (f, c, k) = if near { (x, 0.0, 0) } else { (f, c, k) };
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let dk = k as f64;
    let y = s * (hfsq + r) + (dk * LN2LO + c) - hfsq + f + dk * LN2HI;
    // |x| < 2⁻⁵³ (±0, subnormals): x; +∞ and NaN: x; −1: −∞; below: NaN.
    let y = pick(hx << 1 < 0x3ca0_0000 << 1, x, y);
    let y = pick(hx >= 0x7ff0_0000 && hx >> 31 == 0, x, y);
    let y = pick(
        hx >= 0xbff0_0000,
        pick(x == -1.0, f64::NEG_INFINITY, f64::NAN),
        y,
    );
    pick(x.is_nan(), x, y)
}

const LG1F: f32 = 0.666_666_626_93;
const LG2F: f32 = 0.400_009_721_52;
const LG3F: f32 = 0.284_987_866_88;
const LG4F: f32 = 0.242_790_788_41;

/// ln(1 + x) in f32, bit for bit `libm::log1pf` (FreeBSD's `s_log1pf.c`).
#[inline(always)]
pub fn log1pf(x: f32) -> f32 {
    let ix = x.to_bits();
    let near = ix < 0x3ed4_13d0 || (ix >> 31 != 0 && ix <= 0xbe95_f619);
    let u = 1.0 + x;
    let ub = u.to_bits();
    let iu = ub.wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    let k = (iu >> 23) as i32 - 0x7f;
    let c = pickf(k >= 2, 1.0 - (u - x), x - (u - 1.0)) / u;
    let c = pickf(k < 25, c, 0.0);
    let f = f32::from_bits((iu & 0x007f_ffff) + 0x3f35_04f3) - 1.0;
    let (f, c, k) = if near { (x, 0.0, 0) } else { (f, c, k) };
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2F + w * LG4F);
    let t2 = z * (LG1F + w * LG3F);
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    let dk = k as f32;
    let y = s * (hfsq + r) + (dk * LN2_LO_EM + c) - hfsq + f + dk * LN2_HI_EM;
    let y = pickf(ix << 1 < 0x3380_0000 << 1, x, y);
    let y = pickf(ix >= 0x7f80_0000 && ix >> 31 == 0, x, y);
    let y = pickf(
        ix >= 0xbf80_0000,
        pickf(x == -1.0, f32::NEG_INFINITY, f32::NAN),
        y,
    );
    pickf(x.is_nan(), x, y)
}

/// `s_erff.c`'s coefficients.
mod f32c {
    pub const ERX: f32 = 8.4506291151e-01;
    pub const EFX8: f32 = 1.0270333290e+00;
    pub const PP0: f32 = 1.2837916613e-01;
    pub const PP1: f32 = -3.2504209876e-01;
    pub const PP2: f32 = -2.8481749818e-02;
    pub const PP3: f32 = -5.7702702470e-03;
    pub const PP4: f32 = -2.3763017452e-05;
    pub const QQ1: f32 = 3.9791721106e-01;
    pub const QQ2: f32 = 6.5022252500e-02;
    pub const QQ3: f32 = 5.0813062117e-03;
    pub const QQ4: f32 = 1.3249473704e-04;
    pub const QQ5: f32 = -3.9602282413e-06;
    pub const PA0: f32 = -2.3621185683e-03;
    pub const PA1: f32 = 4.1485610604e-01;
    pub const PA2: f32 = -3.7220788002e-01;
    pub const PA3: f32 = 3.1834661961e-01;
    pub const PA4: f32 = -1.1089469492e-01;
    pub const PA5: f32 = 3.5478305072e-02;
    pub const PA6: f32 = -2.1663755178e-03;
    pub const QA1: f32 = 1.0642088205e-01;
    pub const QA2: f32 = 5.4039794207e-01;
    pub const QA3: f32 = 7.1828655899e-02;
    pub const QA4: f32 = 1.2617121637e-01;
    pub const QA5: f32 = 1.3637083583e-02;
    pub const QA6: f32 = 1.1984500103e-02;
    pub const RA0: f32 = -9.8649440333e-03;
    pub const RA1: f32 = -6.9385856390e-01;
    pub const RA2: f32 = -1.0558626175e+01;
    pub const RA3: f32 = -6.2375331879e+01;
    pub const RA4: f32 = -1.6239666748e+02;
    pub const RA5: f32 = -1.8460508728e+02;
    pub const RA6: f32 = -8.1287437439e+01;
    pub const RA7: f32 = -9.8143291473e+00;
    pub const SA1: f32 = 1.9651271820e+01;
    pub const SA2: f32 = 1.3765776062e+02;
    pub const SA3: f32 = 4.3456588745e+02;
    pub const SA4: f32 = 6.4538726807e+02;
    pub const SA5: f32 = 4.2900814819e+02;
    pub const SA6: f32 = 1.0863500214e+02;
    pub const SA7: f32 = 6.5702495575e+00;
    pub const SA8: f32 = -6.0424413532e-02;
    pub const RB0: f32 = -9.8649431020e-03;
    pub const RB1: f32 = -7.9928326607e-01;
    pub const RB2: f32 = -1.7757955551e+01;
    pub const RB3: f32 = -1.6063638306e+02;
    pub const RB4: f32 = -6.3756646729e+02;
    pub const RB5: f32 = -1.0250950928e+03;
    pub const RB6: f32 = -4.8351919556e+02;
    pub const SB1: f32 = 3.0338060379e+01;
    pub const SB2: f32 = 3.2579251099e+02;
    pub const SB3: f32 = 1.5367296143e+03;
    pub const SB4: f32 = 3.1998581543e+03;
    pub const SB5: f32 = 2.5530502930e+03;
    pub const SB6: f32 = 4.7452853394e+02;
    pub const SB7: f32 = -2.2440952301e+01;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f32 from `lo` to `hi` (same sign) in steps of `step` bit patterns.
    fn f32_sweep(lo: f32, hi: f32, step: u32) -> impl Iterator<Item = f32> {
        let (a, b) = (
            lo.to_bits().min(hi.to_bits()),
            lo.to_bits().max(hi.to_bits()),
        );
        (a..=b).step_by(step as usize).map(f32::from_bits)
    }

    /// `n` f64 spread over [lo, hi] by bit pattern (so every binade is visited),
    /// plus neighbours of each.
    fn f64_sweep(lo: f64, hi: f64, n: u64) -> Vec<f64> {
        let (a, b) = (
            lo.to_bits().min(hi.to_bits()),
            lo.to_bits().max(hi.to_bits()),
        );
        let step = ((b - a) / n).max(1);
        let mut out = Vec::new();
        let mut i = a;
        while i <= b {
            for d in [0, 1, 2] {
                out.push(f64::from_bits(i + d));
            }
            i += step;
        }
        out
    }

    fn specials64() -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::from_bits(1),
            -f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            709.782_712_893_383_973_096,
            709.782_712_893_383_973_096 + 1e-13,
            -745.133_219_101_941_108_42,
            -745.133_219_101_941_108_42 - 1e-13,
            -708.396_418_532_264_106_22,
            0.84375,
            1.25,
            1.0 / 0.35,
            6.0,
            28.0,
        ];
        let thresholds = [
            0x3ff0_a2b2u32,
            0x3fd6_2e42,
            0x3e30_0000,
            0x4086_232b,
            0x3feb_0000,
            0x3ff4_0000,
            0x4006_db6d,
            0x4018_0000,
            0x7ff0_0000,
            // expm1, tanh and log1p's intervals.
            0x3c90_0000,
            0x3ca0_0000,
            0x4043_687a,
            0x3fe1_93ea,
            0x4034_0000,
            0x3fd0_58ae,
            0x0010_0000,
            0x3fda_827a,
            0x3fd2_bec4,
            0x3ff0_0000,
            0x4340_0000,
            0x4350_0000,
        ];
        for t in thresholds {
            for low in [0u64, 1, 0xffff_ffff] {
                let b = ((t as u64) << 32) | low;
                for d in [-1i64, 0, 1] {
                    let x = f64::from_bits((b as i64 + d) as u64);
                    v.push(x);
                    v.push(-x);
                }
            }
        }
        v
    }

    fn same64(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    fn same32(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn exp_is_libm_exp_bit_for_bit() {
        let mut xs = specials64();
        xs.extend(f64_sweep(1e-300, 800.0, 400_000));
        xs.extend(f64_sweep(-1e-300, -800.0, 400_000));
        // Dense where training evaluates it, and across the subnormal results.
        xs.extend((-200_000..200_000).map(|i| i as f64 * 1.37e-4));
        xs.extend((0..100_000).map(|i| -708.0 - i as f64 * 3.8e-4));
        for x in xs {
            let (got, want) = (exp(x), crate::math::exp(x));
            assert!(same64(got, want), "exp({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn exp_for_f32_is_within_2_pow_minus_35_of_exp() {
        let tol = 2f64.powi(-35);
        let mut xs = specials64();
        xs.extend(f64_sweep(1e-300, 800.0, 400_000));
        xs.extend(f64_sweep(-1e-300, -800.0, 400_000));
        xs.extend((-200_000..200_000).map(|i| i as f64 * 1.37e-4));
        xs.extend((0..100_000).map(|i| -708.0 - i as f64 * 3.8e-4));
        for x in xs {
            let (got, want) = (exp_for_f32(x), crate::math::exp(x));
            let ok = if want.is_nan() {
                got.is_nan()
            } else if want.is_infinite() || want == 0.0 {
                got == want
            } else {
                // Subnormal results round once more, to a multiple of 2⁻¹⁰⁷⁴.
                (got - want).abs() <= tol * want + f64::from_bits(1)
            };
            assert!(ok, "exp_for_f32({x:e}) = {got:e}, exp {want:e}");
        }
        // The largest logit of a row gives e⁰: exactly 1.
        assert_eq!(exp_for_f32(0.0), 1.0);
        assert_eq!(exp_for_f32(-0.0), 1.0);
    }

    /// The side-by-side form gives [`exp_for_f32`]'s bits on every value,
    /// through `Float::exps_at_precision` (whole groups and a remainder). (In
    /// vector code at every SIMD level: the cross-entropy tests, against a
    /// scalar loop.)
    #[test]
    fn exp_for_f32_lanes_has_the_bits_of_exp_for_f32() {
        use crate::train::float::Float;
        let mut xs = specials64();
        xs.extend(f64_sweep(1e-300, 800.0, 20_000));
        xs.extend(f64_sweep(-1e-300, -800.0, 20_000));
        xs.extend((-20_000..20_001).map(|i| i as f64 * 1.37e-3));
        assert!(!xs.len().is_multiple_of(32), "a remainder is tested too");
        let want: Vec<u64> = xs.iter().map(|&x| exp_for_f32(x).to_bits()).collect();
        let mut got = xs;
        <f32 as Float>::exps_at_precision(&mut got);
        let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
        assert!(got == want);
    }

    #[test]
    fn expf_is_libm_expf_bit_for_bit_on_every_f32() {
        // The f32 bit patterns of the domain that matters, each sign (~2·10⁹
        // would take minutes in a debug build: every 1021st, a prime stride that
        // visits every binade and every residue of the low bits; the module's
        // tests stay at a few seconds).
        for (lo, hi) in [(0.0f32, 120.0f32), (-0.0, -120.0)] {
            for x in f32_sweep(lo, hi, 1021) {
                let (got, want) = (expf(x), crate::math::expf(x));
                assert!(same32(got, want), "expf({x:e}) = {got:e}, libm {want:e}");
            }
        }
        for x in [
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            88.722_84,
            88.722_83,
            -103.972_08,
            -103.972_09,
            -87.336_55,
        ] {
            let (got, want) = (expf(x), crate::math::expf(x));
            assert!(same32(got, want), "expf({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn erf_is_libm_erf_bit_for_bit() {
        let mut xs = specials64();
        xs.extend(f64_sweep(1e-300, 40.0, 400_000));
        xs.extend(f64_sweep(-1e-300, -40.0, 400_000));
        xs.extend((-300_000..300_000).map(|i| i as f64 * 2.3e-5));
        for x in xs {
            let (got, want) = (erf(x), crate::math::erf(x));
            assert!(same64(got, want), "erf({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn erff_is_libm_erff_bit_for_bit() {
        for (lo, hi) in [(0.0f32, 12.0f32), (-0.0, -12.0)] {
            for x in f32_sweep(lo, hi, 1021) {
                let (got, want) = (erff(x), libm::erff(x));
                assert!(same32(got, want), "erff({x:e}) = {got:e}, libm {want:e}");
            }
        }
        for x in [
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
            f32::from_bits(1),
        ] {
            let (got, want) = (erff(x), libm::erff(x));
            assert!(same32(got, want), "erff({x:e}) = {got:e}, libm {want:e}");
        }
    }

    /// erf's two halves are erf on their own sides of 1.25, f64 and f32 (dense
    /// sweeps through every interval and across each threshold, specials).
    #[test]
    fn erf_near_and_far_are_erf_on_their_sides() {
        let mut xs = specials64();
        xs.extend(f64_sweep(1e-300, 40.0, 400_000));
        xs.extend(f64_sweep(-1e-300, -40.0, 400_000));
        xs.extend((-300_000..300_000).map(|i| i as f64 * 2.3e-5));
        let mut sides = [0, 0];
        for x in xs {
            let far = erf_is_far(x);
            sides[usize::from(far)] += 1;
            let got = if far { erf_far(x) } else { erf_near(x) };
            assert!(same64(got, erf(x)), "erf halves at {x:e}: {got:e}");
        }
        assert!(sides[0] > 100_000 && sides[1] > 100_000, "{sides:?}");
        let mut sides = [0, 0];
        for (lo, hi) in [(0.0f32, 12.0f32), (-0.0, -12.0)] {
            for x in f32_sweep(lo, hi, 1021).chain([f32::INFINITY, f32::NAN, f32::MAX]) {
                let far = erff_is_far(x);
                sides[usize::from(far)] += 1;
                let got = if far { erff_far(x) } else { erff_near(x) };
                assert!(same32(got, erff(x)), "erff halves at {x:e}: {got:e}");
            }
        }
        assert!(sides[0] > 10_000 && sides[1] > 10_000, "{sides:?}");
        assert!(!erff_is_far(1.2499999) && erff_is_far(1.25) && !erf_is_far(-1.2499999));
    }

    #[test]
    fn ln_is_libm_log_bit_for_bit() {
        let mut xs = specials64();
        xs.extend(f64_sweep(1e-320, 1e300, 800_000));
        xs.extend(f64_sweep(-1e-300, -1e300, 1_000));
        // Dense where the cross-entropy loss evaluates it (sums of 1 to C).
        xs.extend((0..400_000).map(|i| 1.0 + i as f64 * 2.7e-4));
        xs.extend((0..100_000).map(|i| 1.0 - i as f64 * 3.3e-7));
        xs.extend([
            1.0,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            2.0f64.powi(-1060),
        ]);
        for x in xs {
            let (got, want) = (ln(x), crate::math::ln(x));
            assert!(same64(got, want), "ln({x:e}) = {got:e}, libm {want:e}");
        }
    }

    /// f32 bit patterns around each of `thresholds` (high bits), both signs.
    fn specials32(thresholds: &[u32]) -> Vec<f32> {
        let mut v = vec![
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            -f32::from_bits(1),
            f32::EPSILON,
            -1.0,
            1.0,
        ];
        for &t in thresholds {
            for d in -2i64..=2 {
                let x = f32::from_bits((t as i64 + d).clamp(0, 0x7fff_ffff) as u32);
                v.push(x);
                v.push(-x);
            }
        }
        v
    }

    /// Sweeps of every `step`-th f64 over the ranges the functions split at,
    /// both signs, dense near 0 and at the overflow end.
    fn sweeps64(top: f64) -> Vec<f64> {
        let mut xs = specials64();
        xs.extend(f64_sweep(1e-300, top, 300_000));
        xs.extend(f64_sweep(-1e-300, -top, 300_000));
        xs.extend(f64_sweep(f64::from_bits(1), 1e-300, 2_000));
        xs.extend((-150_000..150_000).map(|i| i as f64 * 3.1e-4));
        xs
    }

    #[test]
    fn truncation_is_as_i32() {
        let mut ts: Vec<f64> = (-300_000..300_000).map(|i| i as f64 * 0.006_83).collect();
        for k in -2048..=2048 {
            let k = k as f64;
            ts.extend([k, k + 0.5, k - 0.5, k + 1e-9, k - 1e-9, -0.0]);
        }
        for t in ts.into_iter().filter(|t| t.abs() <= 2048.0) {
            assert_eq!(trunc_i32(t), t as i32, "{t}");
            if t.abs() <= 1024.0 {
                assert_eq!(truncf_i32(t as f32), t as f32 as i32, "{t}");
                let n = f32::from_bits((t as f32).to_bits() + 1);
                assert_eq!(truncf_i32(n), n as i32, "{n}");
            }
        }
        // Outside the range and NaN: some value within it (the callers clamp).
        for t in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e300] {
            assert!(trunc_i32(t).abs() <= 2048);
            assert!(truncf_i32(t as f32).abs() <= 1024);
        }
    }

    #[test]
    fn expm1_is_libm_expm1_bit_for_bit() {
        let mut xs = sweeps64(800.0);
        // k = 20, 56 and 1024, where the reconstruction changes form.
        for mid in [20.0 * LN2HI, 56.0 * LN2HI, 709.6] {
            xs.extend((-20_000..20_000).map(|i| mid + i as f64 * 1.9e-5));
        }
        xs.extend((-2_000..2_000).map(|i| -0.25 + i as f64 * 1e-7));
        for x in xs {
            let (got, want) = (expm1(x), libm::expm1(x));
            assert!(same64(got, want), "expm1({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn expm1f_is_libm_expm1f_bit_for_bit() {
        for (lo, hi) in [(0.0f32, 100.0f32), (-0.0, -100.0)] {
            for x in f32_sweep(lo, hi, 1021) {
                let (got, want) = (expm1f(x), libm::expm1f(x));
                assert!(same32(got, want), "expm1f({x:e}) = {got:e}, libm {want:e}");
            }
        }
        let thresholds = [
            0x4195_b844,
            0x42b1_7217,
            0x3eb1_7218,
            0x3f85_1592,
            0x3300_0000,
            0x0080_0000,
        ];
        for x in specials32(&thresholds) {
            let (got, want) = (expm1f(x), libm::expm1f(x));
            assert!(same32(got, want), "expm1f({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn tanh_is_libm_tanh_bit_for_bit() {
        for x in sweeps64(40.0) {
            let (got, want) = (tanh(x), crate::math::tanh(x));
            assert!(same64(got, want), "tanh({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn tanhf_is_libm_tanhf_bit_for_bit() {
        for (lo, hi) in [(0.0f32, 12.0f32), (-0.0, -12.0)] {
            for x in f32_sweep(lo, hi, 1021) {
                let (got, want) = (tanhf(x), crate::math::tanhf(x));
                assert!(same32(got, want), "tanhf({x:e}) = {got:e}, libm {want:e}");
            }
        }
        let thresholds = [0x3f0c_9f54, 0x4120_0000, 0x3e82_c578, 0x0080_0000];
        for x in specials32(&thresholds) {
            let (got, want) = (tanhf(x), crate::math::tanhf(x));
            assert!(same32(got, want), "tanhf({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn log1p_is_libm_log1p_bit_for_bit() {
        let mut xs = sweeps64(f64::MAX);
        // Just above −1 (k far below 0) and across −1.
        xs.extend(f64_sweep(-1.0, -0.5, 200_000));
        xs.extend((1..5_000).map(|i| -1.0 + i as f64 * 1e-19));
        xs.extend([-1.0 - f64::EPSILON, -2.0, f64::NEG_INFINITY]);
        for x in xs {
            let (got, want) = (log1p(x), crate::math::ln_1p(x));
            assert!(same64(got, want), "log1p({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn log1pf_is_libm_log1pf_bit_for_bit() {
        for x in f32_sweep(0.0, f32::MAX, 2039).chain(f32_sweep(-0.0, -1.0, 1021)) {
            let (got, want) = (log1pf(x), libm::log1pf(x));
            assert!(same32(got, want), "log1pf({x:e}) = {got:e}, libm {want:e}");
        }
        let thresholds = [
            0x3ed4_13d0,
            0x3e95_f619,
            0x3f80_0000,
            0x3380_0000,
            0x7f80_0000,
            0x0080_0000,
            0x4c00_0000,
        ];
        for x in specials32(&thresholds) {
            let (got, want) = (log1pf(x), libm::log1pf(x));
            assert!(same32(got, want), "log1pf({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn accurate_against_a_wider_reference() {
        // expf against exp in f64: within 1 ulp (|b|·ε bounds the ulp of b from above).
        let ulps = |a: f32, b: f64| (a as f64 - b).abs() / (b.abs() * f32::EPSILON as f64);
        for x in f32_sweep(-0.0, -87.0, 1 << 10).chain(f32_sweep(0.0, 88.0, 1 << 10)) {
            assert!(
                ulps(expf(x), crate::math::exp(x as f64)) <= 1.0,
                "expf({x})"
            );
        }
        // exp and erf: identities that do not use libm.
        assert_eq!(exp(0.0), 1.0);
        // FreeBSD's exp(1) is 1 ulp above e's f64.
        assert!((exp(1.0) - std::f64::consts::E).abs() <= std::f64::consts::E * f64::EPSILON);
        assert_eq!(erf(0.0), 0.0);
        assert!((erf(1.0) - 0.842_700_792_949_714_9).abs() <= f64::EPSILON);
        assert!((erf(0.5) - 0.520_499_877_813_046_5).abs() <= f64::EPSILON);
        assert!((erf(2.0) - 0.995_322_265_018_952_7).abs() <= f64::EPSILON);
        // erff against erf in f64: the worst error over a dense sweep, in ulps of
        // the result (FreeBSD's f32 port keeps its f64 coefficients' accuracy).
        let mut worst = 0.0f64;
        for x in f32_sweep(1e-30, 10.0, 1 << 8) {
            let (got, want) = (erff(x) as f64, erf(x as f64));
            let ulp = f64::from((want as f32).abs()) * f32::EPSILON as f64;
            worst = worst.max((got - want).abs() / ulp.max(f64::from(f32::from_bits(1))));
        }
        assert!(worst <= 2.0, "erff is {worst} ulp off");
        // The f32 versions against the f64 ones, in ulps of the f32 result.
        let mut worst = [0.0f64; 3];
        for x in f32_sweep(1e-30, 10.0, 1 << 10).chain(f32_sweep(-1e-30, -0.99, 1 << 10)) {
            let wide = [tanh(x as f64), expm1(x as f64), log1p(x as f64)];
            let got = [tanhf(x), expm1f(x), log1pf(x)];
            for i in 0..3 {
                let ulp = f64::from((wide[i] as f32).abs()) * f32::EPSILON as f64;
                let err = (got[i] as f64 - wide[i]).abs() / ulp.max(f64::from(f32::from_bits(1)));
                worst[i] = worst[i].max(err);
            }
        }
        assert!(
            worst.iter().all(|&w| w <= 2.0),
            "tanhf, expm1f, log1pf: {worst:?} ulp"
        );
        // And the f64 ones against identities.
        assert!(
            (log1p(1.0) - std::f64::consts::LN_2).abs() <= std::f64::consts::LN_2 * f64::EPSILON
        );
        assert!((expm1(1.0) - (std::f64::consts::E - 1.0)).abs() <= 2.0 * f64::EPSILON);
        for x in [0.1, 0.3, 0.7, 1.5, 4.0, 12.0] {
            let e = exp(2.0 * x);
            assert!(
                (tanh(x) - (e - 1.0) / (e + 1.0)).abs() <= 4.0 * f64::EPSILON,
                "tanh({x})"
            );
            assert!(
                (log1p(expm1(x)) - x).abs() <= 4.0 * x * f64::EPSILON,
                "log1p(expm1({x}))"
            );
        }
    }

    #[test]
    fn vector_loops_give_the_scalar_bits_at_every_level() {
        use crate::train::layers::activation::Activation;
        use crate::train::simd::{force, Level};
        let (w, n) = (37, 11);
        let x: Vec<f64> = (0..w * n)
            .map(|i| (i as f64 * 0.618_034).fract() * 16.0 - 8.0)
            .collect();
        let dy: Vec<f64> = x.iter().map(|v| 1.0 - v * 0.1).collect();
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let dy32: Vec<f32> = dy.iter().map(|&v| v as f32).collect();
        for level in [Level::Baseline, Level::V3, Level::V4] {
            force(Some(level));
            let (mut y, mut dx) = (vec![0.0; w * n], vec![0.0; w * n]);
            Activation::Gelu.forward(&x, &mut y, w, n);
            Activation::Gelu.backward(&x, &y, &dy, &mut dx, w, n);
            let (mut y32, mut dx32) = (vec![0.0f32; w * n], vec![0.0f32; w * n]);
            Activation::Gelu.forward(&x32, &mut y32, w, n);
            Activation::Gelu.backward(&x32, &y32, &dy32, &mut dx32, w, n);
            let c = std::f64::consts::FRAC_1_SQRT_2;
            for i in 0..w * n {
                let v = x[i];
                assert_eq!(
                    y[i].to_bits(),
                    (0.5 * v * (1.0 + libm::erf(v * c))).to_bits()
                );
                let pdf = 0.398_942_280_401_432_7 * libm::exp(-0.5 * v * v);
                let d = dy[i] * (0.5 * (1.0 + libm::erf(v * c)) + v * pdf);
                assert_eq!(dx[i].to_bits(), d.to_bits(), "{level:?} at {v}");
                let v = x32[i];
                let want = 0.5 * v * (1.0 + libm::erff(v * c as f32));
                assert_eq!(y32[i].to_bits(), want.to_bits(), "{level:?} at {v}");
                let pdf = 0.398_942_280_401_432_7_f64 as f32 * libm::expf(-0.5 * v * v);
                let d = dy32[i] * (0.5 * (1.0 + libm::erff(v * c as f32)) + v * pdf);
                assert_eq!(dx32[i].to_bits(), d.to_bits(), "{level:?} at {v}");
            }
            // tanh and sigmoid, forward, in both precisions.
            for (act, f64_of, f32_of) in [
                (
                    Activation::Tanh,
                    libm::tanh as fn(f64) -> f64,
                    libm::tanhf as fn(f32) -> f32,
                ),
                (Activation::Sigmoid, sigmoid64, sigmoid32),
            ] {
                act.forward(&x, &mut y, w, n);
                act.forward(&x32, &mut y32, w, n);
                for i in 0..w * n {
                    assert_eq!(y[i].to_bits(), f64_of(x[i]).to_bits(), "{act:?} {level:?}");
                    let want = f32_of(x32[i]);
                    assert_eq!(y32[i].to_bits(), want.to_bits(), "{act:?} {level:?}");
                }
            }
        }
        force(None);
    }

    /// The logistic function through `libm`, as the engine's `sigmoid` writes it.
    fn sigmoid64(v: f64) -> f64 {
        if v >= 0.0 {
            1.0 / (1.0 + libm::exp(-v))
        } else {
            libm::exp(v) / (1.0 + libm::exp(v))
        }
    }

    fn sigmoid32(v: f32) -> f32 {
        if v >= 0.0 {
            1.0 / (1.0 + libm::expf(-v))
        } else {
            libm::expf(v) / (1.0 + libm::expf(v))
        }
    }

    #[test]
    fn monotone_and_odd() {
        let xs: Vec<f64> = (-60_000..60_000).map(|i| i as f64 * 1e-4).collect();
        for w in xs.windows(2) {
            assert!(erf(w[0]) <= erf(w[1]), "erf at {}", w[0]);
            assert!(exp(w[0]) <= exp(w[1]), "exp at {}", w[0]);
            assert!(expf(w[0] as f32) <= expf(w[1] as f32), "expf at {}", w[0]);
            assert!(erff(w[0] as f32) <= erff(w[1] as f32), "erff at {}", w[0]);
            assert_eq!(erf(-w[0]).to_bits(), (-erf(w[0])).to_bits());
            assert!(tanh(w[0]) <= tanh(w[1]), "tanh at {}", w[0]);
            assert!(expm1(w[0]) <= expm1(w[1]), "expm1 at {}", w[0]);
            assert!(
                tanhf(w[0] as f32) <= tanhf(w[1] as f32),
                "tanhf at {}",
                w[0]
            );
            assert_eq!(tanh(-w[0]).to_bits(), (-tanh(w[0])).to_bits());
            if w[0] > -1.0 {
                assert!(log1p(w[0]) <= log1p(w[1]), "log1p at {}", w[0]);
                assert!(
                    log1pf(w[0] as f32) <= log1pf(w[1] as f32),
                    "log1pf at {}",
                    w[0]
                );
            }
        }
    }
}
