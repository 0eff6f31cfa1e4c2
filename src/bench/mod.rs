//! Throughput benchmark: warm up, then time N training steps with a device sync at the end.
//! Uses the same `train_step` as `fit`, so it measures what training does.

mod checkpoint;

pub use checkpoint::{CheckpointBenchOptions, CheckpointResult, bench_checkpoint};

use crate::backend::BackendJob;
use crate::config::Config;
use crate::data::{DataSource, epoch_order, fill_batch};
use crate::model::Classifier;
use crate::train::{AnyOptimizer, TrainError, train_step};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;
use std::time::{Duration, Instant};

/// How many steps to warm up and to time.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Untimed steps first (kernel compilation, autotune, allocator warm-up).
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
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
    /// Samples per step.
    pub batch_size: usize,
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
    /// Training samples.
    pub data: &'a dyn DataSource,
    /// Steps.
    pub options: BenchOptions,
    /// Also time checkpoint saves and restores of the trained model.
    pub checkpoint: Option<&'a CheckpointBenchOptions>,
}

impl BackendJob for BenchJob<'_> {
    type Output = Result<BenchResult, TrainError>;

    fn run<B: AutodiffBackend>(self, backend: &'static str, device: B::Device) -> Self::Output {
        let (cfg, data, opt) = (self.cfg, self.data, self.options);
        let bs = cfg.train.batch_size;
        if data.len() < bs {
            return Err(TrainError::Data(format!(
                "train.batch_size = {bs} exceeds the {} training samples",
                data.len()
            )));
        }
        B::seed(&device, cfg.run.seed);
        let mut model = Classifier::<B>::new(
            &cfg.model,
            data.feature_shape(),
            data.num_classes(),
            &device,
        );
        let mut optim = AnyOptimizer::<B>::new(&cfg.train);
        // Full batches cycling through epoch orders, as training would see them.
        let per_epoch = data.len() / bs;
        let mut order = Vec::new();
        let mut batch_indices = |step: usize| -> Vec<usize> {
            let (epoch, i) = (step / per_epoch, step % per_epoch);
            if i == 0 {
                order = epoch_order(cfg.run.seed, epoch, data.len());
            }
            order[i * bs..(i + 1) * bs].to_vec()
        };
        let sync = |what: &str| {
            B::sync(&device).map_err(|e| TrainError::Backend(format!("{what}: {e:?}")))
        };

        let t0 = Instant::now();
        let mut step = 0;
        for _ in 0..opt.warmup.max(1) {
            let batch = fill_batch(data, &batch_indices(step));
            model = train_step(model, &mut optim, &batch, cfg.train.lr, &device).model;
            step += 1;
            if step == 1 {
                sync("first step")?;
            }
        }
        let first_step_seconds = t0.elapsed().as_secs_f64();
        sync("warm-up")?;

        let (mut data_time, mut loss_sum) = (Duration::ZERO, None);
        let started = Instant::now();
        for _ in 0..opt.steps {
            let t = Instant::now();
            let batch = fill_batch(data, &batch_indices(step));
            data_time += t.elapsed();
            let out = train_step(model, &mut optim, &batch, cfg.train.lr, &device);
            model = out.model;
            loss_sum = Some(
                loss_sum.map_or(out.loss.clone(), |s: Tensor<B::InnerBackend, 1>| {
                    s + out.loss
                }),
            );
            step += 1;
        }
        sync("timed steps")?;
        let seconds = started.elapsed().as_secs_f64();
        let mean_loss = crate::train::read_scalar(loss_sum)? / opt.steps.max(1) as f64;
        let steps = opt.steps.max(1) as f64;
        let ms_per_step = seconds * 1e3 / steps;
        let data_ms_per_step = data_time.as_secs_f64() * 1e3 / steps;
        let peak_rss_mib = peak_rss_mib();
        let shape = (data.feature_shape(), data.num_classes());
        let checkpoint = match self.checkpoint {
            Some(o) => {
                let mut r = bench_checkpoint(cfg, &model, &optim, shape, &device, o)?;
                r.stall_steps_per_save = r.save_ms / ms_per_step.max(1e-9);
                Some(r)
            }
            None => None,
        };
        Ok(BenchResult {
            backend,
            device: format!("{device:?}"),
            model: cfg.model.kind.name(),
            batch_size: bs,
            warmup_steps: opt.warmup.max(1),
            steps: opt.steps,
            first_step_seconds,
            seconds,
            samples_per_sec: (opt.steps * bs) as f64 / seconds.max(1e-9),
            ms_per_step,
            data_ms_per_step,
            compute_ms_per_step: ms_per_step - data_ms_per_step,
            mean_loss,
            peak_rss_mib,
            checkpoint,
        })
    }
}

/// Peak resident set size (`VmHWM`) in MiB, on Linux.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
