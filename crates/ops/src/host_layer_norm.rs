//! Layer normalization as one autodiff op where tensors live in host memory.
//!
//! `Autodiff<I>` has no layer-norm op of its own: Burn's `LayerNorm` under autodiff is the
//! backend trait's composition (two means, a subtraction, a product, a square root, a
//! division, a scale and a shift), each a separate pass over the activations with its own
//! recorded backward, and on flex each of those element-wise ops runs on one thread. Here the
//! forward and the three gradients are [`layer_norm`](super::layer_norm)'s row loops over all
//! cores. The inference backends keep Burn's `LayerNorm::forward` (flex's own fused kernel).

use super::HostMemory;
use super::host_record::record_affine;
use super::host_tensor::{from_host, primitive, tensor};
use super::layer_norm;
use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::module::{Content, DisplaySettings, ModuleDisplay};
use burn::nn::LayerNorm;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::FloatTensor;
use std::sync::Arc;

/// `layer.forward(x)` under `Autodiff<I>`, by the host op where it applies.
pub(crate) fn layer_norm<I: HostMemory, const D: usize>(
    layer: &LayerNorm<Autodiff<I>>,
    x: Tensor<Autodiff<I>, D>,
) -> Tensor<Autodiff<I>, D> {
    epsilon(layer)
        .filter(|_| x.dtype() == DType::F32 && layer.gamma.val().dtype() == DType::F32)
        .and_then(|eps| on_host(layer, &x, eps))
        .unwrap_or_else(|| layer.forward(x))
}

/// The layer's epsilon. Burn keeps it private and shows it only in the module's display
/// (`f64`'s `Display`, which reads back exactly); `None` if that ever stops being so, and the
/// caller takes Burn's forward.
fn epsilon<B: Backend>(layer: &LayerNorm<B>) -> Option<f64> {
    layer
        .custom_content(Content::new(DisplaySettings::new()))?
        .attributes
        .into_iter()
        .find(|a| a.name == "epsilon")?
        .value
        .parse()
        .ok()
}

/// Runs the host op and records its backward; `None` if an operand is not f32.
fn on_host<I: HostMemory, const D: usize>(
    layer: &LayerNorm<Autodiff<I>>,
    x: &Tensor<Autodiff<I>, D>,
    epsilon: f64,
) -> Option<Tensor<Autodiff<I>, D>> {
    let shape: [usize; D] = x.dims();
    let x = primitive(x);
    let gamma = primitive(&layer.gamma.val());
    let beta = layer.beta.as_ref().map(|b| primitive(&b.val()));
    let device = I::float_device(&x.primitive);
    let (y, stats) = {
        let values = I::f32_elements::<D>(&x.primitive)?;
        let gammas = I::f32_elements::<1>(&gamma.primitive)?;
        let betas = match &beta {
            Some(b) => Some(I::f32_elements::<1>(&b.primitive)?),
            None => None,
        };
        layer_norm::forward(&values, &gammas, betas.as_deref(), epsilon as f32)
    };
    let y = from_host::<I, D>(y, shape, &device);
    let saved = Saved {
        values: x.primitive.clone(),
        gamma: gamma.primitive.clone(),
        stats: Arc::new(stats),
        shape,
    };
    let y = record_affine(HostLayerNorm::<D>, [&x, &gamma], beta.as_ref(), y, saved);
    Some(tensor(y))
}

/// Autodiff op for [`layer_norm`] on a rank-`D` input; `N` is 3 with a bias, 2 without.
#[derive(Debug)]
struct HostLayerNorm<const D: usize>;

/// What the backward keeps: the input and the scale (the backend's tensors, read where they
/// lie), each row's mean and denominator, and the shape.
#[derive(Clone)]
struct Saved<I: Backend, const D: usize> {
    values: FloatTensor<I>,
    gamma: FloatTensor<I>,
    stats: Arc<Vec<[f32; 2]>>,
    shape: [usize; D],
}

