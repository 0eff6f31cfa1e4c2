//! Layer normalization over the last axis on host slices: the forward and its three gradients,
//! one rayon task per block of rows, row sums in 16 lanes (vector code, a fixed order), each
//! task's loops compiled for the widest vectors the CPU has (the same bits on every path).
//!
//! Rows are `d` wide. Per row, `mean = Σx / d`, `var = Σ(x - mean)² / d` (biased),
//! `denom = sqrt(var + eps)`, `x̂ = (x - mean) / denom` and `y = x̂ * gamma + beta`: Burn's
//! `layer_norm` composition in the same operations per element. Results do not depend on the
//! thread count: blocks are a fixed number of rows and their partial sums are added in order.

use super::outputs::par_fill;
use super::partial_sums::sum_in_order;
use super::simd::{copies, dispatch};

/// Rows per rayon task.
const ROWS_PER_TASK: usize = 32;

/// Lanes of the row sums.
const LANES: usize = 16;

/// The normalized rows `y` and, per row, `[mean, denom]` (the backward needs them).
pub fn forward(
    x: &[f32],
    gamma: &[f32],
    beta: Option<&[f32]>,
    epsilon: f32,
) -> (Vec<f32>, Vec<[f32; 2]>) {
    let d = gamma.len();
    let ([y], stats) = par_fill(
        [x.len()],
        [ROWS_PER_TASK * d],
        || (),
        |_, task, [y]| {
            let x = &x[task * ROWS_PER_TASK * d..][..y.len()];
            dispatch!(forward_rows(x, gamma, beta, epsilon, y))
        },
    );
    (y, stats.concat())
}

/// One task's rows: writes `y`, returns each row's `[mean, denom]`.
#[inline(always)]
fn forward_rows(
    x: &[f32],
    gamma: &[f32],
    beta: Option<&[f32]>,
    epsilon: f32,
    y: &mut [f32],
) -> Vec<[f32; 2]> {
    let d = gamma.len();
    // A `for` loop rather than `map(..).collect()`, whose `fold` would be compiled apart from
    // this function's instruction set.
    let mut stats = Vec::with_capacity(y.len() / d.max(1));
    for (y, x) in y.chunks_mut(d).zip(x.chunks(d)) {
        stats.push(forward_row(x, gamma, beta, epsilon, y));
    }
    stats
}

/// One row: writes `y`, returns `[mean, denom]`.
#[inline(always)]
fn forward_row(
    x: &[f32],
    gamma: &[f32],
    beta: Option<&[f32]>,
    epsilon: f32,
    y: &mut [f32],
) -> [f32; 2] {
    let d = x.len() as f32;
    let mean = lane_sum(x, x, |x, _| x) / d;
    let var = lane_sum(x, x, |x, _| (x - mean) * (x - mean)) / d;
    let denom = (var + epsilon).sqrt();
    for ((y, &x), &g) in y.iter_mut().zip(x).zip(gamma) {
        *y = (x - mean) / denom * g;
    }
    if let Some(beta) = beta {
        y.iter_mut().zip(beta).for_each(|(y, &b)| *y += b);
    }
    [mean, denom]
}

/// Gradients of `x` (like `x`), `gamma` and `beta` (each `d` long) for the output gradient
/// `dy`, from the forward's `stats`.
pub fn backward(
    x: &[f32],
    gamma: &[f32],
    stats: &[[f32; 2]],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let ([dx], sums) = par_fill(
        [x.len()],
        [ROWS_PER_TASK * d],
        || vec![0.0; d],
        |x_hat, task, [dx]| {
            let rows = task * ROWS_PER_TASK * d..task * ROWS_PER_TASK * d + dx.len();
            let (x, dy) = (&x[rows.clone()], &dy[rows]);
            let stats = &stats[task * ROWS_PER_TASK..];
            dispatch!(backward_rows(x, gamma, stats, dy, x_hat, dx))
        },
    );
    let (dgammas, dbetas): (Vec<Vec<f32>>, Vec<Vec<f32>>) = sums.into_iter().unzip();
    (dx, sum_in_order(dgammas, d), sum_in_order(dbetas, d))
}

