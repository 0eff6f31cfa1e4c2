//! Training a run's task on the dispatched backend (and its sibling devices).

use super::BackendJob;
use crate::checkpoint::Snapshot;
use crate::config::Config;
use crate::data::{BatchSource, Splits};
use crate::model::Trainable;
use crate::task::{ModelJob, TaskData};
use crate::train::{
    FitOutcome, FitPorts, ModelPlan, RankGroup, Replicas, TrainError, fit_model, shard_splits,
    sibling_device,
};
use burn::module::AutodiffModule;
use trainer_ops::TrainBackend;

/// Trains `data` per `cfg`, from `resume` when given, reporting through `ports`.
pub struct FitJob<'a> {
    /// The run's resolved config.
    pub cfg: &'a Config,
    /// The run's data.
    pub data: &'a TaskData,
    /// The checkpoint to continue from.
    pub resume: Option<&'a Snapshot>,
    /// Observers, checkpoint store, stop flag.
    pub ports: FitPorts<'a>,
    /// Device indices each batch is split over (empty: just the dispatched device).
    pub parallel: &'a [usize],
    /// The job this process is a rank of (None: a single process).
    pub ranks: Option<RankGroup>,
}

impl BackendJob for FitJob<'_> {
    type Output = Result<FitOutcome, TrainError>;

    fn run<B: TrainBackend>(self, backend: &'static str, device: B::Device) -> Self::Output {
        let replicas = replicas::<B>(device, self.parallel).with_ranks(self.ranks);
        let train = Train {
            cfg: self.cfg,
            backend,
            replicas: &replicas,
            resume: self.resume,
            ports: self.ports,
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

/// The training loop on whichever model the task builds.
struct Train<'r, 'a, B: TrainBackend> {
    cfg: &'a Config,
    backend: &'static str,
    replicas: &'r Replicas<B::Device>,
    resume: Option<&'a Snapshot>,
    ports: FitPorts<'a>,
}

impl<B: TrainBackend> ModelJob<B> for Train<'_, '_, B> {
    type Output = Result<FitOutcome, TrainError>;

    fn run<M, S, F>(self, plan: ModelPlan<F>, data: &Splits<S>) -> Self::Output
    where
        M: Trainable<B> + AutodiffModule<B>,
        M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
        S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
        F: Fn(&B::Device) -> M,
    {
        let (cfg, backend) = (self.cfg, self.backend);
        // Always through the shard view (a single process is rank 0 of 1): one instantiation.
        let data = shard_splits(data, self.replicas.ranks());
        fit_model(
            cfg,
            plan,
            &data,
            backend,
            self.replicas,
            self.resume,
            self.ports,
        )
        .map(|f| f.outcome)
    }
}
