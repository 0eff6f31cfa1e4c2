//! `fit`: the training loop, generic over the backend. Reads top to bottom.

use super::accumulate::Accumulation;
use super::cadence::{checkpoint_due, step_seed};
use super::record::model_from_bytes;
use super::schedule::learning_rate;
use super::snapshot::{ModelSpec, Position, SaveContext, snapshot};
use super::step::{StepSettings, gradients, update};
use super::{
    AnyOptimizer, EvalResult, Event, Observer, Split, TrainError, check_fits, count_params,
    evaluate, params_finite,
};
use crate::checkpoint::{CheckpointStore, Snapshot};
use crate::config::{BestMetric, BestMode, Config};
use crate::data::{
    BatchList, BatchSource, EpochPlan, Loader, LoaderSettings, Samples, Splits, batches_per_epoch,
};
use crate::model::{Classifier, Trainable, check_input};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What a finished run reports (the run summary is built from it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    /// Epochs completed (fewer than configured when stopped early).
    pub epochs: usize,
    /// True when early stopping ended the run before `train.epochs`.
    pub stopped_early: bool,
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
    /// Test result at the end (NaN metrics and 0 samples when the test split is empty).
    pub test: EvalResult,
}

/// How `fit` ended.
#[derive(Debug, Clone, PartialEq)]
pub enum FitOutcome {
    /// All epochs ran and the test split was evaluated.
    Finished(Box<FitReport>),
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
    /// Memory a model's weights, gradients and optimizer state may take (None: unchecked).
    pub memory_budget: Option<u64>,
}

/// The trained model and how the run ended.
pub struct Fitted<M> {
    /// How it ended.
    pub outcome: FitOutcome,
    /// The model as it is at the end.
    pub model: M,
}

/// The model a run trains: its identity in checkpoints and how to build it fresh.
pub struct ModelPlan<F> {
    /// Architecture and assets, recorded in every checkpoint.
    pub spec: ModelSpec,
    /// Builds the freshly initialized model on a device (after the run's seed is set).
    pub build: F,
}

/// Trains the configured image model on `data.train` (continuing `resume` if given), validating
/// each epoch and testing at the end.
pub fn fit<B: AutodiffBackend>(
    cfg: &Config,
    data: &Splits,
    backend: &str,
    device: &B::Device,
    resume: Option<&Snapshot>,
    ports: FitPorts<'_>,
) -> Result<Fitted<Classifier<B>>, TrainError> {
    let shape = data.train.feature_shape();
    check_input(&cfg.model, shape).map_err(TrainError::Data)?;
    let classes = data.train.num_classes().max(data.test.num_classes());
    let plan = ModelPlan {
        spec: ModelSpec {
            kind: cfg.model.kind.name().to_string(),
            input_shape: shape,
            num_classes: classes,
            assets: Default::default(),
        },
        build: |d: &B::Device| Classifier::<B>::new(&cfg.model, shape, classes, d),
    };
    fit_model(cfg, plan, data, backend, device, resume, ports)
}

