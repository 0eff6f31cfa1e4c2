//! The MLflow sender thread during `fit`: follows the journal, retries with exponential backoff
//! and jitter, and stops hammering a dead server (circuit breaker). Training never waits on it.

use super::client::MlflowError;
use super::settings::MlflowSettings;
use super::sync::{SyncState, Syncer, pending_lines};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use trainer_core::background::panic_message;

/// Consecutive failures after which the breaker opens (and says so once).
const BREAKER_THRESHOLD: u32 = 3;
/// Longest pause between attempts: short, so a server that comes back after a flap is found
/// within seconds (a failed attempt against a down server costs one refused connection), and
/// the end-of-run drain gets several tries inside `tracking.drain_seconds`.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// How often the journal is polled when everything is sent. Every request costs the server
/// far more than the points in it, so fewer, larger batches (up to 1000 metrics) keep a busy
/// run's load on the server low.
const POLL: Duration = Duration::from_secs(1);

/// What is left after draining.
#[derive(Debug, Clone, Default)]
pub struct DrainReport {
    /// MLflow run id (empty if it was never created).
    pub mlflow_run_id: String,
    /// Journal lines not acknowledged by MLflow (replay with `trainer runs sync`).
    pub pending_lines: u64,
    /// Items MLflow rejected (4xx) and that were dropped.
    pub dropped: u64,
    /// Whether the run's end status reached MLflow.
    pub ended: bool,
    /// The last error, if the server was unreachable.
    pub last_error: Option<String>,
    /// `(registered model, version)` once the run's model is registered.
    pub registered: Option<(String, u64)>,
    /// Why the model was not registered (a name MLflow refuses, ...); empty if it was or was
    /// not asked to be.
    pub registration_error: String,
    /// The MLflow experiment id (empty if the run was never created).
    pub experiment_id: String,
    /// The run's page in MLflow's UI, in its model-training view (empty without a run).
    pub run_url: String,
}

/// Retry pacing: exponential backoff with jitter, open after repeated failures.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// Records a failure; returns how long to wait and whether the breaker just opened.
    pub fn failed(&mut self) -> (Duration, bool) {
        self.failures += 1;
        let base = 0.25 * 2f64.powi(self.failures.min(10) as i32 - 1);
        let jitter = 0.5 + rand::random::<f64>(); // 0.5x .. 1.5x
        let wait = Duration::from_secs_f64(base * jitter).min(MAX_BACKOFF);
        (wait, self.failures == BREAKER_THRESHOLD)
    }

    /// Records a success; returns whether the breaker was open.
    pub fn succeeded(&mut self) -> bool {
        std::mem::take(&mut self.failures) >= BREAKER_THRESHOLD
    }
}

/// The running sender thread.
pub struct MlflowWorker {
    run_dir: PathBuf,
    /// The server's address (for the run's UI link).
    uri: String,
    /// Tells the thread to drain (a message, or the sender dropped).
    finish: Sender<()>,
    done: Receiver<DrainReport>,
    /// The sync state and last error as of the thread's latest attempt.
    latest: Arc<Mutex<Latest>>,
}

/// What the thread last knew; the backlog is counted from it only when a report is asked for.
type Latest = (SyncState, Option<String>);

impl MlflowWorker {
    /// Starts following `run_dir`'s journal; Err only if the HTTP client cannot be built.
    pub fn start(run_dir: &Path, settings: MlflowSettings) -> Result<Self, MlflowError> {
        let uri = settings.uri.clone();
        let syncer = Syncer::open(run_dir, settings)?;
        let latest = Arc::new(Mutex::new((syncer.state.clone(), None)));
        let (tx, done) = channel();
        let (finish, finishing) = channel();
        let l = latest.clone();
        std::thread::Builder::new()
            .name("mlflow".into())
            .spawn(move || isolated(|| follow(syncer, finishing, &l, tx), &l))
            .map_err(|e| MlflowError::Local(e.to_string()))?;
        Ok(Self {
            run_dir: run_dir.to_path_buf(),
            uri,
            finish,
            done,
            latest,
        })
    }

