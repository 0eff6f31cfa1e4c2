//! Opening the train/validation/test splits of each data format.

use super::image::{check_class_indices, check_labels_below};
use super::{
    BatchSource, CifarDataset, DataError, DataSource, IdxDataset, Normalize, Subset, TableFile,
    TablePreprocessing, TableRows, TableSpec, TableSplits, TextCorpus, TextWindows, Vocab,
    open_image_folder_splits, open_image_folder_test, split_indices,
};
use crate::config::{DataConfig, DataFormat};
use std::path::Path;
use std::sync::Arc;

/// The three splits a run trains, validates and tests on (shared with loader threads); image
/// sources by default.
pub struct Splits<S: ?Sized = dyn DataSource> {
    /// Training samples.
    pub train: Arc<S>,
    /// Held-out validation samples (may be empty).
    pub valid: Arc<S>,
    /// Test samples.
    pub test: Arc<S>,
}

impl<S: ?Sized> Clone for Splits<S> {
    fn clone(&self) -> Self {
        Splits {
            train: self.train.clone(),
            valid: self.valid.clone(),
            test: self.test.clone(),
        }
    }
}

/// The test files of an image directory alone (`t10k-*` for IDX, `test_batch.bin` for
/// CIFAR-10, `test/` or the class folders of an image folder, which must hold `classes`):
/// what `eval --data DIR` scores, so a directory of only the test files will do (the command
/// checks their labels against the model).
pub fn load_test_images(
    cfg: &DataConfig,
    classes: Option<&[String]>,
) -> Result<Arc<dyn DataSource>, DataError> {
    let norm = Normalize {
        mean: cfg.normalize_mean as f32,
        std: cfg.normalize_std as f32,
    };
    match cfg.format {
        DataFormat::Idx => Ok(Arc::new(IdxDataset::open(&cfg.dir, "t10k", norm)?)),
        DataFormat::Cifar10 => Ok(Arc::new(CifarDataset::open_test(&cfg.dir, norm)?)),
        DataFormat::ImageFolder => open_image_folder_test(cfg, classes),
        DataFormat::Text | DataFormat::Csv | DataFormat::Parquet | DataFormat::Tokens => {
            Err(DataError::Mismatch {
                message: format!(
                    "data.format = \"{}\" holds no images; expected \"idx\", \"cifar10\" or \"image-folder\" here",
                    cfg.format.name()
                ),
            })
        }
    }
}

/// Opens the train/validation/test splits described by `[data]` (file-backed: pixels are read
/// from disk, and image files decoded, as batches are assembled).
pub fn load_splits(cfg: &DataConfig, seed: u64) -> Result<Splits, DataError> {
    let norm = Normalize {
        mean: cfg.normalize_mean as f32,
        std: cfg.normalize_std as f32,
    };
    let (train, test): (Arc<dyn DataSource>, Arc<dyn DataSource>) = match cfg.format {
        DataFormat::Idx => {
            let train = IdxDataset::open(&cfg.dir, "train", norm)?;
            check_class_indices(train.labels_path(), train.labels())?;
            let test = IdxDataset::open(&cfg.dir, "t10k", norm)?;
            check_labels_below(test.labels_path(), test.labels(), train.num_classes())?;
            (Arc::new(train), Arc::new(test))
        }
        DataFormat::Cifar10 => (
            Arc::new(CifarDataset::open_train(&cfg.dir, norm)?),
            Arc::new(CifarDataset::open_test(&cfg.dir, norm)?),
        ),
        DataFormat::ImageFolder => return open_image_folder_splits(cfg, seed),
        DataFormat::Text | DataFormat::Csv | DataFormat::Parquet | DataFormat::Tokens => {
            return Err(DataError::Mismatch {
                message: format!(
                    "data.format = \"{}\" holds no images; expected \"idx\", \"cifar10\" or \"image-folder\" here",
                    cfg.format.name()
                ),
            });
        }
    };
    if train.feature_shape() != test.feature_shape() {
        return Err(DataError::Mismatch {
            message: format!(
                "{}: train samples are {:?} but test samples are {:?}",
                cfg.dir.display(),
                train.feature_shape(),
                test.feature_shape()
            ),
        });
    }
    let (train_idx, valid_idx) = split_indices(train.len(), cfg.validation_fraction, seed);
    Ok(Splits {
        train: Arc::new(Subset::new(train.clone(), train_idx)),
        valid: Arc::new(Subset::new(train, valid_idx)),
        test,
    })
}

