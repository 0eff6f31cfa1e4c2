//! trainer's host ops: [`HostOps`], a backend extension trait for the layers whose fastest path
//! depends on where a backend keeps its tensors.
//!
//! Every method defaults to Burn's own path, which the GPU backends take. Where tensors live in
//! host memory ([`HostMemory`]: flex, ndarray) the training backend `Autodiff<I>` runs the
//! linear layer, convolution, max pooling, causal attention, exact GELU, ReLU and layer
//! normalization as single autodiff ops on host `f32` data (rayon + gemm), and draws dropout
//! masks on the host; the inference backend `I` runs the same forwards untracked (layer
//! normalization is the backend's own there) and the Adam/AdamW update in place
//! ([`HostAdam`]). The ops read their operands, and keep them for the backward, where the
//! backend holds them ([`HostMemory::f32_elements`]: flex lends its buffers; ndarray's are
//! copied). Models call these methods like any layer; [`TrainBackend`] bundles the bounds a
//! training job needs.

mod adam;
mod attention;
mod causal_attention;
mod conv_gemm;
mod dropout;
mod host_attention;
mod host_conv;
mod host_gelu;
mod host_gemm;
mod host_layer_norm;
mod host_linear;
mod host_pool;
mod host_record;
mod host_relu;
mod host_tensor;
mod im2col;
mod layer_norm;
mod max_pool;
mod normal_cdf;
mod outputs;
mod partial_sums;
mod simd;

use burn::backend::Autodiff;
use burn::nn::attention::MultiHeadAttention;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{Dropout, Gelu, LayerNorm, Linear, Relu};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::FloatTensor;
use std::borrow::Cow;

pub use adam::{AdamDecay, AdamMoments, AdamSettings, BurnStep, HostAdam};
pub use attention::composed as composed_attention;
use burn::optim::AdaptiveMomentumState;

/// The layers a backend may run faster than Burn's composed forward. Each method is
/// `layer.forward(x)` by default.
pub trait HostOps: Backend {
    /// Burn's `Linear::forward`. The GPT's layers call it; the MLP, CNN and ResNet keep
    /// `Linear::forward` (the host op measured no gain there, and their results stay those of
    /// Burn's op).
    fn linear_forward<const D: usize>(layer: &Linear<Self>, x: Tensor<Self, D>) -> Tensor<Self, D> {
        layer.forward(x)
    }

    /// Burn's `Conv2d::forward`.
    fn conv2d_forward(layer: &Conv2d<Self>, x: Tensor<Self, 4>) -> Tensor<Self, 4> {
        layer.forward(x)
    }

    /// Burn's `MaxPool2d::forward`.
    fn max_pool2d_forward(layer: &MaxPool2d, x: Tensor<Self, 4>) -> Tensor<Self, 4> {
        layer.forward(x)
    }

    /// Burn's `Gelu::forward` (exact or tanh-approximated, as the layer says).
    fn gelu_forward<const D: usize>(layer: &Gelu, x: Tensor<Self, D>) -> Tensor<Self, D> {
        layer.forward(x)
    }

    /// Burn's `Relu::forward`.
    fn relu_forward<const D: usize>(layer: &Relu, x: Tensor<Self, D>) -> Tensor<Self, D> {
        layer.forward(x)
    }

    /// Burn's `LayerNorm::forward` over the last axis.
    fn layer_norm_forward<const D: usize>(
        layer: &LayerNorm<Self>,
        x: Tensor<Self, D>,
    ) -> Tensor<Self, D> {
        layer.forward(x)
    }

    /// Burn's `Dropout::forward`: masks while training (autodiff), the identity otherwise.
    fn dropout_forward<const D: usize>(layer: &Dropout, x: Tensor<Self, D>) -> Tensor<Self, D> {
        layer.forward(x)
    }

    /// Causal multi-head self-attention of rows `h: [batch * t, d_model]` (`bt` is
    /// `[batch, t]`) under `mask: [batch, t, t]`, the output projection included.
    fn causal_attention_forward(
        mha: &MultiHeadAttention<Self>,
        h: Tensor<Self, 2>,
        bt: [usize; 2],
        mask: &Tensor<Self, 3, Bool>,
    ) -> Tensor<Self, 2> {
        attention::composed(mha, h, bt, mask)
    }

