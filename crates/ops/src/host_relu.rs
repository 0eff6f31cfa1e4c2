//! ReLU as one autodiff op where tensors live in host memory: the forward and the backward as
//! loops on all cores instead of flex's element-wise ops, which run on the calling thread alone
//! (5% of a CPU CNN step, serial). Each element is computed as flex computes it
//! (`x.max(0.0)`; the gradient passes where the output is positive), so the bits are the same.
//! Other backends and dtypes keep Burn's `Relu`.

use super::HostMemory;
use super::host_record::{UnaryState, record_unary};
use super::host_tensor::{from_host, map_on_host, primitive, tensor};
use super::outputs::written;
use burn::backend::Autodiff;
use burn::nn::Relu;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::FloatTensor;
use std::mem::MaybeUninit;

/// Elements per rayon task.
const CHUNK: usize = 1 << 14;

/// Fewer elements than this keep Burn's op: flex then rewrites a tensor it owns alone in place
/// on one thread, cheaper than a new buffer filled on all cores (the MNIST MLP's `[128, 512]`
/// activations ran 5% slower per step through the host op; the CNN's convolution outputs,
/// over a million elements, gain).
const MIN_ELEMENTS: usize = 1 << 17;

/// Whether the host op applies to `x`: f32 and large enough.
fn applies<B: Backend, const D: usize>(x: &Tensor<B, D>) -> bool {
    x.dtype() == DType::F32 && x.shape().num_elements() >= MIN_ELEMENTS
}

/// `layer.forward(x)` under `Autodiff<I>`, by the host op where it applies.
pub(crate) fn relu<I: HostMemory, const D: usize>(
    layer: &Relu,
    x: Tensor<Autodiff<I>, D>,
) -> Tensor<Autodiff<I>, D> {
    applies(&x)
        .then(|| on_host(&x))
        .flatten()
        .unwrap_or_else(|| layer.forward(x))
}

/// `layer.forward(x)` on the inference backend `I`, by the host loop where it applies.
pub(crate) fn relu_inference<I: HostMemory, const D: usize>(
    layer: &Relu,
    x: Tensor<I, D>,
) -> Tensor<I, D> {
    let applies = applies(&x);
    map_on_host(x, applies, forward, |x| layer.forward(x))
}

/// `max(x, 0)` element-wise.
fn forward(x: &[f32]) -> Vec<f32> {
    let fill = |i: usize, y: &mut [MaybeUninit<f32>]| {
        for (y, &x) in y.iter_mut().zip(&x[i * CHUNK..]) {
            y.write(x.max(0.0));
        }
    };
    // SAFETY: chunk `i` of the output is as long as `x`'s from `i * CHUNK`; `fill` writes it
    // whole.
    unsafe { written(x.len(), CHUNK, fill) }
}

/// The input gradient: `grad` where the output is positive, else 0.
fn backward(output: &[f32], grad: &[f32]) -> Vec<f32> {
    assert_eq!(
        output.len(),
        grad.len(),
        "ReLU: output and gradient lengths"
    );
    let fill = |i: usize, dx: &mut [MaybeUninit<f32>]| {
        let (output, grad) = (&output[i * CHUNK..], &grad[i * CHUNK..]);
        for ((dx, &y), &g) in dx.iter_mut().zip(output).zip(grad) {
            dx.write(if y > 0.0 { g } else { 0.0 });
        }
    };
    // SAFETY: as in `forward`: the gradient is as long as the output (asserted above).
    unsafe { written(output.len(), CHUNK, fill) }
}

/// Runs the host op and records its backward; `None` if `x` is not f32.
fn on_host<I: HostMemory, const D: usize>(
    x: &Tensor<Autodiff<I>, D>,
) -> Option<Tensor<Autodiff<I>, D>> {
    let shape: [usize; D] = x.dims();
    let x = primitive(x);
    let device = I::float_device(&x.primitive);
    let y = forward(&I::f32_elements::<D>(&x.primitive)?);
    let y = from_host::<I, D>(y, shape, &device);
    let saved = Saved { output: y.clone() };
    Some(tensor(record_unary(&x, y, saved, shape)))
}

/// What the backward keeps: the output (the backend's tensor, read where it lies).
#[derive(Clone)]
struct Saved<I: Backend> {
    output: FloatTensor<I>,
}

impl<I: HostMemory, const D: usize> UnaryState<I, D> for Saved<I> {
    fn input_grad(&self, grad: &[f32]) -> Option<Vec<f32>> {
        Some(backward(&I::f32_elements::<D>(&self.output)?, grad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::Distribution;

    type A = Autodiff<Flex>;

    #[test]
    fn the_same_bits_as_burns_relu_and_its_gradient() {
        let device = Default::default();
        A::seed(&device, 5);
        // Large enough for the host op, more than one task, and exact zeros in the input.
        let x = Tensor::<A, 2>::random([27, 5000], Distribution::Normal(0.0, 1.0), &device);
        let x = x.clone().mask_fill(x.clone().abs().lower_elem(0.05), 0.0);
        let upstream = Tensor::<A, 2>::random([27, 5000], Distribution::Normal(0.0, 1.0), &device);
        let run = |ours: bool| {
            let x = x.clone().detach().require_grad();
            let y = if ours {
                on_host(&x).expect("the host op ran")
            } else {
                Relu::new().forward(x.clone())
            };
            let grads = (y.clone() * upstream.clone()).sum().backward();
            (y.into_data(), x.grad(&grads).expect("gradient").into_data())
        };
        let (ours, burns) = (run(true), run(false));
        ours.0.assert_eq(&burns.0, true);
        ours.1.assert_eq(&burns.1, true);
    }

    #[test]
    fn the_inference_loop_gives_burns_relu() {
        let device = Default::default();
        let x = Tensor::<Flex, 3>::random([2, 7, 9400], Distribution::Normal(0.0, 2.0), &device);
        assert!(applies(&x));
        let want = Relu::new().forward(x.clone()).into_data();
        relu_inference(&Relu::new(), x)
            .into_data()
            .assert_eq(&want, true);
    }
}
