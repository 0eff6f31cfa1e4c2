//! The training loop against a scripted `Learner` (no backend, no model): what it asks of the
//! learner, the events it writes, when it checkpoints, stops, resumes, diverges and stops early.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use trainer_core::checkpoint::{
    CheckpointError, CheckpointStore, FORMAT_VERSION, LatestValid, Position, Snapshot, TrainState,
};
use trainer_core::config::{BestMetric, BestMode, Config};
use trainer_core::data::{BatchList, LoaderSettings};
use trainer_core::train::{
    EvalResult, Event, FitOutcome, FitPorts, Learner, LearnerInfo, Observer, Split, StepPlan,
    Stepped, TrainError,
};

/// A learner whose step `k` (counted from its creation) has loss `losses[k]`, and whose `n`-th
/// validation has loss `valid_losses[n]`.
struct Scripted {
    train: usize,
    valid: usize,
    losses: Vec<f64>,
    valid_losses: Vec<f64>,
    accumulating: bool,
    /// The running epoch: (batches in it, next batch).
    epoch: Option<(usize, usize)>,
    steps: usize,
    unread: f64,
    validations: Cell<usize>,
    /// `from` of every `start_epoch`.
    starts: Vec<usize>,
}

impl Scripted {
    fn new(train: usize, losses: Vec<f64>) -> Self {
        Scripted {
            train,
            valid: 0,
            losses,
            valid_losses: Vec::new(),
            accumulating: false,
            epoch: None,
            steps: 0,
            unread: 0.0,
            validations: Cell::new(0),
            starts: Vec::new(),
        }
    }
}

fn result(loss: f64, samples: usize) -> EvalResult {
    EvalResult {
        loss,
        samples,
        ..EvalResult::empty()
    }
}

impl Learner for Scripted {
    fn info(&self) -> LearnerInfo {
        LearnerInfo {
            model: "scripted".into(),
            backend: "none".into(),
            device: "nowhere".into(),
            parameters: 7,
        }
    }

    fn train_samples(&self) -> usize {
        self.train
    }

    fn samples(&self, split: Split) -> usize {
        match split {
            Split::Valid => self.valid,
            Split::Test => 0,
        }
    }

    fn start_epoch(&mut self, batches: BatchList, from: usize, _: LoaderSettings) {
        self.starts.push(from);
        self.epoch = Some((batches.len(), from));
    }

    fn step(&mut self, _: StepPlan<'_>) -> Option<Result<Stepped, TrainError>> {
        let (len, next) = self.epoch.as_mut()?;
        if *next == *len {
            self.epoch = None;
            return None;
        }
        let index = *next;
        *next += 1;
        self.unread += self.losses[self.steps];
        self.steps += 1;
        Some(Ok(Stepped { index, rows: 4 }))
    }

    fn accumulating(&self) -> bool {
        self.accumulating
    }

    fn read_losses(&mut self) -> Result<f64, TrainError> {
        Ok(std::mem::take(&mut self.unread))
    }

    fn evaluate(
        &self,
        split: Split,
        _: usize,
        _: LoaderSettings,
    ) -> Result<EvalResult, TrainError> {
        match split {
            Split::Valid => {
                let n = self.validations.replace(self.validations.get() + 1);
                Ok(result(self.valid_losses[n], self.valid))
            }
            Split::Test => Ok(result(f64::NAN, 0)),
        }
    }

    fn skipped(&self) -> Vec<String> {
        Vec::new()
    }

    fn snapshot(&self, pos: &Position, interrupted: bool, _: &str) -> Result<Snapshot, TrainError> {
        Ok(Snapshot {
            state: TrainState {
                format_version: FORMAT_VERSION,
                trainer_version: String::new(),
                model: "scripted".into(),
                input_shape: [0; 3],
                num_classes: 0,
                position: pos.clone(),
                seed: 0,
                tracker_run_id: String::new(),
                interrupted,
            },
            model: Vec::new(),
            optimizer: Vec::new(),
            config_toml: String::new(),
            assets: BTreeMap::new(),
        })
    }
}

/// Every event, and the stop flag raised once a step reaches `stop_at`.
#[derive(Default)]
struct Recorder<'a> {
    events: Vec<Event>,
    stop_at: Option<(usize, &'a AtomicBool)>,
}

