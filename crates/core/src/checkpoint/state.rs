//! `state.json`: the loop position and run identity stored beside the weights.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Version of the on-disk checkpoint layout; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// Training-loop state at the moment of a checkpoint: the run's identity and the loop's
/// [`Position`] (one flat JSON object on disk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// On-disk layout version (`FORMAT_VERSION`).
    pub format_version: u32,
    /// `trainer` version that wrote it.
    pub trainer_version: String,
    /// Model kind (`mlp`, `cnn`): a checkpoint only loads into the same architecture.
    pub model: String,
    /// Shape of one input sample `[c, h, w]` (with `num_classes`, rebuilds the model).
    pub input_shape: [usize; 3],
    /// Number of output classes.
    pub num_classes: usize,
    /// Where the loop was: what resuming continues from.
    #[serde(flatten)]
    pub position: Position,
    /// Dropout RNG: reseeded each step from (run seed, global_step), so the seed is the state.
    pub seed: u64,
    /// Experiment-tracker run id (empty until a tracker is configured).
    pub tracker_run_id: String,
    /// True when written because the run was interrupted (Ctrl-C / SIGTERM).
    pub interrupted: bool,
}

/// Where the training loop is: the whole resume position, kept by the loop and saved in every
/// checkpoint. The batch order is a pure function of (seed, epoch), so (epoch, batch) is the
/// whole data position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Epoch in progress (0-based).
    pub epoch: usize,
    /// Batches of that epoch already trained: the loader cursor.
    #[serde(rename = "batch_in_epoch")]
    pub batch: usize,
    /// Optimizer steps taken in the run.
    pub global_step: usize,
    /// Sum of the training losses read back in the current epoch so far.
    pub epoch_loss_sum: f64,
    /// The validation metric of the last evaluation, if any.
    pub metric: Option<f64>,
    /// The best validation metric so far, if any.
    #[serde(rename = "best_metric")]
    pub best: Option<f64>,
    /// Validations in a row without improving `best` (early stopping resumes from it; absent
    /// in checkpoints written before early stopping existed).
    #[serde(rename = "epochs_without_improvement", default)]
    pub stale_epochs: usize,
    /// The f16 loss scaler (absent for f32/bf16 runs and in older checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scale: Option<LossScaleState>,
    /// The run's first step loss and the lowest smoothed training loss so far, the divergence
    /// guard's reference (absent before the first step and in older checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoothed_loss: Option<SmoothedLoss>,
}

/// The divergence guard's memory of the smoothed training loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmoothedLoss {
    /// The loss of the run's first step (the untrained model).
    pub first: f64,
    /// The lowest so far.
    pub best: f64,
}

impl SmoothedLoss {
    /// Records `loss`; `Err((reference, factor))` when it exceeds `factor` (> 0) times the
    /// reference: the best so far, but at least 1% of the first (so a loss near zero does
    /// not make a wobble look like divergence).
    pub fn observe(state: &mut Option<Self>, loss: f64, factor: f64) -> Result<(), f64> {
        let s = state.get_or_insert(Self {
            first: loss,
            best: loss,
        });
        s.check(loss, factor)?;
        s.best = s.best.min(loss);
        Ok(())
    }

    /// [`SmoothedLoss::observe`]'s test alone: `Err(reference)` when `loss` exceeds `factor`
    /// (> 0) times the reference; nothing recorded.
    pub fn check(&self, loss: f64, factor: f64) -> Result<(), f64> {
        let reference = self.best.max(self.first * 0.01);
        if factor > 0.0 && loss > factor * reference {
            return Err(reference);
        }
        Ok(())
    }
}

/// Dynamic loss scaling (f16 training): the current factor and the overflow-free updates since
/// it last changed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossScaleState {
    /// The factor the loss is multiplied by before backward.
    pub scale: f64,
    /// Updates in a row without an overflow (the scale doubles after `GROWTH_INTERVAL`).
    pub good_steps: usize,
}

/// A checkpoint found on disk and verified.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheckpoint {
    /// Directory name, e.g. `step-000120`.
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// Its state.
    pub state: TrainState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_trips_past_the_factor_of_the_best_with_a_floor() {
        let mut s = None;
        for loss in [2.3, 1.0, 0.5, 0.2] {
            assert_eq!(SmoothedLoss::observe(&mut s, loss, 100.0), Ok(()));
        }
        assert_eq!(SmoothedLoss::observe(&mut s, 19.0, 100.0), Ok(()));
        assert_eq!(SmoothedLoss::observe(&mut s, 21.0, 100.0), Err(0.2));
        // Near zero the floor (1% of the first) is the reference.
        let mut s = None;
        for loss in [2.0, 1e-6] {
            SmoothedLoss::observe(&mut s, loss, 100.0).unwrap();
        }
        assert_eq!(SmoothedLoss::observe(&mut s, 1.0, 100.0), Ok(()));
        assert_eq!(SmoothedLoss::observe(&mut s, 3.0, 100.0), Err(0.02));
        // 0 turns it off.
        assert_eq!(SmoothedLoss::observe(&mut s, 1e30, 0.0), Ok(()));
    }

    #[test]
    fn the_position_is_flat_in_state_json_and_old_files_read() {
        let old = r#"{"format_version":1,"trainer_version":"0.1.0","model":"mlp","input_shape":[1,28,28],"num_classes":10,"epoch":1,"batch_in_epoch":3,"global_step":83,"epoch_loss_sum":1.5,"seed":42,"metric":0.9,"best_metric":0.9,"tracker_run_id":"","interrupted":true}"#;
        let state: TrainState = serde_json::from_str(old).unwrap();
        assert_eq!(state.position.batch, 3);
        assert_eq!(state.position.best, Some(0.9));
        assert_eq!(state.position.stale_epochs, 0);
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["batch_in_epoch"], 3);
        assert!(json.get("position").is_none());
        assert_eq!(serde_json::from_value::<TrainState>(json).unwrap(), state);
    }
}
