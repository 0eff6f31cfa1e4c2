//! Exact resume: a run interrupted mid-epoch (once or twice) and resumed ends with the same
//! per-step losses, weights and optimizer state as an uninterrupted run, whatever the number of
//! loader workers in each part.

use crate::train_backends::{Recorder, small_config, step_losses};
use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use trainer::checkpoint::{CheckpointStore, DirStore, Retention, Snapshot, load};
use trainer::config::Config;
use trainer::data::{Splits, load_splits};
use trainer::model::Classifier;
use trainer::task::fit_images;
use trainer::train::{Event, FitOutcome, FitPorts, Observer, Replicas};

type B = Autodiff<Flex>;

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

fn config() -> Config {
    let mut cfg = small_config(11, 2);
    (cfg.data.workers, cfg.data.prefetch) = (1, 1);
    cfg.model.mlp.dropout = 0.2; // dropout draws random masks: the RNG must resume too
    cfg.data.validation_fraction = 0.1;
    cfg.train.drop_last = false;
    cfg.train.log_every = 1; // every step's loss is read back and compared
    cfg.checkpoint.at_epoch_end = true;
    cfg
}

/// Runs `fit` until the end or until step `stop_at`; returns losses, the outcome and the model.
fn run(
    cfg: &Config,
    data: &Splits,
    store: &mut DirStore,
    resume: Option<&Snapshot>,
    stop_at: Option<usize>,
) -> (Vec<f64>, FitOutcome, Classifier<B>) {
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
        memory_budget: None,
    };
    let replicas = Replicas::one(Default::default());
    let fitted = fit_images::<B>(cfg, data, "flex", &replicas, resume, ports).expect("fit runs");
    (step_losses(&obs.rec.0), fitted.outcome, fitted.model)
}

/// Float parameters in visiting order: (serialized param id, values).
struct Params(Vec<(String, Vec<f32>)>);

impl ModuleVisitor<B> for Params {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let values = param.val().into_data().to_vec::<f32>().expect("f32 params");
        self.0.push((param.id.serialize(), values));
    }
}

fn params(model: &Classifier<B>) -> Vec<(String, Vec<f32>)> {
    let mut v = Params(Vec::new());
    model.visit(&mut v);
    v.0
}

/// Optimizer state with parameter ids replaced by parameter positions, so the states of two
/// runs (whose models got different random ids) can be compared exactly.
fn optimizer_state(snapshot_dir: &std::path::Path, model: &Classifier<B>) -> rmpv::Value {
    let snap = load(snapshot_dir).expect("final checkpoint verifies");
    let position: std::collections::HashMap<String, usize> = params(model)
        .into_iter()
        .enumerate()
        .map(|(i, (id, _))| (id, i))
        .collect();
    let mut value = rmpv::decode::read_value(&mut snap.optimizer.as_slice())
        .expect("optimizer state is MessagePack");
    fn remap(v: &mut rmpv::Value, position: &std::collections::HashMap<String, usize>) {
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
    let data = load_splits(&cfg.data, cfg.run.seed).unwrap();
    let retention = Retention {
        keep_last: 10,
        keep_best: false,
        maximize: true,
    };

    let dir_a = tempfile::tempdir().unwrap();
    let mut store_a = DirStore::open_for_writing(dir_a.path(), retention).unwrap();
    let (losses_a, outcome_a, model_a) = run(&cfg, &data, &mut store_a, None, None);
    assert!(matches!(outcome_a, FitOutcome::Finished(_)));

    let dir_b = tempfile::tempdir().unwrap();
    let mut store_b = DirStore::open_for_writing(dir_b.path(), retention).unwrap();
    let (mut losses_b, mut resume, mut model_b) = (Vec::new(), None::<Snapshot>, None);
    for (part, stop) in stops.iter().copied().map(Some).chain([None]).enumerate() {
        // Each part streams with a different worker count: the batch order must not care.
        let mut cfg = cfg.clone();
        (cfg.data.workers, cfg.data.prefetch) = [(8, 2), (2, 16), (3, 1)][part % 3];
        let (losses, outcome, model) = run(&cfg, &data, &mut store_b, resume.as_ref(), stop);
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
            FitOutcome::Finished(_) => model_b = Some(model),
        }
    }
    let model_b = model_b.expect("the last resume finishes");

    assert_eq!(
        losses_a.len(),
        2 * 7200_usize.div_ceil(100),
        "one loss per step (8,000 - 800 validation = 7,200 training samples)"
    );
    assert_eq!(losses_a, losses_b, "per-step losses must be bit-identical");
    let (pa, pb) = (params(&model_a), params(&model_b));
    assert!(
        pa.iter().zip(&pb).all(|(a, b)| a.1 == b.1),
        "final weights must be bit-identical"
    );
    let last = |d: &std::path::Path| d.join(std::fs::read_to_string(d.join("latest")).unwrap());
    assert_eq!(
        optimizer_state(&last(dir_a.path()), &model_a),
        optimizer_state(&last(dir_b.path()), &model_b),
        "final optimizer state must be bit-identical"
    );
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
