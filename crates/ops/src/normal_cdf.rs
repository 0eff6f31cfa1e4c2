//! Exact GELU and its derivative on host slices, written so the compiler vectorizes them: no
//! branches and no `libm` calls in the loops (flex evaluates `libm::erff` one element at a
//! time, ~11% of a CPU GPT step; `benches/results/2026-12-03-cpu-host-conv-attention/`).
//!
//! `gelu(x) = x Φ(x)` and `gelu'(x) = Φ(x) + x φ(x)`, with the standard normal CDF `Φ` from
//! the Numerical Recipes `erfc` approximation (fractional error below 1.2e-7 everywhere), so the
//! values agree with an `erf`-based GELU to f32 rounding; this is not the tanh approximation.

use super::outputs::{par_write, written};
use super::simd::{copies, dispatch};
use std::mem::MaybeUninit;

/// An output element the chunk loops write.
type Out = MaybeUninit<f32>;

/// Elements per rayon task.
const CHUNK: usize = 1 << 14;

/// `e^x` for `x <= 88` (below ~-87.3 it returns ~1e-38, not 0), by Cephes' polynomial:
/// relative error a few f32 ulp, no branches.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.0);
    // n = round(x / ln 2) by adding 1.5 * 2^23 (round to nearest even); that sum's low bits
    // are n itself, which builds 2^n below without a float-to-int conversion.
    const SHIFT: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + SHIFT;
    let n = shifted - SHIFT;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    // Cephes' degree-5 polynomial, by Estrin's scheme (three levels instead of six).
    let r2 = r * r;
    let p = (0.5 + r * 0.166_666_65)
        + (4.166_579_6e-2 + r * 8.333_452e-3) * r2
        + (1.398_199_9e-3 + r * 1.987_569_1e-4) * (r2 * r2);
    let y = p * r2 + r + 1.0;
    let biased = shifted
        .to_bits()
        .wrapping_sub(SHIFT.to_bits())
        .wrapping_add(127);
    y * f32::from_bits(biased << 23)
}

/// `Φ(x)`, the standard normal CDF: `erfc(|x|/√2) = t e^(-z² + P(t))` with `z = |x|/√2`,
/// `t = 1 / (1 + z/2)`, halved for `x < 0` and taken from 1 otherwise.
#[inline(always)]
fn normal_cdf(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    // The degree-9 polynomial by Estrin's scheme: four levels deep instead of Horner's nine,
    // so consecutive elements overlap in the pipeline.
    let (t2, pair) = (t * t, |a: f32, b: f32| a + b * t);
    let t4 = t2 * t2;
    let low = pair(-1.265_512_2, 1.000_023_7) + pair(0.374_091_96, 0.096_784_18) * t2;
    let mid = pair(-0.186_288_06, 0.278_868_07) + pair(-1.135_204, 1.488_515_9) * t2;
    let poly = low + mid * t4 + pair(-0.822_152_2, 0.170_872_77) * (t4 * t4);
    let tail = 0.5 * t * exp(-z * z + poly);
    if x < 0.0 { tail } else { 1.0 - tail }
}

/// `φ(x)`, the standard normal density.
#[inline(always)]
fn normal_pdf(x: f32) -> f32 {
    const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
    FRAC_1_SQRT_2PI * exp(-0.5 * x * x)
}

/// `(gelu(x), Φ(x))` element-wise; [`gelu_backward`] takes `Φ(x)` back.
pub fn gelu(x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let n = x.len();
    let fill = |_: &mut (), i: usize, [y, cdf]: [&mut [Out]; 2]| {
        dispatch!(gelu_chunk(&x[i * CHUNK..][..y.len()], y, cdf))
    };
    // SAFETY: `gelu_chunk` writes every element of both chunks.
    let ([y, cdf], _) = unsafe { par_write([n, n], [CHUNK, CHUNK], || (), fill) };
    (y, cdf)
}

/// `grad · gelu'(x)` element-wise, from `x` and its `Φ(x)`.
pub fn gelu_backward(x: &[f32], cdf: &[f32], grad: &[f32]) -> Vec<f32> {
    let fill = |i: usize, dx: &mut [Out]| {
        let range = i * CHUNK..i * CHUNK + dx.len();
        let (x, cdf, grad) = (&x[range.clone()], &cdf[range.clone()], &grad[range]);
        dispatch!(gelu_backward_chunk(x, cdf, grad, dx))
    };
    // SAFETY: `gelu_backward_chunk` writes every element of its chunk.
    unsafe { written(x.len(), CHUNK, fill) }
}

/// `y = gelu(x)` and `cdf = Φ(x)`, one chunk: writes every element of `y` and `cdf` (as
/// long as `x`).
#[inline(always)]
fn gelu_chunk(x: &[f32], y: &mut [Out], cdf: &mut [Out]) {
    for ((y, cdf), &x) in y.iter_mut().zip(cdf.iter_mut()).zip(x) {
        let phi = normal_cdf(x);
        cdf.write(phi);
        y.write(x * phi);
    }
}

