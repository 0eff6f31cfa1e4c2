//! 2-D convolution whose weight gradient is `im2col` + matmul where tensors live in host memory.
//!
//! Burn 0.21's default `conv2d_weight_backward` (which flex and ndarray use) convolves the
//! batch-swapped input with the batch-swapped output gradient: two element-by-element strided
//! copies, then a convolution with an output-sized kernel. On flex that was ~76 ms of the MNIST
//! CNN's ~190 ms step for its second convolution alone, against ~11 ms in PyTorch
//! (`benches/results/2026-12-02-cpu-conv-backward/`). Under `Autodiff<Flex>` and
//! `Autodiff<NdArray>`, [`conv2d`] records its own autodiff op instead: the forward and the
//! input gradient are the backend's own; the weight gradient builds the input's columns
//! (`im2col`) per chunk of samples and takes one batched matmul with the output gradient.
//! (An input gradient as `weightᵀ @ grad` + `col2im` was slower than flex's transposed
//! convolution: its `[batch, K, L]` product is written to memory and read back.) Every other
//! backend, dtype, grouped or asymmetrically padded convolution goes through Burn's
//! `Conv2d::forward` unchanged; the module and its record are Burn's either way.

use super::host_backend::is_autodiff_of;
use super::im2col::{ConvGeometry, im2col};
use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::ops::{ConvOptions, FloatTensor};
use burn::tensor::{DType, TensorPrimitive};
use rayon::prelude::*;
use std::any::Any;

/// Columns built per chunk of samples in the backward, at most: 16 MiB of f32, under the
/// trainer's 32 MiB `mmap` threshold (`host_memory.rs`), so the buffer is reused, not faulted in.
const CHUNK_ELEMENTS: usize = 4 << 20;

/// `layer.forward(x)`, with the host backward above where it applies.
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
    let primitive = |t: Tensor<B, 4>| t.into_primitive().tensor();
    let x = cast::<_, FloatTensor<Autodiff<I>>>(primitive(x.clone()))?;
    let weight = cast::<_, FloatTensor<Autodiff<I>>>(primitive(layer.weight.val()))?;
    let bias = match &layer.bias {
        Some(b) => Some(cast::<_, FloatTensor<Autodiff<I>>>(
            b.val().into_primitive().tensor(),
        )?),
        None => None,
    };
    let options = conv_options(&geo);
    let y = match bias {
        Some(bias) => record(
            HostConv2d
                .prepare::<NoCheckpointing>([
                    x.node.clone(),
                    weight.node.clone(),
                    bias.node.clone(),
                ])
                .compute_bound()
                .stateful(),
            (x, weight, Some(bias.primitive)),
            options,
            geo,
        ),
        None => record(
            HostConv2d
                .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone()])
                .compute_bound()
                .stateful(),
            (x, weight, None),
            options,
            geo,
        ),
    };
    let y = cast::<_, FloatTensor<B>>(y)?;
    Some(Tensor::from_primitive(TensorPrimitive::Float(y)))
}

/// Burn's options for `geo`'s convolution (one group).
fn conv_options(geo: &ConvGeometry) -> ConvOptions<2> {
    ConvOptions::new(geo.stride, geo.padding, geo.dilation, 1)
}

/// `value` as `U` when it is one (a checked `TypeId` downcast), else `None`.
fn cast<T: 'static, U: 'static>(value: T) -> Option<U> {
    (Box::new(value) as Box<dyn Any>)
        .downcast::<U>()
        .ok()
        .map(|u| *u)
}

/// Autodiff op for [`conv2d`]; `N` is 3 with a bias, 2 without.
#[derive(Debug)]
struct HostConv2d;

/// What the backward keeps: the input's and the weight's checkpoints and the geometry.
type State = (NodeId, NodeId, ConvGeometry);

/// The input, weight and optional bias of one convolution under `Autodiff<I>`.
type Operands<I> = (
    FloatTensor<Autodiff<I>>,
    FloatTensor<Autodiff<I>>,
    Option<FloatTensor<I>>,
);

