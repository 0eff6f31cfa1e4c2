//! The local run journal: every event as one JSON line in `<run dir>/journal.jsonl`, written
//! and flushed on a background thread so the training thread only enqueues.

use crate::train::{Event, Observer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

/// Appends events to a JSONL file off the training thread.
pub struct Journal {
    tx: Option<Sender<String>>,
    writer: Option<JoinHandle<()>>,
}

impl Journal {
    /// Opens (appends to) `path` and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let (tx, rx) = channel();
        let path = path.to_path_buf();
        let writer = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_lines(file, rx, path))?;
        Ok(Self {
            tx: Some(tx),
            writer: Some(writer),
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
pub fn append_event(path: &Path, mut event: serde_json::Value) -> std::io::Result<()> {
    if let Some(obj) = event.as_object_mut() {
        obj.insert("ts_ms".into(), now_ms().into());
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{event}")?;
    f.sync_all()
}

/// Milliseconds since the Unix epoch (the journal's `ts_ms`).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Observer for Journal {
    fn on_event(&mut self, event: &Event) {
        let ts_ms = now_ms();
        let mut value = serde_json::to_value(event).unwrap_or_default();
        if let Some(obj) = value.as_object_mut() {
            obj.insert("ts_ms".into(), ts_ms.into());
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(value.to_string());
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}
