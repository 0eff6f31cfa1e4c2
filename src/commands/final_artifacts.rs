//! Files a run leaves for people and tools: `model.safetensors` (the newest checkpoint's
//! weights in PyTorch layout, when it finished) and `loss.png` (the loss curve, however it
//! ended). Neither is essential: a failure is a warning, never a failed run.

use super::checkpoints::write_safetensors;
use crate::checkpoint::checkpoint_names;
use crate::fsutil::write_atomic;
use crate::observe::{LossHistory, read_loss_history};
use crate::run::RunLayout;
use std::path::Path;
use trainer_core::train::RunStatus;
use trainer_plots::{Chart, Color, Mark, Marker, Scale, Series, render_png};

/// Training-loss points at most on the curve (about one per pixel column).
const LOSS_POINTS: usize = 800;

/// Writes `loss.png` into `run_dir` for a run that ended with `status`, and
/// `model.safetensors` when it finished, has checkpoints and its model exports (the built-in
/// ones).
pub(super) fn write_final_artifacts(
    run_dir: &Path,
    model: &str,
    exports_weights: bool,
    status: RunStatus,
) {
    let layout = RunLayout::of(run_dir);
    let checkpoints = layout.checkpoints();
    let newest = checkpoint_names(&checkpoints)
        .ok()
        .and_then(|names| names.into_iter().next())
        .filter(|_| exports_weights && status == RunStatus::Finished);
    if let Some(newest) = newest {
        let out = layout.model();
        match write_safetensors(&checkpoints.join(&newest), &out) {
            Ok((_, step)) => crate::outln!("weights: {} (step {step})", out.display()),
            Err(f) => eprintln!("warning: {}: {:#}", out.display(), f.error),
        }
    }
    let out = layout.loss_curve();
    let history = match read_loss_history(&layout.journal(), LOSS_POINTS) {
        Ok(h) if !h.train.is_empty() => h,
        Ok(_) => return, // stopped before its first step: no curve to draw
        Err(e) => return eprintln!("warning: {e}"),
    };
    let run = run_dir.file_name().map_or_else(
        || run_dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    write_chart(&loss_chart(&run, model, &history, status), &out);
}

/// Draws `chart` into the PNG file `out`; a chart that cannot be drawn or written is a warning.
pub(super) fn write_chart(chart: &Chart, out: &Path) {
    let written = render_png(chart)
        .map_err(|e| e.to_string())
        .and_then(|png| write_atomic(out, &png).map_err(|e| e.to_string()));
    if let Err(e) = written {
        eprintln!("warning: {}: {e}", out.display());
    }
}

/// The loss curve: training loss (line), validation loss (dots), a red line where a run that
/// did not finish stopped; a log y axis when the losses span more than three decades.
fn loss_chart(run: &str, model: &str, history: &LossHistory, status: RunStatus) -> Chart {
    let (lo, hi) = history
        .train
        .iter()
        .chain(&history.valid)
        .fold((f64::INFINITY, 0f64), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let train_label = match history.steps_per_point {
        1 => "training loss".to_string(),
        n => format!("training loss (mean of {n} steps)"),
    };
    let mut series = vec![Series {
        label: train_label,
        points: history.train.clone(),
        color: Color::Blue,
        mark: Mark::Line,
    }];
    if !history.valid.is_empty() {
        series.push(Series {
            label: "validation loss".into(),
            points: history.valid.clone(),
            color: Color::Orange,
            mark: Mark::LineAndDots,
        });
    }
    let markers = match status {
        RunStatus::Finished => Vec::new(),
        other => vec![Marker {
            x: history.last_step as f64,
            label: format!("{} at step {}", other.mlflow_name(), history.last_step),
            color: Color::Red,
        }],
    };
    Chart {
        title: format!("{run}: {model} loss ({})", status.name()),
        x_label: "step".into(),
        y_label: "loss".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::fitting(lo, hi),
        x_categories: Vec::new(),
        series,
        markers,
    }
}
