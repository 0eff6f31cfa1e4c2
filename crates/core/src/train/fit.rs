//! `fit`: the training loop, generic over the backend. Reads top to bottom.

use super::accumulate::Accumulation;
use super::cadence::{checkpoint_due, step_seed};
use super::collective::rank_gradients;
use super::parallel::Replicas;
use super::precision::{Compute, check_supported, initial_loss_scale, materialize};
use super::record::model_from_bytes;
use super::schedule::learning_rate;
use super::snapshot::{ModelSpec, SaveContext, snapshot};
use super::step::{StepSettings, update};
use super::{
    AnyOptimizer, EvalResult, Event, Observer, Split, TrainError, check_fits, count_params,
    evaluate, params_finite,
};
use crate::checkpoint::{CheckpointStore, Snapshot};
use crate::checkpoint::{Position, SmoothedLoss};
use crate::config::{BestMetric, BestMode, CheckpointConfig, Config, TrainConfig};
use crate::data::{
    BatchList, BatchSource, EpochPlan, Loader, LoaderSettings, Splits, batches_per_epoch,
};
use crate::model::Trainable;
use burn::module::AutodiffModule;
use burn::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use trainer_ops::TrainBackend;

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
    /// Files left out of their batches as unreadable (`data.bad_samples = "skip"`), as
    /// `path: why`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_samples: Vec<String>,
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

