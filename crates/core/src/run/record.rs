//! What a run directory says about its run, read back from `config.toml` and the journal
//! (streamed line by line, so a long run's journal is never held in memory).

use super::{JOURNAL_FILE as JOURNAL, RunLayout};
use crate::config::flatten_toml;
use crate::observe::JournalLine;
use crate::observe::metrics_of;
use crate::train::{Event, RunStatus, Split};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One epoch as the journal recorded it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EpochRow {
    /// Epoch number, from 1.
    pub epoch: u64,
    /// Mean training loss over the epoch.
    pub train_loss: Option<f64>,
    /// Validation loss after the epoch.
    pub valid_loss: Option<f64>,
    /// Validation accuracy after the epoch.
    pub valid_accuracy: Option<f64>,
    /// Wall seconds of the epoch's training.
    pub seconds: Option<f64>,
}

/// A run directory read back (serialized as `runs show --json` prints it; non-finite metrics as
/// `null`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    /// Run name (the directory's name).
    pub name: String,
    /// The run directory.
    pub dir: PathBuf,
    /// How it ended.
    pub status: RunStatus,
    /// First journal timestamp (ms since the epoch).
    pub started_ms: Option<i64>,
    /// Timestamp of the last journal line.
    pub last_ms: Option<i64>,
    /// The model the run trains (from its journal; `model.kind` for journals before it was
    /// recorded).
    pub model: Option<String>,
    /// Backend of the latest session.
    pub backend: Option<String>,
    /// Device of the latest session.
    pub device: Option<String>,
    /// Epochs the config asks for.
    pub epochs_planned: Option<u64>,
    /// Global step reached.
    pub steps: i64,
    /// Times the run was resumed.
    pub resumes: u32,
    /// Per-epoch results, in order (a resumed epoch replaces the earlier attempt).
    pub epochs: Vec<EpochRow>,
    /// The latest value of every metric (the names MLflow gets).
    pub metrics: BTreeMap<String, f64>,
    /// The resolved config, flattened.
    pub params: Vec<(String, String)>,
    /// The data each session read: one entry per distinct digest, in order (two entries mean
    /// the data changed between a stop and a resume).
    pub datasets: Vec<crate::data::DatasetRecord>,
    /// Files left out as unreadable (`data.bad_samples = "skip"`), as `path: why`, each once.
    pub skipped_samples: Vec<String>,
    /// Journal lines that were not valid JSON (a torn last line after a crash, say).
    pub unreadable_lines: u64,
    /// For a sweep directory: its objective, trials and best trial (None for a run).
    pub sweep: Option<SweepRecord>,
}

/// What a sweep's journal says: the objective, each trial that ended, the best.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SweepRecord {
    /// The metric optimized (`valid_loss`).
    pub objective: String,
    /// Trials planned.
    pub trials: usize,
    /// Trials that ended, in order: name, status, objective reached.
    pub ended: Vec<TrialRow>,
    /// The best trial and its objective, once the sweep has finished.
    pub best: Option<(String, f64)>,
}

/// One ended trial of a sweep.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrialRow {
    /// Its run name (`trial-003`).
    pub name: String,
    /// How it ended.
    pub status: crate::sweep::TrialStatus,
    /// The objective it reached.
    pub objective: Option<f64>,
}

/// Why a run directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RunRecordError {
    /// Not a run directory.
    #[error("{0}: not a run directory (no {JOURNAL})")]
    NotARun(PathBuf),
    /// A file could not be read.
    #[error("{path}: {cause}")]
    Io {
        /// File.
        path: PathBuf,
        /// OS error.
        cause: std::io::Error,
    },
}

