//! `trainer-core`: config, data sources and the streaming loader, models, the training work
//! generic over the Burn backend (the `Learner` the loop in `trainer-fit` drives), checkpoints,
//! metrics, the run journal and layout, and the jobs that run on a backend. No concrete backend
//! is chosen here and nothing talks HTTP: the backends crate instantiates the jobs, the
//! tracking crate consumes the journal.

pub mod background;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod console;
pub mod data;
pub mod digest;
pub mod exit;
pub mod fsutil;
pub mod host_memory;
pub mod host_threads;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod observe;
pub mod run;
pub mod sweep;
pub mod task;
pub mod train;

pub use trainer_ops::{HostOps, TrainBackend};
