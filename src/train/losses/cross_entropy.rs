//! `cross_entropy(label_smoothing = ε)`: `nn.CrossEntropyLoss` on logits.
//!
//! Per row with logits z (`C`), label y: lse = log Σ exp z_c,
//! loss = (1−ε)·(lse − z_y) + (ε/C)·Σ_c (lse − z_c);
//! ∂loss/∂z_c = softmax_c − (1−ε)·[c = y] − ε/C. The batch value is the row mean.
//! Shapes: z `C × n`, y `1 × n` (class indices), dz `C × n`.

use super::BatchLoss;
use crate::train::float::Float;
use crate::train::linalg;
use crate::train::simd::multiversion;
use crate::train::vmath;

pub fn forward_backward<T: Float>(
    eps: f64,
    z: &[T],
    y: &[T],
    c: usize,
    n: usize,
    dz: Option<&mut [T]>,
) -> BatchLoss {
    if !holds(z, y, c, n, dz.as_deref()) {
        return BatchLoss::UNDEFINED;
    }
    let inv_n = 1.0 / n as f64;
    let (total, correct) = match (half(c, n), dz) {
        (Some(h), Some(dz)) => {
            let (z0, z1) = z[..c * n].split_at(c * h);
            let (y0, y1) = y[..n].split_at(h);
            let (d0, d1) = dz[..c * n].split_at_mut(c * h);
            let (mut a, mut b) = ((0.0, 0), (0.0, 0));
            let mut first = || a = columns(eps, z0, y0, c, inv_n, Some(d0));
            let mut second = || b = columns(eps, z1, y1, c, inv_n, Some(d1));
            // The same halves either way: where they run changes no bit.
            if c * n >= TWO_THREADS_LOGITS {
                linalg::both(first, second);
            } else {
                first();
                second();
            }
            (a.0 + b.0, a.1 + b.1)
        }
        (_, dz) => columns(eps, &z[..c * n], &y[..n], c, inv_n, dz),
    };
    BatchLoss {
        mean: total * inv_n,
        correct,
    }
}

/// [`forward_backward`] for logits laid out by class: z and dz `c × n`
/// row-major (each class's n values side by side), as the last dense layer
/// of a training step writes them when this loss follows it
/// ([`crate::train::network::Network::lay_output_by_unit`]). Every row's
/// values are computed as `columns` computes them, in the same order, with
/// the vector lanes over 16 rows instead of along a row: the same bits, in
/// less time where a row's classes fill a vector badly (10 × 16 logits: 0.38
/// against 0.52 µs, `benches/elementwise.rs`). The loss is summed over the
/// rows in order, in the two halves [`forward_backward`] makes (here both on
/// the calling thread).
pub fn forward_backward_by_class<T: Float>(
    eps: f64,
    z: &[T],
    y: &[T],
    c: usize,
    n: usize,
    dz: Option<&mut [T]>,
) -> BatchLoss {
    if !holds(z, y, c, n, dz.as_deref()) {
        return BatchLoss::UNDEFINED;
    }
    let inv_n = 1.0 / n as f64;
    let (total, correct) = with_exps(|e| match (half(c, n), dz) {
        (Some(h), Some(dz)) => {
            let a = by_class(eps, z, y, c, n, 0, h, inv_n, Some(&mut *dz), e);
            let b = by_class(eps, z, y, c, n, h, n, inv_n, Some(dz), e);
            (a.0 + b.0, a.1 + b.1)
        }
        (_, dz) => by_class(eps, z, y, c, n, 0, n, inv_n, dz, e),
    });
    BatchLoss {
        mean: total * inv_n,
        correct,
    }
}

/// Whether z and dz (when given) hold c × n logits and y n labels.
fn holds<T: Float>(z: &[T], y: &[T], c: usize, n: usize, dz: Option<&[T]>) -> bool {
    let values = c.saturating_mul(n);
    super::fits(values, z.len(), values, dz.map(<[T]>::len)) && y.len() >= n
}

/// Where a training pass cuts a batch of n rows of c logits into two halves
/// of rows (each summed in order, then the two sums added), by shape alone:
/// two exponentials a logit make the pass costly next to its size. None: the
/// batch is summed whole.
fn half(c: usize, n: usize) -> Option<usize> {
    (c * n >= PAR_LOGITS && n >= 2).then_some(n / 2)
}