/// `dx = grad · (Φ(x) + x φ(x))`, one chunk: writes every element of `dx` (as long as `x`).
#[inline(always)]
fn gelu_backward_chunk(x: &[f32], cdf: &[f32], grad: &[f32], dx: &mut [Out]) {
    for (((dx, &x), &cdf), &g) in dx.iter_mut().zip(x).zip(cdf).zip(grad) {
        dx.write(g * (cdf + x * normal_pdf(x)));
    }
}

copies! {
    fn gelu_chunk(x: &[f32], y: &mut [Out], cdf: &mut [Out]);
    fn gelu_backward_chunk(x: &[f32], cdf: &[f32], grad: &[f32], dx: &mut [Out]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Φ(x) in f64 by integrating the density from -12 (Simpson's rule, 20,000 intervals):
    /// std has no `erf`.
    fn cdf_reference(x: f64) -> f64 {
        let pdf = |u: f64| (-0.5 * u * u).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let (a, n) = (-12.0, 20_000);
        let h = (x - a) / n as f64;
        let inner: f64 = (1..n)
            .map(|i| pdf(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 })
            .sum();
        h / 3.0 * (pdf(a) + inner + pdf(x))
    }

    fn grid() -> impl Iterator<Item = f32> {
        (-1200..=1200).map(|i| i as f32 * 0.01)
    }

    #[test]
    fn exp_is_within_a_few_ulp() {
        for x in (-8000..=8000).map(|i| i as f32 * 0.01) {
            let (got, want) = (exp(x), f64::from(x).exp());
            assert!(
                ((f64::from(got) - want) / want).abs() < 4e-7,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn gelu_and_its_derivative_match_the_definition() {
        let xs: Vec<f32> = grid().collect();
        let ones = vec![1.0; xs.len()];
        let (y, cdf) = gelu(&xs);
        let dy = gelu_backward(&xs, &cdf, &ones);
        for ((&x, &y), &dy) in xs.iter().zip(&y).zip(&dy) {
            let x64 = f64::from(x);
            let cdf = cdf_reference(x64);
            let pdf = (-0.5 * x64 * x64).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let (want_y, want_dy) = (x64 * cdf, cdf + x64 * pdf);
            // Relative to the value, with an absolute floor for the far negative tail.
            let tol = |w: f64| 1e-6 * w.abs() + 2e-7;
            assert!(
                (f64::from(y) - want_y).abs() < tol(want_y),
                "gelu({x}) = {y}, want {want_y}"
            );
            assert!(
                (f64::from(dy) - want_dy).abs() < tol(want_dy),
                "gelu'({x}) = {dy}, want {want_dy}"
            );
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn every_instruction_set_gives_the_same_bits() {
        // An odd length, so each path runs its vector body and its scalar tail.
        let xs: Vec<f32> = grid().chain([f32::NAN, -100.0, 100.0]).collect();
        let grads: Vec<f32> = xs.iter().map(|x| (x * 3.1).sin()).collect();
        let n = xs.len();
        let out = || vec![Out::new(0.0); n];
        // SAFETY: the outputs start initialized (0.0) and the loops only write them.
        let bits = |v: &[Out]| {
            v.iter()
                .map(|x| unsafe { x.assume_init() }.to_bits())
                .collect()
        };
        let cdf: Vec<f32> = gelu(&xs).1;
        type Forward<'a> = &'a dyn Fn(&[f32], &mut [Out], &mut [Out]);
        type Backward<'a> = &'a dyn Fn(&[f32], &[f32], &[f32], &mut [Out]);
        let run = |forward: Forward<'_>, backward: Backward<'_>| -> [Vec<u32>; 3] {
            let (mut y, mut phi, mut dx) = (out(), out(), out());
            forward(&xs, &mut y, &mut phi);
            backward(&xs, &cdf, &grads, &mut dx);
            [bits(&y), bits(&phi), bits(&dx)]
        };
        let baseline = run(&gelu_chunk, &gelu_backward_chunk);
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 detected on the line above.
            let avx2 = run(
                &|x, y, phi| unsafe { avx2::gelu_chunk(x, y, phi) },
                &|x, c, g, dx| unsafe { avx2::gelu_backward_chunk(x, c, g, dx) },
            );
            assert!(avx2 == baseline, "AVX2 and baseline differ");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F detected on the line above.
            let avx512 = run(
                &|x, y, phi| unsafe { avx512::gelu_chunk(x, y, phi) },
                &|x, c, g, dx| unsafe { avx512::gelu_backward_chunk(x, c, g, dx) },
            );
            assert!(avx512 == baseline, "AVX-512 and baseline differ");
        }
    }

    #[test]
    fn backward_scales_by_the_incoming_gradient() {
        let xs = [-2.0f32, -0.3, 0.0, 0.7, 3.0];
        let ones = [1.0f32; 5];
        let grads = [2.0f32, -1.0, 5.0, 0.5, -3.0];
        let (_, cdf) = gelu(&xs);
        let unit = gelu_backward(&xs, &cdf, &ones);
        let scaled = gelu_backward(&xs, &cdf, &grads);
        for ((u, s), g) in unit.iter().zip(&scaled).zip(&grads) {
            assert_eq!(*s, u * g);
        }
    }
}
