//! Matrix products over plain slices, through faer's kernels (SIMD chosen at run
//! time, AVX-512 where present) for anything but tiny shapes. Transposes are
//! strided views, never copies, and the result is written into a preallocated
//! slice: no allocation (faer keeps its packing scratch per thread, sized once).
//!
//! Threads: a product of at least [`PAR_WORK`] multiply-adds is cut into two
//! fixed halves of its output (by shape alone), each computed by one call on one
//! thread; inside a training team (see [`pool`]) the halves run on both cores,
//! elsewhere one after the other. Every output element is therefore summed by one
//! kernel call in one order, and results are bit-identical with 1 or 2 threads.
//!
//! Layout conventions of the engine:
//! - a batch of activations of width `w` and `n` rows is a column-major `w × n`
//!   matrix (each example is one contiguous column): `Mat::cols(w, n)`;
//! - a dense weight `[units, inputs]` is row-major, exactly as PyTorch stores it
//!   (and as safetensors files hold it): `Mat::rows(units, inputs)`.

use faer::{MatMut, MatRef};

use super::float::Float;
use super::simd::multiversion;

/// Shape and strides of a matrix stored in a slice.
#[derive(Debug, Clone, Copy)]
pub struct Mat {
    pub nrows: usize,
    pub ncols: usize,
    /// Distance between consecutive rows.
    pub rstride: usize,
    /// Distance between consecutive columns.
    pub cstride: usize,
}

impl Mat {
    /// Column-major `nrows × ncols` (each column contiguous).
    pub fn cols(nrows: usize, ncols: usize) -> Mat {
        Mat {
            nrows,
            ncols,
            rstride: 1,
            cstride: nrows,
        }
    }
    /// Row-major `nrows × ncols` (each row contiguous).
    pub fn rows(nrows: usize, ncols: usize) -> Mat {
        Mat {
            nrows,
            ncols,
            rstride: ncols,
            cstride: 1,
        }
    }
    /// The same storage read as the transposed matrix.
    pub fn t(self) -> Mat {
        Mat {
            nrows: self.ncols,
            ncols: self.nrows,
            rstride: self.cstride,
            cstride: self.rstride,
        }
    }
    fn len(&self) -> usize {
        if self.nrows == 0 || self.ncols == 0 {
            0
        } else {
            (self.nrows - 1) * self.rstride + (self.ncols - 1) * self.cstride + 1
        }
    }
    /// faer's view of `s`, when one of the strides is 1 (always so in the engine).
    fn view<T>(self, s: &[T]) -> Option<MatRef<'_, T>> {
        let s = &s[..self.len()];
        if self.rstride == 1 {
            Some(MatRef::from_column_major_slice_with_stride(
                s,
                self.nrows,
                self.ncols,
                self.cstride.max(self.nrows),
            ))
        } else if self.cstride == 1 {
            Some(MatRef::from_row_major_slice_with_stride(
                s,
                self.nrows,
                self.ncols,
                self.rstride.max(self.ncols),
            ))
        } else {
            None
        }
    }
    fn view_mut<T>(self, s: &mut [T]) -> Option<MatMut<'_, T>> {
        let s = &mut s[..self.len()];
        if self.rstride == 1 {
            Some(MatMut::from_column_major_slice_with_stride_mut(
                s,
                self.nrows,
                self.ncols,
                self.cstride.max(self.nrows),
            ))
        } else if self.cstride == 1 {
            // Transposed column-major view: faer 0.22's
            // `from_row_major_slice_with_stride_mut` builds a column-major view
            // (writing out of bounds), so it is not used.
            Some(
                MatMut::from_column_major_slice_with_stride_mut(
                    s,
                    self.ncols,
                    self.nrows,
                    self.rstride.max(self.ncols),
                )
                .transpose_mut(),
            )
        } else {
            None
        }
    }
}

/// Products with at least this many multiply-adds (m·k·n) are split in two halves
/// that run on both threads of the team (~7 µs of one core's work, against ~1 µs
/// to hand a half to the spinning second thread). Measured with the team: the
/// 784-128-10 network at batch 64 (6.4 M per product) went from 3 700 to 4 100
/// steps/s when its products split; before the team, a split woke a sleeping
/// rayon thread (~30 µs) and the same network lost a third of its speed.
pub const PAR_WORK: usize = 1 << 20;

