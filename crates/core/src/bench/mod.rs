//! Throughput benchmark: warm up, then time N training steps with a device sync at the end.
//! Uses the same `train_step` as `fit`, so it measures what training does, for every model
//! `fit` trains (image classifiers, the GPT, the tabular MLP).

mod checkpoint;

pub use checkpoint::{CheckpointBenchOptions, CheckpointResult, bench_checkpoint};

use crate::config::{Config, Precision};
use crate::data::{
    BatchList, BatchSource, DataError, EpochPlan, Loader, LoaderSettings, Samples, Splits,
};
use crate::jobs::BackendJob;
use crate::model::Trainable;
use crate::task::{ModelJob, TaskData};
use crate::train::{
    AnyOptimizer, Compute, ModelPlan, Replicas, StepSettings, TrainError, check_supported,
    initial_loss_scale, materialize, train_step,
};
use burn::module::AutodiffModule;
use burn::prelude::*;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trainer_ops::TrainBackend;

/// Where the timed steps get their batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DataFeed {
    /// From the streaming loader, as `fit` trains (worker threads, bounded queue, from disk).
    Streaming,
    /// From batches assembled in memory before the clock starts (the no-data-cost baseline).
    Prebuilt,
}

/// How many steps to warm up and to time, and how batches arrive.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Untimed steps first (kernel compilation, autotune, allocator warm-up).
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    /// Streaming loader or prebuilt batches.
    pub feed: DataFeed,
    /// Loader threads and queue depth.
    pub loader: LoaderSettings,
    /// Float type of the forward/backward (weights stay f32).
    pub precision: Precision,
}

/// One backend's result (a row of the table, an element of the JSON `results` array).
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Backend name.
    pub backend: &'static str,
    /// Device description.
    pub device: String,
    /// Model kind.
    pub model: &'static str,
    /// Float type of the forward/backward (`f32`, `bf16`, `f16`).
    pub precision: &'static str,
    /// Samples per step.
    pub batch_size: usize,
    /// Where the timed steps got their batches.
    pub data_feed: DataFeed,
    /// Loader worker threads.
    pub loader_workers: usize,
    /// The loader alone (no model), over as many batches as the timed steps: samples/s it can
    /// supply, to set beside `samples_per_sec`, what the model consumes.
    pub loader_samples_per_sec: f64,
    /// Warm-up steps run.
    pub warmup_steps: usize,
    /// Timed steps run.
    pub steps: usize,
    /// Seconds of the first step alone, synced (compilation/autotune show here).
    pub first_step_seconds: f64,
    /// Seconds of the timed steps, device sync included.
    pub seconds: f64,
    /// Training throughput over the timed steps.
    pub samples_per_sec: f64,
    /// Wall milliseconds per timed step.
    pub ms_per_step: f64,
    /// Of which: assembling the host batch (waiting for data).
    pub data_ms_per_step: f64,
    /// Of which: upload, forward, backward, optimizer (the device work, to the final sync).
    pub compute_ms_per_step: f64,
    /// Mean loss over the timed steps (a sanity check that real work ran).
    pub mean_loss: f64,
    /// Peak resident set size of the process so far, MiB (Linux only).
    pub peak_rss_mib: Option<f64>,
    /// Checkpoint save/restore costs (None when not measured).
    pub checkpoint: Option<CheckpointResult>,
}

/// A benchmark on one backend over `data`.
pub struct BenchJob<'a> {
    /// Model, optimizer, batch size and seed come from here.
    pub cfg: &'a Config,
    /// The run's data (its training split is what the steps read).
    pub data: &'a TaskData,
    /// Steps.
    pub options: BenchOptions,
    /// Also time checkpoint saves and restores of the trained model.
    pub checkpoint: Option<&'a CheckpointBenchOptions>,
}

impl BackendJob for BenchJob<'_> {
    type Output = Result<BenchResult, TrainError>;

    fn run<B: TrainBackend>(self, backend: &'static str, device: B::Device) -> Self::Output {
        check_supported::<B>(self.options.precision, backend, &device)?;
        B::seed(&device, self.cfg.run.seed);
        let bench = Bench {
            cfg: self.cfg,
            options: self.options,
            checkpoint: self.checkpoint,
            device: &device,
        };
        let mut result = self.data.with_model::<B, _>(self.cfg, bench)??;
        result.backend = backend;
        Ok(result)
    }
}