/// Rows of a block of [`by_class`]: the vector lanes of its passes (two
/// AVX-512 vectors of f64).
const LANES: usize = 16;

/// Classes whose exponentials [`by_class`] computes in one loop and keeps
/// for the gradient.
const CHUNK: usize = 16;

/// The exponentials [`by_class`] keeps for a block's gradient: CHUNK classes
/// of LANES rows.
type Exps = [f64; CHUNK * LANES];

std::thread_local! {
    /// Each thread's [`Exps`], kept: a fresh one on the stack was zeroed
    /// (a `memset` of 2 KB) at every call.
    static EXPS: std::cell::RefCell<Exps> = const { std::cell::RefCell::new([0.0; CHUNK * LANES]) };
}

/// `f` with this thread's [`Exps`] (a fresh one if it is already lent).
fn with_exps<R>(f: impl FnOnce(&mut Exps) -> R) -> R {
    EXPS.with(|kept| match kept.try_borrow_mut() {
        Ok(mut e) => f(&mut e),
        Err(_) => f(&mut [0.0; CHUNK * LANES]),
    })
}

/// The first w values of `z` in f64, as LANES lanes (those past w: 0).
#[inline(always)]
fn class_lanes<T: Float>(z: &[T], w: usize) -> [f64; LANES] {
    let mut v = [0.0f64; LANES];
    for (o, x) in v.iter_mut().zip(&z[..w]) {
        *o = x.to_f64();
    }
    v
}

/// e[jj·LANES + l] ← exp(z − max) of class j0 + jj and row k0 + l of
/// class-major logits (`· × n`), for the m classes from j0 and the w rows
/// from k0 (lanes past w: of 0).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn exps<T: Float>(
    e: &mut [f64; CHUNK * LANES],
    z: &[T],
    n: usize,
    k0: usize,
    w: usize,
    j0: usize,
    m: usize,
    max: &[f64; LANES],
) {
    for (jj, er) in e[..m * LANES].chunks_exact_mut(LANES).enumerate() {
        let v = class_lanes(&z[(j0 + jj) * n + k0..], w);
        for l in 0..LANES {
            er[l] = v[l] - max[l];
        }
    }
    T::exps_at_precision(&mut e[..m * LANES]);
}

multiversion! {
    /// [`columns`] over the rows `from..to` of class-major logits (`c × n`
    /// row-major): Σ of their losses in row order and the rows predicted
    /// correctly; dz (when given) gets their gradient of the batch mean.
    fn by_class<T: Float>(
        eps: f64,
        z: &[T],
        y: &[T],
        c: usize,
        n: usize,
        from: usize,
        to: usize,
        inv_n: f64,
        dz: Option<&mut [T]>,
        e: &mut Exps,
    ) -> (f64, usize) {
        let mut dz = dz;
        let cf = c as f64;
        let at = Targets { eps, base: eps / cf, hit: (1.0 - eps) + eps / cf, inv_n };
        let mut sums = (0.0f64, 0usize);
        let mut k0 = from;
        while k0 < to {
            // A whole block with its width as a constant: its loops over the
            // lanes have no remainder.
            let w = (to - k0).min(LANES);
            let block = (z, y, c, n, k0);
            if w == LANES {
                rows_by_class(block, LANES, at, e, dz.as_deref_mut(), &mut sums);
            } else {
                rows_by_class(block, w, at, e, dz.as_deref_mut(), &mut sums);
            }
            k0 += w;
        }
        sums
    }
}

/// The targets of a cross-entropy pass: ε, ε/C, (1 − ε) + ε/C, and 1/n.
#[derive(Clone, Copy)]
struct Targets {
    eps: f64,
    base: f64,
    hit: f64,
    inv_n: f64,
}

