//! Reader for IDX files (the MNIST format), gzipped or plain.
//!
//! Layout: big-endian u32 magic (0x00000803 images, 0x00000801 labels), then one big-endian
//! u32 per dimension, then the unsigned bytes.

use super::DataError;
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

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

/// Reads an IDX image file (`...-idx3-ubyte[.gz]`).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let bytes = read_maybe_gz(path)?;
    let dims = header(path, &bytes, IMAGES_MAGIC, 3, "images (idx3)")?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(format_err(
            path,
            format!("image size {rows}x{cols} is empty"),
        ));
    }
    let pixels = body(path, &bytes, 16, count * rows * cols)?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Reads an IDX label file (`...-idx1-ubyte[.gz]`); returns one byte per label.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_maybe_gz(path)?;
    let dims = header(path, &bytes, LABELS_MAGIC, 1, "labels (idx1)")?;
    body(path, &bytes, 8, dims[0])
}

fn format_err(path: &Path, message: String) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        message,
    }
}

fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| DataError::Io {
                path: path.to_path_buf(),
                message: format!("corrupt or truncated gzip data: {e}"),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn header(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    ndims: usize,
    what: &str,
) -> Result<Vec<usize>, DataError> {
    let word = |i: usize| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    };
    let need = 4 + 4 * ndims;
    if bytes.len() >= 4 && word(0) != magic {
        return Err(format_err(
            path,
            format!(
                "wrong magic number 0x{:08x}, expected 0x{magic:08x} for IDX {what}",
                word(0)
            ),
        ));
    }
    if bytes.len() < need {
        return Err(format_err(
            path,
            format!(
                "file is {} bytes, too short for an IDX {what} header ({need} bytes)",
                bytes.len()
            ),
        ));
    }
    Ok((1..=ndims).map(|i| word(i) as usize).collect())
}

fn body(path: &Path, bytes: &[u8], offset: usize, expected: usize) -> Result<Vec<u8>, DataError> {
    let found = bytes.len() - offset;
    if found != expected {
        let what = if found < expected {
            "truncated"
        } else {
            "has trailing bytes"
        };
        return Err(format_err(
            path,
            format!("{what}: header promises {expected} data bytes, file has {found}"),
        ));
    }
    Ok(bytes[offset..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
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
            IMAGES_MAGIC,
            &[2, 2, 3],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        );
        let p = dir.path().join("a");
        std::fs::write(&p, &plain).unwrap();
        let img = read_idx_images(&p).unwrap();
        assert_eq!((img.count, img.rows, img.cols), (2, 2, 3));
        assert_eq!(img.pixels[11], 12);

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
        std::fs::write(&p, idx(LABELS_MAGIC, &[5], &[1, 2, 3])).unwrap();
        let e = read_idx_labels(&p).unwrap_err().to_string();
        assert!(
            e.contains("labels") && e.contains("truncated") && e.contains("promises 5"),
            "{e}"
        );
    }

    #[test]
    fn swapped_files_report_wrong_magic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, idx(LABELS_MAGIC, &[1], &[1])).unwrap();
        let e = read_idx_images(&p).unwrap_err().to_string();
        assert!(e.contains("wrong magic number 0x00000801"), "{e}");
    }
}
