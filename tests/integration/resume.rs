//! Exact resume: a run interrupted mid-epoch (once or twice) and resumed ends with the same
//! per-step losses, weights and optimizer state as an uninterrupted run, whatever the number of
//! loader workers in each part.

use crate::train_backends::{Recorder, fit, small_config, step_losses};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use trainer_backends::{self as backend, Choice};
use trainer_core::checkpoint::{CheckpointStore, DirStore, Retention, Snapshot, load};
use trainer_core::config::Config;
use trainer_core::data::load_splits;
use trainer_core::jobs::FitJob;
use trainer_core::task::TaskData;
use trainer_core::train::{Event, FitOutcome, FitPorts, Observer};

/// Records events and raises the stop flag once `global_step` reaches `stop_at`.
struct StopAt {
    rec: Recorder,
    stop_at: Option<usize>,
    flag: Arc<AtomicBool>,
}

impl Observer for StopAt {
    fn on_event(&mut self, event: &Event) {
        if let Event::Step { global_step, .. } = event
            && Some(*global_step) == self.stop_at
        {
            self.flag.store(true, Ordering::SeqCst);
        }
        self.rec.on_event(event);
    }
}

pub fn config() -> Config {
    let mut cfg = small_config(11, 2);
    (cfg.data.workers, cfg.data.prefetch) = (1, 1);
    cfg.model.mlp.dropout = 0.2; // dropout draws random masks: the RNG must resume too
    cfg.data.validation_fraction = 0.1;
    cfg.train.drop_last = false;
    cfg.train.log_every = 1; // every step's loss is read back and compared
    cfg.checkpoint.at_epoch_end = true;
    cfg
}

/// Runs `fit` on flex until the end or until step `stop_at`; returns losses and the outcome.
fn run(
    cfg: &Config,
    data: &TaskData,
    store: &mut DirStore,
    resume: Option<&Snapshot>,
    stop_at: Option<usize>,
) -> (Vec<f64>, FitOutcome) {
    let flag = Arc::new(AtomicBool::new(false));
    let mut obs = StopAt {
        rec: Recorder::default(),
        stop_at,
        flag: flag.clone(),
    };
    let ports = FitPorts {
        observer: &mut obs,
        store: Some(store as &mut dyn CheckpointStore),
        stop: Some(&flag),
        tracker_run_id: String::new(),
    };
    let job = FitJob {
        cfg,
        data,
        resume,
        memory_budget: None,
        parallel: &[],
        ranks: None,
        device_label: Choice::Flex.device(),
    };
    let outcome = fit(&Choice::Flex, job, ports).expect("fit runs");
    (step_losses(&obs.rec.0), outcome)
}

/// The final weights: the checkpoint's model as safetensors (every tensor by name).
fn weights(checkpoint: &Path) -> Vec<u8> {
    backend::pytorch_export(checkpoint)
        .expect("the final checkpoint exports")
        .bytes
}

