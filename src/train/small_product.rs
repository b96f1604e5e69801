//! Small f32 products on the calling thread without faer's fixed cost: the
//! products of small dense layers (the forward product, dW and dx at batch 16
//! of a 64-32-10 network), where faer's set-up per call costs more than the
//! arithmetic.
//!
//! `C ← A·B` or `C ← C + A·B`, with `C` (`m × n`) column-major, `A`
//! (`m × k`) column-major or (up to [`MAX_TRANSPOSED`] values) row-major, and
//! `B` (`k × n`) column- or row-major, for `m` a multiple of
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
//! (BENCHMARKS.md, round 11). Round 27 sent the output layer's forward product
//! here too (its examples transposed first, its bias folded in), folded the
//! first layer's bias in, and took the bounds checks out of the inner loop:
//! the digits step 3.03–3.10 → 2.91–2.98 µs with the first two, → 2.83 µs
//! with the third (`cargo bench --bench step`, interleaved runs; BENCHMARKS.md,
//! round 27).

use super::simd::{self, Level};

/// The most multiply-adds (`m·n·k`) of a product taken here.
pub const SMALL_WORK: usize = 1 << 15;

/// The deepest product (`k`) taken here (faer's order is checked up to it).
pub const MAX_DEPTH: usize = 64;

/// The most values of a row-major `A` taken here: it is first transposed into
/// a column-major copy in a buffer each thread keeps (16 KB), 16 × 16 values
/// at a time in registers. The output layer's forward product of the 64-32-10 network
/// (A = the hidden values by example, 16 × 32) then costs the copy and the
/// kernel instead of faer's set-up.
pub const MAX_TRANSPOSED: usize = 1 << 12;

/// Rows of `C` a vector holds (AVX-512, f32). Only products whose rows are
/// whole vectors are taken: one value at a time, the rows left over cost more
/// than faer's `nano-gemm` (the 10-5-2 network ran at 0.6× its speed).
pub const LANES: usize = 16;

/// Where a product's operands lie: `A` column-major with column stride `lda`
/// (`a_rows` false) or row-major with row stride `lda` (`a_rows` true), `B`
/// column-major (`b_rows` false: column stride `ldb`) or row-major (`b_rows`
/// true: row stride `ldb`), `C` column-major with column stride `ldc`.
#[derive(Debug, Clone, Copy)]
pub struct Strides {
    pub lda: usize,
    pub a_rows: bool,
    pub ldb: usize,
    pub b_rows: bool,
    pub ldc: usize,
}

/// What a product's outputs start from before `A·B` is added to them. Every
/// output is the chain of multiply-adds from 0, added to its start once (as
/// faer adds it to `C`): a bias given here has the bits of a bias broadcast
/// into `C` first and accumulated onto, without writing `C` twice.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a, T> {
    /// `C ← A·B`.
    Zero,
    /// `C ← C + A·B`.
    Accumulate,
    /// `C[i, j] ← b[i] + (A·B)[i, j]`: a value per row of `C` (`m` of them).
    RowBias(&'a [T]),
    /// `C[i, j] ← b[j] + (A·B)[i, j]`: a value per column of `C` (`n`).
    ColumnBias(&'a [T]),
}

impl<T> Start<'_, T> {
    /// `Accumulate` when `accumulate`, else `Zero`.
    pub fn accumulating(accumulate: bool) -> Self {
        if accumulate {
            Start::Accumulate
        } else {
            Start::Zero
        }
    }
}

/// `c ← start + a·b` ([`Start`]) for an `m × k` by `k × n` product laid out as
/// `s` says; `false` (nothing written) when the shape, the slices or the CPU
/// are not for this module.
pub fn product(
    c: &mut [f32],
    start: Start<'_, f32>,
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
        || (s.a_rows && m * k > MAX_TRANSPOSED)
    {
        return false;
    }
    let (a_rs, a_cs) = if s.a_rows { (s.lda, 1) } else { (1, s.lda) };
    let (b_rs, b_cs) = if s.b_rows { (s.ldb, 1) } else { (1, s.ldb) };
    let fits = |len: usize, rows: usize, cols: usize, rs: usize, cs: usize| {
        len > (rows - 1) * rs + (cols - 1) * cs
    };
    if s.lda < if s.a_rows { k } else { m }
        || s.ldc < m
        || s.ldb < if s.b_rows { n } else { k }
        || !fits(a.len(), m, k, a_rs, a_cs)
        || !fits(b.len(), k, n, b_rs, b_cs)
        || !fits(c.len(), m, n, 1, s.ldc)
    {
        return false;
    }
    let holds_start = match start {
        Start::Zero | Start::Accumulate => true,
        Start::RowBias(bias) => bias.len() >= m,
        Start::ColumnBias(bias) => bias.len() >= n,
    };
    if !holds_start {
        return false;
    }
    let p = Product {
        m,
        n,
        k,
        a,
        b,
        s,
        start,
    };
    run(c, &p)
}

