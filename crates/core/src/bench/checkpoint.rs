//! Checkpoint timing inside a benchmark: save (encode + durable write), restore (read, verify,
//! decode), bytes, MB/s, and how long a save stalls the training loop.

use crate::checkpoint::{CheckpointStore, DirStore, Position, Retention, load};
use crate::config::Config;
use crate::train::{AnyOptimizer, ModelPlan, SaveContext, TrainError, model_from_bytes, snapshot};
use burn::module::AutodiffModule;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;
use trainer_ops::TrainBackend;

/// Where and how often to save during a benchmark.
#[derive(Debug, Clone)]
pub struct CheckpointBenchOptions {
    /// Directory the checkpoints are written to (removed afterwards).
    pub dir: PathBuf,
    /// Saves (and restores) to time; the medians are reported.
    pub repeats: usize,
}

/// Checkpoint costs for one backend (the `checkpoint` object of a JSON result).
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointResult {
    /// Saves and restores timed.
    pub repeats: usize,
    /// Bytes of one checkpoint (weights, optimizer state, state, config, manifest).
    pub bytes: u64,
    /// Median milliseconds to save: `encode_ms + write_ms`.
    pub save_ms: f64,
    /// Of which reading weights and optimizer state off the device and encoding them.
    pub encode_ms: f64,
    /// Of which hashing, writing, fsyncing and renaming into place (and retention).
    pub write_ms: f64,
    /// `bytes / save_ms`, in MB/s (10^6 bytes).
    pub save_mb_per_s: f64,
    /// Median milliseconds to read, verify (SHA-256) and load a checkpoint into model and optimizer.
    pub restore_ms: f64,
    /// `bytes / restore_ms`, in MB/s.
    pub restore_mb_per_s: f64,
    /// Training steps the loop loses per save (`save_ms / ms_per_step`): saves are synchronous.
    pub stall_steps_per_save: f64,
}

/// Times `options.repeats` saves and restores of `model`/`optim` on `device`; `plan` is the
/// model's checkpoint identity and builds the fresh model each restore loads into.
pub fn bench_checkpoint<B, M, F>(
    cfg: &Config,
    model: &M,
    optim: &AnyOptimizer<B, M>,
    plan: &ModelPlan<F>,
    device: &B::Device,
    options: &CheckpointBenchOptions,
) -> Result<CheckpointResult, TrainError>
where
    B: TrainBackend,
    M: AutodiffModule<B>,
    F: Fn(&B::Device) -> M,
{
    let ck = TrainError::Checkpoint;
    let sync = || B::sync(device).map_err(TrainError::backend("checkpoint timing sync"));
    let retention = Retention {
        keep_last: 1,
        keep_best: false,
        maximize: true,
    };
    let mut store = DirStore::open_for_writing(&options.dir, retention).map_err(ck)?;
    let repeats = options.repeats.max(1);
    let (mut encode, mut write, mut restore) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for i in 0..repeats {
        let pos = Position {
            global_step: i + 1,
            ..Position::default()
        };
        sync()?;
        let t0 = Instant::now();
        let ctx = SaveContext {
            cfg,
            model,
            optim,
            pos: &pos,
            spec: &plan.spec,
        };
        let snap = snapshot(ctx, false, "")?;
        let t1 = Instant::now();
        let name = store.save(&snap).map_err(ck)?;
        let t2 = Instant::now();
        encode.push(ms(t1 - t0));
        write.push(ms(t2 - t1));

        let dir = options.dir.join(&name);
        bytes = dir_bytes(&dir);
        let t3 = Instant::now();
        let loaded = load(&dir).map_err(ck)?;
        let restored = model_from_bytes((plan.build)(device), loaded.model, device)?;
        let _optim = AnyOptimizer::<B, M>::new(&cfg.train).from_bytes(loaded.optimizer, device)?;
        drop(restored);
        sync()?;
        restore.push(ms(t3.elapsed()));
    }
    let (encode_ms, write_ms, restore_ms) = (median(encode), median(write), median(restore));
    let save_ms = encode_ms + write_ms;
    let mb_per_s = |t: f64| bytes as f64 / 1e6 / (t / 1e3).max(1e-9);
    Ok(CheckpointResult {
        repeats,
        bytes,
        save_ms,
        encode_ms,
        write_ms,
        save_mb_per_s: mb_per_s(save_ms),
        restore_ms,
        restore_mb_per_s: mb_per_s(restore_ms),
        stall_steps_per_save: 0.0,
    })
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}
