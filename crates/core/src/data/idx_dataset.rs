//! File-backed image dataset from an IDX pair: pixels stay on disk and are read per sample;
//! only the labels (one byte a sample) are held in memory.

use super::image::{PixelTable, classes_in};
use super::{DataError, DataSource, IdxFile, IdxKind, Normalize};
use std::path::{Path, PathBuf};

/// Images and labels from `<dir>/<prefix>-images-idx3-ubyte[.gz]` and
/// `<dir>/<prefix>-labels-idx1-ubyte[.gz]`.
pub struct IdxDataset {
    images: IdxFile,
    labels: Vec<u8>,
    labels_path: PathBuf,
    shape: [usize; 3],
    num_classes: usize,
    table: PixelTable,
}

impl IdxDataset {
    /// Opens and validates both files (headers, sizes, matching counts).
    pub fn open(dir: &Path, prefix: &str, norm: Normalize) -> Result<Self, DataError> {
        let images = IdxFile::open(
            &find(dir, &format!("{prefix}-images-idx3-ubyte"))?,
            IdxKind::Images,
        )?;
        let labels_file = IdxFile::open(
            &find(dir, &format!("{prefix}-labels-idx1-ubyte"))?,
            IdxKind::Labels,
        )?;
        if images.count() != labels_file.count() {
            return Err(DataError::Mismatch {
                message: format!(
                    "{} holds {} images but {} holds {} labels",
                    images.path().display(),
                    images.count(),
                    labels_file.path().display(),
                    labels_file.count()
                ),
            });
        }
        if images.count() == 0 {
            return Err(DataError::Format {
                path: images.path().to_path_buf(),
                message: "holds no images".into(),
            });
        }
        let labels = labels_file.read_all()?;
        let num_classes = classes_in(&labels);
        let shape = [1, images.item_dims()[0], images.item_dims()[1]];
        Ok(Self {
            images,
            labels,
            labels_path: labels_file.path().to_path_buf(),
            shape,
            num_classes,
            table: norm.table(),
        })
    }

    /// The labels, one per sample.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The label file.
    pub fn labels_path(&self) -> &Path {
        &self.labels_path
    }
}

/// `<dir>/<stem>.gz`, else `<dir>/<stem>`.
pub(super) fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{stem}.gz"));
    let plain = dir.join(stem);
    [gz.clone(), plain]
        .into_iter()
        // Present at all (a FIFO or directory there is reported as such when opened).
        .find(|p| std::fs::metadata(p).is_ok())
        .ok_or_else(|| DataError::Io {
            path: gz,
            message: format!(
                "not found (nor without .gz); check data.dir = {:?}",
                dir.display().to_string()
            ),
        })
}

impl DataSource for IdxDataset {
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
        let mut bytes = vec![0u8; out.len()];
        self.images.read_items(index, &mut bytes)?;
        self.table.fill(&bytes, out);
        Ok(self.labels[index] as usize)
    }
}
