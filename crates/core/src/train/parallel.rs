//! Data parallel on one process: every global batch is split into contiguous shards, one per
//! device; each device runs forward and backward on a replica of the model (`Module::fork`) for
//! its shard's loss weighted by the shard's share of the batch, and the gradients are gathered
//! on the first device (`GradientsParams::to_device`) and summed there with Burn's
//! `GradientsAccumulator`. The update then runs once, on the first device, so N devices take
//! exactly the step one device takes on the whole batch.

use super::precision::Compute;
use super::step::gradients;
use crate::data::Samples;
use crate::model::Trainable;
use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::backend::{AutodiffBackend, DeviceOps};

/// The devices a run trains on: the first holds the master weights, the optimizer state and
/// evaluation. With `parallel`, every batch is split across all of them (one device included,
/// which runs the same code path).
#[derive(Debug, Clone)]
pub struct Replicas<D> {
    devices: Vec<D>,
    parallel: bool,
    /// The other processes of a multi-process job (gradients are summed across them).
    ranks: Option<super::RankGroup>,
}

impl<D: Clone> Replicas<D> {
    /// One device, no splitting.
    pub fn one(device: D) -> Self {
        Self {
            devices: vec![device],
            parallel: false,
            ranks: None,
        }
    }

    /// Data parallel over `devices` (the first is the main one); None when the list is empty.
    pub fn parallel(devices: Vec<D>) -> Option<Self> {
        (!devices.is_empty()).then_some(Self {
            devices,
            parallel: true,
            ranks: None,
        })
    }

    /// The device that holds the master weights.
    pub fn main(&self) -> &D {
        &self.devices[0]
    }

    /// Every device, the main one first.
    pub fn all(&self) -> &[D] {
        &self.devices
    }

    /// True when batches are split across the devices.
    pub fn is_parallel(&self) -> bool {
        self.parallel
    }

    /// The same devices as one rank of a multi-process job (None: a single process).
    pub fn with_ranks(mut self, ranks: Option<super::RankGroup>) -> Self {
        self.ranks = ranks;
        self
    }

    /// The job this process is a rank of, if any.
    pub fn ranks(&self) -> Option<&super::RankGroup> {
        self.ranks.as_ref()
    }
}

/// The device of the same kind as `device` with index `index` (cuda:0 -> cuda:`index`).
pub fn sibling_device<B: Backend>(device: &B::Device, index: usize) -> B::Device {
    let mut id = device.id();
    id.index_id = index as u16;
    <B::Device as burn::tensor::backend::Device>::from_id(id)
}

/// Sizes of `parts` contiguous shards of `n` samples, in order: the first `n % parts` shards
/// hold one sample more; shards beyond `n` are empty.
pub fn shard_sizes(n: usize, parts: usize) -> Vec<usize> {
    let parts = parts.max(1);
    (0..parts)
        .map(|k| n / parts + usize::from(k < n % parts))
        .collect()
}

/// The batch's non-empty shards (contiguous, in order) with their share of its samples.
pub fn split_batch<T: Samples>(batch: &T, parts: usize) -> Vec<(T, f32)> {
    let n = batch.samples();
    let mut start = 0;
    shard_sizes(n, parts)
        .into_iter()
        .filter(|&len| len > 0)
        .map(|len| {
            let shard = batch.slice(start..start + len);
            start += len;
            (shard, len as f32 / n as f32)
        })
        .collect()
}

