//! What a run learns, decided once from `data.format`: image classification (IDX, CIFAR-10,
//! image folders), a language model (characters of a text file, or token shards) or a table model (CSV,
//! classification or regression). Each task owns its data (splits and the assets saved with checkpoints) and its
//! model (built for training, restored from a checkpoint, its output names); commands ask the
//! task instead of matching on the data format. A new data family is one more variant here.

mod data;
mod model;

pub use data::{Assets, ModelJob, TaskData, TaskSource};
pub use model::{SavedModel, SourceJob, TaskModel};

use crate::config::{Config, DataFormat};
use crate::train::EVAL_METRICS;

/// The kind of learning problem a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Images to classes (`mlp`, `cnn`, `resnet`).
    Images,
    /// Next-character prediction over a text corpus (`gpt`).
    Text,
    /// Rows of a CSV table to a class or a value (`mlp`).
    Table,
}

impl Task {
    /// The task a data format calls for.
    pub fn of(format: DataFormat) -> Self {
        match format {
            DataFormat::Idx | DataFormat::Cifar10 | DataFormat::ImageFolder => Task::Images,
            DataFormat::Text | DataFormat::Tokens => Task::Text,
            DataFormat::Csv | DataFormat::Parquet => Task::Table,
        }
    }

    /// Its name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Task::Images => "image classification",
            Task::Text => "language model",
            Task::Table => "table",
        }
    }

    /// True when the data is one file (`data.file`), not a directory of files (`data.dir`).
    pub fn reads_one_file(self) -> bool {
        !matches!(self, Task::Images)
    }

    /// What evaluation counts: tokens for the language model, samples otherwise.
    pub fn unit(self) -> &'static str {
        match self {
            Task::Text => "tokens",
            Task::Images | Task::Table => "samples",
        }
    }
}

/// Whether `cfg` trains a regression: a table whose target is a value.
pub fn is_regression(cfg: &Config) -> bool {
    cfg.data.is_regression()
}

/// The evaluation metrics (names from `EVAL_METRICS`, in display order) runs of `cfg` log:
/// the loss always; RMSE, MAE and R² for regression; accuracy, top-5 and macro F1 for classes;
/// perplexity and bits per byte for the language model.
pub fn eval_metrics(cfg: &Config) -> Vec<&'static str> {
    let (regression, text) = (is_regression(cfg), Task::of(cfg.data.format) == Task::Text);
    EVAL_METRICS
        .into_iter()
        .filter(|m| match *m {
            "loss" => true,
            "rmse" | "mae" | "r2" => regression,
            "perplexity" | "bits_per_byte" => text,
            _ => !regression,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TableTask;

    #[test]
    fn metrics_follow_the_task() {
        let mut cfg = Config::default();
        assert_eq!(
            eval_metrics(&cfg),
            ["loss", "accuracy", "top5_accuracy", "macro_f1"]
        );
        cfg.data.format = DataFormat::Text;
        assert!(eval_metrics(&cfg).contains(&"perplexity"));
        cfg.data.format = DataFormat::Csv;
        cfg.data.task = TableTask::Regression;
        assert_eq!(eval_metrics(&cfg), ["loss", "rmse", "mae", "r2"]);
    }
}