/// [`by_class`] on the w (≤ LANES) rows from k0 of `(z, y, c, n, k0)`: their
/// losses added to `sums.0` in row order, their correct predictions to
/// `sums.1`, their gradient into dz.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn rows_by_class<T: Float>(
    (z, y, c, n, k0): (&[T], &[T], usize, usize, usize),
    w: usize,
    at: Targets,
    e: &mut [f64; CHUNK * LANES],
    dz: Option<&mut [T]>,
    sums: &mut (f64, usize),
) {
    let Targets {
        eps,
        base,
        hit,
        inv_n,
    } = at;
    let cf = c as f64;
    // The running sums in registers (through `sums` each row's addition
    // would wait on a store and a load).
    let (mut total, mut correct) = *sums;
    // A class's logits of the block's rows (lanes past w hold 0 and
    // are never read out).
    let load = |j: usize| class_lanes(&z[j * n + k0..], w);
    // Each row's max, first argmax and Σ z in class order, as
    // [`Row::of`] takes them.
    let (mut max, mut arg, mut sum_z) =
        ([f64::NEG_INFINITY; LANES], [0u64; LANES], [0.0f64; LANES]);
    for j in 0..c {
        let v = load(j);
        for l in 0..LANES {
            let bigger = v[l] > max[l];
            max[l] = if bigger { v[l] } else { max[l] };
            arg[l] = if bigger { j as u64 } else { arg[l] };
            sum_z[l] += v[l];
        }
    }
    // s = Σ exp(z − m) in class order. The exponentials of up to
    // CHUNK classes go into `e` in one vectorised loop (one long
    // chain of arithmetic each: the loop keeps several in flight);
    // with more classes than that, they are computed again, chunk by
    // chunk, for the gradient (the same function of the same value).
    let mut s = [0.0f64; LANES];
    for j0 in (0..c).step_by(CHUNK) {
        let m = (c - j0).min(CHUNK);
        exps::<T>(e, z, n, k0, w, j0, m, &max);
        for er in e[..m * LANES].chunks_exact(LANES) {
            for l in 0..LANES {
                s[l] += er[l];
            }
        }
    }
    let mut inv = [0.0f64; LANES];
    for l in 0..LANES {
        inv[l] = 1.0 / s[l];
        s[l] = vmath::ln(s[l]);
    }
    // Each row's label and its logit, then every row's loss side by side,
    // then their sum in row order (one loop computing and adding them kept
    // the running total in memory, a store and a load on its chain each row).
    let labels = &y[k0..k0 + w];
    let (mut label_of, mut z_label) = ([usize::MAX; LANES], [f64::NAN; LANES]);
    for (l, &yl) in labels.iter().enumerate() {
        let label = yl.to_f64() as usize;
        label_of[l] = label;
        if label < c {
            z_label[l] = z[label * n + k0 + l].to_f64();
        }
        correct += usize::from(arg[l] == label as u64);
    }
    let mut row_loss = [0.0f64; LANES];
    for l in 0..LANES {
        let lse = max[l] + s[l];
        row_loss[l] = (1.0 - eps) * (lse - z_label[l]) + base * (cf * lse - sum_z[l]);
    }
    for &loss in &row_loss[..w] {
        total += loss;
    }
    if let Some(dz) = dz {
        for j0 in (0..c).step_by(CHUNK) {
            let m = (c - j0).min(CHUNK);
            if c > CHUNK {
                exps::<T>(e, z, n, k0, w, j0, m, &max);
            }
            for (jj, er) in e[..m * LANES].chunks_exact(LANES).enumerate() {
                let start = (j0 + jj) * n + k0;
                for (l, o) in dz[start..start + w].iter_mut().enumerate() {
                    *o = gradient::<T>(er[l] * inv[l], base, inv_n);
                }
            }
            for (l, &label) in label_of[..w].iter().enumerate() {
                if (j0..j0 + m).contains(&label) {
                    let q = e[(label - j0) * LANES + l];
                    dz[label * n + k0 + l] = gradient::<T>(q * inv[l], hit, inv_n);
                }
            }
        }
    }
    *sums = (total, correct);
}

/// Logits in a batch from which the training pass runs as two halves
/// (chosen at ~25 ns a logit with scalar `exp`, against ~1 µs to hand half to
/// the second thread). The two halves' sums are added at the end, so moving
/// the cut would change the logged loss's last bits.
const PAR_LOGITS: usize = 1 << 9;