/// `gradients` of `weight * loss` over the whole batch: on the main device alone, or, when the
/// replicas run data parallel, shard by shard (one thread per device) and summed on the main
/// device; the batch loss (mean over its samples, unweighted) comes back on the main device.
pub fn batch_gradients<B, M>(
    model: &M,
    batch: &M::Batch,
    weight: f32,
    compute: Compute,
    replicas: &Replicas<B::Device>,
) -> (GradientsParams, Tensor<B::InnerBackend, 1>)
where
    B: AutodiffBackend,
    M: Trainable<B> + AutodiffModule<B>,
{
    let main = replicas.main();
    if !replicas.is_parallel() {
        return gradients(model, batch, weight, compute, main);
    }
    let shards = split_batch(batch, replicas.all().len());
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = shards
            .into_iter()
            .zip(replicas.all())
            .map(|((shard, share), device)| {
                let replica = model.clone().fork(device);
                scope.spawn(move || {
                    let (grads, loss) =
                        gradients::<B, M>(&replica, &shard, weight * share, compute, device);
                    (grads, loss, share)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut summed = GradientsAccumulator::<M>::new();
    // Zero for an empty batch, which the loader never yields.
    let mut loss = Tensor::<B::InnerBackend, 1>::zeros([1], main);
    for (grads, shard_loss, share) in results {
        summed.accumulate(model, grads.to_device::<B, M>(main, model));
        loss = loss + shard_loss.to_device(main) * share;
    }
    (summed.grads(), loss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::HostBatch;
    use crate::model::Classifier;
    use burn::backend::{Autodiff, Flex};

    type B = Autodiff<Flex>;

    #[test]
    fn shards_are_contiguous_ordered_and_cover_the_batch() {
        assert_eq!(shard_sizes(128, 3), vec![43, 43, 42]);
        assert_eq!(shard_sizes(8, 4), vec![2, 2, 2, 2]);
        assert_eq!(shard_sizes(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(shard_sizes(5, 1), vec![5]);
        let batch = HostBatch {
            features: (0..10).map(|v| v as f32).collect(),
            labels: (0..5).collect(),
            sample_shape: [1, 1, 2],
        };
        let shards = split_batch(&batch, 2);
        assert_eq!(shards.len(), 2);
        assert_eq!(shards[0].0.labels, vec![0, 1, 2]);
        assert_eq!(shards[1].0.labels, vec![3, 4]);
        assert_eq!(shards[1].0.features, vec![6.0, 7.0, 8.0, 9.0]);
        assert_eq!((shards[0].1, shards[1].1), (0.6, 0.4));
        assert_eq!(split_batch(&batch, 8).len(), 5, "no empty shards");
    }

    /// Three replicas on the same CPU device (the only place this machine has several) take
    /// the gradient one device takes on the whole batch.
    #[test]
    fn three_replicas_give_the_whole_batch_gradient() {
        let device = Default::default();
        B::seed(&device, 5);
        let mut cfg = crate::config::ModelConfig::default();
        cfg.mlp.dropout = 0.0; // dropout masks are drawn per shard
        let model = Classifier::<B>::new(&cfg, [1, 4, 4], 3, &device);
        super::super::precision::materialize(&model);
        let batch = HostBatch {
            features: (0..7 * 16).map(|v| ((v * 37) % 11) as f32 / 11.0).collect(),
            labels: vec![0, 1, 2, 0, 1, 2, 1],
            sample_shape: [1, 4, 4],
        };
        let flat = |g: &GradientsParams| {
            let mut v = Vec::new();
            for id in burn::module::list_param_ids(&model) {
                for d in [1usize, 2] {
                    let t = if d == 1 {
                        g.get::<Flex, 1>(id).map(|t| t.into_data())
                    } else {
                        g.get::<Flex, 2>(id).map(|t| t.into_data())
                    };
                    if let Some(t) = t {
                        v.extend(t.to_vec::<f32>().unwrap());
                    }
                }
            }
            v
        };
        let (whole, loss) = gradients::<B, _>(&model, &batch, 0.5, Compute::F32, &device);
        let replicas = Replicas::parallel(vec![device; 3]).unwrap();
        let (split, split_loss) =
            batch_gradients::<B, _>(&model, &batch, 0.5, Compute::F32, &replicas);
        let (a, b) = (flat(&whole), flat(&split));
        assert!(
            !a.is_empty() && a.len() == b.len(),
            "{} vs {}",
            a.len(),
            b.len()
        );
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "gradients differ by {worst}");
        let (l1, l2) = (
            loss.into_scalar().to_f32(),
            split_loss.into_scalar().to_f32(),
        );
        assert!((l1 - l2).abs() < 1e-5, "{l1} vs {l2}");
    }
}
