//! A real `mlflow server` (MLflow 3.17.2 from `TRAINER_MLFLOW_VENV`, set by tests/run-all.sh)
//! for the tracking tests, and the checks that compare what reached it with a run's journal.

use crate::common::trainer_env;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use trainer_core::observe::JournalLine;
use trainer_core::observe::metrics_of;
use trainer_tracking::{Auth, MlflowClient, MlflowSettings, SyncState};

/// The token the tests put in `MLFLOW_TRACKING_TOKEN`; it must never show up anywhere.
pub const TOKEN: &str = "tok-7f3a9c-never-print-me";

/// A `mlflow server` on loopback with a sqlite store; killed (whole process group) on drop.
/// Its store outlives `kill`, so `restart` brings the same server back on the same port.
pub struct Server {
    child: Option<Child>,
    port: u16,
    /// `http://127.0.0.1:PORT`.
    pub uri: String,
    dir: tempfile::TempDir,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    /// Starts a fresh server on `port` and waits until it answers `/health`.
    pub fn start(port: u16) -> Self {
        let mut server = Self {
            child: None,
            port,
            uri: format!("http://127.0.0.1:{port}"),
            dir: tempfile::tempdir().unwrap(),
        };
        server.restart();
        server
    }

    /// Starts the server process (again) on the same port and store; waits until it is up.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart a killed server only");
        let venv = std::env::var("TRAINER_MLFLOW_VENV").expect(
            "TRAINER_MLFLOW_VENV is unset: run the suite with `bash tests/run-all.sh`, which installs MLflow",
        );
        let db = format!("sqlite:///{}/mlflow.db", self.dir.path().display());
        let child = Command::new(Path::new(&venv).join("bin/mlflow"))
            .args([
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
            ])
            .args(["--backend-store-uri", &db, "--workers", "1"])
            // MLflow 3's job runner (GenAI jobs, trace roll-ups: nothing the tests use) starts
            // eight more Python processes per server, each importing MLflow: ~10 CPU-seconds
            // a start, ~20 starts a suite, on a 2-core machine running tests side by side.
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .arg("--artifacts-destination")
            .arg(self.artifacts())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("mlflow server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(180);
        let health = format!("{}/health", self.uri);
        while reqwest::blocking::get(&health).map_or(true, |r| !r.status().is_success()) {
            assert!(Instant::now() < deadline, "mlflow server did not come up");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Kills the server's whole process group at once (SIGKILL: no graceful shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-9", "--", &pgid]).status();
            let _ = child.wait();
        }
    }

    /// The server's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A client for querying what the server holds.
    pub fn client(&self) -> MlflowClient {
        MlflowClient::new(&MlflowSettings {
            uri: self.uri.clone(),
            experiment: String::new(),
            auth: Auth::None,
            insecure_tls: false,
            server_cert: None,
        })
        .unwrap()
    }

    /// Where the server stores artifacts.
    pub fn artifacts(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `fit` arguments of the tracking tests: a small MLP on the bundled data, on the CPU.
pub fn fit_args(out: &Path, run: &str, extra: &[&str]) -> Vec<String> {
    let mut all = vec!["--set", "train.log_every=5"];
    all.extend_from_slice(extra);
    crate::common::small_fit_args(out, run, &all)
}

/// The tracking environment: server `uri`, experiment `trainer-tests`, the secret token.
pub fn mlflow_env(uri: &str) -> [(&'static str, String); 3] {
    [
        ("MLFLOW_TRACKING_URI", uri.to_string()),
        ("MLFLOW_EXPERIMENT_NAME", "trainer-tests".to_string()),
        ("MLFLOW_TRACKING_TOKEN", TOKEN.to_string()),
    ]
}

/// Runs `trainer fit` (see `fit_args`) tracked by the server at `uri`.
pub fn fit(out: &Path, run: &str, uri: &str, extra: &[&str]) -> std::process::Output {
    let args = fit_args(out, run, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = mlflow_env(uri);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    trainer_env(&args, &env)
}

/// The run's `tracking.json`, if it has been written yet (never creates it).
pub fn sync_state(run: &Path) -> Option<SyncState> {
    SyncState::load(run).ok().flatten()
}

/// Every metric point the journal holds, per key: sorted (step, timestamp, value) triples.
pub fn journal_points(run: &Path) -> BTreeMap<String, Vec<(i64, i64, f64)>> {
    let text = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    let mut step = 0;
    let mut out: BTreeMap<String, Vec<(i64, i64, f64)>> = BTreeMap::new();
    for line in text.lines() {
        let line = JournalLine::parse(line.as_bytes()).expect("a journal line");
        for p in metrics_of(&line, &mut step) {
            out.entry(p.key)
                .or_default()
                .push((p.step, p.timestamp, p.value));
        }
    }
    out.values_mut()
        .for_each(|v| v.sort_by(|a, b| a.partial_cmp(b).unwrap()));
    out
}

/// Asserts MLflow holds exactly the journal's points (each once), a test accuracy among them,
/// and the run is FINISHED; returns the MLflow run id.
pub fn assert_mlflow_matches_journal(server: &Server, run: &Path) -> String {
    assert!(journal_points(run).contains_key("test_accuracy"));
    assert_mlflow_holds_journal(server, run, "FINISHED")
}

/// Asserts MLflow holds exactly the journal's points (each once) and the run has `status`;
/// returns the MLflow run id.
pub fn assert_mlflow_holds_journal(server: &Server, run: &Path, status: &str) -> String {
    let state = sync_state(run).expect("tracking.json");
    let client = server.client();
    let id = state.mlflow_run_id.clone();
    assert!(
        !id.is_empty(),
        "no MLflow run recorded in {}",
        run.display()
    );
    let expected = journal_points(run);
    assert!(expected.contains_key("train_loss"));
    for (key, points) in &expected {
        let mut got: Vec<(i64, i64, f64)> = client
            .metric_history(&id, key)
            .unwrap()
            .into_iter()
            .map(|(s, t, v)| (s, t, v.as_f64().unwrap()))
            .collect();
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(
            got.len(),
            points.len(),
            "metric {key}: {} point(s) in MLflow, {} in the journal",
            got.len(),
            points.len()
        );
        assert_eq!(&got, points, "metric {key}: MLflow vs journal");
    }
    let r = client.get_run(&id).unwrap();
    assert_eq!(r["run"]["info"]["status"], status);
    id
}
