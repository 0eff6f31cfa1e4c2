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
    fill_batch_with(source, indices, |i, out| source.read(i, out))
}

/// Assembles a batch of `source`'s shape from `read(index, out) -> label` per sample.
pub(super) fn fill_batch_with(
    source: &dyn DataSource,
    indices: &[u32],
    read: impl Fn(usize, &mut [f32]) -> Result<usize, DataError>,
) -> Result<HostBatch, DataError> {
    let sample_shape = source.feature_shape();
    let per: usize = sample_shape.iter().product();
    let mut features = vec![0f32; per * indices.len()];
    let mut labels = Vec::with_capacity(indices.len());
    let mut last_skipped = None;
    for &i in indices {
        let slot = &mut features[labels.len() * per..(labels.len() + 1) * per];
        match read(i as usize, slot) {
            Ok(label) => labels.push(label as i64),
            // Left out: the next sample takes its slot.
            Err(e @ DataError::Skipped { .. }) => last_skipped = Some(e),
            Err(e) => return Err(e),
        }
    }
    if let (true, Some(e)) = (labels.is_empty(), last_skipped) {
        return Err(DataError::Mismatch {
            message: format!("every sample of a batch was skipped as unreadable; the last: {e}"),
        });
    }
    features.truncate(labels.len() * per);
    Ok(HostBatch {
        features,
        labels,
        sample_shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 4 samples of 2 values each; odd indices are unreadable and skipped.
    struct HalfBroken;

    impl DataSource for HalfBroken {
        fn len(&self) -> usize {
            4
        }
        fn feature_shape(&self) -> [usize; 3] {
            [1, 1, 2]
        }
        fn num_classes(&self) -> usize {
            2
        }
        fn read(&self, index: usize, out: &mut [f32]) -> Result<usize, DataError> {
            if index % 2 == 1 {
                return Err(DataError::Skipped {
                    path: format!("{index}.png").into(),
                    message: "truncated".into(),
                });
            }
            out.fill(index as f32);
            Ok(index / 2)
        }
    }

    #[test]
    fn skipped_samples_are_left_out_and_a_batch_of_only_those_is_an_error() {
        let b = fill_batch(&HalfBroken, &[3, 2, 1, 0]).unwrap();
        assert_eq!(b.labels, [1, 0]);
        assert_eq!(b.features, [2.0, 2.0, 0.0, 0.0]);
        let e = fill_batch(&HalfBroken, &[1, 3]).unwrap_err().to_string();
        assert!(
            e.contains("every sample of a batch was skipped") && e.contains("3.png"),
            "{e}"
        );
    }
}
