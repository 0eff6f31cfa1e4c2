//! Work that runs on a backend chosen at run time: each job is generic over the autodiff
//! backend and is monomorphized only where dispatch names the concrete backends.

mod custom;
mod error;
mod eval;
mod export;
mod fit;
mod predict;
mod restore;
mod sample;

pub use custom::{CustomFitJob, InferenceModel, load_custom};
pub use error::{JobError, error_chain};
pub use eval::EvalJob;
pub use export::{Export, pytorch_export};
pub use fit::{BoxedLearner, FitJob};
pub use predict::{PredictFormat, PredictJob};
pub use restore::{Opened, Restored, open, resolve_checkpoint, restore};
pub use sample::SampleJob;

use trainer_ops::TrainBackend;

/// Work that runs on any autodiff backend (training, evaluation, benchmarking).
pub trait BackendJob {
    /// What the job returns.
    type Output;
    /// Runs the job on backend `B` and `device`; `backend` is the backend's name.
    fn run<B: TrainBackend>(self, backend: &'static str, device: B::Device) -> Self::Output;
}