/// Runs the forward with the backend's own convolution and registers the backward if tracked.
fn record<I: Backend, const N: usize>(
    kind: OpsKind<HostConv2d, I, State, NoCheckpointing, N>,
    (x, weight, bias): Operands<I>,
    options: ConvOptions<2>,
    geo: ConvGeometry,
) -> FloatTensor<Autodiff<I>>
where
    HostConv2d: Backward<I, N, State = State>,
{
    match kind {
        OpsKind::Tracked(mut prep) => {
            let state = (prep.checkpoint(&x), prep.checkpoint(&weight), geo);
            prep.finish(
                state,
                I::conv2d(x.primitive, weight.primitive, bias, options),
            )
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(I::conv2d(x.primitive, weight.primitive, bias, options))
        }
    }
}

impl<I: Backend, const N: usize> Backward<I, N> for HostConv2d {
    type State = State;

    fn backward(self, ops: Ops<State, N>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<I>(&ops.node);
        let (x_id, weight_id, geo) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<I>>(x_id);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<I>>(weight_id);
        let mut parents = ops.parents.into_iter();
        let nodes = [(); 3].map(|_| parents.next().flatten());
        let wanted = nodes.each_ref().map(Option::is_some);
        let computed = gradients::<I>(x, weight, grad, geo, wanted);
        for (node, grad) in nodes.into_iter().zip(computed) {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<I>(node.id, grad);
            }
        }
    }
}

/// Gradients of (input, weight, bias), each only where `wanted`.
type Grads<I> = [Option<FloatTensor<I>>; 3];

/// The input gradient by the backend (flex: a transposed convolution), the weight gradient by
/// `im2col` + matmul on the host (Burn's if the input is not f32 host data), the bias gradient
/// as a sum over samples and positions.
fn gradients<I: Backend>(
    x: FloatTensor<I>,
    weight: FloatTensor<I>,
    grad: FloatTensor<I>,
    geo: ConvGeometry,
    [want_x, want_weight, want_bias]: [bool; 3],
) -> Grads<I> {
    let options = conv_options(&geo);
    let tensor = |p: FloatTensor<I>| Tensor::<I, 4>::from_primitive(TensorPrimitive::Float(p));
    let bias_grad = want_bias.then(|| {
        let grad = tensor(grad.clone());
        let [n, co, h, w] = grad.dims();
        grad.reshape([n, co, h * w])
            .sum_dim(2)
            .sum_dim(0)
            .reshape([co])
            .into_primitive()
            .tensor()
    });
    let x_grad = want_x
        .then(|| I::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone()));
    let weight_grad = want_weight.then(|| {
        let dims = tensor(weight.clone()).dims();
        match host_weight_grad::<I>(tensor(x.clone()), tensor(grad.clone()), geo) {
            Some(g) => g.reshape(dims).into_primitive().tensor(),
            None => I::conv2d_weight_backward(x, weight, grad, options),
        }
    });
    [x_grad, weight_grad, bias_grad]
}

/// `Σ_samples grad[co, L] @ cols[K, L]ᵀ` as `[1, co, K]`, the columns built per chunk of
/// samples; `None` if the input's host data is not f32.
fn host_weight_grad<I: Backend>(
    x: Tensor<I, 4>,
    grad: Tensor<I, 4>,
    geo: ConvGeometry,
) -> Option<Tensor<I, 3>> {
    let device = grad.device();
    let [n, co, _, _] = grad.dims();
    let (patch, positions, image) = (geo.patch_len(), geo.positions(), geo.image_len());
    let grad = grad.reshape([n, co, positions]);
    let images = x.into_data().into_vec::<f32>().ok()?;
    let chunks = (n * patch * positions).div_ceil(CHUNK_ELEMENTS).max(1);
    let per_chunk = n.div_ceil(chunks).max(1);
    let mut sum: Option<Tensor<I, 3>> = None;
    for start in (0..n).step_by(per_chunk) {
        let end = (start + per_chunk).min(n);
        let mut cols = vec![0f32; (end - start) * patch * positions];
        cols.par_chunks_mut(patch * positions)
            .zip(images[start * image..end * image].par_chunks(image))
            .for_each(|(cols, image)| im2col(&geo, image, cols));
        let cols = Tensor::<I, 3>::from_data(
            TensorData::new(cols, [end - start, patch, positions]),
            &device,
        );
        let part = grad
            .clone()
            .narrow(0, start, end - start)
            .matmul(cols.swap_dims(1, 2))
            .sum_dim(0);
        sum = Some(match sum {
            Some(sum) => sum + part,
            None => part,
        });
    }
    sum
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
