//! `fit`: the training loop. It drives a [`Learner`] (one model, its optimizer and data on one
//! backend) through the run's epochs and steps, and owns everything between the steps: the
//! position, loss read-backs and the divergence guard, validation and early stopping,
//! checkpoints, stops and events. It names no backend and no model, so it is compiled once:
//! editing it rebuilds this crate and the binary, not the backends' monomorphized jobs.

mod epoch;
mod guards;
mod plan;
mod save;
mod window;

use epoch::{EpochEnd, close_epoch, train_epoch};
use guards::{eval_event, stops_early};
use plan::{RunPlan, Totals};
use save::SaveClock;
use std::time::Instant;
use trainer_core::checkpoint::{Position, Snapshot};
use trainer_core::config::Config;
use trainer_core::train::{
    Event, FitOutcome, FitPorts, Learner, Observer, Split, TrainError, initial_loss_scale,
};

/// Trains `learner` per `cfg` from the position of `resume` (whose weights and optimizer state
/// the learner was prepared with), reporting through `ports`; the test split is evaluated at
/// the end.
pub fn fit(
    cfg: &Config,
    learner: &mut dyn Learner,
    resume: Option<&Snapshot>,
    mut ports: FitPorts<'_>,
) -> Result<FitOutcome, TrainError> {
    let run = RunPlan::new(cfg, learner.train_samples())?;
    let mut pos = resume.map_or_else(Position::default, |s| s.state.position.clone());
    // An f16 run keeps its scaler across a resume; other precisions have none.
    pos.loss_scale =
        initial_loss_scale(cfg.run.precision).map(|fresh| pos.loss_scale.unwrap_or(fresh));
    let t = &cfg.train;
    let info = learner.info();
    ports.observer.on_event(&Event::RunStarted {
        model: info.model,
        backend: info.backend,
        device: info.device,
        parameters: info.parameters,
        train_samples: run.samples,
        steps_per_epoch: run.steps_per_epoch,
        epochs: t.epochs,
        resumed_at_step: pos.global_step,
    });

    let mut totals = Totals::default();
    let mut skipped = std::collections::BTreeSet::new();
    let mut clock = SaveClock::new();
    while pos.epoch < t.epochs {
        let epoch = pos.epoch;
        ports.observer.on_event(&Event::EpochStarted { epoch });
        let started = Instant::now();
        let parts = (&mut pos, &mut clock, &mut ports);
        let trained = train_epoch(&run, learner, parts)?;
        let parts = (&mut pos, &mut clock, &mut ports);
        if let EpochEnd::Stopped(outcome) =
            close_epoch(&run, learner, trained, parts, &mut totals, started)?
        {
            return Ok(outcome);
        }
        note_skipped(learner, &mut skipped, &mut *ports.observer);
        if stops_early(t, &pos) && pos.epoch < t.epochs {
            totals.stopped_early = true;
            tracing::info!(
                epochs = pos.epoch,
                patience = t.early_stopping_patience,
                "early stopping: the validation metric did not improve"
            );
            break;
        }
    }
    let test = learner.evaluate(Split::Test, cfg.data.eval_batch_size, run.loader)?;
    if test.samples > 0 {
        ports
            .observer
            .on_event(&eval_event(None, Split::Test, &test));
    }
    note_skipped(learner, &mut skipped, &mut *ports.observer);
    let report = totals.report(&pos, info.parameters, test, skipped.into_iter().collect());
    Ok(FitOutcome::Finished(Box::new(report)))
}

/// Writes a `SamplesSkipped` event for the files any split has left out since `reported`
/// (which it then includes).
fn note_skipped(
    learner: &dyn Learner,
    reported: &mut std::collections::BTreeSet<String>,
    observer: &mut dyn Observer,
) {
    let fresh: Vec<String> = learner
        .skipped()
        .into_iter()
        .filter(|f| !reported.contains(f))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if fresh.is_empty() {
        return;
    }
    reported.extend(fresh.iter().cloned());
    observer.on_event(&Event::SamplesSkipped {
        files: fresh,
        total: reported.len(),
    });
}
