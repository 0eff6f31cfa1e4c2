//! f32 matrix products on host slices through the `gemm` crate (the kernels flex's own matmul
//! uses): single-threaded for the host convolution's per-sample products, on rayon's threads
//! for the host linear layer.

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
    let threads = rayon::current_num_threads();
    product(dst, lhs, rhs, accumulate, gemm::Parallelism::Rayon(threads));
}

fn product(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(
        rhs.rows == k && dst.len() == m * n && lhs.fits() && rhs.fits(),
        "host matmul: shapes [{m}, {k}] @ [{}, {n}] into {} elements",
        rhs.rows,
        dst.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    // SAFETY: `fits` checked above that every element `gemm` reads through `lhs` and `rhs`
    // lies in its slice, and `dst` is an exclusively borrowed row-major `m x n` slice; the
    // three do not alias (`dst` is `&mut`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
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
    #[should_panic(expected = "host matmul")]
    fn refuses_views_past_their_slice() {
        let a = vec![0.0; 5];
        let mut dst = vec![0.0; 4];
        let lhs = MatRef::row_major(&a, 2, 3);
        matmul(&mut dst, lhs, MatRef::row_major(&a, 3, 2), false);
    }
}