/// Runs the closure with the engine's two threads at hand: a rayon pool of two
/// threads (fewer when the machine or `RAYON_NUM_THREADS` says so), the calling
/// thread being one of them, and on it a spindle team whose second worker spins
/// while the closure runs. [`both`] then hands its second half to a worker that
/// is already awake: about 1 µs, where waking a sleeping rayon thread costs
/// ~30 µs (measured on the 2-core machine; rayon's workers fall asleep after a
/// ~10 µs gap, and a training step has a dozen such gaps). The spinning stops
/// when the closure returns, or after ~1 ms without work.
///
/// With `team == false` (a network with nothing large enough to split) the
/// closure runs alone on the calling thread and the second core stays idle.
/// Results never depend on the pool: [`both`] cuts work by shape alone.
pub fn pool<R: Send>(team: bool, f: impl FnOnce() -> R + Send) -> R {
    // A thread that already serves another rayon pool cannot adopt this one
    // (`build` fails): it runs alone.
    if !team || IN_TEAM.with(|t| t.get()) {
        return f();
    }
    let pool = POOL.with(|p| {
        p.get_or_init(|| {
            let threads = std::env::var("RAYON_NUM_THREADS")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&t| t > 0)
                .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
                .unwrap_or(1)
                .min(2);
            // Without a pool, `both` runs the halves one after the other.
            (threads > 1)
                .then(|| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .use_current_thread()
                        .build()
                        .ok()
                })
                .flatten()
        })
        .is_some()
    });
    if !pool {
        return f();
    }
    spindle::with_lock(2, || {
        IN_TEAM.with(|t| t.set(true));
        let _reset = ResetTeam;
        f()
    })
}

/// Clears the calling thread's team flag when the team's closure ends (also on
/// unwinding).
struct ResetTeam;

impl Drop for ResetTeam {
    fn drop(&mut self) {
        IN_TEAM.with(|t| t.set(false));
    }
}

