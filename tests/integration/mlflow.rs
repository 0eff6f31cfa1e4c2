//! Tracking against a real MLflow 3.17.2 server (from `TRAINER_MLFLOW_VENV`, set by
//! tests/run-all.sh): what reaches MLflow is compared point by point with the journal.

use crate::common::{stderr, stdout, summary, trainer_env};
use crate::fault_proxy::FaultProxy;
use crate::mlflow_server::{
    Server, TOKEN, assert_mlflow_matches_journal, fit, free_port, sync_state,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    // What MLflow's UI shows: Source, and the run's description.
    let tag = |key: &str| {
        data["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["key"] == key)
            .and_then(|kv| kv["value"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(tag("mlflow.source.name"), "trainer");
    assert_eq!(tag("mlflow.source.type"), "LOCAL");
    let note = tag("mlflow.note.content");
    assert!(
        note.contains("**mlp**") && note.contains("**flex**") && note.contains("data: idx"),
        "{note}"
    );
    // The experiment the trainer created opens on training runs in MLflow 3's UI.
    let experiment = server.client().get_experiment("trainer-tests").unwrap();
    let kind = experiment["experiment"]["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|kv| kv["key"] == "mlflow.experimentKind")
        .map(|kv| kv["value"].clone());
    assert_eq!(
        kind,
        Some(serde_json::json!("custom_model_development")),
        "{experiment}"
    );
    let exp = sync_state(&run).unwrap().experiment_id;
    let art = server.artifacts().join(&exp).join(&id).join("artifacts");
    for file in [
        "config.toml",
        "summary.json",
        "loss.png",
        "model.safetensors",
    ] {
        assert!(art.join(file).is_file(), "artifact {file} missing");
        assert_eq!(
            std::fs::read(art.join(file)).unwrap(),
            std::fs::read(run.join(file)).unwrap(),
            "artifact {file} differs from the run directory's"
        );
    }

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
            // Long enough for the sender's third refused attempt, when it warns (its backoff
            // reaches it after 0.4-1.1 s; a 1 s drain after a sub-second run could end first).
            "--set",
            "tracking.drain_seconds=4",
        ],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("trainer runs sync"), "{}", stdout(&o));
    // The warnings of an unreachable server go to a pipe here: no colour codes.
    let err = stderr(&o);
    assert!(err.contains("WARN") && !err.contains('\x1b'), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let run = out.path().join("offline");
    assert!(sync_state(&run).unwrap().mlflow_run_id.is_empty());

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
    let first = sync_state(&run).unwrap().mlflow_run_id;

    let o = fit(
        out.path(),
        "res",
        &server.uri,
        &["--set", "train.epochs=2", "--resume", "auto"],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let state = sync_state(&run).unwrap();
    assert_eq!(state.mlflow_run_id, first);
    assert_eq!(
        state.dropped, 0,
        "MLflow rejected something (changed params?)"
    );
    assert_mlflow_matches_journal(&server, &run);
    let epochs = server.client().metric_history(&first, "epoch").unwrap();
    assert_eq!(epochs.len(), 2, "{epochs:?}");
}

/// A busy run (every step logged, a few seconds of steps) reaches MLflow in large batches: one
/// request per poll (a second), not one per handful of steps as the lines arrive, so a remote
/// server's load and the sender's CPU stay small. All of it still lands, exactly once.
#[test]
fn busy_run_is_sent_in_batches_not_per_step() {
    let server = Server::start(free_port());
    let out = tempfile::tempdir().unwrap();
    // The first run on a fresh server batched even with the old per-few-steps sender (14
    // requests, later runs 54-75: its first replies are slow); check the usual, warm case.
    let o = fit(
        out.path(),
        "warm-up",
        &server.uri,
        &["--set", "train.epochs=1"],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let proxy = FaultProxy::start(server.addr());
    let o = fit(
        out.path(),
        "busy",
        &proxy.uri,
        &[
            "--set",
            "model.mlp.hidden=[512, 512]",
            "--set",
            "train.epochs=6",
            "--set",
            "train.log_every=1",
        ],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let run = out.path().join("busy");
    assert_mlflow_matches_journal(&server, &run);

    let summary = summary(&run);
    let steps = summary["steps"].as_u64().unwrap();
    let wall = summary["wall_seconds"].as_f64().unwrap();
    let requests = FaultProxy::count(&proxy.stats.passed);
    // Set-up (experiment, run, params, status) and the end (four artifacts, status) take about
    // a dozen requests; polling adds one per second, twice that allows for slow replies.
    let limit = 20 + 2 * wall.ceil() as usize;
    assert!(
        requests <= limit,
        "{requests} requests for {steps} steps in {wall:.1} s (at most {limit} expected)"
    );
}
