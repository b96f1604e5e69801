//! Matrix products of nalgebra views, through faer's kernels (SIMD chosen at run
//! time, AVX-512 where present) for anything but tiny shapes. Transposes are
//! strided views, never copies, and the result is written into a preallocated
//! slice: no allocation (faer keeps its packing scratch per thread, sized once).
//!
//! Threads: sums and element-wise passes are cut into pieces by shape alone,
//! never by the number of threads: an element-wise pass into 2–16 ranges of
//! columns or values; each piece is computed by one call on one thread. Inside
//! a training team (see [`pool`]) the pieces spread over however many threads
//! there are (`--threads N`), elsewhere they run one after the other. A product
//! of at least [`PAR_WORK`] multiply-adds is cut into blocks of its output by
//! the team at hand (whole on one thread, up to [`PRODUCT_PIECES_PER_THREAD`]
//! blocks a thread): faer computes every output value the same way whatever
//! block it is in. Every output element is therefore computed by one kernel
//! call in one order, partial sums go to fixed slots combined in piece order,
//! and results are bit-identical with any number of threads.
//!
//! The operands are nalgebra views over the network's flat buffers
//! ([`crate::train::view`]: a batch of width `w` and `n` examples is a packed
//! column-major `w × n` view, a dense weight `[units, inputs]` is row-major as
//! PyTorch stores it, seen column-major as Wᵀ); each product converts them to
//! faer's views of the same memory (no copy) and cuts those into pieces.

use faer::{MatMut, MatRef};
use nalgebra::{DMatrixView, DMatrixViewMut};

use super::float::Float;
use super::simd::multiversion;
pub use super::small_product::Start;
use super::view::{self, Read};

/// Products with at least this many multiply-adds (m·k·n) are cut into pieces of
/// their output that run on the team's threads (~7 µs of one core's work, against
/// ~1 µs to hand a piece to a spinning worker). Measured with the team: the
/// 784-128-10 network at batch 64 (6.4 M per product) went from 3 700 to 4 100
/// steps/s when its products split; before the team, a split woke a sleeping
/// rayon thread (~30 µs) and the same network lost a third of its speed.
pub const PAR_WORK: usize = 1 << 20;

/// A split product gets one more piece (in powers of two, up to [`MAX_PIECES`])
/// for every this many multiply-adds: ~50 µs of one core's work a piece, so that
/// the copies of the shared operand each piece packs stay a few per cent.
pub const PIECE_WORK: usize = 1 << 22;

/// The most pieces one product or pass is cut into: what a 16-core machine can
/// use at once.
pub const MAX_PIECES: usize = 16;

/// The number of threads a run uses unless told (`nnt run --threads N`): every
/// core (`std::thread::available_parallelism`), or `RAYON_NUM_THREADS` where set.
pub fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&t| t > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// Runs the closure with the engine's threads at hand: a rayon pool of
/// `threads` threads, the calling thread being one of them, and on it a spindle
/// team whose workers spin while the closure runs. [`run_parts`] (and [`both`])
/// then hand pieces to workers that are already awake: about 1 µs, where waking a
/// sleeping rayon thread costs ~30 µs (measured on the 2-core machine; rayon's
/// workers fall asleep after a ~10 µs gap, and a training step has a dozen such
/// gaps). A worker spins for ~1 ms after its last piece, then sleeps until the
/// next (see [`rest`]).
///
/// With `threads <= 1` (also for a network with nothing large enough to split)
/// the closure runs alone on the calling thread and the other cores stay idle.
/// Results never depend on the pool: sums are cut by shape alone, and a
/// product's values do not depend on its cut.
pub fn pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    // A thread that already leads a team (its pool's rayon thread) cannot
    // adopt another pool (`build` fails): it runs alone.
    if threads <= 1 || leads_team() {
        return f();
    }
    let pool = POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.as_ref().is_none_or(|(n, _)| *n != threads) {
            // Without a pool, pieces run one after the other.
            let made = (threads > 1)
                .then(|| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .use_current_thread()
                        .build()
                        .ok()
                })
                .flatten();
            *p = Some((threads, made));
        }
        p.as_ref().is_some_and(|(_, pool)| pool.is_some())
    });
    if !pool {
        return f();
    }
    spindle::with_lock(threads, || {
        IN_TEAM.with(|t| t.set(true));
        LEADS.with(|t| t.set(true));
        TEAM_SIZE.with(|t| t.set(threads));
        let _reset = ResetTeam;
        f()
    })
}

/// Whether the calling thread leads a team (inside [`pool`] with more than one
/// thread), whether or not it hands pieces to it now ([`use_team`]).
pub fn leads_team() -> bool {
    LEADS.with(|t| t.get())
}

/// The threads of the team the calling thread leads (1 outside [`pool`]), also
/// while it is set aside ([`use_team`]).
pub fn team_size() -> usize {
    TEAM_SIZE.with(|t| t.get())
}

/// Whether the calling thread hands pieces to its team now.
pub fn team_in_use() -> bool {
    IN_TEAM.with(|t| t.get())
}

/// Hands pieces to the team (`true`) or runs them in order on the calling
/// thread while the workers sleep (`false`), for the rest of [`pool`]'s closure
/// or until the next call; nothing when the thread leads no team. The results
/// are the same either way (pieces are cut by shape alone): a run can switch at
/// any step, which it does when the other threads are slower than none
/// (`train::trainer::team`, a machine busy with other work).
pub fn use_team(on: bool) {
    if !leads_team() || team_in_use() == on {
        return;
    }
    if !on {
        rest();
    }
    IN_TEAM.with(|t| t.set(on));
}

/// Products of at most this many multiply-adds go to faer's tiny-matrix
/// kernels (`nano-gemm`, 16³), which use no workspace.
pub const FAER_TINY_WORK: usize = 16 * 16 * 16;

/// Makes, on every thread of the team (or the calling thread alone), what a
/// thread's first matrix product makes: faer's packing workspace (a
/// thread-local block sized by the cache, 4 MiB here, mapped on huge pages by
/// the binary's allocator, [`crate::memory`]) and its cache sizes. Called
/// before a run's first step, so that the step allocates nothing and takes no
/// page fault from its first time on: the first step of the 64-32-10
/// network took 165–390 µs against 2.2 µs for the next ones (zeroing two
/// fresh huge pages), 2–3 % of its 300-epoch benchmark. Changes no value.
pub fn prepare_threads<T: Float>() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    /// The side of the product: 32³ multiply-adds is above
    /// [`FAER_TINY_WORK`].
    const SIDE: usize = 32;
    const { assert!(SIDE * SIDE * SIDE > FAER_TINY_WORK) };
    /// A number per call, so that a thread of a team kept from an earlier run
    /// counts again.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static PREPARED_IN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    let call = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    let a = vec![T::zero(); SIDE * SIDE];
    let b = vec![T::zero(); SIDE * SIDE];
    let team = if team_in_use() { team_size() } else { 1 };
    let parts = team.min(MAX_PIECES);
    let outs: Vec<std::sync::Mutex<Vec<T>>> = (0..parts)
        .map(|_| std::sync::Mutex::new(vec![T::zero(); SIDE * SIDE]))
        .collect();
    let prepared = AtomicUsize::new(0);
    let prepare = |i: usize| {
        if PREPARED_IN.with(|c| c.replace(call)) == call {
            return;
        }
        let Some(Ok(mut out)) = outs.get(i).map(|o| o.lock()) else {
            return;
        };
        let a = MatRef::from_column_major_slice(&a, SIDE, SIDE);
        let b = MatRef::from_column_major_slice(&b, SIDE, SIDE);
        T::matmul(
            MatMut::from_column_major_slice_mut(&mut out, SIDE, SIDE),
            false,
            a,
            b,
        );
        prepared.fetch_add(1, Ordering::Relaxed);
    };
    // Which thread runs which part is the team's choice, and a team's
    // workers start in the background (a fresh pool's worker was still
    // starting, and took no part, in every round of a quick loop): rounds
    // until every thread has had one, for at most PATIENCE (a worker held up
    // longer, on a busy machine, makes its own at its first product).
    const PATIENCE: std::time::Duration = std::time::Duration::from_millis(50);
    let since = std::time::Instant::now();
    while prepared.load(Ordering::Relaxed) < team && since.elapsed() < PATIENCE {
        run_parts(0..parts, |_, i| prepare(i));
        if prepared.load(Ordering::Relaxed) < team {
            std::thread::yield_now();
        }
    }
}

/// Lets the team's workers sleep now instead of spinning until the next piece
/// (before a long serial phase, such as the end of an epoch).
pub fn rest() {
    if team_in_use() {
        spindle::relieve_workers();
    }
}

/// Clears the calling thread's team flag when the team's closure ends (also on
/// unwinding).
struct ResetTeam;

impl Drop for ResetTeam {
    fn drop(&mut self) {
        IN_TEAM.with(|t| t.set(false));
        LEADS.with(|t| t.set(false));
        TEAM_SIZE.with(|t| t.set(1));
    }
}

