//! Rebuilding a trained model from a checkpoint directory (for export, predict, eval).

use super::JobError;
use crate::checkpoint::{CheckpointStore, DirStore, LATEST_FILE, TrainState, load};
use crate::config::Config;
use crate::data::{TablePreprocessing, Vocab};
use crate::model::Classifier;
use crate::run::RunLayout;
use crate::task::{Assets, SavedModel, Task, TaskModel};
use burn::prelude::Backend;
use std::path::{Path, PathBuf};

/// A verified checkpoint, read but not yet placed on a device.
pub struct Opened {
    /// The checkpoint directory (for error messages).
    pub path: PathBuf,
    /// The run's resolved config.
    pub config: Config,
    /// Loop position and data shapes at save time.
    pub state: TrainState,
    /// Model weights as stored.
    model: Vec<u8>,
    /// Files stored with the model (e.g. `vocab.json`).
    assets: Assets,
}

/// A checkpoint's model with the config and state it was saved with.
pub struct Restored<B: Backend> {
    /// The model, weights loaded.
    pub model: Classifier<B>,
    /// The run's resolved config.
    pub config: Config,
    /// Loop position and data shapes at save time.
    pub state: TrainState,
}

/// The checkpoint directory `path` names: `path` itself, or, for a run directory or its
/// `checkpoints/` directory, the newest checkpoint there that verifies (newer ones that do
/// not are logged as warnings and passed over).
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf, JobError> {
    let in_run = RunLayout::of(path).checkpoints();
    let root = if in_run.is_dir() {
        in_run
    } else if path.join(LATEST_FILE).is_file() {
        path.to_path_buf()
    } else {
        return Ok(path.to_path_buf());
    };
    match DirStore::open(&root)
        .latest_valid()
        .map_err(JobError::input)?
    {
        Some((found, skipped)) => {
            for (name, why) in skipped {
                tracing::warn!("skipping checkpoint {name}: {why}");
            }
            Ok(found.path)
        }
        None => Err(JobError::Input(format!(
            "{}: no checkpoint there verifies (`trainer checkpoints ls` says why)",
            root.display()
        ))),
    }
}

/// Verifies the checkpoint `path` names (see [`resolve_checkpoint`]) and parses its config
/// (no backend involved). A checkpoint of a library user's model is refused: only the program
/// that defines the model can rebuild it.
pub fn open(path: &Path) -> Result<Opened, JobError> {
    let path = &resolve_checkpoint(path)?;
    let snap = load(path).map_err(JobError::input)?;
    let config: Config = toml::from_str(&snap.config_toml).map_err(|e| {
        JobError::Input(format!(
            "{}: config.toml: {}",
            path.display(),
            e.message().trim()
        ))
    })?;
    if snap.state.model != config.model.kind.name() {
        return Err(JobError::Input(format!(
            "{}: holds `{}`, a model trained through the trainer library, not a built-in one; load it with `trainer::load` in the program that defines it",
            path.display(),
            snap.state.model
        )));
    }
    Ok(Opened {
        path: path.to_path_buf(),
        config,
        state: snap.state,
        model: snap.model,
        assets: snap.assets,
    })
}

impl Opened {
    /// What the checkpoint says about its model (config, shapes, assets).
    pub fn saved(&self) -> SavedModel<'_> {
        SavedModel {
            config: &self.config,
            state: &self.state,
            assets: &self.assets,
        }
    }

    /// Bad input in this checkpoint, named by its path.
    fn bad(&self, e: impl std::fmt::Display) -> JobError {
        JobError::Input(format!("{}: {e}", self.path.display()))
    }

    /// The task's model on `device` with the stored weights.
    pub fn restore<B: Backend>(&self, device: &B::Device) -> Result<TaskModel<B>, JobError> {
        let model = self.saved().build::<B>(device).map_err(|e| self.bad(e))?;
        model
            .load(self.model.clone(), device)
            .map_err(|e| self.bad(e))
    }

    /// The image classifier on `device` with the stored weights; other tasks are refused.
    pub fn classifier<B: Backend>(&self, device: &B::Device) -> Result<Classifier<B>, JobError> {
        if self.saved().task() != Task::Images {
            return Err(self.bad(format!(
                "holds a {} model trained on data.format = \"{}\"; this command reads image classifiers (idx, cifar10, image-folder) only",
                self.state.model,
                self.config.data.format.name()
            )));
        }
        match self.restore::<B>(device)? {
            TaskModel::Images(model) => Ok(model),
            _ => Err(self.bad("not an image classifier")),
        }
    }

    /// The vocabulary of a `gpt` checkpoint (checked against the model's output size).
    pub fn vocab(&self) -> Result<Vocab, JobError> {
        self.saved().vocab().map_err(|e| self.bad(e))
    }

    /// The standardization, feature columns and classes saved with a table run.
    pub fn preprocessing(&self) -> Result<TablePreprocessing, JobError> {
        self.saved().preprocessing().map_err(|e| self.bad(e))
    }

    /// Files stored beside the weights (vocabulary, preprocessing).
    pub fn assets(&self) -> &Assets {
        &self.assets
    }
}

/// Verifies and loads the checkpoint at `path` onto `device`.
pub fn restore<B: Backend>(path: &Path, device: &B::Device) -> Result<Restored<B>, JobError> {
    let opened = open(path)?;
    let model = opened.classifier::<B>(device)?;
    Ok(Restored {
        model,
        config: opened.config,
        state: opened.state,
    })
}
