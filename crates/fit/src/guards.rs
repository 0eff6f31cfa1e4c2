//! The loop's decisions about the run's health and end: divergence, the best validation
//! metric and early stopping.

use trainer_core::checkpoint::Position;
use trainer_core::config::{BestMetric, BestMode, CheckpointConfig, TrainConfig};
use trainer_core::train::{EvalResult, Event, Split, TrainError};

/// The divergence guard's error: the smoothed `loss` at `step` passed `factor` times its
/// `reference`.
pub(crate) fn diverged(step: usize, loss: f64, factor: f64, reference: f64) -> TrainError {
    TrainError::Diverged {
        step,
        what: format!(
            "the smoothed training loss {loss:.4e} is over train.divergence_factor = {factor} times its reference {reference:.4e} (the best so far)"
        ),
    }
}

/// Whether early stopping ends the run here: `patience` validations in a row without
/// improvement (0 turns it off).
pub(crate) fn stops_early(t: &TrainConfig, pos: &Position) -> bool {
    t.early_stopping_patience > 0 && pos.stale_epochs >= t.early_stopping_patience
}

/// Records a validation result as the run's metric and counts epochs without improvement.
pub(crate) fn track_best(cfg: &CheckpointConfig, pos: &mut Position, r: &EvalResult) {
    let m = match cfg.best_metric {
        // Config validation keeps accuracy off regression runs; NaN never improves.
        BestMetric::ValidAccuracy => r.accuracy.unwrap_or(f64::NAN),
        BestMetric::ValidLoss => r.loss,
    };
    pos.metric = Some(m);
    let improved = match (pos.best, cfg.best_mode) {
        (None, _) => true,
        (Some(b), BestMode::Max) => m > b,
        (Some(b), BestMode::Min) => m < b,
    };
    if improved {
        (pos.best, pos.stale_epochs) = (Some(m), 0);
    } else {
        pos.stale_epochs += 1;
    }
}

/// The event of an evaluation after `epoch` (None: the final test).
pub(crate) fn eval_event(epoch: Option<usize>, split: Split, r: &EvalResult) -> Event {
    Event::Evaluated {
        epoch,
        split,
        result: *r,
    }
}
