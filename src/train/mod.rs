//! The training core: generic over `B: AutodiffBackend`, it knows ports, never adapters.

mod accumulate;
mod cadence;
mod clip;
mod evaluate;
mod events;
mod fit;
mod optimizer;
mod predict;
mod record;
mod schedule;
mod snapshot;
mod step;

pub use cadence::{checkpoint_due, step_seed};
pub use clip::clip_grad_norm;
pub use evaluate::{EVAL_METRICS, EvalResult, TOP_K, evaluate, evaluate_with_confusion};
pub use events::{Event, Observer, Observers, Split};
pub use fit::{FitOutcome, FitPorts, FitReport, Fitted, ModelPlan, fit, fit_model, read_scalar};
pub use optimizer::AnyOptimizer;
pub use predict::{PredictError, predict};
pub use record::{model_from_bytes, model_to_bytes};
pub use schedule::learning_rate;
pub use snapshot::{ModelSpec, Position, SaveContext, snapshot};
pub use step::{StepOutput, StepSettings, device_batch, gradients, train_step, update};

/// Failures inside the training loop.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The backend failed to execute queued work (surfaced when a value is read back).
    #[error("backend execution failed: {0}")]
    Backend(String),
    /// The data cannot train this model (shape or class count problems).
    #[error("{0}")]
    Data(String),
    /// A checkpoint could not be encoded, decoded or saved.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}
