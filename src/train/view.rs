//! The layers' matrices: nalgebra views over the network's flat buffers, and
//! their zero-copy conversions to faer's views for the products.
//!
//! Every batch of activations (and its gradient) of width `w` and `n` examples
//! is a column-major `w × n` matrix, one example a column ([`cols`]). A dense
//! weight `[units, inputs]` is stored row-major, exactly as PyTorch (and
//! safetensors) hold it; column-major that storage is Wᵀ, an `inputs × units`
//! view, and the products read it transposed ([`Read::Transposed`]: strides
//! swapped, never a copy).
//!
//! The views the engine makes are *packed*: their columns follow each other in
//! the buffer (column stride = rows). Such a view gives back the slice under it
//! ([`slice()`], [`slice_mut`]) and converts to faer's `MatRef`/`MatMut` over that
//! same memory ([`faer_ref`], [`faer_mut`]) without copying, allocating or
//! `unsafe` code: nalgebra reshapes a packed view into one column, which it
//! knows to be contiguous, and hands out that column's slice. A view that is not
//! packed (a block of rows) has no such slice: the conversions say `None`, and
//! [`matmul`] then multiplies by plain loops.
//!
//! [`matmul`] is the product of views on the calling thread: faer's kernel, the
//! call [`Float::matmul`] makes (followed by clearing the AVX upper state), so a
//! product of views has the bits of the same product on slices.
//! [`crate::train::linalg`] cuts large products into pieces over the team's
//! threads on top of these conversions.

use faer::{MatMut, MatRef};
use nalgebra::{DMatrixView, DMatrixViewMut, Dyn, Scalar, U1};

use crate::train::float::Float;

/// How a product reads an operand (or writes its output): as the view is, or
/// as its transpose (the same storage with the strides swapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    AsIs,
    Transposed,
}

impl Read {
    /// The other way round: how the transpose of an operand read this way
    /// reads the same view.
    pub fn flip(self) -> Read {
        match self {
            Read::AsIs => Read::Transposed,
            Read::Transposed => Read::AsIs,
        }
    }
}

/// The column-major `nrows × ncols` view of the first `nrows·ncols` values of `s`.
#[inline]
pub fn cols<T: Scalar>(s: &[T], nrows: usize, ncols: usize) -> DMatrixView<'_, T> {
    DMatrixView::from_slice(&s[..nrows * ncols], nrows, ncols)
}

/// [`cols`], writable.
#[inline]
pub fn cols_mut<T: Scalar>(s: &mut [T], nrows: usize, ncols: usize) -> DMatrixViewMut<'_, T> {
    DMatrixViewMut::from_slice(&mut s[..nrows * ncols], nrows, ncols)
}

/// Whether the view's columns follow each other in memory (row stride 1,
/// column stride the number of rows, or a single column).
#[inline]
fn packed(strides: (usize, usize), shape: (usize, usize)) -> bool {
    strides.0 == 1 && (shape.1 <= 1 || strides.1 == shape.0)
}

/// The values under a packed view, in column-major order (no copy); `None` for
/// a view that is not packed.
#[inline]
pub fn slice<'a, T: Scalar>(v: DMatrixView<'a, T>) -> Option<&'a [T]> {
    let (r, c) = v.shape();
    packed(v.strides(), (r, c)).then(|| v.reshape_generic(Dyn(r * c), U1).data.into_slice())
}

/// [`slice()`], writable, for as long as the view is borrowed.
#[inline]
pub fn slice_mut<'b, T: Scalar>(v: &'b mut DMatrixViewMut<'_, T>) -> Option<&'b mut [T]> {
    let (r, c) = v.shape();
    packed(v.strides(), (r, c)).then(|| {
        let w: DMatrixViewMut<'_, T> = v.as_view_mut();
        w.reshape_generic(Dyn(r * c), U1).data.into_slice_mut()
    })
}