/// Trains any `Trainable` model on splits of its batch source: the loop behind every task. The
/// master weights live on the replicas' main device (the only one unless data parallel).
pub fn fit_model<B, M, S, F>(
    cfg: &Config,
    plan: ModelPlan<F>,
    data: &Splits<S>,
    backend: &str,
    replicas: &Replicas<B::Device>,
    resume: Option<&Snapshot>,
    mut ports: FitPorts<'_>,
) -> Result<Fitted<M>, TrainError>
where
    B: TrainBackend,
    M: Trainable<B> + AutodiffModule<B>,
    M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
    F: FnOnce(&B::Device) -> M,
{
    let spec = &plan.spec;
    let device = replicas.main();
    let run = RunPlan::new(cfg, spec, data.train.len())?;
    check_supported::<B>(cfg.run.precision, backend, device)?;
    B::seed(device, cfg.run.seed);
    let mut model = (plan.build)(device); // lazily initialized: nothing is allocated yet
    let parameters = count_params(&model);
    if let Some(budget) = ports.memory_budget {
        check_fits(parameters, budget, &format!("model.{}", spec.kind))?;
    }
    if resume.is_none() {
        // Initialized now, from the run's seed: replicas and cast copies must share the values.
        materialize(&model);
        if let Some(group) = replicas.ranks() {
            // Every rank starts from rank 0's weights (a resumed job loads one checkpoint).
            let mut bytes = match group.is_leader() {
                true => super::record::model_to_bytes::<B, M>(&model)?,
                false => Vec::new(),
            };
            group.share_weights(&mut bytes)?;
            if !group.is_leader() {
                model = super::record::model_from_bytes::<B, M>(model, bytes, device)?;
            }
        }
    }
    let optim = AnyOptimizer::<B, M>::new(&cfg.train);
    let (mut model, mut optim, mut pos) = match resume {
        Some(snap) => restore(model, optim, snap, spec, device)?,
        None => (model, optim, Position::default()),
    };
    // An f16 run keeps its scaler across a resume; other precisions have none.
    pos.loss_scale =
        initial_loss_scale(cfg.run.precision).map(|fresh| pos.loss_scale.unwrap_or(fresh));
    let t = &cfg.train;
    let device_text = match replicas.all() {
        [one] => format!("{one:?}"),
        all => format!("{all:?}"),
    };
    ports.observer.on_event(&Event::RunStarted {
        model: spec.kind.clone(),
        backend: backend.to_string(),
        device: device_text,
        parameters,
        train_samples: run.samples,
        steps_per_epoch: run.steps_per_epoch,
        epochs: t.epochs,
        resumed_at_step: pos.global_step,
    });

    let mut totals = Totals::default();
    let mut skipped = std::collections::BTreeSet::new();
    let mut pace = Pace {
        clock: SaveClock::new(),
        accumulation: Accumulation::new(
            t.grad_accumulation_steps,
            run.samples,
            t.batch_size,
            run.steps_per_epoch,
        ),
    };
    while pos.epoch < t.epochs {
        let epoch = pos.epoch;
        ports.observer.on_event(&Event::EpochStarted { epoch });
        let started = Instant::now();
        let parts = (&mut optim, &mut pos, &mut pace, &mut ports);
        let trained = train_epoch(&run, &data.train, model, parts, replicas)?;
        let parts = (&mut optim, &mut pos, &mut pace, &mut ports);
        model = match close_epoch(&run, data, trained, parts, &mut totals, started, device)? {
            EpochEnd::Completed { model, .. } => model,
            EpochEnd::Stopped(fitted) => return Ok(fitted),
        };
        note_skipped(data, &mut skipped, &mut *ports.observer);
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
    let test = evaluate(
        &model.valid(),
        &data.test,
        cfg.data.eval_batch_size,
        run.loader,
        device,
    )?;
    if test.samples > 0 {
        ports
            .observer
            .on_event(&eval_event(None, Split::Test, &test));
    }
    note_skipped(data, &mut skipped, &mut *ports.observer);
    let report = totals.report(&pos, parameters, test, skipped.into_iter().collect());
    Ok(Fitted {
        outcome: FitOutcome::Finished(Box::new(report)),
        model,
    })
}

/// What this process's epochs add up to.
struct Totals {
    samples: usize,
    train_seconds: f64,
    last_loss: f64,
    valid: Option<EvalResult>,
    stopped_early: bool,
}

impl Default for Totals {
    fn default() -> Self {
        Self {
            samples: 0,
            train_seconds: 0.0,
            last_loss: f64::NAN,
            valid: None,
            stopped_early: false,
        }
    }
}

impl Totals {
    /// The finished run's report.
    fn report(
        self,
        pos: &Position,
        parameters: usize,
        test: EvalResult,
        skipped_samples: Vec<String>,
    ) -> FitReport {
        FitReport {
            epochs: pos.epoch,
            stopped_early: self.stopped_early,
            steps: pos.global_step,
            parameters,
            samples: self.samples,
            train_seconds: self.train_seconds,
            samples_per_sec: self.samples as f64 / self.train_seconds.max(1e-9),
            final_train_loss: self.last_loss,
            valid: self.valid,
            test,
            skipped_samples,
        }
    }
}

/// Writes a `SamplesSkipped` event for the files any split has left out since `reported`
/// (which it then includes).
fn note_skipped<S: BatchSource + ?Sized>(
    data: &Splits<S>,
    reported: &mut std::collections::BTreeSet<String>,
    observer: &mut dyn Observer,
) {
    let fresh: Vec<String> = [&data.train, &data.valid, &data.test]
        .iter()
        .flat_map(|s| s.skipped())
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

/// What the whole run's epochs look like, fixed before the first step.
struct RunPlan<'a> {
    cfg: &'a Config,
    spec: &'a ModelSpec,
    /// Training samples.
    samples: usize,
    steps_per_epoch: usize,
    total_steps: usize,
    batches: EpochPlan,
    loader: LoaderSettings,
}

impl<'a> RunPlan<'a> {
    /// What a checkpoint of this run at `pos` is made of.
    fn save_context<'c, B: TrainBackend, M: AutodiffModule<B>>(
        &'c self,
        model: &'c M,
        optim: &'c AnyOptimizer<B, M>,
        pos: &'c Position,
    ) -> SaveContext<'c, B, M> {
        SaveContext {
            cfg: self.cfg,
            model,
            optim,
            pos,
            spec: self.spec,
        }
    }

    /// The plan for `samples` training samples; Err when no step could be taken.
    fn new(cfg: &'a Config, spec: &'a ModelSpec, samples: usize) -> Result<Self, TrainError> {
        let t = &cfg.train;
        if samples == 0 {
            return Err(TrainError::EmptyTrainingSplit);
        }
        let steps_per_epoch = batches_per_epoch(samples, t.batch_size, t.drop_last);
        if steps_per_epoch == 0 {
            return Err(TrainError::BatchTooLarge {
                batch_size: t.batch_size,
                samples,
                drop_last: true,
            });
        }
        let loader = LoaderSettings::resolve(cfg.data.workers, cfg.data.prefetch);
        tracing::info!(
            workers = loader.workers,
            prefetch = loader.prefetch,
            "streaming batches from the data loader"
        );
        Ok(Self {
            cfg,
            spec,
            samples,
            steps_per_epoch,
            total_steps: steps_per_epoch * t.epochs,
            batches: EpochPlan {
                seed: cfg.run.seed,
                batch_size: t.batch_size,
                drop_last: t.drop_last,
            },
            loader,
        })
    }
}

