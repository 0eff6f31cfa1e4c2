//! A task's data: the opened splits of a run (with the assets its checkpoints carry), and one
//! split or file of it to score.

use super::Task;
use crate::config::{Config, DataFormat};
use crate::data::{
    BatchSource, CLASSES_FILE, DataError, DataSource, DatasetRecord, PREPROCESSING_FILE,
    SplitSizes, Splits, TOKENIZER_FILE, TablePreprocessing, TableRows, TextWindows, VOCAB_FILE,
    Vocab, load_splits, load_table_splits, load_test_images, load_text_splits, load_token_splits,
    open_table_rows, open_text_windows, open_token_windows,
};
use crate::model::{Classifier, Gpt, Mlp, Trainable, check_input};
use crate::train::{ModelPlan, ModelSpec, TrainError};
use burn::module::AutodiffModule;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use trainer_ops::TrainBackend;

/// Files stored beside a checkpoint's weights, by name.
pub type Assets = BTreeMap<String, Vec<u8>>;

/// The opened splits of one run, by task.
pub enum TaskData {
    /// Image files (IDX, CIFAR-10, image folders) for the `mlp`, `cnn` and `resnet` classifiers.
    Images(Splits),
    /// Text for the `gpt` model (characters or token shards), with its vocabulary and the files
    /// its checkpoints carry besides (a token-shard directory's tokenizer).
    Text(Splits<TextWindows>, Vocab, Assets),
    /// A CSV table for the `mlp` (classification or regression), with its fitted standardization.
    Table(Splits<TableRows>, Arc<TablePreprocessing>),
}

impl TaskData {
    /// Opens `[data]`. With a checkpoint's `assets`, its saved vocabulary (text) or
    /// preprocessing (tables) is used, so ids and feature scaling are exactly the run's.
    pub fn open(cfg: &Config, assets: Option<&Assets>) -> Result<Self, DataError> {
        Ok(match Task::of(cfg.data.format) {
            Task::Images => {
                let splits = load_splits(&cfg.data, cfg.run.seed)?;
                let saved = saved_asset::<Vec<String>>(assets, CLASSES_FILE)?;
                if let (Some(saved), Some(found)) = (saved, splits.train.class_names())
                    && saved != found
                {
                    return Err(DataError::Mismatch {
                        message: format!(
                            "{}: holds the classes [{}] but the checkpoint's are [{}]",
                            cfg.data.dir.display(),
                            found.join(", "),
                            saved.join(", ")
                        ),
                    });
                }
                TaskData::Images(splits)
            }
            Task::Text => {
                let saved = saved_asset::<Vocab>(assets, VOCAB_FILE)?;
                let block = cfg.model.gpt.block_size;
                let (splits, vocab, tokenizer) = match cfg.data.format {
                    DataFormat::Tokens => {
                        let t = load_token_splits(&cfg.data, block, saved)?;
                        (t.splits, t.vocab, t.tokenizer)
                    }
                    _ => {
                        let (splits, vocab) = load_text_splits(&cfg.data, block, saved)?;
                        (splits, vocab, None)
                    }
                };
                let saved_tokenizer = assets.and_then(|a| a.get(TOKENIZER_FILE));
                if let (Some(found), Some(saved)) = (&tokenizer, saved_tokenizer)
                    && found != saved
                {
                    return Err(DataError::Mismatch {
                        message: format!(
                            "{}: its {TOKENIZER_FILE} differs from the checkpoint's; the shards were made by another tokenizer",
                            cfg.data.dir.display()
                        ),
                    });
                }
                let extra = tokenizer
                    .or_else(|| saved_tokenizer.cloned())
                    .map(|t| Assets::from([(TOKENIZER_FILE.to_string(), t)]))
                    .unwrap_or_default();
                TaskData::Text(splits, vocab, extra)
            }
            Task::Table => {
                let saved = saved_asset::<TablePreprocessing>(assets, PREPROCESSING_FILE)?;
                let (splits, prep) = load_table_splits(&cfg.data, cfg.run.seed, saved)?;
                TaskData::Table(splits, prep)
            }
        })
    }

