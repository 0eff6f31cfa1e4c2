//! Run directories: `<output_dir>/<run-name>/`, never reusing one that already holds a run.

use crate::config::Config;
use crate::fsutil::write_atomic;
use std::path::{Path, PathBuf};

/// Why a run directory could not be prepared or written.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// The named run directory already holds a run.
    #[error("run directory {0} already holds a run; pick another --run-name or remove it")]
    Exists(PathBuf),
    /// Another process holds the run directory's lock.
    #[error(
        "run directory {path} is in use by another trainer process ({holder}); wait for it to end or pick another --run-name"
    )]
    InUse {
        /// The run directory.
        path: PathBuf,
        /// What the lock file says about its holder.
        holder: String,
    },
    /// `run.output_dir` exists but is not a directory.
    #[error(
        "run.output_dir (--output) {0}: not a directory; expected the directory run directories go in"
    )]
    OutputNotADirectory(PathBuf),
    /// A filesystem operation failed.
    #[error("{path}: {cause}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// OS error (shown in the message, so not chained as a source).
        cause: std::io::Error,
    },
}

impl RunDirError {
    /// True when the user's choice of name or place is at fault, not the filesystem.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, RunDirError::Io { .. })
    }
}

/// The directory of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// Run name (the directory's name).
    pub name: String,
    /// Path of the directory.
    pub path: PathBuf,
}

impl RunDir {
    /// Creates the run directory for `cfg`; an empty `run.name` becomes `<model>-<UTC time>`
    /// (with a numeric suffix if taken). A named directory holding a run is an error.
    pub fn create(cfg: &Config, model: &str) -> Result<Self, RunDirError> {
        let root = &cfg.run.output_dir;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |cause| RunDirError::Io { path, cause }
        };
        if root.exists() && !root.is_dir() {
            return Err(RunDirError::OutputNotADirectory(root.clone()));
        }
        std::fs::create_dir_all(root).map_err(io(root))?;
        let (name, path) = if cfg.run.name.is_empty() {
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .replace(['-', ':'], "")
                .replace('T', "-")
                .trim_end_matches('Z')
                .to_string();
            let base = format!("{model}-{stamp}");
            (1..)
                .map(|i| {
                    if i == 1 {
                        base.clone()
                    } else {
                        format!("{base}-{i}")
                    }
                })
                .map(|n| (n.clone(), root.join(n)))
                .find(|(_, p)| !p.exists())
                .unwrap_or_else(|| (base.clone(), root.join(&base)))
        } else {
            (cfg.run.name.clone(), root.join(&cfg.run.name))
        };
        if Self::holds_run(&path) {
            return Err(RunDirError::Exists(path));
        }
        std::fs::create_dir_all(&path).map_err(io(&path))?;
        Ok(Self { name, path })
    }

    /// Takes the run's exclusive lock (see [`RunLock`](super::RunLock)).
    pub fn lock(&self) -> Result<super::RunLock, RunDirError> {
        super::RunLock::acquire(&self.path)
    }

    /// True once the directory holds a run (its config is written first).
    pub fn holds_run(path: &Path) -> bool {
        super::RunLayout::of(path).holds_run()
    }

    /// Writes `bytes` to `<run dir>/<file>` atomically.
    pub fn write(&self, file: &str, bytes: &[u8]) -> Result<PathBuf, RunDirError> {
        let p = self.path.join(file);
        write_atomic(&p, bytes).map_err(|cause| RunDirError::Io {
            path: p.clone(),
            cause,
        })?;
        Ok(p)
    }
}
