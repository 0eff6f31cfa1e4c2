//! Datasets behind a small port (`DataSource`), the IDX reader, splits and batch order.

mod batch;
mod error;
mod idx;
mod image;
mod order;

pub use batch::{HostBatch, fill_batch};
pub use error::DataError;
pub use idx::{IdxImages, read_idx_images, read_idx_labels};
pub use image::{ImageDataset, Normalize, Subset};
pub use order::{epoch_order, split_indices};

use crate::config::DataConfig;

/// A labelled dataset the training loop can read samples from by index.
pub trait DataSource: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;
    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Shape of one sample's features, e.g. `[1, 28, 28]`.
    fn feature_shape(&self) -> [usize; 3];
    /// Number of classes (labels are in `0..num_classes`).
    fn num_classes(&self) -> usize;
    /// Writes sample `index`'s features into `out` (length = product of `feature_shape`)
    /// and returns its label.
    fn read(&self, index: usize, out: &mut [f32]) -> usize;
}

/// The three splits a run trains, validates and tests on.
pub struct Splits {
    /// Training samples.
    pub train: Box<dyn DataSource>,
    /// Held-out validation samples (may be empty).
    pub valid: Box<dyn DataSource>,
    /// Test samples.
    pub test: Box<dyn DataSource>,
}

/// Loads the train/validation/test splits described by `[data]`.
pub fn load_splits(cfg: &DataConfig, seed: u64) -> Result<Splits, DataError> {
    let norm = Normalize {
        mean: cfg.normalize_mean as f32,
        std: cfg.normalize_std as f32,
    };
    let train = ImageDataset::open(&cfg.dir, "train", norm)?;
    let test = ImageDataset::open(&cfg.dir, "t10k", norm)?;
    if train.feature_shape() != test.feature_shape() {
        return Err(DataError::Mismatch {
            message: format!(
                "{}: train images are {:?} but test images are {:?}",
                cfg.dir.display(),
                train.feature_shape(),
                test.feature_shape()
            ),
        });
    }
    let (train_idx, valid_idx) = split_indices(train.len(), cfg.validation_fraction, seed);
    let train = std::sync::Arc::new(train);
    Ok(Splits {
        train: Box::new(Subset::new(train.clone(), train_idx)),
        valid: Box::new(Subset::new(train, valid_idx)),
        test: Box::new(test),
    })
}
