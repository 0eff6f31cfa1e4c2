//! Data errors: each names the file and what was wrong.

use std::path::PathBuf;

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read (missing, permissions, corrupt gzip stream).
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The file was read but its content is not what the format requires.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was expected and what was found.
        message: String,
    },
    /// Two files that belong together disagree (image/label counts, shapes).
    #[error("{message}")]
    Mismatch {
        /// Names both files and both values.
        message: String,
    },
    /// A sample that does not decode, left out of its batch (`data.bad_samples = "skip"`).
    #[error("{path}: {message} (skipped)")]
    Skipped {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        message: String,
    },
    /// A loader worker thread could not run or stopped early.
    #[error("data loader: {0}")]
    Worker(String),
}

impl DataError {
    /// True when the data's content is wrong (format, mismatch), false when reading failed
    /// (I/O, a loader thread).
    pub fn is_bad_content(&self) -> bool {
        matches!(
            self,
            DataError::Format { .. } | DataError::Mismatch { .. } | DataError::Skipped { .. }
        )
    }

    /// An I/O failure on `path`, with the OS's message.
    pub fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