/// One task's rows: writes `dx`, returns the rows' sums for `gamma`'s and `beta`'s gradients;
/// `x_hat` is a row of scratch.
#[inline(always)]
fn backward_rows(
    x: &[f32],
    gamma: &[f32],
    stats: &[[f32; 2]],
    dy: &[f32],
    x_hat: &mut [f32],
    dx: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let (mut dgamma, mut dbeta) = (vec![0.0; d], vec![0.0; d]);
    for (((dx, x), dy), &[mean, denom]) in dx
        .chunks_mut(d)
        .zip(x.chunks(d))
        .zip(dy.chunks(d))
        .zip(stats)
    {
        for (h, &x) in x_hat.iter_mut().zip(x) {
            *h = (x - mean) / denom;
        }
        backward_row(x_hat, gamma, denom, dy, dx);
        for (((dg, db), &h), &dy) in dgamma.iter_mut().zip(&mut dbeta).zip(&*x_hat).zip(dy) {
            *dg += dy * h;
            *db += dy;
        }
    }
    (dgamma, dbeta)
}

/// One row of `dx` from the row's `x̂`: with `g = dy * gamma`,
/// `dx = (g - mean(g) - x̂ * mean(g * x̂)) / denom`.
#[inline(always)]
fn backward_row(x_hat: &[f32], gamma: &[f32], denom: f32, dy: &[f32], dx: &mut [f32]) {
    let d = x_hat.len() as f32;
    for ((g, &dy), &gamma) in dx.iter_mut().zip(dy).zip(gamma) {
        *g = dy * gamma;
    }
    let g_mean = lane_sum(dx, dx, |g, _| g) / d;
    let gx_mean = lane_sum(dx, x_hat, |g, h| g * h) / d;
    for (g, &h) in dx.iter_mut().zip(x_hat) {
        *g = (*g - g_mean - h * gx_mean) / denom;
    }
}

