//! Integration tests, one binary (linking the Burn stack once keeps CI fast).

mod bad_input;
mod bad_input_round2;
mod bench_cli;
mod checkpoints;
mod cli_fit;
mod common;
mod config_errors;
mod crash;
mod data_cli;
mod data_errors;
mod data_fetch;
mod export_torch;
mod fault_proxy;
mod hardening;
mod mlflow;
mod mlflow_faults;
mod mlflow_server;
mod registry;
mod resume;
mod runs_cli;
mod scale;
mod streaming;
mod sweep;
mod system_metrics;
mod tasks;
mod train_backends;
