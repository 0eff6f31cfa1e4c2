//! `sweep.json`: the sweep's trial list and what happened to each trial that the trial's own
//! run directory cannot say (stopped early, reported to the journal). Written atomically.

use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The state file in a sweep directory.
pub const STATE_FILE: &str = "sweep.json";

/// One planned trial: its name and the `--set` values it runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedTrial {
    /// `trial-000`, ...
    pub name: String,
    /// Searched key -> value as TOML (what `--set key=value` gets).
    pub params: BTreeMap<String, String>,
}

/// What the sweep has decided and reported so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SweepState {
    /// SHA-256 of the space file and the base config: a rerun must match.
    pub fingerprint: String,
    /// The trials, in order.
    pub trials: Vec<PlannedTrial>,
    /// Trials stopped early (never resumed).
    pub pruned: BTreeSet<String>,
    /// Rung epoch -> trial -> its validation metric there.
    pub rungs: BTreeMap<usize, BTreeMap<String, f64>>,
    /// Trials whose end is in the sweep's journal.
    pub reported: BTreeSet<String>,
    /// The best trial is in the sweep's journal.
    pub best_reported: bool,
}

/// Why the state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        cause: String,
    },
    /// The directory holds a sweep of another space or config.
    #[error(
        "{0} holds a sweep started with another space file or base config; rerun it with those, or pick another --name"
    )]
    Different(PathBuf),
}

impl SweepState {
    /// Reads `dir/sweep.json`, or starts it with `trials`; refuses a different sweep.
    pub fn open(
        dir: &Path,
        fingerprint: &str,
        trials: Vec<PlannedTrial>,
    ) -> Result<Self, StateError> {
        let path = dir.join(STATE_FILE);
        let io = |cause: String| StateError::Io {
            path: path.clone(),
            cause,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let state: Self = serde_json::from_slice(&bytes).map_err(|e| io(e.to_string()))?;
                if state.fingerprint != fingerprint || state.trials != trials {
                    return Err(StateError::Different(dir.to_path_buf()));
                }
                Ok(state)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let state = Self {
                    fingerprint: fingerprint.to_string(),
                    trials,
                    ..Self::default()
                };
                state.save(dir)?;
                Ok(state)
            }
            Err(e) => Err(io(e.to_string())),
        }
    }

    /// Writes `dir/sweep.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        let path = dir.join(STATE_FILE);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| StateError::Io {
            path: path.clone(),
            cause: e.to_string(),
        })?;
        write_atomic(&path, &bytes).map_err(|e| StateError::Io {
            path,
            cause: e.to_string(),
        })
    }
}
