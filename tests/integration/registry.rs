//! Model registration and data lineage against a real MLflow 3.17.2 server: versions, aliases,
//! `models pull` into a checkpoint `eval` runs, exactly-once registration through the spool,
//! dataset inputs read back by MLflow's own Python client, and a refused name.

use crate::common::{repo, stderr, stdout, summary, trainer, trainer_env};
use crate::mlflow_server::{Server, fit, free_port, mlflow_env, sync_state};
use std::path::{Path, PathBuf};
use std::process::Command;

const MODEL: &str = "mnist-mlp";

/// `trainer ARGS` with the test server's tracking environment.
fn tracked(server: &Server, args: &[&str]) -> std::process::Output {
    let env = mlflow_env(&server.uri);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    trainer_env(args, &env)
}

/// The bundled MNIST subset's digest computed here, independently: SHA-256 over the
/// `sha256sum` lines of its four files (from `datasets/SHA256SUMS`), sorted by name.
fn bundled_mnist_digest() -> String {
    let sums = std::fs::read_to_string(repo().join("datasets/SHA256SUMS")).unwrap();
    let mut lines: Vec<String> = sums
        .lines()
        .filter_map(|l| {
            let (sum, path) = l.split_once("  ")?;
            let name = path.strip_prefix("mnist-10k/")?;
            Some(format!("{sum}  {name}\n"))
        })
        .collect();
    lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    assert_eq!(lines.len(), 4);
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(lines.concat().as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

fn mlflow_python() -> PathBuf {
    let venv = std::env::var("TRAINER_MLFLOW_VENV")
        .expect("TRAINER_MLFLOW_VENV is unset: run the suite with `bash tests/run-all.sh`");
    Path::new(&venv).join("bin/python")
}

#[test]
fn two_runs_become_versions_an_alias_pulls_one_and_eval_reproduces_its_test_metrics() {
    let server = Server::start(free_port());
    let out = tempfile::tempdir().unwrap();
    let register = ["--register", MODEL, "--set", "train.epochs=1"];
    for run in ["reg-a", "reg-b"] {
        let o = fit(out.path(), run, &server.uri, &register);
        assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
        let version = if run == "reg-a" { 1 } else { 2 };
        assert!(
            stdout(&o).contains(&format!("registry: model {MODEL} version {version}")),
            "{}",
            stdout(&o)
        );
    }
    let run_a = out.path().join("reg-a");
    let id_a = sync_state(&run_a).unwrap().mlflow_run_id;
    let client = server.client();
    let versions = client.model_versions(MODEL).unwrap();
    let listed: Vec<u64> = versions.iter().map(|v| v.version).collect();
    assert_eq!(listed, vec![2, 1]);
    assert_eq!(versions[1].run_id, id_a);

    // The lineage: the run's summary and `runs show` name the data and its digest.
    let digest = bundled_mnist_digest();
    let s = summary(&run_a);
    assert_eq!(s["datasets"][0]["digest"], digest.as_str(), "{s}");
    assert_eq!(s["datasets"][0]["name"], "mnist-10k");
    let show = trainer(&["runs", "show", run_a.to_str().unwrap()]);
    let text = stdout(&show);
    assert!(
        text.contains(&digest[..12]) && text.contains("mnist-10k"),
        "{text}"
    );
    assert!(text.contains(&format!("model {MODEL} version 1")), "{text}");

    // Versions from the CLI.
    let uri = server.uri.as_str();
    let ls = tracked(&server, &["models", "ls", MODEL]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    assert!(stdout(&ls).contains(&id_a), "{}", stdout(&ls));
    let alias = trainer(&[
        "models",
        "alias",
        MODEL,
        "1",
        "champion",
        "--tracking-uri",
        uri,
    ]);
    assert!(alias.status.success(), "{}", stderr(&alias));
    let champion = format!("{MODEL}@champion");
    let show = trainer(&["models", "show", &champion, "--tracking-uri", uri]);
    let text = stdout(&show);
    assert!(show.status.success(), "{}", stderr(&show));
    assert!(
        text.contains(&format!("{MODEL} version 1")) && text.contains("@champion"),
        "{text}"
    );
    assert!(
        text.contains("training") && text.contains(&digest[..12]),
        "{text}"
    );

    // Pulled by alias, checksums verified: it is a checkpoint `eval` scores like the run did.
    let pulled = out.path().join("pulled");
    let p = trainer(&[
        "models",
        "pull",
        &champion,
        "--output",
        pulled.to_str().unwrap(),
        "--tracking-uri",
        uri,
    ]);
    assert!(p.status.success(), "{}\n{}", stdout(&p), stderr(&p));
    assert!(pulled.join("MLmodel").is_file() && pulled.join("model.safetensors").is_file());
    let metrics = out.path().join("eval.json");
    let e = trainer(&[
        "eval",
        "--checkpoint",
        pulled.to_str().unwrap(),
        "--backend",
        "cpu",
        "--output",
        metrics.to_str().unwrap(),
    ]);
    assert!(e.status.success(), "{}\n{}", stdout(&e), stderr(&e));
    let got: serde_json::Value = serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
    let accuracy = got["accuracy"].as_f64().expect("eval's accuracy");
    assert_eq!(Some(accuracy), s["test_accuracy"].as_f64(), "{got} vs {s}");
    let loss = got["loss"].as_f64().unwrap();
    let run_loss = s["test_loss"].as_f64().unwrap();
    assert!(
        (loss - run_loss).abs() <= 1e-5 * run_loss.abs().max(1.0),
        "{loss} vs {run_loss}"
    );

    // MLflow's own client reads the inputs, the lineage and the MLmodel.
    let py = Command::new(mlflow_python())
        .arg(repo().join("tests/python/check_registry.py"))
        .args([uri, &id_a, MODEL, "1", pulled.to_str().unwrap(), &digest])
        .output()
        .unwrap();
    assert!(
        py.status.success() && stdout(&py).contains("registry ok"),
        "{}\n{}",
        stdout(&py),
        stderr(&py)
    );

    // A damaged file on the server fails the pull, and nothing is left behind.
    let stored = find_file(&server.artifacts(), &id_a, "model.mpk").expect("model.mpk stored");
    let mut bytes = std::fs::read(&stored).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&stored, bytes).unwrap();
    let again = out.path().join("pulled-again");
    let p = trainer(&[
        "models",
        "pull",
        &format!("{MODEL}/1"),
        "--output",
        again.to_str().unwrap(),
        "--tracking-uri",
        uri,
    ]);
    assert!(!p.status.success());
    assert!(stderr(&p).contains("model.mpk"), "{}", stderr(&p));
    assert!(!again.exists());
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".pull-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The file `name` stored for MLflow run `run_id` under `root`.
fn find_file(root: &Path, run_id: &str, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(root).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, run_id, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) && p.to_string_lossy().contains(run_id) {
            return Some(p);
        }
    }
    None
}

#[test]
fn a_run_that_ends_with_the_server_down_registers_exactly_once_on_sync() {
    let port = free_port();
    let uri = format!("http://127.0.0.1:{port}");
    let out = tempfile::tempdir().unwrap();
    let o = fit(
        out.path(),
        "offline",
        &uri,
        &["--register", MODEL, "--set", "tracking.drain_seconds=0"],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let run = out.path().join("offline");
    let show = stdout(&trainer(&["runs", "show", run.to_str().unwrap()]));
    assert!(show.contains("not registered yet"), "{show}");
    // Asked to register with no server configured at all: a warning says how it will happen.
    let args = crate::mlflow_server::fit_args(out.path(), "no-server", &["--register", MODEL]);
    let o = crate::common::trainer_owned(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("needs an MLflow server") && stderr(&o).contains("runs sync"),
        "{}",
        stderr(&o)
    );

    let server = Server::start(port);
    let sync = || trainer_env(&["runs", "sync", run.to_str().unwrap()], &env_of(&uri));
    let s = sync();
    assert!(s.status.success(), "{}\n{}", stdout(&s), stderr(&s));
    assert!(
        stdout(&s).contains(&format!("model {MODEL} version 1")),
        "{}",
        stdout(&s)
    );
    // A process that died after registering but before saving that it had: the run's end is
    // replayed, and the version the run already has is found, not made again.
    let path = run.join("tracking.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let journal = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    let last = journal.trim_end().lines().last().unwrap();
    assert!(last.contains("run_ended"), "{last}");
    state["acked_offset"] = (journal.len() - last.len() - 1).into();
    state["ended"] = false.into();
    state["registered_version"] = 0.into();
    state["registered_model"] = "".into();
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    let s = sync();
    assert!(s.status.success(), "{}\n{}", stdout(&s), stderr(&s));
    let versions = server.client().model_versions(MODEL).unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(sync_state(&run).unwrap().registered_version, 1);
    let inputs =
        server.client().get_run(&versions[0].run_id).unwrap()["run"]["inputs"]["dataset_inputs"]
            .as_array()
            .map_or(0, Vec::len);
    assert_eq!(inputs, 3, "one dataset input per split");
}

fn env_of(uri: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("MLFLOW_TRACKING_URI", uri),
        ("MLFLOW_EXPERIMENT_NAME", "trainer-tests"),
    ]
}

#[test]
fn a_model_name_mlflow_refuses_is_a_clear_error_that_does_not_fail_the_run() {
    let server = Server::start(free_port());
    let out = tempfile::tempdir().unwrap();
    // MLflow refuses names that are not unique paths ("..").
    let o = fit(out.path(), "refused", &server.uri, &["--register", ".."]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    let warning = err
        .lines()
        .find(|l| l.contains("the model was not registered"))
        .unwrap_or_else(|| panic!("no registration warning: {err}"));
    assert!(warning.contains("HTTP 400"), "{warning}");
    let run = out.path().join("refused");
    assert_eq!(summary(&run)["run_name"], "refused");
    let show = stdout(&trainer(&["runs", "show", run.to_str().unwrap()]));
    assert!(show.contains("model .. not registered"), "{show}");
    assert!(server.client().registered_models().unwrap().is_empty());

    // A name MLflow's rule forbids is caught before training, naming the key.
    let bad = fit(out.path(), "slash", &server.uri, &["--register", "a/b"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("tracking.register_model"),
        "{}",
        stderr(&bad)
    );
    assert!(!out.path().join("slash").exists());
}

#[test]
fn runs_compare_says_when_runs_read_different_data() {
    let out = tempfile::tempdir().unwrap();
    let _guard = crate::common::train_lock();
    for (run, fraction) in [("d1", "0.1"), ("d2", "0.1"), ("d3", "0.2")] {
        let args = crate::common::small_fit_args(
            out.path(),
            run,
            &[
                "--set",
                "train.epochs=1",
                "--set",
                &format!("data.validation_fraction={fraction}"),
            ],
        );
        let o = crate::common::trainer_owned(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let dir = |r: &str| out.path().join(r).display().to_string();
    let same = stdout(&trainer(&["runs", "compare", &dir("d1"), &dir("d2")]));
    assert!(!same.contains("data differs"), "{same}");
    assert!(same.contains("mnist-10k"), "{same}");
    let differ = stdout(&trainer(&["runs", "compare", &dir("d1"), &dir("d3")]));
    assert!(differ.contains("data differs"), "{differ}");
}