impl RunRecord {
    /// Reads `dir`'s `config.toml` and streams its journal.
    pub fn load(dir: &Path) -> Result<Self, RunRecordError> {
        let journal = dir.join(JOURNAL);
        if !journal.is_file() {
            return Err(RunRecordError::NotARun(dir.to_path_buf()));
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |cause| RunRecordError::Io { path, cause }
        };
        let config = RunLayout::of(dir).config();
        let params = match std::fs::read_to_string(&config) {
            Ok(text) => flatten_toml(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&config)(e)),
        };
        let mut record = Self {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir: dir.to_path_buf(),
            status: RunStatus::Incomplete,
            started_ms: None,
            last_ms: None,
            model: None,
            backend: None,
            device: None,
            epochs_planned: None,
            steps: 0,
            resumes: 0,
            epochs: Vec::new(),
            metrics: BTreeMap::new(),
            params,
            datasets: Vec::new(),
            skipped_samples: Vec::new(),
            unreadable_lines: 0,
            sweep: None,
        };
        let file = std::fs::File::open(&journal).map_err(io(&journal))?;
        let mut sessions = 0;
        for line in std::io::BufReader::new(file).split(b'\n') {
            let line = line.map_err(io(&journal))?;
            match JournalLine::parse(&line) {
                Some(line) => record.apply(&line, &mut sessions),
                None => record.unreadable_lines += 1,
            }
        }
        record.resumes = sessions.saturating_sub(1);
        if record.model.is_none() {
            record.model = record.param("model.kind").map(str::to_string);
        }
        Ok(record)
    }

    /// A flattened config value.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn apply(&mut self, line: &JournalLine, sessions: &mut u32) {
        let ts = Some(line.ts_ms).filter(|&ts| ts > 0);
        self.started_ms = self.started_ms.or(ts);
        self.last_ms = ts.or(self.last_ms);
        for p in metrics_of(line, &mut self.steps) {
            self.metrics.insert(p.key, p.value);
        }
        // The journal writes NaN and infinities as null: the tables show them as missing.
        let finite = |v: f64| Some(v).filter(|v| v.is_finite());
        match &line.event {
            Event::RunStarted {
                model,
                backend,
                device,
                epochs,
                ..
            } => {
                *sessions += 1;
                self.status = RunStatus::Incomplete;
                if !model.is_empty() {
                    self.model = Some(model.clone());
                }
                self.backend = Some(backend.clone());
                self.device = Some(device.clone());
                self.epochs_planned = Some(*epochs as u64);
            }
            Event::SweepStarted { trials, objective } => {
                *sessions += 1;
                self.status = RunStatus::Incomplete;
                self.backend = Some("sweep".into());
                let sweep = self.sweep.get_or_insert_with(SweepRecord::default);
                (sweep.trials, sweep.objective) = (*trials, objective.clone());
            }
            Event::TrialEnded {
                name,
                status,
                objective,
                ..
            } => {
                let sweep = self.sweep.get_or_insert_with(SweepRecord::default);
                sweep.ended.retain(|t| t.name != *name);
                sweep.ended.push(TrialRow {
                    name: name.clone(),
                    status: *status,
                    objective: objective.and_then(finite),
                });
            }
            Event::SweepBest {
                name, objective, ..
            } => {
                let sweep = self.sweep.get_or_insert_with(SweepRecord::default);
                sweep.best = finite(*objective).map(|o| (name.clone(), o));
            }
            Event::RunEnded { status } => self.status = *status,
            Event::SamplesSkipped { files, .. } => {
                for f in files {
                    if !self.skipped_samples.contains(f) {
                        self.skipped_samples.push(f.clone());
                    }
                }
            }
            Event::DataUsed { dataset }
                if !self.datasets.iter().any(|d| d.digest == dataset.digest) =>
            {
                self.datasets.push(dataset.clone());
            }
            Event::EpochEnded {
                epoch,
                train_loss,
                seconds,
                ..
            } => {
                let row = self.epoch_row(*epoch as u64 + 1);
                row.train_loss = finite(*train_loss);
                row.seconds = finite(*seconds);
            }
            Event::Evaluated {
                epoch: Some(epoch),
                split: Split::Valid,
                result,
            } => {
                let row = self.epoch_row(*epoch as u64 + 1);
                row.valid_loss = finite(result.loss);
                row.valid_accuracy = result.accuracy.and_then(finite);
            }
            _ => {}
        }
    }

    /// The row for `epoch`; a repeated epoch (after a resume) starts over.
    fn epoch_row(&mut self, epoch: u64) -> &mut EpochRow {
        if let Some(i) = self.epochs.iter().position(|r| r.epoch == epoch) {
            if self.epochs[i].train_loss.is_some() && self.epochs[i].valid_loss.is_some() {
                self.epochs.truncate(i);
            } else {
                return &mut self.epochs[i];
            }
        }
        self.epochs.push(EpochRow {
            epoch,
            ..EpochRow::default()
        });
        let last = self.epochs.len() - 1;
        &mut self.epochs[last]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_dir(journal: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(JOURNAL), journal).unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[train]\nlr = 0.01\n[model]\nkind = \"mlp\"\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn a_resumed_run_reads_back_with_its_last_session() {
        let dir = run_dir(concat!(
            r#"{"event":"run_started","backend":"ndarray","device":"Cpu","epochs":2,"ts_ms":10}"#,
            "\n",
            r#"{"event":"step","global_step":5,"loss":2.0,"lr":0.01,"samples_per_sec":9,"ts_ms":11}"#,
            "\n",
            r#"{"event":"epoch_ended","epoch":0,"train_loss":2.5,"seconds":1.5,"ts_ms":12}"#,
            "\n",
            r#"{"event":"run_ended","status":"KILLED","ts_ms":13}"#,
            "\n",
            r#"{"event":"run_started","backend":"flex","device":"Cpu","epochs":2,"ts_ms":20}"#,
            "\n",
            r#"{"event":"epoch_ended","epoch":0,"train_loss":2.4,"seconds":1.0,"ts_ms":21}"#,
            "\n",
            r#"{"event":"evaluated","split":"valid","epoch":0,"loss":1.5,"accuracy":0.5,"ts_ms":22}"#,
            "\n",
            r#"{"event":"step","global_step":10,"loss":1.0,"lr":0.01,"samples_per_sec":9,"ts_ms":23}"#,
            "\n",
            r#"{"event":"evaluated","split":"test","epoch":null,"loss":1.2,"accuracy":0.6,"ts_ms":24}"#,
            "\n",
            r#"{"event":"run_ended","status":"FINISHED","ts_ms":25}"#,
            "\n",
            r#"{"event":"ste"#,
        ));
        let r = RunRecord::load(dir.path()).unwrap();
        assert_eq!(r.status, RunStatus::Finished);
        assert_eq!((r.started_ms, r.last_ms), (Some(10), Some(25)));
        assert_eq!(r.backend.as_deref(), Some("flex"));
        assert_eq!((r.steps, r.resumes, r.unreadable_lines), (10, 1, 1));
        assert_eq!(r.metrics["train_loss"], 1.0);
        assert_eq!(r.metrics["test_accuracy"], 0.6);
        assert_eq!(
            r.epochs,
            vec![EpochRow {
                epoch: 1,
                train_loss: Some(2.4),
                valid_loss: Some(1.5),
                valid_accuracy: Some(0.5),
                seconds: Some(1.0),
            }]
        );
        assert_eq!(r.param("train.lr"), Some("0.01"));
        assert_eq!(r.param("model.kind"), Some("mlp"));
    }

    #[test]
    fn a_run_without_an_end_is_incomplete_and_a_plain_dir_is_not_a_run() {
        let dir = run_dir(
            r#"{"event":"run_started","backend":"flex","device":"Cpu","epochs":2,"ts_ms":1}
"#,
        );
        assert_eq!(
            RunRecord::load(dir.path()).unwrap().status,
            RunStatus::Incomplete
        );
        let empty = tempfile::tempdir().unwrap();
        let err = RunRecord::load(empty.path()).unwrap_err().to_string();
        assert!(err.contains("not a run directory"), "{err}");
    }
}