thread_local! {
    /// The thread count and rayon pool of this thread's teams (rebuilt when the
    /// thread count changes).
    static POOL: std::cell::RefCell<Option<(usize, Option<rayon::ThreadPool>)>> =
        const { std::cell::RefCell::new(None) };
    /// The calling thread hands pieces to a spindle team now (inside [`pool`],
    /// not inside a piece, and the team not set aside by [`use_team`]).
    static IN_TEAM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The calling thread leads a spindle team (inside [`pool`]).
    static LEADS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The number of threads of the team the calling thread leads (1 outside
    /// [`pool`]).
    static TEAM_SIZE: std::cell::Cell<usize> = const { std::cell::Cell::new(1) };
}

/// How many pieces a product is cut into at most for each thread of the team
/// that runs it: a second piece a thread lets the faster threads take over
/// from one that is held up; more pieces only re-read the shared operand and
/// run narrower kernels.
pub const PRODUCT_PIECES_PER_THREAD: usize = 2;

/// The number of pieces for `work` units when a piece should hold at least
/// `unit`: the largest power of two not above `work / unit`, between 1 and
/// [`MAX_PIECES`]. Powers of two keep two (or four, eight) threads evenly loaded.
pub fn piece_count(work: usize, unit: usize) -> usize {
    let p = (work / unit.max(1)).clamp(1, MAX_PIECES);
    1 << p.ilog2()
}

/// Where piece `i` of `pieces` starts in `0..len` (piece `pieces` "starts" at
/// `len`): even cuts, by shape alone.
pub fn cut(len: usize, pieces: usize, i: usize) -> usize {
    len * i / pieces.max(1)
}

/// Runs `f(i, part)` for every part (at most [`MAX_PIECES`]): spread over the
/// team's threads when called by its leader (see [`pool`]), else in order on the
/// calling thread. Each part runs exactly once, whole, on one thread; what it
/// computes must not depend on which thread or in which order (partial results
/// go to the part's own slot and are combined by the caller in part order). A
/// `run_parts` inside a part runs its parts in order. Allocates nothing.
pub fn run_parts<P: Send>(parts: impl IntoIterator<Item = P>, f: impl Fn(usize, P) + Sync) {
    if !team_in_use() {
        for (i, p) in parts.into_iter().enumerate() {
            f(i, p);
        }
        return;
    }
    let slots: [std::sync::Mutex<Option<P>>; MAX_PIECES] =
        std::array::from_fn(|_| std::sync::Mutex::new(None));
    let mut count = 0;
    let mut parts = parts.into_iter();
    for (slot, p) in slots.iter().zip(&mut parts) {
        if let Ok(mut s) = slot.lock() {
            *s = Some(p);
        }
        count += 1;
    }
    IN_TEAM.with(|t| t.set(false));
    let _reset = SetTeam;
    let take = |i: usize| {
        if let Some(p) = slots[i].lock().ok().and_then(|mut s| s.take()) {
            f(i, p);
        }
    };
    match count {
        0 => {}
        1 => take(0),
        _ => spindle::for_each_raw(count, take),
    }
    // More parts than slots (the callers never make them): in order, here.
    for (i, p) in parts.enumerate() {
        f(MAX_PIECES + i, p);
    }
}

/// `c ← a · b`, or `c ← c + a · b` when `accumulate` (otherwise `c` is never
/// read), on faer's views (shapes agree). A product of at least [`PAR_WORK`]
/// multiply-adds runs in pieces of its output ([`product_pieces`]) on the
/// team's threads; each piece is one [`Float::matmul`].
fn gemm<T: Float>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    mut c: MatMut<'_, T>,
    accumulate: bool,
    cut: Cut,
) {
    if c.nrows() == 0 || c.ncols() == 0 {
        return;
    }
    if a.ncols() == 0 {
        if !accumulate {
            c.fill(T::zero());
        }
        return;
    }
    let work = a.nrows() * a.ncols() * b.ncols();
    let most = product_pieces_at_most();
    if work < PAR_WORK || most < 2 {
        T::matmul(c, accumulate, a, b);
        return;
    }
    let pieces = product_piece_count(work).min(most);
    run_parts(product_pieces(a, b, c, pieces, cut), |_, (a, b, c)| {
        T::matmul(c, accumulate, a, b)
    });
}

/// Into how many pieces a product of `work` multiply-adds is cut on a team
/// large enough (1: it runs whole), by shape alone: threads beyond the most
/// pieces of any product of a step have no piece of it to run.
pub fn product_piece_count(work: usize) -> usize {
    if work < PAR_WORK {
        1
    } else {
        piece_count(work, PIECE_WORK).max(2)
    }
}

/// The most threads a step whose matrix products do `works` multiply-adds
/// each keeps busy: the most pieces of any of them, at least two (a step
/// worth a team at all splits something). A larger team only adds threads to
/// every hand-off and barrier: on 16 cores the 784-128-10 network at batch 64
/// (products in 2 pieces) took 5 712 steps a second with 2 threads and 4 437
/// with 16, while 784-512-512-10 at batch 256 (16 pieces) gained up to 16
/// threads (BENCHMARKS.md, round 17). Results never depend on it.
pub fn useful_threads(works: impl IntoIterator<Item = usize>) -> usize {
    works
        .into_iter()
        .map(product_piece_count)
        .max()
        .unwrap_or(1)
        .max(2)
}

/// The most pieces a product is cut into now. Unlike a sum, a product's value
/// does not depend on the block of the output it is computed in
/// (`pieces_give_the_whole_product`), so the cut follows the team at hand:
/// whole on one thread (alone, or the team set aside), at most
/// [`PRODUCT_PIECES_PER_THREAD`] pieces a thread of a team.
fn product_pieces_at_most() -> usize {
    if team_in_use() {
        TEAM_SIZE.with(|t| t.get()) * PRODUCT_PIECES_PER_THREAD
    } else {
        1
    }
}

/// `dst ← a·b`, or `dst ← dst + a·b` when `accumulate`, each view read as its
/// [`Read`] says: faer's views of the same memory ([`view::faer_ref`]), in
/// pieces on the team's threads when large (`gemm`); views that are not
/// packed (the engine makes none) go to [`view::matmul`]'s loops. Shapes that
/// do not agree leave `dst` as it is.
pub fn product<T: Float>(
    dst: &mut DMatrixViewMut<'_, T>,
    dst_read: Read,
    accumulate: bool,
    a: DMatrixView<'_, T>,
    a_read: Read,
    b: DMatrixView<'_, T>,
    b_read: Read,
) {
    product_cut(dst, dst_read, accumulate, a, a_read, b, b_read, Cut::Longer);
}

/// [`product`], its pieces cut as `cut` says.
#[allow(clippy::too_many_arguments)]
fn product_cut<T: Float>(
    dst: &mut DMatrixViewMut<'_, T>,
    dst_read: Read,
    accumulate: bool,
    a: DMatrixView<'_, T>,
    a_read: Read,
    b: DMatrixView<'_, T>,
    b_read: Read,
    cut: Cut,
) {
    if small(
        dst,
        dst_read,
        Start::accumulating(accumulate),
        a,
        a_read,
        b,
        b_read,
    ) {
        return;
    }
    if let (Some(fa), Some(fb)) = (view::faer_ref(a, a_read), view::faer_ref(b, b_read)) {
        if let Some(fc) = view::faer_mut(dst, dst_read) {
            if fa.ncols() == fb.nrows() && (fc.nrows(), fc.ncols()) == (fa.nrows(), fb.ncols()) {
                gemm(fa, fb, fc, accumulate, cut);
            }
            return;
        }
    }
    view::matmul(dst, dst_read, accumulate, a, a_read, b, b_read);
}

/// A small product by [`Float::small_product`] (faer's bits without its set-up
/// per call), when it takes it: `true` when done. An output read transposed is
/// the transposed product, `Cᵀ ← Bᵀ·Aᵀ` (each output value is the same sum over
/// `k` in the same order), so that dW ← dy·xᵀ, written into Wᵀ's column-major
/// view, is x·dyᵀ. A left operand read transposed (row-major) is copied
/// column-major first, within [`super::small_product::MAX_TRANSPOSED`] values:
/// the forward product of an output laid out by unit, yᵀ ← xᵀ·Wᵀ, reads the
/// examples' values by example.
fn small<T: Float>(
    dst: &mut DMatrixViewMut<'_, T>,
    dst_read: Read,
    start: Start<'_, T>,
    a: DMatrixView<'_, T>,
    a_read: Read,
    b: DMatrixView<'_, T>,
    b_read: Read,
) -> bool {
    let (a, a_read, b, b_read, start) = match dst_read {
        Read::AsIs => (a, a_read, b, b_read, start),
        Read::Transposed => {
            let start = match start {
                Start::RowBias(bias) => Start::ColumnBias(bias),
                Start::ColumnBias(bias) => Start::RowBias(bias),
                other => other,
            };
            (b, b_read.flip(), a, a_read.flip(), start)
        }
    };
    // A read as it is is column-major (column stride: its rows); read
    // transposed, it is the row-major m × k of the stored k × m.
    let (m, k, a_rows) = match a_read {
        Read::AsIs => (a.nrows(), a.ncols(), false),
        Read::Transposed => (a.ncols(), a.nrows(), true),
    };
    let (c_rows, c_cols) = dst.shape();
    // B read as it is is column-major (column stride: its rows); read
    // transposed, it is the row-major k × n of the stored n × k.
    let (b_k, n, b_rows) = match b_read {
        Read::AsIs => (b.nrows(), b.ncols(), false),
        Read::Transposed => (b.ncols(), b.nrows(), true),
    };
    if b_k != k || (c_rows, c_cols) != (m, n) {
        return false;
    }
    let strides = super::small_product::Strides {
        lda: a.nrows(),
        a_rows,
        ldb: b.nrows(),
        b_rows,
        ldc: m,
    };
    let (Some(a), Some(b)) = (view::slice(a), view::slice(b)) else {
        return false;
    };
    let Some(c) = view::slice_mut(dst) else {
        return false;
    };
    T::small_product(c, start, a, b, (m, n, k), strides)
}

/// Along which side of its output a product is cut into pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// The longer side (columns on a tie).
    Longer,
    /// The rows, where there are at least 16 a piece (else as `Longer`).
    Rows,
}

