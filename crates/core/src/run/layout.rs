//! The files of a run directory, named in one place.

use std::path::{Path, PathBuf};

/// The run's resolved config (written first: its presence marks a directory as a run).
pub const CONFIG_FILE: &str = "config.toml";
/// Every event of the run, one JSON line each (the tracker's spool).
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// How much of the journal MLflow has acknowledged.
pub const TRACKING_FILE: &str = "tracking.json";
/// The finished run's summary.
pub const SUMMARY_FILE: &str = "summary.json";
/// The directory of the run's checkpoints.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// Held by the one `fit` writing the run.
pub const LOCK_FILE: &str = ".lock";
/// A finished run's final weights (the newest checkpoint, PyTorch-layout safetensors).
pub const MODEL_FILE: &str = "model.safetensors";
/// A finished run's loss curve.
pub const LOSS_CURVE_FILE: &str = "loss.png";
/// The run-directory files a tracker receives as artifacts when the run ends (when present).
pub const ARTIFACT_FILES: [&str; 4] = [CONFIG_FILE, SUMMARY_FILE, LOSS_CURVE_FILE, MODEL_FILE];

/// Where each file of the run directory `dir` is.
#[derive(Debug, Clone, Copy)]
pub struct RunLayout<'a> {
    dir: &'a Path,
}

impl<'a> RunLayout<'a> {
    /// The layout of the run directory `dir`.
    pub fn of(dir: &'a Path) -> Self {
        Self { dir }
    }

    /// The run directory.
    pub fn dir(self) -> &'a Path {
        self.dir
    }

    /// `config.toml`.
    pub fn config(self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// `journal.jsonl`.
    pub fn journal(self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    /// `tracking.json`.
    pub fn tracking(self) -> PathBuf {
        self.dir.join(TRACKING_FILE)
    }

    /// `summary.json`.
    pub fn summary(self) -> PathBuf {
        self.dir.join(SUMMARY_FILE)
    }

    /// `checkpoints/`.
    pub fn checkpoints(self) -> PathBuf {
        self.dir.join(CHECKPOINTS_DIR)
    }

    /// `.lock`.
    pub fn lock(self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// `model.safetensors`.
    pub fn model(self) -> PathBuf {
        self.dir.join(MODEL_FILE)
    }

    /// `loss.png`.
    pub fn loss_curve(self) -> PathBuf {
        self.dir.join(LOSS_CURVE_FILE)
    }

    /// True once the directory holds a run (its config is written first).
    pub fn holds_run(self) -> bool {
        self.config().exists()
    }

    /// True when the directory has a journal (what `runs` commands read).
    pub fn has_journal(self) -> bool {
        self.journal().is_file()
    }

    /// The run directory of the checkpoint directory `checkpoint` (`RUN/checkpoints/NAME`).
    pub fn of_checkpoint(checkpoint: &'a Path) -> Option<Self> {
        let parent = checkpoint.parent()?;
        if parent.file_name()? != CHECKPOINTS_DIR {
            return None;
        }
        parent.parent().map(Self::of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_names_its_run_only_inside_checkpoints() {
        let run = Path::new("/x/runs/r1");
        let ck = run.join("checkpoints/step-10");
        assert_eq!(RunLayout::of_checkpoint(&ck).map(RunLayout::dir), Some(run));
        assert!(RunLayout::of_checkpoint(Path::new("/x/runs/r1/step-10")).is_none());
        assert_eq!(RunLayout::of(run).journal(), run.join("journal.jsonl"));
    }
}
