//! A 2-D convolution (`groups = 1`) and its gradients on host slices: one rayon task per
//! sample (or per fixed group of samples), `im2col`/`col2im` and single-threaded matmuls
//! inside, so each task's columns stay in its core's cache.
//!
//! Layouts are row-major: images `[batch, channels, h, w]`, weight `[out, channels, kh, kw]`
//! (`[out, K]` with `K = channels * kh * kw`), outputs and output gradients `[batch, out, L]`
//! with `L = out_h * out_w`. Every sum runs in a fixed order, whatever the thread count, so
//! results are bit-reproducible.

use super::host_gemm::{MatRef, matmul};
use super::im2col::{ConvGeometry, Patches};
use super::outputs::{assume_written, par_fill, par_write};
use super::partial_sums::sum_in_order;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Samples whose weight gradients one task sums before the tasks' sums are added in order.
const SAMPLES_PER_TASK: usize = 8;

/// `y[s] = weight @ im2col(x[s]) + bias` for every sample: `[batch, out, L]`.
pub fn forward(
    geo: &ConvGeometry,
    images: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (k, l, image) = (geo.patch_len(), geo.positions(), geo.image_len());
    let out = weight.len() / k;
    let batch = images.len() / image;
    let weight = MatRef::row_major(weight, out, k);
    let patches = Patches::new(geo);
    let product = |cols: &mut Vec<f32>, s: usize, y: &mut [f32], accumulate: bool| {
        patches.im2col(&images[s * image..][..image], cols);
        matmul(y, weight, MatRef::row_major(cols, k, l), accumulate);
    };
    let columns = || vec![0.0; k * l];
    let ([y], _) = match bias {
        // Each sample's output starts as its channels' biases: nothing to zero first.
        Some(bias) => {
            assert_eq!(bias.len(), out, "conv: one bias per output channel");
            let fill = |cols: &mut Vec<f32>, s: usize, [y]: [&mut [MaybeUninit<f32>]; 1]| {
                for (row, &b) in y.chunks_mut(l).zip(bias) {
                    row.iter_mut().for_each(|v| {
                        v.write(b);
                    });
                }
                // SAFETY: `y` is sample `s`'s `out` rows of `l` elements, each row written
                // just above (one bias per row, `bias.len() == out`).
                let y = unsafe { assume_written(y) };
                product(cols, s, y, true);
            };
            // SAFETY: `fill` writes every element of its chunk before anything reads it.
            unsafe { par_write([batch * out * l], [out * l], columns, fill) }
        }
        None => par_fill([batch * out * l], [out * l], columns, |cols, s, [y]| {
            product(cols, s, y, false)
        }),
    };
    y
}

/// The input gradient: `col2im(weightᵀ @ grad[s])` for every sample, `[batch, channels, h, w]`.
pub fn input_grad(geo: &ConvGeometry, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let (k, l, image) = (geo.patch_len(), geo.positions(), geo.image_len());
    let out = weight.len() / k;
    let batch = grad.len() / (out * l);
    let weight_t = MatRef::row_major(weight, out, k).t();
    let patches = Patches::new(geo);
    let ([dx], _) = par_fill(
        [batch * image],
        [image],
        || vec![0.0; k * l],
        |cols, s, [dx]| {
            let grad = MatRef::row_major(&grad[s * out * l..][..out * l], out, l);
            matmul(cols, weight_t, grad, false);
            patches.col2im(cols, dx);
        },
    );
    dx
}

/// The weight gradient: `Σ_s grad[s] @ im2col(x[s])ᵀ`, `[out, K]`.
pub fn weight_grad(geo: &ConvGeometry, images: &[f32], grad: &[f32]) -> Vec<f32> {
    let (k, l, image) = (geo.patch_len(), geo.positions(), geo.image_len());
    let batch = images.len() / image;
    let out = grad.len() / (batch * l).max(1);
    let patches = Patches::new(geo);
    let partial = |task: usize| {
        let mut cols = vec![0.0; k * l];
        let mut dw = vec![0.0; out * k];
        let samples = task * SAMPLES_PER_TASK..((task + 1) * SAMPLES_PER_TASK).min(batch);
        for s in samples {
            patches.im2col(&images[s * image..][..image], &mut cols);
            let grad = MatRef::row_major(&grad[s * out * l..][..out * l], out, l);
            matmul(&mut dw, grad, MatRef::row_major(&cols, k, l).t(), true);
        }
        dw
    };
    let partials: Vec<Vec<f32>> = (0..batch.div_ceil(SAMPLES_PER_TASK))
        .into_par_iter()
        .map(partial)
        .collect();
    sum_in_order(partials, out * k)
}

/// The bias gradient: `grad` summed over samples and positions, `[out]`.
pub fn bias_grad(grad: &[f32], out: usize, positions: usize) -> Vec<f32> {
    let partials: Vec<Vec<f32>> = grad
        .par_chunks(out * positions)
        .map(|sample| row_sums(sample, positions))
        .collect();
    sum_in_order(partials, out)
}

/// Rows summed side by side in one pass over a block of rows.
const ROWS_AT_ONCE: usize = 8;