/// Logits from which the two halves run on two threads. With the vectorised
/// `exp` a logit costs ~2.6 ns (10 × 16 in 420 ns, `benches/elementwise.rs`),
/// and handing a half to the other thread costs ~1–2 µs of the leader's time
/// (its `futex` wake, the barrier at the end, measured in the 784-128-10 sgd
/// step): below ~1 500 logits the split cannot pay, so smaller batches run
/// both halves here, in order (round 15).
const TWO_THREADS_LOGITS: usize = 1 << 12;

/// Logits whose exponentials are computed in one vectorised loop: whole rows
/// of up to this many classes at a time (a wider row goes in pieces).
const BLOCK: usize = 256;

/// The most rows of a block (a block of fewer classes than BLOCK / ROWS a row
/// holds fewer than BLOCK logits).
const ROWS: usize = 64;

multiversion! {
    /// Σ of the per-row losses over the columns of `z` and the rows predicted
    /// correctly; dz (when given) gets the gradient of the batch mean (`inv_n` =
    /// 1 / the whole batch's row count).
    ///
    /// Each logit's exponential is computed once ([`Float::exp_at_precision`],
    /// in one loop the compiler vectorises, into a buffer on the stack a block
    /// of rows at a time): with s = Σ_c exp(z_c − m), lse = m + ln s and
    /// softmax_c = exp(z_c − m) · (1/s), the value exp(z_c − lse) has in exact
    /// arithmetic. Each row's sum runs over the buffer in class order, as a
    /// loop over the row adds them.
    fn columns<T: Float>(
        eps: f64,
        z: &[T],
        y: &[T],
        c: usize,
        inv_n: f64,
        dz: Option<&mut [T]>,
    ) -> (f64, usize) {
        // A row of a few classes as a constant: its loops unrolled, where the
        // loop overhead of every short row cost more than its arithmetic (2 ×
        // 32 logits, the 10-5-2 network's batch, took 500 ns against 358; from
        // about 8 classes unrolling gains nothing). The same operations in
        // the same order either way.
        match c {
            2 => blocks::<T, 2>(eps, z, y, c, inv_n, dz),
            3 => blocks::<T, 3>(eps, z, y, c, inv_n, dz),
            4 => blocks::<T, 4>(eps, z, y, c, inv_n, dz),
            5 => blocks::<T, 5>(eps, z, y, c, inv_n, dz),
            _ => blocks::<T, 0>(eps, z, y, c, inv_n, dz),
        }
    }
}

