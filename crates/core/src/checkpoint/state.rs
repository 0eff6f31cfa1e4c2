//! `state.json`: the loop position and run identity stored beside the weights.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Version of the on-disk checkpoint layout; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// Training-loop state at the moment of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainState {
    /// On-disk layout version (`FORMAT_VERSION`).
    pub format_version: u32,
    /// `trainer` version that wrote it.
    pub trainer_version: String,
    /// Model kind (`mlp`, `cnn`): a checkpoint only loads into the same architecture.
    pub model: String,
    /// Shape of one input sample `[c, h, w]` (with `num_classes`, rebuilds the model).
    pub input_shape: [usize; 3],
    /// Number of output classes.
    pub num_classes: usize,
    /// Epoch in progress (0-based).
    pub epoch: usize,
    /// Batches of that epoch already trained: the loader cursor. The batch order is a pure
    /// function of (seed, epoch), so (epoch, batch) is the whole data position.
    pub batch_in_epoch: usize,
    /// Optimizer steps taken in the run.
    pub global_step: usize,
    /// Sum of the training losses read back in the current epoch so far.
    pub epoch_loss_sum: f64,
    /// Dropout RNG: reseeded each step from (run seed, global_step), so the seed is the state.
    pub seed: u64,
    /// Validation accuracy of the last evaluation before this checkpoint, if any.
    pub metric: Option<f64>,
    /// Best validation accuracy so far, if any.
    pub best_metric: Option<f64>,
    /// Validations in a row without improving `best_metric` (early stopping resumes from it;
    /// absent in checkpoints written before early stopping existed).
    #[serde(default)]
    pub epochs_without_improvement: usize,
    /// Experiment-tracker run id (empty until a tracker is configured).
    pub tracker_run_id: String,
    /// True when written because the run was interrupted (Ctrl-C / SIGTERM).
    pub interrupted: bool,
    /// The f16 loss scaler (absent for f32/bf16 runs and in older checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scale: Option<LossScaleState>,
}

/// Dynamic loss scaling (f16 training): the current factor and the overflow-free updates since
/// it last changed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossScaleState {
    /// The factor the loss is multiplied by before backward.
    pub scale: f64,
    /// Updates in a row without an overflow (the scale doubles after `GROWTH_INTERVAL`).
    pub good_steps: usize,
}

/// A checkpoint found on disk and verified.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheckpoint {
    /// Directory name, e.g. `step-000120`.
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// Its state.
    pub state: TrainState,
}