impl Observer for Recorder<'_> {
    fn on_event(&mut self, event: &Event) {
        if let (Event::Step { global_step, .. }, Some((at, flag))) = (event, self.stop_at)
            && *global_step >= at
        {
            flag.store(true, Ordering::SeqCst);
        }
        self.events.push(event.clone());
    }
}

/// The snapshots saved, in memory.
#[derive(Default)]
struct Saved(Vec<Snapshot>);

impl CheckpointStore for Saved {
    fn save(&mut self, snapshot: &Snapshot) -> Result<String, CheckpointError> {
        self.0.push(snapshot.clone());
        Ok(format!("step-{}", snapshot.state.position.global_step))
    }

    fn latest_valid(&self) -> Result<Option<LatestValid>, CheckpointError> {
        Ok(None)
    }
}

/// Ten samples in batches of 4: three steps an epoch, each logged.
fn config(epochs: usize) -> Config {
    let mut cfg = Config::default();
    cfg.train.epochs = epochs;
    cfg.train.batch_size = 4;
    cfg.train.log_every = 1;
    cfg.data.workers = 1;
    cfg.data.prefetch = 1;
    cfg
}

fn run(
    cfg: &Config,
    learner: &mut dyn Learner,
    resume: Option<&Snapshot>,
    store: &mut Saved,
    recorder: &mut Recorder<'_>,
    stop: Option<&AtomicBool>,
) -> Result<FitOutcome, TrainError> {
    let ports = FitPorts {
        observer: recorder,
        store: Some(store),
        stop,
        tracker_run_id: String::new(),
    };
    trainer_fit::fit(cfg, learner, resume, ports)
}

