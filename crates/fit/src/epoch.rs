//! One epoch: its steps (loss read-backs, the divergence guard, mid-epoch checkpoints and
//! stops), then its end (totals, validation, the epoch-end checkpoint).

use crate::guards::{diverged, eval_event, stops_early, track_best};
use crate::plan::{RunPlan, Totals};
use crate::save::{SaveClock, checkpoint, stop_requested};
use crate::window::LossWindow;
use std::time::Instant;
use trainer_core::checkpoint::{Position, SmoothedLoss};
use trainer_core::data::BatchList;
use trainer_core::train::{
    Event, FitOutcome, FitPorts, Learner, Split, StepPlan, StepSettings, Stepped, TrainError,
    learning_rate, step_seed,
};

/// How the batches of one epoch ended.
pub(crate) enum EpochEnd {
    /// Every batch was trained on.
    Completed {
        /// Samples trained on in this process.
        samples: usize,
    },
    /// A stop was requested and handled (checkpoint saved): the run ends with this.
    Stopped(FitOutcome),
}

/// The loop's mutable parts an epoch advances.
pub(crate) type EpochParts<'o, 'p> = (&'o mut Position, &'o mut SaveClock, &'o mut FitPorts<'p>);

/// Trains on the rest of epoch `pos.epoch` from batch `pos.batch`: steps, loss read-backs,
/// mid-epoch checkpoints and stops.
pub(crate) fn train_epoch(
    run: &RunPlan<'_>,
    learner: &mut dyn Learner,
    (pos, clock, ports): EpochParts<'_, '_>,
) -> Result<EpochEnd, TrainError> {
    let (cfg, t, epoch) = (run.cfg, &run.cfg.train, pos.epoch);
    let started = Instant::now();
    let (mut window, mut samples) = (LossWindow::default(), 0);
    let batches = BatchList::epoch(&run.batches, epoch, run.samples);
    learner.start_epoch(batches, pos.batch, run.loader);
    loop {
        let settings = StepSettings {
            lr: learning_rate(t, pos.global_step, run.total_steps),
            clip_norm: t.grad_clip_norm,
        };
        let plan = StepPlan {
            seed: step_seed(cfg.run.seed, pos.global_step),
            settings,
            loss_scale: pos.loss_scale.as_mut(),
        };
        let Some(stepped) = learner.step(plan) else {
            break;
        };
        let Stepped { index: i, rows } = stepped?;
        window.push();
        (pos.global_step, pos.batch) = (pos.global_step + 1, i + 1);
        if pos.smoothed_loss.is_none() && t.divergence_factor > 0.0 {
            // The divergence guard's first reference is the untrained model's loss (one
            // read-back, once a run): a run that explodes within its first window is caught.
            let first = window.sync(learner, pos.global_step)?;
            pos.epoch_loss_sum += first;
            pos.smoothed_loss = Some(SmoothedLoss { first, best: first });
        }
        samples += rows; // the global batch's: every rank's share in a multi-process job
        clock.steps += 1;
        let end_of_epoch = i + 1 == run.steps_per_epoch;
        if (i + 1) % t.log_every == 0 || end_of_epoch {
            pos.epoch_loss_sum += window.sync(learner, pos.global_step)?;
            let elapsed = started.elapsed().as_secs_f64();
            let loss = window.take_mean();
            ports.observer.on_event(&Event::Step {
                epoch,
                step_in_epoch: i + 1,
                global_step: pos.global_step,
                loss,
                lr: settings.lr,
                samples_per_sec: samples as f64 / elapsed.max(1e-9),
            });
            let factor = t.divergence_factor;
            SmoothedLoss::observe(&mut pos.smoothed_loss, loss, factor)
                .map_err(|r| diverged(pos.global_step, loss, factor, r))?;
        }
        if let Some(failure) = ports.observer.failure() {
            return Err(TrainError::Background(failure));
        }
        let stop = stop_requested(ports);
        // A checkpoint waits for the end of an accumulation window: it cannot hold
        // gradients that are not applied yet.
        let between_updates = !learner.accumulating();
        if !end_of_epoch && between_updates && (stop || clock.due(&cfg.checkpoint)) {
            pos.epoch_loss_sum += window.sync(learner, pos.global_step)?; // checkpoints hold whole sums
            // A checkpoint is "last good" only if the loss so far is: diverged weights with
            // finite values must not become the state `latest` and `--resume` trust.
            if let Some(reference) = pos.smoothed_loss {
                let loss = window.peek_mean();
                reference
                    .check(loss, t.divergence_factor)
                    .map_err(|r| diverged(pos.global_step, loss, t.divergence_factor, r))?;
            }
            if let Some(outcome) = checkpoint(ports, learner, pos, stop, clock)? {
                return Ok(EpochEnd::Stopped(outcome));
            }
        }
    }
    Ok(EpochEnd::Completed { samples })
}

/// After an epoch's batches (passing a stop through): its end event and totals, validation,
/// and the epoch-end checkpoint (which ends the run when a stop was requested).
pub(crate) fn close_epoch(
    run: &RunPlan<'_>,
    learner: &mut dyn Learner,
    ended: EpochEnd,
    (pos, clock, ports): EpochParts<'_, '_>,
    totals: &mut Totals,
    started: Instant,
) -> Result<EpochEnd, TrainError> {
    let EpochEnd::Completed { samples } = ended else {
        return Ok(ended);
    };
    let (cfg, epoch) = (run.cfg, pos.epoch);
    let seconds = started.elapsed().as_secs_f64();
    totals.train_seconds += seconds;
    totals.samples += samples;
    totals.last_loss = pos.epoch_loss_sum / run.steps_per_epoch as f64;
    ports.observer.on_event(&Event::EpochEnded {
        epoch,
        train_loss: totals.last_loss,
        seconds,
        samples_per_sec: samples as f64 / seconds.max(1e-9),
    });
    if learner.samples(Split::Valid) > 0 {
        let bs = cfg.data.eval_batch_size;
        let r = learner.evaluate(Split::Valid, bs, run.loader)?;
        ports
            .observer
            .on_event(&eval_event(Some(epoch), Split::Valid, &r));
        track_best(&cfg.checkpoint, pos, &r);
        totals.valid = Some(r);
    }
    (pos.epoch, pos.batch, pos.epoch_loss_sum) = (epoch + 1, 0, 0.0);
    let stop = stop_requested(ports);
    // The run's final state is always saved, whatever the save triggers say: it is what
    // `model.safetensors`, `eval` and `--resume` read.
    let last = pos.epoch >= cfg.train.epochs || stops_early(&cfg.train, pos);
    if cfg.checkpoint.at_epoch_end || stop || last || clock.due(&cfg.checkpoint) {
        // After the last epoch a stop changes nothing: the test split is evaluated anyway.
        if let Some(outcome) = checkpoint(ports, learner, pos, stop, clock)?
            && pos.epoch < cfg.train.epochs
        {
            return Ok(EpochEnd::Stopped(outcome));
        }
    }
    Ok(EpochEnd::Completed { samples })
}
