//! Tracking against a real MLflow 3.17.2 server (from `TRAINER_MLFLOW_VENV`, set by
//! tests/run-all.sh): what reaches MLflow is compared point by point with the journal.

use crate::common::{stderr, stdout, trainer_env};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use trainer::tracking::{Auth, MlflowClient, MlflowSettings, SyncState, metrics_of};

const TOKEN: &str = "tok-7f3a9c-never-print-me";

/// A `mlflow server` on loopback with a sqlite store; killed (whole process group) on drop.
struct Server {
    child: Child,
    uri: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    fn start(port: u16) -> Self {
        let venv = std::env::var("TRAINER_MLFLOW_VENV").expect(
            "TRAINER_MLFLOW_VENV is unset: run the suite with `bash tests/run-all.sh`, which installs MLflow",
        );
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite:///{}/mlflow.db", dir.path().display());
        let child = Command::new(Path::new(&venv).join("bin/mlflow"))
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--backend-store-uri", &db, "--workers", "1"])
            .arg("--artifacts-destination")
            .arg(dir.path().join("artifacts"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("mlflow server starts");
        let uri = format!("http://127.0.0.1:{port}");
        let server = Self {
            child,
            uri,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(180);
        let health = format!("{}/health", server.uri);
        while reqwest::blocking::get(&health).map_or(true, |r| !r.status().is_success()) {
            assert!(Instant::now() < deadline, "mlflow server did not come up");
            std::thread::sleep(Duration::from_millis(300));
        }
        server
    }

    fn client(&self) -> MlflowClient {
        MlflowClient::new(&MlflowSettings {
            uri: self.uri.clone(),
            experiment: String::new(),
            auth: Auth::None,
            insecure_tls: false,
            server_cert: None,
        })
        .unwrap()
    }

    fn artifacts(&self) -> PathBuf {
        self._dir.path().join("artifacts")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-9", "--", &pgid]).status();
        let _ = self.child.wait();
    }
}

fn fit(out: &Path, run: &str, uri: &str, extra: &[&str]) -> std::process::Output {
    let out = out.display().to_string();
    let mut args = vec![
        "fit",
        "--output",
        &out,
        "--run-name",
        run,
        "--backend",
        "cpu",
    ];
    args.extend([
        "--set",
        "model.mlp.hidden=[32]",
        "--set",
        "train.log_every=5",
    ]);
    args.extend(extra);
    trainer_env(
        &args,
        &[
            ("MLFLOW_TRACKING_URI", uri),
            ("MLFLOW_EXPERIMENT_NAME", "trainer-tests"),
            ("MLFLOW_TRACKING_TOKEN", TOKEN),
        ],
    )
}

/// Every metric point the journal holds, per key: sorted (step, timestamp, value) triples.
fn journal_points(run: &Path) -> BTreeMap<String, Vec<(i64, i64, f64)>> {
    let text = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    let mut step = 0;
    let mut out: BTreeMap<String, Vec<(i64, i64, f64)>> = BTreeMap::new();
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        for p in metrics_of(&event, &mut step) {
            out.entry(p.key)
                .or_default()
                .push((p.step, p.timestamp, p.value));
        }
    }
    out.values_mut()
        .for_each(|v| v.sort_by(|a, b| a.partial_cmp(b).unwrap()));
    out
}

/// Asserts MLflow holds exactly the journal's points (each once) and the run is FINISHED.
fn assert_mlflow_matches_journal(server: &Server, run: &Path) -> String {
    let state = SyncState::load_or_create(run).unwrap();
    let client = server.client();
    let id = state.mlflow_run_id.clone();
    assert!(
        !id.is_empty(),
        "no MLflow run recorded in {}",
        run.display()
    );
    let expected = journal_points(run);
    assert!(expected.contains_key("train_loss") && expected.contains_key("test_accuracy"));
    for (key, points) in &expected {
        let mut got: Vec<(i64, i64, f64)> = client
            .metric_history(&id, key)
            .unwrap()
            .into_iter()
            .map(|(s, t, v)| (s, t, v.as_f64().unwrap()))
            .collect();
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(&got, points, "metric {key}: MLflow vs journal");
    }
    let r = client.get_run(&id).unwrap();
    assert_eq!(r["run"]["info"]["status"], "FINISHED");
    id
}

fn tree_contains(dir: &Path, needle: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = tree_contains(&p, needle) {
                return Some(f);
            }
        } else if String::from_utf8_lossy(&std::fs::read(&p).unwrap()).contains(needle) {
            return Some(p);
        }
    }
    None
}