impl<I: Backend, const D: usize> std::fmt::Debug for Saved<I, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Saved({:?})", self.shape)
    }
}

impl<I: HostMemory, const D: usize, const N: usize> Backward<I, N> for HostLayerNorm<D> {
    type State = Saved<I, D>;

    fn backward(self, ops: Ops<Saved<I, D>, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<I>(&ops.node);
        let device = I::float_device(&grad);
        let saved = ops.state;
        let mut parents = ops.parents.into_iter();
        let [x_node, gamma_node, beta_node] = [(); 3].map(|_| parents.next().flatten());
        // The output and the operands are f32 by construction; nothing to register otherwise.
        let (Some(dy), Some(values), Some(gamma)) = (
            I::f32_elements::<D>(&grad),
            I::f32_elements::<D>(&saved.values),
            I::f32_elements::<1>(&saved.gamma),
        ) else {
            return;
        };
        let d = gamma.len();
        let (dx, dgamma, dbeta) = layer_norm::backward(&values, &gamma, &saved.stats, &dy);
        if let Some(node) = x_node {
            grads.register::<I>(node.id, from_host::<I, D>(dx, saved.shape, &device));
        }
        if let Some(node) = gamma_node {
            grads.register::<I>(node.id, from_host::<I, 1>(dgamma, [d], &device));
        }
        if let Some(node) = beta_node {
            grads.register::<I>(node.id, from_host::<I, 1>(dbeta, [d], &device));
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::module::Param;
    use burn::nn::LayerNormConfig;
    use burn::tensor::{Distribution, Tolerance};

    type A = Autodiff<Flex>;

    #[test]
    fn reads_the_layers_epsilon() {
        let device = Default::default();
        for eps in [1e-5, 1e-6, 0.25] {
            let layer = LayerNormConfig::new(4).with_epsilon(eps).init::<A>(&device);
            assert_eq!(epsilon(&layer), Some(eps));
        }
    }

    #[test]
    fn matches_burns_layer_norm_and_its_gradients() {
        let device = Default::default();
        for bias in [true, false] {
            A::seed(&device, 5);
            let mut layer = LayerNormConfig::new(40).with_bias(bias).init::<A>(&device);
            // Scale and shift away from 1 and 0, so their gradients' paths are exercised.
            let random = || Tensor::<A, 1>::random([40], Distribution::Normal(1.0, 0.5), &device);
            layer.gamma = Param::from_tensor(random());
            layer.beta = layer.beta.map(|_| Param::from_tensor(random()));
            let x = Tensor::<A, 3>::random([3, 33, 40], Distribution::Normal(1.0, 2.0), &device);
            let upstream = Tensor::<A, 3>::random([3, 33, 40], Distribution::Default, &device);
            let run = |ours: bool| {
                let x = x.clone().detach().require_grad();
                let y = if ours {
                    on_host::<Flex, 3>(&layer, &x, 1e-5).expect("the host op ran")
                } else {
                    layer.forward(x.clone())
                };
                let grads = (y.clone() * upstream.clone()).sum().backward();
                let beta = layer
                    .beta
                    .as_ref()
                    .map(|b| b.grad(&grads).expect("beta grad").into_data());
                (
                    y.into_data(),
                    x.grad(&grads).expect("input gradient").into_data(),
                    layer
                        .gamma
                        .grad(&grads)
                        .expect("gamma gradient")
                        .into_data(),
                    beta,
                )
            };
            let burns = run(false);
            let ours = run(true);
            let tol = Tolerance::<f32>::absolute(1e-4);
            ours.0
                .assert_approx_eq::<f32>(&burns.0, Tolerance::absolute(1e-5));
            ours.1.assert_approx_eq::<f32>(&burns.1, tol);
            ours.2.assert_approx_eq::<f32>(&burns.2, tol);
            assert_eq!(ours.3.is_some(), bias);
            if let (Some(a), Some(b)) = (ours.3, burns.3) {
                a.assert_approx_eq::<f32>(&b, tol);
            }
        }
    }
}
