//! The port between the training loop and a model: score a host batch as rows of class logits.

use crate::data::Samples;
use burn::prelude::*;

/// Class logits for a batch, one row per prediction (a sample, or a token for language models).
pub struct Scores<B: Backend> {
    /// Logits `[rows, classes]`.
    pub logits: Tensor<B, 2>,
    /// The true class of each row, `[rows]`.
    pub targets: Tensor<B, 1, Int>,
}

/// A model the training loop can train and evaluate on one kind of host batch.
pub trait Trainable<B: Backend>: Module<B> {
    /// The host batch this model reads.
    type Batch: Samples + Send + 'static;
    /// Uploads `batch` to `device` and scores it (training or inference, per the backend).
    fn score(&self, batch: &Self::Batch, device: &B::Device) -> Scores<B>;
}