    /// Which task this is.
    pub fn task(&self) -> Task {
        match self {
            TaskData::Images(_) => Task::Images,
            TaskData::Text(..) => Task::Text,
            TaskData::Table(..) => Task::Table,
        }
    }

    /// What the run reads, for its lineage: the files' digest, split sizes and classes.
    pub fn lineage(&self, cfg: &Config) -> Result<DatasetRecord, DataError> {
        fn sizes<S: BatchSource + ?Sized>(s: &Splits<S>) -> SplitSizes {
            SplitSizes {
                train: s.train.len(),
                valid: s.valid.len(),
                test: s.test.len(),
            }
        }
        let (splits, classes) = match self {
            TaskData::Images(s) => (
                sizes(s),
                Some(s.train.num_classes().max(s.test.num_classes())),
            ),
            TaskData::Text(s, ..) => (sizes(s), None),
            TaskData::Table(s, prep) => (
                sizes(s),
                (!cfg.data.is_regression()).then(|| prep.outputs()),
            ),
        };
        DatasetRecord::of(&cfg.data, cfg.run.seed, splits, classes)
    }

    /// Builds the plan of the configured model for this data (input shape, outputs and the
    /// assets its checkpoints carry) and hands it to `job` with the splits: the one place
    /// each task's model is built for training (`fit`, `bench`).
    pub fn with_model<B: TrainBackend, J: ModelJob<B>>(
        &self,
        cfg: &Config,
        job: J,
    ) -> Result<J::Output, TrainError> {
        let flat_spec = |input: usize, outputs: usize, assets: Assets| ModelSpec {
            kind: cfg.model.kind.name().to_string(),
            input_shape: [1, 1, input],
            num_classes: outputs,
            assets,
        };
        Ok(match self {
            TaskData::Images(splits) => {
                let shape = splits.train.feature_shape();
                check_input(&cfg.model, shape).map_err(TrainError::IncompatibleInput)?;
                // The test split may hold a class the training split lacks.
                let classes = splits.train.num_classes().max(splits.test.num_classes());
                let assets = match splits.train.class_names() {
                    Some(names) => asset(CLASSES_FILE, &names)?,
                    None => Assets::new(),
                };
                let plan = ModelPlan {
                    spec: ModelSpec {
                        kind: cfg.model.kind.name().to_string(),
                        input_shape: shape,
                        num_classes: classes,
                        assets,
                    },
                    build: |d: &B::Device| Classifier::<B>::new(&cfg.model, shape, classes, d),
                };
                job.run(plan, splits)
            }
            TaskData::Text(splits, vocab, extra) => {
                let mut assets = asset(VOCAB_FILE, vocab)?;
                assets.extend(extra.clone());
                let plan = ModelPlan {
                    spec: flat_spec(cfg.model.gpt.block_size, vocab.size(), assets),
                    build: |d: &B::Device| Gpt::<B>::new(&cfg.model.gpt, vocab.size(), d),
                };
                job.run(plan, splits)
            }
            TaskData::Table(splits, prep) => {
                let (features, outputs) = (prep.features.len(), prep.outputs());
                let assets = asset(PREPROCESSING_FILE, prep.as_ref())?;
                let plan = ModelPlan {
                    spec: flat_spec(features, outputs, assets),
                    build: |d: &B::Device| Mlp::<B>::new(&cfg.model.mlp, features, outputs, d),
                };
                job.run(plan, splits)
            }
        })
    }

    /// Whether the test split holds any sample (a run with `data.test_fraction = 0` has none).
    pub fn has_test(&self) -> bool {
        match self {
            TaskData::Images(s) => !s.test.is_empty(),
            TaskData::Text(s, ..) => !s.test.is_empty(),
            TaskData::Table(s, _) => !s.test.is_empty(),
        }
    }

