//! `trainer checkpoints ls|verify|export`.

use super::Failure;
use crate::checkpoint::{DirStore, LATEST_FILE, StoredCheckpoint, verify};
use crate::cli::CheckpointsCommand;
use crate::fsutil::write_atomic;
use crate::run::{CHECKPOINTS_DIR, RunLayout};
use anyhow::anyhow;
use std::path::Path;

/// Runs a `checkpoints` subcommand.
pub fn checkpoints(cmd: CheckpointsCommand) -> Result<(), Failure> {
    match cmd {
        CheckpointsCommand::Ls { run, json } => ls(&run, json),
        CheckpointsCommand::Verify { checkpoint } => {
            let c = verify(&checkpoint).map_err(Failure::input)?;
            crate::outln!(
                "ok: {} (format {}, {} model, epoch {}, batch {}, step {})",
                checkpoint.display(),
                c.state.format_version,
                c.state.model,
                c.state.position.epoch,
                c.state.position.batch,
                c.state.position.global_step
            );
            Ok(())
        }
        CheckpointsCommand::Export { checkpoint, out } => export(&checkpoint, &out),
    }
}

fn ls(run: &Path, json: bool) -> Result<(), Failure> {
    let root = if RunLayout::of(run).checkpoints().is_dir() {
        RunLayout::of(run).checkpoints()
    } else {
        run.to_path_buf()
    };
    if !root.is_dir() {
        return Err(Failure::input(anyhow!(
            "{}: no such run or checkpoint directory",
            run.display()
        )));
    }
    let store = DirStore::open(&root);
    let names = store.names().map_err(Failure::runtime)?;
    let is_checkpoints_dir = root.file_name().is_some_and(|n| n == CHECKPOINTS_DIR);
    if names.is_empty() && !is_checkpoints_dir && !root.join(LATEST_FILE).exists() {
        return Err(Failure::input(anyhow!(
            "{}: not a run directory or a checkpoints/ directory (nothing trainer wrote is here)",
            run.display()
        )));
    }
    let latest = std::fs::read_to_string(root.join(LATEST_FILE)).unwrap_or_default();
    let listed: Vec<(String, Listed)> = names
        .into_iter()
        .map(|name| {
            let state = Listed::of(&root.join(&name));
            (name, state)
        })
        .collect();
    if json {
        let rows: Vec<serde_json::Value> = listed
            .iter()
            .map(|(name, state)| {
                let is_latest = *name == latest.trim();
                match state {
                    Listed::Ok(c) => serde_json::json!({
                        "name": name,
                        "step": c.state.position.global_step,
                        "epoch": c.state.position.epoch,
                        "metric": c.state.position.metric,
                        "status": if c.state.interrupted { "ok, interrupted" } else { "ok" },
                        "latest": is_latest,
                    }),
                    Listed::Removed(e) | Listed::Corrupt(e) => serde_json::json!({
                        "name": name,
                        "status": if matches!(state, Listed::Removed(_)) { "removed" } else { "corrupt" },
                        "error": e,
                        "latest": is_latest,
                    }),
                }
            })
            .collect();
        crate::outln!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    crate::outln!(
        "{:<16} {:>8} {:>6} {:>9}  status",
        "checkpoint",
        "step",
        "epoch",
        "metric"
    );
    for (name, state) in listed {
        let mark = if name == latest.trim() {
            " (latest)"
        } else {
            ""
        };
        match state {
            Listed::Ok(c) => crate::outln!(
                "{name:<16} {:>8} {:>6} {:>9}  ok{}{mark}",
                c.state.position.global_step,
                c.state.position.epoch,
                c.state
                    .position
                    .metric
                    .map_or("-".into(), |m| format!("{m:.4}")),
                if c.state.interrupted {
                    ", interrupted"
                } else {
                    ""
                }
            ),
            Listed::Removed(_) => crate::outln!(
                "{name:<16} {:>8} {:>6} {:>9}  removed by retention while listing",
                "-",
                "-",
                "-"
            ),
            Listed::Corrupt(e) => crate::outln!(
                "{name:<16} {:>8} {:>6} {:>9}  CORRUPT: {e}{mark}",
                "-",
                "-",
                "-"
            ),
        }
    }
    Ok(())
}

/// One listed checkpoint, verified once for either rendering.
enum Listed {
    /// It verifies.
    Ok(Box<StoredCheckpoint>),
    /// Gone by now: retention renames a checkpoint away before removing it, so one listed a
    /// moment ago and missing now was removed, not corrupted.
    Removed(String),
    /// Present but does not verify (the error).
    Corrupt(String),
}

impl Listed {
    /// Verifies `dir`.
    fn of(dir: &Path) -> Self {
        match verify(dir) {
            Ok(c) => Listed::Ok(Box::new(c)),
            Err(e) if !dir.exists() => Listed::Removed(e.to_string()),
            Err(e) => Listed::Corrupt(e.to_string()),
        }
    }
}

/// `checkpoints export`: refuses to overwrite `out`, then writes the safetensors file.
fn export(checkpoint: &Path, out: &Path) -> Result<(), Failure> {
    super::refuse_existing("--out", out)?;
    let (model, step) = write_safetensors(checkpoint, out)?;
    crate::outln!("wrote {} ({model} model, step {step})", out.display());
    Ok(())
}

/// Writes the checkpoint's weights to `out` (atomically) as safetensors with PyTorch names and
/// layouts (`layers.0.weight` as [out, in], `conv1.weight` as [out, in, kh, kw]); returns the
/// model kind and global step.
pub(super) fn write_safetensors(
    checkpoint: &Path,
    out: &Path,
) -> Result<(&'static str, usize), Failure> {
    let export = crate::backend::pytorch_export(checkpoint)?;
    write_atomic(out, &export.bytes)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", out.display())))?;
    Ok((export.model, export.global_step))
}
