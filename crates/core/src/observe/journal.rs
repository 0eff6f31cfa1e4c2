//! The local run journal: every event as one JSON line in `<run dir>/journal.jsonl`, written
//! and flushed on a background thread so the training thread only enqueues.

use crate::background::Background;
use crate::train::{Event, Observer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

/// Appends events to a JSONL file off the training thread.
pub struct Journal {
    tx: Option<Sender<String>>,
    writer: Background,
    path: PathBuf,
}

/// What the writer thread runs: the file, the queued lines, the path (for messages).
type Writer = fn(std::fs::File, Receiver<String>, PathBuf);

impl Journal {
    /// Opens (appends to) `path` and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Self::with_writer(path, write_lines)
    }

    /// [`Journal::open`] with the thread running `writer`.
    fn with_writer(path: &Path, writer: Writer) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let (tx, rx) = channel();
        let owned = path.to_path_buf();
        let writer = Background::spawn("journal", move || writer(file, rx, owned))?;
        Ok(Self {
            tx: Some(tx),
            writer,
            path: path.to_path_buf(),
        })
    }
}

fn write_lines(file: std::fs::File, rx: Receiver<String>, path: PathBuf) {
    let mut out = std::io::BufWriter::new(file);
    let mut warned = false;
    while let Ok(first) = rx.recv() {
        // Write everything queued, then flush once: a crash loses at most the lines in flight.
        let mut result = Ok(());
        for line in std::iter::once(first).chain(rx.try_iter()) {
            result = result.and_then(|_| writeln!(out, "{line}"));
        }
        if let Err(e) = result.and_then(|_| out.flush())
            && !warned
        {
            tracing::warn!("journal {}: write failed: {e}", path.display());
            warned = true;
        }
    }
    let _ = out.flush().and_then(|_| out.get_ref().sync_all());
}

/// Appends one event written outside the training loop (e.g. `run_ended`), stamped `ts_ms`,
/// and syncs it: the journal is the spool trackers replay from.
pub fn append_event(path: &Path, event: &Event) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{}", line_of(event, now_ms()))?;
    f.sync_all()
}

/// One line of `journal.jsonl`: an event and when it was written.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct JournalLine {
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
    /// Milliseconds since the Unix epoch (0 if the line has none).
    #[serde(default)]
    pub ts_ms: i64,
}

impl JournalLine {
    /// Parses one line; None for a torn line or an event this version does not know.
    pub fn parse(line: &[u8]) -> Option<Self> {
        serde_json::from_slice(line).ok()
    }
}

/// The JSON text of `event` stamped `ts_ms` (what [`JournalLine::parse`] reads back).
fn line_of(event: &Event, ts_ms: u64) -> String {
    let mut value = serde_json::to_value(event).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("ts_ms".into(), ts_ms.into());
    }
    value.to_string()
}

/// Milliseconds since the Unix epoch (the journal's `ts_ms`).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Appends events to a journal from another thread (the system-metrics sampler); the journal's
/// writer thread finishes only once every sender is dropped.
pub struct JournalSender(Sender<String>);

impl JournalSender {
    /// Queues `event`, stamped now.
    pub fn send(&self, event: &Event) {
        let _ = self.0.send(line_of(event, now_ms()));
    }
}

impl Journal {
    /// A sender for another thread; None once the journal is closing.
    pub fn sender(&self) -> Option<JournalSender> {
        self.tx.clone().map(JournalSender)
    }
}

impl Observer for Journal {
    fn on_event(&mut self, event: &Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(line_of(event, now_ms()));
        }
    }

    fn failure(&mut self) -> Option<String> {
        let failure = self.writer.failure()?;
        Some(format!("journal {}: {failure}", self.path.display()))
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(failure) = self.writer.join() {
            tracing::error!("journal {}: {failure}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{EvalResult, RunStatus, Split};

    #[test]
    fn every_event_reads_back_as_written() {
        let mut valid = EvalResult::empty();
        valid.loss = 0.25;
        valid.accuracy = Some(0.9);
        valid.samples = 12;
        let events = [
            Event::RunStarted {
                model: "mlp".into(),
                backend: "flex".into(),
                device: "Cpu".into(),
                parameters: 10,
                train_samples: 100,
                steps_per_epoch: 4,
                epochs: 2,
                resumed_at_step: 0,
            },
            Event::Step {
                epoch: 1,
                step_in_epoch: 2,
                global_step: 6,
                loss: 0.5,
                lr: 1e-3,
                samples_per_sec: 99.5,
            },
            Event::Evaluated {
                epoch: Some(1),
                split: Split::Valid,
                result: valid,
            },
            Event::RunEnded {
                status: RunStatus::Killed,
            },
        ];
        for event in events {
            let line = JournalLine::parse(line_of(&event, 42).as_bytes()).expect("parses");
            assert_eq!(line, JournalLine { event, ts_ms: 42 });
        }
    }

    #[test]
    fn a_non_finite_loss_reads_back_as_nan_and_torn_lines_as_none() {
        let step = Event::Step {
            epoch: 0,
            step_in_epoch: 1,
            global_step: 1,
            loss: f64::INFINITY,
            lr: 0.1,
            samples_per_sec: 1.0,
        };
        let text = line_of(&step, 7);
        assert!(text.contains("\"loss\":null"), "{text}");
        match JournalLine::parse(text.as_bytes()).map(|l| l.event) {
            Some(Event::Step { loss, .. }) => assert!(loss.is_nan()),
            other => panic!("{other:?}"),
        }
        assert_eq!(JournalLine::parse(&text.as_bytes()[..20]), None);
        assert_eq!(JournalLine::parse(br#"{"event":"from_the_future"}"#), None);
    }

    #[test]
    fn a_writer_panic_is_a_failure_the_loop_can_see() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::with_writer(&path, |_, rx, _| {
            let _ = rx.recv();
            panic!("injected: the disk is on fire");
        })
        .unwrap();
        assert_eq!(
            journal.failure(),
            None,
            "no failure before the writer fails"
        );
        journal.on_event(&Event::EpochStarted { epoch: 0 });
        let start = std::time::Instant::now();
        let failure = loop {
            if let Some(f) = journal.failure() {
                break f;
            }
            assert!(
                start.elapsed().as_secs() < 10,
                "the panic was never reported"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert!(failure.contains("journal.jsonl"), "{failure}");
        assert!(
            failure.ends_with("the journal thread panicked: injected: the disk is on fire"),
            "{failure}"
        );
        assert!(!failure.contains('\n'));
    }
}
