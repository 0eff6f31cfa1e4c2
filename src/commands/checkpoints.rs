//! `trainer checkpoints ls|verify|export`.

use super::Failure;
use crate::checkpoint::{DirStore, Retention, load, verify};
use crate::cli::CheckpointsCommand;
use crate::config::Config;
use crate::model::Classifier;
use crate::train::model_from_bytes;
use anyhow::anyhow;
use burn::backend::Flex;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use std::path::Path;

/// Runs a `checkpoints` subcommand.
pub fn checkpoints(cmd: CheckpointsCommand) -> Result<(), Failure> {
    match cmd {
        CheckpointsCommand::Ls { run } => ls(&run),
        CheckpointsCommand::Verify { checkpoint } => {
            let c = verify(&checkpoint).map_err(Failure::input)?;
            println!(
                "ok: {} (format {}, {} model, epoch {}, batch {}, step {})",
                checkpoint.display(),
                c.state.format_version,
                c.state.model,
                c.state.epoch,
                c.state.batch_in_epoch,
                c.state.global_step
            );
            Ok(())
        }
        CheckpointsCommand::Export { checkpoint, out } => export(&checkpoint, &out),
    }
}

fn ls(run: &Path) -> Result<(), Failure> {
    let root = if run.join("checkpoints").is_dir() {
        run.join("checkpoints")
    } else {
        run.to_path_buf()
    };
    if !root.is_dir() {
        return Err(Failure::input(anyhow!(
            "{}: no such run or checkpoint directory",
            run.display()
        )));
    }
    let store = DirStore::open(
        &root,
        Retention {
            keep_last: usize::MAX,
            keep_best: true,
        },
    )
    .map_err(Failure::runtime)?;
    let latest = std::fs::read_to_string(root.join("latest")).unwrap_or_default();
    println!(
        "{:<16} {:>8} {:>6} {:>9}  status",
        "checkpoint", "step", "epoch", "val acc"
    );
    for name in store.names().map_err(Failure::runtime)? {
        let mark = if name == latest.trim() {
            " (latest)"
        } else {
            ""
        };
        match verify(&root.join(&name)) {
            Ok(c) => println!(
                "{name:<16} {:>8} {:>6} {:>9}  ok{}{mark}",
                c.state.global_step,
                c.state.epoch,
                c.state
                    .metric
                    .map_or("-".into(), |m| format!("{:.2}%", m * 100.0)),
                if c.state.interrupted {
                    ", interrupted"
                } else {
                    ""
                }
            ),
            Err(e) => println!(
                "{name:<16} {:>8} {:>6} {:>9}  CORRUPT: {e}{mark}",
                "-", "-", "-"
            ),
        }
    }
    Ok(())
}

/// Writes the checkpoint's weights as safetensors with PyTorch names and layouts
/// (`layers.0.weight` as [out, in], `conv1.weight` as [out, in, kh, kw]).
fn export(checkpoint: &Path, out: &Path) -> Result<(), Failure> {
    if out.exists() {
        return Err(Failure::input(anyhow!(
            "{}: already exists; not overwriting it",
            out.display()
        )));
    }
    let snap = load(checkpoint).map_err(Failure::input)?;
    let cfg: Config = toml::from_str(&snap.config_toml).map_err(|e| {
        Failure::input(anyhow!(
            "{}: config.toml: {}",
            checkpoint.display(),
            e.message().trim()
        ))
    })?;
    let device = Default::default();
    let model = Classifier::<Flex>::new(
        &cfg.model,
        snap.state.input_shape,
        snap.state.num_classes,
        &device,
    );
    let model = model_from_bytes(model, snap.model, &device).map_err(Failure::input)?;
    let mut store = SafetensorsStore::from_file(out)
        .with_to_adapter(BurnToPyTorchAdapter)
        // The model enum's variant (`Mlp.`, `Cnn.`) is not part of the PyTorch module's names.
        .with_key_remapping(r"^(Mlp|Cnn)\.", "")
        .metadata("producer", "trainer")
        .metadata("model", cfg.model.kind.name())
        .metadata("global_step", snap.state.global_step.to_string());
    model
        .save_into(&mut store)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", out.display())))?;
    println!(
        "wrote {} ({} model, step {})",
        out.display(),
        cfg.model.kind.name(),
        snap.state.global_step
    );
    Ok(())
}
