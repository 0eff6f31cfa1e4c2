//! The trainer as a library: a user-defined Burn model trained through `trainer::fit_on` on the
//! CPU (one model on one backend: the only monomorphization of a model's training steps in the
//! test targets; `examples/custom_model.rs` covers `trainer::fit`'s run-time choice): exact resume
//! after a stop, tracking to a real MLflow server, `trainer::load`, the `runs` and
//! `checkpoints` commands on its runs, and a model whose `score` panics or goes NaN.

#[path = "integration/common.rs"]
mod common;
// The shared helpers; this binary uses a few of them.
#[allow(dead_code)]
#[path = "integration/mlflow_server.rs"]
mod mlflow_server;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use common::{stdout, tiny_dataset, train_lock, trainer};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use trainer::config::{Config, Override};
use trainer::exit::Exit;
use trainer::{Event, FitOptions, HostBatch, ModelFactory, Observer, Scores, Trainable};

/// What the probe model does wrong, from which step on (counted in `score` calls).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    PanicAt(usize),
    NanAt(usize),
}

/// One linear layer over flattened images, with an injectable fault.
#[derive(Module, Debug)]
struct Probe<B: Backend> {
    layer: Linear<B>,
    /// Fault and calls so far, outside the module's parameters.
    #[module(skip)]
    fault: Arc<Mutex<(Fault, usize)>>,
}

impl<B: Backend> Trainable<B> for Probe<B> {
    type Batch = HostBatch;

    fn score(&self, batch: &HostBatch, device: &B::Device) -> Scores<B> {
        let (images, targets) = trainer::model::device_batch::<B>(batch, device);
        let mut logits = self.layer.forward(images.flatten::<2>(1, 3));
        let (fault, calls) = {
            let mut f = self.fault.lock().unwrap();
            f.1 += 1;
            *f
        };
        match fault {
            Fault::PanicAt(n) if calls >= n => panic!("probe model exploded on call {calls}"),
            Fault::NanAt(n) if calls >= n => logits = logits * f32::NAN,
            _ => {}
        }
        Scores::Classes { logits, targets }
    }
}

struct ProbeConfig {
    fault: Fault,
}

impl ModelFactory for ProbeConfig {
    type Batch = HostBatch;
    type Model<B: AutodiffBackend> = Probe<B>;

    fn name(&self) -> String {
        "probe".into()
    }

    fn init<B: AutodiffBackend>(&self, device: &B::Device) -> Probe<B> {
        Probe {
            layer: LinearConfig::new(16, 3).init(device),
            fault: Arc::new(Mutex::new((self.fault, 0))),
        }
    }
}

/// `trainer::fit_on` the CPU.
fn fit(
    cfg: &Config,
    probe: &ProbeConfig,
    data: &trainer::Splits,
    options: FitOptions<'_>,
) -> Result<trainer::Summary, trainer::RunError> {
    type Cpu = burn::backend::Autodiff<burn::backend::Flex>;
    trainer::fit_on::<Cpu, _, _>(cfg, probe, data, options, Default::default())
}

/// A config over the tiny 4x4 dataset in `data`, runs in `out/name`.
fn config(data: &Path, out: &Path, name: &str, extra: &[(&str, toml::Value)]) -> Config {
    let mut overrides: Vec<Override> = [
        ("run.name", name.into()),
        ("run.output_dir", out.display().to_string().into()),
        ("run.backend", "cpu".into()),
        ("data.dir", data.display().to_string().into()),
        ("data.validation_fraction", 0.25.into()),
        ("train.epochs", 3.into()),
        ("train.batch_size", 8.into()),
        ("train.log_every", 1.into()),
        ("tracking.drain_seconds", 20.0.into()),
    ]
    .into_iter()
    .map(|(k, v)| Override::flag("test", k, v))
    .collect();
    overrides.extend(
        extra
            .iter()
            .map(|(k, v)| Override::flag("test", k, v.clone())),
    );
    trainer::config::load(None, &overrides).expect("a valid config")
}

/// Logged (step, loss bits) pairs.
type Losses = Arc<Mutex<Vec<(usize, u64)>>>;

/// Logs losses; raises the stop flag once `stop_at` is done.
struct Watch {
    losses: Losses,
    stop: Option<(usize, Arc<AtomicBool>)>,
}

impl Observer for Watch {
    fn on_event(&mut self, event: &Event) {
        if let Event::Step {
            global_step, loss, ..
        } = event
        {
            self.losses
                .lock()
                .unwrap()
                .push((*global_step, loss.to_bits()));
            if let Some((at, flag)) = &self.stop
                && global_step >= at
            {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }
}

fn watch(stop: Option<(usize, Arc<AtomicBool>)>) -> (Losses, Watch) {
    let losses = Arc::new(Mutex::new(Vec::new()));
    let w = Watch {
        losses: losses.clone(),
        stop,
    };
    (losses, w)
}

#[test]
fn a_user_model_stopped_and_resumed_equals_the_straight_run_and_reaches_mlflow() {
    let _lock = train_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("runs"));
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data, 64);
    let mut server = mlflow_server::Server::start(mlflow_server::free_port());
    let tracked = [
        ("tracking.mlflow_uri", toml::Value::from(server.uri.clone())),
        ("tracking.experiment", "trainer-library".into()),
    ];
    let probe = ProbeConfig { fault: Fault::None };
    let splits = |cfg: &Config| trainer::data::load_splits(&cfg.data, cfg.run.seed).unwrap();

    let cfg = config(&data, &out, "straight", &[]);
    let (straight, w) = watch(None);
    let options = FitOptions {
        observers: vec![Box::new(w)],
        ..FitOptions::default()
    };
    let reference = fit(&cfg, &probe, &splits(&cfg), options).unwrap();
    assert_eq!(reference.model, "probe");