/// [`columns`] for rows of `C` classes (`C` > 0), or of `c` (`C` = 0).
#[inline(always)]
fn blocks<T: Float, const C: usize>(
    eps: f64,
    z: &[T],
    y: &[T],
    c: usize,
    inv_n: f64,
    dz: Option<&mut [T]>,
) -> (f64, usize) {
    let c = if C > 0 { C } else { c.max(1) };
    let mut dz = dz;
    // Set up once a call, and small: zeroing the stack's arrays is a cost
    // of every step at small batches (a 5.5 KB set-up took 15 % of this
    // pass on the 64-32-10 network at batch 16).
    let mut e = [0.0f64; BLOCK];
    let mut shift = [0.0f64; ROWS];
    let mut sum_z = [0.0f64; ROWS];
    let mut zy = [0.0f64; ROWS];
    let mut sums = [0.0f64; ROWS];
    let mut inv_sums = [0.0f64; ROWS];
    let mut total = 0.0f64;
    let mut correct = 0usize;
    let cf = c as f64;
    // The target of a class: ε/C, and (1 − ε) + ε/C for the label (the
    // same sums as `[c = y]·(1 − ε) + ε/C` written per class).
    let (base, hit) = (eps / cf, (1.0 - eps) + eps / cf);
    // Rows of a block; a row wider than BLOCK is a block of its own, in
    // pieces. The cut never changes a bit: each row's values are computed
    // alone, and the rows' losses are added in row order.
    let rows_per_block = (BLOCK / c).clamp(1, ROWS);
    for (b, zb) in z.chunks(rows_per_block * c).enumerate() {
        let k0 = b * rows_per_block;
        let rows = zb.len() / c;
        let yb = &y[k0..k0 + rows];
        if c <= BLOCK {
            // Row by row where the row lies (no transposition): its max,
            // argmax and Σ z in class order, and z − max into the block's
            // buffer. The rows' chains are independent, and the processor
            // overlaps them.
            let eb = &mut e[..zb.len()];
            for (r, (zr, er)) in zb.chunks_exact(c).zip(eb.chunks_exact_mut(c)).enumerate() {
                let row = Row::of(zr, yb[r]);
                for (x, &v) in er.iter_mut().zip(zr) {
                    *x = v.to_f64() - row.max;
                }
                (shift[r], sum_z[r], zy[r]) = (row.max, row.sum_z, row.z_label);
                correct += usize::from(row.right);
            }
            // e = exp(z − m) over the whole block in one vectorised loop;
            // e stays for the gradient.
            T::exps_at_precision(eb);
            for (s, er) in sums[..rows].iter_mut().zip(eb.chunks_exact(c)) {
                *s = er.iter().fold(0.0, |s, &v| s + v);
            }
        } else {
            // One row, wider than a block: its exponentials a block at a time.
            let row = Row::of(&zb[..c], yb[0]);
            (shift[0], sum_z[0], zy[0]) = (row.max, row.sum_z, row.z_label);
            correct += usize::from(row.right);
            sums[0] = 0.0;
            for zp in zb.chunks(BLOCK) {
                let ep = &mut e[..zp.len()];
                exp_minus(zp, shift[0], ep);
                for &v in ep.iter() {
                    sums[0] += v;
                }
            }
        }
        // 1/s for the softmax, then ln of every row's sum in one vectorised
        // loop (libm's bits).
        for (i, &s) in inv_sums[..rows].iter_mut().zip(&sums[..rows]) {
            *i = 1.0 / s;
        }
        for v in &mut sums[..rows] {
            *v = vmath::ln(*v);
        }
        for r in 0..rows {
            let lse = shift[r] + sums[r];
            total += (1.0 - eps) * (lse - zy[r]) + base * (cf * lse - sum_z[r]);
        }
        let Some(dz) = dz.as_deref_mut() else {
            continue;
        };
        // ∂/∂z = (softmax − target) / n: every class against ε/C in one
        // pass, each row's label against its own target.
        let db = &mut dz[k0 * c..k0 * c + zb.len()];
        if c <= BLOCK {
            let eb = &e[..zb.len()];
            for ((dr, er), (&i, &yr)) in db
                .chunks_exact_mut(c)
                .zip(eb.chunks_exact(c))
                .zip(inv_sums.iter().zip(yb))
            {
                for (o, &q) in dr.iter_mut().zip(er) {
                    *o = gradient::<T>(q * i, base, inv_n);
                }
                // A label outside the row has no value of its own (and
                // its index is never formed).
                let label = yr.to_f64() as usize;
                if let (Some(o), Some(&q)) = (dr.get_mut(label), er.get(label)) {
                    *o = gradient::<T>(q * i, hit, inv_n);
                }
            }
        } else {
            let (label, i) = (yb[0].to_f64() as usize, inv_sums[0]);
            for (p, (zp, dp)) in zb.chunks(BLOCK).zip(db.chunks_mut(BLOCK)).enumerate() {
                let ep = &mut e[..zp.len()];
                exp_minus(zp, shift[0], ep);
                for (o, &q) in dp.iter_mut().zip(ep.iter()) {
                    *o = gradient(q * i, base, inv_n);
                }
                let at = label.checked_sub(p * BLOCK);
                if let (Some(o), Some(&q)) =
                    (at.and_then(|j| dp.get_mut(j)), at.and_then(|j| ep.get(j)))
                {
                    *o = gradient(q * i, hit, inv_n);
                }
            }
        }
    }
    (total, correct)
}

/// What one pass over a row's logits (in class order) gives.
struct Row {
    /// The largest logit (NaN ignored; −∞ when there is none): the shift of
    /// the row's exponentials.
    max: f64,
    /// Σ z in class order.
    sum_z: f64,
    /// The label's logit (NaN for a label outside the row).
    z_label: f64,
    /// Whether the first largest logit is the label's.
    right: bool,
}

