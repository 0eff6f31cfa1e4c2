//! `trainer`: config-driven training on Burn, generic over the backend, chosen at run time.
//!
//! # Train your own Burn model
//!
//! A Burn user's model gets everything a `trainer fit` run gets (run directory, journal,
//! atomic checkpoints and exact resume, MLflow tracking with isolated failures, progress bar,
//! NaN and divergence guards, Ctrl-C handling, `summary.json` and `loss.png`) from two trait
//! implementations and one call:
//!
//! 1. [`Trainable`] on the model (its host batch type, and `score`: the logits or predicted
//!    values with their targets, as [`Scores`]);
//! 2. [`ModelFactory`] on its config (its name, and `init` on any autodiff backend);
//! 3. data as [`Splits`] of a [`BatchSource`] yielding that batch type: the bundled formats
//!    through [`data::load_splits`] (images, batches of [`HostBatch`]), or your own source;
//! 4. [`fit`] with a [`config::Config`] from [`config::load`]: the backend is picked at run time
//!    per `run.backend` (`auto` probes CUDA, then wgpu, then the CPU), so your model's training
//!    steps are compiled into your program for every backend this build has; or [`fit_on`] a
//!    backend you name ([`NamedBackend`]: `Autodiff<Flex>`, ...), which compiles only that one.
//!
//! On the CPU, call [`host::tune`] first thing in `main` (before anything allocates much or
//! uses rayon) to train at the `trainer` binary's speed: it keeps freed step buffers for reuse
//! and makes the training thread one of rayon's workers, as the binary does.
//!
//! [`load`] rebuilds the trained model for inference from a checkpoint or run directory. The
//! `runs` and `checkpoints` commands read library runs like any other.
//!
//! ```no_run
//! # use burn::prelude::*;
//! # use burn::nn::{Linear, LinearConfig};
//! # use burn::tensor::backend::AutodiffBackend;
//! use trainer::{FitOptions, HostBatch, ModelFactory, Scores, Trainable};
//!
//! #[derive(Module, Debug)]
//! struct Net<B: Backend> {
//!     layer: Linear<B>,
//! }
//!
//! impl<B: Backend> Trainable<B> for Net<B> {
//!     type Batch = HostBatch;
//!     fn score(&self, batch: &HostBatch, device: &B::Device) -> Scores<B> {
//!         let (images, targets) = trainer::model::device_batch::<B>(batch, device);
//!         let logits = self.layer.forward(images.flatten::<2>(1, 3));
//!         Scores::Classes { logits, targets }
//!     }
//! }
//!
//! struct NetConfig;
//!
//! impl ModelFactory for NetConfig {
//!     type Batch = HostBatch;
//!     type Model<B: AutodiffBackend> = Net<B>;
//!     fn name(&self) -> String {
//!         "net".into()
//!     }
//!     fn init<B: AutodiffBackend>(&self, device: &B::Device) -> Net<B> {
//!         Net { layer: LinearConfig::new(784, 10).init(device) }
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! trainer::host::tune(); // first in main: the binary's CPU speed
//! let config = trainer::config::load(Some("configs/mnist-mlp.toml".as_ref()), &[])?;
//! let data = trainer::data::load_splits(&config.data, config.run.seed)?;
//! // On the CPU; `trainer::fit` (same arguments, no device) picks per `run.backend`.
//! type Cpu = burn::backend::Autodiff<burn::backend::Flex>;
//! let options = FitOptions::default();
//! let summary = trainer::fit_on::<Cpu, _, _>(&config, &NetConfig, &data, options, Default::default())?;
//! println!("test loss {:.4} in {}", summary.test_loss, summary.run_name);
//! let run_dir = config.run.output_dir.join(&summary.run_name);
//! let net: Net<burn::backend::Flex> = trainer::load(&NetConfig, &run_dir, &Default::default())?;
//! # let _ = net;
//! # Ok(())
//! # }
//! ```
//!
//! `examples/custom_model.rs` (a residual MLP, interrupted and resumed exactly) and
//! `examples/custom_data.rs` (a streamed synthetic regression source) run in CI.
//!
//! # Layout
//!
//! This crate's public API is the items above and the modules [`config`], [`data`],
//! [`model`], [`train`], [`host`] and [`exit`]: the few types a library user names. Everything else (the
//! command line, and the workspace's crates it is built on: `trainer-core` (config, data,
//! models, the per-step training work, checkpoints, runs, jobs), `trainer-fit` (the training
//! loop), `trainer-backends` (probing, choice, dispatch), `trainer-tracking` (MLflow),
//! `trainer-plots` (charts) and `trainer-text` (tokenizers)) is private to it and may change in any release. `tests/public_api.rs` checks
//! that the examples use nothing else.

mod cli;
mod cli_main;
mod commands;
mod fetch;
pub mod host;
mod library;
#[cfg(feature = "mpi")]
mod mpi;
mod ranks;

// The workspace's modules under the names the command line's code uses (`crate::run`, ...).
use trainer_backends as backend;
use trainer_core::{
    bench, checkpoint, digest, fsutil, host_memory, jobs, metrics, observe, outln, run, sweep, task,
};
use trainer_tracking as tracking;

pub use library::{FitOptions, RunError, fit, fit_on, load};
pub use trainer_backends::NamedBackend;
pub use trainer_core::data::{BatchSource, DataSource, HostBatch, Samples, Splits};
pub use trainer_core::jobs::InferenceModel;
pub use trainer_core::model::{ModelFactory, Scores, Trainable};
pub use trainer_core::run::Summary;
pub use trainer_core::train::{Event, Observer};
pub use trainer_core::{HostOps, TrainBackend};

/// The run configuration: the typed form of a `trainer` TOML file, and how to load it.
pub mod config {
    pub use trainer_core::config::{
        AugmentConfig, BackendRequest, BadSamples, BestMetric, BestMode, CheckpointConfig,
        CnnConfig, Config, ConfigError, DataConfig, DataFormat, DeviceList, GptConfig, MlpConfig,
        ModelConfig, ModelKind, OptimizerKind, Override, Precision, ResnetConfig, RunConfig,
        ScheduleConfig, ScheduleKind, TrackingConfig, TrainConfig, load,
    };
}

/// Data: the bundled formats' loader, the batch types, and the traits a custom source
/// implements.
pub mod data {
    pub use trainer_core::data::{
        BatchSource, DataError, DataSource, DatasetRecord, HostBatch, Samples, Splits, TargetScale,
        TokenBatch, fill_batch, load_splits,
    };
}

/// Models: the traits a custom model implements, and moving a host batch onto a device.
pub mod model {
    pub use trainer_core::model::{ModelFactory, Scores, Trainable, device_batch};
}

/// What a run reports while it trains: the events an [`Observer`] receives.
pub mod train {
    pub use trainer_core::sweep::TrialStatus;
    pub use trainer_core::train::{EvalResult, Event, Observer, RunStatus, Split};
}

pub use trainer_core::exit;

/// The command line's entry point and the MPI rank group, for this package's binary and
/// benchmarks: not part of the library API, and may change in any release.
#[doc(hidden)]
pub mod internal {
    pub use crate::cli_main::main;
    pub use crate::ranks::{finish, join};
}
