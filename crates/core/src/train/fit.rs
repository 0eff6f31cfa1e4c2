//! What a run's training reports, the ports the training loop talks to, and the model a
//! task trains (the loop itself is crate `trainer-fit`, driving a `Learner`).

use super::snapshot::ModelSpec;
use super::{EvalResult, Observer, TrainError};
use crate::checkpoint::CheckpointStore;
use burn::prelude::*;
use std::sync::atomic::AtomicBool;

/// What a finished run reports (the run summary is built from it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    /// Epochs completed (fewer than configured when stopped early).
    pub epochs: usize,
    /// True when early stopping ended the run before `train.epochs`.
    pub stopped_early: bool,
    /// Optimizer steps taken in the whole run (resumed parts included).
    pub steps: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Training samples processed by this process.
    pub samples: usize,
    /// Seconds this process spent in training steps (evaluation excluded).
    pub train_seconds: f64,
    /// Training throughput of this process.
    pub samples_per_sec: f64,
    /// Mean training loss of the last epoch.
    pub final_train_loss: f64,
    /// Validation result after the last epoch (None when the validation split is empty).
    pub valid: Option<EvalResult>,
    /// Test result at the end (NaN metrics and 0 samples when the test split is empty).
    pub test: EvalResult,
    /// Files left out of their batches as unreadable (`data.bad_samples = "skip"`), as
    /// `path: why`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_samples: Vec<String>,
}

/// How `fit` ended.
#[derive(Debug, Clone, PartialEq)]
pub enum FitOutcome {
    /// All epochs ran and the test split was evaluated.
    Finished(Box<FitReport>),
    /// The stop flag was raised; a checkpoint was saved if a store was given.
    Interrupted {
        /// Steps done.
        global_step: usize,
        /// Name of the checkpoint saved on the way out.
        checkpoint: Option<String>,
    },
}

/// The ports `fit` talks to, injected by the caller.
pub struct FitPorts<'a> {
    /// Receives every event.
    pub observer: &'a mut dyn Observer,
    /// Where checkpoints go (None: no checkpoints).
    pub store: Option<&'a mut dyn CheckpointStore>,
    /// Raised (e.g. by a signal handler) to stop after the current step.
    pub stop: Option<&'a AtomicBool>,
    /// Tracker run id recorded in checkpoints.
    pub tracker_run_id: String,
}

/// The model a run trains: its identity in checkpoints and how to build it fresh.
pub struct ModelPlan<F> {
    /// Architecture and assets, recorded in every checkpoint.
    pub spec: ModelSpec,
    /// Builds the freshly initialized model on a device (after the run's seed is set).
    pub build: F,
}

/// Reads a one-element tensor back to the host (a device sync); `None` reads as 0.
pub fn read_scalar<B: Backend>(t: Option<Tensor<B, 1>>) -> Result<f64, TrainError> {
    let Some(t) = t else { return Ok(0.0) };
    let data = t
        .try_into_data()
        .map_err(TrainError::backend("loss read-back"))?;
    data.convert::<f64>()
        .to_vec::<f64>()
        .ok()
        .and_then(|v| v.first().copied())
        .ok_or_else(|| TrainError::Backend {
            during: "loss read-back",
            cause: "no value came back".into(),
        })
}
