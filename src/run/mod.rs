//! A run on disk: its directory, resolved config and summary.

mod dir;
mod summary;

pub use dir::{RunDir, RunDirError};
pub use summary::Summary;
