//! Checkpoints: when one is due, and saving one through the store port.

use std::sync::atomic::Ordering;
use std::time::Instant;
use trainer_core::checkpoint::Position;
use trainer_core::config::CheckpointConfig;
use trainer_core::train::{Event, FitOutcome, FitPorts, Learner, TrainError, checkpoint_due};

/// Steps and time since the last checkpoint.
pub(crate) struct SaveClock {
    last: Instant,
    pub steps: usize,
}

impl SaveClock {
    /// A clock started now.
    pub fn new() -> Self {
        Self {
            last: Instant::now(),
            steps: 0,
        }
    }

    /// Whether a mid-run checkpoint is due per `cfg`.
    pub fn due(&self, cfg: &CheckpointConfig) -> bool {
        checkpoint_due(cfg, self.steps, self.last.elapsed().as_secs_f64())
    }
}

/// Whether the stop flag (a signal, or a rank of the job) is raised.
pub(crate) fn stop_requested(ports: &FitPorts<'_>) -> bool {
    ports.stop.is_some_and(|s| s.load(Ordering::SeqCst))
}

/// Saves a checkpoint (if a store is given) and restarts the clock; when `stop` is set, returns
/// the `Interrupted` outcome the loop must end with.
pub(crate) fn checkpoint(
    ports: &mut FitPorts<'_>,
    learner: &dyn Learner,
    pos: &Position,
    stop: bool,
    clock: &mut SaveClock,
) -> Result<Option<FitOutcome>, TrainError> {
    let name = save(ports, learner, pos, stop)?;
    *clock = SaveClock::new();
    Ok(stop.then_some(FitOutcome::Interrupted {
        global_step: pos.global_step,
        checkpoint: name,
    }))
}

/// Saves a checkpoint through the store port, if there is one.
fn save(
    ports: &mut FitPorts<'_>,
    learner: &dyn Learner,
    pos: &Position,
    interrupted: bool,
) -> Result<Option<String>, TrainError> {
    let Some(store) = ports.store.as_deref_mut() else {
        return Ok(None);
    };
    let snapshot = learner.snapshot(pos, interrupted, &ports.tracker_run_id)?;
    let name = store.save(&snapshot).map_err(TrainError::Checkpoint)?;
    ports.observer.on_event(&Event::CheckpointSaved {
        name: name.clone(),
        global_step: pos.global_step,
    });
    Ok(Some(name))
}
