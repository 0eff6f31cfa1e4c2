//! `fit`: the training loop, generic over the backend. Reads top to bottom.

use super::cadence::{checkpoint_due, step_seed};
use super::record::{model_from_bytes, model_to_bytes};
use super::{AnyOptimizer, EvalResult, Event, Observer, Split, TrainError, evaluate, train_step};
use crate::checkpoint::{CheckpointStore, FORMAT_VERSION, Snapshot, TrainState};
use crate::config::Config;
use crate::data::{Splits, epoch_order, fill_batch};
use crate::model::{Classifier, check_input};
use burn::module::{AutodiffModule, Module};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What a finished run reports (the run summary is built from it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    /// Epochs completed.
    pub epochs: usize,
    /// Optimizer steps taken in the whole run (resumed parts included).
    pub steps: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Training samples processed by this process.
    pub samples: usize,
    /// Seconds this process spent in training steps (evaluation excluded).
    pub train_seconds: f64,
    /// Training throughput of this process.
    pub samples_per_sec: f64,
    /// Mean training loss of the last epoch.
    pub final_train_loss: f64,
    /// Validation result after the last epoch (None when the validation split is empty).
    pub valid: Option<EvalResult>,
    /// Test result at the end.
    pub test: EvalResult,
}

/// How `fit` ended.
#[derive(Debug, Clone, PartialEq)]
pub enum FitOutcome {
    /// All epochs ran and the test split was evaluated.
    Finished(FitReport),
    /// The stop flag was raised; a checkpoint was saved if a store was given.
    Interrupted {
        /// Steps done.
        global_step: usize,
        /// Name of the checkpoint saved on the way out.
        checkpoint: Option<String>,
    },
}

/// The ports `fit` talks to, injected by the caller.
pub struct FitPorts<'a> {
    /// Receives every event.
    pub observer: &'a mut dyn Observer,
    /// Where checkpoints go (None: no checkpoints).
    pub store: Option<&'a mut dyn CheckpointStore>,
    /// Raised (e.g. by a signal handler) to stop after the current step.
    pub stop: Option<&'a AtomicBool>,
    /// Tracker run id recorded in checkpoints.
    pub tracker_run_id: String,
}

/// The trained model and how the run ended.
pub struct Fitted<B: AutodiffBackend> {
    /// How it ended.
    pub outcome: FitOutcome,
    /// The model as it is at the end.
    pub model: Classifier<B>,
}

/// Where the loop is; saved in checkpoints.
struct Position {
    epoch: usize,
    batch: usize,
    global_step: usize,
    epoch_loss_sum: f64,
    metric: Option<f64>,
    best: Option<f64>,
}

