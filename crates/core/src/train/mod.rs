//! The training core: generic over `B: AutodiffBackend`, it knows ports, never adapters.

mod accumulate;
mod cadence;
mod clip;
mod evaluate;
mod events;
mod fit;
mod optimizer;
mod parallel;
mod params;
mod precision;
mod predict;
mod record;
mod schedule;
mod snapshot;
mod step;

pub use cadence::{checkpoint_due, step_seed};
pub use clip::clip_grad_norm;
pub use evaluate::{EVAL_METRICS, EvalResult, TOP_K, evaluate, evaluate_with_confusion};
pub use events::{Event, Observer, Observers, RunStatus, Split};
pub use fit::{FitOutcome, FitPorts, FitReport, Fitted, ModelPlan, fit_model, read_scalar};
pub use optimizer::AnyOptimizer;
pub use parallel::{Replicas, batch_gradients, shard_sizes, sibling_device, split_batch};
pub use params::{TRAINING_BYTES_PER_PARAM, check_fits, count_params, params_finite};
pub use precision::{
    Compute, GROWTH_INTERVAL, INITIAL_LOSS_SCALE, cast_params, check_supported, compute_dtype,
    initial_loss_scale, materialize,
};
pub use predict::{PredictError, predict};
pub use record::{model_from_bytes, model_to_bytes};
pub use schedule::learning_rate;
pub use snapshot::{ModelSpec, SaveContext, snapshot};
pub use step::{StepOutput, StepSettings, device_batch, gradients, train_step, update};

/// Failures inside the training loop.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The backend failed to execute queued work (surfaced when a value is read back).
    #[error("backend execution failed: {0}")]
    Backend(String),
    /// The data or config cannot train this model (shape, class count or size problems),
    /// found before the first step.
    #[error("{0}")]
    Data(String),
    /// A batch could not be read while running.
    #[error(transparent)]
    Read(#[from] crate::data::DataError),
    /// The training loss stopped being a finite number.
    #[error(
        "training diverged at step {step}: {what}; stopped without saving this state (lower train.lr or set train.grad_clip_norm)"
    )]
    Diverged {
        /// The optimizer step at which it was found.
        step: usize,
        /// What was not finite.
        what: String,
    },
    /// A checkpoint could not be encoded, decoded or saved.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A thread the run depends on failed (e.g. the journal writer panicked).
    #[error("{0}; stopped the run")]
    Background(String),
}

impl TrainError {
    /// True when the user's input is at fault (config or data), not the run.
    pub fn is_bad_input(&self) -> bool {
        match self {
            TrainError::Data(_) => true,
            TrainError::Read(e) => e.is_bad_content(),
            TrainError::Backend(_)
            | TrainError::Diverged { .. }
            | TrainError::Checkpoint(_)
            | TrainError::Background(_) => false,
        }
    }
}