impl Row {
    /// The row `z` with label `y`.
    #[inline(always)]
    fn of<T: Float>(z: &[T], y: T) -> Row {
        let (mut max, mut sum_z, mut arg) = (f64::NEG_INFINITY, 0.0f64, 0usize);
        for (j, &v) in z.iter().enumerate() {
            let v = v.to_f64();
            if v > max {
                max = v;
                arg = j;
            }
            sum_z += v;
        }
        let label = y.to_f64() as usize;
        Row {
            max,
            sum_z,
            z_label: z.get(label).map_or(f64::NAN, |v| v.to_f64()),
            right: arg == label,
        }
    }
}

/// (p − t) / n as a gradient value, against the target `t`.
#[inline(always)]
fn gradient<T: Float>(p: f64, t: f64, inv_n: f64) -> T {
    quiet(T::of((p - t) * inv_n))
}

/// e[i] = eˣ of z[i] − m ([`Float::exp_at_precision`]), for a piece of one row.
#[inline(always)]
fn exp_minus<T: Float>(z: &[T], m: f64, e: &mut [f64]) {
    for (x, &v) in e.iter_mut().zip(z) {
        *x = v.to_f64() - m;
    }
    for x in e.iter_mut() {
        *x = T::exp_at_precision(*x);
    }
}

