//! Small JSON files saved with a run (a vocabulary, a table's preprocessing): written
//! atomically, read back with an error that says what the file should have held.

use super::DataError;
use crate::fsutil::write_atomic;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn save_json(path: &Path, value: &impl Serialize) -> Result<(), DataError> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| DataError::Worker(e.to_string()))?;
    write_atomic(path, &json).map_err(|e| DataError::io(path, e))
}

/// Reads JSON saved by `save_json`; `expected` names what the file should hold.
pub fn load_json<T: DeserializeOwned>(path: &Path, expected: &str) -> Result<T, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| DataError::Format {
        path: path.to_path_buf(),
        message: format!("expected {expected}: {e}"),
    })
}
