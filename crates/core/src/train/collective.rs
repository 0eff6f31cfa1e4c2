//! Data parallel across processes: the port to a collective-communication engine (MPI is the
//! adapter at the CLI's edge; an NCCL one for CUDA ranks can plug in the same way), the shard of
//! each global batch a rank reads, and the one fused gradient all-reduce per step.

use super::TrainError;
use super::parallel::{Replicas, batch_gradients, shard_sizes};
use super::precision::Compute;
use crate::data::{BatchSource, DataError, Samples, Splits};
use crate::model::Trainable;
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a collective operation reports when it fails (a peer gone, the engine's error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CollectiveError(pub String);

/// The operations data parallel training needs from the engine. Every rank calls each one in
/// the same order (they are collective).
pub trait Collective: Send + Sync {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// Processes in the job.
    fn world_size(&self) -> usize;
    /// Sums `buf` element-wise over the ranks, in place: every rank gets the sum.
    fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<(), CollectiveError>;
    /// Makes `bytes` on every rank a copy of rank `root`'s.
    fn broadcast(&self, bytes: &mut Vec<u8>, root: usize) -> Result<(), CollectiveError>;
    /// Returns once every rank has called it.
    fn barrier(&self) -> Result<(), CollectiveError>;
    /// Ends the whole job now with `code` (a hung or failed step): every rank exits.
    fn abort(&self, code: i32) -> !;
}

/// A training process's place in a multi-process job, with the stop handshake: a stop asked
/// for on any rank (`requested`, e.g. by its signal handler) is agreed on by all in the next
/// step's all-reduce (`agreed`, which the training loop reads), so every rank stops after the
/// same step.
#[derive(Clone)]
pub struct RankGroup {
    /// The engine.
    pub collective: Arc<dyn Collective>,
    /// Raised locally to ask the job to stop.
    pub requested: &'static AtomicBool,
    /// Raised on every rank once any rank asked: the loop's stop flag.
    pub agreed: &'static AtomicBool,
}

impl std::fmt::Debug for RankGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rank {} of {}",
            self.collective.rank(),
            self.collective.world_size()
        )
    }
}

impl RankGroup {
    /// Rank 0 writes the run (directory, journal, tracking, checkpoints).
    pub fn is_leader(&self) -> bool {
        self.collective.rank() == 0
    }

    /// Sums the gradients of each rank's shard (each the gradient of its shard's mean loss,
    /// `rows` samples) into the gradient of the global batch's mean loss, in one all-reduce of
    /// one fused buffer that also carries the loss and the stop request. Returns the summed
    /// gradients, the global batch's mean loss and its samples.
    pub fn all_reduce<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        model: &M,
        mut grads: GradientsParams,
        (loss, rows): (f32, usize),
        device: &B::Device,
    ) -> Result<(GradientsParams, f32, usize), CollectiveError> {
        let mut flat = Flatten::<B> {
            grads: &mut grads,
            weight: rows as f32,
            buffer: Vec::new(),
            _backend: std::marker::PhantomData,
        };
        model.visit(&mut flat);
        let mut buffer = flat.buffer;
        let n = buffer.len();
        let stop = if self.requested.load(Ordering::SeqCst) {
            1.0
        } else {
            0.0
        };
        buffer.extend([loss * rows as f32, rows as f32, stop]);
        self.collective.all_reduce_sum(&mut buffer)?;
        let (total_loss, total_rows, stops) = (buffer[n], buffer[n + 1], buffer[n + 2]);
        if stops > 0.0 {
            self.agreed.store(true, Ordering::SeqCst);
        }
        let scale = 1.0 / total_rows.max(1.0);
        let mut out = GradientsParams::new();
        model.visit(&mut Unflatten::<B> {
            grads: &mut out,
            buffer: &buffer[..n],
            offset: 0,
            scale,
            device,
        });
        Ok((out, total_loss * scale, total_rows as usize))
    }

    /// Makes every rank's model rank 0's: its weights are broadcast as bytes.
    pub fn share_weights(&self, bytes: &mut Vec<u8>) -> Result<(), CollectiveError> {
        self.collective.broadcast(bytes, 0)
    }
}

/// Appends every parameter's gradient (times `weight`; zeros where a rank has none, e.g. an
/// empty shard) to `buffer`, in the model's parameter order.
struct Flatten<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    weight: f32,
    buffer: Vec<f32>,
    _backend: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Flatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let numel = param.shape().num_elements();
        let values = self
            .grads
            .remove::<B::InnerBackend, D>(param.id)
            .and_then(|g| {
                (g * self.weight)
                    .into_data()
                    .convert::<f32>()
                    .to_vec::<f32>()
                    .ok()
            });
        match values {
            Some(v) if v.len() == numel => self.buffer.extend(v),
            _ => self.buffer.extend(std::iter::repeat_n(0.0, numel)),
        }
    }
}

