//! Files a finished run leaves for people and tools: `model.safetensors` (the newest
//! checkpoint's weights in PyTorch layout) and `loss.png` (the loss curve). Neither is
//! essential: a failure is a warning, never a failed run.

use super::checkpoints::write_safetensors;
use crate::checkpoint::checkpoint_names;
use crate::fsutil::write_atomic;
use crate::observe::{PlotError, loss_curve_png};
use crate::run::RunLayout;
use std::path::Path;

/// Writes `model.safetensors` (if the run has checkpoints of an image model, which is what the
/// export covers) and `loss.png` into `run_dir`.
pub(super) fn write_final_artifacts(run_dir: &Path, image_model: bool) {
    let layout = RunLayout::of(run_dir);
    let checkpoints = layout.checkpoints();
    let newest = checkpoint_names(&checkpoints)
        .ok()
        .and_then(|names| names.into_iter().next())
        .filter(|_| image_model);
    if let Some(newest) = newest {
        let out = layout.model();
        match write_safetensors(&checkpoints.join(&newest), &out) {
            Ok((_, step)) => crate::outln!("weights: {} (step {step})", out.display()),
            Err(f) => eprintln!("warning: {}: {:#}", out.display(), f.error),
        }
    }
    let out = layout.loss_curve();
    match loss_curve_png(&layout.journal()) {
        Ok(bytes) => {
            if let Err(e) = write_atomic(&out, &bytes) {
                eprintln!("warning: {}: {e}", out.display());
            }
        }
        Err(PlotError::Empty(_)) => {}
        Err(e) => eprintln!("warning: {e}"),
    }
}
