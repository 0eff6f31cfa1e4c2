//! A task's trained model: what a checkpoint says about it (config, shapes, assets), the
//! model rebuilt from that, and the names of its outputs.

use super::data::{Assets, saved_asset};
use super::{Task, TaskSource};
use crate::checkpoint::TrainState;
use crate::config::{Config, DataFormat, ModelKind};
use crate::data::{
    BatchSource, CLASSES_FILE, DataError, ImageFiles, InMemoryImages, Normalize,
    PREPROCESSING_FILE, TablePreprocessing, VOCAB_FILE, Vocab, open_table_rows, read_idx_images,
};
use crate::model::{Classifier, Gpt, Mlp, Trainable};
use crate::train::{TrainError, model_from_bytes};
use burn::prelude::Backend;
use std::path::Path;
use std::sync::Arc;
use trainer_ops::HostOps;

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

    /// The class names an image-folder run saved (`classes.json`); None for other formats.
    pub fn image_classes(&self) -> Result<Option<Vec<String>>, DataError> {
        saved_asset(Some(self.assets), CLASSES_FILE)
    }

    /// Names of the first `classes` outputs: a table's classes, a text's characters, an image
    /// folder's class folders, else the class ids.
    pub fn class_names(&self, classes: usize) -> Vec<String> {
        let saved = match self.task() {
            Task::Table => self.preprocessing().ok().map(|p| p.classes),
            Task::Text => self
                .vocab()
                .ok()
                .map(|v| v.chars.chars().map(|c| format!("{c:?}")).collect()),
            Task::Images => self.image_classes().ok().flatten(),
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

    /// Unlabelled inputs for the model to score (`predict`): IDX images of the model's input
    /// shape, normalized as the run was; for an image-folder run, one image file or every image
    /// under a folder, decoded as the run's were; or CSV rows with its feature columns. Text has no
    /// per-sample output to score (`trainer sample` generates). `checkpoint` is named in
    /// messages.
    pub fn unlabelled_source(
        &self,
        checkpoint: &Path,
        input: &Path,
    ) -> Result<TaskSource, DataError> {
        match self.task() {
            Task::Table => Ok(TaskSource::Table(Arc::new(open_table_rows(
                input,
                self.preprocessing()?,
            )?))),
            Task::Text => Err(mismatch(format!(
                "{}: holds a gpt model; predict scores images and tables, `trainer sample` generates text",
                checkpoint.display()
            ))),
            Task::Images if self.config.data.format == DataFormat::ImageFolder => {
                let files = ImageFiles::open(input, &self.config.data)?;
                Ok(TaskSource::Images(Arc::new(files)))
            }
            Task::Images => {
                let images = read_idx_images(input)?;
                let shape = [1, images.rows, images.cols];
                if shape != self.state.input_shape {
                    return Err(mismatch(format!(
                        "{}: images are {shape:?} but the model was trained on {:?}",
                        input.display(),
                        self.state.input_shape
                    )));
                }
                let norm = Normalize {
                    mean: self.config.data.normalize_mean as f32,
                    std: self.config.data.normalize_std as f32,
                };
                let count = images.count;
                let source = InMemoryImages::unlabelled(images.pixels, count, shape, norm);
                Ok(TaskSource::Images(Arc::new(source)))
            }
        }
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

/// Work done with a restored model and a source it reads, whatever the task (`eval`,
/// `predict`): [`TaskModel::with_source`] pairs them and calls [`SourceJob::run`].
pub trait SourceJob<B: Backend> {
    /// What the job returns.
    type Output;
    /// Runs with the model and the source of its batch type.
    fn run<M, S>(self, model: M, source: &Arc<S>) -> Self::Output
    where
        M: Trainable<B>,
        S: BatchSource<Batch = M::Batch> + ?Sized + 'static;
}

impl<B: HostOps> TaskModel<B> {
    /// Hands the model and `source` to `job`; `None` when `source` is not what the model reads
    /// (another task's data).
    pub fn with_source<J: SourceJob<B>>(self, source: &TaskSource, job: J) -> Option<J::Output> {
        Some(match (self, source) {
            (TaskModel::Images(m), TaskSource::Images(s)) => job.run(m, s),
            (TaskModel::Text(m, _), TaskSource::Text(s)) => job.run(m, s),
            (TaskModel::Table(m, _), TaskSource::Table(s)) => job.run(m, s),
            _ => return None,
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