/// The sum of each `len`-long row of `rows`, each added from its first element to its last as
/// `row.iter().sum()` adds it (the same bits), [`ROWS_AT_ONCE`] rows at a time: independent
/// additions the core overlaps, where one row's chain waits on each add's latency.
fn row_sums(rows: &[f32], len: usize) -> Vec<f32> {
    let mut sums = Vec::with_capacity(rows.len() / len.max(1));
    for block in rows.chunks(ROWS_AT_ONCE * len.max(1)) {
        let n = block.len() / len.max(1);
        // `Sum for f32` starts from -0.0 (so an all -0.0 row sums to -0.0).
        let mut acc = [-0.0f32; ROWS_AT_ONCE];
        if n == ROWS_AT_ONCE {
            for j in 0..len {
                for (r, a) in acc.iter_mut().enumerate() {
                    *a += block[r * len + j];
                }
            }
        } else {
            for (a, row) in acc.iter_mut().zip(block.chunks(len)) {
                *a = row.iter().sum();
            }
        }
        sums.extend_from_slice(&acc[..n]);
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    const GEO: ConvGeometry = ConvGeometry {
        channels: 3,
        input: [7, 6],
        kernel: [3, 2],
        stride: [2, 1],
        padding: [1, 1],
        dilation: [1, 2],
    };
    const OUT: usize = 4;
    // More samples than one weight-gradient task takes, so partial sums are added.
    const BATCH: usize = SAMPLES_PER_TASK + 3;

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 * 0.53 + seed).sin() * 8.0).round() / 8.0)
            .collect()
    }

    /// The convolution by its definition, in f64.
    fn reference(images: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f64> {
        let [oh_n, ow_n] = GEO.output();
        let [kh, kw] = GEO.kernel;
        let mut y = Vec::new();
        for image in images.chunks(GEO.image_len()) {
            for o in 0..OUT {
                for oh in 0..oh_n {
                    for ow in 0..ow_n {
                        let mut acc = f64::from(bias[o]);
                        for c in 0..GEO.channels {
                            for i in 0..kh {
                                for j in 0..kw {
                                    if let Some(p) = GEO.source_pixel(c, [oh, ow], [i, j]) {
                                        let wt = weight[((o * GEO.channels + c) * kh + i) * kw + j];
                                        acc += f64::from(image[p]) * f64::from(wt);
                                    }
                                }
                            }
                        }
                        y.push(acc);
                    }
                }
            }
        }
        y
    }

    fn operands() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        (
            values(BATCH * GEO.image_len(), 0.2),
            values(OUT * GEO.patch_len(), 1.7),
            values(OUT, 3.1),
        )
    }

    #[test]
    fn forward_matches_the_definition() {
        let (x, w, b) = operands();
        let want = reference(&x, &w, &b);
        let got = forward(&GEO, &x, &w, Some(&b));
        assert_eq!(got.len(), want.len());
        for (g, r) in got.iter().zip(&want) {
            assert!((f64::from(*g) - r).abs() < 1e-4, "{g} vs {r}");
        }
        let no_bias = forward(&GEO, &x, &w, None);
        let zero = reference(&x, &w, &[0.0; OUT]);
        for (g, r) in no_bias.iter().zip(&zero) {
            assert!((f64::from(*g) - r).abs() < 1e-4, "{g} vs {r}");
        }
    }

    #[test]
    fn row_sums_are_the_bits_of_each_rows_own_sum() {
        // 19 rows: two full blocks and a partial one; one row of negative zeros.
        let len = 37;
        let mut rows: Vec<f32> = (0..19 * len)
            .map(|i| (i as f32 * 0.731 + 0.9).sin() * 1e3 / (i % len + 1) as f32)
            .collect();
        rows[5 * len..6 * len].fill(-0.0);
        let want: Vec<u32> = rows
            .chunks(len)
            .map(|row| row.iter().sum::<f32>().to_bits())
            .collect();
        let reversed: Vec<u32> = rows
            .chunks(len)
            .map(|row| row.iter().rev().sum::<f32>().to_bits())
            .collect();
        assert_ne!(
            reversed, want,
            "the rows' sums depend on the order of the additions"
        );
        let got: Vec<u32> = row_sums(&rows, len).iter().map(|s| s.to_bits()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn gradients_are_the_adjoints_of_the_forward() {
        // For the linear map y(x, w, b): <y, g> = <x, dx> + ... holds term by term:
        // <y(x, w, 0), g> = <x, input_grad(w, g)> = <w, weight_grad(x, g)>, and
        // <y(0, 0, b), g> = <b, bias_grad(g)>.
        let (x, w, b) = operands();
        let g = values(BATCH * OUT * GEO.positions(), 4.4);
        let dot = |a: &[f32], b: &[f32]| -> f64 {
            a.iter()
                .zip(b)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum()
        };
        let y_g: f64 = reference(&x, &w, &[0.0; OUT])
            .iter()
            .zip(&g)
            .map(|(y, g)| y * f64::from(*g))
            .sum();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-3 * (1.0 + b.abs());
        let via_x = dot(&x, &input_grad(&GEO, &w, &g));
        let via_w = dot(&w, &weight_grad(&GEO, &x, &g));
        assert!(close(via_x, y_g), "{via_x} vs {y_g}");
        assert!(close(via_w, y_g), "{via_w} vs {y_g}");
        let y_b: f64 = (0..BATCH * OUT * GEO.positions())
            .map(|e| f64::from(b[(e / GEO.positions()) % OUT]) * f64::from(g[e]))
            .sum();
        let via_b = dot(&b, &bias_grad(&g, OUT, GEO.positions()));
        assert!(close(via_b, y_b), "{via_b} vs {y_b}");
    }
}