/// A gradient within 2²⁴ of the smallest normal number counts as 0: a confident
/// model's far-off logits give such values, and the backward products would
/// carry them (times weights below 1) into subnormal numbers, on which every x86
/// multiply-add takes a ~100× slower microcode path. No parameter update can
/// come from them (lr·g is below any normal parameter's rounding step).
#[inline]
fn quiet<T: Float>(g: T) -> T {
    if g.abs() < T::TINY * T::of(16_777_216.0) {
        T::zero()
    } else {
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math;
    use crate::train::simd::{force, Level};

    /// The loss as one scalar loop a row: the bits the blocked, vectorised
    /// pass must give.
    fn reference(
        eps: f64,
        z: &[f32],
        y: &[f32],
        c: usize,
        inv_n: f64,
        dz: &mut [f32],
    ) -> (f64, usize) {
        let (mut total, mut correct) = (0.0f64, 0usize);
        let cf = c as f64;
        for (k, col) in z.chunks_exact(c).enumerate() {
            let label = y[k] as usize;
            let (mut m, mut arg) = (f64::NEG_INFINITY, 0);
            for (j, &v) in col.iter().enumerate() {
                if f64::from(v) > m {
                    m = f64::from(v);
                    arg = j;
                }
            }
            correct += usize::from(arg == label);
            let (mut s, mut sum_z) = (0.0f64, 0.0f64);
            for &v in col {
                s += vmath::exp_for_f32(f64::from(v) - m);
                sum_z += f64::from(v);
            }
            let lse = m + math::ln(s);
            total += (1.0 - eps) * (lse - f64::from(col[label])) + (eps / cf) * (cf * lse - sum_z);
            let inv_s = 1.0 / s;
            for (j, (o, &v)) in dz[k * c..(k + 1) * c].iter_mut().zip(col).enumerate() {
                let p = vmath::exp_for_f32(f64::from(v) - m) * inv_s;
                let target = if j == label { 1.0 - eps } else { 0.0 } + eps / cf;
                *o = quiet(((p - target) * inv_n) as f32);
            }
        }
        (total, correct)
    }

    /// Against the definition in f64 with libm's `exp`: the loss within 10⁻¹²
    /// relative, each gradient value within one f32 rounding of it.
    #[test]
    fn close_to_the_loss_and_softmax_of_libm_exp() {
        let (c, n) = (10, 40);
        let z: Vec<f32> = (0..c * n)
            .map(|i| ((i as f32) * 0.731).sin() * 6.0)
            .collect();
        let y: Vec<f32> = (0..n).map(|k| (k * 7 % c) as f32).collect();
        for eps in [0.0, 0.1] {
            let mut got = vec![0.0f32; c * n];
            let (t, _) = columns(eps, &z, &y, c, 1.0 / n as f64, Some(&mut got));
            let mut want_total = 0.0f64;
            for (k, col) in z.chunks_exact(c).enumerate() {
                let m = col
                    .iter()
                    .fold(f64::NEG_INFINITY, |a, &v| a.max(f64::from(v)));
                let s: f64 = col.iter().map(|&v| math::exp(f64::from(v) - m)).sum();
                let lse = m + s.ln();
                let label = y[k] as usize;
                for (j, &v) in col.iter().enumerate() {
                    let target = if j == label { 1.0 - eps } else { 0.0 } + eps / c as f64;
                    let want = (math::exp(f64::from(v) - lse) - target) / n as f64;
                    let g = f64::from(got[k * c + j]);
                    assert!(
                        (g - want).abs() <= want.abs() * 2f64.powi(-23) + 1e-30,
                        "{k} {j}: {g:e} vs {want:e}"
                    );
                    want_total += -(target * (f64::from(v) - lse));
                }
            }
            assert!(
                (t - want_total).abs() <= 1e-12 * want_total.abs(),
                "{t} vs {want_total}"
            );
        }
    }

    #[test]
    fn blocks_and_pieces_give_the_bits_of_one_loop_a_row() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
        };
        // Rows narrower than a block, exactly a block, and wider (in pieces);
        // logits far apart (exp underflows to 0) and close together.
        for &(c, n) in &[
            (1, 5),
            (1, 130),
            (2, 33),
            (2, 200),
            (3, 17),
            (4, 9),
            (5, 40),
            (10, 16),
            (10, 100),
            (256, 3),
            (257, 2),
            (600, 3),
        ] {
            // Scale 2 rounds the logits to integers: rows with tied maxima,
            // where the first of them is the prediction.
            for &(eps, scale) in &[(0.0, 3.0), (0.1, 3.0), (0.0, 900.0), (0.0, 2.0)] {
                let z: Vec<f32> = (0..c * n)
                    .map(|_| {
                        let v = next() * scale;
                        (if scale == 2.0 { v.round() } else { v }) as f32
                    })
                    .collect();
                let y: Vec<f32> = (0..n)
                    .map(|_| {
                        ((next() + 1.0) / 2.0 * c as f64)
                            .min(c as f64 - 1.0)
                            .floor() as f32
                    })
                    .collect();
                let inv_n = 1.0 / n as f64;
                let mut want = vec![0.0f32; c * n];
                let (t, k) = reference(eps, &z, &y, c, inv_n, &mut want);
                for level in [Level::Baseline, Level::V3, Level::V4] {
                    force(Some(level));
                    let mut got = vec![0.0f32; c * n];
                    let (t2, k2) = columns(eps, &z, &y, c, inv_n, Some(&mut got));
                    let (t3, k3) = columns(eps, &z, &y, c, inv_n, None);
                    force(None);
                    assert_eq!(
                        (t.to_bits(), k),
                        (t2.to_bits(), k2),
                        "c {c} n {n} eps {eps} {level:?}"
                    );
                    assert_eq!(
                        (t.to_bits(), k),
                        (t3.to_bits(), k3),
                        "c {c} n {n} eps {eps} {level:?}"
                    );
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&want), bits(&got), "c {c} n {n} eps {eps} {level:?}");
                    // The same logits by class: the same loss, count and
                    // gradient (read back by row).
                    let by_class = |v: &[f32]| {
                        (0..c * n)
                            .map(|i| v[(i % n) * c + i / n])
                            .collect::<Vec<f32>>()
                    };
                    let zc = by_class(&z);
                    let mut gc = vec![0.0f32; c * n];
                    force(Some(level));
                    let b = forward_backward_by_class(eps, &zc, &y, c, n, Some(&mut gc));
                    let whole = forward_backward(eps, &z, &y, c, n, Some(&mut got));
                    force(None);
                    assert_eq!(
                        (whole.mean.to_bits(), whole.correct),
                        (b.mean.to_bits(), b.correct),
                        "by class: c {c} n {n} eps {eps} {level:?}"
                    );
                    assert_eq!(
                        bits(&by_class(&got)),
                        bits(&gc),
                        "by class: c {c} n {n} eps {eps} {level:?}"
                    );
                }
            }
        }
    }
}
