//! The CLI's commands: they wire config, backend choice, data, adapters and the core together.

mod backends;
mod bench;
mod checkpoints;
mod data;
mod eval;
mod final_artifacts;
mod fit;
mod launch;
mod models;
mod predict;
mod run_journal;
mod runs;
mod sample;
mod sweep;
mod system_metrics;
mod warmup;

pub use backends::backends;
pub use bench::bench;
pub use checkpoints::checkpoints;
pub use data::data;
pub use eval::eval;
pub use fit::fit;
pub(crate) use fit::{Placement, RunPorts, STOP, Trainee, resume_target, run_fit};
pub use launch::launch;
pub use models::models;
pub use predict::predict;
pub use runs::runs;
pub use sample::sample;
pub use sweep::sweep;
pub use warmup::warmup;

use crate::exit::Exit;
pub use trainer_core::background::panic_message;

/// Set by `trainer sweep` for its trials: `fit` stops (checkpoint, KILLED) when its parent dies.
pub const STOP_WITH_PARENT_ENV: &str = "TRAINER_STOP_WITH_PARENT";

/// A command failure with its exit code: bad input (config, data, unavailable backend), a
/// failure while running, or an interrupted run.
#[derive(Debug)]
pub struct Failure {
    /// Process exit code.
    pub code: Exit,
    /// What went wrong.
    pub error: anyhow::Error,
}

impl Failure {
    /// Bad input from the user: exit code 2.
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: Exit::BadInput,
            error: error.into(),
        }
    }

    /// A training-core failure: bad input (exit 2) or a failure while running (exit 1).
    pub fn train(error: trainer_core::train::TrainError) -> Self {
        if error.is_bad_input() {
            Self::input(error)
        } else {
            Self::runtime(error)
        }
    }

    /// A job's failure, with the exit code its kind calls for.
    pub fn job(error: crate::jobs::JobError) -> Self {
        Self {
            code: error.exit(),
            error: error.into(),
        }
    }

    /// A failure while running: exit code 1.
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: Exit::Failure,
            error: error.into(),
        }
    }
}

impl From<crate::jobs::JobError> for Failure {
    fn from(error: crate::jobs::JobError) -> Self {
        Failure::job(error)
    }
}

/// Refuses an output path that already exists (a file, a directory, even a dangling link):
/// commands never overwrite what is there, their own input included.
pub(crate) fn refuse_existing(flag: &str, out: &std::path::Path) -> Result<(), Failure> {
    if std::fs::symlink_metadata(out).is_ok() {
        return Err(Failure::input(anyhow::anyhow!(
            "{flag} {}: already exists; not overwriting it (remove it or choose another path)",
            out.display()
        )));
    }
    Ok(())
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `-q/--quiet`: errors and results only.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `-q/--quiet` is on.
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// A diagnostic line on stderr (the `backend:` line), left out under `--quiet`.
pub(crate) fn note(args: std::fmt::Arguments<'_>) {
    if !quiet() {
        eprintln!("{args}");
    }
}

/// Opens the checkpoint `--checkpoint` names (a checkpoint, or a run directory's newest one
/// that verifies) and says on stderr which one it took when it was not named directly.
pub(crate) fn open_checkpoint(path: &std::path::Path) -> Result<crate::jobs::Opened, Failure> {
    let opened = crate::jobs::open(path)?;
    if opened.path != path {
        note(format_args!(
            "checkpoint: {} (the newest in {} that verifies)",
            opened.path.display(),
            path.display()
        ));
    }
    Ok(opened)
}

/// A data error for a config whose data path is relative and missing here: it says the path
/// is looked up from the current directory, and `advice` (what to do instead).
pub(crate) fn relative_data_hint(
    e: crate::data::DataError,
    cfg: &crate::config::Config,
    advice: &str,
) -> anyhow::Error {
    let path = if crate::task::Task::of(cfg.data.format).reads_one_file() {
        &cfg.data.file
    } else {
        &cfg.data.dir
    };
    if path.is_relative() && !path.exists() {
        let here = std::env::current_dir().map_or_else(|_| "?".into(), |d| d.display().to_string());
        return anyhow::anyhow!(
            "{e} ({} is relative to the current directory, {here}: {advice})",
            path.display()
        );
    }
    e.into()
}

/// Runs `f` on a backend, turning a panic inside Burn (e.g. a driver failure on a runner
/// thread) into a runtime failure instead of a crash.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, Failure> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        Failure::runtime(anyhow::anyhow!(
            "{what} failed inside the backend: {}",
            panic_message(payload.as_ref())
        ))
    })
}
