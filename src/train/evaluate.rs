//! Loss, accuracy and macro F1 of a model on a batch source (no graph, dropout off).

use super::TrainError;
use crate::data::{BatchList, BatchSource, Loader, LoaderSettings};
use crate::metrics::ConfusionMatrix;
use crate::model::{Scores, Trainable};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Transaction;
use std::sync::Arc;

/// Reads integer tensors back to the host in one transaction.
fn read_back<B: Backend, const N: usize>(
    tensors: [Tensor<B, 1, Int>; N],
) -> Result<[Vec<i64>; N], TrainError> {
    let data: Vec<TensorData> = tensors
        .into_iter()
        .fold(Transaction::default(), |t, x| t.register(x))
        .try_execute()
        .map_err(|e| TrainError::Backend(format!("{e:?}")))?;
    let values = data
        .into_iter()
        .map(|d| {
            d.convert::<i64>()
                .to_vec::<i64>()
                .map_err(|e| TrainError::Backend(format!("evaluation read-back: {e:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    values.try_into().map_err(|_| {
        TrainError::Backend("evaluation read-back returned the wrong number of tensors".into())
    })
}

/// Evaluation totals.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EvalResult {
    /// Mean cross-entropy per scored row (nats per token for language models).
    pub loss: f64,
    /// Fraction correct.
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 scores (classes present in labels or predictions).
    pub macro_f1: f64,
    /// Rows scored: samples, or tokens for language models.
    pub samples: usize,
}

/// Evaluates in batches of `batch_size` streamed by the loader. Every scored row counts: a
/// sample, or a token for language models.
pub fn evaluate<B, M, S>(
    model: &M,
    source: &Arc<S>,
    batch_size: usize,
    loader: LoaderSettings,
    device: &B::Device,
) -> Result<EvalResult, TrainError>
where
    B: Backend,
    M: Trainable<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    evaluate_with_confusion(model, source, batch_size, loader, device).map(|(r, _)| r)
}

/// [`evaluate`], also returning the confusion matrix (rows: true class, columns: predicted).
pub fn evaluate_with_confusion<B, M, S>(
    model: &M,
    source: &Arc<S>,
    batch_size: usize,
    loader: LoaderSettings,
    device: &B::Device,
) -> Result<(EvalResult, ConfusionMatrix), TrainError>
where
    B: Backend,
    M: Trainable<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    let n = source.len();
    if n == 0 {
        let empty = EvalResult {
            loss: f64::NAN,
            accuracy: f64::NAN,
            macro_f1: f64::NAN,
            samples: 0,
        };
        return Ok((empty, ConfusionMatrix::new(0)));
    }
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut loss_sum = Tensor::<B, 1>::zeros([1], device);
    let (mut confusion, mut rows) = (None, 0);
    let batches = BatchList::new((0..n as u32).collect(), batch_size, false);
    for item in Loader::start(source.clone(), batches, 0, loader) {
        let (_, batch) = item.map_err(|e| TrainError::Data(e.to_string()))?;
        let Scores { logits, targets } = model.score(&batch, device);
        let [batch_rows, classes] = logits.dims();
        rows += batch_rows;
        let predicted = logits.clone().argmax(1).squeeze_dim::<1>(1); // [rows]
        loss_sum = loss_sum + loss_fn.forward(logits, targets.clone()) * (batch_rows as f32);
        // Predictions and targets come back a batch at a time into the confusion matrix, so
        // memory stays O(batch + classes²) however large the split; the loss sum stays on the
        // device until the end.
        let [predicted, truth] = read_back([predicted, targets])?;
        let m = confusion.get_or_insert_with(|| ConfusionMatrix::new(classes));
        for (&t, &p) in truth.iter().zip(&predicted) {
            m.add(t as usize, p as usize);
        }
    }
    let confusion = confusion.unwrap_or_else(|| ConfusionMatrix::new(0));
    let loss_sum = super::read_scalar(Some(loss_sum))?;
    let rows_f = rows.max(1) as f64;
    let result = EvalResult {
        loss: loss_sum / rows_f,
        // A prediction is in 0..classes, so the diagonal counts every label it matched.
        accuracy: confusion.correct() as f64 / rows_f,
        macro_f1: confusion.macro_f1(),
        samples: rows,
    };
    Ok((result, confusion))
}
