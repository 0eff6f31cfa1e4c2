//! The CLI's commands: they wire config, backend choice, data, adapters and the core together.

mod backends;
mod bench;
mod checkpoints;
mod data;
mod eval;
mod final_artifacts;
mod fit;
mod predict;
mod restore;
mod run_data;
mod runs;
mod sample;

pub use backends::backends;
pub use bench::bench;
pub use checkpoints::checkpoints;
pub use data::data;
pub use eval::eval;
pub use fit::fit;
pub use predict::predict;
pub use runs::runs;
pub use sample::sample;

/// A command failure with its exit code: 2 for bad input (config, data, unavailable backend),
/// 1 for failures while running.
#[derive(Debug)]
pub struct Failure {
    /// Process exit code.
    pub code: u8,
    /// What went wrong.
    pub error: anyhow::Error,
}

impl Failure {
    /// Bad input from the user: exit code 2.
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: 2,
            error: error.into(),
        }
    }

    /// A failure while running: exit code 1.
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: 1,
            error: error.into(),
        }
    }
}

/// Runs `f` on a backend, turning a panic inside Burn (e.g. a driver failure on a runner
/// thread) into a runtime failure instead of a crash.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, Failure> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Failure::runtime(anyhow::anyhow!(
            "{what} failed inside the backend: {}",
            msg.lines().next().unwrap_or("")
        ))
    })
}
