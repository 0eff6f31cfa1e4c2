//! What text preparation reports when it cannot go on.

use std::path::PathBuf;

/// A text-preparation failure naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file's content is not what was expected.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What was expected and found.
        message: String,
    },
    /// An output file that is there already (nothing is overwritten).
    #[error("{}: already exists; tokenize into a new or empty --output directory", .0.display())]
    Exists(PathBuf),
    /// A setting that cannot work (e.g. a vocabulary too small for the byte alphabet).
    #[error("{0}")]
    Setting(String),
}

impl TextError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        TextError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    /// A format error on `path`.
    pub fn format(path: &std::path::Path, message: impl std::fmt::Display) -> Self {
        TextError::Format {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}
