//! f32 matrix products on host slices through the `gemm` crate (the kernels flex's own matmul
//! uses): single-threaded for the host convolution's per-sample products, on rayon's threads
//! for the host linear layer, and two independent products side by side for its gradients.

/// A matrix view of a slice: element `(r, c)` is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between rows.
    pub row_stride: usize,
    /// Distance between columns.
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view of the same elements.
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether every element the view names lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst = lhs @ rhs` (or `dst += lhs @ rhs` when `accumulate`), `dst` row-major
/// `lhs.rows x rhs.cols`, on the calling thread.
///
/// # Panics
/// If the shapes disagree or a view reaches past its slice (a bug in the caller, not user input).
pub fn matmul(dst: &mut [f32], lhs: MatRef<'_>, rhs: MatRef<'_>, accumulate: bool) {
    product(dst, lhs, rhs, accumulate, gemm::Parallelism::None);
}

/// [`matmul`] split over rayon's threads (gemm splits rows and columns, never the sum, so
/// results do not depend on the thread count).
///
/// # Panics
/// As [`matmul`].
pub fn matmul_parallel(dst: &mut [f32], lhs: MatRef<'_>, rhs: MatRef<'_>, accumulate: bool) {
    product(
        dst,
        lhs,
        rhs,
        accumulate,
        parallelism(rayon::current_num_threads()),
    );
}

/// `lhs @ rhs` as a new row-major `lhs.rows x rhs.cols` vector, split over rayon's threads;
/// the elements are written once, never zeroed first.
///
/// # Panics
/// As [`matmul`].
pub fn product_parallel(lhs: MatRef<'_>, rhs: MatRef<'_>) -> Vec<f32> {
    new_product(lhs, rhs, rayon::current_num_threads())
}

/// Two independent products at once, each on half of rayon's threads (one after the other on
/// a single thread), with the results [`product_parallel`] gives: a layer's input and weight
/// gradients, equal in work, whose gemm calls each keep two cores only partly busy when split
/// on their own (the weight gradient's few output rows most of all).
///
/// # Panics
/// As [`matmul`].
pub fn product_pair([a, b]: [MatRef<'_>; 2], [c, d]: [MatRef<'_>; 2]) -> (Vec<f32>, Vec<f32>) {
    let threads = rayon::current_num_threads();
    let half = threads / 2;
    rayon::join(
        || new_product(a, b, half),
        || new_product(c, d, threads - half),
    )
}

/// gemm's parallelism for `threads` threads: none below two.
fn parallelism(threads: usize) -> gemm::Parallelism {
    if threads < 2 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    }
}

/// `lhs @ rhs` into a new vector on `threads` threads, without zeroing it first.
fn new_product(lhs: MatRef<'_>, rhs: MatRef<'_>, threads: usize) -> Vec<f32> {
    let len = lhs.rows * rhs.cols;
    let mut out = Vec::with_capacity(len);
    // SAFETY: `out` has capacity for `len` elements, none read (`accumulate` false).
    unsafe { raw_product(out.as_mut_ptr(), len, lhs, rhs, false, parallelism(threads)) };
    if lhs.cols == 0 {
        // An empty sum: `raw_product` wrote nothing.
        out.resize(len, 0.0);
    } else {
        // SAFETY: with `read_dst` false gemm writes every element of the `m x n` destination
        // before reading any (a later block of the sum adds to what the first wrote), so all
        // `len` are initialized.
        unsafe { out.set_len(len) };
    }
    out
}

fn product(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    if lhs.cols == 0 && !accumulate {
        dst.fill(0.0);
    }
    // SAFETY: `dst` is an exclusively borrowed, initialized slice of `dst.len()` elements.
    unsafe {
        raw_product(
            dst.as_mut_ptr(),
            dst.len(),
            lhs,
            rhs,
            accumulate,
            parallelism,
        )
    }
}

/// `dst = lhs @ rhs` (or `+=`), `dst` row-major `lhs.rows x rhs.cols`; nothing when the sum is
/// empty (`k == 0`: the caller clears `dst` if it must).
///
/// # Safety
/// `dst` must be valid for writes of `dst_len` elements, initialized if `accumulate`, and must
/// not overlap `lhs` or `rhs`.
///
/// # Panics
/// As [`matmul`].
unsafe fn raw_product(
    dst: *mut f32,
    dst_len: usize,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(
        rhs.rows == k && dst_len == m * n && lhs.fits() && rhs.fits(),
        "host matmul: shapes [{m}, {k}] @ [{}, {n}] into {dst_len} elements",
        rhs.rows,
    );
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // SAFETY: `fits` checked above that every element `gemm` reads through `lhs` and `rhs`
    // lies in its slice; the caller guarantees `dst` holds `m * n` writable elements (read
    // only if `accumulate`, then initialized) that alias neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product by its definition.
    fn reference(lhs: MatRef<'_>, rhs: MatRef<'_>) -> Vec<f32> {
        let at = |m: &MatRef<'_>, r: usize, c: usize| m.data[r * m.row_stride + c * m.col_stride];
        let mut out = vec![0.0; lhs.rows * rhs.cols];
        for r in 0..lhs.rows {
            for c in 0..rhs.cols {
                out[r * rhs.cols + c] =
                    (0..lhs.cols).map(|i| at(&lhs, r, i) * at(&rhs, i, c)).sum();
            }
        }
        out
    }

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 * 0.37 + seed).sin() * 4.0).round())
            .collect()
    }

    #[test]
    fn matches_the_definition_plain_and_transposed() {
        let (a, b) = (values(5 * 7, 0.3), values(7 * 3, 1.1));
        let lhs = MatRef::row_major(&a, 5, 7);
        let rhs = MatRef::row_major(&b, 7, 3);
        let mut dst = vec![f32::NAN; 15];
        matmul(&mut dst, lhs, rhs, false);
        assert_eq!(dst, reference(lhs, rhs));
        // Transposed views of the same data: (rhsᵀ lhsᵀ) = (lhs rhs)ᵀ.
        let mut dst_t = vec![0.0; 15];
        matmul(&mut dst_t, rhs.t(), lhs.t(), false);
        assert_eq!(dst_t, reference(rhs.t(), lhs.t()));
    }

    #[test]
    fn accumulates_into_dst() {
        let (a, b) = (values(4 * 6, 2.0), values(6 * 5, 0.5));
        let lhs = MatRef::row_major(&a, 4, 6);
        let rhs = MatRef::row_major(&b, 6, 5);
        let mut dst = vec![1.0; 20];
        matmul(&mut dst, lhs, rhs, true);
        let want: Vec<f32> = reference(lhs, rhs).iter().map(|v| v + 1.0).collect();
        assert_eq!(dst, want);
    }

    #[test]
    fn new_products_and_pairs_are_the_parallel_products() {
        let (a, b) = (values(37 * 19, 0.7), values(19 * 23, 1.9));
        let (lhs, rhs) = (MatRef::row_major(&a, 37, 19), MatRef::row_major(&b, 19, 23));
        let mut want = vec![0.0; 37 * 23];
        matmul_parallel(&mut want, lhs, rhs, false);
        assert_eq!(product_parallel(lhs, rhs), want);
        let mut want_t = vec![0.0; 19 * 19];
        matmul_parallel(&mut want_t, lhs.t(), lhs, false);
        let (first, second) = product_pair([lhs, rhs], [lhs.t(), lhs]);
        assert_eq!((first, second), (want, want_t));
        let empty = MatRef::row_major(&a, 3, 0);
        assert_eq!(
            product_parallel(empty, MatRef::row_major(&b, 0, 2)),
            [0.0; 6]
        );
    }

    #[test]
    #[should_panic(expected = "host matmul")]
    fn refuses_views_past_their_slice() {
        let a = vec![0.0; 5];
        let mut dst = vec![0.0; 4];
        let lhs = MatRef::row_major(&a, 2, 3);
        matmul(&mut dst, lhs, MatRef::row_major(&a, 3, 2), false);
    }
}
