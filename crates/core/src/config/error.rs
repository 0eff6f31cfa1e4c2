//! Config errors: each renders as one line naming where the value came from and the key.

use std::path::PathBuf;

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error (shown in the message, so not chained as a source).
        cause: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{origin}: invalid TOML at line {line}, column {column}: {message}")]
    Syntax {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// A `--set` argument that is not `key=value` with a dotted key.
    #[error("{arg}: {message}")]
    BadOverride {
        /// The argument as given, with its flag.
        arg: String,
        /// What is wrong with it.
        message: String,
    },
    /// A key with an unknown name, a wrong type or an out-of-range value.
    #[error("{origin}: key `{key}`: {message}")]
    Key {
        /// The file, or `--set KEY=VALUE` when the value came from the command line.
        origin: String,
        /// Dotted key path, e.g. `train.lr`.
        key: String,
        /// What was expected (and a suggestion, when there is a near miss).
        message: String,
    },
}
