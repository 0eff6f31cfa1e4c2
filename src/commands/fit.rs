//! `trainer fit`.

use super::{Failure, guarded};
use crate::backend::{BackendJob, dispatch, select};
use crate::cli::FitArgs;
use crate::config::{self, Config};
use crate::data::{Splits, load_splits};
use crate::observe::{Journal, Progress};
use crate::run::{RunDir, RunDirError, Summary};
use crate::train::{self, FitReport, Observers, TrainError};
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use std::time::Instant;

struct FitJob<'a> {
    cfg: &'a Config,
    data: &'a Splits,
    observers: &'a mut Observers,
}

impl BackendJob for FitJob<'_> {
    type Output = Result<FitReport, TrainError>;

    fn run<B: AutodiffBackend>(self, backend: &'static str, device: B::Device) -> Self::Output {
        train::fit::<B>(self.cfg, self.data, backend, &device, self.observers)
    }
}

/// Trains per the config; writes `config.toml`, `journal.jsonl` and `summary.json` to the run dir.
pub fn fit(args: FitArgs) -> Result<Summary, Failure> {
    let started = Instant::now();
    let mut overrides = args.config.overrides.clone();
    overrides.extend(args.flag_overrides());
    let cfg = config::load(args.config.config.as_deref(), &overrides).map_err(Failure::input)?;
    let selection = select(cfg.run.backend, cfg.run.device).map_err(Failure::input)?;
    println!("backend: {}", selection.reason);
    let data = load_splits(&cfg.data, cfg.run.seed).map_err(Failure::input)?;
    let run_dir = RunDir::create(&cfg).map_err(|e| match e {
        RunDirError::Exists(_) => Failure::input(e),
        other => Failure::runtime(other),
    })?;
    run_dir
        .write("config.toml", cfg.to_toml().as_bytes())
        .map_err(Failure::runtime)?;
    let journal = Journal::open(&run_dir.path.join("journal.jsonl"))
        .with_context(|| format!("cannot open the journal in {}", run_dir.path.display()))
        .map_err(Failure::runtime)?;
    let mut observers = Observers(vec![Box::new(Progress::new()), Box::new(journal)]);

    let job = FitJob {
        cfg: &cfg,
        data: &data,
        observers: &mut observers,
    };
    let report =
        guarded("training", || dispatch(&selection.choice, job))?.map_err(|e| match e {
            TrainError::Data(_) => Failure::input(e),
            TrainError::Backend(_) => Failure::runtime(e),
        })?;
    drop(observers); // flushes the journal

    let summary = Summary {
        trainer_version: env!("CARGO_PKG_VERSION"),
        run_name: run_dir.name.clone(),
        model: cfg.model.kind.name(),
        backend: selection.choice.name(),
        device: selection.choice.device(),
        backend_reason: selection.reason.clone(),
        seed: cfg.run.seed,
        wall_seconds: started.elapsed().as_secs_f64(),
        valid_accuracy: report.valid.map(|v| v.accuracy),
        valid_loss: report.valid.map(|v| v.loss),
        test_accuracy: report.test.accuracy,
        test_loss: report.test.loss,
        report,
    };
    let json = serde_json::to_vec_pretty(&summary).map_err(Failure::runtime)?;
    run_dir
        .write("summary.json", &json)
        .map_err(Failure::runtime)?;
    println!(
        "done in {:.1}s: test accuracy {:.2}%; run directory {}",
        summary.wall_seconds,
        summary.test_accuracy * 100.0,
        run_dir.path.display()
    );
    Ok(summary)
}
