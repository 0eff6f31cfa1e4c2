//! Turning the loop's state into a checkpoint `Snapshot` (what `fit` saves, what `bench` times).

use super::record::model_to_bytes;
use super::{AnyOptimizer, TrainError};
use crate::checkpoint::{FORMAT_VERSION, Position, Snapshot, TrainState};
use crate::config::Config;
use burn::module::AutodiffModule;
use std::collections::BTreeMap;
use trainer_ops::TrainBackend;

/// What identifies a model's architecture in checkpoints, and the files that travel with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelSpec {
    /// Model kind (`mlp`, `cnn`, `gpt`): a checkpoint only loads into the same kind.
    pub kind: String,
    /// Shape of one input sample (`[1, 1, features]` for tables, `[1, 1, block]` for text).
    pub input_shape: [usize; 3],
    /// Output classes (the vocabulary size for language models).
    pub num_classes: usize,
    /// Files saved beside the weights in every checkpoint (e.g. `vocab.json`).
    pub assets: BTreeMap<String, Vec<u8>>,
}

/// What a checkpoint is made of.
pub struct SaveContext<'a, B: TrainBackend, M: AutodiffModule<B>> {
    /// The run's resolved config.
    pub cfg: &'a Config,
    /// The model being trained.
    pub model: &'a M,
    /// Its optimizer.
    pub optim: &'a AnyOptimizer<B, M>,
    /// Loop position.
    pub pos: &'a Position,
    /// The architecture and its assets.
    pub spec: &'a ModelSpec,
}

/// Encodes weights, optimizer state and loop position (reads the weights back from the device).
pub fn snapshot<B: TrainBackend, M: AutodiffModule<B>>(
    ctx: SaveContext<'_, B, M>,
    interrupted: bool,
    tracker_run_id: &str,
) -> Result<Snapshot, TrainError> {
    let SaveContext {
        cfg,
        model,
        optim,
        pos,
        spec,
    } = ctx;
    Ok(Snapshot {
        state: TrainState {
            format_version: FORMAT_VERSION,
            trainer_version: env!("CARGO_PKG_VERSION").to_string(),
            model: spec.kind.clone(),
            input_shape: spec.input_shape,
            num_classes: spec.num_classes,
            position: pos.clone(),
            seed: cfg.run.seed,
            tracker_run_id: tracker_run_id.to_string(),
            interrupted,
        },
        model: model_to_bytes(model)?,
        optimizer: optim.to_bytes()?,
        config_toml: cfg.to_toml(),
        assets: spec.assets.clone(),
    })
}
