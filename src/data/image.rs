//! Pixel normalization and the in-memory image dataset (for inputs small enough to hold, such
//! as a file handed to `trainer predict`).

use super::{DataError, DataSource};

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
    pub fn table(&self) -> [f32; 256] {
        let mut table = [0f32; 256];
        for (byte, slot) in table.iter_mut().enumerate() {
            *slot = (byte as f32 / 255.0 - self.mean) / self.std;
        }
        table
    }
}

/// Images and labels held in memory.
pub struct InMemoryImages {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    shape: [usize; 3],
    num_classes: usize,
    table: [f32; 256],
}

impl InMemoryImages {
    /// Builds a dataset from raw bytes (`labels.len()` samples of `shape` bytes each).
    pub fn from_parts(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        shape: [usize; 3],
        norm: Normalize,
    ) -> Self {
        let num_classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
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
        let src = &self.pixels[index * n..(index + 1) * n];
        for (o, &b) in out.iter_mut().zip(src) {
            *o = self.table[b as usize];
        }
        Ok(self.labels[index] as usize)
    }
}