/// When the loop saves and when it applies gradients (of model `M`).
struct Pace<M> {
    clock: SaveClock,
    accumulation: Accumulation<M>,
}

/// How the batches of one epoch ended.
enum EpochEnd<M> {
    /// Every batch was trained on.
    Completed {
        /// The model after the epoch's last update.
        model: M,
        /// Samples trained on in this process.
        samples: usize,
    },
    /// A stop was requested and handled (checkpoint saved): the run ends with this.
    Stopped(Fitted<M>),
}

/// The loop's mutable parts an epoch advances.
type EpochParts<'o, 'p, B, M> = (
    &'o mut AnyOptimizer<B, M>,
    &'o mut Position,
    &'o mut Pace<M>,
    &'o mut FitPorts<'p>,
);

/// Trains on the rest of epoch `pos.epoch` from batch `pos.batch`: steps, loss read-backs,
/// mid-epoch checkpoints and stops.
fn train_epoch<B, M, S>(
    run: &RunPlan<'_>,
    train: &std::sync::Arc<S>,
    mut model: M,
    (optim, pos, pace, ports): EpochParts<'_, '_, B, M>,
    replicas: &Replicas<B::Device>,
) -> Result<EpochEnd<M>, TrainError>
where
    B: TrainBackend,
    M: Trainable<B> + AutodiffModule<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    let (cfg, t, epoch) = (run.cfg, &run.cfg.train, pos.epoch);
    let started = Instant::now();
    let (mut window, mut samples) = (LossWindow::default(), 0);
    let batches = BatchList::epoch(&run.batches, epoch, run.samples);
    for item in Loader::start(train.clone(), batches, pos.batch, run.loader) {
        let (i, batch) = item?;
        let seed = step_seed(cfg.run.seed, pos.global_step);
        // Dropout differs across shards: per device, and per rank of a job.
        let first = replicas.ranks().map_or(0, |g| g.collective.rank()) * replicas.all().len();
        for (k, device) in replicas.all().iter().enumerate() {
            B::seed(device, seed.wrapping_add((first + k) as u64));
        }
        let settings = StepSettings {
            lr: learning_rate(t, pos.global_step, run.total_steps),
            clip_norm: t.grad_clip_norm,
        };
        let weight = pace.accumulation.weight(i);
        let compute = Compute::new(cfg.run.precision, pos.loss_scale.as_ref());
        let (grads, loss, rows) = rank_gradients(&model, &batch, weight, compute, replicas)?;
        window.push(loss);
        if let Some(grads) = pace.accumulation.add(&model, i, grads) {
            model = update(model, optim, grads, settings, pos.loss_scale.as_mut())?;
        }
        (pos.global_step, pos.batch) = (pos.global_step + 1, i + 1);
        if pos.smoothed_loss.is_none() && t.divergence_factor > 0.0 {
            // The divergence guard's first reference is the untrained model's loss (one
            // read-back, once a run): a run that explodes within its first window is caught.
            let first = window.sync(pos.global_step)?;
            pos.epoch_loss_sum += first;
            pos.smoothed_loss = Some(SmoothedLoss { first, best: first });
        }
        samples += rows; // the global batch's: every rank's share in a multi-process job
        pace.clock.steps += 1;
        let end_of_epoch = i + 1 == run.steps_per_epoch;
        if (i + 1) % t.log_every == 0 || end_of_epoch {
            pos.epoch_loss_sum += window.sync(pos.global_step)?;
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
        let between_updates = !pace.accumulation.pending();
        if !end_of_epoch && between_updates && (stop || pace.clock.due(&cfg.checkpoint)) {
            pos.epoch_loss_sum += window.sync(pos.global_step)?; // checkpoints hold whole sums
            // A checkpoint is "last good" only if the loss so far is: diverged weights with
            // finite values must not become the state `latest` and `--resume` trust.
            if let Some(reference) = pos.smoothed_loss {
                let loss = window.peek_mean();
                reference
                    .check(loss, t.divergence_factor)
                    .map_err(|r| diverged(pos.global_step, loss, t.divergence_factor, r))?;
            }
            let ctx = run.save_context(&model, optim, pos);
            if let Some(outcome) = checkpoint(ports, ctx, stop, &mut pace.clock)? {
                return Ok(EpochEnd::Stopped(Fitted { outcome, model }));
            }
        }
    }
    Ok(EpochEnd::Completed { model, samples })
}

