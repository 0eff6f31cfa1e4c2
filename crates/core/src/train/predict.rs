//! Inference: logits for every sample of a batch source, in order, a batch at a time.

use super::TrainError;
use crate::data::BatchSource;
use crate::model::Trainable;
use burn::prelude::*;

/// Runs `model` over `source` in batches of `batch_size` and hands each batch's outputs
/// (row-major `[len, outputs]`: logits, or standardized regression values) and the index of
/// its first sample to `sink`.
pub fn predict<B, M, S, E>(
    model: &M,
    source: &S,
    batch_size: usize,
    device: &B::Device,
    mut sink: impl FnMut(usize, &[f32], usize) -> Result<(), E>,
) -> Result<(), PredictError<E>>
where
    B: Backend,
    M: Trainable<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized,
{
    let indices: Vec<u32> = (0..source.len() as u32).collect();
    for (i, chunk) in indices.chunks(batch_size.max(1)).enumerate() {
        let batch = source
            .read_batch(chunk)
            .map_err(|e| PredictError::Train(TrainError::Read(e)))?;
        let logits = model.score(&batch, device).outputs();
        let classes = logits.dims()[1];
        let values = logits
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| PredictError::Train(TrainError::backend("prediction read-back")(e)))?;
        sink(i * batch_size.max(1), &values, classes).map_err(PredictError::Sink)?;
    }
    Ok(())
}

/// Why prediction stopped: the backend, or the consumer of the logits.
#[derive(Debug, thiserror::Error)]
pub enum PredictError<E> {
    /// The model could not run or its output could not be read.
    #[error(transparent)]
    Train(TrainError),
    /// The sink failed (e.g. writing the output file).
    #[error("{0}")]
    Sink(E),
}
