//! Loss, accuracy and macro F1 of a model on a data source (no graph, dropout off).

use super::TrainError;
use crate::data::{BatchList, DataSource, Loader, LoaderSettings};
use crate::metrics::ConfusionMatrix;
use crate::model::Classifier;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Transaction;
use std::sync::Arc;

/// Evaluation totals.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EvalResult {
    /// Mean cross-entropy per sample.
    pub loss: f64,
    /// Fraction correct.
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 scores (classes present in labels or predictions).
    pub macro_f1: f64,
    /// Samples evaluated.
    pub samples: usize,
}

/// Evaluates in batches of `batch_size` streamed by the loader, reading results back once at
/// the end.
pub fn evaluate<B: Backend>(
    model: &Classifier<B>,
    source: &Arc<dyn DataSource>,
    batch_size: usize,
    loader: LoaderSettings,
    device: &B::Device,
) -> Result<EvalResult, TrainError> {
    let n = source.len();
    if n == 0 {
        return Ok(EvalResult {
            loss: f64::NAN,
            accuracy: f64::NAN,
            macro_f1: f64::NAN,
            samples: 0,
        });
    }
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut loss_sum = Tensor::<B, 1>::zeros([1], device);
    let (mut predictions, mut truth, mut classes) = (Vec::new(), Vec::with_capacity(n), 0);
    let batches = BatchList::new((0..n as u32).collect(), batch_size, false);
    for item in Loader::start(source.clone(), batches, 0, loader) {
        let (_, batch) = item.map_err(|e| TrainError::Data(e.to_string()))?;
        let (images, labels) = super::device_batch::<B>(&batch, device);
        let logits = model.forward(images); // [b, classes]
        classes = logits.dims()[1];
        let predicted = logits.clone().argmax(1).squeeze_dim::<1>(1); // [b]
        predictions.push(predicted); // read back once, with the loss
        truth.extend_from_slice(&batch.labels);
        loss_sum = loss_sum + loss_fn.forward(logits, labels) * (batch.len() as f32);
    }
    let [loss_sum, predicted] = Transaction::default()
        .register(loss_sum)
        .register(Tensor::cat(predictions, 0))
        .try_execute()
        .map_err(|e| TrainError::Backend(format!("{e:?}")))?
        .try_into()
        .map_err(|_| {
            TrainError::Backend("evaluation read-back returned the wrong number of tensors".into())
        })?;
    let scalar = |d: TensorData| -> Result<f64, TrainError> {
        d.convert::<f64>()
            .to_vec::<f64>()
            .ok()
            .and_then(|v| v.first().copied())
            .ok_or_else(|| TrainError::Backend("evaluation read-back was empty".into()))
    };
    let predicted = predicted
        .convert::<i64>()
        .to_vec::<i64>()
        .map_err(|e| TrainError::Backend(format!("prediction read-back: {e:?}")))?;
    let mut confusion = ConfusionMatrix::new(classes);
    for (&t, &p) in truth.iter().zip(&predicted) {
        confusion.add(t as usize, p as usize);
    }
    Ok(EvalResult {
        loss: scalar(loss_sum)? / n as f64,
        // A prediction is in 0..classes, so the diagonal counts every label it matched.
        accuracy: confusion.correct() as f64 / n as f64,
        macro_f1: confusion.macro_f1(),
        samples: n,
    })
}