/// Trains the configured model on `data.train` (continuing `resume` if given), validating each
/// epoch and testing at the end.
pub fn fit<B: AutodiffBackend>(
    cfg: &Config,
    data: &Splits,
    backend: &str,
    device: &B::Device,
    resume: Option<&Snapshot>,
    mut ports: FitPorts<'_>,
) -> Result<Fitted<B>, TrainError> {
    let shape = data.train.feature_shape();
    check_input(&cfg.model, shape).map_err(TrainError::Data)?;
    let classes = data.train.num_classes().max(data.test.num_classes());
    if data.train.is_empty() {
        return Err(TrainError::Data(
            "the training split is empty (lower data.validation_fraction)".into(),
        ));
    }
    B::seed(device, cfg.run.seed);
    let mut model = Classifier::<B>::new(&cfg.model, shape, classes, device);
    let mut optim = AnyOptimizer::<B>::new(&cfg.train);
    let mut pos = Position {
        epoch: 0,
        batch: 0,
        global_step: 0,
        epoch_loss_sum: 0.0,
        metric: None,
        best: None,
    };
    if let Some(snap) = resume {
        let s = &snap.state;
        if s.model != cfg.model.kind.name() || s.input_shape != shape || s.num_classes != classes {
            return Err(TrainError::Data(format!(
                "the checkpoint holds a {} model for {:?} inputs and {} classes; this run builds a {} model for {shape:?} inputs and {classes} classes",
                s.model,
                s.input_shape,
                s.num_classes,
                cfg.model.kind.name()
            )));
        }
        model = model_from_bytes(model, snap.model.clone(), device)?; // first: it restores param ids
        optim = optim.from_bytes(snap.optimizer.clone(), device)?;
        let s = &snap.state;
        pos = Position {
            epoch: s.epoch,
            batch: s.batch_in_epoch,
            global_step: s.global_step,
            epoch_loss_sum: s.epoch_loss_sum,
            metric: s.metric,
            best: s.best_metric,
        };
    }
    let (t, n) = (&cfg.train, data.train.len());
    let steps_per_epoch = if t.drop_last {
        n / t.batch_size
    } else {
        n.div_ceil(t.batch_size)
    };
    if steps_per_epoch == 0 {
        return Err(TrainError::Data(format!(
            "train.batch_size = {} exceeds the {n} training samples with train.drop_last = true",
            t.batch_size
        )));
    }
    ports.observer.on_event(&Event::RunStarted {
        backend: backend.to_string(),
        device: format!("{device:?}"),
        parameters: model.num_params(),
        train_samples: n,
        steps_per_epoch,
        epochs: t.epochs,
        resumed_at_step: pos.global_step,
    });

    let (mut samples, mut train_seconds, mut last_loss, mut valid) = (0, 0.0, f64::NAN, None);
    let (mut last_save, mut steps_since_save) = (Instant::now(), 0);
    while pos.epoch < t.epochs {
        let epoch = pos.epoch;
        ports.observer.on_event(&Event::EpochStarted { epoch });
        let started = Instant::now();
        let order = epoch_order(cfg.run.seed, epoch, n);
        let (mut window, mut window_steps, mut epoch_samples) = (None, 0, 0);
        let batches = order
            .chunks(t.batch_size)
            .take(steps_per_epoch)
            .enumerate()
            .skip(pos.batch);
        for (i, indices) in batches {
            let batch = fill_batch(data.train.as_ref(), indices);
            B::seed(device, step_seed(cfg.run.seed, pos.global_step));
            let out = train_step(model, &mut optim, &batch, t.lr, device);
            model = out.model;
            // Sum losses on the device; reading one back forces a sync, so only every log_every.
            window = Some(window.map_or(out.loss.clone(), |w| w + out.loss));
            (window_steps, pos.global_step, pos.batch) =
                (window_steps + 1, pos.global_step + 1, i + 1);
            epoch_samples += batch.len();
            steps_since_save += 1;
            let end_of_epoch = i + 1 == steps_per_epoch;
            if (i + 1) % t.log_every == 0 || end_of_epoch {
                let sum = read_scalar(window.take())?;
                pos.epoch_loss_sum += sum;
                let elapsed = started.elapsed().as_secs_f64();
                ports.observer.on_event(&Event::Step {
                    epoch,
                    step_in_epoch: i + 1,
                    global_step: pos.global_step,
                    loss: sum / window_steps as f64,
                    lr: t.lr,
                    samples_per_sec: epoch_samples as f64 / elapsed.max(1e-9),
                });
                window_steps = 0;
            }
            let stop = ports.stop.is_some_and(|s| s.load(Ordering::SeqCst));
            if !end_of_epoch
                && (stop
                    || checkpoint_due(
                        &cfg.checkpoint,
                        steps_since_save,
                        last_save.elapsed().as_secs_f64(),
                    ))
            {
                pos.epoch_loss_sum += read_scalar(window.take())?; // the checkpoint holds whole sums
                let name = save(
                    &mut ports,
                    cfg,
                    &model,
                    &optim,
                    &pos,
                    (shape, classes),
                    stop,
                )?;
                (last_save, steps_since_save) = (Instant::now(), 0);
                if stop {
                    return Ok(Fitted {
                        outcome: FitOutcome::Interrupted {
                            global_step: pos.global_step,
                            checkpoint: name,
                        },
                        model,
                    });
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        train_seconds += seconds;
        samples += epoch_samples;
        last_loss = pos.epoch_loss_sum / steps_per_epoch as f64;
        ports.observer.on_event(&Event::EpochEnded {
            epoch,
            train_loss: last_loss,
            seconds,
            samples_per_sec: epoch_samples as f64 / seconds.max(1e-9),
        });
        if !data.valid.is_empty() {
            let r = evaluate(
                &model.valid(),
                data.valid.as_ref(),
                cfg.data.eval_batch_size,
                device,
            )?;
            ports
                .observer
                .on_event(&eval_event(Some(epoch), Split::Valid, &r));
            pos.metric = Some(r.accuracy);
            pos.best = Some(pos.best.map_or(r.accuracy, |b: f64| b.max(r.accuracy)));
            valid = Some(r);
        }
        (pos.epoch, pos.batch, pos.epoch_loss_sum) = (epoch + 1, 0, 0.0);
        let stop = ports.stop.is_some_and(|s| s.load(Ordering::SeqCst));
        if cfg.checkpoint.at_epoch_end
            || stop
            || checkpoint_due(
                &cfg.checkpoint,
                steps_since_save,
                last_save.elapsed().as_secs_f64(),
            )
        {
            let name = save(
                &mut ports,
                cfg,
                &model,
                &optim,
                &pos,
                (shape, classes),
                stop,
            )?;
            (last_save, steps_since_save) = (Instant::now(), 0);
            if stop && pos.epoch < t.epochs {
                return Ok(Fitted {
                    outcome: FitOutcome::Interrupted {
                        global_step: pos.global_step,
                        checkpoint: name,
                    },
                    model,
                });
            }
        }
    }
    let test = evaluate(
        &model.valid(),
        data.test.as_ref(),
        cfg.data.eval_batch_size,
        device,
    )?;
    ports
        .observer
        .on_event(&eval_event(None, Split::Test, &test));
    let report = FitReport {
        epochs: t.epochs,
        steps: pos.global_step,
        parameters: model.num_params(),
        samples,
        train_seconds,
        samples_per_sec: samples as f64 / train_seconds.max(1e-9),
        final_train_loss: last_loss,
        valid,
        test,
    };
    Ok(Fitted {
        outcome: FitOutcome::Finished(report),
        model,
    })
}

/// Saves a checkpoint through the store port, if there is one.
fn save<B: AutodiffBackend>(
    ports: &mut FitPorts<'_>,
    cfg: &Config,
    model: &Classifier<B>,
    optim: &AnyOptimizer<B>,
    pos: &Position,
    model_shape: ([usize; 3], usize),
    interrupted: bool,
) -> Result<Option<String>, TrainError> {
    let Some(store) = ports.store.as_deref_mut() else {
        return Ok(None);
    };
    let snapshot = Snapshot {
        state: TrainState {
            format_version: FORMAT_VERSION,
            trainer_version: env!("CARGO_PKG_VERSION").to_string(),
            model: cfg.model.kind.name().to_string(),
            input_shape: model_shape.0,
            num_classes: model_shape.1,
            epoch: pos.epoch,
            batch_in_epoch: pos.batch,
            global_step: pos.global_step,
            epoch_loss_sum: pos.epoch_loss_sum,
            seed: cfg.run.seed,
            metric: pos.metric,
            best_metric: pos.best,
            tracker_run_id: ports.tracker_run_id.clone(),
            interrupted,
        },
        model: model_to_bytes(model)?,
        optimizer: optim.to_bytes()?,
        config_toml: cfg.to_toml(),
    };
    let name = store
        .save(&snapshot)
        .map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    ports.observer.on_event(&Event::CheckpointSaved {
        name: name.clone(),
        global_step: pos.global_step,
    });
    Ok(Some(name))
}

fn eval_event(epoch: Option<usize>, split: Split, r: &EvalResult) -> Event {
    Event::Evaluated {
        epoch,
        split,
        loss: r.loss,
        accuracy: r.accuracy,
        samples: r.samples,
    }
}

/// Reads a one-element tensor back to the host (a device sync); `None` reads as 0.
pub fn read_scalar<B: Backend>(t: Option<Tensor<B, 1>>) -> Result<f64, TrainError> {
    let Some(t) = t else { return Ok(0.0) };
    let data = t
        .try_into_data()
        .map_err(|e| TrainError::Backend(format!("{e:?}")))?;
    data.convert::<f64>()
        .to_vec::<f64>()
        .ok()
        .and_then(|v| v.first().copied())
        .ok_or_else(|| TrainError::Backend("loss read-back was empty".into()))
}
