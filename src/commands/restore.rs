//! Rebuilding a trained model from a checkpoint directory (for export, predict, eval).

use super::Failure;
use crate::checkpoint::{TrainState, load};
use crate::config::Config;
use crate::model::Classifier;
use crate::train::model_from_bytes;
use anyhow::anyhow;
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

/// Verifies the checkpoint at `path` and parses its config (no backend involved).
pub fn open(path: &Path) -> Result<Opened, Failure> {
    let snap = load(path).map_err(Failure::input)?;
    let config: Config = toml::from_str(&snap.config_toml).map_err(|e| {
        Failure::input(anyhow!(
            "{}: config.toml: {}",
            path.display(),
            e.message().trim()
        ))
    })?;
    Ok(Opened {
        path: path.to_path_buf(),
        config,
        state: snap.state,
        model: snap.model,
    })
}

impl Opened {
    /// Builds the model on `device` and loads the stored weights into it.
    pub fn model<B: Backend>(&self, device: &B::Device) -> Result<Classifier<B>, Failure> {
        let model = Classifier::<B>::new(
            &self.config.model,
            self.state.input_shape,
            self.state.num_classes,
            device,
        );
        model_from_bytes(model, self.model.clone(), device)
            .map_err(|e| Failure::input(anyhow!("{}: {e}", self.path.display())))
    }
}

/// Verifies and loads the checkpoint at `path` onto `device`.
pub fn restore<B: Backend>(path: &Path, device: &B::Device) -> Result<Restored<B>, Failure> {
    let opened = open(path)?;
    let model = opened.model::<B>(device)?;
    Ok(Restored {
        model,
        config: opened.config,
        state: opened.state,
    })
}
