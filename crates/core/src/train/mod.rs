//! The training core: generic over `B: AutodiffBackend`, it knows ports, never adapters. The
//! loop over epochs and steps is crate `trainer-fit`; it drives a [`Learner`].

mod accumulate;
mod cadence;
mod clip;
mod collective;
mod evaluate;
mod events;
mod fit;
mod learner;
mod model_learner;
mod optimizer;
mod parallel;
mod params;
mod precision;
mod predict;
mod record;
mod schedule;
mod snapshot;
mod step;

pub use cadence::{checkpoint_due, step_seed, steps_per_epoch};
pub use clip::clip_grad_norm;
pub use collective::{
    Collective, CollectiveError, RankGroup, RankShard, rank_gradients, shard_splits,
};
pub use evaluate::{EVAL_METRICS, EvalResult, TOP_K, evaluate, evaluate_with_confusion};
pub use events::{Event, Observer, Observers, RunStatus, Split};
pub use fit::{FitOutcome, FitPorts, FitReport, ModelPlan, read_scalar};
pub use learner::{Learner, LearnerInfo, StepPlan, Stepped};
pub use model_learner::{LearnerParts, ModelLearner};
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
    /// A collective operation across the job's ranks failed.
    #[error("ranks: {0}")]
    Collective(#[from] CollectiveError),
    /// The backend failed to execute queued work (surfaced when a value is read back).
    #[error("backend execution failed ({during}): {cause}")]
    Backend {
        /// What was being read back or synchronized.
        during: &'static str,
        /// The backend's error.
        cause: String,
    },
    /// No training sample is left after the validation split.
    #[error("the training split is empty (lower data.validation_fraction)")]
    EmptyTrainingSplit,
    /// Not one batch fits in the training split.
    #[error(
        "train.batch_size = {batch_size} exceeds the {samples} training samples{}",
        if *.drop_last { " with train.drop_last = true" } else { "" }
    )]
    BatchTooLarge {
        /// `train.batch_size`.
        batch_size: usize,
        /// Training samples.
        samples: usize,
        /// Whether `train.drop_last` drops the partial batch.
        drop_last: bool,
    },
    /// The data's samples cannot feed the configured model (e.g. a convolution on 1-wide
    /// inputs): the model's own explanation, naming the keys.
    #[error("{0}")]
    IncompatibleInput(String),
    /// The model would not fit in memory.
    #[error(
        "the model has {params} parameters: training needs about {need_gib:.1} GiB ({bytes_per_param} bytes a parameter: weights, gradients, optimizer state and the update's temporaries), more than {usable_percent}% of the {budget_gib:.1} GiB of memory here ({usable_gib:.1} GiB); make {keys} smaller"
    )]
    ModelTooLarge {
        /// Trainable parameters.
        params: usize,
        /// Memory training needs, GiB.
        need_gib: f64,
        /// Bytes counted per parameter.
        bytes_per_param: u64,
        /// Share of memory a run may use, percent.
        usable_percent: u64,
        /// Memory here, GiB.
        budget_gib: f64,
        /// The share a run may use, GiB.
        usable_gib: f64,
        /// The config keys that size the model.
        keys: String,
    },
    /// `run.precision` is not computable on this backend and device.
    #[error(
        "run.precision = \"{precision}\": {backend} on {device} cannot compute in {precision}; use {alternatives}"
    )]
    UnsupportedPrecision {
        /// The precision asked for.
        precision: &'static str,
        /// Backend name.
        backend: String,
        /// Device description.
        device: String,
        /// What would work (`"bf16" or "f32"`).
        alternatives: &'static str,
    },
    /// The checkpoint to resume holds another model than this run builds.
    #[error(
        "the checkpoint holds a {saved} model for {saved_shape:?} inputs and {saved_classes} classes; this run builds a {model} model for {shape:?} inputs and {classes} classes"
    )]
    CheckpointMismatch {
        /// The checkpoint's model.
        saved: String,
        /// Its input shape.
        saved_shape: [usize; 3],
        /// Its classes.
        saved_classes: usize,
        /// This run's model.
        model: String,
        /// Its input shape.
        shape: [usize; 3],
        /// Its classes.
        classes: usize,
    },
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
    /// A checkpoint could not be saved or read.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// Weights, optimizer state or an asset could not be encoded or decoded.
    #[error("checkpoint: {what}: {cause}")]
    Record {
        /// What was being encoded or decoded.
        what: String,
        /// Why it failed.
        cause: String,
    },
    /// A thread the run depends on failed (e.g. the journal writer panicked).
    #[error("{0}; stopped the run")]
    Background(String),
}

impl TrainError {
    /// True when the user's input is at fault (config or data), not the run.
    pub fn is_bad_input(&self) -> bool {
        match self {
            TrainError::EmptyTrainingSplit
            | TrainError::BatchTooLarge { .. }
            | TrainError::IncompatibleInput(_)
            | TrainError::ModelTooLarge { .. }
            | TrainError::UnsupportedPrecision { .. }
            | TrainError::CheckpointMismatch { .. } => true,
            TrainError::Read(e) => e.is_bad_content(),
            TrainError::Backend { .. }
            | TrainError::Diverged { .. }
            | TrainError::Checkpoint(_)
            | TrainError::Record { .. }
            | TrainError::Background(_)
            | TrainError::Collective(_) => false,
        }
    }

    /// A backend failure while doing `during`.
    pub fn backend<E: std::fmt::Debug>(during: &'static str) -> impl FnOnce(E) -> Self {
        move |e| TrainError::Backend {
            during,
            cause: format!("{e:?}"),
        }
    }
}