/// The timed steps (and checkpoint costs) on whichever model the task builds.
struct Bench<'a, B: TrainBackend> {
    cfg: &'a Config,
    options: BenchOptions,
    checkpoint: Option<&'a CheckpointBenchOptions>,
    device: &'a B::Device,
}

impl<B: TrainBackend> ModelJob<B> for Bench<'_, B> {
    type Output = Result<BenchResult, TrainError>;

    fn run<M, S, F>(self, plan: ModelPlan<F>, data: &Splits<S>) -> Self::Output
    where
        M: Trainable<B> + AutodiffModule<B>,
        M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
        S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
        F: Fn(&B::Device) -> M,
    {
        let (cfg, dev) = (self.cfg, self.device);
        let model = (plan.build)(dev);
        let (mut result, model, optim) = measure(cfg, model, &data.train, self.options, dev)?;
        if let Some(o) = self.checkpoint {
            let mut r = bench_checkpoint(cfg, &model, &optim, &plan, dev, o)?;
            r.stall_steps_per_save = r.save_ms / result.ms_per_step.max(1e-9);
            result.checkpoint = Some(r);
        }
        Ok(result)
    }
}

/// Warms up, then times `opt.steps` training steps of `model` on batches of `data`; returns
/// the result (no checkpoint numbers), the trained model and its optimizer.
fn measure<B, M, S>(
    cfg: &Config,
    mut model: M,
    data: &Arc<S>,
    opt: BenchOptions,
    device: &B::Device,
) -> Result<(BenchResult, M, AnyOptimizer<B, M>), TrainError>
where
    B: TrainBackend,
    M: Trainable<B> + AutodiffModule<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    let bs = cfg.train.batch_size;
    if data.len() < bs {
        return Err(TrainError::BatchTooLarge {
            batch_size: bs,
            samples: data.len(),
            drop_last: false,
        });
    }
    materialize(&model);
    let mut optim = AnyOptimizer::<B, M>::new(&cfg.train);
    let replicas = Replicas::one(device.clone());
    let mut scale = initial_loss_scale(opt.precision);
    let plan = EpochPlan {
        seed: cfg.run.seed,
        batch_size: bs,
        drop_last: true,
    };
    let warmup = opt.warmup.max(1);
    let loader_samples_per_sec = loader_throughput(data, &plan, opt.loader, opt.steps)?;
    let mut feed = Feed::new(
        stream(data.clone(), plan, opt.loader),
        opt.feed,
        warmup + opt.steps,
    )?;
    let mut next_batch = || feed.next_batch();
    let sync = |what: &'static str| B::sync(device).map_err(TrainError::backend(what));

    // The configured base rate and clipping (the schedule is a function of the run's length).
    let settings = StepSettings {
        lr: cfg.train.lr,
        clip_norm: cfg.train.grad_clip_norm,
    };
    let mut step = |model: M, batch: &M::Batch| {
        let compute = Compute::new(opt.precision, scale.as_ref());
        train_step(
            model,
            &mut optim,
            batch,
            (settings, compute),
            &replicas,
            scale.as_mut(),
        )
    };
    let t0 = Instant::now();
    for step_index in 0..warmup {
        let batch = next_batch()?;
        model = step(model, &batch)?.model;
        if step_index == 0 {
            sync("first step")?;
        }
    }
    let first_step_seconds = t0.elapsed().as_secs_f64();
    sync("warm-up")?;

    let (mut data_time, mut loss_sum) = (Duration::ZERO, None);
    let started = Instant::now();
    for _ in 0..opt.steps {
        let t = Instant::now();
        let batch = next_batch()?;
        data_time += t.elapsed();
        let out = step(model, &batch)?;
        model = out.model;
        loss_sum = Some(
            loss_sum.map_or(out.loss.clone(), |s: Tensor<B::InnerBackend, 1>| {
                s + out.loss
            }),
        );
    }
    sync("timed steps")?;
    let seconds = started.elapsed().as_secs_f64();
    let mean_loss = crate::train::read_scalar(loss_sum)? / opt.steps.max(1) as f64;
    let timing = Timing {
        first_step_seconds,
        seconds,
        data_seconds: data_time.as_secs_f64(),
        mean_loss,
        loader_samples_per_sec,
    };
    let result = timing.result(cfg, opt, warmup, format!("{device:?}"));
    Ok((result, model, optim))
}