/// How a weight gradient dW (`m × k`) ← dy · xᵀ is cut, with xᵀ `n × k`: into
/// blocks of its rows (the layer's units) when xᵀ has at most
/// [`SHARED_CACHED`] values, else along its longer side. Cut by units, the
/// piece of dW a thread writes is the block of the tensor that the same thread
/// updates next (the optimizer's halves, [`crate::train::optim`]), and that
/// thread's forward product reads those units' weights: the gradient and the
/// weights stay in the cache of one core instead of crossing to the other.
/// Each piece then reads all of xᵀ, which costs more than it saves once xᵀ no
/// longer fits a core's cache. Measured on two threads, in runs paired with
/// the cut along the longer side: the 784-128-10 network at batch 64 (xᵀ 50 K
/// values) took 4–8 % more steps per second with sgd (the median of 30 and 40
/// pairs), the same with adam; the 784-512-512-10 one at batch 256 (xᵀ 200 K)
/// lost 9–13 % when cut by units.
fn dw_cut(n: usize, k: usize) -> Cut {
    if n * k <= SHARED_CACHED {
        Cut::Rows
    } else {
        Cut::Longer
    }
}

/// The most values an operand every piece of a product reads may have for
/// [`dw_cut`] to cut by units (256 KB of f32).
const SHARED_CACHED: usize = 1 << 16;

/// One piece of a product: its rows of `a` (or all), its columns of `b` (or
/// all), its block of the output.
type Piece<'a, T> = (MatRef<'a, T>, MatRef<'a, T>, MatMut<'a, T>);

/// The output of `c ← a·b` cut into `pieces` blocks along its longer side, by
/// shape alone: at multiples of 16 (one AVX-512 register of f32) where the side
/// allows, so that every piece's kernel runs whole registers; faer computes
/// each output value the same way whatever block it is in (checked by the
/// tests), so the cut never changes a bit.
fn product_pieces<'a, T: Float>(
    a: MatRef<'a, T>,
    b: MatRef<'a, T>,
    c: MatMut<'a, T>,
    pieces: usize,
    side_cut: Cut,
) -> impl Iterator<Item = Piece<'a, T>> {
    // Rows only where each piece gets whole registers of them: a piece of one
    // row would be a vector product, whose sums faer orders differently.
    let by_cols = match side_cut {
        Cut::Rows if c.nrows() >= 16 * pieces => false,
        _ => c.ncols() >= c.nrows(),
    };
    let side = if by_cols { c.ncols() } else { c.nrows() };
    let pieces = pieces.clamp(1, side.max(1));
    let at = move |i: usize| {
        if side >= 16 * pieces {
            (cut(side, pieces, i) + 8) / 16 * 16
        } else {
            cut(side, pieces, i)
        }
        .min(side)
    };
    let mut rest = Some((a, b, c));
    let mut done = 0;
    (0..pieces).filter_map(move |i| {
        let (a, b, c) = rest.take()?;
        let end = if i + 1 == pieces { side } else { at(i + 1) };
        let w = end.saturating_sub(done);
        let piece = if by_cols {
            let (c0, c1) = c.split_at_col_mut(w);
            let (b0, b1) = b.split_at_col(w);
            rest = Some((a, b1, c1));
            (a, b0, c0)
        } else {
            let (c0, c1) = c.split_at_row_mut(w);
            let (a0, a1) = a.split_at_row(w);
            rest = Some((a1, b, c1));
            (a0, b, c0)
        };
        done = end.max(done);
        Some(piece)
    })
}

/// Element-wise passes over at least this many values run in pieces on the
/// team's threads (with a worker already awake, a piece costs ~1 µs, the time of
/// ~8 000 relu outputs).
pub const PAR_ELEMENTS: usize = 1 << 15;

/// A split element-wise pass gets one more piece (in powers of two, up to
/// [`MAX_PIECES`]) for every this many values.
pub const PIECE_ELEMENTS: usize = 1 << 14;

/// Into how many pieces of columns a column-major `width × n` batch is cut for an
/// element-wise pass: 1 when the batch is too small to be worth it. Decided by
/// shape alone, so results never depend on the number of threads (each column is
/// computed whole by one thread).
pub fn column_pieces(width: usize, n: usize) -> usize {
    if width * n >= PAR_ELEMENTS && n >= 2 {
        piece_count(width * n, PIECE_ELEMENTS).clamp(2, n)
    } else {
        1
    }
}

/// Into how many pieces an element-wise pass over `len` values is cut (1 below
/// [`PAR_ELEMENTS`]).
pub fn element_pieces(len: usize) -> usize {
    if len >= PAR_ELEMENTS {
        piece_count(len, PIECE_ELEMENTS).max(2)
    } else {
        1
    }
}

/// `f` over the columns of a batch, in pieces of columns on the team's threads
/// when [`column_pieces`] says so: `f(first_column, a, b)` gets matching column
/// ranges of `a` (`wa` values a column) and `b` (`wb` a column).
pub fn split_columns<A: Send + Sync, B: Send>(
    a: &[A],
    wa: usize,
    b: &mut [B],
    wb: usize,
    n: usize,
    f: impl Fn(usize, &[A], &mut [B]) + Sync,
) {
    split_columns_costly(1, a, wa, b, wb, n, f);
}

/// [`split_columns`] for a pass that costs `cost` times a plain one a value (an
/// exponential, erf): cut as if each column held `cost` times its values, so that
/// smaller batches of costly values are worth pieces too (by shape alone).
pub fn split_columns_costly<A: Send + Sync, B: Send>(
    cost: usize,
    a: &[A],
    wa: usize,
    b: &mut [B],
    wb: usize,
    n: usize,
    f: impl Fn(usize, &[A], &mut [B]) + Sync,
) {
    let (a, b) = (&a[..wa * n], &mut b[..wb * n]);
    let pieces = column_pieces(wa.max(wb) * cost.max(1), n);
    if pieces < 2 {
        f(0, a, b);
        return;
    }
    let mut rest = Some((a, b));
    let parts = (0..pieces).filter_map(move |i| {
        let (a, b) = rest.take()?;
        let (first, end) = (cut(n, pieces, i), cut(n, pieces, i + 1));
        let (a0, a1) = a.split_at(wa * (end - first));
        let (b0, b1) = b.split_at_mut(wb * (end - first));
        rest = Some((a1, b1));
        Some((first, a0, b0))
    });
    run_parts(parts, |_, (first, a, b)| f(first, a, b));
}

/// [`split_columns_costly`] for a pass with two outputs of the input's width
/// (GELU's values and its kept erf terms): `f(first_column, a, b, c)` gets
/// matching column ranges of all three.
pub fn split_columns_costly_two<A: Send + Sync, B: Send, C: Send>(
    cost: usize,
    a: &[A],
    b: &mut [B],
    c: &mut [C],
    width: usize,
    n: usize,
    f: impl Fn(usize, &[A], &mut [B], &mut [C]) + Sync,
) {
    let len = width * n;
    let (a, b, c) = (&a[..len], &mut b[..len], &mut c[..len]);
    let pieces = column_pieces(width * cost.max(1), n);
    if pieces < 2 {
        f(0, a, b, c);
        return;
    }
    let mut rest = Some((a, b, c));
    let parts = (0..pieces).filter_map(move |i| {
        let (a, b, c) = rest.take()?;
        let (first, end) = (cut(n, pieces, i), cut(n, pieces, i + 1));
        let at = width * (end - first);
        let (a0, a1) = a.split_at(at);
        let (b0, b1) = b.split_at_mut(at);
        let (c0, c1) = c.split_at_mut(at);
        rest = Some((a1, b1, c1));
        Some((first, a0, b0, c0))
    });
    run_parts(parts, |_, (first, a, b, c)| f(first, a, b, c));
}

/// `f` over pieces of a slice (and the matching pieces of a second one of the same
/// length, or empty), cut by [`element_pieces`]: `f(first, a, b)`.
pub fn split_elements<A: Send + Sync, B: Send>(
    a: &[A],
    b: &mut [B],
    f: impl Fn(usize, &[A], &mut [B]) + Sync,
) {
    split_elements_costly(1, a, b, f);
}

/// [`split_elements`] for a pass that costs `cost` times a plain one a value
/// (cut as if the slices were `cost` times longer; by shape alone).
pub fn split_elements_costly<A: Send + Sync, B: Send>(
    cost: usize,
    a: &[A],
    b: &mut [B],
    f: impl Fn(usize, &[A], &mut [B]) + Sync,
) {
    let len = a.len().max(b.len());
    let pieces = element_pieces(len * cost.max(1)).min(len.max(1));
    if pieces < 2 {
        f(0, a, b);
        return;
    }
    let mut rest = Some((a, b));
    let parts = (0..pieces).filter_map(move |i| {
        let (a, b) = rest.take()?;
        let w = cut(len, pieces, i + 1) - cut(len, pieces, i);
        let (a0, a1) = a.split_at(w.min(a.len()));
        let (b0, b1) = b.split_at_mut(w.min(b.len()));
        rest = Some((a1, b1));
        Some((cut(len, pieces, i), a0, b0))
    });
    run_parts(parts, |_, (first, a, b)| f(first, a, b));
}

