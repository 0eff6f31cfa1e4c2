//! Checkpoints: what one holds, the store port, a pure retention policy, and the atomic
//! directory adapter.

mod compat;
mod dir_store;
mod error;
mod retention;
mod state;

pub use compat::incompatible_keys;
pub use dir_store::{DirStore, LATEST_FILE, checkpoint_names, load, verify};
pub use error::CheckpointError;
pub use retention::{Retention, select_for_deletion};
pub use state::{
    FORMAT_VERSION, LossScaleState, Position, SmoothedLoss, StoredCheckpoint, TrainState,
};

/// Everything needed to continue a run exactly where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Loop position, metrics, identity (`state.json`).
    pub state: TrainState,
    /// Model weights (Burn named MessagePack, full precision).
    pub model: Vec<u8>,
    /// Optimizer state (same encoding), keyed by parameter id.
    pub optimizer: Vec<u8>,
    /// The resolved config the run was started with (`config.toml`).
    pub config_toml: String,
    /// Files the model needs to be used (e.g. `vocab.json`), by file name.
    pub assets: std::collections::BTreeMap<String, Vec<u8>>,
}

/// Where checkpoints are kept (a port: the training loop never sees files).
pub trait CheckpointStore {
    /// Persists a snapshot atomically; returns the checkpoint's name.
    fn save(&mut self, snapshot: &Snapshot) -> Result<String, CheckpointError>;
    /// The newest checkpoint that verifies, with the names of newer ones that did not.
    fn latest_valid(&self) -> Result<Option<LatestValid>, CheckpointError>;
}

/// The newest checkpoint that verifies, and `(name, why)` for each newer one that did not.
pub type LatestValid = (StoredCheckpoint, Vec<(String, CheckpointError)>);
