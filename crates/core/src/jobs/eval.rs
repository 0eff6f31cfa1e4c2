//! A checkpoint's model evaluated on one split or file.

use super::{BackendJob, JobError, Opened};
use crate::data::{BatchSource, LoaderSettings};
use crate::metrics::ConfusionMatrix;
use crate::model::Trainable;
use crate::task::{TaskModel, TaskSource};
use crate::train::{EvalResult, evaluate_with_confusion};
use burn::tensor::backend::{AutodiffBackend, Backend};
use std::sync::Arc;

/// Evaluates the checkpoint's model on `source`.
pub struct EvalJob<'a> {
    /// A verified checkpoint.
    pub checkpoint: &'a Opened,
    /// What to score.
    pub source: &'a TaskSource,
}

impl BackendJob for EvalJob<'_> {
    type Output = Result<(EvalResult, ConfusionMatrix), JobError>;

    fn run<B: AutodiffBackend>(self, _backend: &'static str, device: B::Device) -> Self::Output {
        let r = self.checkpoint;
        let d = &r.config.data;
        let loader = LoaderSettings::resolve(d.workers, d.prefetch);
        let (bs, dev) = (d.eval_batch_size, &device);
        match (r.restore::<B::InnerBackend>(dev)?, self.source) {
            (TaskModel::Images(m), TaskSource::Images(s)) => on_source(m, s, loader, bs, dev),
            (TaskModel::Text(m, _), TaskSource::Text(s)) => on_source(m, s, loader, bs, dev),
            (TaskModel::Table(m, _), TaskSource::Table(s)) => on_source(m, s, loader, bs, dev),
            _ => Err(JobError::Input(format!(
                "{}: the data is not what the checkpoint's {} model reads",
                r.path.display(),
                r.state.model
            ))),
        }
    }
}

/// Evaluates `model` on `source`.
fn on_source<B, M, S>(
    model: M,
    source: &Arc<S>,
    loader: LoaderSettings,
    batch_size: usize,
    device: &B::Device,
) -> Result<(EvalResult, ConfusionMatrix), JobError>
where
    B: Backend,
    M: Trainable<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    if source.is_empty() {
        return Err(JobError::Input(
            "nothing to evaluate: the split is empty (check data.validation_fraction / data.test_fraction)".into(),
        ));
    }
    Ok(evaluate_with_confusion(
        &model, source, batch_size, loader, device,
    )?)
}