fn step_losses(events: &[Event]) -> Vec<(usize, f64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Step {
                global_step, loss, ..
            } => Some((*global_step, *loss)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_epoch_is_trained_logged_and_saved() {
    let cfg = config(2);
    let mut learner = Scripted::new(10, vec![6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
    let (mut store, mut rec) = (Saved::default(), Recorder::default());
    let outcome = run(&cfg, &mut learner, None, &mut store, &mut rec, None).unwrap();
    let FitOutcome::Finished(report) = outcome else {
        panic!("it was not stopped")
    };
    assert_eq!((report.epochs, report.steps, report.samples), (2, 6, 24));
    assert_eq!(report.final_train_loss, 2.0); // (3 + 2 + 1) / 3
    assert_eq!(report.parameters, 7);
    assert_eq!(learner.starts, [0, 0]);
    let logged: Vec<f64> = step_losses(&rec.events).iter().map(|s| s.1).collect();
    assert_eq!(logged, [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
    let saved: Vec<(usize, usize, usize)> = store
        .0
        .iter()
        .map(|s| {
            (
                s.state.position.epoch,
                s.state.position.batch,
                s.state.position.global_step,
            )
        })
        .collect();
    assert_eq!(
        saved,
        [(1, 0, 3), (2, 0, 6)],
        "one checkpoint at each epoch end"
    );
    assert!(matches!(
        rec.events[0],
        Event::RunStarted {
            steps_per_epoch: 3,
            ..
        }
    ));
}

#[test]
fn a_stop_mid_epoch_saves_where_it_stopped_and_a_resume_continues_there() {
    let cfg = config(2);
    let flag = AtomicBool::new(false);
    let losses = vec![6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
    let mut learner = Scripted::new(10, losses.clone());
    let mut store = Saved::default();
    let mut rec = Recorder {
        events: Vec::new(),
        stop_at: Some((2, &flag)),
    };
    let outcome = run(&cfg, &mut learner, None, &mut store, &mut rec, Some(&flag)).unwrap();
    assert_eq!(
        outcome,
        FitOutcome::Interrupted {
            global_step: 2,
            checkpoint: Some("step-2".into())
        }
    );
    let saved = store.0.last().expect("a checkpoint on the way out").clone();
    assert!(saved.state.interrupted);
    let pos = &saved.state.position;
    assert_eq!(
        (pos.epoch, pos.batch, pos.global_step, pos.epoch_loss_sum),
        (0, 2, 2, 11.0)
    );

    // The resumed learner's steps continue the script where the first one stopped.
    let mut resumed = Scripted::new(10, losses[2..].to_vec());
    let (mut store, mut rec) = (Saved::default(), Recorder::default());
    let outcome = run(&cfg, &mut resumed, Some(&saved), &mut store, &mut rec, None).unwrap();
    let FitOutcome::Finished(report) = outcome else {
        panic!("it was not stopped")
    };
    assert_eq!(
        resumed.starts,
        [2, 0],
        "epoch 0 from its third batch, then epoch 1"
    );
    assert_eq!(report.steps, 6);
    assert_eq!(
        step_losses(&rec.events),
        [(3, 4.0), (4, 3.0), (5, 2.0), (6, 1.0)]
    );
    let ended: Vec<f64> = rec
        .events
        .iter()
        .filter_map(|e| match e {
            Event::EpochEnded { train_loss, .. } => Some(*train_loss),
            _ => None,
        })
        .collect();
    assert_eq!(
        ended,
        [5.0, 2.0],
        "epoch 0's mean includes the losses before the stop"
    );
}

#[test]
fn a_checkpoint_waits_for_the_end_of_an_accumulation_window() {
    let cfg = config(1);
    let flag = AtomicBool::new(true);
    let mut learner = Scripted::new(10, vec![1.0; 3]);
    learner.accumulating = true;
    let (mut store, mut rec) = (Saved::default(), Recorder::default());
    let outcome = run(&cfg, &mut learner, None, &mut store, &mut rec, Some(&flag)).unwrap();
    // No mid-epoch save while gradients are pending: the stop is taken at the epoch's end,
    // the last epoch, so the run finishes.
    assert!(matches!(outcome, FitOutcome::Finished(_)));
    assert_eq!(store.0.len(), 1);
    assert_eq!(store.0[0].state.position.global_step, 3);
}

#[test]
fn a_non_finite_loss_ends_the_run_as_diverged() {
    let cfg = config(2);
    let mut learner = Scripted::new(10, vec![1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0]);
    let (mut store, mut rec) = (Saved::default(), Recorder::default());
    let err = run(&cfg, &mut learner, None, &mut store, &mut rec, None).unwrap_err();
    assert!(matches!(err, TrainError::Diverged { step: 2, .. }), "{err}");
    assert!(store.0.is_empty(), "nothing saved");
}

#[test]
fn a_loss_far_above_its_reference_ends_the_run_as_diverged() {
    let mut cfg = config(2);
    cfg.train.divergence_factor = 10.0;
    let mut learner = Scripted::new(10, vec![1.0, 1.0, 500.0, 1.0, 1.0, 1.0]);
    let (mut store, mut rec) = (Saved::default(), Recorder::default());
    let err = run(&cfg, &mut learner, None, &mut store, &mut rec, None).unwrap_err();
    assert!(matches!(err, TrainError::Diverged { step: 3, .. }), "{err}");
}

#[test]
fn validation_that_stops_improving_stops_the_run_early() {
    let mut cfg = config(5);
    cfg.train.early_stopping_patience = 1;
    cfg.checkpoint.best_metric = BestMetric::ValidLoss;
    cfg.checkpoint.best_mode = BestMode::Min;
    let mut learner = Scripted::new(10, vec![1.0; 15]);
    learner.valid = 5;
    learner.valid_losses = vec![1.0, 2.0, 0.5, 0.4, 0.3];
    let (mut store, mut rec) = (Saved::default(), Recorder::default());
    let outcome = run(&cfg, &mut learner, None, &mut store, &mut rec, None).unwrap();
    let FitOutcome::Finished(report) = outcome else {
        panic!("it was not stopped")
    };
    // The second validation (2.0) is no better than the first (1.0): patience 1 ends the run
    // after two epochs, before the later, better ones.
    assert!(report.stopped_early);
    assert_eq!(report.epochs, 2);
    assert_eq!(report.valid.map(|v| v.loss), Some(2.0));
    assert_eq!(store.0.last().unwrap().state.position.best, Some(1.0));
    let validated = rec
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Evaluated {
                    split: Split::Valid,
                    ..
                }
            )
        })
        .count();
    assert_eq!(validated, 2);
}