/// A product's operands, checked to hold its shape where it is made
/// ([`product`], and the kernels' column-major copy of a row-major `A`): the
/// kernels read A and B through pointers on that promise.
#[derive(Clone, Copy)]
struct Product<'a> {
    m: usize,
    n: usize,
    k: usize,
    a: &'a [f32],
    b: &'a [f32],
    s: Strides,
    start: Start<'a, f32>,
}

#[cfg(target_arch = "x86_64")]
std::thread_local! {
    /// Each thread's column-major copy of a row-major `A`: kept (not on the
    /// stack) because zeroing a fresh buffer each product cost as much as the
    /// copy itself.
    static COPY: std::cell::RefCell<[f32; MAX_TRANSPOSED]> =
        const { std::cell::RefCell::new([0.0; MAX_TRANSPOSED]) };
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn run(c: &mut [f32], p: &Product<'_>) -> bool {
    match simd::level() {
        // SAFETY: `level` returns V4 only when the CPU has AVX-512 F/BW/DQ/VL,
        // AVX2 and FMA: the features `v4` is compiled for. The buffer is
        // borrowed only for a row-major A (borrowing it for every product cost
        // ~1 % of the 64-32-10 step).
        Level::V4 if !p.s.a_rows => unsafe { v4::product(c, p, &mut []) },
        Level::V4 => COPY.with(|copy| match copy.try_borrow_mut() {
            Ok(mut copy) => unsafe { v4::product(c, p, &mut copy[..]) },
            Err(_) => false,
        }),
        // With 8 lanes the 16 accumulators and their operands do not fit the
        // 16 registers: 64×32×16 took 1.6 µs against faer's 0.9.
        Level::V3 | Level::Baseline => false,
    }
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
    ($module:ident, $feat:literal, $V:ty, $L:literal, $set1:ident, $zero:ident, $fma:ident, $add:ident, $loadu:ident, $transpose:path) => {
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
            /// accumulators, one fused multiply-add chain each over `k`; B
            /// row-major when `B_ROWS`. The operands are read through
            /// pointers: with a bounds check on each vector of A and each
            /// value of B, the 64-32-10 step's products ran at ~80 % of the
            /// multiply-add units' peak (a check, its index and a spilled
            /// register a broadcast), ~90 % without.
            #[inline]
            #[target_feature(enable = $feat)]
            #[allow(unsafe_code)]
            fn block<const MV: usize, const NC: usize, const B_ROWS: bool>(
                c: &mut [f32],
                p: &Product<'_>,
                i0: usize,
                j0: usize,
            ) {
                let mut acc = [[$zero(); MV]; NC];
                // B's value (q, j) lies at q·rs + j·cs.
                let (rs, cs) = if B_ROWS { (p.s.ldb, 1) } else { (1, p.s.ldb) };
                let (a, b) = (p.a.as_ptr(), p.b.as_ptr());
                for q in 0..p.k {
                    // SAFETY (both reads): `Product` holds its shape (checked
                    // where it is made): A's values (i, q) for i < m, q < k
                    // lie at i + q·lda < a.len(), B's (q, j) for j < n at
                    // q·rs + j·cs < b.len(); here i0 + MV·L ≤ m ([`columns`])
                    // and j0 + NC ≤ n ([`rows`]).
                    let a: [$V; MV] = std::array::from_fn(|v| unsafe {
                        $loadu(a.add(q * p.s.lda + i0 + v * $L))
                    });
                    for (j, acc) in acc.iter_mut().enumerate() {
                        let b = $set1(unsafe { *b.add(q * rs + (j0 + j) * cs) });
                        for (acc, &a) in acc.iter_mut().zip(&a) {
                            *acc = $fma(a, b, *acc);
                        }
                    }
                }
                for (j, acc) in acc.iter().enumerate() {
                    let col = &mut c[(j0 + j) * p.s.ldc + i0..][..MV * $L];
                    for (v, &sum) in acc.iter().enumerate() {
                        let out = match p.start {
                            super::Start::Zero => sum,
                            super::Start::Accumulate => $add(load(&col[v * $L..]), sum),
                            super::Start::RowBias(bias) => $add(load(&bias[i0 + v * $L..]), sum),
                            super::Start::ColumnBias(bias) => $add($set1(bias[j0 + j]), sum),
                        };
                        store(&mut col[v * $L..], out);
                    }
                }
            }

            /// The rows `i0..i0 + MV·L` of `C`, all columns, in blocks of
            /// at most [`NR`] columns whose widths differ by at most one (10
            /// columns as 5 + 5, not 8 + 1 + 1: a block of one column is one
            /// chain of dependent multiply-adds, which waits on each one's
            /// latency).
            #[inline]
            #[target_feature(enable = $feat)]
            fn rows<const MV: usize>(c: &mut [f32], p: &Product<'_>, i0: usize) {
                if p.s.b_rows {
                    rows_b::<MV, true>(c, p, i0)
                } else {
                    rows_b::<MV, false>(c, p, i0)
                }
            }

            /// [`rows`] with B's layout a constant.
            #[inline]
            #[target_feature(enable = $feat)]
            fn rows_b<const MV: usize, const B_ROWS: bool>(
                c: &mut [f32],
                p: &Product<'_>,
                i0: usize,
            ) {
                let blocks = p.n.div_ceil(NR);
                let (base, wider) = (p.n / blocks, p.n % blocks);
                let mut j0 = 0;
                for b in 0..blocks {
                    let width = base + usize::from(b < wider);
                    match width {
                        8 => block::<MV, 8, B_ROWS>(c, p, i0, j0),
                        7 => block::<MV, 7, B_ROWS>(c, p, i0, j0),
                        6 => block::<MV, 6, B_ROWS>(c, p, i0, j0),
                        5 => block::<MV, 5, B_ROWS>(c, p, i0, j0),
                        4 => block::<MV, 4, B_ROWS>(c, p, i0, j0),
                        3 => block::<MV, 3, B_ROWS>(c, p, i0, j0),
                        2 => block::<MV, 2, B_ROWS>(c, p, i0, j0),
                        _ => block::<MV, 1, B_ROWS>(c, p, i0, j0),
                    }
                    j0 += width;
                }
            }

            /// The whole product; a row-major `A` through a column-major copy
            /// in `copy` (at least `m·k` values; else nothing is written and
            /// the answer is `false`).
            #[target_feature(enable = $feat)]
            pub(super) fn product(c: &mut [f32], p: &Product<'_>, copy: &mut [f32]) -> bool {
                if !p.s.a_rows {
                    columns(c, p);
                    return true;
                }
                let Some(copy) = copy.get_mut(..p.m * p.k) else {
                    return false;
                };
                if !$transpose(p.a, p.s.lda, p.m, p.k, copy) {
                    return false;
                }
                let by_columns = Product {
                    a: copy,
                    s: super::Strides {
                        lda: p.m,
                        a_rows: false,
                        ..p.s
                    },
                    ..*p
                };
                columns(c, &by_columns);
                true
            }

            /// The product of a column-major `A`: rows two vectors at a time,
            /// then one (the rows are whole vectors: [`super::product`] takes
            /// no others).
            #[inline]
            #[target_feature(enable = $feat)]
            fn columns(c: &mut [f32], p: &Product<'_>) {
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
    _mm512_add_ps,
    _mm512_loadu_ps,
    super::transpose_v4::transpose
);

/// Transposition with AVX-512, for the kernels of `v4`.
#[cfg(target_arch = "x86_64")]
mod transpose_v4 {
    use std::arch::x86_64::*;

    /// `t` (`m × k` column-major, column stride m) ← `a` (`m × k` row-major,
    /// row stride `lda`), for m a multiple of 16 (the callers' rows are whole
    /// vectors): 16 × 16 blocks in registers, the columns past the last whole
    /// block one value at a time. `false`, nothing written, where the slices
    /// do not hold the shape.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    pub(in super::super) fn transpose(
        a: &[f32],
        lda: usize,
        m: usize,
        k: usize,
        t: &mut [f32],
    ) -> bool {
        let a_end = m
            .checked_sub(1)
            .and_then(|last| last.checked_mul(lda))
            .and_then(|start| start.checked_add(k));
        let holds = m.is_multiple_of(16)
            && lda >= k
            && a_end.is_some_and(|end| end <= a.len())
            && m.checked_mul(k).is_some_and(|mk| mk <= t.len());
        if !holds {
            return false;
        }
        let whole = k - k % 16;
        for i0 in (0..m).step_by(16) {
            for q0 in (0..whole).step_by(16) {
                let rows: [__m512; 16] = std::array::from_fn(|r| {
                    // SAFETY: row i0 + r < m, values q0..q0 + 16 ≤ k: they
                    // end by (m − 1)·lda + k ≤ a.len() (checked above).
                    unsafe { _mm512_loadu_ps(a.as_ptr().add((i0 + r) * lda + q0)) }
                });
                for (j, col) in block(rows).into_iter().enumerate() {
                    // SAFETY: column q0 + j < k, rows i0..i0 + 16 ≤ m: they
                    // end by (k − 1)·m + m = m·k ≤ t.len() (checked above).
                    unsafe { _mm512_storeu_ps(t.as_mut_ptr().add((q0 + j) * m + i0), col) }
                }
            }
            for q in whole..k {
                for r in 0..16 {
                    t[q * m + i0 + r] = a[(i0 + r) * lda + q];
                }
            }
        }
        true
    }

    /// The transpose of a 16 × 16 block held as 16 rows: pairs of rows
    /// interleaved by value, then by pairs of values, then by 128-bit lanes
    /// twice (each of the 16 outputs is one column).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn block(r: [__m512; 16]) -> [__m512; 16] {
        let lo = |a: __m512, b: __m512| {
            _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)))
        };
        let hi = |a: __m512, b: __m512| {
            _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)))
        };
        // t[2i], t[2i + 1]: rows 2i and 2i + 1 interleaved, low and high
        // halves of each 128-bit lane.
        let t: [__m512; 16] = std::array::from_fn(|i| {
            let (a, b) = (r[i & !1], r[i | 1]);
            if i % 2 == 0 {
                _mm512_unpacklo_ps(a, b)
            } else {
                _mm512_unpackhi_ps(a, b)
            }
        });
        // u[4g + j]: column 4L + j of rows 4g..4g + 4 in each lane L.
        let u: [__m512; 16] = std::array::from_fn(|i| {
            let (g, j) = (i / 4, i % 4);
            let (a, b) = (t[4 * g + j / 2], t[4 * g + 2 + j / 2]);
            if j % 2 == 0 {
                lo(a, b)
            } else {
                hi(a, b)
            }
        });
        // v[8h + j] (j < 4): columns j and 8 + j of rows 8h..8h + 8; v[8h + 4
        // + j]: columns 4 + j and 12 + j.
        let v: [__m512; 16] = std::array::from_fn(|i| {
            let (h, j) = (i / 8, i % 8);
            let (a, b) = (u[8 * h + j % 4], u[8 * h + 4 + j % 4]);
            if j < 4 {
                _mm512_shuffle_f32x4::<0x88>(a, b)
            } else {
                _mm512_shuffle_f32x4::<0xdd>(a, b)
            }
        });
        // Column c: c < 8 from the low lanes of v[c] and v[8 + c]; else the high.
        std::array::from_fn(|c| {
            let j = c % 8;
            if c < 8 {
                _mm512_shuffle_f32x4::<0x88>(v[j], v[8 + j])
            } else {
                _mm512_shuffle_f32x4::<0xdd>(v[j], v[8 + j])
            }
        })
    }
}

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
            a_rows: false,
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
            assert!(!product(
                &mut c,
                Start::Accumulate,
                &a,
                &b,
                (m, n, k),
                s(m, k, false)
            ));
            assert!(c.iter().all(|&v| v == 5.0), "{m}×{n}×{k} wrote");
        }
        // Too short: A, B (row-major, row stride 4) and C for 16 × 4 × 8.
        let mut c = vec![5.0f32; 64];
        assert!(!product(
            &mut c,
            Start::Zero,
            &a[..16 * 8 - 1],
            &b,
            (16, 4, 8),
            s(16, 8, true)
        ));
        assert!(!product(
            &mut c,
            Start::Zero,
            &a,
            &b[..4 * 8 - 1],
            (16, 4, 8),
            s(16, 8, true)
        ));
        assert!(!product(
            &mut c[..63],
            Start::Zero,
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
        assert!(!product(&mut c, Start::Zero, &a, &b, (16, 4, 8), bad));
        // A shape it takes where the CPU has AVX-512 (other tests may hold the
        // level lower for a moment): all ones, so every value is the depth.
        if product(&mut c, Start::Zero, &a, &b, (16, 4, 8), s(16, 8, true)) {
            assert!(c.iter().all(|&v| v == 8.0));
        } else {
            assert!(c.iter().all(|&v| v == 5.0));
            assert!(simd::detected() != Level::V4 || simd::level() != Level::V4);
        }
    }
}
