//! The run's journal as `fit` writes it: every training event, a `data_used` line after each
//! `run_started`, and system-metric samples from their own thread once the run has started.

use super::system_metrics::SystemSampler;
use crate::observe::Journal;
use std::path::PathBuf;
use trainer_core::data::DatasetRecord;
use trainer_core::train::{Event, Observer};

/// Where and how often the machine's load is sampled.
pub(super) struct Sampling {
    /// Seconds between samples (0: none).
    pub every: f64,
    /// The run directory (its filesystem is the disk sampled).
    pub run_dir: PathBuf,
    /// Whether GPU figures are read (through NVML).
    pub gpus: bool,
}

/// The journal with the run's datasets and its system-metrics sampler.
pub(super) struct RunJournal {
    /// Declared first: dropped (stopped and joined) before the journal, whose writer finishes
    /// only once the sampler's sender is gone.
    sampler: Option<SystemSampler>,
    journal: Journal,
    datasets: Vec<DatasetRecord>,
    sampling: Sampling,
}

impl RunJournal {
    /// Wraps `journal`; nothing is sampled before the first `run_started`.
    pub fn new(journal: Journal, datasets: Vec<DatasetRecord>, sampling: Sampling) -> Self {
        Self {
            sampler: None,
            journal,
            datasets,
            sampling,
        }
    }
}

impl Observer for RunJournal {
    fn on_event(&mut self, event: &Event) {
        self.journal.on_event(event);
        if !matches!(event, Event::RunStarted { .. }) {
            return;
        }
        for dataset in &self.datasets {
            self.journal.on_event(&Event::DataUsed {
                dataset: dataset.clone(),
            });
        }
        if self.sampler.is_none() {
            let s = &self.sampling;
            self.sampler = self
                .journal
                .sender()
                .and_then(|tx| SystemSampler::start(s.every, &s.run_dir, s.gpus, tx));
        }
    }

    fn failure(&mut self) -> Option<String> {
        self.journal.failure()
    }
}