/// Runs both closures: in parallel when called by the leader of a team (see
/// [`pool`]), else one after the other. Each closure runs exactly once, whole,
/// on one thread; a `both` inside one of them runs its halves in turn.
pub fn both(f: impl FnOnce() + Send, g: impl FnOnce() + Send) {
    if !team_in_use() {
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

/// Restores the calling thread's team flag when a [`both`] or [`run_parts`] ends.
struct SetTeam;

impl Drop for SetTeam {
    fn drop(&mut self) {
        IN_TEAM.with(|t| t.set(true));
    }
}

/// Whether a dense layer's operands agree in shape (an engine bug otherwise:
/// the product is skipped, and debug builds stop).
fn agree(ok: bool) -> bool {
    debug_assert!(ok, "the operands of a dense layer's product do not agree");
    ok
}

/// A dense layer's weight W (`m × k`: units × inputs), or its gradient, over
/// its storage: `view` read as `read` is W. Stored as PyTorch keeps it
/// (row-major, [`Weight::rows`]), the view is Wᵀ (`k × m` column-major) read
/// transposed; stored by input (column-major, each input's `m` weights side
/// by side, as a training step may lay out the first layer's weight:
/// [`crate::train::network::Network::lay_first_weight_by_input`]), it is W's
/// own `m × k` view read as it is.
#[derive(Debug, Clone, Copy)]
pub struct Weight<V> {
    pub view: V,
    pub read: Read,
}

impl<V> Weight<V> {
    /// A row-major weight (or gradient), given as Wᵀ's `k × m` column-major view.
    pub fn rows(wt: V) -> Self {
        Weight {
            view: wt,
            read: Read::Transposed,
        }
    }
}

/// Forward of a dense layer: y (`m × n`) ← start + W·x, with W (`m × k`) as
/// `w` says and x `k × n`; y starts from 0 (`Zero`), from what it holds
/// (`Accumulate`), from a value a unit (`RowBias`, `[m]`: the bias) or a value
/// an example (`ColumnBias`, `[n]`). y is read as `y_read` says: `AsIs`, the
/// usual `m × n` column-major view; `Transposed`, the `n × m` column-major
/// view of a y laid out by unit (`m × n` row-major: each unit's n values side
/// by side). Each value is its start plus the same chain of multiply-adds
/// over `k` whatever the layouts of W and y (faer's order for `k` ≤
/// [`small_product::MAX_DEPTH`](crate::train::small_product::MAX_DEPTH) and
/// a batch of at least two rows).
pub fn w_x<T: Float>(
    w: Weight<DMatrixView<'_, T>>,
    x: DMatrixView<'_, T>,
    y: &mut DMatrixViewMut<'_, T>,
    y_read: Read,
    start: Start<'_, T>,
) {
    let (m, k) = read_shape(w.view.shape(), w.read);
    let n = x.ncols();
    let start_fits = match start {
        Start::RowBias(b) => b.len() == m,
        Start::ColumnBias(b) => b.len() == n,
        Start::Zero | Start::Accumulate => true,
    };
    if !agree(x.nrows() == k && read_shape(y.shape(), y_read) == (m, n) && start_fits) {
        return;
    }
    let accumulate = match start {
        Start::Zero => false,
        Start::Accumulate => true,
        Start::RowBias(_) | Start::ColumnBias(_) => {
            // The small kernels add the bias as they write y; else it is
            // broadcast into y first and the product accumulated onto it,
            // which gives each value the same bits.
            if small(y, y_read, start, w.view, w.read, x, Read::AsIs) {
                return;
            }
            fill_start(y, y_read, start);
            true
        }
    };
    product(y, y_read, accumulate, w.view, w.read, x, Read::AsIs);
}

/// y (`m × n`, read as `y_read` says, as in [`w_x`]) ← its start: a bias a
/// row (`[m]`) or a column (`[n]`) broadcast; nothing for `Zero` or
/// `Accumulate`.
fn fill_start<T: Float>(y: &mut DMatrixViewMut<'_, T>, y_read: Read, start: Start<'_, T>) {
    // What each column of y's storage holds: all of b, or one value of it.
    let (b, whole_columns) = match (start, y_read) {
        (Start::RowBias(b), Read::AsIs) | (Start::ColumnBias(b), Read::Transposed) => (b, true),
        (Start::RowBias(b), Read::Transposed) | (Start::ColumnBias(b), Read::AsIs) => (b, false),
        (Start::Zero | Start::Accumulate, _) => return,
    };
    let (rows, columns) = y.shape();
    match (view::slice_mut(y), whole_columns) {
        // Every column ← b, in pieces of columns on the team's threads for a
        // large batch.
        (Some(ys), true) => split_columns(b, 0, ys, rows, columns, |_, _, y| fill_columns(y, b)),
        (Some(ys), false) => {
            for (column, &v) in ys.chunks_exact_mut(rows.max(1)).zip(b) {
                column.fill(v);
            }
        }
        // A view that is not packed (the engine makes none): value by value.
        (None, _) => {
            for (j, mut column) in y.column_iter_mut().enumerate() {
                for (i, v) in column.iter_mut().enumerate() {
                    *v = if whole_columns { b[i] } else { b[j] };
                }
            }
        }
    }
}

/// Every whole column of `y` ← `b`: the first column, then the columns filled so
/// far copied after them, doubling (a copy a column of a few units was a call
/// to `memcpy` for a few bytes, 32 a step for a 32-row batch).
fn fill_columns<T: Copy>(y: &mut [T], b: &[T]) {
    let len = y.len() / b.len().max(1) * b.len();
    let y = &mut y[..len];
    let Some(first) = y.get_mut(..b.len()) else {
        return;
    };
    first.copy_from_slice(b);
    let mut filled = b.len();
    while filled < len && filled > 0 {
        let (done, rest) = y.split_at_mut(filled);
        let more = filled.min(rest.len());
        rest[..more].copy_from_slice(&done[..more]);
        filled += more;
    }
}

/// The shape of a view read as `read` says.
fn read_shape((rows, cols): (usize, usize), read: Read) -> (usize, usize) {
    match read {
        Read::AsIs => (rows, cols),
        Read::Transposed => (cols, rows),
    }
}

/// Weight gradient of a dense layer: dW (`m × k`, laid out as `dw` says, as W
/// in [`w_x`]) ← dy (`m × n`, read as `dy_read` says, as y in [`w_x`]) · xᵀ
/// (x `k × n`). Overwrites dW.
pub fn dy_xt<T: Float>(
    dy: DMatrixView<'_, T>,
    dy_read: Read,
    x: DMatrixView<'_, T>,
    dw: Weight<&mut DMatrixViewMut<'_, T>>,
) {
    let (m, n) = read_shape(dy.shape(), dy_read);
    let k = x.nrows();
    if !agree(x.ncols() == n && read_shape(dw.view.shape(), dw.read) == (m, k)) {
        return;
    }
    product_cut(
        dw.view,
        dw.read,
        false,
        dy,
        dy_read,
        x,
        Read::Transposed,
        dw_cut(n, k),
    );
}

/// Both backward products of a dense layer: dW ← dy·xᵀ ([`dy_xt`]) and, when
/// asked, dx ← Wᵀ·dy ([`wt_dy`]), dy read as `dy_read` says. A large pair runs as one set of pieces: each
/// product whole (or, when larger than [`PIECE_WORK`], in pieces of its own),
/// side by side on the team's threads, which beats splitting each in two (fewer
/// operands packed twice); a product's values do not depend on the cut, so the
/// bits do not depend on the number of threads.
pub fn dense_backward<T: Float>(
    dy: DMatrixView<'_, T>,
    dy_read: Read,
    x: DMatrixView<'_, T>,
    w: Weight<DMatrixView<'_, T>>,
    dw: Weight<&mut DMatrixViewMut<'_, T>>,
    dx: Option<&mut DMatrixViewMut<'_, T>>,
) {
    let (m, n) = read_shape(dy.shape(), dy_read);
    let work = m * x.nrows() * n;
    match dx {
        Some(dx) if work >= PAR_WORK => {
            let k = x.nrows();
            let shapes = x.ncols() == n
                && read_shape(w.view.shape(), w.read) == (m, k)
                && read_shape(dw.view.shape(), dw.read) == (m, k);
            if !agree(shapes && dx.shape() == (k, n)) {
                return;
            }
            let read = (
                view::faer_ref(dy, dy_read),
                view::faer_ref(x, Read::Transposed),
                view::faer_ref(w.view, w.read.flip()),
            );
            if let (Some(dyv), Some(xtv), Some(wtv)) = read {
                let write = (
                    view::faer_mut(dw.view, dw.read),
                    view::faer_mut(dx, Read::AsIs),
                );
                if let (Some(dwv), Some(dxv)) = write {
                    // Both products' pieces together fill at most MAX_PIECES
                    // slots, and the team's share ([`product_pieces_at_most`]).
                    let pieces = piece_count(work, PIECE_WORK)
                        .min(MAX_PIECES / 2)
                        .min((product_pieces_at_most() / 2).max(1));
                    let parts = product_pieces(dyv, xtv, dwv, pieces, dw_cut(n, k))
                        .chain(product_pieces(wtv, dyv, dxv, pieces, Cut::Longer));
                    run_parts(parts, |_, (a, b, c)| T::matmul(c, false, a, b));
                    return;
                }
            }
            dy_xt(dy, dy_read, x, dw);
            wt_dy(w, dy, dy_read, dx);
        }
        dx => {
            dy_xt(dy, dy_read, x, dw);
            if let Some(dx) = dx {
                wt_dy(w, dy, dy_read, dx);
            }
        }
    }
}

/// Input gradient of a dense layer: dx (`k × n`) ← Wᵀ · dy, with W (`m × k`)
/// as `w` says (as in [`w_x`]) and dy `m × n` (read as `dy_read` says, as y in
/// [`w_x`]). Overwrites dx.
pub fn wt_dy<T: Float>(
    w: Weight<DMatrixView<'_, T>>,
    dy: DMatrixView<'_, T>,
    dy_read: Read,
    dx: &mut DMatrixViewMut<'_, T>,
) {
    let (m, k) = read_shape(w.view.shape(), w.read);
    let (dy_rows, n) = read_shape(dy.shape(), dy_read);
    if !agree(dy_rows == m && dx.shape() == (k, n)) {
        return;
    }
    product(dx, Read::AsIs, false, w.view, w.read.flip(), dy, dy_read);
}

/// Σ v², in f64, over 32 interleaved lanes (so it vectorises, as four
/// independent chains of additions) added up in a fixed order: the same bits on
/// every run and any number of threads. A vector of at least [`PAR_ELEMENTS`]
/// values is summed as two fixed halves (on both threads) added at the end.
pub fn sum_squares<T: Float>(v: &[T]) -> f64 {
    if v.len() >= PAR_ELEMENTS {
        let (a, b) = v.split_at(v.len() / 2);
        let (mut sa, mut sb) = (0.0, 0.0);
        both(|| sa = sum_squares_block(a), || sb = sum_squares_block(b));
        return sa + sb;
    }
    sum_squares_block(v)
}

/// Lanes of [`sum_squares_block`]: four vectors of eight f64.
pub(crate) const SQUARE_LANES: usize = 32;

multiversion! {
    /// Σ v² on the calling thread, in the fixed order [`sum_squares`] uses for each
    /// of its parts: lane l (of 32) adds the squares of values l, l + 32, l + 64,
    /// … in turn; the four groups of eight lanes are added as (0 + 1) + (2 + 3),
    /// and the eight lanes of that as ((0+4) + (1+5)) + ((2+6) + (3+7)).
    ///
    /// Why 32 lanes: each lane is a chain of dependent additions (3–4 cycles
    /// each), and one vector of eight lanes left the adders idle most of the
    /// time; four vectors are four chains in flight. On the 64-32-10 network
    /// at batch 16 the pass over the gradient took a tenth of the step with
    /// eight lanes (round 14, BENCHMARKS.md). (The square of an f32 is exact in
    /// f64, so only the order of the additions decides the bits.)
    pub fn sum_squares_block<T: Float>(v: &[T]) -> f64 {
        let mut lanes = SquareLanes::new();
        let chunks = v.chunks_exact(SQUARE_LANES);
        let rest = chunks.remainder();
        for c in chunks {
            lanes.add_chunk(c);
        }
        lanes.add_rest(rest);
        lanes.total()
    }
}

/// The 32 lanes of [`sum_squares_block`], for a pass that sums the squares of
/// what it reads while doing something else with it (the fused sgd update):
/// chunks of [`SQUARE_LANES`] values in order, then the rest, then
/// [`SquareLanes::total`] give the bits of `sum_squares_block` of the values.
pub(crate) struct SquareLanes([[f64; 8]; 4]);

impl SquareLanes {
    #[inline(always)]
    pub(crate) fn new() -> Self {
        SquareLanes([[0.0; 8]; 4])
    }

    /// Adds the squares of one chunk of [`SQUARE_LANES`] values (more are
    /// ignored).
    #[inline(always)]
    pub(crate) fn add_chunk<T: Float>(&mut self, c: &[T]) {
        for (a, part) in self.0.iter_mut().zip(c.chunks_exact(8)) {
            for (l, &x) in a.iter_mut().zip(part) {
                let x = x.to_f64();
                *l += x * x;
            }
        }
    }

    /// Adds the squares of the last values (fewer than a chunk), lane by lane
    /// from the first.
    #[inline(always)]
    pub(crate) fn add_rest<T: Float>(&mut self, rest: &[T]) {
        for (a, part) in self.0.iter_mut().zip(rest.chunks(8)) {
            for (l, &x) in a.iter_mut().zip(part) {
                let x = x.to_f64();
                *l += x * x;
            }
        }
    }

    /// The lanes added in their fixed order.
    #[inline(always)]
    pub(crate) fn total(self) -> f64 {
        // In registers. (An earlier round passed the lanes through `black_box`, so
        // that the compiler kept whole vectors in the loop; today's compiler
        // does so without it, and the lanes no longer start each call as
        // zeros stored to the stack and loaded back: the 64-32-10 step's fused
        // sgd pass, four tensors a step, ~1.5 % of the step faster.)
        let [a0, a1, a2, a3] = self.0;
        let l: [f64; 8] = std::array::from_fn(|j| (a0[j] + a1[j]) + (a2[j] + a3[j]));
        ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))
    }
}