/// Trains any `Trainable` model on splits of its batch source: the loop behind every task.
pub fn fit_model<B, M, S, F>(
    cfg: &Config,
    plan: ModelPlan<F>,
    data: &Splits<S>,
    backend: &str,
    device: &B::Device,
    resume: Option<&Snapshot>,
    mut ports: FitPorts<'_>,
) -> Result<Fitted<M>, TrainError>
where
    B: AutodiffBackend,
    M: Trainable<B> + AutodiffModule<B>,
    M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
    F: FnOnce(&B::Device) -> M,
{
    if data.train.is_empty() {
        return Err(TrainError::Data(
            "the training split is empty (lower data.validation_fraction)".into(),
        ));
    }
    let spec = &plan.spec;
    B::seed(device, cfg.run.seed);
    let mut model = (plan.build)(device); // parameters are allocated lazily, on first use
    let parameters = count_params(&model);
    if let Some(budget) = ports.memory_budget {
        check_fits(parameters, budget, &format!("model.{}", spec.kind))?;
    }
    let mut optim = AnyOptimizer::<B, M>::new(&cfg.train);
    let mut pos = Position::default();
    if let Some(snap) = resume {
        let s = &snap.state;
        if s.model != spec.kind
            || s.input_shape != spec.input_shape
            || s.num_classes != spec.num_classes
        {
            return Err(TrainError::Data(format!(
                "the checkpoint holds a {} model for {:?} inputs and {} classes; this run builds a {} model for {:?} inputs and {} classes",
                s.model,
                s.input_shape,
                s.num_classes,
                spec.kind,
                spec.input_shape,
                spec.num_classes
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
            stale_epochs: s.epochs_without_improvement,
        };
    }
    let (t, n) = (&cfg.train, data.train.len());
    let steps_per_epoch = batches_per_epoch(n, t.batch_size, t.drop_last);
    let total_steps = steps_per_epoch * t.epochs;
    let plan = EpochPlan {
        seed: cfg.run.seed,
        batch_size: t.batch_size,
        drop_last: t.drop_last,
    };
    let loader = LoaderSettings::resolve(cfg.data.workers, cfg.data.prefetch);
    tracing::info!(
        workers = loader.workers,
        prefetch = loader.prefetch,
        "streaming batches from the data loader"
    );
    if steps_per_epoch == 0 {
        return Err(TrainError::Data(format!(
            "train.batch_size = {} exceeds the {n} training samples with train.drop_last = true",
            t.batch_size
        )));
    }
    ports.observer.on_event(&Event::RunStarted {
        backend: backend.to_string(),
        device: format!("{device:?}"),
        parameters,
        train_samples: n,
        steps_per_epoch,
        epochs: t.epochs,
        resumed_at_step: pos.global_step,
    });

    let (mut samples, mut train_seconds, mut last_loss, mut valid) = (0, 0.0, f64::NAN, None);
    let mut stopped_early = false;
    let mut clock = SaveClock::new();
    let mut accumulation =
        Accumulation::new(t.grad_accumulation_steps, n, t.batch_size, steps_per_epoch);
    while pos.epoch < t.epochs {
        let epoch = pos.epoch;
        ports.observer.on_event(&Event::EpochStarted { epoch });
        let started = Instant::now();
        let (mut window, mut epoch_samples) = (LossWindow::default(), 0);
        let batches = BatchList::epoch(&plan, epoch, n);
        for item in Loader::start(data.train.clone(), batches, pos.batch, loader) {
            let (i, batch) = item?;
            B::seed(device, step_seed(cfg.run.seed, pos.global_step));
            let settings = StepSettings {
                lr: learning_rate(t, pos.global_step, total_steps),
                clip_norm: t.grad_clip_norm,
            };
            let (grads, loss) = gradients(&model, &batch, accumulation.weight(i), device);
            window.push(loss);
            if let Some(grads) = accumulation.add(&model, i, grads) {
                model = update(model, &mut optim, grads, settings);
            }
            (pos.global_step, pos.batch) = (pos.global_step + 1, i + 1);
            epoch_samples += batch.samples();
            clock.steps += 1;
            let end_of_epoch = i + 1 == steps_per_epoch;
            if (i + 1) % t.log_every == 0 || end_of_epoch {
                pos.epoch_loss_sum += window.sync(pos.global_step)?;
                let elapsed = started.elapsed().as_secs_f64();
                ports.observer.on_event(&Event::Step {
                    epoch,
                    step_in_epoch: i + 1,
                    global_step: pos.global_step,
                    loss: window.take_mean(),
                    lr: settings.lr,
                    samples_per_sec: epoch_samples as f64 / elapsed.max(1e-9),
                });
            }
            let stop = stop_requested(&ports);
            // A checkpoint waits for the end of an accumulation window: it cannot hold
            // gradients that are not applied yet.
            let between_updates = !accumulation.pending();
            if !end_of_epoch && between_updates && (stop || clock.due(&cfg.checkpoint)) {
                pos.epoch_loss_sum += window.sync(pos.global_step)?; // checkpoints hold whole sums
                let ctx = SaveContext {
                    cfg,
                    model: &model,
                    optim: &optim,
                    pos: &pos,
                    spec,
                };
                if let Some(outcome) = checkpoint(&mut ports, ctx, stop, &mut clock)? {
                    return Ok(Fitted { outcome, model });
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
                &data.valid,
                cfg.data.eval_batch_size,
                loader,
                device,
            )?;
            ports
                .observer
                .on_event(&eval_event(Some(epoch), Split::Valid, &r));
            let m = match cfg.checkpoint.best_metric {
                // Config validation keeps accuracy off regression runs; NaN never improves.
                BestMetric::ValidAccuracy => r.accuracy.unwrap_or(f64::NAN),
                BestMetric::ValidLoss => r.loss,
            };
            pos.metric = Some(m);
            let improved = match (pos.best, cfg.checkpoint.best_mode) {
                (None, _) => true,
                (Some(b), BestMode::Max) => m > b,
                (Some(b), BestMode::Min) => m < b,
            };
            if improved {
                (pos.best, pos.stale_epochs) = (Some(m), 0);
            } else {
                pos.stale_epochs += 1;
            }
            valid = Some(r);
        }
        (pos.epoch, pos.batch, pos.epoch_loss_sum) = (epoch + 1, 0, 0.0);
        let stop = stop_requested(&ports);
        if cfg.checkpoint.at_epoch_end || stop || clock.due(&cfg.checkpoint) {
            let ctx = SaveContext {
                cfg,
                model: &model,
                optim: &optim,
                pos: &pos,
                spec,
            };
            // After the last epoch a stop changes nothing: the test split is evaluated anyway.
            if let Some(outcome) = checkpoint(&mut ports, ctx, stop, &mut clock)?
                && pos.epoch < t.epochs
            {
                return Ok(Fitted { outcome, model });
            }
        }
        let patience = t.early_stopping_patience;
        if patience > 0 && pos.stale_epochs >= patience && pos.epoch < t.epochs {
            stopped_early = true;
            tracing::info!(
                epochs = pos.epoch,
                patience,
                "early stopping: the validation metric did not improve"
            );
            break;
        }
    }
    let test = evaluate(
        &model.valid(),
        &data.test,
        cfg.data.eval_batch_size,
        loader,
        device,
    )?;
    if test.samples > 0 {
        ports
            .observer
            .on_event(&eval_event(None, Split::Test, &test));
    }
    let report = FitReport {
        epochs: pos.epoch,
        stopped_early,
        steps: pos.global_step,
        parameters,
        samples,
        train_seconds,
        samples_per_sec: samples as f64 / train_seconds.max(1e-9),
        final_train_loss: last_loss,
        valid,
        test,
    };
    Ok(Fitted {
        outcome: FitOutcome::Finished(Box::new(report)),
        model,
    })
}

/// Training losses summed on the device between read-backs (each read-back is a sync).
struct LossWindow<B: Backend> {
    on_device: Option<Tensor<B, 1>>,
    read_back: f64,
    steps: usize,
}

impl<B: Backend> Default for LossWindow<B> {
    fn default() -> Self {
        Self {
            on_device: None,
            read_back: 0.0,
            steps: 0,
        }
    }
}

impl<B: Backend> LossWindow<B> {
    fn push(&mut self, loss: Tensor<B, 1>) {
        self.on_device = Some(self.on_device.take().map_or(loss.clone(), |w| w + loss));
        self.steps += 1;
    }

    /// Reads the device part back; returns the newly read sum (it stays in the window). A
    /// non-finite sum means the run diverged by `step`.
    fn sync(&mut self, step: usize) -> Result<f64, TrainError> {
        let sum = read_scalar(self.on_device.take())?;
        if !sum.is_finite() {
            return Err(TrainError::Diverged {
                step,
                what: format!("the training loss is {sum}"),
            });
        }
        self.read_back += sum;
        Ok(sum)
    }

    /// Mean loss over the window's steps (after `sync`), and starts a new window.
    fn take_mean(&mut self) -> f64 {
        let mean = self.read_back / self.steps.max(1) as f64;
        (self.read_back, self.steps) = (0.0, 0);
        mean
    }
}

/// Steps and time since the last checkpoint.
struct SaveClock {
    last: Instant,
    steps: usize,
}

impl SaveClock {
    fn new() -> Self {
        Self {
            last: Instant::now(),
            steps: 0,
        }
    }

    fn due(&self, cfg: &crate::config::CheckpointConfig) -> bool {
        checkpoint_due(cfg, self.steps, self.last.elapsed().as_secs_f64())
    }
}

fn stop_requested(ports: &FitPorts<'_>) -> bool {
    ports.stop.is_some_and(|s| s.load(Ordering::SeqCst))
}

/// Saves a checkpoint (if a store is given) and restarts the clock; when `stop` is set, returns
/// the `Interrupted` outcome the loop must end with.
fn checkpoint<B: AutodiffBackend, M: AutodiffModule<B>>(
    ports: &mut FitPorts<'_>,
    ctx: SaveContext<'_, B, M>,
    stop: bool,
    clock: &mut SaveClock,
) -> Result<Option<FitOutcome>, TrainError> {
    let global_step = ctx.pos.global_step;
    let name = save(ports, ctx, stop)?;
    *clock = SaveClock::new();
    Ok(stop.then_some(FitOutcome::Interrupted {
        global_step,
        checkpoint: name,
    }))
}

/// Saves a checkpoint through the store port, if there is one.
fn save<B: AutodiffBackend, M: AutodiffModule<B>>(
    ports: &mut FitPorts<'_>,
    ctx: SaveContext<'_, B, M>,
    interrupted: bool,
) -> Result<Option<String>, TrainError> {
    let Some(store) = ports.store.as_deref_mut() else {
        return Ok(None);
    };
    let global_step = ctx.pos.global_step;
    // The last update may have broken the weights after the last finite loss.
    if !params_finite(&ctx.model.valid())? {
        return Err(TrainError::Diverged {
            step: global_step,
            what: "a weight is NaN or infinite".into(),
        });
    }
    let snapshot = snapshot(ctx, interrupted, &ports.tracker_run_id)?;
    let name = store
        .save(&snapshot)
        .map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    ports.observer.on_event(&Event::CheckpointSaved {
        name: name.clone(),
        global_step,
    });
    Ok(Some(name))
}

fn eval_event(epoch: Option<usize>, split: Split, r: &EvalResult) -> Event {
    Event::Evaluated {
        epoch,
        split,
        result: *r,
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
