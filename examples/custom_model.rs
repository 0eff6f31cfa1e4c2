//! Your own Burn model, trained by `trainer` as a library on the backend `run.backend` picks at
//! run time: a small residual MLP on the bundled MNIST subset. It trains once straight through,
//! then again stopped at the first logged step from step 70 on (in epoch 2) and resumed from
//! the checkpoint the stop saved, checks that both runs log the same losses and reach the same
//! test loss bit for bit, and loads the trained model back for inference.
//!
//! `cargo run --release --example custom_model [OUTPUT_DIR]` (default `target/example-runs`).
//! Exits 1 if the resumed run differs.

use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use trainer::config::Override;
use trainer::exit::Exit;
use trainer::{Event, FitOptions, HostBatch, ModelFactory, Observer, Scores, Trainable};

/// `x + W2 relu(W1 x)`.
#[derive(Module, Debug)]
pub struct Residual<B: Backend> {
    inner: Linear<B>,
    outer: Linear<B>,
    act: Relu,
}

impl<B: Backend> Residual<B> {
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let y = self
            .outer
            .forward(self.act.forward(self.inner.forward(x.clone())));
        x + y
    }
}

/// Flattened image -> width -> residual blocks -> classes.
#[derive(Module, Debug)]
pub struct ResMlp<B: Backend> {
    input: Linear<B>,
    blocks: Vec<Residual<B>>,
    output: Linear<B>,
    act: Relu,
}

impl<B: Backend> Trainable<B> for ResMlp<B> {
    type Batch = HostBatch;

    fn score(&self, batch: &HostBatch, device: &B::Device) -> Scores<B> {
        let (images, targets) = trainer::model::device_batch::<B>(batch, device);
        let mut x = self
            .act
            .forward(self.input.forward(images.flatten::<2>(1, 3)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        Scores::Classes {
            logits: self.output.forward(x),
            targets,
        }
    }
}

/// The model's settings; `trainer` builds it through this on whichever backend it picks.
pub struct ResMlpConfig {
    inputs: usize,
    width: usize,
    blocks: usize,
    classes: usize,
}

impl ModelFactory for ResMlpConfig {
    type Batch = HostBatch;
    type Model<B: AutodiffBackend> = ResMlp<B>;

    fn name(&self) -> String {
        "resmlp".into()
    }

    fn init<B: AutodiffBackend>(&self, device: &B::Device) -> ResMlp<B> {
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        ResMlp {
            input: linear(self.inputs, self.width),
            blocks: (0..self.blocks)
                .map(|_| Residual {
                    inner: linear(self.width, self.width),
                    outer: linear(self.width, self.width),
                    act: Relu::new(),
                })
                .collect(),
            output: linear(self.width, self.classes),
            act: Relu::new(),
        }
    }
}

/// Records each logged training loss; raises `stop` once step `stop_at` is done.
struct Watch {
    losses: Arc<Mutex<Vec<(usize, u64)>>>,
    stop: Option<(usize, Arc<AtomicBool>)>,
}

impl Observer for Watch {
    fn on_event(&mut self, event: &Event) {
        if let Event::Step {
            global_step, loss, ..
        } = event
        {
            if let Ok(mut losses) = self.losses.lock() {
                losses.push((*global_step, loss.to_bits()));
            }
            if let Some((at, flag)) = &self.stop
                && *global_step >= *at
            {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    // As the `trainer` binary does, before anything allocates or uses rayon: CPU training speed.
    trainer::host::tune();
    let output = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/example-runs"), PathBuf::from);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let config_for = |name: &str| -> Result<trainer::config::Config, Box<dyn Error>> {
        let set = |key: &str, value: toml::Value| Override::flag("example", key, value);
        let overrides = [
            set("run.name", format!("resmlp-{name}-{stamp}").into()),
            set("run.output_dir", output.display().to_string().into()),
            set("train.epochs", 2.into()),
        ];
        Ok(trainer::config::load(
            Some("configs/mnist-mlp.toml".as_ref()),
            &overrides,
        )?)
    };
    let factory = ResMlpConfig {
        inputs: 28 * 28,
        width: 128,
        blocks: 2,
        classes: 10,
    };

    // Straight through.
    let config = config_for("straight")?;
    let data = trainer::data::load_splits(&config.data, config.run.seed)?;
    let straight = Arc::new(Mutex::new(Vec::new()));
    let watch = Watch {
        losses: straight.clone(),
        stop: None,
    };
    let options = FitOptions {
        observers: vec![Box::new(watch)],
        ..FitOptions::default()
    };
    let reference = trainer::fit(&config, &factory, &data, options)?;

    // Stopped at the first logged step from 70 on (the stop saves a checkpoint), then resumed.
    let config = config_for("resumed")?;
    let stop = Arc::new(AtomicBool::new(false));
    let resumed = Arc::new(Mutex::new(Vec::new()));
    let watch = Watch {
        losses: resumed.clone(),
        stop: Some((70, stop.clone())),
    };
    let options = FitOptions {
        stop: Some(&stop),
        observers: vec![Box::new(watch)],
        ..FitOptions::default()
    };
    match trainer::fit(&config, &factory, &data, options) {
        Err(e) if e.exit == Exit::Interrupted => println!("stopped as planned: {e}"),
        other => {
            return Err(format!("expected the run to stop after step 70, got {other:?}").into());
        }
    }
    let options = FitOptions {
        resume: Some("auto".into()),
        observers: vec![Box::new(Watch {
            losses: resumed.clone(),
            stop: None,
        })],
        ..FitOptions::default()
    };
    let summary = trainer::fit(&config, &factory, &data, options)?;

    let (a, b) = (
        straight.lock().map_err(|_| "poisoned")?,
        resumed.lock().map_err(|_| "poisoned")?,
    );
    let same_losses = *a == *b;
    let same_test = reference.test_loss.to_bits() == summary.test_loss.to_bits();
    println!(
        "straight: test loss {:.6}, accuracy {:.2}%; stopped and resumed: test loss {:.6}, accuracy {:.2}%",
        reference.test_loss,
        reference.test_accuracy.unwrap_or(f64::NAN) * 100.0,
        summary.test_loss,
        summary.test_accuracy.unwrap_or(f64::NAN) * 100.0,
    );
    if !(same_losses && same_test) {
        eprintln!(
            "error: the resumed run differs from the straight one (logged losses equal: {same_losses}, test loss equal: {same_test})"
        );
        std::process::exit(1);
    }
    println!(
        "resumed exactly: {} logged losses and the test loss are bit-identical",
        a.len()
    );

    // Back for inference, on the CPU: the newest checkpoint of the resumed run.
    let run_dir = config.run.output_dir.join(&summary.run_name);
    let device = Default::default();
    let model: ResMlp<burn::backend::Flex> = trainer::load(&factory, &run_dir, &device)?;
    let batch = trainer::data::fill_batch(data.test.as_ref(), &[0, 1, 2, 3])?;
    let predicted = model
        .score(&batch, &device)
        .outputs()
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .map_err(|e| format!("{e:?}"))?;
    println!(
        "loaded {}: predicted {predicted:?} for labels {:?}",
        run_dir.display(),
        batch.labels
    );
    Ok(())
}
