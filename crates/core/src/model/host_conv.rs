//! 2-D convolution on host memory: forward and gradients as per-sample `im2col` + matmul.
//!
//! Burn 0.21's default `conv2d_weight_backward` (which flex and ndarray use) convolves the
//! batch-swapped input with the batch-swapped output gradient through element-by-element
//! strided copies, and flex's forward and transposed convolutions loop over the samples on one
//! thread around a matmul (`benches/results/2026-12-02-cpu-conv-backward/`,
//! `benches/results/2026-12-03-cpu-host-conv-attention/`). Under `Autodiff<Flex>` and
//! `Autodiff<NdArray>`, [`conv2d`] records its own autodiff op instead, whose forward and
//! gradients are [`conv_gemm`](super::conv_gemm)'s: one rayon task per sample, the columns in
//! that core's cache. Every other backend, dtype, grouped or asymmetrically padded convolution
//! goes through Burn's `Conv2d::forward` unchanged; the module and its record are Burn's either
//! way.

use super::conv_gemm;
use super::host_backend::{as_autodiff, from_autodiff, from_host, host_vec, is_autodiff_of};
use super::im2col::ConvGeometry;
use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::FloatTensor;
use std::sync::Arc;

/// `layer.forward(x)`, by the host op above where it applies.
pub fn conv2d<B: Backend>(layer: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    if let Some(geo) = host_geometry(layer, &x) {
        #[cfg(feature = "flex")]
        if let Some(y) = on_host::<B, burn::backend::Flex>(layer, &x, geo) {
            return y;
        }
        #[cfg(feature = "ndarray")]
        if let Some(y) = on_host::<B, burn::backend::NdArray>(layer, &x, geo) {
            return y;
        }
    }
    layer.forward(x)
}

/// The convolution's geometry when the host op can run it: f32, one group, symmetric padding.
fn host_geometry<B: Backend>(layer: &Conv2d<B>, x: &Tensor<B, 4>) -> Option<ConvGeometry> {
    let [_, channels, h, w] = x.dims();
    let padding = match layer.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            [top, left]
        }
        _ => return None,
    };
    let f32_only = x.dtype() == DType::F32 && layer.weight.val().dtype() == DType::F32;
    let geo = ConvGeometry {
        channels,
        input: [h, w],
        kernel: layer.kernel_size,
        stride: layer.stride,
        padding,
        dilation: layer.dilation,
    };
    (f32_only && layer.groups == 1 && geo.positions() > 0).then_some(geo)
}

/// Runs the host op when `B` is `Autodiff<I>`; `None` for any other backend.
fn on_host<B: Backend, I: Backend>(
    layer: &Conv2d<B>,
    x: &Tensor<B, 4>,
    geo: ConvGeometry,
) -> Option<Tensor<B, 4>> {
    if !is_autodiff_of::<B, I>() {
        return None;
    }
    let x = as_autodiff::<B, I, 4>(x)?;
    let weight = as_autodiff::<B, I, 4>(&layer.weight.val())?;
    let bias = match &layer.bias {
        Some(b) => Some(as_autodiff::<B, I, 1>(&b.val())?),
        None => None,
    };
    let device = I::float_device(&x.primitive);
    let images = Arc::new(host_vec::<I, 4>(x.primitive.clone())?);
    let weights = Arc::new(host_vec::<I, 4>(weight.primitive.clone())?);
    let biases = match &bias {
        Some(b) => Some(host_vec::<I, 1>(b.primitive.clone())?),
        None => None,
    };
    let y = conv_gemm::forward(&geo, &images, &weights, biases.as_deref());
    let [batch, out] = [images.len() / geo.image_len(), layer.weight.dims()[0]];
    let [out_h, out_w] = geo.output();
    let y = from_host::<I, 4>(y, [batch, out, out_h, out_w], &device);
    let saved = Saved {
        images,
        weight: weights,
        geo,
    };
    let y: FloatTensor<Autodiff<I>> = match bias {
        Some(bias) => record(
            HostConv2d
                .prepare::<NoCheckpointing>([x.node, weight.node, bias.node])
                .compute_bound()
                .stateful(),
            y,
            saved,
        ),
        None => record(
            HostConv2d
                .prepare::<NoCheckpointing>([x.node, weight.node])
                .compute_bound()
                .stateful(),
            y,
            saved,
        ),
    };
    from_autodiff::<B, I, 4>(y)
}

/// Autodiff op for [`conv2d`]; `N` is 3 with a bias, 2 without.
#[derive(Debug)]
struct HostConv2d;

/// What the backward keeps: the input's and the weight's host values and the geometry.
#[derive(Clone)]
struct Saved {
    images: Arc<Vec<f32>>,
    weight: Arc<Vec<f32>>,
    geo: ConvGeometry,
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Saved({:?})", self.geo)
    }
}