/// Batches for the timed steps: assembled before the clock starts, or streamed.
enum Feed<T, I> {
    Prebuilt(std::vec::IntoIter<T>),
    Streaming(I),
}

impl<T, I: Iterator<Item = Result<T, DataError>>> Feed<T, I> {
    /// Takes `count` batches from `stream` up front when `feed` is `Prebuilt`.
    fn new(mut stream: I, feed: DataFeed, count: usize) -> Result<Self, TrainError> {
        Ok(match feed {
            DataFeed::Prebuilt => {
                let batches: Vec<T> = stream
                    .by_ref()
                    .take(count)
                    .collect::<Result<_, _>>()
                    .map_err(TrainError::Read)?;
                Feed::Prebuilt(batches.into_iter())
            }
            DataFeed::Streaming => Feed::Streaming(stream),
        })
    }

    fn next_batch(&mut self) -> Result<T, TrainError> {
        let batch = match self {
            Feed::Prebuilt(b) => b.next().map(Ok),
            Feed::Streaming(s) => s.next(),
        };
        batch
            .unwrap_or_else(|| Err(DataError::Worker("the batch stream ended".into())))
            .map_err(TrainError::Read)
    }
}

/// What the clock measured.
struct Timing {
    first_step_seconds: f64,
    seconds: f64,
    data_seconds: f64,
    mean_loss: f64,
    loader_samples_per_sec: f64,
}

impl Timing {
    /// The benchmark row for these numbers.
    fn result(
        &self,
        cfg: &Config,
        opt: BenchOptions,
        warmup: usize,
        device: String,
    ) -> BenchResult {
        let bs = cfg.train.batch_size;
        let steps = opt.steps.max(1) as f64;
        let ms_per_step = self.seconds * 1e3 / steps;
        let data_ms_per_step = self.data_seconds * 1e3 / steps;
        BenchResult {
            backend: "",
            device,
            model: cfg.model.kind.name(),
            precision: opt.precision.name(),
            batch_size: bs,
            data_feed: opt.feed,
            loader_workers: opt.loader.workers,
            loader_samples_per_sec: self.loader_samples_per_sec,
            warmup_steps: warmup,
            steps: opt.steps,
            first_step_seconds: self.first_step_seconds,
            seconds: self.seconds,
            samples_per_sec: (opt.steps * bs) as f64 / self.seconds.max(1e-9),
            ms_per_step,
            data_ms_per_step,
            compute_ms_per_step: ms_per_step - data_ms_per_step,
            mean_loss: self.mean_loss,
            peak_rss_mib: peak_rss_mib(),
            checkpoint: None,
        }
    }
}

/// Batches of full size cycling through epoch orders without end, as training would see them.
fn stream<S: BatchSource + ?Sized + 'static>(
    data: Arc<S>,
    plan: EpochPlan,
    loader: LoaderSettings,
) -> impl Iterator<Item = Result<S::Batch, DataError>> {
    let n = data.len();
    (0..).flat_map(move |epoch| {
        Loader::start(data.clone(), BatchList::epoch(&plan, epoch, n), 0, loader)
            .map(|r| r.map(|(_, b)| b))
    })
}

/// Samples/s the loader alone delivers over `batches` batches (nothing consumes them, so the
/// number is the loader's ceiling).
pub fn loader_throughput<S>(
    data: &Arc<S>,
    plan: &EpochPlan,
    loader: LoaderSettings,
    batches: usize,
) -> Result<f64, TrainError>
where
    S: BatchSource + ?Sized + 'static,
    S::Batch: Samples,
{
    let started = Instant::now();
    let mut samples = 0usize;
    for batch in stream(data.clone(), *plan, loader).take(batches.max(1)) {
        let batch = batch.map_err(TrainError::Read)?;
        samples += std::hint::black_box(batch).samples();
    }
    Ok(samples as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

/// Peak resident set size (`VmHWM`) in MiB, on Linux.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
