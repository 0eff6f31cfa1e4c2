//! Integration tests, one binary (linking the Burn stack once keeps CI fast).

mod bench_cli;
mod checkpoints;
mod cli_fit;
mod common;
mod config_errors;
mod crash;
mod data_errors;
mod export_torch;
mod mlflow;
mod resume;
mod train_backends;