multiversion! {
    /// db ← Σ over the n columns of dy (`units × n`) of rows first.., in column
    /// order (a dense layer's bias gradient, batch norm's means).
    ///
    /// Up to 32 rows are summed in registers (`sum_columns_narrow`), more
    /// through `db` itself. Each row's sum is the same chain of additions
    /// either way, so the bits do not depend on the path.
    pub fn sum_columns<T: Float>(dy: &[T], db: &mut [T], units: usize, first: usize, n: usize) {
        let dy = &dy[..units * n];
        match db.len() {
            0..=8 => return sum_columns_narrow::<T, 8>(dy, db, units, first, n),
            9..=16 => return sum_columns_narrow::<T, 16>(dy, db, units, first, n),
            17..=32 => return sum_columns_narrow::<T, 32>(dy, db, units, first, n),
            _ => {}
        }
        db.fill(T::zero());
        for col in dy.chunks_exact(units.max(1)) {
            for (g, &d) in db.iter_mut().zip(&col[first..]) {
                *g += d;
            }
        }
    }
}

/// [`sum_columns`] of at most `W` rows in `W` lanes that stay in registers
/// across the columns (through `db` each column's additions wait on a store
/// and a load: 4 % of the 64-32-10 network's step, round 14). The lanes past
/// the rows read the next column's values and are never stored.
#[inline(always)]
fn sum_columns_narrow<T: Float, const W: usize>(
    dy: &[T],
    db: &mut [T],
    units: usize,
    first: usize,
    n: usize,
) {
    let mut acc = [T::zero(); W];
    // Columns whose W values from `first` lie within dy.
    let whole = match dy.len().checked_sub(first + W) {
        Some(room) => (room / units.max(1) + 1).min(n),
        None => 0,
    };
    for j in 0..whole {
        let at = j * units + first;
        for (a, &d) in acc.iter_mut().zip(&dy[at..at + W]) {
            *a += d;
        }
    }
    for j in whole..n {
        let rest = dy.get(j * units + first..).unwrap_or(&[]);
        for (a, &d) in acc.iter_mut().zip(rest) {
            *a += d;
        }
    }
    for (g, &a) in db.iter_mut().zip(&acc) {
        *g = a;
    }
}

