//! One training test body, run on every CPU backend and on wgpu (Mesa lavapipe in CI).
//!
//! Training runs through `trainer_backends::fit` (the dispatch the CLI uses), so this crate
//! monomorphizes no backend: the jobs are compiled once, in trainer-backends.

use trainer_backends::{self as backend, AdapterKind, Choice, WgpuAdapter};
use trainer_core::config::{Config, ModelKind};
use trainer_core::data::load_splits;
use trainer_core::jobs::FitJob;
use trainer_core::task::TaskData;
use trainer_core::train::{Event, FitOutcome, FitPorts, FitReport, Observer, Split, TrainError};

/// Records every event.
#[derive(Default)]
pub struct Recorder(pub Vec<Event>);

impl Observer for Recorder {
    fn on_event(&mut self, event: &Event) {
        self.0.push(event.clone());
    }
}

/// A small MLP on the bundled MNIST subset; shapes stay fixed (drop_last, 2000 = 20 x 100)
/// so GPU backends compile each kernel once.
pub fn small_config(seed: u64, epochs: usize) -> Config {
    let mut cfg = Config::default();
    cfg.run.seed = seed;
    cfg.data.dir = crate::common::repo().join("datasets/mnist-10k");
    cfg.data.validation_fraction = 0.0;
    cfg.data.eval_batch_size = 100;
    cfg.model.kind = ModelKind::Mlp;
    cfg.model.mlp.hidden = vec![64];
    cfg.train.epochs = epochs;
    cfg.train.batch_size = 100;
    cfg.train.drop_last = true;
    cfg.train.log_every = 10;
    cfg
}

/// wgpu on the software adapter (Mesa lavapipe; `.ci/run` installs it).
pub fn lavapipe() -> Choice {
    Choice::Wgpu(WgpuAdapter {
        name: "lavapipe".into(),
        api: "Vulkan".into(),
        kind: AdapterKind::Software,
        index_in_kind: 0,
    })
}

/// Trains `cfg` to the end on `choice`; returns the report and every event.
pub fn train(choice: &Choice, cfg: &Config) -> (FitReport, Vec<Event>) {
    train_on(choice, &[], cfg)
}

/// Trains `cfg` to the end with each batch split over the chosen backend's devices `parallel`
/// (indices; empty: one device, no splitting); returns the report and every event.
pub fn train_on(choice: &Choice, parallel: &[usize], cfg: &Config) -> (FitReport, Vec<Event>) {
    let data =
        TaskData::Images(load_splits(&cfg.data, cfg.run.seed).expect("bundled dataset loads"));
    let mut rec = Recorder::default();
    let _serial = crate::common::train_lock();
    let ports = FitPorts {
        observer: &mut rec,
        store: None,
        stop: None,
        tracker_run_id: String::new(),
    };
    let job = FitJob {
        cfg,
        data: &data,
        resume: None,
        memory_budget: None,
        parallel,
        ranks: None,
        device_label: choice.device(),
    };
    let outcome = fit(choice, job, ports).expect("training succeeds");
    let FitOutcome::Finished(report) = outcome else {
        panic!("not interrupted, so it finishes")
    };
    (*report, rec.0)
}

/// Runs `job` on `choice` as `trainer fit` does: the learner on the backend, then the loop.
pub fn fit(
    choice: &Choice,
    job: FitJob<'_>,
    ports: FitPorts<'_>,
) -> Result<FitOutcome, TrainError> {
    let (cfg, resume) = (job.cfg, job.resume);
    let mut learner = backend::learner(choice, job)?;
    trainer_fit::fit(cfg, learner.as_mut(), resume, ports)
}

pub fn step_losses(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| {
            if let Event::Step { loss, .. } = e {
                Some(*loss)
            } else {
                None
            }
        })
        .collect()
}

/// The shared body: the model learns, and the loop reports what it did.
fn learns(choice: Choice) {
    let backend = choice.name();
    let cfg = small_config(42, 2);
    let (report, events) = train(&choice, &cfg);
    assert_eq!(
        report.steps,
        2 * (8000 / 100),
        "drop_last: 8,000 / 100 = 80 full batches per epoch"
    );
    let losses = step_losses(&events);
    assert_eq!(losses.len(), 2 * 8, "a Step event every 10 steps");
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(
        losses[losses.len() - 1] < losses[0] * 0.5,
        "loss should fall: {losses:?}"
    );
    assert!(
        report.test.accuracy.is_some_and(|a| a > 0.85),
        "test accuracy {:?} on {backend}",
        report.test.accuracy
    );
    assert_eq!(report.test.samples, 2000);
    assert!(matches!(events.first(), Some(Event::RunStarted { .. })));
    assert!(matches!(
        events.last(),
        Some(Event::Evaluated {
            split: Split::Test,
            epoch: None,
            ..
        })
    ));
}

#[cfg(feature = "ndarray")]
#[test]
fn learns_on_ndarray() {
    learns(Choice::NdArray);
}

#[test]
fn learns_on_flex() {
    learns(Choice::Flex);
}

#[test]
fn learns_on_wgpu() {
    // Uses the software adapter (lavapipe) explicitly; `.ci/run` installs it.
    learns(lavapipe());
}

#[test]
fn same_seed_reproduces_every_loss_on_cpu() {
    let (a, ea) = train(&Choice::Flex, &small_config(7, 1));
    let (b, eb) = train(&Choice::Flex, &small_config(7, 1));
    let (c, ec) = train(&Choice::Flex, &small_config(8, 1));
    assert_eq!(step_losses(&ea), step_losses(&eb));
    assert_eq!(a.test, b.test);
    assert_ne!(
        step_losses(&ea),
        step_losses(&ec),
        "a different seed must change the run"
    );
    assert_ne!(a.final_train_loss, c.final_train_loss);
}

#[test]
fn gradient_accumulation_matches_one_batch_of_the_window_size() {
    let run = |batch_size: usize, accumulation: usize| {
        let mut cfg = small_config(5, 2);
        cfg.model.mlp.dropout = 0.0; // no random masks: the two runs see the same function
        cfg.train.drop_last = false;
        cfg.train.batch_size = batch_size;
        cfg.train.grad_accumulation_steps = accumulation;
        train(&Choice::Flex, &cfg).0
    };
    // 4 batches of 100 per update cover exactly the samples of one batch of 400.
    let (accumulated, large, small) = (run(100, 4), run(400, 1), run(100, 1));
    assert_eq!(accumulated.steps, 2 * 80, "steps still count batches");
    let gap = |a: &FitReport, b: &FitReport| (a.test.loss - b.test.loss).abs() / b.test.loss;
    assert!(
        gap(&accumulated, &large) < 1e-4,
        "accumulated {} vs one large batch {}",
        accumulated.test.loss,
        large.test.loss
    );
    // The control: four times as many updates end somewhere clearly different.
    assert!(
        gap(&small, &large) > 1e-2,
        "control {} vs {}",
        small.test.loss,
        large.test.loss
    );
}
