//! CIFAR-10 binary batches (`data_batch_1.bin` ... `data_batch_5.bin`, `test_batch.bin`),
//! file-backed: each record is one label byte then 3x32x32 pixel bytes (R, G, B planes, rows
//! in order), which is already the `[c, h, w]` layout. Labels are held in memory; pixels are
//! read per sample.

use super::image::PixelTable;
use super::{DataError, DataSource, Normalize, PositionalFile};
use std::path::Path;

/// Samples per image: 3 channels of 32x32.
const SHAPE: [usize; 3] = [3, 32, 32];
/// Bytes per record: the label, then the pixels.
const RECORD: usize = 1 + 3 * 32 * 32;
/// CIFAR-10 has ten classes.
const CLASSES: usize = 10;
/// Records whose labels are read per request when scanning a file.
const LABEL_CHUNK: usize = 1024;

/// One or more CIFAR-10 binary batch files, concatenated.
pub struct CifarDataset {
    files: Vec<PositionalFile>,
    /// Index of the first sample of each file, plus the total at the end.
    starts: Vec<usize>,
    labels: Vec<u8>,
    table: PixelTable,
}

impl CifarDataset {
    /// The training files `data_batch_*.bin` of `dir`, in name order.
    pub fn open_train(dir: &Path, norm: Normalize) -> Result<Self, DataError> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| DataError::Io {
                path: dir.to_path_buf(),
                message: format!("cannot list the CIFAR-10 directory (data.dir): {e}"),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("data_batch_") && n.ends_with(".bin"))
            })
            .collect();
        names.sort();
        if names.is_empty() {
            return Err(DataError::Io {
                path: dir.join("data_batch_1.bin"),
                message: "no data_batch_*.bin files found; check data.dir (trainer data fetch cifar10 downloads them)".into(),
            });
        }
        Self::open(&names, norm)
    }

    /// The test file `test_batch.bin` of `dir`.
    pub fn open_test(dir: &Path, norm: Normalize) -> Result<Self, DataError> {
        Self::open(&[dir.join("test_batch.bin")], norm)
    }

    /// The given batch files, in order; validates sizes and every label.
    pub fn open(paths: &[impl AsRef<Path>], norm: Normalize) -> Result<Self, DataError> {
        let (mut files, mut starts, mut labels) = (Vec::new(), vec![0], Vec::new());
        for path in paths {
            let path = path.as_ref();
            let file = PositionalFile::open(path)?;
            let fmt = |message: String| DataError::Format {
                path: path.to_path_buf(),
                message,
            };
            if file.is_empty() {
                return Err(fmt("empty file, expected CIFAR-10 binary records".into()));
            }
            if file.len() % RECORD as u64 != 0 {
                return Err(fmt(format!(
                    "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (truncated after record {})",
                    file.len(),
                    file.len() / RECORD as u64
                )));
            }
            let count = (file.len() / RECORD as u64) as usize;
            let mut chunk = vec![0u8; LABEL_CHUNK * RECORD];
            for first in (0..count).step_by(LABEL_CHUNK) {
                let n = LABEL_CHUNK.min(count - first);
                file.read_exact_at(&mut chunk[..n * RECORD], (first * RECORD) as u64)?;
                for r in 0..n {
                    let label = chunk[r * RECORD];
                    if label as usize >= CLASSES {
                        return Err(fmt(format!(
                            "record {}: label {label} is not a CIFAR-10 class (0-9)",
                            first + r
                        )));
                    }
                    labels.push(label);
                }
            }
            starts.push(starts[starts.len() - 1] + count);
            files.push(file);
        }
        Ok(Self {
            files,
            starts,
            labels,
            table: norm.table(),
        })
    }
}

impl CifarDataset {
    /// The labels, one per sample.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
}

impl DataSource for CifarDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn feature_shape(&self) -> [usize; 3] {
        SHAPE
    }

    fn num_classes(&self) -> usize {
        CLASSES
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize, DataError> {
        // The file holding `index`: the last one starting at or before it.
        let f = self.starts.partition_point(|&s| s <= index) - 1;
        let mut bytes = vec![0u8; RECORD - 1];
        let offset = ((index - self.starts[f]) * RECORD + 1) as u64;
        self.files[f].read_exact_at(&mut bytes, offset)?;
        self.table.fill(&bytes, out);
        Ok(self.labels[index] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Normalize = Normalize {
        mean: 0.0,
        std: 1.0,
    };

    fn record(label: u8, fill: u8) -> Vec<u8> {
        let mut r = vec![label];
        r.extend((0..RECORD - 1).map(|i| fill.wrapping_add((i % 7) as u8)));
        r
    }

    #[test]
    fn reads_records_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("data_batch_1.bin");
        let b = dir.path().join("data_batch_2.bin");
        std::fs::write(&a, [record(3, 10), record(9, 20)].concat()).unwrap();
        std::fs::write(&b, record(0, 30)).unwrap();
        let d = CifarDataset::open_train(dir.path(), PLAIN).unwrap();
        assert_eq!(DataSource::len(&d), 3);
        let mut out = vec![0f32; 3072];
        assert_eq!(d.read(1, &mut out).unwrap(), 9);
        assert_eq!(out[0], 20.0 / 255.0);
        assert_eq!(d.read(2, &mut out).unwrap(), 0);
        assert_eq!(out[3071], (30 + (3071 % 7)) as f32 / 255.0);
    }

    #[test]
    fn bad_files_name_the_file_and_record() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("test_batch.bin");
        std::fs::write(&p, [record(1, 0), record(11, 0)].concat()).unwrap();
        let e = CifarDataset::open_test(dir.path(), PLAIN)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("record 1: label 11"),
            "{e}"
        );
        std::fs::write(&p, &record(1, 0)[..100]).unwrap();
        let e = CifarDataset::open_test(dir.path(), PLAIN)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a whole number"), "{e}");
        let e = CifarDataset::open_train(dir.path(), PLAIN)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("data_batch_1.bin") && e.contains("data.dir"),
            "{e}"
        );
    }
}