/// After an epoch's batches (passing a stop through): its end event and totals, validation,
/// and the epoch-end checkpoint (which ends the run when a stop was requested).
fn close_epoch<B, M, S>(
    run: &RunPlan<'_>,
    data: &Splits<S>,
    ended: EpochEnd<M>,
    (optim, pos, pace, ports): EpochParts<'_, '_, B, M>,
    totals: &mut Totals,
    started: Instant,
    device: &B::Device,
) -> Result<EpochEnd<M>, TrainError>
where
    B: TrainBackend,
    M: Trainable<B> + AutodiffModule<B>,
    M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    let EpochEnd::Completed { model, samples } = ended else {
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
    if !data.valid.is_empty() {
        let bs = cfg.data.eval_batch_size;
        let r = evaluate(&model.valid(), &data.valid, bs, run.loader, device)?;
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
    if cfg.checkpoint.at_epoch_end || stop || last || pace.clock.due(&cfg.checkpoint) {
        let ctx = run.save_context(&model, optim, pos);
        // After the last epoch a stop changes nothing: the test split is evaluated anyway.
        if let Some(outcome) = checkpoint(ports, ctx, stop, &mut pace.clock)?
            && pos.epoch < cfg.train.epochs
        {
            return Ok(EpochEnd::Stopped(Fitted { outcome, model }));
        }
    }
    Ok(EpochEnd::Completed { model, samples })
}

/// The divergence guard's error: the smoothed `loss` at `step` passed `factor` times its
/// `reference`.
fn diverged(step: usize, loss: f64, factor: f64, reference: f64) -> TrainError {
    TrainError::Diverged {
        step,
        what: format!(
            "the smoothed training loss {loss:.4e} is over train.divergence_factor = {factor} times its reference {reference:.4e} (the best so far)"
        ),
    }
}

/// Whether early stopping ends the run here: `patience` validations in a row without
/// improvement (0 turns it off).
fn stops_early(t: &TrainConfig, pos: &Position) -> bool {
    t.early_stopping_patience > 0 && pos.stale_epochs >= t.early_stopping_patience
}

/// Resumes from a checkpoint of the same model: its weights, optimizer state and position.
fn restore<B: TrainBackend, M: AutodiffModule<B>>(
    model: M,
    optim: AnyOptimizer<B, M>,
    snap: &Snapshot,
    spec: &ModelSpec,
    device: &B::Device,
) -> Result<(M, AnyOptimizer<B, M>, Position), TrainError> {
    let s = &snap.state;
    if s.model != spec.kind
        || s.input_shape != spec.input_shape
        || s.num_classes != spec.num_classes
    {
        return Err(TrainError::CheckpointMismatch {
            saved: s.model.clone(),
            saved_shape: s.input_shape,
            saved_classes: s.num_classes,
            model: spec.kind.clone(),
            shape: spec.input_shape,
            classes: spec.num_classes,
        });
    }
    let model = model_from_bytes(model, snap.model.clone(), device)?; // first: it restores param ids
    let optim = optim.from_bytes(snap.optimizer.clone(), device)?;
    Ok((model, optim, s.position.clone()))
}

/// Records a validation result as the run's metric and counts epochs without improvement.
fn track_best(cfg: &CheckpointConfig, pos: &mut Position, r: &EvalResult) {
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

    /// Mean loss over the window's steps read back so far (after `sync`), window kept.
    fn peek_mean(&self) -> f64 {
        self.read_back / self.steps.max(1) as f64
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
fn checkpoint<B: TrainBackend, M: AutodiffModule<B>>(
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
fn save<B: TrainBackend, M: AutodiffModule<B>>(
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
    let name = store.save(&snapshot).map_err(TrainError::Checkpoint)?;
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
        .map_err(TrainError::backend("loss read-back"))?;
    data.convert::<f64>()
        .to_vec::<f64>()
        .ok()
        .and_then(|v| v.first().copied())
        .ok_or_else(|| TrainError::Backend {
            during: "loss read-back",
            cause: "no value came back".into(),
        })
}
