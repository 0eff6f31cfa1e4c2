//! Fault injection against a real MLflow server while `trainer fit` runs: the server killed
//! and restarted twice, answering 500s, hanging. Every run must complete normally, and in the
//! end MLflow must hold every journal point exactly once with the run FINISHED.
//!
//! The faults are driven by the run's progress (journal lines), not by wall-clock time, so a
//! slow or loaded machine changes how long the test takes, not what it checks.

use crate::common::trainer_command;
use crate::fault_proxy::{FaultProxy, Mode};
use crate::mlflow_server::{
    Server, assert_mlflow_holds_journal, assert_mlflow_matches_journal, fit_args, free_port,
    mlflow_env, sync_state,
};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A run long enough for the faults below (about 1,700 steps, every step logged), with a
/// generous end-of-run drain so recovery happens inside `fit`.
const LONG_RUN: [&str; 8] = [
    "--set",
    "train.epochs=30",
    "--set",
    "train.log_every=1",
    "--set",
    "model.mlp.hidden=[256, 256]",
    "--set",
    "tracking.drain_seconds=180",
];

/// Starts `trainer fit` tracked at `uri`, its output going to files in `out`.
fn spawn_fit(out: &Path, run: &str, uri: &str) -> Child {
    let args = fit_args(out, run, &LONG_RUN);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = mlflow_env(uri);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let log = |name: &str| Stdio::from(std::fs::File::create(out.join(name)).expect("log file"));
    trainer_command(&args, &env)
        .stdout(log("fit.out"))
        .stderr(log("fit.err"))
        .spawn()
        .expect("the trainer binary starts")
}

