//! `trainer`: config-driven training on Burn, generic over the backend, chosen at run time.
//!
//! This crate is the command line (`cli`, `commands`, `fetch`); the work lives in the
//! workspace's crates, re-exported here under their module names: `trainer-core` (config,
//! data, models, the training loop, checkpoints, runs, jobs), `trainer-backends` (probing,
//! choice, dispatch) and `trainer-tracking` (MLflow).

pub mod cli;
pub mod commands;
pub mod fetch;

pub use trainer_backends as backend;
pub use trainer_core::{HostOps, TrainBackend};
pub use trainer_core::{
    bench, checkpoint, config, console, data, digest, exit, fsutil, host_memory, jobs, metrics,
    model, observe, outln, run, sweep, task, train,
};
pub use trainer_tracking as tracking;
