//! Exact GELU as one autodiff op where tensors live in host memory: forward and backward are
//! [`normal_cdf`](super::normal_cdf)'s vectorized loops instead of flex's per-element
//! `libm::erff`; the inference backends run the same forward loop. Other backends and dtypes,
//! and the tanh approximation, keep Burn's `Gelu`.

use super::HostMemory;
use super::host_record::{UnaryState, record_unary};
use super::host_tensor::{from_host, map_on_host, primitive, tensor};
use super::normal_cdf;
use burn::backend::Autodiff;
use burn::nn::Gelu;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::FloatTensor;
use std::sync::Arc;

/// `layer.forward(x)` under `Autodiff<I>`, by the host op where it applies.
pub(crate) fn gelu<I: HostMemory, const D: usize>(
    layer: &Gelu,
    x: Tensor<Autodiff<I>, D>,
) -> Tensor<Autodiff<I>, D> {
    exact_f32(layer, &x)
        .then(|| on_host(&x))
        .flatten()
        .unwrap_or_else(|| layer.forward(x))
}

/// `layer.forward(x)` on the inference backend `I`, by the host loop where it applies.
pub(crate) fn gelu_inference<I: HostMemory, const D: usize>(
    layer: &Gelu,
    x: Tensor<I, D>,
) -> Tensor<I, D> {
    let applies = exact_f32(layer, &x);
    map_on_host(x, applies, |x| normal_cdf::gelu(x).0, |x| layer.forward(x))
}

/// Whether the host loops apply: the exact GELU on f32.
fn exact_f32<B: Backend, const D: usize>(layer: &Gelu, x: &Tensor<B, D>) -> bool {
    !layer.approximate && x.dtype() == DType::F32
}

/// Runs the host op and records its backward; `None` if `x` is not f32.
fn on_host<I: HostMemory, const D: usize>(
    x: &Tensor<Autodiff<I>, D>,
) -> Option<Tensor<Autodiff<I>, D>> {
    let shape: [usize; D] = x.dims();
    let x = primitive(x);
    let device = I::float_device(&x.primitive);
    let (y, cdf) = normal_cdf::gelu(&I::f32_elements::<D>(&x.primitive)?);
    let y = from_host::<I, D>(y, shape, &device);
    let saved = Saved {
        values: x.primitive.clone(),
        cdf: Arc::new(cdf),
    };
    Some(tensor(record_unary(&x, y, saved, shape)))
}

/// What the backward keeps: the input (the backend's tensor, read where it lies) and its `Φ`.
#[derive(Clone)]
struct Saved<I: Backend> {
    values: FloatTensor<I>,
    cdf: Arc<Vec<f32>>,
}

impl<I: HostMemory, const D: usize> UnaryState<I, D> for Saved<I> {
    fn input_grad(&self, grad: &[f32]) -> Option<Vec<f32>> {
        let values = I::f32_elements::<D>(&self.values)?;
        Some(normal_cdf::gelu_backward(&values, &self.cdf, grad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::{Distribution, Tolerance};

    type A = Autodiff<Flex>;

    #[test]
    fn matches_burns_gelu_and_its_gradient() {
        let device = Default::default();
        A::seed(&device, 3);
        let x = Tensor::<A, 3>::random([3, 4, 50], Distribution::Normal(0.0, 2.0), &device);
        let upstream = Tensor::<A, 3>::random([3, 4, 50], Distribution::Normal(0.0, 1.0), &device);
        let run = |ours: bool| {
            let x = x.clone().detach().require_grad();
            let y = if ours {
                on_host::<Flex, 3>(&x).expect("the host op ran")
            } else {
                Gelu::new().forward(x.clone())
            };
            let grads = (y.clone() * upstream.clone()).sum().backward();
            (y.into_data(), x.grad(&grads).expect("gradient").into_data())
        };
        let (ours, burns) = (run(true), run(false));
        let tol = Tolerance::<f32>::absolute(1e-5);
        ours.0.assert_approx_eq::<f32>(&burns.0, tol);
        ours.1.assert_approx_eq::<f32>(&burns.1, tol);
    }

    #[test]
    fn the_inference_loop_matches_burns_gelu() {
        let device = Default::default();
        let x = Tensor::<Flex, 2>::random([7, 30], Distribution::Normal(0.0, 2.0), &device);
        let want = Gelu::new().forward(x.clone()).into_data();
        gelu_inference(&Gelu::new(), x)
            .into_data()
            .assert_approx_eq::<f32>(&want, Tolerance::<f32>::absolute(1e-5));
    }

    #[test]
    fn the_tanh_approximation_keeps_burns_gelu() {
        let device = Default::default();
        let approx = Gelu { approximate: true };
        let xa = Tensor::<A, 1>::from_floats([-1.0, 0.5, 2.0], &device);
        let want = approx.forward(xa.clone()).into_data();
        gelu(&approx, xa).into_data().assert_eq(&want, true);
        let xi = Tensor::<Flex, 1>::from_floats([-1.0, 0.5, 2.0], &device);
        let want = approx.forward(xi.clone()).into_data();
        gelu_inference(&approx, xi)
            .into_data()
            .assert_eq(&want, true);
    }
}
