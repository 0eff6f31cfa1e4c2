//! IDX files (the MNIST format), gzipped or plain, read from disk by offset.
//!
//! Layout: big-endian u32 magic (0x00000803 images, 0x00000801 labels), then one big-endian
//! u32 per dimension, then the unsigned bytes. A gzipped file is decompressed once into the
//! data cache (`cache.rs`) and read from there; errors still name the file the user gave.

use super::{DataError, PositionalFile, cache};
use std::path::{Path, PathBuf};

/// Which IDX file: images (3 dimensions) or labels (1 dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    /// `idx3-ubyte`: count, rows, cols.
    Images,
    /// `idx1-ubyte`: count.
    Labels,
}

impl IdxKind {
    fn magic(self) -> u32 {
        match self {
            Self::Images => 0x0000_0803,
            Self::Labels => 0x0000_0801,
        }
    }

    fn dims(self) -> usize {
        match self {
            Self::Images => 3,
            Self::Labels => 1,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Images => "images (idx3)",
            Self::Labels => "labels (idx1)",
        }
    }
}

/// An IDX file checked against its header (magic, size) and open for reads by item.
#[derive(Debug)]
pub struct IdxFile {
    source: PathBuf,
    file: PositionalFile,
    dims: Vec<usize>,
    data_offset: u64,
}

impl IdxFile {
    /// Opens `path` (decompressing a gzipped file into the cache once) and validates it.
    pub fn open(path: &Path, kind: IdxKind) -> Result<Self, DataError> {
        let file = PositionalFile::open(&cache::decompressed(path)?)?;
        let data_offset = 4 + 4 * kind.dims() as u64;
        let fmt = |message: String| DataError::Format {
            path: path.to_path_buf(),
            message,
        };
        let mut head = vec![0u8; data_offset as usize];
        let available = file.len().min(data_offset) as usize;
        file.read_exact_at(&mut head[..available], 0)?;
        let word = |i: usize| {
            u32::from_be_bytes([
                head[4 * i],
                head[4 * i + 1],
                head[4 * i + 2],
                head[4 * i + 3],
            ])
        };
        if file.is_empty() {
            return Err(fmt(format!("empty file, expected IDX {}", kind.what())));
        }
        if available >= 4 && word(0) != kind.magic() {
            return Err(fmt(format!(
                "wrong magic number 0x{:08x}, expected 0x{:08x} for IDX {}",
                word(0),
                kind.magic(),
                kind.what()
            )));
        }
        if available < data_offset as usize {
            return Err(fmt(format!(
                "file is {} bytes, too short for an IDX {} header ({data_offset} bytes)",
                file.len(),
                kind.what()
            )));
        }
        let dims: Vec<usize> = (1..=kind.dims()).map(|i| word(i) as usize).collect();
        if dims[1..].contains(&0) {
            return Err(fmt(format!("item size {:?} is empty", &dims[1..])));
        }
        let expected = dims.iter().product::<usize>() as u64;
        let found = file.len() - data_offset;
        if found != expected {
            let what = if found < expected {
                "truncated"
            } else {
                "has trailing bytes"
            };
            return Err(fmt(format!(
                "{what}: header promises {expected} data bytes, file has {found}"
            )));
        }
        Ok(Self {
            source: path.to_path_buf(),
            file,
            dims,
            data_offset,
        })
    }

    /// The path the user gave (the `.gz` for gzipped input).
    pub fn path(&self) -> &Path {
        &self.source
    }

    /// Number of items (images or labels).
    pub fn count(&self) -> usize {
        self.dims[0]
    }

    /// Dimensions after the count (`[rows, cols]` for images, empty for labels).
    pub fn item_dims(&self) -> &[usize] {
        &self.dims[1..]
    }

    /// Bytes per item.
    pub fn item_size(&self) -> usize {
        self.item_dims().iter().product()
    }

    /// Reads `out.len() / item_size` items starting at item `first`.
    pub fn read_items(&self, first: usize, out: &mut [u8]) -> Result<(), DataError> {
        let offset = self.data_offset + (first * self.item_size()) as u64;
        self.file.read_exact_at(out, offset)
    }

    /// Reads every item.
    pub fn read_all(&self) -> Result<Vec<u8>, DataError> {
        let mut out = vec![0u8; self.count() * self.item_size()];
        self.read_items(0, &mut out)?;
        Ok(out)
    }
}

/// Decoded image file: `count` images of `rows x cols` bytes.
#[derive(Debug, Clone)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// `count * rows * cols` pixel bytes, row-major.
    pub pixels: Vec<u8>,
}

/// Reads a whole IDX image file (`...-idx3-ubyte[.gz]`) into memory.
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let file = IdxFile::open(path, IdxKind::Images)?;
    let (rows, cols) = (file.item_dims()[0], file.item_dims()[1]);
    Ok(IdxImages {
        count: file.count(),
        rows,
        cols,
        pixels: file.read_all()?,
    })
}

/// Reads an IDX label file (`...-idx1-ubyte[.gz]`); returns one byte per label.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    IdxFile::open(path, IdxKind::Labels)?.read_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of an IDX file.
    pub(crate) fn idx(kind: IdxKind, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = kind.magic().to_be_bytes().to_vec();
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(body);
        v
    }

    #[test]
    fn reads_plain_and_gzipped_images() {
        let dir = tempfile::tempdir().unwrap();
        let plain = idx(
            IdxKind::Images,
            &[2, 2, 3],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        );
        let p = dir.path().join("a");
        std::fs::write(&p, &plain).unwrap();
        let img = read_idx_images(&p).unwrap();
        assert_eq!((img.count, img.rows, img.cols), (2, 2, 3));
        assert_eq!(img.pixels[11], 12);
        let mut second = [0u8; 6];
        IdxFile::open(&p, IdxKind::Images)
            .unwrap()
            .read_items(1, &mut second)
            .unwrap();
        assert_eq!(second, [7, 8, 9, 10, 11, 12]);

        let gz = dir.path().join("a.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &plain).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_idx_images(&gz).unwrap().pixels, img.pixels);
    }

    #[test]
    fn truncated_body_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels");
        std::fs::write(&p, idx(IdxKind::Labels, &[5], &[1, 2, 3])).unwrap();
        let e = read_idx_labels(&p).unwrap_err().to_string();
        assert!(
            e.contains("labels") && e.contains("truncated") && e.contains("promises 5"),
            "{e}"
        );
    }

    #[test]
    fn swapped_files_report_wrong_magic_and_empty_files_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, idx(IdxKind::Labels, &[1], &[1])).unwrap();
        let e = read_idx_images(&p).unwrap_err().to_string();
        assert!(e.contains("wrong magic number 0x00000801"), "{e}");
        std::fs::write(&p, b"").unwrap();
        let e = read_idx_images(&p).unwrap_err().to_string();
        assert!(e.contains("empty file"), "{e}");
    }
}
