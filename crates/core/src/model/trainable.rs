//! The port between the training loop and a model: score a host batch as rows of class logits
//! (classification, language modelling) or of predicted values (regression).

use crate::data::{Samples, TargetScale};
use burn::module::{ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::{DType, FloatDType};

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

    /// The same scores with the model's outputs in f32 (the loss of a bf16/f16 forward is
    /// taken in f32); targets are f32 already.
    pub fn in_f32(self) -> Self {
        let f32 = |t: Tensor<B, 2>| {
            if t.dtype() == DType::F32 {
                t
            } else {
                t.cast(FloatDType::F32)
            }
        };
        match self {
            Scores::Classes { logits, targets } => Scores::Classes {
                logits: f32(logits),
                targets,
            },
            Scores::Values {
                predicted,
                targets,
                scale,
            } => Scores::Values {
                predicted: f32(predicted),
                targets,
                scale,
            },
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
pub trait Trainable<B: Backend>: Module<B> + 'static {
    /// The host batch this model reads.
    type Batch: Samples + Send + 'static;
    /// True for language models: evaluation also reports perplexity (`exp` of the loss).
    const LANGUAGE_MODEL: bool = false;
    /// Uploads `batch` to `device` and scores it (training or inference, per the backend).
    fn score(&self, batch: &Self::Batch, device: &B::Device) -> Scores<B>;
}

/// `x` in the float type of `module`'s parameters: inputs of a model cast to bf16/f16 for a
/// mixed-precision step must be cast too (a no-op for f32 models).
pub fn like_params<B: Backend, M: Module<B>, const D: usize>(
    x: Tensor<B, D>,
    module: &M,
) -> Tensor<B, D> {
    struct FirstDtype(Option<DType>);
    impl<B: Backend> ModuleVisitor<B> for FirstDtype {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if self.0.is_none() {
                self.0 = Some(param.val().dtype());
            }
        }
    }
    let mut first = FirstDtype(None);
    module.visit(&mut first);
    match first.0 {
        Some(dtype) if dtype != x.dtype() => x.cast(dtype),
        _ => x,
    }
}
