//! Your own data source, streamed by `trainer`'s loader: a synthetic regression problem
//! (`y = sin(3 x0) + 0.5 x1 x2 + noise`, `x` uniform in [-1, 1]^3) generated batch by batch
//! in the loader's worker threads, never held in memory, every value a function of the seed
//! and the sample's index (so batch order, resume and worker count do not change it). A small
//! MLP of your own learns it on the CPU backend the program names (`trainer::fit_on`); the
//! trained model is loaded back and checked on fresh points.
//!
//! `cargo run --release --example custom_data [OUTPUT_DIR]` (default `target/example-runs`).

use burn::backend::{Autodiff, Flex};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use trainer::config::Override;
use trainer::data::{DataError, TargetScale};
use trainer::{BatchSource, FitOptions, ModelFactory, Samples, Scores, Splits, Trainable};

/// Input features per point.
const FEATURES: usize = 3;

/// A batch of points: features row-major `[n, FEATURES]` and targets `[n]`.
#[derive(Debug, Clone)]
pub struct Points {
    x: Vec<f32>,
    y: Vec<f32>,
}

impl Samples for Points {
    fn samples(&self) -> usize {
        self.y.len()
    }

    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        Points {
            x: self.x[range.start * FEATURES..range.end * FEATURES].to_vec(),
            y: self.y[range].to_vec(),
        }
    }
}

/// `len` points of the synthetic problem; `seed` tells the splits apart.
pub struct Synthetic {
    len: usize,
    seed: u64,
}

/// SplitMix64: a well-mixed 64-bit value from a counter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Synthetic {
    /// Point `index`: its features and target.
    fn point(&self, index: u32) -> ([f32; FEATURES], f32) {
        let base = mix(self.seed ^ mix(u64::from(index)));
        let uniform = |k: u64| (mix(base.wrapping_add(k)) >> 40) as f32 / (1u64 << 24) as f32;
        let x = [0, 1, 2].map(|k| uniform(k) * 2.0 - 1.0);
        let noise = (uniform(3) - 0.5) * 0.1;
        let y = (3.0 * x[0]).sin() + 0.5 * x[1] * x[2] + noise;
        (x, y)
    }
}

impl BatchSource for Synthetic {
    type Batch = Points;

    fn len(&self) -> usize {
        self.len
    }

    fn read_batch(&self, indices: &[u32]) -> Result<Points, DataError> {
        let mut batch = Points {
            x: Vec::with_capacity(indices.len() * FEATURES),
            y: Vec::with_capacity(indices.len()),
        };
        for &i in indices {
            let (x, y) = self.point(i);
            batch.x.extend(x);
            batch.y.push(y);
        }
        Ok(batch)
    }
}

/// FEATURES -> hidden -> hidden -> 1.
#[derive(Module, Debug)]
pub struct Regressor<B: Backend> {
    layers: Vec<Linear<B>>,
    act: Relu,
}

impl<B: Backend> Regressor<B> {
    /// Predictions `[n, 1]` for features `[n, FEATURES]`.
    fn forward(&self, mut x: Tensor<B, 2>) -> Tensor<B, 2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.act.forward(x);
            }
        }
        x
    }
}

impl<B: Backend> Trainable<B> for Regressor<B> {
    type Batch = Points;

    fn score(&self, batch: &Points, device: &B::Device) -> Scores<B> {
        let n = batch.samples();
        let x = Tensor::from_data(TensorData::new(batch.x.clone(), [n, FEATURES]), device);
        let targets = Tensor::from_data(TensorData::new(batch.y.clone(), [n]), device);
        Scores::Values {
            predicted: self.forward(x),
            targets,
            // The targets are already about unit scale: no standardization.
            scale: TargetScale::default(),
        }
    }
}

/// The regressor's width.
pub struct RegressorConfig {
    hidden: usize,
}

impl ModelFactory for RegressorConfig {
    type Batch = Points;
    type Model<B: AutodiffBackend> = Regressor<B>;

    fn name(&self) -> String {
        "synthetic-regressor".into()
    }

    fn init<B: AutodiffBackend>(&self, device: &B::Device) -> Regressor<B> {
        let h = self.hidden;
        Regressor {
            layers: [(FEATURES, h), (h, h), (h, 1)]
                .map(|(i, o)| LinearConfig::new(i, o).init(device))
                .into(),
            act: Relu::new(),
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
    let set = |key: &str, value: toml::Value| Override::flag("example", key, value);
    let overrides = [
        set("run.name", format!("synthetic-{stamp}").into()),
        set("run.output_dir", output.display().to_string().into()),
        set("train.epochs", 4.into()),
        set("train.batch_size", 64.into()),
        set("train.lr", 3e-3.into()),
        set("train.log_every", 50.into()),
        // A regression: the best checkpoint is the one with the lowest validation loss.
        set("checkpoint.best_metric", "valid_loss".into()),
        set("checkpoint.best_mode", "min".into()),
    ];
    // The built-in defaults plus the overrides: `[data]` and `[model]` are not read.
    let config = trainer::config::load(None, &overrides)?;
    let data = Splits {
        train: Arc::new(Synthetic { len: 8192, seed: 1 }),
        valid: Arc::new(Synthetic { len: 1024, seed: 2 }),
        test: Arc::new(Synthetic { len: 2048, seed: 3 }),
    };
    let factory = RegressorConfig { hidden: 64 };
    // The program names the backend: only the CPU's training steps are compiled in
    // (`trainer::fit` would pick per `run.backend` at run time, compiling every backend's).
    let device = Default::default();
    let summary = trainer::fit_on::<Autodiff<Flex>, _, _>(
        &config,
        &factory,
        &data,
        FitOptions::default(),
        device,
    )?;
    let rmse = summary.report.test.rmse.unwrap_or(f64::NAN);
    println!(
        "test RMSE {rmse:.4} (the noise alone is 0.029), R² {:.4}",
        summary.report.test.r2.unwrap_or(f64::NAN)
    );

    // The trained model on points no split has seen.
    let run_dir = config.run.output_dir.join(&summary.run_name);
    let device = Default::default();
    let model: Regressor<Flex> = trainer::load(&factory, &run_dir, &device)?;
    let fresh = Synthetic { len: 4, seed: 4 };
    let batch = fresh.read_batch(&[0, 1, 2, 3])?;
    let predicted = model
        .score(&batch, &device)
        .outputs()
        .into_data()
        .to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    for (p, y) in predicted.iter().zip(&batch.y) {
        println!("predicted {p:+.3}, true {y:+.3}");
    }
    if rmse.is_nan() || rmse >= 0.2 {
        eprintln!(
            "error: test RMSE {rmse:.4} is not below 0.2: the model did not learn the function"
        );
        std::process::exit(1);
    }
    Ok(())
}
