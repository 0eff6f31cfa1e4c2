//! Causal self-attention as one autodiff op where tensors live in host memory.
//!
//! Composed from Burn tensor ops, each head of the GPT's attention is a slice, a batched
//! matmul of tiny `[t, d_k]` matrices, a scale, a mask fill, a softmax and a second matmul, and
//! autodiff keeps and walks back through every one of them, with a zero-filled full-width
//! gradient per head slice. Under `Autodiff<Flex>` and `Autodiff<NdArray>`, [`causal`] runs
//! all heads of all sequences as one op instead ([`causal_attention`](super::causal_attention):
//! one rayon task per sequence and head, keeping only the softmax's exponentials and sums for
//! the backward), and the inference backends run the same forward. It takes the composed
//! path's steps in the composed path's order, so on flex its outputs and gradients are that
//! path's bit for bit, with or without score dropout. Other backends and dtypes get `None` and
//! keep the composed path.

use super::HostMemory;
use super::attention::Masking;
use super::causal_attention::{self, AttentionShape, ScoreMasks, Softmax};
use super::dropout;
use super::host_tensor::{from_host, primitive, tensor};
use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::FloatTensor;
use std::sync::Arc;

/// The attention context `[batch * t, d_model]` of rows `q`, `k`, `v` (each
/// `[batch * t, d_model]`) under `Autodiff<I>`, with the composed path's causal fill and, if
/// its probability is given, score dropout (the masks Burn's composed attention draws, from
/// the same generator), and its backward recorded; `None` where the caller must compose it
/// (not f32, or no rows).
pub(crate) fn causal<I: HostMemory>(
    [q, k, v]: [&Tensor<Autodiff<I>, 2>; 3],
    shape: AttentionShape,
    masking: Masking,
) -> Option<Tensor<Autodiff<I>, 2>> {
    if !applies([q, k, v], shape) {
        return None;
    }
    let [q, k, v] = [q, k, v].map(primitive);
    let device = I::float_device(&q.primitive);
    let masks = masking.dropout.map(|prob| {
        let bht = [shape.batch, shape.heads, shape.t];
        Arc::new(dropout::score_masks::<I>(prob, bht, &device))
    });
    let (context, softmax) = {
        let qs = I::f32_elements::<2>(&q.primitive)?;
        let ks = I::f32_elements::<2>(&k.primitive)?;
        let vs = I::f32_elements::<2>(&v.primitive)?;
        let score_masks = ScoreMasks {
            causal: masking.causal,
            dropout: masks.as_deref().map(Vec::as_slice),
        };
        causal_attention::forward(shape, [&qs, &ks, &vs], score_masks, I::row_sums)
    };
    let rows = [shape.batch * shape.t, shape.d_model()];
    let context = from_host::<I, 2>(context, rows, &device);
    let y: FloatTensor<Autodiff<I>> = match HostCausalAttention
        .prepare::<NoCheckpointing>([q.node, k.node, v.node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            Saved {
                operands: [q.primitive, k.primitive, v.primitive],
                softmax: Arc::new(softmax),
                causal: masking.causal,
                masks,
                shape,
            },
            context,
        ),
        OpsKind::UnTracked(prep) => prep.finish(context),
    };
    Some(tensor(y))
}

/// The same context on the inference backend `I` (nothing kept for a backward; no dropout
/// there, so `None` if one is asked for).
pub(crate) fn causal_inference<I: HostMemory>(
    [q, k, v]: [&Tensor<I, 2>; 3],
    shape: AttentionShape,
    masking: Masking,
) -> Option<Tensor<I, 2>> {
    if !applies([q, k, v], shape) || masking.dropout.is_some() {
        return None;
    }
    let device = q.device();
    let [q, k, v] = [q, k, v].map(primitive);
    let qs = I::f32_elements::<2>(&q)?;
    let ks = I::f32_elements::<2>(&k)?;
    let vs = I::f32_elements::<2>(&v)?;
    let score_masks = ScoreMasks {
        causal: masking.causal,
        dropout: None,
    };
    let (context, _) = causal_attention::forward(shape, [&qs, &ks, &vs], score_masks, I::row_sums);
    let rows = [shape.batch * shape.t, shape.d_model()];
    Some(tensor(from_host::<I, 2>(context, rows, &device)))
}

