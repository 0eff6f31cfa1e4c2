//! The data ports: `DataSource` (labelled samples read by index) and `BatchSource` (whole
//! batches of any kind, which is what the streaming loader moves between threads).

use super::batch::fill_batch_with;
use super::{DataError, HostBatch, fill_batch};

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
    /// and returns its label; file-backed sources fail with the file and position.
    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize, DataError>;

    /// Reads sample `index` for training epoch `epoch`: sources with random augmentation draw
    /// it per (seed, epoch, sample) here; the default reads it as `read` does.
    fn read_for_epoch(
        &self,
        index: usize,
        epoch: usize,
        out: &mut [f32],
    ) -> Result<usize, DataError> {
        let _ = epoch;
        self.read(index, out)
    }

    /// The class names, index = label, when the data has them (an image folder's folders).
    fn class_names(&self) -> Option<Vec<String>> {
        None
    }

    /// Each sample's name (an image file's path), when samples are files of their own.
    fn sample_names(&self) -> Option<Vec<String>> {
        None
    }

    /// The samples left out as unreadable so far (`data.bad_samples = "skip"`), each as
    /// `path: why`.
    fn skipped(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Anything that assembles a batch from sample indices; the loader's workers call it.
pub trait BatchSource: Send + Sync {
    /// What one batch is (host memory, ready to upload).
    type Batch: Send + 'static;
    /// Number of samples.
    fn len(&self) -> usize;
    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads the samples at `indices`, in that order.
    fn read_batch(&self, indices: &[u32]) -> Result<Self::Batch, DataError>;

    /// Reads the samples at `indices` for training epoch `epoch` (what the loader calls for
    /// training batches, so augmentation can depend on the epoch); defaults to `read_batch`.
    fn read_epoch_batch(&self, indices: &[u32], epoch: usize) -> Result<Self::Batch, DataError> {
        let _ = epoch;
        self.read_batch(indices)
    }

    /// The samples left out as unreadable so far, each as `path: why` (none by default).
    fn skipped(&self) -> Vec<String> {
        Vec::new()
    }

    /// Bytes of UTF-8 text per scored row, where known (text: per token), so a language
    /// model's loss also reads as bits per byte; None by default.
    fn bytes_per_row(&self) -> Option<f64> {
        None
    }
}

impl BatchSource for dyn DataSource {
    type Batch = HostBatch;

    fn len(&self) -> usize {
        DataSource::len(self)
    }

    fn read_batch(&self, indices: &[u32]) -> Result<HostBatch, DataError> {
        fill_batch(self, indices)
    }

    fn read_epoch_batch(&self, indices: &[u32], epoch: usize) -> Result<HostBatch, DataError> {
        fill_batch_with(self, indices, |i, out| self.read_for_epoch(i, epoch, out))
    }

    fn skipped(&self) -> Vec<String> {
        DataSource::skipped(self)
    }
}
