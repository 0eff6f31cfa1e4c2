//! Adds the partial sums of parallel tasks in a fixed order, so a reduction gives the same bits
//! whatever the thread count.

/// Element-wise sum of `parts` (each `len` long), added in their order.
pub(crate) fn sum_in_order(parts: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut parts = parts.into_iter();
    let mut sum = parts.next().unwrap_or_else(|| vec![0.0; len]);
    for part in parts {
        for (s, p) in sum.iter_mut().zip(part) {
            *s += p;
        }
    }
    sum
}

/// Each `row_len`-element row of `rows` summed into one element of `sums`, from its first
/// element to its last.
pub(crate) fn row_sums_in_order(rows: &[f32], row_len: usize, sums: &mut [f32]) {
    for (sum, row) in sums.iter_mut().zip(rows.chunks(row_len)) {
        *sum = row.iter().sum();
    }
}