    // Stopped after step 8 of 18 (mid epoch 2), then resumed: the same losses, bit for bit.
    let cfg = config(&data, &out, "resumed", &tracked);
    let stop = Arc::new(AtomicBool::new(false));
    let (resumed, w) = watch(Some((8, stop.clone())));
    let options = FitOptions {
        stop: Some(&stop),
        observers: vec![Box::new(w)],
        ..FitOptions::default()
    };
    let e = fit(&cfg, &probe, &splits(&cfg), options).unwrap_err();
    assert_eq!(e.exit, Exit::Interrupted, "{e}");
    assert!(e.message.contains("--resume auto"), "{e}");
    // The resumed session logs into the same list.
    let options = FitOptions {
        resume: Some("auto".into()),
        observers: vec![Box::new(Watch {
            losses: resumed.clone(),
            stop: None,
        })],
        ..FitOptions::default()
    };
    let summary = fit(&cfg, &probe, &splits(&cfg), options).unwrap();
    let (a, b) = (
        straight.lock().unwrap().clone(),
        resumed.lock().unwrap().clone(),
    );
    assert!(a.len() >= 18, "{} logged steps", a.len());
    assert_eq!(a, b, "straight vs stopped-and-resumed losses");
    assert_eq!(
        reference.test_loss.to_bits(),
        summary.test_loss.to_bits(),
        "test loss"
    );
    // `fit_on` names the device as `trainer fit` does, in the summary and the journal.
    assert!(summary.device.starts_with("cpu ("), "{}", summary.device);

    // The resumed run's metrics reached MLflow, under the model's name.
    let run_dir = out.join("resumed");
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).unwrap();
    let started = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "run_started")
        .expect("a run_started event");
    assert_eq!(started["device"], summary.device.as_str(), "{started}");
    let id = mlflow_server::assert_mlflow_matches_journal(&server, &run_dir);
    let run = server.client().get_run(&id).unwrap();
    let tags = run["run"]["data"]["tags"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["key"] == "trainer.model" && t["value"] == "probe"),
        "{tags:?}"
    );
    server.kill();

    // Loaded back for inference: the same test loss as the run's own evaluation.
    let device = Default::default();
    let model: Probe<burn::backend::Flex> = trainer::load(&probe, &run_dir, &device).unwrap();
    let test =
        trainer::data::fill_batch(splits(&cfg).test.as_ref(), &(0..64).collect::<Vec<u32>>())
            .unwrap();
    let loss: f64 = model
        .score(&test, &device)
        .loss()
        .into_scalar()
        .elem::<f64>();
    assert!(
        (loss - summary.test_loss).abs() < 1e-5,
        "{loss} vs {}",
        summary.test_loss
    );

    // The CLI reads library runs; the built-in commands refuse their checkpoints clearly.
    let out_arg = out.display().to_string();
    let o = trainer(&["runs", "ls", "--output", &out_arg]);
    let listing = stdout(&o);
    assert!(o.status.success(), "{listing}");
    assert!(
        listing
            .lines()
            .any(|l| l.contains("resumed") && l.contains("probe")),
        "{listing}"
    );
    let o = trainer(&["checkpoints", "ls", &run_dir.display().to_string()]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let latest = std::fs::read_to_string(run_dir.join("checkpoints/latest")).unwrap();
    let checkpoint = run_dir.join("checkpoints").join(latest.trim());
    let o = trainer(&["eval", "--checkpoint", &checkpoint.display().to_string()]);
    let e = common::one_line_error(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("`probe`") && e.contains("trainer::load"), "{e}");
}

#[test]
fn a_user_model_that_panics_or_goes_nan_fails_the_run_clearly() {
    let _lock = train_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("runs"));
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data, 64);
    for (fault, name, expect) in [
        (
            Fault::PanicAt(5),
            "panics",
            "probe model exploded on call 5",
        ),
        (Fault::NanAt(5), "nan", "diverged"),
    ] {
        let cfg = config(&data, &out, name, &[]);
        let splits = trainer::data::load_splits(&cfg.data, cfg.run.seed).unwrap();
        let e = fit(&cfg, &ProbeConfig { fault }, &splits, FitOptions::default()).unwrap_err();
        assert_eq!(e.exit, Exit::Failure, "{fault:?}: {e}");
        assert!(e.message.contains(expect), "{fault:?}: {e}");
        assert_eq!(e.message.lines().count(), 1, "one line: {e}");
        let journal = std::fs::read_to_string(out.join(name).join("journal.jsonl")).unwrap();
        let last: serde_json::Value =
            serde_json::from_str(journal.lines().last().unwrap()).unwrap();
        assert_eq!(last["status"], "FAILED", "{fault:?}");
    }
}

#[test]
fn loading_a_checkpoint_of_another_model_or_a_missing_one_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Default::default();
    let probe = ProbeConfig { fault: Fault::None };
    let missing = tmp.path().join("nope");
    let e = trainer::load::<burn::backend::Flex, _>(&probe, &missing, &device).unwrap_err();
    assert_eq!(e.exit, Exit::BadInput, "{e}");
    assert!(e.message.contains("nope"), "{e}");

    // A built-in run's checkpoint holds `mlp`, not `probe`.
    let out = tmp.path().join("runs");
    let args = common::small_fit_args(&out, "builtin", &["--set", "train.epochs=1"]);
    let o = common::trainer_owned(&args);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let e =
        trainer::load::<burn::backend::Flex, _>(&probe, out.join("builtin"), &device).unwrap_err();
    assert_eq!(e.exit, Exit::BadInput, "{e}");
    assert!(e.message.contains("`mlp` model, not `probe`"), "{e}");
}