    /// One Adam/AdamW update of a parameter: Burn's own step (`burns`) by default. Backends in
    /// host memory compute the same formulas in one pass, in place ([`HostAdam`]).
    fn adam_step<const D: usize>(
        settings: &AdamSettings,
        lr: f64,
        param: Tensor<Self, D>,
        grad: Tensor<Self, D>,
        momentum: Option<AdaptiveMomentumState<Self, D>>,
        burns: BurnStep<'_, Self, D>,
    ) -> (Tensor<Self, D>, Option<AdaptiveMomentumState<Self, D>>) {
        let _ = (settings, lr);
        burns(param, grad, momentum)
    }
}

/// A backend whose tensors live in host memory, so the host ops read them without a transfer.
pub trait HostMemory: Backend {
    /// The elements of `tensor` (rank `D`) as f32 in row-major order: its own memory where the
    /// backend lends it, else a copy; `None` if they are not f32.
    fn f32_elements<const D: usize>(tensor: &FloatTensor<Self>) -> Option<Cow<'_, [f32]>> {
        host_tensor::host_vec::<Self, D>(tensor.clone()).map(Cow::Owned)
    }

    /// Runs `update` on the f32 elements of `tensors`, in place, where the backend lends its
    /// memory mutably (a buffer another tensor shares is copied first) and returns true; leaves
    /// them as they are and returns false where it does not (the default) or one is not
    /// contiguous f32.
    fn update_in_place<const N: usize>(
        tensors: &mut [FloatTensor<Self>; N],
        update: &mut dyn FnMut([&mut [f32]; N]),
    ) -> bool {
        let _ = (tensors, update);
        false
    }

    /// Sums each `row_len`-element row of `rows` into one element of `sums`, adding in the
    /// order this backend's `sum_dim` over a contiguous last axis does, so that a host op that
    /// takes a composed path's steps gets its bits (by default: in order, from the first).
    fn row_sums(rows: &[f32], row_len: usize, sums: &mut [f32]) {
        partial_sums::row_sums_in_order(rows, row_len, sums);
    }
}

/// Flex lends a contiguous f32 tensor's buffer, shared or not: the host ops read their
/// operands (and what their backward keeps) without copying them.
#[cfg(feature = "flex")]
impl HostMemory for burn::backend::Flex {
    fn f32_elements<const D: usize>(tensor: &FloatTensor<Self>) -> Option<Cow<'_, [f32]>> {
        match flex_lends(tensor) {
            true => Some(Cow::Borrowed(
                &tensor.storage::<f32>()[..tensor.layout().num_elements()],
            )),
            false => host_tensor::host_vec::<Self, D>(tensor.clone()).map(Cow::Owned),
        }
    }

    fn update_in_place<const N: usize>(
        tensors: &mut [FloatTensor<Self>; N],
        update: &mut dyn FnMut([&mut [f32]; N]),
    ) -> bool {
        let lends = tensors.iter().all(flex_lends);
        if lends {
            update(tensors.each_mut().map(|t| {
                let len = t.layout().num_elements();
                &mut t.storage_mut::<f32>()[..len]
            }));
        }
        lends
    }

    fn row_sums(rows: &[f32], row_len: usize, sums: &mut [f32]) {
        // Flex's own kernel for `sum_dim` over a contiguous last axis.
        burn_flex::simd::kernels::sum_rows_f32(rows, sums, sums.len(), row_len);
    }
}

/// Whether flex can hand out `tensor`'s own buffer as its f32 elements in row-major order:
/// f32, contiguous, starting at the buffer's first element.
#[cfg(feature = "flex")]
fn flex_lends(tensor: &FloatTensor<burn::backend::Flex>) -> bool {
    let layout = tensor.layout();
    tensor.dtype() == burn::tensor::DType::F32
        && layout.is_contiguous()
        && layout.start_offset() == 0
}

#[cfg(feature = "ndarray")]
impl HostMemory for burn::backend::NdArray {}

/// Training on a host-memory backend: every op recorded as one autodiff op on host data.
impl<I: HostMemory> HostOps for Autodiff<I> {
    fn linear_forward<const D: usize>(layer: &Linear<Self>, x: Tensor<Self, D>) -> Tensor<Self, D> {
        host_linear::linear(layer, x)
    }

