//! 2-D max pooling as one autodiff op where tensors live in host memory.
//!
//! Flex pools through its 3-D kernel (bounds checks per element, i64 indices) and autodiff
//! scatters the gradient back through a second generic kernel: about 11% of the MNIST CNN's
//! step (`benches/results/2026-12-04-cpu-max-pool/`). Under `Autodiff<Flex>` and
//! `Autodiff<NdArray>`, [`max_pool2d`] runs [`max_pool`](super::max_pool)'s forward and
//! keeps each output's argmax for the backward; the inference backends run the same forward.
//! Padding, dilation, ceil mode and other dtypes keep Burn's `MaxPool2d::forward`.

use super::HostMemory;
use super::host_tensor::{from_host, host_vec, primitive, tensor};
use super::max_pool::{self, PoolGeometry};
use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::FloatTensor;
use std::sync::Arc;

/// `layer.forward(x)` under `Autodiff<I>`, by the host op where it applies.
pub(crate) fn max_pool2d<I: HostMemory>(
    layer: &MaxPool2d,
    x: Tensor<Autodiff<I>, 4>,
) -> Tensor<Autodiff<I>, 4> {
    geometry(layer, &x)
        .and_then(|geo| on_host::<I>(&x, geo))
        .unwrap_or_else(|| layer.forward(x))
}

/// `layer.forward(x)` on the inference backend `I`, by the host forward where it applies.
pub(crate) fn max_pool2d_inference<I: HostMemory>(
    layer: &MaxPool2d,
    x: Tensor<I, 4>,
) -> Tensor<I, 4> {
    geometry(layer, &x)
        .and_then(|geo| {
            let device = x.device();
            let input = primitive(&x);
            let (y, _) = max_pool::forward(&geo, &I::f32_elements::<4>(&input)?);
            Some(tensor(from_host::<I, 4>(y, shape(&x, &geo), &device)))
        })
        .unwrap_or_else(|| layer.forward(x))
}

/// The pooling's geometry when the host op can run it: f32, no padding, no dilation, floor
/// mode, at least one output.
fn geometry<B: Backend>(layer: &MaxPool2d, x: &Tensor<B, 4>) -> Option<PoolGeometry> {
    let [batch, channels, h, w] = x.dims();
    let unpadded = matches!(
        layer.padding,
        PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
    );
    let geo = PoolGeometry {
        planes: batch * channels,
        input: [h, w],
        kernel: layer.kernel_size,
        stride: layer.stride,
    };
    let [out_h, out_w] = geo.output();
    let plain = unpadded && layer.dilation == [1, 1] && !layer.ceil_mode;
    let fits = out_h > 0 && out_w > 0 && geo.planes > 0 && h * w <= u32::MAX as usize;
    (plain && fits && x.dtype() == DType::F32).then_some(geo)
}

/// The output shape `[batch, channels, out_h, out_w]`.
fn shape<B: Backend>(x: &Tensor<B, 4>, geo: &PoolGeometry) -> [usize; 4] {
    let [batch, channels, ..] = x.dims();
    let [out_h, out_w] = geo.output();
    [batch, channels, out_h, out_w]
}

/// Runs the host op and records its backward; `None` if the input is not f32.
fn on_host<I: HostMemory>(
    x: &Tensor<Autodiff<I>, 4>,
    geo: PoolGeometry,
) -> Option<Tensor<Autodiff<I>, 4>> {
    let out_shape = shape(x, &geo);
    let input = x.dims();
    let x = primitive(x);
    let device = I::float_device(&x.primitive);
    let (y, argmax) = max_pool::forward(&geo, &I::f32_elements::<4>(&x.primitive)?);
    let y = from_host::<I, 4>(y, out_shape, &device);
    let y: FloatTensor<Autodiff<I>> = match HostMaxPool2d
        .prepare::<NoCheckpointing>([x.node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            Saved {
                argmax: Arc::new(argmax),
                geo,
                input,
            },
            y,
        ),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Some(tensor(y))
}

/// Autodiff op for [`max_pool2d`].
#[derive(Debug)]
struct HostMaxPool2d;

/// What the backward keeps: each output's argmax in its plane, the geometry and the input's
/// shape.
#[derive(Clone)]
struct Saved {
    argmax: Arc<Vec<u32>>,
    geo: PoolGeometry,
    input: [usize; 4],
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Saved({:?})", self.geo)
    }
}

impl<I: Backend> Backward<I, 1> for HostMaxPool2d {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<I>(&ops.node);
        let device = I::float_device(&grad);
        let [x_node] = ops.parents;
        let (Some(node), Some(grad)) = (x_node, host_vec::<I, 4>(grad)) else {
            // No input to differentiate, or (never: the output is f32 host data) not f32.
            return;
        };
        let Saved { argmax, geo, input } = ops.state;
        let dx = max_pool::backward(&geo, &argmax, &grad);
        let dx = from_host::<I, 4>(dx, input, &device);
        grads.register::<I>(node.id, dx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Distribution;

    type A = Autodiff<Flex>;

    /// The host op's and Burn's output and input gradient for `layer` on `x`.
    fn both(layer: &MaxPool2d, x: &Tensor<A, 4>) -> [(TensorData, TensorData); 2] {
        let weight = {
            let y = layer.forward(x.clone());
            Tensor::<A, 4>::random(y.dims(), Distribution::Normal(0.0, 1.0), &x.device())
        };
        [true, false].map(|ours| {
            let x = x.clone().detach().require_grad();
            let y = if ours {
                assert!(geometry(layer, &x).is_some(), "the host op applies");
                max_pool2d(layer, x.clone())
            } else {
                layer.forward(x.clone())
            };
            let grads = (y.clone() * weight.clone()).sum().backward();
            let dx = x.grad(&grads).expect("a gradient").into_data();
            (y.into_data(), dx)
        })
    }

    #[test]
    fn matches_burns_max_pool_and_its_gradient() {
        let device = Default::default();
        let x = Tensor::<A, 4>::random([3, 4, 9, 11], Distribution::Normal(0.0, 1.0), &device);
        let layers = [
            MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(), // the CNN's
            MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(), // overlapping
            MaxPool2dConfig::new([2, 3]).with_strides([1, 1]).init(),
        ];
        for layer in &layers {
            let [ours, burns] = both(layer, &x);
            assert_eq!(ours.0, burns.0, "{layer:?}: values");
            ours.1
                .assert_approx_eq::<f32>(&burns.1, burn::tensor::Tolerance::absolute(1e-6));
        }
    }

    #[test]
    fn ties_after_a_relu_route_the_gradient_where_burns_does() {
        let device = Default::default();
        let x = Tensor::<A, 4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        // Most windows of a ReLU output hold several zeros, and some are all zeros.
        let x = burn::tensor::activation::relu(x - 0.8);
        let layer = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let [ours, burns] = both(&layer, &x);
        assert_eq!(ours, burns);
    }

    #[test]
    fn the_inference_forward_matches_and_padding_keeps_burns_path() {
        let device = Default::default();
        let x = Tensor::<Flex, 4>::random([2, 3, 7, 7], Distribution::Normal(0.0, 1.0), &device);
        let layer = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        assert_eq!(
            max_pool2d_inference(&layer, x.clone()).into_data(),
            layer.forward(x.clone()).into_data()
        );
        let padded = MaxPool2dConfig::new([3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init();
        assert!(geometry(&padded, &x).is_none());
        assert_eq!(
            max_pool2d_inference(&padded, x.clone()).into_data(),
            padded.forward(x).into_data()
        );
    }
}
