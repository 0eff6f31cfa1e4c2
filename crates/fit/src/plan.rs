//! What the whole run's epochs look like, fixed before the first step, and what they add up to.

use trainer_core::checkpoint::Position;
use trainer_core::config::Config;
use trainer_core::data::{EpochPlan, LoaderSettings};
use trainer_core::train::{EvalResult, FitReport, TrainError, steps_per_epoch};

/// The run's shape: samples, steps and how batches are drawn and loaded.
pub(crate) struct RunPlan<'a> {
    pub cfg: &'a Config,
    /// Training samples.
    pub samples: usize,
    pub steps_per_epoch: usize,
    pub total_steps: usize,
    pub batches: EpochPlan,
    pub loader: LoaderSettings,
}

impl<'a> RunPlan<'a> {
    /// The plan for `samples` training samples; Err when no step could be taken.
    pub fn new(cfg: &'a Config, samples: usize) -> Result<Self, TrainError> {
        let t = &cfg.train;
        let steps_per_epoch = steps_per_epoch(t, samples)?;
        let loader = LoaderSettings::resolve(cfg.data.workers, cfg.data.prefetch);
        tracing::info!(
            workers = loader.workers,
            prefetch = loader.prefetch,
            "streaming batches from the data loader"
        );
        Ok(Self {
            cfg,
            samples,
            steps_per_epoch,
            total_steps: steps_per_epoch * t.epochs,
            batches: EpochPlan {
                seed: cfg.run.seed,
                batch_size: t.batch_size,
                drop_last: t.drop_last,
            },
            loader,
        })
    }
}

/// What this process's epochs add up to.
pub(crate) struct Totals {
    pub samples: usize,
    pub train_seconds: f64,
    pub last_loss: f64,
    pub valid: Option<EvalResult>,
    pub stopped_early: bool,
}

impl Default for Totals {
    fn default() -> Self {
        Self {
            samples: 0,
            train_seconds: 0.0,
            last_loss: f64::NAN,
            valid: None,
            stopped_early: false,
        }
    }
}

impl Totals {
    /// The finished run's report.
    pub fn report(
        self,
        pos: &Position,
        parameters: usize,
        test: EvalResult,
        skipped_samples: Vec<String>,
    ) -> FitReport {
        FitReport {
            epochs: pos.epoch,
            stopped_early: self.stopped_early,
            steps: pos.global_step,
            parameters,
            samples: self.samples,
            train_seconds: self.train_seconds,
            samples_per_sec: self.samples as f64 / self.train_seconds.max(1e-9),
            final_train_loss: self.last_loss,
            valid: self.valid,
            test,
            skipped_samples,
        }
    }
}