#[test]
fn run_reaches_mlflow_whole_and_the_token_never_leaks() {
    let server = Server::start(free_port());
    let out = tempfile::tempdir().unwrap();
    let o = fit(
        out.path(),
        "tracked",
        &server.uri,
        &["--set", "train.epochs=2"],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("all metrics are in MLflow"),
        "{}",
        stdout(&o)
    );
    let run = out.path().join("tracked");
    let id = assert_mlflow_matches_journal(&server, &run);

    let r = server.client().get_run(&id).unwrap();
    let data = &r["run"]["data"];
    let has = |list: &str, key: &str| {
        data[list]
            .as_array()
            .unwrap()
            .iter()
            .any(|kv| kv["key"] == key)
    };
    assert!(has("params", "train.lr") && has("params", "model.mlp.hidden"));
    for tag in [
        "trainer.run_uuid",
        "trainer.version",
        "trainer.backend",
        "trainer.seed",
    ] {
        assert!(has("tags", tag), "tag {tag} missing: {data}");
    }
    let exp = SyncState::load_or_create(&run).unwrap().experiment_id;
    let art = server.artifacts().join(&exp).join(&id).join("artifacts");
    assert!(art.join("config.toml").is_file() && art.join("summary.json").is_file());

    for (what, text) in [("stdout", stdout(&o)), ("stderr", stderr(&o))] {
        assert!(!text.contains(TOKEN), "token in {what}");
    }
    assert_eq!(
        tree_contains(out.path(), TOKEN),
        None,
        "token in the run directory"
    );
}

#[test]
fn server_absent_at_start_then_runs_sync_sends_everything_exactly_once() {
    let port = free_port();
    let uri = format!("http://127.0.0.1:{port}");
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let o = fit(
        out.path(),
        "offline",
        &uri,
        &[
            "--set",
            "train.epochs=1",
            "--set",
            "tracking.drain_seconds=1",
        ],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("trainer runs sync"), "{}", stdout(&o));
    assert!(started.elapsed() < Duration::from_secs(60));
    let run = out.path().join("offline");
    assert!(
        SyncState::load_or_create(&run)
            .unwrap()
            .mlflow_run_id
            .is_empty()
    );

    let server = Server::start(port);
    let run_arg = run.display().to_string();
    for _ in 0..2 {
        // Twice: a second sync has nothing to send and must not duplicate anything.
        let s = trainer_env(
            &["runs", "sync", &run_arg],
            &[("MLFLOW_TRACKING_URI", &uri)],
        );
        assert!(s.status.success(), "{}\n{}", stdout(&s), stderr(&s));
        assert_mlflow_matches_journal(&server, &run);
    }
}

#[test]
fn resumed_run_logs_into_the_same_mlflow_run() {
    let server = Server::start(free_port());
    let out = tempfile::tempdir().unwrap();
    let o = fit(out.path(), "res", &server.uri, &["--set", "train.epochs=1"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let run = out.path().join("res");
    let first = SyncState::load_or_create(&run).unwrap().mlflow_run_id;

    let o = fit(
        out.path(),
        "res",
        &server.uri,
        &["--set", "train.epochs=2", "--resume", "auto"],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let state = SyncState::load_or_create(&run).unwrap();
    assert_eq!(state.mlflow_run_id, first);
    assert_eq!(
        state.dropped, 0,
        "MLflow rejected something (changed params?)"
    );
    assert_mlflow_matches_journal(&server, &run);
    let epochs = server.client().metric_history(&first, "epoch").unwrap();
    assert_eq!(epochs.len(), 2, "{epochs:?}");
}
