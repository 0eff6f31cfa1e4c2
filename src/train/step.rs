//! One optimization step, shared by `fit` and the benchmark so both time the same code.

use super::AnyOptimizer;
use crate::data::HostBatch;
use crate::model::Classifier;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Uploads a host batch: images `[n, c, h, w]` and integer labels `[n]`.
pub fn device_batch<B: Backend>(
    batch: &HostBatch,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
    let [c, h, w] = batch.sample_shape;
    let n = batch.len();
    let images = Tensor::from_data(
        TensorData::new(batch.features.clone(), [n, c, h, w]),
        device,
    );
    let labels = Tensor::from_data(TensorData::new(batch.labels.clone(), [n]), device);
    (images, labels)
}

/// Result of a step: the updated model and the (device-side, unread) batch loss.
pub struct StepOutput<B: AutodiffBackend> {
    /// The model after the update.
    pub model: Classifier<B>,
    /// Mean loss of the batch `[1]`, not yet read back (reading forces a sync).
    pub loss: Tensor<B::InnerBackend, 1>,
}

/// Forward, cross-entropy, backward and optimizer update on one batch.
pub fn train_step<B: AutodiffBackend>(
    model: Classifier<B>,
    optim: &mut AnyOptimizer<B>,
    batch: &HostBatch,
    lr: f64,
    device: &B::Device,
) -> StepOutput<B> {
    let (images, labels) = device_batch::<B>(batch, device);
    let logits = model.forward(images); // [n, classes]
    let loss = CrossEntropyLossConfig::new()
        .init(device)
        .forward(logits, labels); // [1]
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(lr, model, grads);
    StepOutput {
        model,
        loss: loss.inner(),
    }
}