    /// Asks the thread to send what is left (the run end included) and waits at most `limit`.
    pub fn finish(self, limit: Duration) -> DrainReport {
        let _ = self.finish.send(());
        let mut r = match self.done.recv_timeout(limit) {
            Ok(r) => r,
            // Still trying (e.g. a hanging server): leave it; the journal keeps the backlog.
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                let (state, last_error) = self.latest.lock().map(|l| l.clone()).unwrap_or_default();
                report(&self.run_dir, &state, last_error)
            }
        };
        if !r.mlflow_run_id.is_empty() && !r.experiment_id.is_empty() {
            r.run_url = run_url(&self.uri, &r.experiment_id, &r.mlflow_run_id);
        }
        r
    }
}

/// Runs `follow`; a panic in it stops sending (not training): one warning, and the report's
/// last error says why. The journal keeps every line for `trainer runs sync`.
fn isolated(follow: impl FnOnce(), latest: &Mutex<Latest>) {
    let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(follow)) else {
        return;
    };
    let failure = format!(
        "the mlflow thread panicked: {}",
        panic_message(payload.as_ref())
    );
    tracing::warn!("{failure}; metrics stay in the journal (`trainer runs sync` sends them)");
    latest.lock().unwrap_or_else(|e| e.into_inner()).1 = Some(failure);
}

fn follow(
    mut syncer: Syncer,
    finish: Receiver<()>,
    latest: &Mutex<Latest>,
    done: Sender<DrainReport>,
) {
    let mut backoff = Backoff::default();
    let mut finishing = false;
    loop {
        let (wait, last_error) = match syncer.pass() {
            Ok(caught_up) => {
                if backoff.succeeded() {
                    tracing::info!("MLflow reachable again; sending the backlog");
                }
                if caught_up && finishing && syncer.state.ended {
                    break;
                }
                (POLL, None)
            }
            Err(e) => {
                let (wait, opened) = backoff.failed();
                if opened {
                    tracing::warn!("{e}; metrics stay in the journal, retrying in the background");
                }
                (wait, Some(e.to_string()))
            }
        };
        if let Ok(mut l) = latest.lock() {
            *l = (syncer.state.clone(), last_error);
        }
        if finishing {
            std::thread::sleep(wait);
        } else {
            // Sleeps without waking until then; a drain cuts the wait short for a prompt pass.
            finishing = match finish.recv_timeout(wait) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                Err(RecvTimeoutError::Timeout) => false,
            };
        }
    }
    let _ = done.send(report(syncer.dir(), &syncer.state, None));
}

/// A run's page in MLflow 3's UI, opened in its model-training view: without
/// `workflowType=machine_learning` a browser that never chose a view opens experiments as GenAI
/// projects (traces and token usage), whatever the experiment's `mlflow.experimentKind`.
pub fn run_url(uri: &str, experiment_id: &str, run_id: &str) -> String {
    format!(
        "{}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning",
        uri.trim_end_matches('/')
    )
}

fn report(run_dir: &Path, state: &SyncState, last_error: Option<String>) -> DrainReport {
    DrainReport {
        mlflow_run_id: state.mlflow_run_id.clone(),
        pending_lines: pending_lines(run_dir, state.acked_offset),
        dropped: state.dropped,
        ended: state.ended,
        last_error,
        registered: (state.registered_version > 0)
            .then(|| (state.registered_model.clone(), state.registered_version)),
        registration_error: state.registration_error.clone(),
        experiment_id: state.experiment_id.clone(),
        run_url: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_opens_once() {
        let mut b = Backoff::default();
        let waits: Vec<(Duration, bool)> = (0..12).map(|_| b.failed()).collect();
        assert!(waits[0].0 <= Duration::from_millis(375));
        assert!(waits[5].0 >= Duration::from_secs(4));
        assert!(waits.iter().all(|(w, _)| *w <= MAX_BACKOFF));
        assert_eq!(waits.iter().filter(|(_, o)| *o).count(), 1);
        assert!(b.succeeded());
        assert!(!b.succeeded());
    }

    #[test]
    fn a_panic_in_the_sender_becomes_the_reports_last_error() {
        let latest = Mutex::new((SyncState::default(), None));
        isolated(|| panic!("injected: bad reply\nmore"), &latest);
        let (_, last_error) = latest.into_inner().unwrap();
        assert_eq!(
            last_error.as_deref(),
            Some("the mlflow thread panicked: injected: bad reply")
        );
    }
}
