//! Training through the fused host attention with score dropout reaches the composed
//! attention's losses bit for bit, step after step. Its own process: the dropout masks come
//! from flex's process-wide generator, which tests running beside it would also draw from.

use burn::backend::{Autodiff, Flex};
use burn::nn::attention::{
    MultiHeadAttention, MultiHeadAttentionConfig, generate_autoregressive_mask,
};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use trainer_ops::{HostOps, composed_attention};

type A = Autodiff<Flex>;

/// The losses of six Adam steps of one attention layer (score dropout `prob`) regressing a
/// fixed target, through the fused host op or the composed path.
fn losses(fused: bool, prob: f64) -> Vec<f32> {
    let device = Default::default();
    let [b, t, d, heads] = [4, 70, 32, 4];
    A::seed(&device, 17);
    let mut mha: MultiHeadAttention<A> = MultiHeadAttentionConfig::new(d, heads)
        .with_dropout(prob)
        .init(&device);
    let h = Tensor::<A, 2>::random([b * t, d], Distribution::Normal(0.0, 1.0), &device);
    let target = Tensor::<A, 2>::random([b * t, d], Distribution::Normal(0.0, 1.0), &device);
    let mask = generate_autoregressive_mask::<A>(b, t, &device);
    let mut optim = AdamConfig::new().init();
    let mut losses = Vec::new();
    for _ in 0..6 {
        let y = if fused {
            A::causal_attention_forward(&mha, h.clone(), [b, t], &mask)
        } else {
            composed_attention(&mha, h.clone(), [b, t], &mask)
        };
        let loss = (y - target.clone()).powi_scalar(2).mean();
        losses.push(loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &mha);
        mha = optim.step(1e-2, mha, grads);
    }
    losses
}

#[test]
fn fused_attention_with_dropout_trains_to_the_composed_losses_bit_for_bit() {
    let fused = losses(true, 0.2);
    let composed = losses(false, 0.2);
    assert_eq!(
        fused.iter().map(|l| l.to_bits()).collect::<Vec<_>>(),
        composed.iter().map(|l| l.to_bits()).collect::<Vec<_>>(),
        "fused {fused:?} vs composed {composed:?}"
    );
    assert!(fused.last() < fused.first(), "the loss falls: {fused:?}");
    // The dropout is active (without it, other losses), and so is the training.
    assert_ne!(fused, losses(true, 0.0));
    // Without dropout, too.
    assert_eq!(losses(true, 0.0), losses(false, 0.0));
}
