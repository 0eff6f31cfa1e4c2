//! The GPT's transformer blocks: Burn's `TransformerEncoder` parameters (so the record, the
//! checkpoints and their names are unchanged) with a forward written for CPU backends.
//!
//! Burn's forward feeds `[batch, t, d]` activations to every linear layer, which becomes one
//! small matmul per sequence and, in backward, a `[batch, d_in, d_out]` weight gradient summed
//! over the batch. It also splits heads with a `swap_dims` whose copy flex does one element at
//! a time. Here activations stay `[batch * t, d]` rows (one matmul per layer) and attention is
//! the backend's `HostOps::causal_attention_forward` on those rows; the layer norms and linear
//! layers are `HostOps::layer_norm_forward` and `HostOps::linear_forward`. Same math, same
//! dropout sites.

use burn::nn::activation::Activation;
use burn::nn::attention::generate_autoregressive_mask;
use burn::nn::transformer::{PositionWiseFeedForward, TransformerEncoder, TransformerEncoderLayer};
use burn::prelude::*;
use trainer_ops::HostOps;

/// `blocks.forward(x)` under a causal mask, for `x: [batch, t, d_model]`.
pub fn causal_forward<B: HostOps>(blocks: &TransformerEncoder<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, t, d] = x.dims();
    let mask = generate_autoregressive_mask::<B>(b, t, &x.device()); // [b, t, t]
    blocks
        .layers
        .iter()
        .fold(x.reshape([b * t, d]), |x, layer| {
            block(layer, x, [b, t], &mask)
        })
        .reshape([b, t, d])
}

/// One block on rows `x: [batch * t, d_model]`, pre- or post-norm as the layer says.
fn block<B: HostOps>(
    layer: &TransformerEncoderLayer<B>,
    x: Tensor<B, 2>,
    bt: [usize; 2],
    mask: &Tensor<B, 3, Bool>,
) -> Tensor<B, 2> {
    let attend = |h| {
        let context = B::causal_attention_forward(&layer.mha, h, bt, mask);
        B::dropout_forward(&layer.dropout, context)
    };
    let feed = |h| B::dropout_forward(&layer.dropout, feed_forward(&layer.pwff, h));
    if layer.norm_first {
        let x = x.clone() + attend(B::layer_norm_forward(&layer.norm_2, x));
        x.clone() + feed(B::layer_norm_forward(&layer.norm_1, x))
    } else {
        let x = B::layer_norm_forward(&layer.norm_1, x.clone() + attend(x));
        B::layer_norm_forward(&layer.norm_2, x.clone() + feed(x))
    }
}

/// The position-wise feed-forward on rows.
fn feed_forward<B: HostOps>(pwff: &PositionWiseFeedForward<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    let x = B::linear_forward(&pwff.linear_inner, x);
    let x = match &pwff.activation {
        Activation::Gelu(layer) => B::gelu_forward(layer, x),
        other => other.forward(x),
    };
    B::linear_forward(&pwff.linear_outer, B::dropout_forward(&pwff.dropout, x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::transformer::{TransformerEncoderConfig, TransformerEncoderInput};
    use burn::tensor::Distribution;

    type A = Autodiff<Flex>;

    /// Burn's own forward, the reference.
    fn burn_forward(blocks: &TransformerEncoder<A>, x: Tensor<A, 3>) -> Tensor<A, 3> {
        let [b, t, _] = x.dims();
        let mask = generate_autoregressive_mask::<A>(b, t, &x.device());
        blocks.forward(TransformerEncoderInput::new(x).mask_attn(mask))
    }

    fn max_diff(a: Tensor<A, 3>, b: Tensor<A, 3>) -> f32 {
        (a - b).abs().max().into_scalar()
    }

    #[test]
    fn pre_and_post_norm_match_burns_forward_and_its_gradients() {
        let device = Default::default();
        for norm_first in [true, false] {
            A::seed(&device, 11);
            let blocks = TransformerEncoderConfig::new(24, 48, 3, 2)
                .with_norm_first(norm_first)
                .with_dropout(0.0)
                .init::<A>(&device);
            let x = Tensor::<A, 3>::random([3, 7, 24], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let ours = causal_forward(&blocks, x.clone());
            let theirs = burn_forward(&blocks, x.clone());
            assert!(
                max_diff(ours.clone(), theirs.clone()) < 1e-5,
                "norm_first {norm_first}"
            );
            let (g1, g2) = (
                ours.powi_scalar(2).sum().backward(),
                theirs.powi_scalar(2).sum().backward(),
            );
            let (a, b) = (x.grad(&g1).expect("grad"), x.grad(&g2).expect("grad"));
            let diff = (a - b).abs().max().into_scalar();
            assert!(diff < 1e-4, "input gradient differs by {diff}");
            let w = &blocks.layers[0].mha.query.weight;
            let (a, b) = (w.grad(&g1).expect("grad"), w.grad(&g2).expect("grad"));
            let diff = (a - b).abs().max().into_scalar();
            assert!(diff < 1e-4, "query weight gradient differs by {diff}");
        }
    }

    #[test]
    fn a_position_never_sees_later_positions() {
        let device = Default::default();
        A::seed(&device, 2);
        let blocks = TransformerEncoderConfig::new(16, 32, 2, 1)
            .with_norm_first(true)
            .with_dropout(0.0)
            .init::<A>(&device);
        let x = Tensor::<A, 3>::random([1, 6, 16], Distribution::Normal(0.0, 1.0), &device);
        let later = Tensor::<A, 3>::random([1, 2, 16], Distribution::Normal(0.0, 1.0), &device);
        let changed = Tensor::cat(vec![x.clone().slice([0..1, 0..4, 0..16]), later], 1);
        let (a, b) = (causal_forward(&blocks, x), causal_forward(&blocks, changed));
        let prefix = |y: Tensor<A, 3>| y.slice([0..1, 0..4, 0..16]);
        assert!(max_diff(prefix(a.clone()), prefix(b.clone())) < 1e-6);
        assert!(max_diff(a, b) > 1e-3, "the changed positions must change");
    }
}
