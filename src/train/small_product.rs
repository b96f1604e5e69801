//! Small f32 products on the calling thread without faer's fixed cost: the
//! backward products of small dense layers (dW and dx at batch 16 of a 64-32-10
//! network), where faer's set-up per call costs more than the arithmetic.
//!
//! `C ← A·B` or `C ← C + A·B`, with `A` (`m × k`) and `C` (`m × n`)
//! column-major and `B` (`k × n`) column- or row-major, for `m` a multiple of
//! 16 (whole AVX-512 vectors of f32), `2 ≤ n`, `2 ≤ k ≤` [`MAX_DEPTH`] and
//! `m·n·k ≤` [`SMALL_WORK`], when the run's [`simd::level`] is V4 (AVX-512).
//! Anything else is declined ([`product`] returns `false`) and goes to faer;
//! so do AVX2 machines, where the same blocks in 8 lanes were slower than
//! faer.
//!
//! **The same bits as faer.** faer (0.22, its `nano-gemm` and `private-gemm`
//! kernels) computes each output as one chain of fused multiply-adds over `k`
//! in order, starting from 0, and adds the chain to `C` once when accumulating;
//! the kernels here do the same, with the vector lanes over the rows of `C`.
//! Where faer's order differs — `k = 1` when accumulating (a rank-one update),
//! an output of one row or one column (matrix-vector kernels), `k > 512` (its
//! depth blocks) — the shapes are declined. The test
//! `linalg::tests::small_products_have_faer_bits` compares every shape class at
//! every level against faer.
//!
//! Measured in isolation on the 2-core Intel guest (AVX-512), against faer on
//! the same operands: 32×10×16 0.15 against 0.44 µs, 32×16×10 0.17 against
//! 0.43 µs, 64×32×16 0.76 against 1.02 µs; from 128×10×64 (82 K multiply-adds)
//! faer is as fast or faster, hence [`SMALL_WORK`]. In the digits step, timed
//! in place: 0.35 against 0.50, 0.35 against 0.47 and 1.12 against 1.16 µs
//! (BENCHMARKS.md, round 11).

use super::simd::{self, Level};

/// The most multiply-adds (`m·n·k`) of a product taken here.
pub const SMALL_WORK: usize = 1 << 15;

/// The deepest product (`k`) taken here (faer's order is checked up to it).
pub const MAX_DEPTH: usize = 64;

/// Rows of `C` a vector holds (AVX-512, f32). Only products whose rows are
/// whole vectors are taken: one value at a time, the rows left over cost more
/// than faer's `nano-gemm` (the 10-5-2 network ran at 0.6× its speed).
pub const LANES: usize = 16;

/// Where a product's operands lie: `A` column-major with column stride `lda`,
/// `B` column-major (`b_rows` false: column stride `ldb`) or row-major (`b_rows`
/// true: row stride `ldb`), `C` column-major with column stride `ldc`.
#[derive(Debug, Clone, Copy)]
pub struct Strides {
    pub lda: usize,
    pub ldb: usize,
    pub b_rows: bool,
    pub ldc: usize,
}

/// `c ← a·b`, or `c ← c + a·b` when `accumulate`, for an `m × k` by `k × n`
/// product laid out as `s` says; `false` (nothing written) when the shape, the
/// slices or the CPU are not for this module.
pub fn product(
    c: &mut [f32],
    accumulate: bool,
    a: &[f32],
    b: &[f32],
    (m, n, k): (usize, usize, usize),
    s: Strides,
) -> bool {
    if m < LANES
        || m % LANES != 0
        || n < 2
        || !(2..=MAX_DEPTH).contains(&k)
        || m * n * k > SMALL_WORK
    {
        return false;
    }
    let (b_rs, b_cs) = if s.b_rows { (s.ldb, 1) } else { (1, s.ldb) };
    let fits = |len: usize, rows: usize, cols: usize, rs: usize, cs: usize| {
        len > (rows - 1) * rs + (cols - 1) * cs
    };
    if s.lda < m
        || s.ldc < m
        || s.ldb < if s.b_rows { n } else { k }
        || !fits(a.len(), m, k, 1, s.lda)
        || !fits(b.len(), k, n, b_rs, b_cs)
        || !fits(c.len(), m, n, 1, s.ldc)
    {
        return false;
    }
    let p = Product {
        m,
        n,
        k,
        a,
        b,
        s,
        accumulate,
    };
    run(c, &p)
}

/// A product's operands, checked to hold its shape.
struct Product<'a> {
    m: usize,
    n: usize,
    k: usize,
    a: &'a [f32],
    b: &'a [f32],
    s: Strides,
    accumulate: bool,
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn run(c: &mut [f32], p: &Product<'_>) -> bool {
    match simd::level() {
        // SAFETY: `level` returns V4 only when the CPU has AVX-512 F/BW/DQ/VL,
        // AVX2 and FMA: the features `v4` is compiled for.
        Level::V4 => unsafe { v4::product(c, p) },
        // With 8 lanes the 16 accumulators and their operands do not fit the
        // 16 registers: 64×32×16 took 1.6 µs against faer's 0.9.
        Level::V3 | Level::Baseline => return false,
    }
    true
}

#[cfg(not(target_arch = "x86_64"))]
fn run(_: &mut [f32], _: &Product<'_>) -> bool {
    false
}