/// Registers the backward of `y` if the op is tracked.
fn record<I: Backend, const N: usize>(
    kind: OpsKind<HostConv2d, I, Saved, NoCheckpointing, N>,
    y: FloatTensor<I>,
    saved: Saved,
) -> FloatTensor<Autodiff<I>>
where
    HostConv2d: Backward<I, N, State = Saved>,
{
    match kind {
        OpsKind::Tracked(prep) => prep.finish(saved, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

impl<I: Backend, const N: usize> Backward<I, N> for HostConv2d {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<I>(&ops.node);
        let device = I::float_device(&grad);
        let saved = ops.state;
        let mut parents = ops.parents.into_iter();
        let nodes = [(); 3].map(|_| parents.next().flatten());
        let Some(grad) = host_vec::<I, 4>(grad) else {
            // The output is f32 host data by construction; nothing to register otherwise.
            return;
        };
        let geo = &saved.geo;
        let out = saved.weight.len() / geo.patch_len();
        let [kh, kw] = geo.kernel;
        let [h, w] = geo.input;
        let batch = saved.images.len() / geo.image_len();
        let [x_node, weight_node, bias_node] = nodes;
        if let Some(node) = x_node {
            let dx = conv_gemm::input_grad(geo, &saved.weight, &grad);
            let shape = [batch, geo.channels, h, w];
            grads.register::<I>(node.id, from_host::<I, 4>(dx, shape, &device));
        }
        if let Some(node) = weight_node {
            let dw = conv_gemm::weight_grad(geo, &saved.images, &grad);
            let shape = [out, geo.channels, kh, kw];
            grads.register::<I>(node.id, from_host::<I, 4>(dw, shape, &device));
        }
        if let Some(node) = bias_node {
            let db = conv_gemm::bias_grad(&grad, out, geo.positions());
            grads.register::<I>(node.id, from_host::<I, 1>(db, [out], &device));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::module::Param;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::backend::AutodiffBackend;
    use burn::tensor::{Distribution, Tolerance};

    type A = Autodiff<Flex>;

    /// Forward values and the input, weight and bias gradients of `conv2d` and Burn's
    /// `Conv2d::forward` agree on backend `A` for `config` on a `[n, c, h, w]` input.
    fn check<A: AutodiffBackend>(config: Conv2dConfig, input: [usize; 4]) {
        let device = Default::default();
        A::seed(&device, 7);
        let layer = config.init::<A>(&device);
        let geo = host_geometry(&layer, &Tensor::<A, 4>::zeros(input, &device))
            .expect("this case must take the host op");
        let x = Tensor::<A, 4>::random(input, Distribution::Normal(0.0, 1.0), &device);
        let run = |ours: bool| {
            let x = x.clone().detach().require_grad();
            let y = if ours {
                on_host::<A, A::InnerBackend>(&layer, &x, geo).expect("the host op ran")
            } else {
                layer.forward(x.clone())
            };
            // A non-uniform output gradient: weight every output by its own value.
            let loss = (y.clone() * y.clone().detach().sin()).sum();
            let grads = loss.backward();
            let grad = |t: &Tensor<A, 4>| t.grad(&grads).map(|g| g.into_data());
            (
                y.into_data(),
                grad(&x),
                grad(&layer.weight.val()),
                layer
                    .bias
                    .as_ref()
                    .and_then(|b| b.val().grad(&grads).map(|g| g.into_data())),
            )
        };
        let (ours, burns) = (run(true), run(false));
        let tol = Tolerance::<f32>::absolute(1e-4);
        ours.0.assert_approx_eq::<f32>(&burns.0, tol);
        for (a, b) in [(ours.1, burns.1), (ours.2, burns.2)] {
            a.expect("gradient")
                .assert_approx_eq::<f32>(&b.expect("gradient"), tol);
        }
        match (ours.3, burns.3) {
            (Some(a), Some(b)) => a.assert_approx_eq::<f32>(&b, tol),
            (None, None) => {}
            _ => panic!("bias gradient on one side only"),
        }
    }

    #[test]
    fn matches_burn_on_the_mnist_shape() {
        check::<A>(Conv2dConfig::new([3, 5], [3, 3]), [4, 3, 10, 9]);
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn matches_burn_on_ndarray() {
        check::<Autodiff<burn::backend::NdArray>>(Conv2dConfig::new([3, 5], [3, 3]), [4, 3, 10, 9]);
    }

    #[test]
    fn matches_burn_with_stride_padding_dilation_and_no_bias() {
        let config = Conv2dConfig::new([2, 4], [3, 2])
            .with_stride([2, 1])
            .with_padding(PaddingConfig2d::Explicit(1, 2, 1, 2))
            .with_dilation([1, 2])
            .with_bias(false);
        check::<A>(config, [3, 2, 9, 8]);
    }

    #[test]
    fn other_layouts_take_burns_path() {
        let device = Default::default();
        let x = Tensor::<A, 4>::zeros([1, 4, 6, 6], &device);
        let grouped = Conv2dConfig::new([4, 4], [3, 3])
            .with_groups(2)
            .init::<A>(&device);
        assert!(host_geometry(&grouped, &x).is_none());
        let same = Conv2dConfig::new([4, 4], [2, 2])
            .with_padding(PaddingConfig2d::Same)
            .init::<A>(&device);
        assert!(host_geometry(&same, &x).is_none());
    }

    #[test]
    fn params_reach_the_optimizer_as_burns_do() {
        // The op registers gradients on the layer's own parameters.
        let device = Default::default();
        let layer = Conv2dConfig::new([1, 2], [3, 3]).init::<A>(&device);
        let x = Tensor::<A, 4>::ones([2, 1, 5, 5], &device);
        let grads = conv2d(&layer, x).sum().backward();
        let params = burn::optim::GradientsParams::from_grads(grads, &layer);
        let weight: Param<Tensor<A, 4>> = layer.weight.clone();
        assert!(params.get::<Flex, 4>(weight.id).is_some());
    }
}
