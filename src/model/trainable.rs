//! The port between the training loop and a model: score a host batch as rows of class logits
//! (classification, language modelling) or of predicted values (regression).

use crate::data::{Samples, TargetScale};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;

/// A model's output on a batch with the targets, one row per prediction (a sample, or a token
/// for language models).
pub enum Scores<B: Backend> {
    /// Classification: logits and the true class of each row.
    Classes {
        /// Logits `[rows, classes]`.
        logits: Tensor<B, 2>,
        /// The true class of each row, `[rows]`.
        targets: Tensor<B, 1, Int>,
    },
    /// Regression: predicted and true values, both standardized by `scale`.
    Values {
        /// Predictions `[rows, 1]` (standardized).
        predicted: Tensor<B, 2>,
        /// True values `[rows]` (standardized).
        targets: Tensor<B, 1>,
        /// Maps standardized values back to the target's units.
        scale: TargetScale,
    },
}

impl<B: Backend> Scores<B> {
    /// The training loss `[1]`: mean cross-entropy for classes, mean squared error (of the
    /// standardized values) for regression.
    pub fn loss(&self) -> Tensor<B, 1> {
        match self {
            Scores::Classes { logits, targets } => CrossEntropyLossConfig::new()
                .init(&logits.device())
                .forward(logits.clone(), targets.clone()),
            Scores::Values {
                predicted, targets, ..
            } => (predicted.clone().squeeze_dim::<1>(1) - targets.clone())
                .square()
                .mean(),
        }
    }

    /// Rows scored.
    pub fn rows(&self) -> usize {
        match self {
            Scores::Classes { logits, .. } => logits.dims()[0],
            Scores::Values { predicted, .. } => predicted.dims()[0],
        }
    }

    /// The model's raw output `[rows, outputs]`: logits, or standardized predictions.
    pub fn outputs(self) -> Tensor<B, 2> {
        match self {
            Scores::Classes { logits, .. } => logits,
            Scores::Values { predicted, .. } => predicted,
        }
    }
}

/// A model the training loop can train and evaluate on one kind of host batch.
pub trait Trainable<B: Backend>: Module<B> {
    /// The host batch this model reads.
    type Batch: Samples + Send + 'static;
    /// True for language models: evaluation also reports perplexity (`exp` of the loss).
    const LANGUAGE_MODEL: bool = false;
    /// Uploads `batch` to `device` and scores it (training or inference, per the backend).
    fn score(&self, batch: &Self::Batch, device: &B::Device) -> Scores<B>;
}