/// The kernels for one vector type: `$V` of `$L` lanes of f32, compiled with
/// `$feat`. Every function carries the target features, so the intrinsics are
/// safe to call and inline into one another; only the entry is `unsafe` to
/// call (from code compiled without them).
macro_rules! kernels {
    ($module:ident, $feat:literal, $V:ty, $L:literal, $set1:ident, $zero:ident, $fma:ident, $add:ident) => {
        #[cfg(target_arch = "x86_64")]
        mod $module {
            use super::Product;
            use std::arch::x86_64::*;

            /// Columns of `C` a block computes at once.
            const NR: usize = 8;

            #[inline]
            #[target_feature(enable = $feat)]
            fn load(s: &[f32]) -> $V {
                let mut lanes = [0f32; $L];
                lanes.copy_from_slice(&s[..$L]);
                bytemuck::cast(lanes)
            }

            #[inline]
            #[target_feature(enable = $feat)]
            fn store(s: &mut [f32], v: $V) {
                let lanes: [f32; $L] = bytemuck::cast(v);
                s[..$L].copy_from_slice(&lanes);
            }

            /// Rows `i0..i0 + MV·L` by columns `j0..j0 + NC` of `C`: `MV·NC`
            /// accumulators, one fused multiply-add chain each over `k`.
            #[inline]
            #[target_feature(enable = $feat)]
            fn block<const MV: usize, const NC: usize>(
                c: &mut [f32],
                p: &Product<'_>,
                i0: usize,
                j0: usize,
            ) {
                let mut acc = [[$zero(); MV]; NC];
                for q in 0..p.k {
                    let col = &p.a[q * p.s.lda + i0..][..MV * $L];
                    let a: [$V; MV] = std::array::from_fn(|v| load(&col[v * $L..]));
                    for (j, acc) in acc.iter_mut().enumerate() {
                        let b = if p.s.b_rows {
                            p.b[q * p.s.ldb + j0 + j]
                        } else {
                            p.b[(j0 + j) * p.s.ldb + q]
                        };
                        let b = $set1(b);
                        for (acc, &a) in acc.iter_mut().zip(&a) {
                            *acc = $fma(a, b, *acc);
                        }
                    }
                }
                for (j, acc) in acc.iter().enumerate() {
                    let col = &mut c[(j0 + j) * p.s.ldc + i0..][..MV * $L];
                    for (v, &sum) in acc.iter().enumerate() {
                        let out = if p.accumulate {
                            $add(load(&col[v * $L..]), sum)
                        } else {
                            sum
                        };
                        store(&mut col[v * $L..], out);
                    }
                }
            }

            /// The rows `i0..i0 + MV·L` of `C`, all columns.
            #[inline]
            #[target_feature(enable = $feat)]
            fn rows<const MV: usize>(c: &mut [f32], p: &Product<'_>, i0: usize) {
                let mut j0 = 0;
                while j0 + NR <= p.n {
                    block::<MV, NR>(c, p, i0, j0);
                    j0 += NR;
                }
                if j0 + 4 <= p.n {
                    block::<MV, 4>(c, p, i0, j0);
                    j0 += 4;
                }
                while j0 < p.n {
                    block::<MV, 1>(c, p, i0, j0);
                    j0 += 1;
                }
            }

            /// The whole product: rows two vectors at a time, then one (the
            /// rows are whole vectors: [`super::product`] takes no others).
            #[target_feature(enable = $feat)]
            pub(super) fn product(c: &mut [f32], p: &Product<'_>) {
                let mut i0 = 0;
                while i0 + 2 * $L <= p.m {
                    rows::<2>(c, p, i0);
                    i0 += 2 * $L;
                }
                if i0 + $L <= p.m {
                    rows::<1>(c, p, i0);
                }
            }
        }
    };
}

kernels!(
    v4,
    "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma",
    __m512,
    16,
    _mm512_set1_ps,
    _mm512_setzero_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapes outside the module's range, and slices too short for the shape,
    /// are declined without a write (and without a panic): the caller goes to
    /// faer, whose order differs there.
    #[test]
    fn declines_what_it_does_not_take() {
        let s = |m: usize, k: usize, b_rows: bool| Strides {
            lda: m,
            ldb: if b_rows { 4 } else { k },
            b_rows,
            ldc: m,
        };
        let (a, b) = (vec![1.0f32; 4096], vec![1.0f32; 4096]);
        for (m, n, k) in [
            (0, 4, 4),
            (10, 4, 4),
            (17, 4, 4),
            (16, 1, 4),
            (16, 4, 1),
            (16, 4, 65),
            (64, 64, 16),
        ] {
            let mut c = vec![5.0f32; 64 * 64];
            assert!(!product(&mut c, true, &a, &b, (m, n, k), s(m, k, false)));
            assert!(c.iter().all(|&v| v == 5.0), "{m}×{n}×{k} wrote");
        }
        // Too short: A, B (row-major, row stride 4) and C for 16 × 4 × 8.
        let mut c = vec![5.0f32; 64];
        assert!(!product(
            &mut c,
            false,
            &a[..16 * 8 - 1],
            &b,
            (16, 4, 8),
            s(16, 8, true)
        ));
        assert!(!product(
            &mut c,
            false,
            &a,
            &b[..4 * 8 - 1],
            (16, 4, 8),
            s(16, 8, true)
        ));
        assert!(!product(
            &mut c[..63],
            false,
            &a,
            &b,
            (16, 4, 8),
            s(16, 8, true)
        ));
        assert!(c.iter().all(|&v| v == 5.0));
        // A stride shorter than the rows is declined too.
        let bad = Strides {
            lda: 8,
            ..s(16, 8, true)
        };
        assert!(!product(&mut c, false, &a, &b, (16, 4, 8), bad));
        // A shape it takes where the CPU has AVX-512 (other tests may hold the
        // level lower for a moment): all ones, so every value is the depth.
        if product(&mut c, false, &a, &b, (16, 4, 8), s(16, 8, true)) {
            assert!(c.iter().all(|&v| v == 8.0));
        } else {
            assert!(c.iter().all(|&v| v == 5.0));
            assert!(simd::detected() != Level::V4 || simd::level() != Level::V4);
        }
    }
}
