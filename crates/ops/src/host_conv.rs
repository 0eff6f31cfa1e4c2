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
//! way. The inference backends (`Flex`, `NdArray`) run the same host forward, untracked.

use super::HostMemory;
use super::conv_gemm;
use super::host_record::record_affine;
use super::host_tensor::{from_host, primitive, tensor};
use super::im2col::ConvGeometry;
use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::FloatTensor;

/// `layer.forward(x)` under `Autodiff<I>`, by the host op where it applies.
pub(crate) fn conv2d<I: HostMemory>(
    layer: &Conv2d<Autodiff<I>>,
    x: Tensor<Autodiff<I>, 4>,
) -> Tensor<Autodiff<I>, 4> {
    host_geometry(layer, &x)
        .and_then(|geo| on_host(layer, &x, geo))
        .unwrap_or_else(|| layer.forward(x))
}

/// `layer.forward(x)` on the inference backend `I`, by the host forward where it applies.
pub(crate) fn conv2d_inference<I: HostMemory>(layer: &Conv2d<I>, x: Tensor<I, 4>) -> Tensor<I, 4> {
    host_geometry(layer, &x)
        .and_then(|geo| {
            let bias = layer.bias.as_ref().map(|b| primitive(&b.val()));
            let weight = primitive(&layer.weight.val());
            host_forward::<I>(&geo, &primitive(&x), &weight, bias.as_ref())
        })
        .map(tensor)
        .unwrap_or_else(|| layer.forward(x))
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

/// The forward on host memory (the operands read where they lie): the output on `x`'s device;
/// `None` if an operand is not f32.
fn host_forward<I: HostMemory>(
    geo: &ConvGeometry,
    x: &FloatTensor<I>,
    weight: &FloatTensor<I>,
    bias: Option<&FloatTensor<I>>,
) -> Option<FloatTensor<I>> {
    let images = I::f32_elements::<4>(x)?;
    let weights = I::f32_elements::<4>(weight)?;
    let biases = match bias {
        Some(b) => Some(I::f32_elements::<1>(b)?),
        None => None,
    };
    let y = conv_gemm::forward(geo, &images, &weights, biases.as_deref());
    let [batch, out] = [
        images.len() / geo.image_len(),
        weights.len() / geo.patch_len(),
    ];
    let [out_h, out_w] = geo.output();
    Some(from_host::<I, 4>(
        y,
        [batch, out, out_h, out_w],
        &I::float_device(x),
    ))
}

/// Runs the host op and records its backward; `None` if an operand is not f32.
fn on_host<I: HostMemory>(
    layer: &Conv2d<Autodiff<I>>,
    x: &Tensor<Autodiff<I>, 4>,
    geo: ConvGeometry,
) -> Option<Tensor<Autodiff<I>, 4>> {
    let x = primitive(x);
    let weight = primitive(&layer.weight.val());
    let bias = layer.bias.as_ref().map(|b| primitive(&b.val()));
    let y = host_forward::<I>(
        &geo,
        &x.primitive,
        &weight.primitive,
        bias.as_ref().map(|b| &b.primitive),
    )?;
    let saved = Saved {
        images: x.primitive.clone(),
        weight: weight.primitive.clone(),
        geo,
    };
    let y = record_affine(HostConv2d, [&x, &weight], bias.as_ref(), y, saved);
    Some(tensor(y))
}

/// Autodiff op for [`conv2d`]; `N` is 3 with a bias, 2 without.
#[derive(Debug)]
struct HostConv2d;

/// What the backward keeps: the input and the weight (the backend's tensors, read where they
/// lie) and the geometry.
#[derive(Clone)]
struct Saved<I: Backend> {
    images: FloatTensor<I>,
    weight: FloatTensor<I>,
    geo: ConvGeometry,
}

impl<I: Backend> std::fmt::Debug for Saved<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Saved({:?})", self.geo)
    }
}

impl<I: HostMemory, const N: usize> Backward<I, N> for HostConv2d {
    type State = Saved<I>;

    fn backward(self, ops: Ops<Saved<I>, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<I>(&ops.node);
        let device = I::float_device(&grad);
        let saved = ops.state;
        let mut parents = ops.parents.into_iter();
        let nodes = [(); 3].map(|_| parents.next().flatten());
        // The output and both operands are f32 by construction; nothing to register otherwise.
        let (Some(grad), Some(images), Some(weight)) = (
            I::f32_elements::<4>(&grad),
            I::f32_elements::<4>(&saved.images),
            I::f32_elements::<4>(&saved.weight),
        ) else {
            return;
        };
        let geo = &saved.geo;
        let out = weight.len() / geo.patch_len();
        let [kh, kw] = geo.kernel;
        let [h, w] = geo.input;
        let batch = images.len() / geo.image_len();
        let [x_node, weight_node, bias_node] = nodes;
        if let Some(node) = x_node {
            let dx = conv_gemm::input_grad(geo, &weight, &grad);
            let shape = [batch, geo.channels, h, w];
            grads.register::<I>(node.id, from_host::<I, 4>(dx, shape, &device));
        }
        if let Some(node) = weight_node {
            let dw = conv_gemm::weight_grad(geo, &images, &grad);
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
    use burn::module::AutodiffModule;
    use burn::module::Param;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Distribution, Tolerance};

    type A = Autodiff<Flex>;

    /// Forward values and the input, weight and bias gradients of `conv2d` and Burn's
    /// `Conv2d::forward` agree on backend `Autodiff<I>` for `config` on a `[n, c, h, w]`
    /// input, and so does the inference forward on `I`.
    fn check<I: HostMemory>(config: Conv2dConfig, input: [usize; 4]) {
        type A<I> = Autodiff<I>;
        let device = Default::default();
        A::<I>::seed(&device, 7);
        let layer = config.init::<A<I>>(&device);
        let geo = host_geometry(&layer, &Tensor::<A<I>, 4>::zeros(input, &device))
            .expect("this case must take the host op");
        let x = Tensor::<A<I>, 4>::random(input, Distribution::Normal(0.0, 1.0), &device);
        let run = |ours: bool| {
            let x = x.clone().detach().require_grad();
            let y = if ours {
                on_host::<I>(&layer, &x, geo).expect("the host op ran")
            } else {
                layer.forward(x.clone())
            };
            // A non-uniform output gradient: weight every output by its own value.
            let loss = (y.clone() * y.clone().detach().sin()).sum();
            let grads = loss.backward();
            let grad = |t: &Tensor<A<I>, 4>| t.grad(&grads).map(|g| g.into_data());
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
        let (inner, xi) = (layer.valid(), x.inner());
        let want = inner.forward(xi.clone()).into_data();
        conv2d_inference(&inner, xi)
            .into_data()
            .assert_approx_eq::<f32>(&want, tol);
    }

    #[test]
    fn matches_burn_on_the_mnist_shape() {
        check::<Flex>(Conv2dConfig::new([3, 5], [3, 3]), [4, 3, 10, 9]);
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn matches_burn_on_ndarray() {
        check::<burn::backend::NdArray>(Conv2dConfig::new([3, 5], [3, 3]), [4, 3, 10, 9]);
    }

    #[test]
    fn matches_burn_with_stride_padding_dilation_and_no_bias() {
        let config = Conv2dConfig::new([2, 4], [3, 2])
            .with_stride([2, 1])
            .with_padding(PaddingConfig2d::Explicit(1, 2, 1, 2))
            .with_dilation([1, 2])
            .with_bias(false);
        check::<Flex>(config, [3, 2, 9, 8]);
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