/// Opens `data.file` as a character-level corpus: the last `validation_fraction` and
/// `test_fraction` of the text are held out; training windows of `window` tokens start every
/// `data.stride` tokens (0: every `window`), evaluation windows never overlap. With `vocab`
/// given (a checkpoint's), it is used instead of the one read from the training text.
pub fn load_text_splits(
    cfg: &DataConfig,
    window: usize,
    vocab: Option<Vocab>,
) -> Result<(Splits<TextWindows>, Vocab), DataError> {
    let corpus = TextCorpus::open(&cfg.file, cfg.validation_fraction, cfg.test_fraction, vocab)?;
    let stride = if cfg.stride == 0 { window } else { cfg.stride };
    let splits = Splits {
        train: Arc::new(corpus.windows(corpus.train.clone(), window, stride)),
        valid: Arc::new(corpus.windows(corpus.valid.clone(), window, window)),
        test: Arc::new(corpus.windows(corpus.test.clone(), window, window)),
    };
    if splits.train.is_empty() {
        return Err(DataError::Format {
            path: cfg.file.clone(),
            message: format!(
                "the training text ({} characters) is shorter than one window of {window} + 1",
                corpus.train.len()
            ),
        });
    }
    Ok((splits, corpus.vocab))
}

/// Opens `data.file` as a table labelled by `data.label` (classes or values, per `data.task`), with the
/// standardization fitted on the training rows, or a run's `saved` one used as it is.
pub fn load_table_splits(
    cfg: &DataConfig,
    seed: u64,
    saved: Option<TablePreprocessing>,
) -> Result<(Splits<TableRows>, Arc<TablePreprocessing>), DataError> {
    let spec = TableSpec {
        label: cfg.label.clone(),
        task: cfg.task,
        features: cfg.features.clone(),
    };
    let parquet = super::is_parquet(&cfg.file);
    let wrong = match (cfg.format, parquet) {
        (DataFormat::Csv, true) => Some("a Parquet table; set data.format = \"parquet\""),
        (DataFormat::Parquet, false) if cfg.file.exists() => Some(
            "not a Parquet file (no PAR1 magic) nor a directory of *.parquet parts, as data.format = \"parquet\" expects",
        ),
        _ => None,
    };
    if let Some(message) = wrong {
        return Err(DataError::Format {
            path: cfg.file.clone(),
            message: message.into(),
        });
    }
    let fractions = (cfg.validation_fraction, cfg.test_fraction);
    let t = TableSplits::open_with(&cfg.file, &spec, fractions, seed, saved)?;
    let splits = Splits {
        train: Arc::new(t.train),
        valid: Arc::new(t.valid),
        test: Arc::new(t.test),
    };
    Ok((splits, t.preprocessing))
}

/// Every row of the table at `path`, read with a run's saved feature columns, classes and
/// standardization; the label column may be absent (a file to score).
pub fn open_table_rows(path: &Path, prep: TablePreprocessing) -> Result<TableRows, DataError> {
    let spec = TableSpec {
        label: prep.label.clone(),
        task: prep.task,
        features: prep.features.clone(),
    };
    let table = TableFile::open(path, &spec, Some(&prep.classes))?;
    let rows = (0..table.rows() as u32).collect();
    Ok(TableRows::new(Arc::new(table), rows, Arc::new(prep)))
}

/// Every non-overlapping `window` of the text at `path`, with a run's vocabulary.
pub fn open_text_windows(
    path: &Path,
    window: usize,
    vocab: Vocab,
) -> Result<TextWindows, DataError> {
    let corpus = TextCorpus::open(path, 0.0, 0.0, Some(vocab))?;
    Ok(corpus.windows(0..corpus.tokens, window, window))
}
