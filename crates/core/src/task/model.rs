//! A task's trained model: what a checkpoint says about it (config, shapes, assets), the
//! model rebuilt from that, and the names of its outputs.

use super::Task;
use super::data::{Assets, saved_asset};
use crate::checkpoint::TrainState;
use crate::config::{Config, ModelKind};
use crate::data::{DataError, PREPROCESSING_FILE, TablePreprocessing, VOCAB_FILE, Vocab};
use crate::model::{Classifier, Gpt, Mlp};
use crate::train::{TrainError, model_from_bytes};
use burn::prelude::Backend;

/// A checkpoint's model as described by its files (no weights, no backend).
#[derive(Clone, Copy)]
pub struct SavedModel<'a> {
    /// The run's resolved config.
    pub config: &'a Config,
    /// Shapes and loop position at save time.
    pub state: &'a TrainState,
    /// Files stored beside the weights (vocabulary, preprocessing).
    pub assets: &'a Assets,
}

/// A restored model, by task, with what reading its inputs and naming its outputs needs.
// One value per command, moved once: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum TaskModel<B: Backend> {
    /// An image classifier.
    Images(Classifier<B>),
    /// The character-level GPT and its vocabulary.
    Text(Gpt<B>, Vocab),
    /// The tabular MLP and the run's standardization, feature columns and classes.
    Table(Mlp<B>, TablePreprocessing),
}

fn mismatch(message: String) -> DataError {
    DataError::Mismatch { message }
}

impl SavedModel<'_> {
    /// The task the model was trained for.
    pub fn task(&self) -> Task {
        Task::of(self.config.data.format)
    }

    /// The vocabulary of a `gpt` checkpoint (checked against the model's output size).
    pub fn vocab(&self) -> Result<Vocab, DataError> {
        if self.state.model != ModelKind::Gpt.name() {
            return Err(mismatch(format!(
                "holds a {} model; text generation needs a gpt checkpoint",
                self.state.model
            )));
        }
        let vocab: Vocab = saved_asset(Some(self.assets), VOCAB_FILE)?
            .ok_or_else(|| mismatch(format!("has no {VOCAB_FILE}")))?;
        if vocab.size() != self.state.num_classes {
            return Err(mismatch(format!(
                "{VOCAB_FILE} has {} ids but the model was built for {}",
                vocab.size(),
                self.state.num_classes
            )));
        }
        Ok(vocab)
    }

    /// The standardization, feature columns and classes saved with a table run.
    pub fn preprocessing(&self) -> Result<TablePreprocessing, DataError> {
        saved_asset(Some(self.assets), PREPROCESSING_FILE)?.ok_or_else(|| {
            mismatch(format!(
                "has no {PREPROCESSING_FILE} (a {} model, not a table model)",
                self.state.model
            ))
        })
    }

    /// Names of the first `classes` outputs: a table's classes, a text's characters, else the
    /// class ids.
    pub fn class_names(&self, classes: usize) -> Vec<String> {
        let saved = match self.task() {
            Task::Table => self.preprocessing().ok().map(|p| p.classes),
            Task::Text => self
                .vocab()
                .ok()
                .map(|v| v.chars.chars().map(|c| format!("{c:?}")).collect()),
            Task::Images => None,
        };
        (0..classes)
            .map(|c| {
                saved
                    .as_ref()
                    .and_then(|n| n.get(c).cloned())
                    .unwrap_or_else(|| c.to_string())
            })
            .collect()
    }

    /// The task's model as the checkpoint describes it, on `device`, weights not loaded.
    pub fn build<B: Backend>(&self, device: &B::Device) -> Result<TaskModel<B>, DataError> {
        let (c, s) = (self.config, self.state);
        Ok(match self.task() {
            Task::Images => TaskModel::Images(Classifier::new(
                &c.model,
                s.input_shape,
                s.num_classes,
                device,
            )),
            Task::Text => {
                let vocab = self.vocab()?;
                TaskModel::Text(Gpt::new(&c.model.gpt, vocab.size(), device), vocab)
            }
            Task::Table => {
                let [_, _, features] = s.input_shape;
                let mlp = Mlp::new(&c.model.mlp, features, s.num_classes, device);
                TaskModel::Table(mlp, self.preprocessing()?)
            }
        })
    }
}

impl<B: Backend> TaskModel<B> {
    /// Loads the stored weights `bytes` into the model.
    pub fn load(self, bytes: Vec<u8>, device: &B::Device) -> Result<Self, TrainError> {
        Ok(match self {
            TaskModel::Images(m) => TaskModel::Images(model_from_bytes(m, bytes, device)?),
            TaskModel::Text(m, v) => TaskModel::Text(model_from_bytes(m, bytes, device)?, v),
            TaskModel::Table(m, p) => TaskModel::Table(model_from_bytes(m, bytes, device)?, p),
        })
    }
}