/// Registers each parameter's slice of the summed buffer (times `scale`) as its gradient.
struct Unflatten<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    buffer: &'a [f32],
    offset: usize,
    scale: f32,
    device: &'a B::Device,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Unflatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let shape = param.shape();
        let numel = shape.num_elements();
        let values: Vec<f32> = self.buffer[self.offset..self.offset + numel]
            .iter()
            .map(|v| v * self.scale)
            .collect();
        self.offset += numel;
        let t =
            Tensor::<B::InnerBackend, D>::from_data(TensorData::new(values, shape), self.device);
        self.grads.register::<B::InnerBackend, D>(param.id, t);
    }
}

/// The training split as one rank reads it: of each global batch (the same batches, in the same
/// seeded order, on every rank), only this rank's contiguous shard.
pub struct RankShard<S: ?Sized> {
    inner: Arc<S>,
    rank: usize,
    world: usize,
}

impl<S: ?Sized> RankShard<S> {
    /// Rank `rank` of `world`'s view of `inner`.
    pub fn new(inner: Arc<S>, rank: usize, world: usize) -> Self {
        Self { inner, rank, world }
    }

    /// This rank's indices of a global batch.
    fn mine<'i>(&self, indices: &'i [u32]) -> &'i [u32] {
        let sizes = shard_sizes(indices.len(), self.world);
        let start: usize = sizes[..self.rank].iter().sum();
        &indices[start..start + sizes[self.rank]]
    }
}

impl<S: BatchSource + ?Sized> BatchSource for RankShard<S> {
    type Batch = S::Batch;

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn read_batch(&self, indices: &[u32]) -> Result<S::Batch, DataError> {
        self.inner.read_batch(self.mine(indices))
    }

    fn read_epoch_batch(&self, indices: &[u32], epoch: usize) -> Result<S::Batch, DataError> {
        self.inner.read_epoch_batch(self.mine(indices), epoch)
    }

    fn skipped(&self) -> Vec<String> {
        self.inner.skipped()
    }

    fn bytes_per_row(&self) -> Option<f64> {
        self.inner.bytes_per_row()
    }
}

/// [`batch_gradients`] for one rank of a job: this rank's shard's gradients, summed over the
/// ranks into the global batch's (an empty shard contributes none); a single process's as
/// they are. Returns the gradients, the global batch's mean loss on the main device, and the
/// global batch's samples (every rank's, for throughput).
pub fn rank_gradients<B, M>(
    model: &M,
    batch: &M::Batch,
    weight: f32,
    compute: Compute,
    replicas: &Replicas<B::Device>,
) -> Result<(GradientsParams, Tensor<B::InnerBackend, 1>, usize), TrainError>
where
    B: AutodiffBackend,
    M: Trainable<B> + AutodiffModule<B>,
{
    let rows = batch.samples();
    let Some(group) = replicas.ranks() else {
        let (grads, loss) = batch_gradients(model, batch, weight, compute, replicas);
        return Ok((grads, loss, rows));
    };
    let (grads, loss) = if rows == 0 {
        (GradientsParams::new(), 0.0)
    } else {
        let (grads, loss) = batch_gradients(model, batch, weight, compute, replicas);
        (grads, super::read_scalar(Some(loss))? as f32)
    };
    let device = replicas.main();
    let (grads, loss, total) = group.all_reduce::<B, M>(model, grads, (loss, rows), device)?;
    let loss = Tensor::from_data(TensorData::new(vec![loss], [1]), device);
    Ok((grads, loss, total))
}

/// The splits as rank `group` reads them: its shard of every training batch; validation and
/// test whole (every rank evaluates the same weights on them; rank 0 reports). A single
/// process (None) reads everything.
pub fn shard_splits<S: BatchSource + ?Sized>(
    data: &Splits<S>,
    group: Option<&RankGroup>,
) -> Splits<RankShard<S>> {
    let whole = |s: &Arc<S>| Arc::new(RankShard::new(s.clone(), 0, 1));
    let (rank, world) = group.map_or((0, 1), |g| (g.collective.rank(), g.collective.world_size()));
    Splits {
        train: Arc::new(RankShard::new(data.train.clone(), rank, world)),
        valid: whole(&data.valid),
        test: whole(&data.test),
    }
}
