//! One optimization step, shared by `fit` and the benchmark so both time the same code; its
//! two halves (gradients, update) also serve gradient accumulation and data parallel.

use super::clip::clip_grad_norm;
use super::collective::rank_gradients;
use super::parallel::Replicas;
use super::precision::{Compute, advance_loss_scale, cast_params, unscale};
use super::{AnyOptimizer, TrainError};
use crate::checkpoint::LossScaleState;
use crate::model::Trainable;
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use trainer_ops::TrainBackend;

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

/// Forward, loss, backward, optional clipping and the optimizer update on one batch, on the
/// replicas' devices, in the precision `scale` belongs to (f16 when it is Some).
pub fn train_step<B, M>(
    model: M,
    optim: &mut AnyOptimizer<B, M>,
    batch: &M::Batch,
    (settings, compute): (StepSettings, Compute),
    replicas: &Replicas<B::Device>,
    scale: Option<&mut LossScaleState>,
) -> Result<StepOutput<B, M>, TrainError>
where
    B: TrainBackend,
    M: Trainable<B> + AutodiffModule<B>,
{
    let (grads, loss, _) = rank_gradients(&model, batch, 1.0, compute, replicas)?;
    let model = update(model, optim, grads, settings, scale)?;
    Ok(StepOutput { model, loss })
}

/// Forward and backward on one batch: the gradients of `weight * loss` (times the loss scale),
/// and the (unweighted, device-side, f32) batch loss `[1]`. Under bf16/f16 the forward runs on
/// a cast copy of the model and the loss is taken in f32.
pub fn gradients<B, M>(
    model: &M,
    batch: &M::Batch,
    weight: f32,
    compute: Compute,
    device: &B::Device,
) -> (GradientsParams, Tensor<B::InnerBackend, 1>)
where
    B: AutodiffBackend,
    M: Trainable<B> + AutodiffModule<B>,
{
    let scores = match compute.dtype {
        None => model.score(batch, device),
        Some(dtype) => cast_params(model, dtype).score(batch, device).in_f32(),
    };
    let loss = scores.loss(); // [1]
    let factor = weight * compute.loss_scale;
    let grads = if factor == 1.0 {
        loss.backward()
    } else {
        (loss.clone() * factor).backward()
    };
    (GradientsParams::from_grads(grads, model), loss.inner())
}

/// Unscaling and the overflow check (f16 only: an overflow skips the update and lowers the
/// scale), optional clipping by global norm, then the optimizer update.
pub fn update<B, M>(
    model: M,
    optim: &mut AnyOptimizer<B, M>,
    mut grads: GradientsParams,
    settings: StepSettings,
    scale: Option<&mut LossScaleState>,
) -> Result<M, TrainError>
where
    B: TrainBackend,
    M: AutodiffModule<B>,
{
    if let Some(s) = scale {
        // Unscales and clips in one pass.
        let finite = unscale(&model, &mut grads, s.scale, settings.clip_norm)?;
        if !advance_loss_scale(s, finite) {
            tracing::warn!(
                loss_scale = s.scale,
                "f16 gradients overflowed: update skipped, loss scale halved"
            );
            return Ok(model);
        }
    } else if settings.clip_norm > 0.0 {
        clip_grad_norm(&model, &mut grads, settings.clip_norm);
    }
    Ok(optim.step(settings.lr, model, grads))
}
