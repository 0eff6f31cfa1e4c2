//! The port the training loop drives: one model, its optimizer and its data on one backend,
//! taken a step at a time. The loop (crate `trainer-fit`) knows this trait, never Burn or a
//! backend, so it is compiled once, not once per backend and model.

use super::{EvalResult, Split, StepSettings, TrainError};
use crate::checkpoint::{LossScaleState, Position, Snapshot};
use crate::data::{BatchList, LoaderSettings};

/// What the run-start event says about the model and where it trains.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnerInfo {
    /// The model's kind, as checkpoints record it.
    pub model: String,
    /// The backend's name (`flex`, `cuda`, ...).
    pub backend: String,
    /// The device, or the devices of a data-parallel run.
    pub device: String,
    /// Trainable parameters.
    pub parameters: usize,
}

/// What one training step is given by the loop.
#[derive(Debug)]
pub struct StepPlan<'a> {
    /// The backend RNG's seed for this step (dropout), before the per-device offset.
    pub seed: u64,
    /// Learning rate and gradient clipping of this step.
    pub settings: StepSettings,
    /// The f16 loss scaler (None for other precisions); the update adjusts it.
    pub loss_scale: Option<&'a mut LossScaleState>,
}

/// What one training step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stepped {
    /// The batch's index in the epoch.
    pub index: usize,
    /// Samples in the global batch (every rank's share in a multi-process job).
    pub rows: usize,
}

/// One model training on one backend: the loop's handle on everything generic.
pub trait Learner {
    /// The model and device, for the run-start event.
    fn info(&self) -> LearnerInfo;

    /// Training samples (this process's shard in a multi-process job).
    fn train_samples(&self) -> usize;

    /// Samples in the evaluation `split`.
    fn samples(&self, split: Split) -> usize;

    /// Starts streaming the epoch's `batches` from batch `from`.
    fn start_epoch(&mut self, batches: BatchList, from: usize, loader: LoaderSettings);

    /// Trains on the epoch's next batch: gradients, and the optimizer update when the
    /// accumulation window ends. None when the epoch's batches are done.
    fn step(&mut self, plan: StepPlan<'_>) -> Option<Result<Stepped, TrainError>>;

    /// Whether gradients are waiting for the end of their accumulation window.
    fn accumulating(&self) -> bool;

    /// Reads back the training losses summed on the device since the last read-back (a
    /// device sync); 0 when none.
    fn read_losses(&mut self) -> Result<f64, TrainError>;

    /// The model's loss and metrics on `split`.
    fn evaluate(
        &self,
        split: Split,
        batch_size: usize,
        loader: LoaderSettings,
    ) -> Result<EvalResult, TrainError>;

    /// Files the splits have left out of their batches as unreadable, as `path: why`.
    fn skipped(&self) -> Vec<String>;

    /// A checkpoint of the model and optimizer at `pos`; Err (diverged) when a weight is not
    /// finite.
    fn snapshot(
        &self,
        pos: &Position,
        interrupted: bool,
        tracker_run_id: &str,
    ) -> Result<Snapshot, TrainError>;
}
