//! Gradient clipping by global L2 norm (PyTorch's `clip_grad_norm_`), on the device: no sync.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Sums the squares of every parameter's gradient.
pub(super) struct SquaredNorm<'a, B: AutodiffBackend> {
    pub(super) grads: &'a GradientsParams,
    pub(super) sum: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let s = g.square().sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

/// Multiplies every gradient by one device scalar.
pub(super) struct Rescale<'a, B: AutodiffBackend> {
    pub(super) grads: &'a mut GradientsParams,
    pub(super) factor: Tensor<B::InnerBackend, 1>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Rescale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let f: Tensor<B::InnerBackend, D> = self.factor.clone().unsqueeze();
            self.grads.register::<B::InnerBackend, D>(param.id, g * f);
        }
    }
}

/// Added to the norm before dividing (PyTorch's `clip_grad_norm_` uses the same), so a zero
/// gradient clips to zero rather than NaN. Shared with the f16 path's fused unscale + clip.
pub(super) const CLIP_EPSILON: f64 = 1e-6;

/// Scales `grads` so their global L2 norm is at most `max_norm` (unchanged when below).
pub fn clip_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) {
    let mut norm = SquaredNorm::<B> { grads, sum: None };
    model.visit(&mut norm);
    let Some(squared) = norm.sum else { return };
    let factor = (squared.sqrt().add_scalar(CLIP_EPSILON).recip() * max_norm).clamp_max(1.0);
    model.visit(&mut Rescale::<B> { grads, factor });
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::{Linear, LinearConfig};

    type B = Autodiff<Flex>;

    /// Gradients of sum(10 * layer(x)) and their global norm, computed on the host.
    fn grads(layer: &Linear<B>) -> (GradientsParams, f64) {
        let device = Default::default();
        let x =
            Tensor::<B, 2>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5], [1, 3]), &device);
        let loss = layer.forward(x).sum() * 10.0;
        let grads = GradientsParams::from_grads(loss.backward(), layer);
        let norm = global_norm(layer, &grads);
        (grads, norm)
    }

    fn global_norm(layer: &Linear<B>, grads: &GradientsParams) -> f64 {
        let w = grads
            .get::<Flex, 2>(layer.weight.id)
            .expect("weight grad")
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let b = layer
            .bias
            .as_ref()
            .and_then(|b| grads.get::<Flex, 1>(b.id))
            .map(|g| g.into_data().to_vec::<f32>().unwrap())
            .unwrap_or_default();
        w.iter()
            .chain(&b)
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn gradients_above_the_limit_are_scaled_to_it_and_below_it_left_alone() {
        let layer: Linear<B> = LinearConfig::new(3, 2).init(&Default::default());
        // d/dW of sum(10 * (xW + b)) is 10 x per output: norm = 10 * sqrt(2 * (1 + 4 + 0.25) + 2).
        let (mut g, before) = grads(&layer);
        assert!(
            (before - 10.0 * (2.0f64 * 5.25 + 2.0).sqrt()).abs() < 1e-3,
            "{before}"
        );
        clip_grad_norm(&layer, &mut g, 1.0);
        let after = global_norm(&layer, &g);
        assert!((after - 1.0).abs() < 1e-4, "clipped norm {after}");

        let (mut g, before) = grads(&layer);
        clip_grad_norm(&layer, &mut g, 1000.0);
        assert!(
            (global_norm(&layer, &g) - before).abs() < 1e-3,
            "unchanged below the limit"
        );
    }
}