thread_local! {
    static POOL: std::cell::OnceCell<Option<rayon::ThreadPool>> =
        const { std::cell::OnceCell::new() };
    /// The calling thread leads a spindle team (inside [`pool`]).
    static IN_TEAM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `c ← a · b`, or `c ← c + a · b` when `accumulate` (otherwise `c` is never read).
pub fn gemm<T: Float>(a: &[T], am: Mat, b: &[T], bm: Mat, c: &mut [T], cm: Mat, accumulate: bool) {
    gemm_split(a, am, b, bm, c, cm, accumulate, true);
}

/// [`gemm`], splitting large products in two halves only when `split`.
#[allow(clippy::too_many_arguments)]
fn gemm_split<T: Float>(
    a: &[T],
    am: Mat,
    b: &[T],
    bm: Mat,
    c: &mut [T],
    cm: Mat,
    accumulate: bool,
    split: bool,
) {
    debug_assert_eq!(am.ncols, bm.nrows);
    debug_assert_eq!((am.nrows, bm.ncols), (cm.nrows, cm.ncols));
    if cm.nrows == 0 || cm.ncols == 0 {
        return;
    }
    if am.ncols == 0 {
        if !accumulate {
            let c = &mut c[..cm.len()];
            for j in 0..cm.ncols {
                for i in 0..cm.nrows {
                    c[i * cm.rstride + j * cm.cstride] = T::zero();
                }
            }
        }
        return;
    }
    let (Some(av), Some(bv), Some(cv)) = (am.view(a), bm.view(b), cm.view_mut(c)) else {
        naive(a, am, b, bm, c, cm, accumulate);
        return;
    };
    if !split || am.nrows * am.ncols * bm.ncols < PAR_WORK {
        T::matmul(cv, accumulate, av, bv);
        return;
    }
    // Two halves of the output, cut by shape alone at the multiple of 16 (one
    // AVX-512 register of f32) nearest the middle: 784 columns cut 400 + 384
    // (rounding up to 32 gave 416 + 368, one thread waiting 12 % of the product).
    let half = |d: usize| match (d / 2 + 8) / 16 * 16 {
        0 => d / 2,
        h => h,
    };
    if cm.ncols >= cm.nrows {
        let h = half(cm.ncols).min(cm.ncols);
        let (c0, c1) = cv.split_at_col_mut(h);
        let (b0, b1) = bv.split_at_col(h);
        both(
            || T::matmul(c0, accumulate, av, b0),
            || T::matmul(c1, accumulate, av, b1),
        );
    } else {
        let h = half(cm.nrows).min(cm.nrows);
        let (c0, c1) = cv.split_at_row_mut(h);
        let (a0, a1) = av.split_at_row(h);
        both(
            || T::matmul(c0, accumulate, a0, bv),
            || T::matmul(c1, accumulate, a1, bv),
        );
    }
}

/// Element-wise passes over at least this many values run in two halves on the
/// team's two threads (with a worker already awake, a split costs ~1 µs, the
/// time of ~8 000 relu outputs).
pub const PAR_ELEMENTS: usize = 1 << 15;

/// Where a column-major `width × n` batch is cut for an element-wise pass on two
/// threads: the column count of the first half, or `None` when the batch is too
/// small to be worth it. Decided by shape alone, so results never depend on the
/// number of threads (each column is computed whole by one thread).
pub fn column_halves(width: usize, n: usize) -> Option<usize> {
    (width * n >= PAR_ELEMENTS && n >= 2).then_some(n / 2)
}

/// `f` over the columns of a batch, in two halves of columns on two threads when
/// [`column_halves`] says so: `f(first_column, a, b)` gets matching column
/// ranges of `a` (`wa` values a column) and `b` (`wb` a column).
pub fn split_columns<A: Send + Sync, B: Send>(
    a: &[A],
    wa: usize,
    b: &mut [B],
    wb: usize,
    n: usize,
    f: impl Fn(usize, &[A], &mut [B]) + Sync,
) {
    let (a, b) = (&a[..wa * n], &mut b[..wb * n]);
    match column_halves(wa.max(wb), n) {
        Some(h) => {
            let (a0, a1) = a.split_at(wa * h);
            let (b0, b1) = b.split_at_mut(wb * h);
            both(|| f(0, a0, b0), || f(h, a1, b1));
        }
        None => f(0, a, b),
    }
}

/// Runs both closures: in parallel when called by the leader of a team (see
/// [`pool`]), else one after the other. Each closure runs exactly once, whole,
/// on one thread; a `both` inside one of them runs its halves in turn.
pub fn both(f: impl FnOnce() + Send, g: impl FnOnce() + Send) {
    if !IN_TEAM.with(|t| t.get()) {
        f();
        g();
        return;
    }
    // spindle hands out job indices 0 and 1; each takes its closure out of its
    // cell (an uncontended lock: tens of ns).
    let f = std::sync::Mutex::new(Some(f));
    let g = std::sync::Mutex::new(Some(g));
    IN_TEAM.with(|t| t.set(false));
    let _reset = SetTeam;
    spindle::for_each_raw(2, |job| {
        if job == 0 {
            if let Some(f) = f.lock().ok().and_then(|mut f| f.take()) {
                f();
            }
        } else if let Some(g) = g.lock().ok().and_then(|mut g| g.take()) {
            g();
        }
    });
}

/// Restores the calling thread's team flag when a [`both`] ends.
struct SetTeam;

impl Drop for SetTeam {
    fn drop(&mut self) {
        IN_TEAM.with(|t| t.set(true));
    }
}

/// Products with fewer multiply-adds than this (m·k·n) use the direct kernels
/// below: there they beat a packing gemm, whose set-up dominates tiny products.
/// Above it faer's SIMD kernels win by far. Measured crossover (against
/// matrixmultiply, whose set-up costs about what faer's does): direct 1.7 µs vs
/// 5 µs at 5×10×32, 3.2 µs vs 1.3 µs at 10×32×16 (all three products of a layer).
pub const DIRECT_WORK: usize = 1 << 12;

/// Forward of a dense layer: y (`m × n`, column-major) ← w (`m × k`, row-major) ·
/// x (`k × n`, column-major), added to y when `accumulate` (y holds the bias).
pub fn w_x<T: Float>(
    w: &[T],
    x: &[T],
    y: &mut [T],
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    if m * k * n >= DIRECT_WORK {
        gemm(
            w,
            Mat::rows(m, k),
            x,
            Mat::cols(k, n),
            y,
            Mat::cols(m, n),
            accumulate,
        );
        return;
    }
    if k == 0 {
        if !accumulate {
            y[..m * n].fill(T::zero());
        }
        return;
    }
    w_x_direct(w, x, y, m, k, n, accumulate);
}

multiversion! {
    /// [`w_x`] below [`DIRECT_WORK`]: one dot product per output.
    fn w_x_direct<T: Float>(
        w: &[T],
        x: &[T],
        y: &mut [T],
        m: usize,
        k: usize,
        n: usize,
        accumulate: bool,
    ) {
        for (xj, yj) in x[..k * n]
            .chunks_exact(k)
            .zip(y[..m * n].chunks_exact_mut(m.max(1)))
        {
            for (wi, yi) in w[..m * k].chunks_exact(k).zip(yj.iter_mut()) {
                let d = dot(wi, xj);
                *yi = if accumulate { *yi + d } else { d };
            }
        }
    }
}

/// Weight gradient of a dense layer: dw (`m × k`, row-major) ← dy (`m × n`,
/// column-major) · xᵀ (x `k × n`, column-major). Overwrites dw.
pub fn dy_xt<T: Float>(dy: &[T], x: &[T], dw: &mut [T], m: usize, k: usize, n: usize) {
    if m * k * n >= DIRECT_WORK {
        gemm(
            dy,
            Mat::cols(m, n),
            x,
            Mat::cols(k, n).t(),
            dw,
            Mat::rows(m, k),
            false,
        );
        return;
    }
    let dw = &mut dw[..m * k];
    dw.fill(T::zero());
    if k == 0 || m == 0 {
        return;
    }
    dy_xt_direct(dy, x, dw, m, k, n);
}

multiversion! {
    /// [`dy_xt`] below [`DIRECT_WORK`], into a zeroed dw: one axpy per (unit, column).
    fn dy_xt_direct<T: Float>(dy: &[T], x: &[T], dw: &mut [T], m: usize, k: usize, n: usize) {
        for (xj, dyj) in x[..k * n].chunks_exact(k).zip(dy[..m * n].chunks_exact(m)) {
            for (row, &a) in dw.chunks_exact_mut(k).zip(dyj) {
                axpy(a, xj, row);
            }
        }
    }
}

/// Both backward products of a dense layer: dw ← dy·xᵀ ([`dy_xt`]) and, when
/// asked, dx ← wᵀ·dy ([`wt_dy`]). A large pair runs side by side, each product
/// whole on one thread, which beats splitting each in two (no operand is packed
/// twice); the choice depends on the shape alone, so the bits do not depend on
/// the number of threads.
#[allow(clippy::too_many_arguments)]
pub fn dense_backward<T: Float>(
    dy: &[T],
    x: &[T],
    w: &[T],
    dw: &mut [T],
    dx: Option<&mut [T]>,
    m: usize,
    k: usize,
    n: usize,
) {
    match dx {
        Some(dx) if m * k * n >= PAR_WORK => both(
            || {
                gemm_split(
                    dy,
                    Mat::cols(m, n),
                    x,
                    Mat::cols(k, n).t(),
                    dw,
                    Mat::rows(m, k),
                    false,
                    false,
                )
            },
            || {
                gemm_split(
                    w,
                    Mat::rows(m, k).t(),
                    dy,
                    Mat::cols(m, n),
                    dx,
                    Mat::cols(k, n),
                    false,
                    false,
                )
            },
        ),
        dx => {
            dy_xt(dy, x, dw, m, k, n);
            if let Some(dx) = dx {
                wt_dy(w, dy, dx, m, k, n);
            }
        }
    }
}

/// Input gradient of a dense layer: dx (`k × n`, column-major) ← wᵀ · dy with w
/// `m × k` row-major and dy `m × n` column-major. Overwrites dx.
pub fn wt_dy<T: Float>(w: &[T], dy: &[T], dx: &mut [T], m: usize, k: usize, n: usize) {
    if m * k * n >= DIRECT_WORK {
        gemm(
            w,
            Mat::rows(m, k).t(),
            dy,
            Mat::cols(m, n),
            dx,
            Mat::cols(k, n),
            false,
        );
        return;
    }
    let dx = &mut dx[..k * n];
    dx.fill(T::zero());
    if k == 0 || m == 0 {
        return;
    }
    wt_dy_direct(w, dy, dx, m, k, n);
}

multiversion! {
    /// [`wt_dy`] below [`DIRECT_WORK`], into a zeroed dx: one axpy per (unit, column).
    fn wt_dy_direct<T: Float>(w: &[T], dy: &[T], dx: &mut [T], m: usize, k: usize, n: usize) {
        for (dxj, dyj) in dx.chunks_exact_mut(k).zip(dy[..m * n].chunks_exact(m)) {
            for (wi, &a) in w[..m * k].chunks_exact(k).zip(dyj) {
                axpy(a, wi, dxj);
            }
        }
    }
}

/// Σ a·b over 8 interleaved lanes, added up in a fixed order.
#[inline(always)]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    for (l, (&x, &y)) in ra.iter().zip(rb).enumerate() {
        lanes[l] += x * y;
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
}

