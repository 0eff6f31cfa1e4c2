//! A run on disk: its directory, resolved config and summary, and reading it back.

mod dir;
mod layout;
mod lock;
mod record;
mod summary;

pub use crate::train::RunStatus;
pub use dir::{RunDir, RunDirError};
pub use layout::{
    ARTIFACT_FILES, CHECKPOINTS_DIR, CONFIG_FILE, JOURNAL_FILE, LOCK_FILE, LOSS_CURVE_FILE,
    MODEL_FILE, RunLayout, SUMMARY_FILE, TRACKING_FILE,
};
pub use lock::RunLock;
pub use record::{EpochRow, RunRecord, RunRecordError, SweepRecord, TrialRow};
pub use summary::Summary;