/// Whether the host op runs these operands: all f32, at least one position.
fn applies<B: Backend>(operands: [&Tensor<B, 2>; 3], shape: AttentionShape) -> bool {
    operands.iter().all(|x| x.dtype() == DType::F32) && shape.t > 0
}

/// Autodiff op for [`causal`].
#[derive(Debug)]
struct HostCausalAttention;

/// What the backward keeps: `q`, `k`, `v` (the backend's tensors, read where they lie), the
/// softmax's exponentials and sums, the causal fill, the dropout masks (if any) and the shape.
#[derive(Clone)]
struct Saved<I: Backend> {
    operands: [FloatTensor<I>; 3],
    softmax: Arc<Softmax>,
    causal: f32,
    masks: Option<Arc<Vec<f32>>>,
    shape: AttentionShape,
}

impl<I: Backend> std::fmt::Debug for Saved<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Saved({:?})", self.shape)
    }
}

impl<I: HostMemory> Backward<I, 3> for HostCausalAttention {
    type State = Saved<I>;

    fn backward(self, ops: Ops<Saved<I>, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<I>(&ops.node);
        let device = I::float_device(&grad);
        let Some(grad) = I::f32_elements::<2>(&grad) else {
            // The output is f32 host data by construction; nothing to register otherwise.
            return;
        };
        let Saved {
            operands,
            softmax,
            causal,
            masks,
            shape,
        } = ops.state;
        // q, k and v are f32 by construction; nothing to register otherwise.
        let [Some(q), Some(k), Some(v)] = operands.each_ref().map(I::f32_elements::<2>) else {
            return;
        };
        let score_masks = ScoreMasks {
            causal,
            dropout: masks.as_deref().map(Vec::as_slice),
        };
        let computed = causal_attention::backward(
            shape,
            [&q, &k, &v],
            &softmax,
            score_masks,
            I::row_sums,
            &grad,
        );
        let rows = [shape.batch * shape.t, shape.d_model()];
        for (node, grad) in ops.parents.into_iter().zip(computed) {
            if let Some(node) = node {
                grads.register::<I>(node.id, from_host::<I, 2>(grad, rows, &device));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention;
    use burn::backend::Flex;
    use burn::nn::attention::{MultiHeadAttentionConfig, generate_autoregressive_mask};
    use burn::tensor::Distribution;
    use burn::tensor::TensorData;
    use burn::tensor::activation::softmax;

    type A = Autodiff<Flex>;

    /// Burn's masking (`min_float` above the diagonal), without dropout.
    const PLAIN: Masking = Masking {
        causal: -1.0e4,
        dropout: None,
    };

    /// Causal attention composed from Burn ops, the reference.
    fn composed(
        q: Tensor<A, 2>,
        k: Tensor<A, 2>,
        v: Tensor<A, 2>,
        s: AttentionShape,
    ) -> Tensor<A, 2> {
        let split = |x: Tensor<A, 2>| x.reshape([s.batch, s.t, s.heads, s.d_k]).swap_dims(1, 2);
        let mask = generate_autoregressive_mask::<A>(s.batch, s.t, &q.device())
            .unsqueeze_dim::<4>(1)
            .expand([s.batch, s.heads, s.t, s.t]);
        let scores = split(q)
            .matmul(split(k).swap_dims(2, 3))
            .div_scalar((s.d_k as f64).sqrt())
            .mask_fill(mask, -1.0e4);
        softmax(scores, 3)
            .matmul(split(v))
            .swap_dims(1, 2)
            .reshape([s.batch * s.t, s.d_model()])
    }

    #[test]
    fn matches_burns_composed_attention_and_its_gradients() {
        let device = Default::default();
        let shape = AttentionShape {
            batch: 3,
            t: 6,
            heads: 2,
            d_k: 5,
        };
        A::seed(&device, 5);
        let rows = [shape.batch * shape.t, shape.d_model()];
        let inputs: Vec<Tensor<A, 2>> = (0..3)
            .map(|_| Tensor::random(rows, Distribution::Normal(0.0, 1.0), &device))
            .collect();
        let weight = Tensor::<A, 2>::random(rows, Distribution::Normal(0.0, 1.0), &device);
        let run = |ours: bool| {
            let [q, k, v] = [0, 1, 2].map(|i| inputs[i].clone().detach().require_grad());
            let y = if ours {
                causal([&q, &k, &v], shape, PLAIN).expect("the host op ran")
            } else {
                composed(q.clone(), k.clone(), v.clone(), shape)
            };
            let grads = (y.clone() * weight.clone()).sum().backward();
            let grad = |x: &Tensor<A, 2>| x.grad(&grads).expect("gradient").into_data();
            (y.into_data(), [grad(&q), grad(&k), grad(&v)])
        };
        // Bit for bit: the same steps in the same order.
        let (ours, burns) = (run(true), run(false));
        assert_eq!(ours.0, burns.0, "the context");
        assert_eq!(ours.1, burns.1, "the gradients of q, k and v");
    }

    #[test]
    fn the_inference_forward_matches_the_composed_attention() {
        let device = Default::default();
        let shape = AttentionShape {
            batch: 2,
            t: 5,
            heads: 3,
            d_k: 4,
        };
        A::seed(&device, 6);
        let rows = [shape.batch * shape.t, shape.d_model()];
        let [q, k, v] =
            [0; 3].map(|_| Tensor::<A, 2>::random(rows, Distribution::Normal(0.0, 1.0), &device));
        let want = composed(q.clone(), k.clone(), v.clone(), shape).into_data();
        let [q, k, v] = [q, k, v].map(|x| x.inner());
        let ours = causal_inference::<Flex>([&q, &k, &v], shape, PLAIN)
            .expect("the host forward ran")
            .into_data();
        assert_eq!(ours, want, "bit for bit");
    }

    /// The largest absolute difference between two f32 tensors' values.
    fn max_diff(a: &TensorData, b: &TensorData) -> f32 {
        let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn score_dropout_draws_burns_masks_and_matches_the_composed_attention() {
        // Short rows, and rows longer than flex's widest row sum (8 accumulators of 16 lanes)
        // with a tail.
        for [b, t, d, heads] in [[3, 7, 12, 3], [2, 150, 16, 2]] {
            score_dropout_matches_the_composed_attention([b, t, d, heads]);
        }
    }

    fn score_dropout_matches_the_composed_attention([b, t, d, heads]: [usize; 4]) {
        let device = Default::default();
        A::seed(&device, 11);
        let mha = MultiHeadAttentionConfig::new(d, heads)
            .with_dropout(0.3)
            .init::<A>(&device);
        let h = Tensor::<A, 2>::random([b * t, d], Distribution::Normal(0.0, 1.0), &device);
        let weight = Tensor::<A, 2>::random([b * t, d], Distribution::Normal(0.0, 1.0), &device);
        let mask = generate_autoregressive_mask::<A>(b, t, &device);
        let host_op_ran = std::cell::Cell::new(false);
        let run = |fused: bool, seed: u64| {
            let h = h.clone().detach().require_grad();
            A::seed(&device, seed);
            let y = if fused {
                let op = |operands: [&Tensor<A, 2>; 3], shape, masking: Masking| {
                    let y = causal::<Flex>(operands, shape, masking);
                    host_op_ran.set(y.is_some() && masking.dropout == Some(0.3));
                    y
                };
                attention::fused(&mha, h.clone(), [b, t], &mask, op)
            } else {
                attention::composed(&mha, h.clone(), [b, t], &mask)
            };
            let grads = (y.clone() * weight.clone()).sum().backward();
            (
                y.into_data(),
                h.grad(&grads).expect("a gradient").into_data(),
            )
        };
        // Other tests draw from flex's process-wide generator in parallel, and one of their
        // draws can land between `seed` and a mask: the fused and composed attentions must
        // agree (same masks, so the same context and gradient, bit for bit) in one of four
        // tries; with different masks they never would.
        let agree = (0..4).any(|_| run(true, 4) == run(false, 4));
        assert!(
            host_op_ran.get(),
            "the host op ran, with the dropout (t = {t})"
        );
        assert!(
            agree,
            "the fused attention's masks and bits are the composed attention's (t = {t})"
        );
        // The masks matter: another seed, another context.
        assert!(max_diff(&run(true, 4).0, &run(true, 5).0) > 1e-2);
    }

    #[test]
    fn an_empty_sequence_is_composed() {
        let device = Default::default();
        let x = Tensor::<Flex, 2>::zeros([0, 6], &device);
        let shape = AttentionShape {
            batch: 2,
            t: 0,
            heads: 2,
            d_k: 3,
        };
        assert!(causal_inference([&x, &x, &x], shape, PLAIN).is_none());
    }
}
