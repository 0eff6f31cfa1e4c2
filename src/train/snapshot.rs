//! Turning the loop's state into a checkpoint `Snapshot` (what `fit` saves, what `bench` times).

use super::record::model_to_bytes;
use super::{AnyOptimizer, TrainError};
use crate::checkpoint::{FORMAT_VERSION, Snapshot, TrainState};
use crate::config::Config;
use crate::model::Classifier;
use burn::tensor::backend::AutodiffBackend;

/// Where the training loop is; saved in checkpoints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Position {
    /// Epoch in progress (0-based).
    pub epoch: usize,
    /// Batches of this epoch already trained on.
    pub batch: usize,
    /// Optimizer steps taken in the whole run.
    pub global_step: usize,
    /// Sum of this epoch's step losses so far.
    pub epoch_loss_sum: f64,
    /// Latest validation metric.
    pub metric: Option<f64>,
    /// Best validation metric so far.
    pub best: Option<f64>,
}

/// What a checkpoint is made of.
pub struct SaveContext<'a, B: AutodiffBackend> {
    /// The run's resolved config.
    pub cfg: &'a Config,
    /// The model being trained.
    pub model: &'a Classifier<B>,
    /// Its optimizer.
    pub optim: &'a AnyOptimizer<B>,
    /// Loop position.
    pub pos: &'a Position,
    /// Input shape and class count the model was built for.
    pub model_shape: ([usize; 3], usize),
}

/// Encodes weights, optimizer state and loop position (reads the weights back from the device).
pub fn snapshot<B: AutodiffBackend>(
    ctx: SaveContext<'_, B>,
    interrupted: bool,
    tracker_run_id: &str,
) -> Result<Snapshot, TrainError> {
    let SaveContext {
        cfg,
        model,
        optim,
        pos,
        model_shape,
    } = ctx;
    Ok(Snapshot {
        state: TrainState {
            format_version: FORMAT_VERSION,
            trainer_version: env!("CARGO_PKG_VERSION").to_string(),
            model: cfg.model.kind.name().to_string(),
            input_shape: model_shape.0,
            num_classes: model_shape.1,
            epoch: pos.epoch,
            batch_in_epoch: pos.batch,
            global_step: pos.global_step,
            epoch_loss_sum: pos.epoch_loss_sum,
            seed: cfg.run.seed,
            metric: pos.metric,
            best_metric: pos.best,
            tracker_run_id: tracker_run_id.to_string(),
            interrupted,
        },
        model: model_to_bytes(model)?,
        optimizer: optim.to_bytes()?,
        config_toml: cfg.to_toml(),
    })
}
