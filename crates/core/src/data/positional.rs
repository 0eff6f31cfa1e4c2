//! A file read at explicit offsets (`pread`): many threads share one handle, no seeking, and
//! nothing but the bytes asked for is held in memory (the page cache is the OS's, not ours).

use super::DataError;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Opens a data file for reading, refusing anything but a regular file (checked before
/// opening: opening a FIFO blocks until a writer comes, and `/dev/zero` never ends).
pub fn open_regular(path: &Path) -> Result<File, DataError> {
    crate::fsutil::open_regular_file(path, "a data file")
        .map(|(file, _)| file)
        .map_err(|e| DataError::io(path, e))
}

/// An open, read-only file with its length, read by offset.
#[derive(Debug)]
pub struct PositionalFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl PositionalFile {
    /// Opens `path` for positional reads.
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let file = open_regular(path)?;
        let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            len,
        })
    }

    /// An already open file (e.g. an unnamed temporary one), named `path` in messages.
    pub fn from_file(path: &Path, file: File) -> std::io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            len,
        })
    }

    /// The file's path (for error messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Length in bytes at open time.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `buf` with the bytes at `offset`; a short file is an error naming the offset.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), DataError> {
        read_at(&self.file, buf, offset).map_err(|e| DataError::Io {
            path: self.path.clone(),
            message: format!("read of {} bytes at byte {offset} failed: {e}", buf.len()),
        })
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}
