//! Checkpoint errors, each naming the checkpoint (or file) and what was wrong.

use std::path::PathBuf;

/// Why a checkpoint could not be written, found or trusted.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A filesystem operation failed.
    #[error("{path}: {cause}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// OS error.
        cause: std::io::Error,
    },
    /// The checkpoint is incomplete, corrupt or from an incompatible version.
    #[error("{path}: {message}")]
    Invalid {
        /// File or directory.
        path: PathBuf,
        /// What was expected.
        message: String,
    },
}

impl CheckpointError {
    /// An `Invalid` error for `path`.
    pub fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A closure mapping an I/O error on `path` into `Io`.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |cause| Self::Io {
            path: path.to_path_buf(),
            cause,
        }
    }
}
