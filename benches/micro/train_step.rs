//! One training step (upload, forward, backward, optimizer update, device sync) of every model
//! `trainer fit` trains, on the CPU backends, with each config's batch size and optimizer. On
//! flex each step is also split into parts: `forward` (the loss in inference mode, on the inner
//! backend, as evaluation runs it) and `forward+backward` (the gradients, autodiff graph
//! recorded and walked); `step` minus `forward+backward` is the optimizer.

use super::support::{config, first};
use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use std::time::Duration;
use trainer_core::TrainBackend;
use trainer_core::config::Config;
use trainer_core::data::{
    BatchSource, HostBatch, Samples, load_splits, load_table_splits, load_text_splits,
};
use trainer_core::model::{Classifier, Gpt, Mlp, Trainable};
use trainer_core::train::{AnyOptimizer, Compute, Replicas, StepSettings, gradients, train_step};

fn train_steps(c: &mut Criterion) {
    backend::<Autodiff<Flex>>(c, "flex", Parts::Split);
    #[cfg(feature = "ndarray")]
    backend::<Autodiff<burn::backend::NdArray>>(c, "ndarray", Parts::StepOnly);
}

/// Whether a backend's steps are also timed in parts.
#[derive(Clone, Copy, PartialEq)]
enum Parts {
    Split,
    /// Only the whole step (ndarray is an opt-in backend: `--features ndarray`).
    #[cfg(feature = "ndarray")]
    StepOnly,
}

/// Every model on one backend: `train_step/<backend>/<config>/<part>`.
fn backend<B: TrainBackend>(c: &mut Criterion, name: &str, parts: Parts) {
    let device = B::Device::default();
    let mut group = c.benchmark_group(format!("train_step/{name}"));
    // Steps take milliseconds to seconds: a fixed number of steps per sample.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    for id in ["mnist-mlp", "mnist-cnn"] {
        let cfg = config(id);
        let splits = load_splits(&cfg.data, cfg.run.seed).expect("open the bundled MNIST");
        let (shape, classes) = (splits.train.feature_shape(), splits.train.num_classes());
        let batch = splits
            .train
            .read_batch(&first(cfg.train.batch_size))
            .expect("read a batch");
        let model = Classifier::<B>::new(&cfg.model, shape, classes, &device);
        time(&mut group, id, parts, &cfg, model, batch, &device);
    }

    // CIFAR-10 is not bundled; a ResNet step costs the same on any pixels of the right shape.
    // ndarray's convolutions are ~70x slower than flex's (see README): a ResNet step there
    // takes minutes, so it is left out.
    if parts == Parts::Split {
        let cfg = config("cifar-resnet");
        let batch = synthetic_images(cfg.train.batch_size, [3, 32, 32], 10);
        let model = Classifier::<B>::new(&cfg.model, [3, 32, 32], 10, &device);
        time(
            &mut group,
            "cifar-resnet-synthetic",
            parts,
            &cfg,
            model,
            batch,
            &device,
        );
    }

    let cfg = config("shakespeare-gpt-cpu");
    let (splits, vocab) =
        load_text_splits(&cfg.data, cfg.model.gpt.block_size, None).expect("open Tiny Shakespeare");
    let batch = splits
        .train
        .read_batch(&first(cfg.train.batch_size))
        .expect("read a batch");
    let model = Gpt::<B>::new(&cfg.model.gpt, vocab.size(), &device);
    time(
        &mut group,
        "shakespeare-gpt-cpu",
        parts,
        &cfg,
        model,
        batch,
        &device,
    );

    let cfg = config("breast-cancer");
    let (splits, prep) = load_table_splits(&cfg.data, cfg.run.seed, None).expect("open the table");
    let rows = cfg.train.batch_size.min(BatchSource::len(&*splits.train));
    let batch = splits.train.read_batch(&first(rows)).expect("read a batch");
    let model = Mlp::<B>::new(&cfg.model.mlp, prep.features.len(), prep.outputs(), &device);
    time(
        &mut group,
        "breast-cancer",
        parts,
        &cfg,
        model,
        batch,
        &device,
    );

    group.finish();
}

/// `<id>/step` (and with `Parts::Split`, `<id>/forward` and `<id>/forward+backward`): `model`
/// on the same `batch` over and over, synced after each iteration.
fn time<B, M>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    parts: Parts,
    cfg: &Config,
    model: M,
    batch: M::Batch,
    device: &B::Device,
) where
    B: TrainBackend,
    M: Trainable<B> + AutodiffModule<B>,
    M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
{
    let sync = || B::sync(device).expect("device sync");
    B::seed(device, cfg.run.seed);
    group.throughput(Throughput::Elements(batch.samples() as u64));
    if parts == Parts::Split {
        // A forward on the autodiff backend whose graph is dropped without a backward pass
        // is not what training does and measured oddly slow (12 ms for the table MLP whose
        // whole step takes 0.13 to 0.16 ms): time the inference forward instead.
        let inference = model.valid();
        group.bench_function(format!("{id}/forward"), |b| {
            b.iter(|| {
                let loss = inference.score(&batch, device).loss();
                sync();
                loss
            })
        });
        group.bench_function(format!("{id}/forward+backward"), |b| {
            b.iter(|| {
                let grads = gradients(&model, &batch, 1.0, Compute::F32, device);
                sync();
                grads
            })
        });
    }
    let mut optim = AnyOptimizer::<B, M>::new(&cfg.train);
    let settings = StepSettings {
        lr: cfg.train.lr,
        clip_norm: cfg.train.grad_clip_norm,
    };
    let mut model = Some(model);
    let replicas = Replicas::one(device.clone());
    group.bench_function(format!("{id}/step"), |b| {
        b.iter(|| {
            let m = model
                .take()
                .expect("the model is put back after every step");
            let steps = (settings, Compute::F32);
            let out = train_step(m, &mut optim, &batch, steps, &replicas, None)
                .expect("an f32 step has no overflow check to fail");
            sync();
            model = Some(out.model);
        })
    });
}

/// `n` images of `shape` with deterministic pixels and labels cycling through `classes`.
fn synthetic_images(n: usize, shape: [usize; 3], classes: usize) -> HostBatch {
    let per: usize = shape.iter().product();
    HostBatch {
        features: (0..n * per)
            .map(|i| ((i * 7919) % 255) as f32 / 255.0 - 0.5)
            .collect(),
        labels: (0..n).map(|i| (i % classes) as i64).collect(),
        sample_shape: shape,
    }
}

criterion::criterion_group!(benches, train_steps);
