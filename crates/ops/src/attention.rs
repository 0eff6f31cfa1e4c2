//! Masked multi-head self-attention on rows `[batch * t, d_model]`, with Burn's
//! `MultiHeadAttention` parameters: the heads composed from Burn ops (every backend's path), or
//! one fused op where a backend has it.
//!
//! Each head attends through a column slice of the projections, which matmul reads in place
//! (no `[batch, t, heads, d_k]` transpose); same math and dropout sites as Burn's forward.

use super::HostOps;
use super::causal_attention::AttentionShape;
use burn::nn::Linear;
use burn::nn::attention::MultiHeadAttention;
use burn::prelude::*;
use burn::tensor::activation::{quiet_softmax, softmax};

/// Burn's composed causal attention (projections, per-head scores, dropout, mask, softmax,
/// output), the default of [`HostOps::causal_attention_forward`] whatever `B`'s own method
/// does: the reference the fused host op is held to, bit for bit.
pub fn composed<B: HostOps>(
    mha: &MultiHeadAttention<B>,
    h: Tensor<B, 2>,
    bt: [usize; 2],
    mask: &Tensor<B, 3, Bool>,
) -> Tensor<B, 2> {
    let qkv = project(mha, h);
    B::linear_forward(&mha.output, heads(mha, qkv, bt, mask))
}

/// The score masking a fused op reproduces: the value the composed path writes above the
/// diagonal (Burn's `min_float`, as f32) and the score dropout's probability while it is
/// active (training, `prob > 0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Masking {
    /// The score above the diagonal.
    pub causal: f32,
    /// The dropout probability, if dropout is active.
    pub dropout: Option<f64>,
}

/// The attention with the heads fused by `op` where it applies: not with a quiet softmax, and
/// not where `op` declines (`None`); composed otherwise.
pub(crate) fn fused<B: HostOps>(
    mha: &MultiHeadAttention<B>,
    h: Tensor<B, 2>,
    [b, t]: [usize; 2],
    mask: &Tensor<B, 3, Bool>,
    op: impl FnOnce([&Tensor<B, 2>; 3], AttentionShape, Masking) -> Option<Tensor<B, 2>>,
) -> Tensor<B, 2> {
    let plain = !mha.quiet_softmax;
    let masking = Masking {
        causal: mha.min_float as f32,
        dropout: (mha.dropout.prob > 0.0 && B::ad_enabled(&h.device())).then_some(mha.dropout.prob),
    };
    let [q, k, v] = project(mha, h);
    let shape = AttentionShape {
        batch: b,
        t,
        heads: mha.n_heads,
        d_k: mha.d_k,
    };
    let context = plain
        .then(|| op([&q, &k, &v], shape, masking))
        .flatten()
        .unwrap_or_else(|| heads(mha, [q, k, v], [b, t], mask));
    B::linear_forward(&mha.output, context)
}

/// The query, key and value rows of `h`.
fn project<B: HostOps>(mha: &MultiHeadAttention<B>, h: Tensor<B, 2>) -> [Tensor<B, 2>; 3] {
    let rows = |linear: &Linear<B>| B::linear_forward(linear, h.clone());
    [rows(&mha.query), rows(&mha.key), rows(&mha.value)]
}

/// The context `[batch * t, d_model]`, one head at a time from Burn ops.
fn heads<B: HostOps>(
    mha: &MultiHeadAttention<B>,
    [q, k, v]: [Tensor<B, 2>; 3],
    [b, t]: [usize; 2],
    mask: &Tensor<B, 3, Bool>,
) -> Tensor<B, 2> {
    let (heads, d_k) = (mha.n_heads, mha.d_k);
    let d = heads * d_k;
    let (q, k, v) = (
        q.reshape([b, t, d]),
        k.reshape([b, t, d]),
        v.reshape([b, t, d]),
    );
    let root_d_k = (d_k as f64).sqrt();
    let contexts = (0..heads)
        .map(|i| {
            let cols = [0..b, 0..t, i * d_k..(i + 1) * d_k];
            let head = |x: &Tensor<B, 3>| x.clone().slice(cols.clone());
            let scores = head(&q)
                .matmul(head(&k).swap_dims(1, 2))
                .div_scalar(root_d_k);
            let scores =
                B::dropout_forward(&mha.dropout, scores).mask_fill(mask.clone(), mha.min_float);
            let weights = if mha.quiet_softmax {
                quiet_softmax(scores, 2)
            } else {
                softmax(scores, 2)
            };
            weights.matmul(head(&v)) // [b, t, d_k]
        })
        .collect();
    Tensor::cat(contexts, 2).reshape([b * t, d])
}