/// Parameter ids in the order the model record holds them (Burn writes each parameter as
/// `{id, param}`).
fn param_ids(snapshot: &Snapshot) -> HashMap<String, usize> {
    fn walk(v: &rmpv::Value, out: &mut Vec<String>) {
        match v {
            rmpv::Value::Map(entries) => {
                for (k, val) in entries {
                    match (k.as_str(), val.as_str()) {
                        (Some("id"), Some(id)) => out.push(id.to_string()),
                        _ => walk(val, out),
                    }
                }
            }
            rmpv::Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let record = rmpv::decode::read_value(&mut snapshot.model.as_slice())
        .expect("the model record is MessagePack");
    let mut ids = Vec::new();
    walk(&record, &mut ids);
    assert!(!ids.is_empty(), "no parameter ids in the model record");
    ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect()
}

/// Optimizer state with parameter ids replaced by parameter positions, so the states of two
/// runs (whose models got different random ids) can be compared exactly.
fn optimizer_state(snapshot_dir: &Path) -> rmpv::Value {
    let snap = load(snapshot_dir).expect("final checkpoint verifies");
    let position = param_ids(&snap);
    let mut value = rmpv::decode::read_value(&mut snap.optimizer.as_slice())
        .expect("optimizer state is MessagePack");
    fn remap(v: &mut rmpv::Value, position: &HashMap<String, usize>) {
        match v {
            rmpv::Value::Map(entries) => {
                for (k, val) in entries.iter_mut() {
                    if let Some(i) = k.as_str().and_then(|s| position.get(s)) {
                        *k = rmpv::Value::from(format!("param#{i}"));
                    }
                    remap(val, position);
                }
                entries.sort_by_key(|(k, _)| k.to_string());
            }
            rmpv::Value::Array(items) => items.iter_mut().for_each(|x| remap(x, position)),
            _ => {}
        }
    }
    remap(&mut value, &position);
    value
}

/// Interrupts at each of `stops` (raised at that step; with gradient accumulation the run
/// goes on to the end of the window) and resumes; everything must match an uninterrupted run.
fn resumes_exactly(stops: &[usize], accumulation: usize) {
    let _serial = crate::common::train_lock();
    let mut cfg = config();
    cfg.train.grad_accumulation_steps = accumulation;
    let data = TaskData::Images(load_splits(&cfg.data, cfg.run.seed).unwrap());
    let losses = assert_resumes_exactly(&cfg, &data, stops);
    assert_eq!(
        losses.len(),
        2 * 7200_usize.div_ceil(100),
        "one loss per step (8,000 - 800 validation = 7,200 training samples)"
    );
}

/// Trains `cfg` on `data` straight through, then again stopped at each of `stops` and resumed
/// (a different worker count in each part), and asserts both end with bit-identical per-step
/// losses, weights and optimizer state; returns the straight run's per-step losses. The caller
/// holds the train lock.
pub fn assert_resumes_exactly(cfg: &Config, data: &TaskData, stops: &[usize]) -> Vec<f64> {
    let accumulation = cfg.train.grad_accumulation_steps.max(1);
    let retention = Retention {
        keep_last: 10,
        keep_best: false,
        maximize: true,
    };

    let dir_a = tempfile::tempdir().unwrap();
    let mut store_a = DirStore::open_for_writing(dir_a.path(), retention).unwrap();
    let (losses_a, outcome_a) = run(cfg, data, &mut store_a, None, None);
    assert!(matches!(outcome_a, FitOutcome::Finished(_)));

    let dir_b = tempfile::tempdir().unwrap();
    let mut store_b = DirStore::open_for_writing(dir_b.path(), retention).unwrap();
    let (mut losses_b, mut resume, mut finished) = (Vec::new(), None::<Snapshot>, false);
    for (part, stop) in stops.iter().copied().map(Some).chain([None]).enumerate() {
        // Each part streams with a different worker count: the batch order must not care.
        let mut cfg = cfg.clone();
        (cfg.data.workers, cfg.data.prefetch) = [(8, 2), (2, 16), (3, 1)][part % 3];
        let (losses, outcome) = run(&cfg, data, &mut store_b, resume.as_ref(), stop);
        losses_b.extend(losses);
        match outcome {
            FitOutcome::Interrupted {
                global_step,
                checkpoint,
            } => {
                // A checkpoint cannot hold half a window: the stop waits for its end.
                let window_end = stop.map(|s| s.div_ceil(accumulation) * accumulation);
                assert_eq!(Some(global_step), window_end);
                let name = checkpoint.expect("a checkpoint is saved on interrupt");
                resume = Some(load(&dir_b.path().join(name)).unwrap());
                assert!(resume.as_ref().unwrap().state.interrupted);
            }
            FitOutcome::Finished(_) => finished = true,
        }
    }
    assert!(finished, "the last resume finishes");
    assert_eq!(losses_a, losses_b, "per-step losses must be bit-identical");
    let last = |d: &Path| d.join(std::fs::read_to_string(d.join("latest")).unwrap());
    let (last_a, last_b) = (last(dir_a.path()), last(dir_b.path()));
    assert!(
        weights(&last_a) == weights(&last_b),
        "final weights must be bit-identical"
    );
    assert_eq!(
        optimizer_state(&last_a),
        optimizer_state(&last_b),
        "final optimizer state must be bit-identical"
    );
    losses_a
}

#[test]
fn resume_after_one_interruption_is_exact() {
    resumes_exactly(&[30], 1);
}

#[test]
fn resume_with_gradient_accumulation_waits_for_the_window_and_is_exact() {
    // Windows of 4 batches: a stop raised at step 30 is taken at step 32.
    resumes_exactly(&[30], 4);
}

#[test]
fn resume_after_two_interruptions_is_exact() {
    resumes_exactly(&[20, 80], 1);
}
