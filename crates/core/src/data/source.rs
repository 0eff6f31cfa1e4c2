//! The data ports: `DataSource` (labelled samples read by index) and `BatchSource` (whole
//! batches of any kind, which is what the streaming loader moves between threads).

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
}

impl BatchSource for dyn DataSource {
    type Batch = HostBatch;

    fn len(&self) -> usize {
        DataSource::len(self)
    }

    fn read_batch(&self, indices: &[u32]) -> Result<HostBatch, DataError> {
        fill_batch(self, indices)
    }
}