/// y ← y + a·x
#[inline(always)]
fn axpy<T: Float>(a: T, x: &[T], y: &mut [T]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o += a * v;
    }
}

/// Σ v², in f64, over 8 interleaved lanes (so it vectorises) added up in a fixed
/// order: the same bits on every run and any number of threads. A vector of at
/// least [`PAR_ELEMENTS`] values is summed as two fixed halves (on both threads)
/// added at the end.
pub fn sum_squares<T: Float>(v: &[T]) -> f64 {
    if v.len() >= PAR_ELEMENTS {
        let (a, b) = v.split_at(v.len() / 2);
        let (mut sa, mut sb) = (0.0, 0.0);
        both(|| sa = sum_squares_block(a), || sb = sum_squares_block(b));
        return sa + sb;
    }
    sum_squares_block(v)
}

multiversion! {
    /// Σ v² on the calling thread, in the fixed order [`sum_squares`] uses for each
    /// of its parts.
    pub fn sum_squares_block<T: Float>(v: &[T]) -> f64 {
        let mut lanes = [0.0f64; 8];
        let chunks = v.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for (l, &x) in lanes.iter_mut().zip(c) {
                let x = x.to_f64();
                *l += x * x;
            }
        }
        for (l, &x) in lanes.iter_mut().zip(rest) {
            let x = x.to_f64();
            *l += x * x;
        }
        ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
            + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
    }
}

