//! Rebuilding a trained model from a checkpoint directory (for export, predict, eval).

use super::Failure;
use crate::checkpoint::{TrainState, load};
use crate::config::{Config, DataFormat, ModelKind};
use crate::data::{PREPROCESSING_FILE, TablePreprocessing, VOCAB_FILE, Vocab};
use crate::model::{Classifier, Gpt, Mlp};
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
    /// Files stored with the model (e.g. `vocab.json`).
    assets: std::collections::BTreeMap<String, Vec<u8>>,
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
        assets: snap.assets,
    })
}

impl Opened {
    /// Builds the model on `device` and loads the stored weights into it.
    pub fn model<B: Backend>(&self, device: &B::Device) -> Result<Classifier<B>, Failure> {
        let format = self.config.data.format;
        if !matches!(format, DataFormat::Idx | DataFormat::Cifar10) {
            return Err(Failure::input(anyhow!(
                "{}: holds a {} model trained on data.format = \"{}\"; this command reads image classifiers (idx, cifar10) only",
                self.path.display(),
                self.state.model,
                format.name()
            )));
        }
        let model = Classifier::<B>::new(
            &self.config.model,
            self.state.input_shape,
            self.state.num_classes,
            device,
        );
        self.load_into(model, device)
    }
}

impl Opened {
    /// The vocabulary of a `gpt` checkpoint (checked against the model's output size).
    pub fn vocab(&self) -> Result<Vocab, Failure> {
        let bad = |why: String| Failure::input(anyhow!("{}: {why}", self.path.display()));
        if self.state.model != ModelKind::Gpt.name() {
            return Err(bad(format!(
                "holds a {} model; text generation needs a gpt checkpoint",
                self.state.model
            )));
        }
        let bytes = self
            .assets
            .get(VOCAB_FILE)
            .ok_or_else(|| bad(format!("has no {VOCAB_FILE}")))?;
        let vocab: Vocab = serde_json::from_slice(bytes).map_err(|e| {
            bad(format!(
                "{VOCAB_FILE}: expected {{\"chars\": \"...\"}}: {e}"
            ))
        })?;
        if vocab.size() != self.state.num_classes {
            return Err(bad(format!(
                "{VOCAB_FILE} has {} ids but the model was built for {}",
                vocab.size(),
                self.state.num_classes
            )));
        }
        Ok(vocab)
    }

    /// Builds the character-level GPT on `device` with the stored weights and vocabulary.
    pub fn gpt<B: Backend>(&self, device: &B::Device) -> Result<(Gpt<B>, Vocab), Failure> {
        let vocab = self.vocab()?;
        let model = Gpt::<B>::new(&self.config.model.gpt, vocab.size(), device);
        Ok((self.load_into(model, device)?, vocab))
    }

    /// Builds the tabular MLP on `device` with the stored weights.
    pub fn table_mlp<B: Backend>(&self, device: &B::Device) -> Result<Mlp<B>, Failure> {
        let [_, _, features] = self.state.input_shape;
        let model = Mlp::<B>::new(
            &self.config.model.mlp,
            features,
            self.state.num_classes,
            device,
        );
        self.load_into(model, device)
    }

    /// The standardization, feature columns and classes saved with a table run.
    pub fn preprocessing(&self) -> Result<TablePreprocessing, Failure> {
        let bad = |why: String| Failure::input(anyhow!("{}: {why}", self.path.display()));
        let bytes = self.assets.get(PREPROCESSING_FILE).ok_or_else(|| {
            bad(format!(
                "has no {PREPROCESSING_FILE} (a {} model, not a table model)",
                self.state.model
            ))
        })?;
        serde_json::from_slice(bytes).map_err(|e| bad(format!("{PREPROCESSING_FILE}: {e}")))
    }

    /// Files stored beside the weights (vocabulary, preprocessing).
    pub fn assets(&self) -> &std::collections::BTreeMap<String, Vec<u8>> {
        &self.assets
    }

    fn load_into<B: Backend, M: burn::module::Module<B>>(
        &self,
        model: M,
        device: &B::Device,
    ) -> Result<M, Failure> {
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
