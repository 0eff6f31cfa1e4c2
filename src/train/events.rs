//! Events the loop emits, and the observer port that progress bars, journals and trackers
//! implement. Adding a consumer never touches the loop.

use super::EvalResult;

/// Which split an evaluation ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Held-out part of the training files.
    Valid,
    /// The test files.
    Test,
}

/// What happened in the training loop.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Before the first step.
    RunStarted {
        /// Backend name.
        backend: String,
        /// Device description.
        device: String,
        /// Trainable parameters.
        parameters: usize,
        /// Training samples per epoch.
        train_samples: usize,
        /// Optimizer steps per epoch.
        steps_per_epoch: usize,
        /// Epochs planned.
        epochs: usize,
        /// Steps already done when this process started (0 unless resumed).
        resumed_at_step: usize,
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
        epoch: usize,
        /// Steps done in this epoch.
        step_in_epoch: usize,
        /// Steps done in the run.
        global_step: usize,
        /// Mean training loss over the steps since the previous `Step` event.
        loss: f64,
        /// Learning rate used.
        lr: f64,
        /// Training throughput since the epoch started.
        samples_per_sec: f64,
    },
    /// An evaluation finished.
    Evaluated {
        /// Epoch it ran after (None for the final test evaluation).
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
        train_loss: f64,
        /// Wall seconds of the epoch's training steps.
        seconds: f64,
        /// Training throughput of the epoch.
        samples_per_sec: f64,
    },
}

/// A consumer of training events (progress display, journal, tracker).
pub trait Observer {
    /// Called on the training thread; implementations must return quickly.
    fn on_event(&mut self, event: &Event);
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
}
