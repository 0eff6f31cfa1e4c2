//! When things happen: steps per epoch, checkpoints, and each step's seed; pure decisions from
//! the config and the run's position.

use super::TrainError;
use crate::config::{CheckpointConfig, TrainConfig};
use crate::data::batches_per_epoch;

/// Optimizer steps in an epoch of `samples` training samples; Err when not one can be taken.
pub fn steps_per_epoch(t: &TrainConfig, samples: usize) -> Result<usize, TrainError> {
    if samples == 0 {
        return Err(TrainError::EmptyTrainingSplit);
    }
    match batches_per_epoch(samples, t.batch_size, t.drop_last) {
        0 => Err(TrainError::BatchTooLarge {
            batch_size: t.batch_size,
            samples,
            drop_last: true,
        }),
        steps => Ok(steps),
    }
}

/// True when a mid-epoch checkpoint is due (epoch ends are decided by `at_epoch_end`).
pub fn checkpoint_due(
    cfg: &CheckpointConfig,
    steps_since_save: usize,
    seconds_since_save: f64,
) -> bool {
    (cfg.every_steps > 0 && steps_since_save >= cfg.every_steps)
        || (cfg.every_seconds > 0.0 && seconds_since_save >= cfg.every_seconds)
}

/// Per-step seed for the backend RNG (dropout): a function of (run seed, step) only, so a
/// resumed run draws the same masks as an uninterrupted one.
pub fn step_seed(seed: u64, global_step: usize) -> u64 {
    // splitmix64 finalizer over the pair.
    let mut z = seed
        ^ (global_step as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_by_steps_or_seconds_only_when_enabled() {
        let mut c = CheckpointConfig {
            every_steps: 0,
            every_seconds: 0.0,
            ..Default::default()
        };
        assert!(!checkpoint_due(&c, 1000, 1e6));
        c.every_steps = 10;
        assert!(!checkpoint_due(&c, 9, 0.0) && checkpoint_due(&c, 10, 0.0));
        c = CheckpointConfig {
            every_steps: 0,
            every_seconds: 5.0,
            ..Default::default()
        };
        assert!(!checkpoint_due(&c, 1, 4.9) && checkpoint_due(&c, 1, 5.0));
    }

    #[test]
    fn step_seeds_differ_by_step_and_seed() {
        assert_ne!(step_seed(1, 0), step_seed(1, 1));
        assert_ne!(step_seed(1, 0), step_seed(2, 0));
        assert_eq!(step_seed(3, 7), step_seed(3, 7));
    }
}