    fn conv2d_forward(layer: &Conv2d<Self>, x: Tensor<Self, 4>) -> Tensor<Self, 4> {
        host_conv::conv2d(layer, x)
    }

    fn max_pool2d_forward(layer: &MaxPool2d, x: Tensor<Self, 4>) -> Tensor<Self, 4> {
        host_pool::max_pool2d(layer, x)
    }

    fn gelu_forward<const D: usize>(layer: &Gelu, x: Tensor<Self, D>) -> Tensor<Self, D> {
        host_gelu::gelu(layer, x)
    }

    fn relu_forward<const D: usize>(layer: &Relu, x: Tensor<Self, D>) -> Tensor<Self, D> {
        host_relu::relu(layer, x)
    }

    fn layer_norm_forward<const D: usize>(
        layer: &LayerNorm<Self>,
        x: Tensor<Self, D>,
    ) -> Tensor<Self, D> {
        host_layer_norm::layer_norm(layer, x)
    }

    fn dropout_forward<const D: usize>(layer: &Dropout, x: Tensor<Self, D>) -> Tensor<Self, D> {
        dropout::dropout(layer, x)
    }

    fn causal_attention_forward(
        mha: &MultiHeadAttention<Self>,
        h: Tensor<Self, 2>,
        bt: [usize; 2],
        mask: &Tensor<Self, 3, Bool>,
    ) -> Tensor<Self, 2> {
        attention::fused(mha, h, bt, mask, host_attention::causal::<I>)
    }
}

/// Inference on a host-memory backend (validation, eval, predict, sample): the same host
/// forwards, untracked; dropout is Burn's identity.
impl<I: HostMemory> HostOps for I {
    fn linear_forward<const D: usize>(layer: &Linear<Self>, x: Tensor<Self, D>) -> Tensor<Self, D> {
        host_linear::linear_inference(layer, x)
    }

    fn conv2d_forward(layer: &Conv2d<Self>, x: Tensor<Self, 4>) -> Tensor<Self, 4> {
        host_conv::conv2d_inference(layer, x)
    }

    fn max_pool2d_forward(layer: &MaxPool2d, x: Tensor<Self, 4>) -> Tensor<Self, 4> {
        host_pool::max_pool2d_inference(layer, x)
    }

    fn gelu_forward<const D: usize>(layer: &Gelu, x: Tensor<Self, D>) -> Tensor<Self, D> {
        host_gelu::gelu_inference(layer, x)
    }

    fn relu_forward<const D: usize>(layer: &Relu, x: Tensor<Self, D>) -> Tensor<Self, D> {
        host_relu::relu_inference(layer, x)
    }

    fn causal_attention_forward(
        mha: &MultiHeadAttention<Self>,
        h: Tensor<Self, 2>,
        bt: [usize; 2],
        mask: &Tensor<Self, 3, Bool>,
    ) -> Tensor<Self, 2> {
        attention::fused(mha, h, bt, mask, host_attention::causal_inference::<I>)
    }

    fn adam_step<const D: usize>(
        settings: &AdamSettings,
        lr: f64,
        param: Tensor<Self, D>,
        grad: Tensor<Self, D>,
        momentum: Option<AdaptiveMomentumState<Self, D>>,
        burns: BurnStep<'_, Self, D>,
    ) -> (Tensor<Self, D>, Option<AdaptiveMomentumState<Self, D>>) {
        adam::host(settings, lr, param, grad, momentum, burns)
    }
}

#[cfg(feature = "cuda")]
impl HostOps for burn::backend::Cuda {}

#[cfg(feature = "cuda")]
impl HostOps for Autodiff<burn::backend::Cuda> {}

#[cfg(feature = "wgpu")]
impl HostOps for burn::backend::Wgpu {}

#[cfg(feature = "wgpu")]
impl HostOps for Autodiff<burn::backend::Wgpu> {}

/// A backend the built-in models train on: autodiff, with [`HostOps`] on both the training
/// backend and its inference backend.
pub trait TrainBackend: AutodiffBackend<InnerBackend: HostOps> + HostOps {}

impl<B> TrainBackend for B
where
    B: AutodiffBackend + HostOps,
    B::InnerBackend: HostOps,
{
}
