//! One optimization step, shared by `fit` and the benchmark so both time the same code; its
//! two halves (gradients, update) also serve gradient accumulation.

use super::AnyOptimizer;
use super::clip::clip_grad_norm;
use crate::model::Trainable;
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

pub use crate::model::device_batch;

/// Result of a step: the updated model and the (device-side, unread) batch loss.
pub struct StepOutput<B: AutodiffBackend, M> {
    /// The model after the update.
    pub model: M,
    /// Mean loss of the batch `[1]`, not yet read back (reading forces a sync).
    pub loss: Tensor<B::InnerBackend, 1>,
}

/// How a step updates: the learning rate and the gradient-norm limit (0 = no clipping).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepSettings {
    /// Learning rate of this step.
    pub lr: f64,
    /// Global gradient-norm limit; 0 turns clipping off.
    pub clip_norm: f64,
}

/// Forward, loss, backward, optional clipping and the optimizer update on one batch.
pub fn train_step<B, M>(
    model: M,
    optim: &mut AnyOptimizer<B, M>,
    batch: &M::Batch,
    settings: StepSettings,
    device: &B::Device,
) -> StepOutput<B, M>
where
    B: AutodiffBackend,
    M: Trainable<B> + AutodiffModule<B>,
{
    let (grads, loss) = gradients(&model, batch, 1.0, device);
    let model = update(model, optim, grads, settings);
    StepOutput { model, loss }
}

/// Forward and backward on one batch: the gradients of `weight * loss`, and the (unweighted,
/// device-side) batch loss `[1]`.
pub fn gradients<B, M>(
    model: &M,
    batch: &M::Batch,
    weight: f32,
    device: &B::Device,
) -> (GradientsParams, Tensor<B::InnerBackend, 1>)
where
    B: AutodiffBackend,
    M: Trainable<B> + AutodiffModule<B>,
{
    let loss = model.score(batch, device).loss(); // [1]
    let grads = if weight == 1.0 {
        loss.backward()
    } else {
        (loss.clone() * weight).backward()
    };
    (GradientsParams::from_grads(grads, model), loss.inner())
}

/// Optional clipping by global norm, then the optimizer update.
pub fn update<B, M>(
    model: M,
    optim: &mut AnyOptimizer<B, M>,
    mut grads: GradientsParams,
    settings: StepSettings,
) -> M
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    if settings.clip_norm > 0.0 {
        clip_grad_norm(&model, &mut grads, settings.clip_norm);
    }
    optim.step(settings.lr, model, grads)
}