/// `c ← a · b (+ c)` by dot products, in a fixed order (for strides faer cannot
/// view, which the engine never produces, and as the tests' reference).
fn naive<T: Float>(a: &[T], am: Mat, b: &[T], bm: Mat, c: &mut [T], cm: Mat, accumulate: bool) {
    let k = am.ncols;
    for j in 0..cm.ncols {
        for i in 0..cm.nrows {
            let mut s = T::zero();
            for p in 0..k {
                s += a[i * am.rstride + p * am.cstride] * b[p * bm.rstride + j * bm.cstride];
            }
            let o = &mut c[i * cm.rstride + j * cm.cstride];
            *o = if accumulate { *o + s } else { s };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, mul: usize, modulo: usize) -> Vec<f64> {
        (0..len)
            .map(|i| ((i * mul) % modulo) as f64 - (modulo / 2) as f64)
            .collect()
    }

    /// The three products of a dense layer against the plain loops, below and
    /// above the direct-kernel and the two-thread thresholds.
    #[test]
    fn layer_products_match_naive() {
        for (m, k, n) in [
            (3, 4, 5),
            (16, 9, 7),
            (10, 20, 12),
            (1, 1, 1),
            (8, 0, 3),
            (40, 70, 90),
            (150, 130, 120),
            (70, 300, 130),
            (260, 520, 130),
        ] {
            let w = data(m * k, 7, 11);
            let x = data(k * n, 5, 13);
            let dy = data(m * n, 3, 7);
            let mut y = vec![1.0; m * n];
            let mut want = y.clone();
            w_x(&w, &x, &mut y, m, k, n, true);
            naive(
                &w,
                Mat::rows(m, k),
                &x,
                Mat::cols(k, n),
                &mut want,
                Mat::cols(m, n),
                true,
            );
            assert_eq!(y, want);
            let mut dw = vec![9.0; m * k];
            let mut want = vec![0.0; m * k];
            dy_xt(&dy, &x, &mut dw, m, k, n);
            naive(
                &dy,
                Mat::cols(m, n),
                &x,
                Mat::cols(k, n).t(),
                &mut want,
                Mat::rows(m, k),
                false,
            );
            assert_eq!(dw, want);
            let mut dx = vec![f64::NAN; k * n];
            let mut want = vec![0.0; k * n];
            wt_dy(&w, &dy, &mut dx, m, k, n);
            naive(
                &w,
                Mat::rows(m, k).t(),
                &dy,
                Mat::cols(m, n),
                &mut want,
                Mat::cols(k, n),
                false,
            );
            assert_eq!(dx, want);
        }
    }

    /// Split products give the same bits inside and outside the two-thread pool.
    #[test]
    fn pool_and_single_thread_agree() {
        let (m, k, n) = (300, 500, 128);
        assert!(m * k * n >= PAR_WORK);
        let w: Vec<f32> = (0..m * k)
            .map(|i| ((i % 17) as f32 - 8.0) * 0.013)
            .collect();
        let x: Vec<f32> = (0..k * n)
            .map(|i| ((i % 23) as f32 - 11.0) * 0.07)
            .collect();
        let mut alone = vec![0.0f32; m * n];
        w_x(&w, &x, &mut alone, m, k, n, false);
        let mut pooled = vec![0.0f32; m * n];
        pool(true, || w_x(&w, &x, &mut pooled, m, k, n, false));
        assert_eq!(alone, pooled);
        let mut wide = vec![0.0f32; m * n];
        // a product wider than tall splits by columns
        let mut alone_t = vec![0.0f32; k * n];
        wt_dy(&w, &alone, &mut alone_t, m, k, n);
        let mut pooled_t = vec![0.0f32; k * n];
        pool(true, || wt_dy(&w, &pooled, &mut pooled_t, m, k, n));
        assert_eq!(alone_t, pooled_t);
        wide.copy_from_slice(&alone);
        assert_eq!(wide, pooled);
    }

    #[test]
    fn sum_squares_of_any_length() {
        for n in [0, 1, 7, 8, 9, 100, PAR_ELEMENTS + 3] {
            let v: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
            let want: f64 = v.iter().map(|&x| (x as f64) * (x as f64)).sum();
            assert!((sum_squares(&v) - want).abs() <= 1e-9 * want.max(1.0));
        }
    }

    #[test]
    fn transposed_views_multiply() {
        // a: 2×3 row-major, b: 3×2 column-major
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, 1.0, 2.0, 1.0, 0.0];
        let mut c = [0.0f64; 4];
        gemm(
            &a,
            Mat::rows(2, 3),
            &b,
            Mat::cols(3, 2),
            &mut c,
            Mat::cols(2, 2),
            false,
        );
        // column 0 of b = (1,0,1): (4, 10); column 1 = (2,1,0): (4, 13)
        assert_eq!(c, [4.0, 10.0, 4.0, 13.0]);
        // aᵀ (3×2) · (2×1)
        let x = [1.0, 1.0];
        let mut y = [0.0f64; 3];
        gemm(
            &a,
            Mat::rows(2, 3).t(),
            &x,
            Mat::cols(2, 1),
            &mut y,
            Mat::cols(3, 1),
            false,
        );
        assert_eq!(y, [5.0, 7.0, 9.0]);
    }
}