/// `Σ f(a[i], b[i])` over equally long `a` and `b`, accumulated in [`LANES`] lanes.
#[inline(always)]
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let (a_body, b_body) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_body
        .remainder()
        .iter()
        .zip(b_body.remainder())
        .map(|(&a, &b)| f(a, b))
        .sum();
    for (a, b) in a_body.zip(b_body) {
        for ((lane, &a), &b) in lanes.iter_mut().zip(a).zip(b) {
            *lane += f(a, b);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

copies! {
    fn forward_rows(
        x: &[f32],
        gamma: &[f32],
        beta: Option<&[f32]>,
        epsilon: f32,
        y: &mut [f32],
    ) -> Vec<[f32; 2]>;
    fn backward_rows(
        x: &[f32],
        gamma: &[f32],
        stats: &[[f32; 2]],
        dy: &[f32],
        x_hat: &mut [f32],
        dx: &mut [f32],
    ) -> (Vec<f32>, Vec<f32>);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in about `[-2, 2]`.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 4001) as f32 / 1000.0
                    - 2.0
            })
            .collect()
    }

    /// The forward and gradients by the definition, in f64, one row at a time.
    fn reference(x: &[f32], gamma: &[f32], beta: &[f32], eps: f64, dy: &[f32]) -> [Vec<f64>; 4] {
        let d = gamma.len();
        let (mut y, mut dx) = (vec![], vec![]);
        let (mut dgamma, mut dbeta) = (vec![0.0; d], vec![0.0; d]);
        for (x, dy) in x.chunks(d).zip(dy.chunks(d)) {
            let x: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let mean = x.iter().sum::<f64>() / d as f64;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            let denom = (var + eps).sqrt();
            let xh: Vec<f64> = x.iter().map(|v| (v - mean) / denom).collect();
            let g: Vec<f64> = (0..d).map(|i| dy[i] as f64 * gamma[i] as f64).collect();
            let g_mean = g.iter().sum::<f64>() / d as f64;
            let gx_mean = (0..d).map(|i| g[i] * xh[i]).sum::<f64>() / d as f64;
            for i in 0..d {
                y.push(xh[i] * gamma[i] as f64 + beta[i] as f64);
                dx.push((g[i] - g_mean - xh[i] * gx_mean) / denom);
                dgamma[i] += dy[i] as f64 * xh[i];
                dbeta[i] += dy[i] as f64;
            }
        }
        [y, dx, dgamma, dbeta]
    }

    fn assert_close(ours: &[f32], exact: &[f64], tol: f64, what: &str) {
        assert_eq!(ours.len(), exact.len(), "{what}: length");
        for (i, (&a, &b)) in ours.iter().zip(exact).enumerate() {
            assert!(
                (a as f64 - b).abs() <= tol * (1.0 + b.abs()),
                "{what}[{i}]: {a} vs {b}"
            );
        }
    }

    #[test]
    fn matches_the_definition_for_odd_widths_and_row_counts() {
        // 37 wide (two lane blocks and a tail), 70 rows (tasks of 32, 32, 6).
        for (d, rows) in [(37, 70), (128, 5), (3, 1)] {
            let (x, dy) = (values(d * rows, 1), values(d * rows, 7));
            let (gamma, beta) = (values(d, 3), values(d, 5));
            let (y, stats) = forward(&x, &gamma, Some(&beta), 1e-5);
            let (dx, dgamma, dbeta) = backward(&x, &gamma, &stats, &dy);
            let [ey, edx, edgamma, edbeta] = reference(&x, &gamma, &beta, 1e-5, &dy);
            assert_close(&y, &ey, 1e-5, "y");
            assert_close(&dx, &edx, 1e-4, "dx");
            assert_close(&dgamma, &edgamma, 1e-4, "dgamma");
            assert_close(&dbeta, &edbeta, 1e-5, "dbeta");
        }
    }

    #[test]
    fn without_beta_the_output_is_the_scaled_rows() {
        let (x, gamma, beta) = (values(40, 2), values(8, 4), values(8, 6));
        let (with, _) = forward(&x, &gamma, Some(&beta), 1e-5);
        let (without, _) = forward(&x, &gamma, None, 1e-5);
        for (i, (a, b)) in with.iter().zip(&without).enumerate() {
            assert_eq!(*a, b + beta[i % 8]);
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (d, rows) = (24, 200);
        let (x, dy, gamma) = (values(d * rows, 9), values(d * rows, 11), values(d, 13));
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            pool.install(|| {
                let (y, stats) = forward(&x, &gamma, None, 1e-5);
                (y, backward(&x, &gamma, &stats, &dy))
            })
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    #[allow(unused_unsafe)] // `by!(self)`: the baseline needs no `unsafe`
    fn every_instruction_set_gives_the_same_bits() {
        // 37 wide: two 16-lane blocks and a tail in every row sum.
        let (d, rows) = (37, 9);
        let (x, dy) = (values(d * rows, 21), values(d * rows, 23));
        let (gamma, beta) = (values(d, 25), values(d, 27));
        let (_, stats) = forward(&x, &gamma, Some(&beta), 1e-5);
        type Run<'a> =
            &'a dyn Fn(&mut [f32], &mut [f32], &mut [f32]) -> (Vec<[f32; 2]>, Vec<f32>, Vec<f32>);
        let go = |run: Run<'_>| {
            let (mut y, mut dx, mut scratch) =
                (vec![0.0; d * rows], vec![0.0; d * rows], vec![0.0; d]);
            let (s, dg, db) = run(&mut y, &mut dx, &mut scratch);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let stat_bits: Vec<u32> = s.iter().flatten().map(|x| x.to_bits()).collect();
            [bits(&y), bits(&dx), bits(&dg), bits(&db), stat_bits]
        };
        // Forward and backward by the copies in module `$m` (`self`: the baseline build).
        macro_rules! by {
            ($m:ident) => {
                // SAFETY: called for `avx2` and `avx512` only where the CPU has the set.
                go(&|y, dx, h| unsafe {
                    let s = $m::forward_rows(&x, &gamma, Some(&beta), 1e-5, y);
                    let (dg, db) = $m::backward_rows(&x, &gamma, &stats, &dy, h, dx);
                    (s, dg, db)
                })
            };
        }
        let baseline = by!(self);
        if std::arch::is_x86_feature_detected!("avx2") {
            assert!(by!(avx2) == baseline, "AVX2 and baseline differ");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            assert!(by!(avx512) == baseline, "AVX-512 and baseline differ");
        }
    }
}
