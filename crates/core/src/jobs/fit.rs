//! Training a run's task on the dispatched backend (and its sibling devices).

use super::BackendJob;
use crate::checkpoint::Snapshot;
use crate::config::Config;
use crate::task::TaskData;
use crate::train::{FitOutcome, FitPorts, Replicas, TrainError, sibling_device};
use burn::tensor::backend::AutodiffBackend;

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
}

impl BackendJob for FitJob<'_> {
    type Output = Result<FitOutcome, TrainError>;

    fn run<B: AutodiffBackend>(self, backend: &'static str, device: B::Device) -> Self::Output {
        let siblings: Vec<B::Device> = self
            .parallel
            .iter()
            .map(|&i| sibling_device::<B>(&device, i))
            .collect();
        let replicas = Replicas::parallel(siblings).unwrap_or_else(|| Replicas::one(device));
        self.data
            .fit::<B>(self.cfg, backend, &replicas, self.resume, self.ports)
    }
}