/// faer's view of the same memory as a packed view, read as `read` says (no
/// copy); `None` for a view that is not packed.
#[inline]
pub fn faer_ref<T: Scalar>(v: DMatrixView<'_, T>, read: Read) -> Option<MatRef<'_, T>> {
    let (r, c) = v.shape();
    let s = slice(v)?;
    Some(match read {
        Read::AsIs => MatRef::from_column_major_slice_with_stride(s, r, c, r),
        // A row read transposed is a column: faer gets a column (column
        // stride = its length), as the engine's products always gave it.
        Read::Transposed if r == 1 => MatRef::from_column_major_slice_with_stride(s, c, 1, c),
        Read::Transposed => MatRef::from_column_major_slice_with_stride(s, r, c, r).transpose(),
    })
}

/// [`faer_ref`], writable, for as long as the view is borrowed.
#[inline]
pub fn faer_mut<'b, T: Scalar>(
    v: &'b mut DMatrixViewMut<'_, T>,
    read: Read,
) -> Option<MatMut<'b, T>> {
    let (r, c) = v.shape();
    let s = slice_mut(v)?;
    Some(match read {
        Read::AsIs => MatMut::from_column_major_slice_with_stride_mut(s, r, c, r),
        Read::Transposed if r == 1 => MatMut::from_column_major_slice_with_stride_mut(s, c, 1, c),
        Read::Transposed => {
            MatMut::from_column_major_slice_with_stride_mut(s, r, c, r).transpose_mut()
        }
    })
}

