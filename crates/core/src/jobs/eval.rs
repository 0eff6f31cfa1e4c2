//! A checkpoint's model evaluated on one split or file.

use super::{BackendJob, JobError, Opened};
use crate::data::{BatchSource, LoaderSettings};
use crate::metrics::ConfusionMatrix;
use crate::model::Trainable;
use crate::task::{SourceJob, TaskSource};
use crate::train::{EvalResult, evaluate_with_confusion};
use burn::tensor::backend::Backend;
use std::sync::Arc;
use trainer_ops::TrainBackend;

/// Evaluates the checkpoint's model on `source`.
pub struct EvalJob<'a> {
    /// A verified checkpoint.
    pub checkpoint: &'a Opened,
    /// What to score.
    pub source: &'a TaskSource,
}

impl BackendJob for EvalJob<'_> {
    type Output = Result<(EvalResult, ConfusionMatrix), JobError>;

    fn run<B: TrainBackend>(self, _backend: &'static str, device: B::Device) -> Self::Output {
        let r = self.checkpoint;
        let d = &r.config.data;
        let loader = LoaderSettings::resolve(d.workers, d.prefetch);
        let (bs, dev) = (d.eval_batch_size, &device);
        let evaluate = Evaluate::<B::InnerBackend> {
            loader,
            batch_size: bs,
            device: dev,
        };
        let model = r.restore::<B::InnerBackend>(dev)?;
        model.with_source(self.source, evaluate).unwrap_or_else(|| {
            Err(JobError::Input(format!(
                "{}: the data is not what the checkpoint's {} model reads",
                r.path.display(),
                r.state.model
            )))
        })
    }
}

/// Evaluates a model on a source of its batches.
struct Evaluate<'a, B: Backend> {
    loader: LoaderSettings,
    batch_size: usize,
    device: &'a B::Device,
}

impl<B: Backend> SourceJob<B> for Evaluate<'_, B> {
    type Output = Result<(EvalResult, ConfusionMatrix), JobError>;

    fn run<M, S>(self, model: M, source: &Arc<S>) -> Self::Output
    where
        M: Trainable<B>,
        S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
    {
        if source.is_empty() {
            return Err(JobError::Input(
                "nothing to evaluate: the split is empty (check data.validation_fraction / data.test_fraction)".into(),
            ));
        }
        let (bs, loader, device) = (self.batch_size, self.loader, self.device);
        Ok(evaluate_with_confusion(&model, source, bs, loader, device)?)
    }
}
