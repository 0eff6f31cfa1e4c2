//! A run's task made ready to train on the dispatched backend (and its sibling devices): its
//! model, optimizer and data as the `Learner` the training loop drives.

use super::BackendJob;
use crate::checkpoint::Snapshot;
use crate::config::Config;
use crate::data::{BatchSource, Splits};
use crate::model::Trainable;
use crate::task::{ModelJob, TaskData};
use crate::train::{
    Learner, LearnerParts, ModelLearner, ModelPlan, RankGroup, Replicas, TrainError, shard_splits,
    sibling_device,
};
use burn::module::AutodiffModule;
use trainer_ops::TrainBackend;

/// Prepares training on `data` per `cfg`, from `resume` when given: the learner the training
/// loop (`trainer_fit::fit`) drives.
pub struct FitJob<'a> {
    /// The run's resolved config.
    pub cfg: &'a Config,
    /// The run's data.
    pub data: &'a TaskData,
    /// The checkpoint to continue from.
    pub resume: Option<&'a Snapshot>,
    /// Memory a model's weights, gradients and optimizer state may take (None: unchecked).
    pub memory_budget: Option<u64>,
    /// Device indices each batch is split over (empty: just the dispatched device).
    pub parallel: &'a [usize],
    /// The job this process is a rank of (None: a single process).
    pub ranks: Option<RankGroup>,
    /// How runs name the device (`cuda:0 NVIDIA H200`, `cpu (2 threads)`).
    pub device_label: String,
}

/// A learner, boxed: what a fit job makes on the backend it was dispatched to.
pub type BoxedLearner<'a> = Box<dyn Learner + 'a>;

impl<'a> BackendJob for FitJob<'a> {
    type Output = Result<BoxedLearner<'a>, TrainError>;

    fn run<B: TrainBackend>(self, backend: &'static str, device: B::Device) -> Self::Output {
        let replicas = replicas::<B>(device, self.parallel).with_ranks(self.ranks);
        let train = Train {
            cfg: self.cfg,
            backend,
            device_label: self.device_label,
            replicas,
            resume: self.resume,
            memory_budget: self.memory_budget,
        };
        self.data.with_model::<B, _>(self.cfg, train)?
    }
}

/// The devices a run trains on: `device` alone, or its siblings `parallel` (data parallel).
pub(super) fn replicas<B: TrainBackend>(
    device: B::Device,
    parallel: &[usize],
) -> Replicas<B::Device> {
    let siblings: Vec<B::Device> = parallel
        .iter()
        .map(|&i| sibling_device::<B>(&device, i))
        .collect();
    Replicas::parallel(siblings).unwrap_or_else(|| Replicas::one(device))
}

/// The learner of whichever model the task builds.
struct Train<'a, B: TrainBackend> {
    cfg: &'a Config,
    backend: &'static str,
    device_label: String,
    replicas: Replicas<B::Device>,
    resume: Option<&'a Snapshot>,
    memory_budget: Option<u64>,
}

impl<'a, B: TrainBackend> ModelJob<B> for Train<'a, B> {
    type Output = Result<BoxedLearner<'a>, TrainError>;

    fn run<M, S, F>(self, plan: ModelPlan<F>, data: &Splits<S>) -> Self::Output
    where
        M: Trainable<B> + AutodiffModule<B>,
        M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
        S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
        F: Fn(&B::Device) -> M,
    {
        // Always through the shard view (a single process is rank 0 of 1): one instantiation.
        let data = shard_splits(data, self.replicas.ranks());
        let learner = ModelLearner::prepare(LearnerParts {
            cfg: self.cfg,
            plan,
            data,
            backend: self.backend,
            device_label: self.device_label,
            replicas: self.replicas,
            resume: self.resume,
            memory_budget: self.memory_budget,
        })?;
        Ok(Box::new(learner))
    }
}
