//! The jobs' entry points: non-generic, so each job's code for every compiled backend is built
//! in this crate and nowhere else.

use super::Choice;
use super::dispatch::dispatch;
use std::path::Path;
use trainer_core::bench::{BenchJob, BenchResult};
use trainer_core::jobs::{
    BackendJob, BoxedLearner, EvalJob, Export, FitJob, JobError, PredictJob, SampleJob,
};
use trainer_core::metrics::ConfusionMatrix;
use trainer_core::train::{EvalResult, TrainError};

/// A run's model, optimizer and data on the chosen backend, ready for the training loop
/// (`trainer_fit::fit`).
pub fn learner<'a>(choice: &Choice, job: FitJob<'a>) -> Result<BoxedLearner<'a>, TrainError> {
    dispatch(choice, job)
}

/// Evaluates a checkpoint's model on the chosen backend.
pub fn eval(choice: &Choice, job: EvalJob<'_>) -> Result<(EvalResult, ConfusionMatrix), JobError> {
    dispatch(choice, job)
}

/// Scores inputs with a checkpoint's model on the chosen backend; returns the rows written.
pub fn predict(choice: &Choice, job: PredictJob<'_>) -> Result<usize, JobError> {
    dispatch(choice, job)
}

/// Generates text with a GPT checkpoint on the chosen backend.
pub fn sample(choice: &Choice, job: SampleJob<'_>) -> Result<String, JobError> {
    dispatch(choice, job)
}

/// Times training steps on the chosen backend.
pub fn bench(choice: &Choice, job: BenchJob<'_>) -> Result<BenchResult, TrainError> {
    dispatch(choice, job)
}

/// Runs any job on the chosen backend: generic, so it is monomorphized in the caller's crate
/// (a library user's own model trains through it).
pub fn run_job<J: BackendJob>(choice: &Choice, job: J) -> J::Output {
    dispatch(choice, job)
}

/// A checkpoint's image classifier as PyTorch-named safetensors, read on the CPU.
pub fn pytorch_export(checkpoint: &Path) -> Result<Export, JobError> {
    #[cfg(feature = "flex")]
    return trainer_core::jobs::pytorch_export::<burn::backend::Flex>(
        checkpoint,
        &Default::default(),
    );
    #[cfg(all(not(feature = "flex"), feature = "ndarray"))]
    return trainer_core::jobs::pytorch_export::<burn::backend::NdArray>(
        checkpoint,
        &Default::default(),
    );
    #[cfg(not(any(feature = "flex", feature = "ndarray")))]
    Err(JobError::Input(format!(
        "{}: exporting needs a CPU backend (build with the `flex` or `ndarray` feature)",
        checkpoint.display()
    )))
}