fn journal_lines(run: &Path) -> usize {
    std::fs::read(run.join("journal.jsonl"))
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

fn acked(run: &Path) -> u64 {
    sync_state(run).map_or(0, |s| s.acked_offset)
}

fn logs(out: &Path) -> String {
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap_or_default();
    format!("stdout:\n{}\nstderr:\n{}", read("fit.out"), read("fit.err"))
}

/// Polls `done` until it holds; if `fit` must still be running, fails when it has exited.
fn wait_until(what: &str, fit: &mut Child, out: &Path, running: bool, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done() {
        if running && fit.try_wait().expect("try_wait").is_some() {
            panic!("the run ended before: {what}\n{}", logs(out));
        }
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `fit` to exit; asserts a normal finish with everything reported in MLflow.
fn assert_finished_normally(mut fit: Child, out: &Path) {
    let status = fit.wait().expect("wait");
    let text = logs(out);
    assert!(status.success(), "{text}");
    assert!(text.contains("all metrics are in MLflow"), "{text}");
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} failed");
}

#[test]
fn server_killed_and_restarted_twice_mid_run_loses_nothing() {
    let mut server = Server::start(free_port());
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("restarts");
    let mut fit = spawn_fit(out.path(), "restarts", &server.uri);
    wait_until("metrics reach MLflow", &mut fit, out.path(), true, || {
        acked(&run) > 0
    });
    for _ in 0..2 {
        server.kill();
        let at = journal_lines(&run);
        // Training must go on while the server is gone (the sender thread takes the failures).
        wait_until(
            "100 more steps with MLflow down",
            &mut fit,
            out.path(),
            true,
            || journal_lines(&run) >= at + 100,
        );
        // The trainer is paused while MLflow restarts (seconds), so the run is still going
        // when it is back, on a fast machine too.
        signal(&fit, "-STOP");
        server.restart();
        signal(&fit, "-CONT");
    }
    assert_finished_normally(fit, out.path());
    assert_mlflow_matches_journal(&server, &run);
    assert_eq!(sync_state(&run).unwrap().dropped, 0);
}

#[test]
fn server_answering_500s_then_hanging_mid_run_loses_nothing() {
    let server = Server::start(free_port());
    let proxy = FaultProxy::start(server.addr());
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("faulty");
    let mut fit = spawn_fit(out.path(), "faulty", &proxy.uri);
    wait_until("metrics reach MLflow", &mut fit, out.path(), true, || {
        acked(&run) > 0
    });

    proxy.set(Mode::Fail500);
    let at = journal_lines(&run);
    wait_until(
        "100 more steps while MLflow answers 500",
        &mut fit,
        out.path(),
        true,
        || journal_lines(&run) >= at + 100,
    );
    // Enough 500s that some landed on the server before their error came back. The run may
    // be draining by now: the backlog keeps the sender trying.
    wait_until("4 injected 500s", &mut fit, out.path(), false, || {
        FaultProxy::count(&proxy.stats.failed) >= 4
    });
    // Straight from 500s to hanging, so there is a backlog to send into the hang.
    proxy.set(Mode::Hang);
    wait_until(
        "a request left hanging",
        &mut fit,
        out.path(),
        false,
        || FaultProxy::count(&proxy.stats.hung) >= 1,
    );
    proxy.set(Mode::Pass);

    assert_finished_normally(fit, out.path());
    assert!(FaultProxy::count(&proxy.stats.failed_after_landing) >= 2);
    assert_mlflow_matches_journal(&server, &run);
    assert_eq!(sync_state(&run).unwrap().dropped, 0);
}

/// Bytes in the run's journal.
fn journal_bytes(run: &Path) -> u64 {
    std::fs::metadata(run.join("journal.jsonl")).map_or(0, |m| m.len())
}

/// Waits (while `fit` runs) until MLflow has acknowledged the journal as it is now.
fn wait_for_backlog(fit: &mut Child, out: &Path, run: &Path) {
    let target = journal_bytes(run);
    wait_until("the backlog reaches MLflow", fit, out, true, || {
        acked(run) >= target
    });
}

/// The scenario: the server SIGKILLed three times for 2 s mid-run, then a long outage
/// (every request answered 500). The sender probes every few seconds, so each backlog is sent
/// while training goes on, and when `fit` ends every journal point is in MLflow without
/// `trainer runs sync`.
#[test]
fn a_flapping_server_gets_everything_without_runs_sync() {
    let mut server = Server::start(free_port());
    let proxy = FaultProxy::start(server.addr());
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("flaps");
    // Long enough for every outage below; ended with Ctrl-C, with the default 10 s drain.
    // Steps are logged every 5 (as `fit_args` sets): what a real server keeps up with. Every
    // step of this tiny model is more than MLflow's SQL store takes in (about 1 ms a metric
    // here), and such a backlog is left for `runs sync` by design.
    let args = fit_args(out.path(), "flaps", &["--set", "train.epochs=100000"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = mlflow_env(&proxy.uri);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let log = |name: &str| Stdio::from(std::fs::File::create(out.path().join(name)).unwrap());
    let mut fit = trainer_command(&args, &env)
        .stdout(log("fit.out"))
        .stderr(log("fit.err"))
        .spawn()
        .expect("the trainer binary starts");
    wait_until("metrics reach MLflow", &mut fit, out.path(), true, || {
        acked(&run) > 0
    });
    for _ in 0..3 {
        server.kill();
        std::thread::sleep(Duration::from_secs(2));
        server.restart();
        wait_for_backlog(&mut fit, out.path(), &run);
    }
    // A 40 s outage: after many failures in a row the sender still tries every 4 s at most
    // (plus the request, at most its 10 s timeout), so it finds the server soon after it is
    // back. The old backoff grew to 30 s by then.
    proxy.set(Mode::Fail500);
    let (started, mut seen, mut last, mut gaps) = (Instant::now(), 0, Instant::now(), Vec::new());
    while started.elapsed() < Duration::from_secs(40) {
        let n = FaultProxy::count(&proxy.stats.failed);
        if n > seen {
            gaps.push(last.elapsed());
            (seen, last) = (n, Instant::now());
        }
        assert!(fit.try_wait().unwrap().is_none(), "{}", logs(out.path()));
        std::thread::sleep(Duration::from_millis(20));
    }
    gaps.push(last.elapsed());
    proxy.set(Mode::Pass);
    // The first waits are short anyway; the ones after 5 failures show the cap.
    let longest = gaps.iter().skip(6).max().copied().unwrap_or_default();
    assert!(
        gaps.len() >= 5 && longest < Duration::from_secs(15),
        "attempts during the outage, gaps between them: {gaps:?}"
    );
    wait_for_backlog(&mut fit, out.path(), &run);
    signal(&fit, "-INT");
    let status = fit.wait().expect("wait");
    let text = logs(out.path());
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("all metrics are in MLflow"), "{text}");
    assert_mlflow_holds_journal(&server, &run, "KILLED");
}
