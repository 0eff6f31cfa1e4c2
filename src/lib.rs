//! `trainer`: config-driven training on Burn, generic over the backend, chosen at run time.

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod data;
pub mod digest;
pub mod fetch;
pub mod fsutil;
pub mod host_memory;
pub mod metrics;
pub mod model;
pub mod observe;
pub mod run;
pub mod sweep;
pub mod task;
pub mod tracking;
pub mod train;