multiversion! {
    /// sums ← Σ dy and products ← Σ dy·x over the columns of dy and x (both
    /// `units × n`) of rows first.., each in column order: the gradients of a
    /// normalisation's shift and scale (batch norm, layer norm).
    pub fn sum_columns_and_products<T: Float>(
        dy: &[T],
        x: &[T],
        units: usize,
        first: usize,
        sums: &mut [T],
        products: &mut [T],
    ) {
        sums.fill(T::zero());
        products.fill(T::zero());
        let len = sums.len().min(products.len());
        let (last, products) = (first + len, &mut products[..len]);
        for (dc, xc) in dy.chunks_exact(units.max(1)).zip(x.chunks_exact(units.max(1))) {
            let pairs = dc[first..last].iter().zip(&xc[first..last]);
            for ((s, t), (&d, &v)) in sums.iter_mut().zip(products.iter_mut()).zip(pairs) {
                *s += d;
                *t += d * v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            w_x(
                Weight::rows(view::cols(&w, k, m)),
                view::cols(&x, k, n),
                &mut view::cols_mut(&mut y, m, n),
                Read::AsIs,
                Start::Accumulate,
            );
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
            dy_xt(
                view::cols(&dy, m, n),
                Read::AsIs,
                view::cols(&x, k, n),
                Weight::rows(&mut view::cols_mut(&mut dw, k, m)),
            );
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
            wt_dy(
                Weight::rows(view::cols(&w, k, m)),
                view::cols(&dy, m, n),
                Read::AsIs,
                &mut view::cols_mut(&mut dx, k, n),
            );
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

    /// A dense layer's three products in f64 by definition (y starts at 0.25,
    /// the bias; dW and dx are overwritten).
    fn reference_dense<T: Float>(
        w: &[T],
        x: &[T],
        dy: &[T],
        (m, k, n): (usize, usize, usize),
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let f = |v: T| v.to_f64();
        let y = (0..n)
            .flat_map(|j| (0..m).map(move |i| (i, j)))
            .map(|(i, j)| {
                0.25 + (0..k)
                    .map(|p| f(w[i * k + p]) * f(x[j * k + p]))
                    .sum::<f64>()
            })
            .collect();
        let dw = (0..m)
            .flat_map(|i| (0..k).map(move |p| (i, p)))
            .map(|(i, p)| {
                (0..n)
                    .map(|j| f(dy[j * m + i]) * f(x[j * k + p]))
                    .sum::<f64>()
            })
            .collect();
        let dx = (0..n)
            .flat_map(|j| (0..k).map(move |p| (p, j)))
            .map(|(p, j)| {
                (0..m)
                    .map(|i| f(w[i * k + p]) * f(dy[j * m + i]))
                    .sum::<f64>()
            })
            .collect();
        (y, dw, dx)
    }

    /// The three products of a dense layer agree with their definition for
    /// every shape class of small layers (fewer inputs than a vector, a
    /// remainder, empty dimensions, a single value, wide and narrow layers).
    fn dense_products_match_their_definition<T: Float>(tol: f64) {
        let val = |i: usize, a: usize, p: usize| {
            T::of((((i * a) % p) as f64 / p as f64 - 0.5) * 1.7 + 1e-3 * (i % 7) as f64)
        };
        for (m, k, n) in [
            (5, 10, 32),
            (2, 5, 32),
            (3, 8, 9),
            (7, 17, 5),
            (16, 16, 9),
            (1, 1, 1),
            (4, 3, 0),
            (0, 4, 3),
            (4, 0, 3),
            (2, 70, 3),
            (70, 2, 3),
            (1, 100, 1),
            (33, 12, 10),
        ] {
            let w: Vec<T> = (0..m * k).map(|i| val(i, 7919, 997)).collect();
            let x: Vec<T> = (0..k * n).map(|i| val(i, 104_729, 1009)).collect();
            let dy: Vec<T> = (0..m * n).map(|i| val(i, 31, 101)).collect();
            let want = reference_dense(&w, &x, &dy, (m, k, n));
            let mut y = vec![T::of(0.25); m * n];
            w_x(
                Weight::rows(view::cols(&w, k, m)),
                view::cols(&x, k, n),
                &mut view::cols_mut(&mut y, m, n),
                Read::AsIs,
                Start::Accumulate,
            );
            let mut dw = vec![T::of(9.0); m * k];
            dy_xt(
                view::cols(&dy, m, n),
                Read::AsIs,
                view::cols(&x, k, n),
                Weight::rows(&mut view::cols_mut(&mut dw, k, m)),
            );
            let mut dx = vec![T::of(9.0); k * n];
            wt_dy(
                Weight::rows(view::cols(&w, k, m)),
                view::cols(&dy, m, n),
                Read::AsIs,
                &mut view::cols_mut(&mut dx, k, n),
            );
            let close = |got: &[T], want: &[f64], what: &str| {
                assert_eq!(got.len(), want.len(), "{what} {m}×{k}×{n}");
                for (g, w) in got.iter().zip(want) {
                    let d = (g.to_f64() - w).abs();
                    assert!(
                        d <= tol * (1.0 + w.abs() * k.max(m).max(n) as f64),
                        "{what} {m}×{k}×{n}: {g:?} vs {w}"
                    );
                }
            };
            close(&y, &want.0, "w·x");
            close(&dw, &want.1, "dy·xᵀ");
            close(&dx, &want.2, "wᵀ·dy");
        }
    }

    #[test]
    fn dense_products_match_their_definition_f32() {
        dense_products_match_their_definition::<f32>(1e-6);
    }

    #[test]
    fn dense_products_match_their_definition_f64() {
        dense_products_match_their_definition::<f64>(1e-14);
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
        let (wt, xv) = (view::cols(&w, k, m), view::cols(&x, k, n));
        let mut alone = vec![0.0f32; m * n];
        w_x(
            Weight::rows(wt),
            xv,
            &mut view::cols_mut(&mut alone, m, n),
            Read::AsIs,
            Start::Zero,
        );
        let mut pooled = vec![0.0f32; m * n];
        pool(2, || {
            w_x(
                Weight::rows(wt),
                xv,
                &mut view::cols_mut(&mut pooled, m, n),
                Read::AsIs,
                Start::Zero,
            )
        });
        assert_eq!(alone, pooled);
        let mut wide = vec![0.0f32; m * n];
        // a product wider than tall splits by columns
        let mut alone_t = vec![0.0f32; k * n];
        wt_dy(
            Weight::rows(wt),
            view::cols(&alone, m, n),
            Read::AsIs,
            &mut view::cols_mut(&mut alone_t, k, n),
        );
        let mut pooled_t = vec![0.0f32; k * n];
        pool(2, || {
            wt_dy(
                Weight::rows(wt),
                view::cols(&pooled, m, n),
                Read::AsIs,
                &mut view::cols_mut(&mut pooled_t, k, n),
            )
        });
        assert_eq!(alone_t, pooled_t);
        wide.copy_from_slice(&alone);
        assert_eq!(wide, pooled);
    }

    /// faer computes every output value the same way whatever block of the output
    /// it is in: a product cut into 2, 4, 8 or 16 pieces (on a team of three
    /// threads, or in order) has the bits of the whole product, for the three
    /// products of a dense layer, in f32 and f64.
    fn pieces_give_the_whole_product<T: Float + std::fmt::Debug>() {
        let val = |i: usize, m: usize, p: usize| T::of(((i * m) % p) as f64 / (p / 2) as f64 - 1.0);
        for (m, k, n) in [
            (256, 784, 128),
            (128, 256, 128),
            (512, 512, 256),
            (10, 128, 128),
            (300, 33, 70),
        ] {
            let w: Vec<T> = (0..m * k).map(|i| val(i, 7919, 997)).collect();
            let x: Vec<T> = (0..k * n).map(|i| val(i, 104_729, 1009)).collect();
            let dy: Vec<T> = (0..m * n).map(|i| val(i, 31, 101)).collect();
            let products = [
                (&w, Mat::rows(m, k), &x, Mat::cols(k, n), Mat::cols(m, n)),
                (
                    &dy,
                    Mat::cols(m, n),
                    &x,
                    Mat::cols(k, n).t(),
                    Mat::rows(m, k),
                ),
                (
                    &w,
                    Mat::rows(m, k).t(),
                    &dy,
                    Mat::cols(m, n),
                    Mat::cols(k, n),
                ),
            ];
            for (a, am, b, bm, cm) in products {
                let (Some(av), Some(bv)) = (am.view(a), bm.view(b)) else {
                    panic!("views")
                };
                let mut whole = vec![T::zero(); cm.len()];
                T::matmul(cm.view_mut(&mut whole).expect("view"), false, av, bv);
                for pieces in [2, 3, 4, 6, 8, 16] {
                    for (threads, side) in [(1, Cut::Longer), (3, Cut::Longer), (3, Cut::Rows)] {
                        let mut c = vec![T::one(); cm.len()];
                        let cv = cm.view_mut(&mut c).expect("view");
                        pool(threads, || {
                            run_parts(product_pieces(av, bv, cv, pieces, side), |_, (a, b, c)| {
                                T::matmul(c, false, a, b)
                            })
                        });
                        assert_eq!(
                            c, whole,
                            "{m}×{k}×{n}, {pieces} pieces cut {side:?}, {threads} threads"
                        );
                    }
                }
            }
        }
    }

    /// `c ← a·b` (or `c + a·b`) by faer's kernel on the layouts given: the
    /// reference of [`small_products_have_faer_bits`].
    fn by_faer(a: &[f32], am: Mat, b: &[f32], bm: Mat, c: &mut [f32], cm: Mat, accumulate: bool) {
        let (Some(fa), Some(fb)) = (am.view(a), bm.view(b)) else {
            panic!("views")
        };
        f32::matmul(cm.view_mut(c).expect("view"), accumulate, fa, fb);
    }

    /// y (`m × n`, all NaN, laid out as `y_read` says) ← b + W·x by [`w_x`]
    /// (the small kernel, or b broadcast into y and the product accumulated
    /// onto it where the kernel declines). Whether the small kernel takes it.
    fn biased_forward(
        w: Weight<DMatrixView<'_, f32>>,
        x: DMatrixView<'_, f32>,
        bias: &[f32],
        y: &mut [f32],
        y_read: Read,
    ) -> bool {
        let (m, n) = (bias.len(), x.ncols());
        let (rows, cols) = match y_read {
            Read::AsIs => (m, n),
            Read::Transposed => (n, m),
        };
        let start = Start::RowBias(bias);
        w_x(w, x, &mut view::cols_mut(y, rows, cols), y_read, start);
        let mut probe = vec![f32::NAN; m * n];
        let mut probe = view::cols_mut(&mut probe, rows, cols);
        small(&mut probe, y_read, start, w.view, w.read, x, Read::AsIs)
    }

    /// `w_x` from a bias a unit or a value an example, with y by example or
    /// by unit, gives each value the bits of the start written into y
    /// value by value and the product accumulated onto it: where the small
    /// kernel takes the product and where it does not (depth past its 64).
    #[test]
    fn every_start_of_w_x_is_the_start_plus_the_product() {
        let val = |i: usize, a: usize| ((i * a) % 97) as f32 / 97.0 - 0.5;
        for (m, k, n) in [
            (10, 32, 16),
            (32, 64, 16),
            (5, 7, 3),
            (24, 100, 16),
            (16, 8, 1),
        ] {
            let w: Vec<f32> = (0..m * k).map(|i| val(i, 31)).collect();
            let x: Vec<f32> = (0..k * n).map(|i| val(i, 17)).collect();
            let by_unit: Vec<f32> = (0..m).map(|i| val(i, 13) * 4.0).collect();
            let by_example: Vec<f32> = (0..n).map(|j| val(j, 11) * 4.0).collect();
            for y_read in [Read::AsIs, Read::Transposed] {
                let (rows, cols) = match y_read {
                    Read::AsIs => (m, n),
                    Read::Transposed => (n, m),
                };
                // Where logical y[i, j] sits in the storage.
                let at = |i: usize, j: usize| match y_read {
                    Read::AsIs => i + j * m,
                    Read::Transposed => j + i * n,
                };
                for per_unit in [true, false] {
                    let start = if per_unit {
                        Start::RowBias(&by_unit[..])
                    } else {
                        Start::ColumnBias(&by_example[..])
                    };
                    let value = |i: usize, j: usize| {
                        if per_unit {
                            by_unit[i]
                        } else {
                            by_example[j]
                        }
                    };
                    let w_view = || Weight::rows(view::cols(&w, k, m));
                    let mut y = vec![f32::NAN; m * n];
                    w_x(
                        w_view(),
                        view::cols(&x, k, n),
                        &mut view::cols_mut(&mut y, rows, cols),
                        y_read,
                        start,
                    );
                    let mut want = vec![f32::NAN; m * n];
                    for i in 0..m {
                        for j in 0..n {
                            want[at(i, j)] = value(i, j);
                        }
                    }
                    let mut wv = view::cols_mut(&mut want, rows, cols);
                    w_x(
                        w_view(),
                        view::cols(&x, k, n),
                        &mut wv,
                        y_read,
                        Start::Accumulate,
                    );
                    assert_eq!(bits(&y), bits(&want), "{m}×{k}×{n}, {y_read:?}, {start:?}");
                }
            }
        }
    }

    /// Filling by doubling puts the bias in every whole column, for any number
    /// of columns, and leaves a ragged tail alone.
    #[test]
    fn bias_fills_every_column() {
        let b = [1.5f32, -2.0, 3.25];
        for n in [0, 1, 2, 3, 5, 8, 33] {
            let mut y = vec![9.0f32; 3 * n + 2];
            fill_columns(&mut y, &b);
            for col in y.chunks_exact(3) {
                assert_eq!(col, b, "{n} columns");
            }
            assert_eq!(&y[3 * n..], [9.0, 9.0], "{n} columns");
        }
        let mut none: [f32; 2] = [7.0, 7.0];
        fill_columns(&mut none, &[]);
        assert_eq!(none, [7.0, 7.0]);
    }

    /// The bits of each value.
    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|v| v.to_bits()).collect()
    }

    /// The small products of [`crate::train::small_product`] have faer's bits:
    /// both backward products of a dense layer (dW through the transposed
    /// product, dx directly) and an accumulating product with `B` read either
    /// way, for rows of one to four vectors, depths 2 to 64 and any width, at
    /// every SIMD level (the kernel runs at V4 and declines below it); and the
    /// kernel does take them where the CPU has AVX-512.
    #[test]
    fn small_products_have_faer_bits() {
        use crate::train::simd::{self, Level};
        let val = |i: usize, m: usize, p: usize| ((i * m) % p) as f32 / (p / 2) as f32 - 1.0 + 1e-3;
        let (mut taken, mut taken_transposed) = (0, 0);
        let levels = [Level::V4, Level::V3, Level::Baseline];
        for level in levels {
            simd::force(Some(level));
            for rows in [16, 32, 48, 64] {
                for depth in [2, 3, 10, 16, 31, 64] {
                    for width in [2, 3, 5, 8, 10, 17, 32] {
                        if rows * depth * width > super::super::small_product::SMALL_WORK {
                            continue;
                        }
                        let a: Vec<f32> = (0..rows * depth).map(|i| val(i, 7919, 997)).collect();
                        let b: Vec<f32> =
                            (0..depth * width).map(|i| val(i, 104_729, 1009)).collect();
                        let c0: Vec<f32> = (0..rows * width).map(|i| val(i, 31, 101)).collect();
                        // (b read as it is or transposed, accumulate)
                        for (b_read, accumulate) in [
                            (Read::AsIs, false),
                            (Read::AsIs, true),
                            (Read::Transposed, false),
                            (Read::Transposed, true),
                        ] {
                            let (bm, bv) = match b_read {
                                Read::AsIs => {
                                    (Mat::cols(depth, width), view::cols(&b, depth, width))
                                }
                                Read::Transposed => {
                                    (Mat::cols(width, depth).t(), view::cols(&b, width, depth))
                                }
                            };
                            let am = Mat::cols(rows, depth);
                            let cm = Mat::cols(rows, width);
                            let mut want = c0.clone();
                            by_faer(&a, am, &b, bm, &mut want, cm, accumulate);
                            let mut got = c0.clone();
                            product(
                                &mut view::cols_mut(&mut got, rows, width),
                                Read::AsIs,
                                accumulate,
                                view::cols(&a, rows, depth),
                                Read::AsIs,
                                bv,
                                b_read,
                            );
                            assert!(
                                bits(&got) == bits(&want),
                                "{rows}×{depth}×{width} {b_read:?} acc {accumulate} at {level:?}"
                            );
                            let mut again = c0.clone();
                            if level == Level::V4
                                && simd::detected() == Level::V4
                                && small(
                                    &mut view::cols_mut(&mut again, rows, width),
                                    Read::AsIs,
                                    Start::accumulating(accumulate),
                                    view::cols(&a, rows, depth),
                                    Read::AsIs,
                                    bv,
                                    b_read,
                                )
                            {
                                taken += 1;
                            }
                        }
                        // A dense layer's backward products, `rows` inputs, `width`
                        // units, `depth` examples: dW ← dy·xᵀ into Wᵀ's view.
                        let (units, inputs, n) = (width, rows, depth);
                        let x = &a;
                        let dy: Vec<f32> = (0..units * n).map(|i| val(i, 13, 103)).collect();
                        let mut dw = vec![9.0; units * inputs];
                        let mut want = vec![7.0; units * inputs];
                        dy_xt(
                            view::cols(&dy, units, n),
                            Read::AsIs,
                            view::cols(x, inputs, n),
                            Weight::rows(&mut view::cols_mut(&mut dw, inputs, units)),
                        );
                        by_faer(
                            &dy,
                            Mat::cols(units, n),
                            x,
                            Mat::cols(inputs, n).t(),
                            &mut want,
                            Mat::rows(units, inputs),
                            false,
                        );
                        assert_eq!(
                            bits(&dw),
                            bits(&want),
                            "dW {units}×{inputs}, batch {n}, at {level:?}"
                        );
                        // dx ← Wᵀ·dy with `depth` units now (inputs `rows`, batch `width`).
                        let (units, inputs, n) = (depth, rows, width);
                        let w: Vec<f32> = (0..units * inputs).map(|i| val(i, 17, 107)).collect();
                        let dy: Vec<f32> = (0..units * n).map(|i| val(i, 19, 109)).collect();
                        let mut dx = vec![f32::NAN; inputs * n];
                        let mut want = vec![0.0; inputs * n];
                        wt_dy(
                            Weight::rows(view::cols(&w, inputs, units)),
                            view::cols(&dy, units, n),
                            Read::AsIs,
                            &mut view::cols_mut(&mut dx, inputs, n),
                        );
                        by_faer(
                            &w,
                            Mat::rows(units, inputs).t(),
                            &dy,
                            Mat::cols(units, n),
                            &mut want,
                            Mat::cols(inputs, n),
                            false,
                        );
                        assert_eq!(
                            bits(&dx),
                            bits(&want),
                            "dx {units}×{inputs}, batch {n}, at {level:?}"
                        );
                        // The forward product with the output by unit, yᵀ ← b +
                        // xᵀ·Wᵀ (`width` units, `depth` inputs, batch `rows`): x
                        // by example is a row-major xᵀ, copied column-major.
                        let (units, inputs, n) = (width, depth, rows);
                        let w: Vec<f32> = (0..units * inputs).map(|i| val(i, 23, 113)).collect();
                        let bias: Vec<f32> = (0..units).map(|i| val(i, 29, 127)).collect();
                        let x = &a;
                        let mut want: Vec<f32> = (0..units * n).map(|i| bias[i / n]).collect();
                        by_faer(
                            x,
                            Mat::cols(inputs, n).t(),
                            &w,
                            Mat::rows(units, inputs).t(),
                            &mut want,
                            Mat::cols(n, units),
                            true,
                        );
                        let mut y = vec![f32::NAN; units * n];
                        let w_rows = Weight::rows(view::cols(&w, inputs, units));
                        let x_view = view::cols(x, inputs, n);
                        if biased_forward(w_rows, x_view, &bias, &mut y, Read::Transposed) {
                            taken_transposed += 1;
                        }
                        // Without the bias, through w_x.
                        let mut plain = vec![f32::NAN; units * n];
                        w_x(
                            Weight::rows(view::cols(&w, inputs, units)),
                            view::cols(x, inputs, n),
                            &mut view::cols_mut(&mut plain, n, units),
                            Read::Transposed,
                            Start::Zero,
                        );
                        let mut plain_want = vec![0.0f32; units * n];
                        by_faer(
                            x,
                            Mat::cols(inputs, n).t(),
                            &w,
                            Mat::rows(units, inputs).t(),
                            &mut plain_want,
                            Mat::cols(n, units),
                            false,
                        );
                        assert_eq!(
                            bits(&plain),
                            bits(&plain_want),
                            "yᵀ ← xᵀ·Wᵀ, {units}×{inputs}"
                        );
                        assert_eq!(
                            bits(&y),
                            bits(&want),
                            "yᵀ ← b + xᵀ·Wᵀ, {units}×{inputs}, batch {n}, at {level:?}"
                        );
                        // The forward product with W stored by input and y by
                        // example, y ← b + W·x (`rows` units, `depth` inputs,
                        // batch `width`): the bias a value per row of y.
                        let (units, inputs, n) = (rows, depth, width);
                        let w_by_input = &a;
                        let x: Vec<f32> = (0..inputs * n).map(|i| val(i, 37, 131)).collect();
                        let bias: Vec<f32> = (0..units).map(|i| val(i, 41, 137)).collect();
                        let mut by_example_want: Vec<f32> =
                            (0..units * n).map(|i| bias[i % units]).collect();
                        by_faer(
                            w_by_input,
                            Mat::cols(units, inputs),
                            &x,
                            Mat::cols(inputs, n),
                            &mut by_example_want,
                            Mat::cols(units, n),
                            true,
                        );
                        let by_input = Weight {
                            view: view::cols(w_by_input, units, inputs),
                            read: Read::AsIs,
                        };
                        let mut y = vec![f32::NAN; units * n];
                        let x_view = view::cols(&x, inputs, n);
                        if biased_forward(by_input, x_view, &bias, &mut y, Read::AsIs) {
                            taken += 1;
                        }
                        assert_eq!(
                            bits(&y),
                            bits(&by_example_want),
                            "y ← b + W·x, {units}×{inputs} by input, batch {n}, at {level:?}"
                        );
                    }
                }
            }
        }
        simd::force(None);
        // (Other tests force levels too, for moments: most of these, not all.)
        if simd::detected() == Level::V4 {
            assert!(taken > 100, "the small kernel took only {taken} products");
            assert!(
                taken_transposed > 20,
                "the small kernel took only {taken_transposed} products of a row-major A"
            );
        }
    }

    #[test]
    fn pieces_give_the_whole_product_f32() {
        pieces_give_the_whole_product::<f32>();
    }

    #[test]
    fn pieces_give_the_whole_product_f64() {
        pieces_give_the_whole_product::<f64>();
    }

    /// The team a network keeps busy: its largest product's pieces.
    #[test]
    fn useful_threads_follow_the_largest_product() {
        let step =
            |n: usize, widths: &[usize]| useful_threads(widths.windows(2).map(|w| w[0] * w[1] * n));
        assert_eq!(step(64, &[784, 128, 10]), 2);
        assert_eq!(step(128, &[784, 256, 128, 10]), 4);
        assert_eq!(step(256, &[784, 512, 512, 10]), 16);
        assert_eq!(step(1024, &[4096, 4096]), MAX_PIECES);
        assert_eq!(step(16, &[64, 32, 10]), 2);
        assert_eq!(useful_threads([]), 2);
    }

    /// Piece counts are powers of two from 1 to MAX_PIECES, and the cuts tile.
    #[test]
    fn piece_counts_and_cuts() {
        assert_eq!(piece_count(0, PIECE_WORK), 1);
        assert_eq!(piece_count(3 * PIECE_WORK, PIECE_WORK), 2);
        assert_eq!(piece_count(8 * PIECE_WORK, PIECE_WORK), 8);
        assert_eq!(piece_count(1000 * PIECE_WORK, PIECE_WORK), MAX_PIECES);
        assert_eq!(column_pieces(10, 100), 1);
        assert_eq!(column_pieces(256, 128), 2);
        assert_eq!(column_pieces(512, 256), 8);
        assert_eq!(element_pieces(PAR_ELEMENTS - 1), 1);
        assert_eq!(element_pieces(PAR_ELEMENTS), 2);
        for (len, p) in [(10, 3), (784, 16), (7, 7)] {
            assert_eq!((cut(len, p, 0), cut(len, p, p)), (0, len));
            assert!((0..p).all(|i| cut(len, p, i) <= cut(len, p, i + 1)));
        }
    }

    /// Every part runs once, with its index, whatever the team.
    #[test]
    fn every_part_runs_once() {
        for threads in [1, 2, 5] {
            let mut hits = [0usize; MAX_PIECES];
            pool(threads, || {
                run_parts(hits.iter_mut().enumerate().take(11), |i, (j, h)| {
                    assert_eq!(i, j);
                    *h += 1 + i;
                })
            });
            let want: Vec<usize> = (0..MAX_PIECES)
                .map(|i| if i < 11 { i + 1 } else { 0 })
                .collect();
            assert_eq!(hits.to_vec(), want);
        }
    }

    /// The order the logged gradient norms' bits depend on: lane l (of 32) adds
    /// the squares of values l, l + 32, l + 64, … in turn, the four groups of
    /// eight lanes are added as (0 + 1) + (2 + 3), and the eight lanes of that
    /// are paired (0+4, 1+5, 2+6, 3+7) and added as a tree; at every level, on
    /// values whose sums round.
    #[test]
    fn sum_squares_block_is_32_lanes_in_order() {
        use crate::train::simd::{force, Level};
        let v: Vec<f32> = (0..1000)
            .map(|i| ((i as f32) * 0.377).sin() * 1e3 + 1e-3)
            .collect();
        for level in [Level::Baseline, Level::V3, Level::V4] {
            force(Some(level));
            for len in [0, 1, 5, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 999, 1000] {
                let part = &v[..len];
                let mut lanes = [0.0f64; 32];
                for (i, &x) in part.iter().enumerate() {
                    let x = f64::from(x);
                    lanes[i % 32] += x * x;
                }
                let g: Vec<f64> = (0..8)
                    .map(|j| (lanes[j] + lanes[8 + j]) + (lanes[16 + j] + lanes[24 + j]))
                    .collect();
                let want = ((g[0] + g[4]) + (g[1] + g[5])) + ((g[2] + g[6]) + (g[3] + g[7]));
                assert_eq!(
                    sum_squares_block(part).to_bits(),
                    want.to_bits(),
                    "{level:?} {len}"
                );
            }
        }
        force(None);
    }

    /// Every path of `sum_columns` (8, 16 and 32 lanes in registers, wider
    /// through `db`) gives each row's sum over the columns in column order,
    /// bit for bit, at every level: a row range from `first`, the last rows of
    /// the matrix (lanes past the end), and values whose sums round.
    #[test]
    fn sum_columns_is_each_row_in_column_order() {
        use crate::train::simd::{force, Level};
        for level in [Level::Baseline, Level::V3, Level::V4] {
            force(Some(level));
            for (units, first, len, n) in [
                (10, 0, 10, 16),
                (32, 0, 32, 16),
                (40, 3, 33, 5),
                (40, 30, 10, 7),
                (7, 2, 5, 1),
                (64, 32, 32, 9),
                (100, 0, 100, 3),
                (17, 0, 17, 0),
            ] {
                let dy: Vec<f32> = (0..units * n)
                    .map(|i| ((i as f32) * 0.377).sin() * 1e3 + 1e-3)
                    .collect();
                let want: Vec<u32> = (first..first + len)
                    .map(|r| {
                        let mut s = 0.0f32;
                        for j in 0..n {
                            s += dy[j * units + r];
                        }
                        s.to_bits()
                    })
                    .collect();
                let mut db = vec![f32::NAN; len];
                sum_columns(&dy, &mut db, units, first, n);
                let got: Vec<u32> = db.iter().map(|v| v.to_bits()).collect();
                assert_eq!(got, want, "{level:?} {units} {first} {len} {n}");
            }
        }
        force(None);
    }

    #[test]
    fn sum_squares_of_any_length() {
        for n in [0, 1, 7, 8, 9, 100, PAR_ELEMENTS + 3] {
            let v: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
            let want: f64 = v.iter().map(|&x| (x as f64) * (x as f64)).sum();
            assert!((sum_squares(&v) - want).abs() <= 1e-9 * want.max(1.0));
        }
    }

    /// The faer views a dense layer's products get from its nalgebra views are
    /// the ones they got from slices before the views (same memory, shape and
    /// strides, so the same kernel calls and bits), for every operand, including
    /// one input, one unit or one example.
    #[test]
    fn views_give_the_faer_views_of_slices() {
        fn parts<T>(m: MatRef<'_, T>) -> (*const T, usize, usize, isize, isize) {
            (
                m.as_ptr(),
                m.nrows(),
                m.ncols(),
                m.row_stride(),
                m.col_stride(),
            )
        }
        for (m, k, n) in [
            (5, 7, 3),
            (1, 7, 3),
            (5, 1, 3),
            (5, 7, 1),
            (1, 1, 1),
            (4, 1, 1),
        ] {
            let w = vec![0.5f32; m * k];
            let x = vec![0.5f32; k * n];
            let dy = vec![0.5f32; m * n];
            let (asis, tr) = (Read::AsIs, Read::Transposed);
            let pairs = [
                // W (row-major) as read by w_x; Wᵀ by wt_dy
                (
                    view::faer_ref(view::cols(&w, k, m), tr),
                    Mat::rows(m, k).view(&w),
                ),
                (
                    view::faer_ref(view::cols(&w, k, m), asis),
                    Mat::rows(m, k).t().view(&w),
                ),
                // x, and xᵀ as dy_xt reads it
                (
                    view::faer_ref(view::cols(&x, k, n), asis),
                    Mat::cols(k, n).view(&x),
                ),
                (
                    view::faer_ref(view::cols(&x, k, n), tr),
                    Mat::cols(k, n).t().view(&x),
                ),
                (
                    view::faer_ref(view::cols(&dy, m, n), asis),
                    Mat::cols(m, n).view(&dy),
                ),
            ];
            for (i, (new, old)) in pairs.into_iter().enumerate() {
                let (new, old) = (new.expect("packed"), old.expect("viewable"));
                assert_eq!(parts(new), parts(old), "operand {i} at {m}×{k}×{n}");
            }
            // dW (row-major) and y / dx, written
            let mut dw = vec![0.0f32; m * k];
            let old = parts(
                Mat::rows(m, k)
                    .view_mut(&mut dw)
                    .expect("viewable")
                    .as_ref(),
            );
            let mut dwt = view::cols_mut(&mut dw, k, m);
            let new = parts(view::faer_mut(&mut dwt, tr).expect("packed").as_ref());
            assert_eq!(new, old, "dW at {m}×{k}×{n}");
            let mut y = vec![0.0f32; m * n];
            let old = parts(Mat::cols(m, n).view_mut(&mut y).expect("viewable").as_ref());
            let mut yv = view::cols_mut(&mut y, m, n);
            let new = parts(view::faer_mut(&mut yv, asis).expect("packed").as_ref());
            assert_eq!(new, old, "y at {m}×{k}×{n}");
        }
    }

    /// Views read transposed multiply as their transposes, whole and on the team.
    #[test]
    fn transposed_views_multiply() {
        // a: 2×3 row-major, seen column-major as aᵀ (3×2); b: 3×2 column-major
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, 1.0, 2.0, 1.0, 0.0];
        let mut c = [0.0f64; 4];
        let at = view::cols(&a, 3, 2);
        let (asis, tr) = (Read::AsIs, Read::Transposed);
        let mut cv = view::cols_mut(&mut c, 2, 2);
        product(&mut cv, asis, false, at, tr, view::cols(&b, 3, 2), asis);
        // column 0 of b = (1,0,1): (4, 10); column 1 = (2,1,0): (4, 13)
        assert_eq!(c, [4.0, 10.0, 4.0, 13.0]);
        // aᵀ (3×2) · (2×1)
        let x = [1.0, 1.0];
        let mut y = [0.0f64; 3];
        let mut yv = view::cols_mut(&mut y, 3, 1);
        product(&mut yv, asis, false, at, asis, view::cols(&x, 2, 1), asis);
        assert_eq!(y, [5.0, 7.0, 9.0]);
        // the output read transposed: cᵀ ← (a·b)ᵀ, on a team, above PAR_WORK
        let (m, k, n) = (130, 110, 90);
        let a: Vec<f64> = data(m * k, 7, 11);
        let b: Vec<f64> = data(k * n, 5, 13);
        let mut ct = vec![0.0; m * n];
        let mut cv = view::cols_mut(&mut ct, n, m);
        let (av, bv) = (view::cols(&a, m, k), view::cols(&b, k, n));
        pool(3, || product(&mut cv, tr, false, av, asis, bv, asis));
        let mut want = vec![0.0; m * n];
        naive(
            &a,
            Mat::cols(m, k),
            &b,
            Mat::cols(k, n),
            &mut want,
            Mat::rows(m, n),
            false,
        );
        assert_eq!(ct, want);
    }
}
