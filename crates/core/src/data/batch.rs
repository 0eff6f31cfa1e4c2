//! Host-side batch assembly (plain `Vec`s; the training loop uploads them).

use super::{DataError, DataSource};

/// One batch in host memory: features `[len, c, h, w]` flattened, and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// Row-major features, `len * c * h * w` values.
    pub features: Vec<f32>,
    /// One label per sample.
    pub labels: Vec<i64>,
    /// Shape of one sample.
    pub sample_shape: [usize; 3],
}

impl HostBatch {
    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True for a batch with no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Anything that knows how many samples it holds (throughput is counted with it).
pub trait Samples {
    /// Number of samples (windows for text, rows for tables, images for images).
    fn samples(&self) -> usize;

    /// The samples in `range` (of `0..samples()`), in order, as a batch of their own (data
    /// parallel training splits each batch across devices with it).
    fn slice(&self, range: std::ops::Range<usize>) -> Self
    where
        Self: Sized;
}

impl Samples for HostBatch {
    fn samples(&self) -> usize {
        self.len()
    }

    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        let per: usize = self.sample_shape.iter().product();
        HostBatch {
            features: self.features[range.start * per..range.end * per].to_vec(),
            labels: self.labels[range].to_vec(),
            sample_shape: self.sample_shape,
        }
    }
}

/// Reads the samples at `indices` of `source` into a new batch.
pub fn fill_batch(source: &dyn DataSource, indices: &[u32]) -> Result<HostBatch, DataError> {
    let sample_shape = source.feature_shape();
    let per: usize = sample_shape.iter().product();
    let mut features = vec![0f32; per * indices.len()];
    let labels = indices
        .iter()
        .zip(features.chunks_exact_mut(per))
        .map(|(&i, out)| source.read(i as usize, out).map(|l| l as i64))
        .collect::<Result<_, _>>()?;
    Ok(HostBatch {
        features,
        labels,
        sample_shape,
    })
}
