//! Shared set-up: the repository's configs and bundled data, opened as `trainer` opens them.

use trainer_core::config::{self, Config};

/// Loads `configs/<name>.toml`, with the working directory at the repository root so the
/// configs' relative data paths resolve.
pub fn config(name: &str) -> Config {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("enter the repository root");
    let path = std::path::PathBuf::from(format!("configs/{name}.toml"));
    config::load(Some(&path), &[]).unwrap_or_else(|e| panic!("configs/{name}.toml: {e}"))
}

/// The first `n` sample indices: a fixed batch, the same on every run.
pub fn first(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}
