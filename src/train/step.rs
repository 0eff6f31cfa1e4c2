//! One optimization step, shared by `fit` and the benchmark so both time the same code.

use super::AnyOptimizer;
use super::clip::clip_grad_norm;
use crate::model::{Classifier, Trainable};
use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

pub use crate::model::device_batch;

/// Result of a step: the updated model and the (device-side, unread) batch loss.
pub struct StepOutput<B: AutodiffBackend, M = Classifier<B>> {
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

/// Forward, cross-entropy, backward, optional clipping and the optimizer update on one batch.
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
    let scores = model.score(batch, device);
    let loss = CrossEntropyLossConfig::new()
        .init(device)
        .forward(scores.logits, scores.targets); // [1]
    let mut grads = GradientsParams::from_grads(loss.backward(), &model);
    if settings.clip_norm > 0.0 {
        clip_grad_norm(&model, &mut grads, settings.clip_norm);
    }
    let model = optim.step(settings.lr, model, grads);
    StepOutput {
        model,
        loss: loss.inner(),
    }
}