/// `dst ← a·b`, or `dst ← dst + a·b` when `accumulate` (otherwise `dst` is
/// never read), each matrix read as its [`Read`] says, on the calling thread:
/// faer's kernel through zero-copy views ([`Float::matmul`]), or plain loops
/// for views that are not packed (the engine makes none). Shapes must agree:
/// `a` `m × k`, `b` `k × n`, `dst` `m × n` as read; a product whose shapes do
/// not agree leaves `dst` as it is.
pub fn matmul<T: Float>(
    dst: &mut DMatrixViewMut<'_, T>,
    dst_read: Read,
    accumulate: bool,
    a: DMatrixView<'_, T>,
    a_read: Read,
    b: DMatrixView<'_, T>,
    b_read: Read,
) {
    let shape = |(r, c): (usize, usize), read| match read {
        Read::AsIs => (r, c),
        Read::Transposed => (c, r),
    };
    let ((m, k), (k2, n)) = (shape(a.shape(), a_read), shape(b.shape(), b_read));
    if k != k2 || shape(dst.shape(), dst_read) != (m, n) {
        return;
    }
    if let (Some(fa), Some(fb)) = (faer_ref(a, a_read), faer_ref(b, b_read)) {
        if let Some(fc) = faer_mut(dst, dst_read) {
            T::matmul(fc, accumulate, fa, fb);
            return;
        }
    }
    let at = |v: &DMatrixView<'_, T>, read, i, j| match read {
        Read::AsIs => v[(i, j)],
        Read::Transposed => v[(j, i)],
    };
    for j in 0..n {
        for i in 0..m {
            let mut s = T::zero();
            for p in 0..k {
                s += at(&a, a_read, i, p) * at(&b, b_read, p, j);
            }
            let o = match dst_read {
                Read::AsIs => &mut dst[(i, j)],
                Read::Transposed => &mut dst[(j, i)],
            };
            *o = if accumulate { *o + s } else { s };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packed view gives back the very slice it was made over, and faer's
    /// view of it points at the same memory.
    #[test]
    fn conversions_copy_nothing() {
        let mut buf: Vec<f64> = (0..12).map(f64::from).collect();
        let v = cols(&buf, 3, 4);
        let s = slice(v).expect("packed");
        assert_eq!(s.as_ptr(), buf.as_ptr());
        assert_eq!(s.len(), 12);
        let f = faer_ref(v, Read::AsIs).expect("packed");
        assert_eq!(
            (f.nrows(), f.ncols(), f.row_stride(), f.col_stride()),
            (3, 4, 1, 3)
        );
        assert_eq!(f.as_ptr(), buf.as_ptr());
        assert_eq!(f[(2, 1)], v[(2, 1)]);
        let t = faer_ref(v, Read::Transposed).expect("packed");
        assert_eq!((t.nrows(), t.ncols(), t[(1, 2)]), (4, 3, v[(2, 1)]));
        let ptr = buf.as_ptr();
        let mut w = cols_mut(&mut buf, 4, 3);
        assert_eq!(slice_mut(&mut w).expect("packed").as_ptr(), ptr);
        let mut fm = faer_mut(&mut w, Read::Transposed).expect("packed");
        fm[(2, 3)] = -1.0;
        assert_eq!(w[(3, 2)], -1.0);
        assert_eq!(buf[11], -1.0);
    }

    /// A block of rows is not packed: no slice, no faer view; a single column
    /// or an empty view is.
    #[test]
    fn only_packed_views_convert() {
        let buf: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let v = cols(&buf, 3, 4);
        assert!(slice(v.rows(0, 2)).is_none());
        assert!(faer_ref(v.rows(1, 2), Read::AsIs).is_none());
        assert_eq!(slice(v.columns(1, 2)), Some(&buf[3..9]));
        assert_eq!(slice(v.columns(2, 1).rows(1, 2)), Some(&buf[7..9]));
        assert_eq!(slice(cols(&buf, 0, 4)), Some(&[][..]));
    }

    /// faer's product of packed views and the plain loops over views that are
    /// not packed agree, for every way of reading the operands and the output.
    #[test]
    fn products_of_views() {
        let (m, k, n) = (5, 7, 6);
        let val = |i: usize, p: usize| ((i * 7) % p) as f64 - (p / 2) as f64;
        let a: Vec<f64> = (0..m * k).map(|i| val(i, 11)).collect();
        let b: Vec<f64> = (0..k * n).map(|i| val(i, 13)).collect();
        let reads = [Read::AsIs, Read::Transposed];
        let all = reads
            .iter()
            .flat_map(|&x| reads.iter().map(move |&y| (x, y)))
            .flat_map(|(x, y)| reads.iter().map(move |&z| (x, y, z)));
        // A view of `s` (`r × c`, packed) with a spare value above each column.
        let unpacked = |s: &[f64], r: usize, c: usize| -> Vec<f64> {
            s.chunks(r.max(1))
                .flat_map(|col| std::iter::once(9.0).chain(col.iter().copied()))
                .take(c * (r + 1))
                .collect()
        };
        for (ar, br, cr) in all {
            let dims = |read, r, c| if read == Read::AsIs { (r, c) } else { (c, r) };
            let ((ar0, ac0), (br0, bc0), (cr0, cc0)) =
                (dims(ar, m, k), dims(br, k, n), dims(cr, m, n));
            let mut want = vec![1.0; m * n];
            let mut got = want.clone();
            let (sa, sb) = (unpacked(&a, ar0, ac0), unpacked(&b, br0, bc0));
            fn strided(s: &[f64], r: usize, c: usize) -> DMatrixView<'_, f64> {
                DMatrixView::from_slice_with_strides_generic(
                    &s[1..],
                    Dyn(r),
                    Dyn(c),
                    U1,
                    Dyn(r + 1),
                )
            }
            let (va, vb) = (strided(&sa, ar0, ac0), strided(&sb, br0, bc0));
            assert!(slice(va).is_none() && slice(vb).is_none());
            matmul(&mut cols_mut(&mut want, cr0, cc0), cr, true, va, ar, vb, br);
            let (pa, pb) = (cols(&a, ar0, ac0), cols(&b, br0, bc0));
            matmul(&mut cols_mut(&mut got, cr0, cc0), cr, true, pa, ar, pb, br);
            assert_eq!(got, want, "{ar:?} {br:?} {cr:?}");
            // and the loops compute the product
            let c = cols(&want, cr0, cc0);
            let (i, j) = (m - 1, n - 2);
            let (ci, cj) = if cr == Read::AsIs { (i, j) } else { (j, i) };
            let s: f64 = (0..k)
                .map(|p| {
                    let x = if ar == Read::AsIs {
                        pa[(i, p)]
                    } else {
                        pa[(p, i)]
                    };
                    let y = if br == Read::AsIs {
                        pb[(p, j)]
                    } else {
                        pb[(j, p)]
                    };
                    x * y
                })
                .sum();
            assert_eq!(c[(ci, cj)], 1.0 + s);
        }
    }

    /// Shapes that do not agree leave the output as it is.
    #[test]
    fn mismatched_shapes_do_nothing() {
        let a = [1.0f32; 6];
        let mut c = [5.0f32; 4];
        matmul(
            &mut cols_mut(&mut c, 2, 2),
            Read::AsIs,
            false,
            cols(&a, 2, 3),
            Read::AsIs,
            cols(&a, 2, 3),
            Read::AsIs,
        );
        assert_eq!(c, [5.0; 4]);
    }
}
