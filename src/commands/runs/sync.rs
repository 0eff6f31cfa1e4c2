//! `trainer runs sync`: replays journals into MLflow.

use crate::commands::Failure;
use crate::tracking::{Backoff, MlflowSettings, Syncer};
use anyhow::anyhow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use trainer_core::config::Config;

/// Sends each run's backlog; fails (after trying all) if any run is not fully synced.
pub fn sync(dirs: &[PathBuf], timeout: f64) -> Result<(), Failure> {
    let mut failed = 0;
    for dir in dirs {
        match sync_one(dir, Duration::from_secs_f64(timeout.max(0.0))) {
            Ok(msg) => crate::outln!("{}: {msg}", dir.display()),
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e:#}", dir.display());
            }
        }
    }
    if failed > 0 {
        return Err(Failure::runtime(anyhow!(
            "{failed} of {} run(s) not fully synced; the journal keeps the rest, run again later",
            dirs.len()
        )));
    }
    Ok(())
}

/// Sends one run's backlog; retries transient failures with backoff until `timeout`.
fn sync_one(dir: &Path, timeout: Duration) -> anyhow::Result<String> {
    let cfg_path = crate::run::RunLayout::of(dir).config();
    let text =
        std::fs::read_to_string(&cfg_path).map_err(|e| anyhow!("{}: {e}", cfg_path.display()))?;
    let cfg: Config = toml::from_str(&text)
        .map_err(|e| anyhow!("{}: {}", cfg_path.display(), e.message().trim()))?;
    let settings =
        MlflowSettings::resolve(&cfg.tracking, |k| std::env::var(k).ok()).ok_or_else(|| {
            anyhow!("no MLflow server: set MLFLOW_TRACKING_URI or tracking.mlflow_uri")
        })?;
    let mut syncer = Syncer::open(dir, settings)?;
    let before = syncer.pending_lines();
    let deadline = Instant::now() + timeout;
    let mut backoff = Backoff::default();
    loop {
        match syncer.pass() {
            Ok(_) => break,
            Err(e) if Instant::now() >= deadline => return Err(e.into()),
            Err(e) if e.is_final_answer() => return Err(e.into()),
            Err(_) => {
                let (wait, _) = backoff.failed();
                std::thread::sleep(wait.min(deadline.saturating_duration_since(Instant::now())));
            }
        }
    }
    let s = &syncer.state;
    let mut msg = format!(
        "{before} journal line(s) sent; MLflow run {} (experiment {})",
        s.mlflow_run_id, s.experiment_id
    );
    if s.dropped > 0 {
        msg.push_str(&format!("; {} item(s) rejected by MLflow", s.dropped));
    }
    if s.registered_version > 0 {
        msg.push_str(&format!(
            "; model {} version {}",
            s.registered_model, s.registered_version
        ));
    }
    if !s.registration_error.is_empty() {
        msg.push_str(&format!("; model not registered: {}", s.registration_error));
    }
    Ok(msg)
}
