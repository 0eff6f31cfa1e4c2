//! In-memory grayscale image datasets (IDX pairs) and index subsets of them.

use super::{DataError, DataSource, read_idx_images, read_idx_labels};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Pixel standardization: `(byte / 255 - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    /// Mean subtracted after scaling to [0, 1].
    pub mean: f32,
    /// Standard deviation divided by.
    pub std: f32,
}

/// Images and labels from one IDX pair, with a per-byte lookup table for normalization.
pub struct ImageDataset {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    shape: [usize; 3],
    num_classes: usize,
    table: [f32; 256],
}

impl ImageDataset {
    /// Opens `<dir>/<prefix>-images-idx3-ubyte[.gz]` and `<dir>/<prefix>-labels-idx1-ubyte[.gz]`.
    pub fn open(dir: &Path, prefix: &str, norm: Normalize) -> Result<Self, DataError> {
        let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        let images = read_idx_images(&images_path)?;
        let labels = read_idx_labels(&labels_path)?;
        if images.count != labels.len() {
            return Err(DataError::Mismatch {
                message: format!(
                    "{} holds {} images but {} holds {} labels",
                    images_path.display(),
                    images.count,
                    labels_path.display(),
                    labels.len()
                ),
            });
        }
        if images.count == 0 {
            return Err(DataError::Format {
                path: images_path,
                message: "holds no images".into(),
            });
        }
        Ok(Self::from_parts(
            images.pixels,
            labels,
            [1, images.rows, images.cols],
            norm,
        ))
    }

    /// Builds a dataset from raw bytes (`labels.len()` samples of `shape` bytes each).
    pub fn from_parts(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        shape: [usize; 3],
        norm: Normalize,
    ) -> Self {
        let num_classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut table = [0f32; 256];
        for (byte, slot) in table.iter_mut().enumerate() {
            *slot = (byte as f32 / 255.0 - norm.mean) / norm.std;
        }
        Self {
            pixels,
            labels,
            shape,
            num_classes,
            table,
        }
    }
}

impl ImageDataset {
    /// Images without labels (for prediction): every label reads as 0 and `num_classes` is 0.
    pub fn unlabelled(pixels: Vec<u8>, count: usize, shape: [usize; 3], norm: Normalize) -> Self {
        let mut d = Self::from_parts(pixels, vec![0; count], shape, norm);
        d.num_classes = 0;
        d
    }
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{stem}.gz"));
    let plain = dir.join(stem);
    [gz.clone(), plain]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::Io {
            path: gz,
            message: format!(
                "not found (nor without .gz); check data.dir = {:?}",
                dir.display().to_string()
            ),
        })
}

impl DataSource for ImageDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn feature_shape(&self) -> [usize; 3] {
        self.shape
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn read(&self, index: usize, out: &mut [f32]) -> usize {
        let n = out.len();
        let src = &self.pixels[index * n..(index + 1) * n];
        for (o, &b) in out.iter_mut().zip(src) {
            *o = self.table[b as usize];
        }
        self.labels[index] as usize
    }
}

/// A view of another source restricted to (and reordered by) a list of indices.
pub struct Subset<S: DataSource + ?Sized> {
    inner: Arc<S>,
    indices: Vec<usize>,
}

impl<S: DataSource + ?Sized> Subset<S> {
    /// The samples of `inner` at `indices`, in that order.
    pub fn new(inner: Arc<S>, indices: Vec<usize>) -> Self {
        Self { inner, indices }
    }
}

impl<S: DataSource + ?Sized> DataSource for Subset<S> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn feature_shape(&self) -> [usize; 3] {
        self.inner.feature_shape()
    }

    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }

    fn read(&self, index: usize, out: &mut [f32]) -> usize {
        self.inner.read(self.indices[index], out)
    }
}
