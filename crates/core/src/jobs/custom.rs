//! A library user's model: trained by the same loop as the built-in ones on any backend, and
//! loaded back from its checkpoints.

use super::BoxedLearner;
use super::resolve_checkpoint;
use super::{BackendJob, JobError};
use crate::checkpoint::{Snapshot, load};
use crate::config::Config;
use crate::data::{BatchSource, Splits};
use crate::model::ModelFactory;
use crate::train::{
    LearnerParts, ModelLearner, ModelPlan, ModelSpec, TrainError, model_from_bytes,
};
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::prelude::Backend;
use std::path::Path;
use trainer_ops::TrainBackend;

/// Prepares training of the model `factory` builds on `data`, per `cfg`, from `resume` when
/// given: the learner the training loop (`trainer_fit::fit`) drives.
pub struct CustomFitJob<'a, U, S: ?Sized> {
    /// The run's resolved config (`[model]` is not read: the factory is the model).
    pub cfg: &'a Config,
    /// Builds the user's model.
    pub factory: &'a U,
    /// The user's data, batches of the model's kind.
    pub data: &'a Splits<S>,
    /// The checkpoint to continue from.
    pub resume: Option<&'a Snapshot>,
    /// Memory a model's weights, gradients and optimizer state may take (None: unchecked).
    pub memory_budget: Option<u64>,
    /// Device indices each batch is split over (empty: just the dispatched device).
    pub parallel: &'a [usize],
    /// How runs name the device (`cuda:0 NVIDIA H200`, `cpu (2 threads)`).
    pub device_label: String,
}

impl<'a, U, S> BackendJob for CustomFitJob<'a, U, S>
where
    U: ModelFactory,
    S: BatchSource<Batch = U::Batch> + ?Sized + 'static,
{
    type Output = Result<BoxedLearner<'a>, TrainError>;

    fn run<B: TrainBackend>(self, backend: &'static str, device: B::Device) -> Self::Output {
        let replicas = super::fit::replicas::<B>(device, self.parallel);
        let factory = self.factory;
        let plan = ModelPlan {
            spec: custom_spec(factory),
            build: |d: &B::Device| factory.init::<B>(d),
        };
        let learner = ModelLearner::prepare(LearnerParts {
            cfg: self.cfg,
            plan,
            data: self.data.clone(),
            backend,
            device_label: self.device_label,
            replicas,
            resume: self.resume,
            memory_budget: self.memory_budget,
        })?;
        Ok(Box::new(learner))
    }
}

/// A user model's identity in checkpoints: its name (shapes are the model's own business).
fn custom_spec<U: ModelFactory>(factory: &U) -> ModelSpec {
    ModelSpec {
        kind: factory.name(),
        input_shape: [0; 3],
        num_classes: 0,
        assets: Default::default(),
    }
}

/// The inference model [`load_custom`] returns: the factory's model on backend `B` without
/// autodiff (for a `#[derive(Module)]` struct `Net<B>`, that is `Net<B>`).
pub type InferenceModel<U, B> =
    <<U as ModelFactory>::Model<Autodiff<B>> as AutodiffModule<Autodiff<B>>>::InnerModule;

/// Rebuilds the model `factory` makes with the weights of `path`: a checkpoint directory
/// (`RUN/checkpoints/step-N`) or a run directory (its newest checkpoint that verifies). The
/// checkpoint must hold a model of the factory's name.
pub fn load_custom<B: Backend, U: ModelFactory>(
    factory: &U,
    path: &Path,
    device: &B::Device,
) -> Result<InferenceModel<U, B>, JobError> {
    let checkpoint = resolve_checkpoint(path)?;
    let snap = load(&checkpoint).map_err(JobError::input)?;
    let name = factory.name();
    if snap.state.model != name {
        return Err(JobError::Input(format!(
            "{}: holds a `{}` model, not `{name}`",
            checkpoint.display(),
            snap.state.model
        )));
    }
    let model = factory.init::<Autodiff<B>>(device);
    let model = model_from_bytes(model, snap.model, device)
        .map_err(|e| JobError::Input(format!("{}: {e}", checkpoint.display())))?;
    Ok(model.valid())
}
