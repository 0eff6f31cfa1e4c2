//! Datasets behind small ports (`DataSource`, `BatchSource`), file-backed readers (IDX,
//! CIFAR-10, CSV tables, character-level text), splits, the deterministic batch order and the streaming loader.

mod batch;
mod cache;
mod cifar;
mod csv_rows;
mod error;
mod idx;
mod idx_dataset;
mod image;
mod inspect;
mod json_file;
mod loader;
mod order;
mod positional;
mod source;
mod subset;
mod table;
mod text;

pub use batch::{HostBatch, fill_batch};
pub use cache::{CACHE_DIR_ENV, cache_dir, decompressed, is_gzip};
pub use cifar::CifarDataset;
pub use error::DataError;
pub use idx::{IdxFile, IdxImages, IdxKind, read_idx_images, read_idx_labels};
pub use idx_dataset::IdxDataset;
pub use image::{InMemoryImages, Normalize, PixelTable};
pub use inspect::{Inspection, inspect};
pub use loader::{BatchList, Cursor, EpochPlan, Loader, LoaderSettings};
pub use order::{batches_per_epoch, epoch_order, split_indices};
pub use positional::PositionalFile;
pub use source::{BatchSource, DataSource};
pub use subset::Subset;
pub use table::{
    PREPROCESSING_FILE, TableBatch, TableFile, TablePreprocessing, TableRows, TableSpec,
    TableSplits, TableTargets, TableTask,
};
pub use text::{TextCorpus, TextWindows, TokenBatch, VOCAB_FILE, Vocab};

use crate::config::{DataConfig, DataFormat};
use std::sync::Arc;

/// The three splits a run trains, validates and tests on (shared with loader threads).
pub struct Splits {
    /// Training samples.
    pub train: Arc<dyn DataSource>,
    /// Held-out validation samples (may be empty).
    pub valid: Arc<dyn DataSource>,
    /// Test samples.
    pub test: Arc<dyn DataSource>,
}

/// Opens the train/validation/test splits described by `[data]` (file-backed: pixels are read
/// from disk as batches are assembled).
pub fn load_splits(cfg: &DataConfig, seed: u64) -> Result<Splits, DataError> {
    let norm = Normalize {
        mean: cfg.normalize_mean as f32,
        std: cfg.normalize_std as f32,
    };
    let (train, test): (Arc<dyn DataSource>, Arc<dyn DataSource>) = match cfg.format {
        DataFormat::Idx => (
            Arc::new(IdxDataset::open(&cfg.dir, "train", norm)?),
            Arc::new(IdxDataset::open(&cfg.dir, "t10k", norm)?),
        ),
        DataFormat::Cifar10 => (
            Arc::new(CifarDataset::open_train(&cfg.dir, norm)?),
            Arc::new(CifarDataset::open_test(&cfg.dir, norm)?),
        ),
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
