//! Dropout whose masks CPU backends draw on the host with a fast generator.
//!
//! Burn's `Dropout` samples its Bernoulli mask one element at a time through
//! `TensorData::random` (ChaCha behind a per-element distribution match): about 16% of an MNIST
//! MLP step on flex (`benches/results/2026-12-02-cpu-profile/`). Where tensors live in host
//! memory (flex, ndarray), [`dropout`] instead draws one 64-bit seed from the backend's
//! generator, so `B::seed` still decides every mask (per step and per replica, as before), and
//! fills the mask with xoshiro256++ (`rand`'s `SmallRng`), two elements per 64-bit draw. GPU
//! backends keep Burn's on-device sampling: a host mask would be an upload per call, and the
//! inference backends keep Burn's identity.

use burn::nn::Dropout;
use burn::prelude::*;
use burn::tensor::Distribution;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// `layer.forward(x)` for a training (autodiff) backend `B` whose tensors live in host memory:
/// zeroes each element with probability `layer.prob` and scales the others by `1 / (1 - prob)`.
pub(crate) fn dropout<B: Backend, const D: usize>(
    layer: &Dropout,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    if layer.prob == 0.0 {
        return layer.forward(x);
    }
    let device = x.device();
    let mask = host_mask(x.shape(), layer.prob, draw_seed::<B>(&device));
    let mask = Tensor::<B, D>::from_data(mask, &device);
    let mask = if mask.dtype() == x.dtype() {
        mask
    } else {
        mask.cast(x.dtype())
    };
    x * mask
}

/// The masks Burn's attention would draw for its score dropout, one head after another (each
/// head's `[batch, t, t]` scores masked as [`dropout`] masks them: one seed per head from `B`'s
/// generator), laid out per sequence and head as `[batch, heads, t, t]`.
pub(crate) fn score_masks<B: Backend>(
    prob: f64,
    [batch, heads, t]: [usize; 3],
    device: &B::Device,
) -> Vec<f32> {
    let mut masks = vec![0.0; batch * heads * t * t];
    for h in 0..heads {
        let mask = host_mask(Shape::new([batch, t, t]), prob, draw_seed::<B>(device));
        let mask = mask.as_slice::<f32>().expect("host masks are f32");
        for (s, rows) in mask.chunks(t * t).enumerate() {
            masks[(s * heads + h) * t * t..][..t * t].copy_from_slice(rows);
        }
    }
    masks
}

/// A 60-bit seed from the backend's generator (two 30-bit draws: ints may be i32), so
/// `B::seed` fixes it.
fn draw_seed<B: Backend>(device: &B::Device) -> u64 {
    let bound = f64::from(1u32 << 30);
    let draws = Tensor::<B, 1, Int>::random([2], Distribution::Uniform(0.0, bound), device);
    draws
        .into_data()
        .iter::<i64>()
        .fold(0u64, |seed, d| (seed << 30) ^ d as u64)
}

/// The mask for `shape`: `1 / (1 - prob)` with probability `1 - prob`, else 0, from `seed`.
fn host_mask(shape: Shape, prob: f64, seed: u64) -> TensorData {
    let keep = 1.0 - prob;
    // A 32-bit draw u keeps its element when u < threshold: probability threshold / 2^32.
    let threshold = (keep * (1u64 << 32) as f64) as u64;
    let scale = (1.0 / keep) as f32;
    let n = shape.num_elements();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(n + 1);
    while values.len() < n {
        let bits: u64 = rng.random();
        for half in [bits & 0xFFFF_FFFF, bits >> 32] {
            values.push(if half < threshold { scale } else { 0.0 });
        }
    }
    values.truncate(n);
    TensorData::new(values, shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HostOps;
    use burn::backend::{Autodiff, Flex};

    type A = Autodiff<Flex>;

    fn values(t: Tensor<A, 2>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().expect("f32 data")
    }

    #[test]
    fn a_mask_keeps_about_one_minus_prob_and_scales_what_it_keeps() {
        let mask = host_mask(Shape::new([1000, 100]), 0.3, 9);
        let v = mask.to_vec::<f32>().expect("f32 mask");
        let kept = v.iter().filter(|&&x| x != 0.0).count() as f64 / v.len() as f64;
        assert!((kept - 0.7).abs() < 0.005, "kept {kept}");
        let scale = (1.0 / 0.7) as f32;
        assert!(v.iter().all(|&x| x == 0.0 || x == scale));
        assert_eq!(mask, host_mask(Shape::new([1000, 100]), 0.3, 9));
        assert_ne!(mask, host_mask(Shape::new([1000, 100]), 0.3, 10));
    }

    #[test]
    fn the_backend_seed_decides_the_mask_and_the_mean_survives() {
        let device = Default::default();
        let layer = burn::nn::DropoutConfig::new(0.5).init();
        let ones = || Tensor::<A, 2>::ones([200, 500], &device);
        let run = |seed| {
            A::seed(&device, seed);
            values(<A as HostOps>::dropout_forward(&layer, ones()))
        };
        // Other tests seed and draw from flex's process-wide generator in parallel, and one of
        // their calls can land between `seed` and the mask: a seed must give the same mask in
        // two of four tries (with no seeding effect, no two would agree). The seeds are used by
        // no other test here, so a mask drawn after another test's `seed` is not this one's
        // (the attention tests seed 4 and 5: `run(5)` once drew seed 4's mask under load).
        let mask_of = |seed| {
            let tries: Vec<_> = (0..4).map(|_| run(seed)).collect();
            tries
                .iter()
                .enumerate()
                .find(|(i, t)| tries[i + 1..].contains(t))
                .map(|(_, t)| t.clone())
                .expect("a seed gave the same mask twice in four tries")
        };
        let (a, c) = (mask_of(4004), mask_of(4005));
        assert_ne!(a, c);
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
        assert!(a.iter().all(|&x| x == 0.0 || x == 2.0));
    }

    #[test]
    fn evaluation_and_zero_prob_are_the_identity() {
        let device = Default::default();
        let x = Tensor::<Flex, 2>::ones([4, 8], &device);
        let layer = burn::nn::DropoutConfig::new(0.5).init();
        let y = <Flex as HostOps>::dropout_forward(&layer, x.clone());
        assert_eq!(y.into_data(), x.into_data());
        let none = burn::nn::DropoutConfig::new(0.0).init();
        let y = Tensor::<A, 2>::ones([4, 8], &device);
        assert_eq!(
            values(<A as HostOps>::dropout_forward(&none, y)),
            vec![1.0; 32]
        );
    }

    #[test]
    fn gradients_flow_through_the_kept_elements_only() {
        let device = Default::default();
        A::seed(&device, 1);
        let layer = burn::nn::DropoutConfig::new(0.25).init();
        let x = Tensor::<A, 2>::ones([16, 16], &device).require_grad();
        let y = <A as HostOps>::dropout_forward(&layer, x.clone());
        let out = values(y.clone());
        let grads = y.sum().backward();
        let g = x.grad(&grads).expect("a gradient").into_data();
        assert_eq!(g.to_vec::<f32>().expect("f32 grad"), out);
    }
}
