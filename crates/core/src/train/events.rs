//! Events of a run (the journal's vocabulary, read back by trackers, `runs` and plots), and the
//! observer port that progress bars, journals and trackers implement. Adding a consumer never
//! touches the loop.

use super::EvalResult;
use serde::{Deserialize, Deserializer, Serialize};

/// Which split an evaluation ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Held-out part of the training files.
    Valid,
    /// The test files.
    Test,
}

/// How a run stands: how it ended (the journal's `run_ended`, MLflow's status, the trial a
/// sweep reads back), or that no end is recorded yet. Serialized as MLflow's upper-case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    /// Trained to the end.
    Finished,
    /// Stopped by Ctrl-C or SIGTERM; resumable.
    Killed,
    /// Stopped by an error.
    Failed,
    /// No end recorded: still running, or the process died (resume it with `--resume auto`).
    /// Never written as a run's end.
    Incomplete,
}

impl RunStatus {
    /// The name in MLflow (`FINISHED`; a run with no recorded end is `RUNNING` there).
    pub fn mlflow_name(self) -> &'static str {
        match self {
            Self::Finished => "FINISHED",
            Self::Killed => "KILLED",
            Self::Failed => "FAILED",
            Self::Incomplete => "RUNNING",
        }
    }

    /// The lower-case name in tables (`finished`, `incomplete`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Killed => "killed",
            Self::Failed => "failed",
            Self::Incomplete => "incomplete",
        }
    }
}

/// NaN, the value of a float the journal lacks.
pub(super) fn nan() -> f64 {
    f64::NAN
}

/// serde_json writes NaN and infinities as `null`; they read back as NaN.
pub(super) fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// What happened in a run: the training loop's events, and its end (written by the command).
/// Fields older journals lack read as 0 (counts) or NaN (measurements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Before the first step.
    RunStarted {
        /// The model's name (`mlp`, ... or a library user's model); empty in older journals.
        #[serde(default)]
        model: String,
        /// Backend name.
        backend: String,
        /// Device description.
        device: String,
        /// Trainable parameters.
        #[serde(default)]
        parameters: usize,
        /// Training samples per epoch.
        #[serde(default)]
        train_samples: usize,
        /// Optimizer steps per epoch.
        #[serde(default)]
        steps_per_epoch: usize,
        /// Epochs planned.
        epochs: usize,
        /// Steps already done when this process started (0 unless resumed).
        #[serde(default)]
        resumed_at_step: usize,
    },
    /// The data the run reads (written after `run_started` by each process of the run).
    DataUsed {
        /// The dataset: files, digest, splits.
        dataset: crate::data::DatasetRecord,
    },
    /// One sample of the machine's load (written by the system-metrics sampler, not the loop).
    SystemMetrics {
        /// Its number in the run (0, 1, ...; a resumed run continues the count).
        sample: u64,
        /// MLflow's system-metric names without the `system/` prefix, and their values.
        values: std::collections::BTreeMap<String, f64>,
    },
    /// Samples left out as unreadable (`data.bad_samples = "skip"`) since the previous such
    /// event (written at epoch ends and at the end of the run).
    SamplesSkipped {
        /// Each newly skipped file, as `path: why`.
        files: Vec<String>,
        /// Files this process has left out so far.
        total: usize,
    },
    /// A checkpoint was saved.
    CheckpointSaved {
        /// Its name.
        name: String,
        /// Steps done when it was taken.
        global_step: usize,
    },
    /// An epoch begins.
    EpochStarted {
        /// 0-based epoch.
        epoch: usize,
    },
    /// Loss read back from the device (every `train.log_every` steps and at epoch end).
    Step {
        /// 0-based epoch.
        #[serde(default)]
        epoch: usize,
        /// Steps done in this epoch.
        #[serde(default)]
        step_in_epoch: usize,
        /// Steps done in the run.
        global_step: usize,
        /// Mean training loss over the steps since the previous `Step` event.
        #[serde(default = "nan", deserialize_with = "nan_if_null")]
        loss: f64,
        /// Learning rate used.
        #[serde(default = "nan", deserialize_with = "nan_if_null")]
        lr: f64,
        /// Training throughput since the epoch started.
        #[serde(default = "nan", deserialize_with = "nan_if_null")]
        samples_per_sec: f64,
    },
    /// An evaluation finished.
    Evaluated {
        /// Epoch it ran after (None for the final test evaluation).
        #[serde(default)]
        epoch: Option<usize>,
        /// Which split.
        split: Split,
        /// Loss, the task's metrics and the rows scored (flattened into the event's fields).
        #[serde(flatten)]
        result: EvalResult,
    },
    /// An epoch ended.
    EpochEnded {
        /// 0-based epoch.
        epoch: usize,
        /// Mean training loss over the epoch.
        #[serde(default = "nan", deserialize_with = "nan_if_null")]
        train_loss: f64,
        /// Wall seconds of the epoch's training steps.
        #[serde(default = "nan", deserialize_with = "nan_if_null")]
        seconds: f64,
        /// Training throughput of the epoch.
        #[serde(default = "nan", deserialize_with = "nan_if_null")]
        samples_per_sec: f64,
    },
    /// The run ended (the journal's last line of a process).
    RunEnded {
        /// How.
        status: RunStatus,
    },
    /// A hyperparameter sweep began (the first line of a sweep's journal).
    SweepStarted {
        /// Trials planned.
        trials: usize,
        /// The metric optimized.
        objective: String,
    },
    /// A sweep's trial ended.
    TrialEnded {
        /// 0-based position in the trial list.
        trial: usize,
        /// Its run name.
        name: String,
        /// How it ended (finished, stopped early or failed).
        status: crate::sweep::TrialStatus,
        /// The objective it reached (None when it has none).
        #[serde(default)]
        objective: Option<f64>,
    },
    /// The best trial of a finished sweep.
    SweepBest {
        /// Its run name.
        name: String,
        /// Its objective.
        #[serde(default = "nan", deserialize_with = "nan_if_null")]
        objective: f64,
        /// The searched keys and its values (TOML).
        params: std::collections::BTreeMap<String, String>,
    },
}

/// A consumer of training events (progress display, journal, tracker).
pub trait Observer {
    /// Called on the training thread; implementations must return quickly.
    fn on_event(&mut self, event: &Event);

    /// A failure that must end the run (e.g. the journal's writer thread panicked), polled
    /// after every step; `None` by default. Must not block.
    fn failure(&mut self) -> Option<String> {
        None
    }
}

/// Fans one event out to several observers, in order.
#[derive(Default)]
pub struct Observers(pub Vec<Box<dyn Observer>>);

impl Observer for Observers {
    fn on_event(&mut self, event: &Event) {
        for o in &mut self.0 {
            o.on_event(event);
        }
    }

    fn failure(&mut self) -> Option<String> {
        self.0.iter_mut().find_map(|o| o.failure())
    }
}