    /// The test split, or the validation split.
    pub fn split(self, test: bool) -> TaskSource {
        fn pick<T>(test: bool, s: Splits<T>) -> Arc<T>
        where
            T: ?Sized,
        {
            if test { s.test } else { s.valid }
        }
        match self {
            TaskData::Images(s) => TaskSource::Images(pick(test, s)),
            TaskData::Text(s, ..) => TaskSource::Text(pick(test, s)),
            TaskData::Table(s, _) => TaskSource::Table(pick(test, s)),
        }
    }
}

/// Work done with a task's model and its splits, whatever the task (training, benchmarking):
/// [`TaskData::with_model`] picks the model and calls [`ModelJob::run`] with it.
pub trait ModelJob<B: TrainBackend> {
    /// What the job returns.
    type Output;
    /// Runs with the model's plan (its checkpoint identity and a builder) and the splits it
    /// reads.
    fn run<M, S, F>(self, plan: ModelPlan<F>, data: &Splits<S>) -> Self::Output
    where
        M: Trainable<B> + AutodiffModule<B>,
        M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
        S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
        F: Fn(&B::Device) -> M;
}

/// One split or file of a task's data, to evaluate or score.
pub enum TaskSource {
    /// Labelled images.
    Images(Arc<dyn DataSource>),
    /// Text windows.
    Text(Arc<TextWindows>),
    /// Table rows.
    Table(Arc<TableRows>),
}

impl TaskSource {
    /// What `eval --data PATH` scores: every labelled row (table) or window (text) of the file,
    /// read with a run's saved preprocessing or vocabulary; for images, the test files of the
    /// directory (its training files need not be there).
    pub fn whole_file(saved: &super::SavedModel<'_>, file: &Path) -> Result<Self, DataError> {
        let task = saved.task();
        // Another task's data says so, instead of failing to parse it as this task's.
        let wrong = |what: &str, want: &str| DataError::Mismatch {
            message: format!(
                "{}: {what}, but the checkpoint holds a {} model ({}) that reads {want}",
                file.display(),
                saved.state.model,
                task.name()
            ),
        };
        let shards = saved.config.data.format == DataFormat::Tokens;
        match (task.reads_one_file() && !shards, file.is_dir()) {
            (true, true) => return Err(wrong("is a directory", "one file (data.file)")),
            (false, false) if file.exists() => {
                return Err(wrong("is a file", "a directory of image files (data.dir)"));
            }
            _ => {}
        }
        Ok(match task {
            Task::Images => {
                let mut data = saved.config.data.clone();
                data.dir = file.to_path_buf();
                let classes = saved.image_classes()?;
                TaskSource::Images(load_test_images(&data, classes.as_deref())?)
            }
            Task::Table => {
                let rows = open_table_rows(file, saved.preprocessing()?)?;
                if !rows.labelled() {
                    return Err(DataError::Mismatch {
                        message: format!(
                            "{}: no `{}` column; eval needs labels (predict scores unlabelled rows)",
                            file.display(),
                            saved.config.data.label
                        ),
                    });
                }
                TaskSource::Table(Arc::new(rows))
            }
            Task::Text if shards => {
                let block = saved.config.model.gpt.block_size;
                let windows = open_token_windows(file, block, &saved.vocab()?)?;
                TaskSource::Text(Arc::new(windows))
            }
            Task::Text => {
                let block = saved.config.model.gpt.block_size;
                let windows = open_text_windows(file, block, saved.vocab()?)?;
                TaskSource::Text(Arc::new(windows))
            }
        })
    }
}

/// Parses the JSON asset `name`, if the checkpoint has it.
pub(super) fn saved_asset<T: serde::de::DeserializeOwned>(
    assets: Option<&Assets>,
    name: &str,
) -> Result<Option<T>, DataError> {
    let Some(bytes) = assets.and_then(|a| a.get(name)) else {
        return Ok(None);
    };
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| DataError::Mismatch {
            message: format!("the checkpoint's {name} is not valid: {e}"),
        })
}

/// One JSON asset for checkpoints.
fn asset<T: serde::Serialize>(name: &str, value: &T) -> Result<Assets, TrainError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| TrainError::Record {
        what: format!("encoding {name}"),
        cause: e.to_string(),
    })?;
    Ok(BTreeMap::from([(name.to_string(), bytes)]))
}
