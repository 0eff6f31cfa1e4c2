//! Pixel normalization and the in-memory image dataset (for inputs small enough to hold, such
//! as a file handed to `trainer predict`).

use super::{DataError, DataSource};
use std::path::Path;

/// Pixel standardization: `(byte / 255 - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    /// Mean subtracted after scaling to [0, 1].
    pub mean: f32,
    /// Standard deviation divided by.
    pub std: f32,
}

impl Normalize {
    /// The normalized value of every byte, for a lookup per pixel.
    pub fn table(&self) -> PixelTable {
        let mut table = [0f32; 256];
        for (byte, slot) in table.iter_mut().enumerate() {
            *slot = (byte as f32 / 255.0 - self.mean) / self.std;
        }
        PixelTable(table)
    }
}

/// Normalized value per pixel byte (built by `Normalize::table`).
#[derive(Debug, Clone)]
pub struct PixelTable([f32; 256]);

impl PixelTable {
    /// Writes the normalized value of each byte of `pixels` into `out`.
    pub fn fill(&self, pixels: &[u8], out: &mut [f32]) {
        for (o, &b) in out.iter_mut().zip(pixels) {
            *o = self.0[b as usize];
        }
    }
}

/// Checks that training labels are class indices 0..K-1 with every class present: one stray
/// large label (a corrupt byte) would otherwise silently add classes to the model.
pub fn check_class_indices(path: &Path, labels: &[u8]) -> Result<(), DataError> {
    let mut counts = [0usize; 256];
    for &l in labels {
        counts[l as usize] += 1;
    }
    let classes = classes_in(labels);
    if let Some(missing) = (0..classes).find(|&c| counts[c] == 0) {
        let largest = classes - 1;
        let at = labels
            .iter()
            .position(|&l| l as usize == largest)
            .unwrap_or(0);
        return Err(DataError::Format {
            path: path.to_path_buf(),
            message: format!(
                "item {at} has label {largest} but no item has label {missing}: labels must be class indices 0..K-1 with every class present (a corrupt label byte?)"
            ),
        });
    }
    Ok(())
}

/// Checks that every label is below `classes` (the training labels' class count).
pub fn check_labels_below(path: &Path, labels: &[u8], classes: usize) -> Result<(), DataError> {
    match labels.iter().position(|&l| l as usize >= classes) {
        Some(i) => Err(DataError::Format {
            path: path.to_path_buf(),
            message: format!(
                "item {i} has label {} but the model's classes are 0..{}",
                labels[i],
                classes.saturating_sub(1)
            ),
        }),
        None => Ok(()),
    }
}

/// Number of classes a list of byte labels implies: the largest label plus one (0 when empty).
pub fn classes_in(labels: &[u8]) -> usize {
    labels.iter().copied().max().map_or(0, |m| m as usize + 1)
}

/// Images and labels held in memory.
pub struct InMemoryImages {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    shape: [usize; 3],
    num_classes: usize,
    table: PixelTable,
}

impl InMemoryImages {
    /// Builds a dataset from raw bytes (`labels.len()` samples of `shape` bytes each).
    pub fn from_parts(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        shape: [usize; 3],
        norm: Normalize,
    ) -> Self {
        let num_classes = classes_in(&labels);
        Self {
            pixels,
            labels,
            shape,
            num_classes,
            table: norm.table(),
        }
    }

    /// Images without labels (for prediction): every label reads as 0 and `num_classes` is 0.
    pub fn unlabelled(pixels: Vec<u8>, count: usize, shape: [usize; 3], norm: Normalize) -> Self {
        let mut d = Self::from_parts(pixels, vec![0; count], shape, norm);
        d.num_classes = 0;
        d
    }
}

impl DataSource for InMemoryImages {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn feature_shape(&self) -> [usize; 3] {
        self.shape
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize, DataError> {
        let n = out.len();
        self.table
            .fill(&self.pixels[index * n..(index + 1) * n], out);
        Ok(self.labels[index] as usize)
    }
}
