//! The port for a library user's own Burn model: how to build it on any backend.

use super::Trainable;
use crate::data::Samples;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

/// Builds a user's Burn model on whichever backend the run picks: the one trait a library user
/// implements beside [`Trainable`], usually on the model's config struct.
///
/// ```
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::prelude::*;
/// use burn::tensor::backend::AutodiffBackend;
/// use trainer_core::data::HostBatch;
/// use trainer_core::model::{ModelFactory, Scores, Trainable, device_batch};
///
/// /// A linear classifier over flattened images.
/// #[derive(Module, Debug)]
/// struct Linear1<B: Backend> {
///     layer: Linear<B>,
/// }
///
/// impl<B: Backend> Trainable<B> for Linear1<B> {
///     type Batch = HostBatch;
///     fn score(&self, batch: &HostBatch, device: &B::Device) -> Scores<B> {
///         let (images, targets) = device_batch::<B>(batch, device);
///         let logits = self.layer.forward(images.flatten::<2>(1, 3));
///         Scores::Classes { logits, targets }
///     }
/// }
///
/// /// Its settings: input features and classes.
/// struct Linear1Config(usize, usize);
///
/// impl ModelFactory for Linear1Config {
///     type Batch = HostBatch;
///     type Model<B: AutodiffBackend> = Linear1<B>;
///     fn name(&self) -> String {
///         "linear1".into()
///     }
///     fn init<B: AutodiffBackend>(&self, device: &B::Device) -> Linear1<B> {
///         Linear1 { layer: LinearConfig::new(self.0, self.1).init(device) }
///     }
/// }
/// ```
pub trait ModelFactory: Send + Sync {
    /// The host batch the model reads: what the data source's batches are.
    type Batch: Samples + Send + 'static;
    /// The model on an autodiff backend. Burn's `#[derive(Module)]` makes its inference twin
    /// (`InnerModule`) the same struct on the inner backend, which must score the same batches.
    type Model<B: AutodiffBackend>: Trainable<B, Batch = Self::Batch>
        + AutodiffModule<B, InnerModule: Trainable<B::InnerBackend, Batch = Self::Batch>>;
    /// The architecture's name, recorded in checkpoints and summaries (a checkpoint only
    /// resumes or loads into a model of the same name) and used for default run names.
    fn name(&self) -> String;
    /// A freshly initialized model on `device` (the run's seed is set before this is called;
    /// parameters may be lazy).
    fn init<B: AutodiffBackend>(&self, device: &B::Device) -> Self::Model<B>;
}
