//! A run on disk: its directory, resolved config and summary, and reading it back.

mod dir;
mod lock;
mod record;
mod summary;

pub use dir::{RunDir, RunDirError};
pub use lock::{LOCK_FILE, RunLock};
pub use record::{EpochRow, RunRecord, RunRecordError, RunStatus};
pub use summary::Summary;

/// A finished run's final weights (the newest checkpoint, PyTorch-layout safetensors).
pub const MODEL_FILE: &str = "model.safetensors";
/// A finished run's loss curve.
pub const LOSS_CURVE_FILE: &str = "loss.png";
/// The run-directory files a tracker receives as artifacts when the run ends (when present).
pub const ARTIFACT_FILES: [&str; 4] = ["config.toml", "summary.json", LOSS_CURVE_FILE, MODEL_FILE];
