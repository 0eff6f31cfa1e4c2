//! System metrics: sampled off the training thread into the journal (after `run_started`,
//! numbered on), sent to a real MLflow as `system/...`, listed by `runs show`, off with 0.

use crate::common::{one_line_error, stderr, stdout, trainer};
use crate::mlflow_server::{Server, assert_mlflow_matches_journal, fit, free_port, sync_state};
use std::path::Path;

/// The `system_metrics` lines of a run's journal, as JSON.
fn samples(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "system_metrics")
        .collect()
}

#[test]
fn system_metrics_reach_mlflow_and_runs_show_and_zero_turns_them_off() {
    let server = Server::start(free_port());
    let out = tempfile::tempdir().unwrap();
    // A run of a few seconds (a wider MLP) sampled every 50 ms; the sampler also takes a last
    // sample when the run ends.
    let every = [
        "--set",
        "tracking.system_metrics_every=0.05",
        "--set",
        "train.epochs=2",
        "--set",
        "model.mlp.hidden=[512, 256]",
    ];
    let o = fit(out.path(), "sampled", &server.uri, &every);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let run = out.path().join("sampled");
    let journal = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    assert!(journal.starts_with("{\"") && journal.lines().next().unwrap().contains("run_started"));
    let got = samples(&run);
    assert!(got.len() >= 2, "{} samples: {}", got.len(), stdout(&o));
    for (i, s) in got.iter().enumerate() {
        assert_eq!(s["sample"], i as u64, "{s}");
        let v = &s["values"];
        // The CPU figure needs CPU time to pass between two readings: the last sample, taken
        // as the run ends, may come too soon after the one before and go without it.
        let cpu = v["cpu_utilization_percentage"].as_f64();
        assert!(cpu.is_some() || i + 1 == got.len(), "{s}");
        assert!(cpu.is_none_or(|c| (0.0..=100.0).contains(&c)), "{s}");
        assert!(
            v["system_memory_usage_megabytes"].as_f64().unwrap() > 1.0,
            "{s}"
        );
        let disk = v["disk_usage_percentage"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&disk), "{s}");
        assert!(v.get("network_receive_megabytes").is_some(), "{s}");
    }
    // Every journal point, system metrics included, is in MLflow exactly once.
    assert_mlflow_matches_journal(&server, &run);
    let id = sync_state(&run).unwrap().mlflow_run_id;
    let cpu = server
        .client()
        .metric_history(&id, "system/cpu_utilization_percentage")
        .unwrap();
    let with_cpu: Vec<i64> = got
        .iter()
        .filter(|s| s["values"].get("cpu_utilization_percentage").is_some())
        .map(|s| s["sample"].as_i64().unwrap())
        .collect();
    let mut steps: Vec<i64> = cpu.iter().map(|(s, _, _)| *s).collect();
    steps.sort();
    assert_eq!(
        steps, with_cpu,
        "one MLflow point per sample, at step = sample number"
    );

    let show = stdout(&trainer(&["runs", "show", run.to_str().unwrap()]));
    let (metrics, system) = show.split_once("system (last sample)").expect(&show);
    assert!(system.contains("cpu_utilization_percentage"), "{show}");
    assert!(
        !metrics.contains("system/"),
        "system metrics are listed apart: {show}"
    );

    let o = fit(
        out.path(),
        "quiet",
        &server.uri,
        &["--set", "tracking.system_metrics_every=0"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(samples(&out.path().join("quiet")).is_empty());
    // A run shorter than the interval still gets its last sample.
    let o = fit(
        out.path(),
        "short",
        &server.uri,
        &["--set", "tracking.system_metrics_every=600"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(samples(&out.path().join("short")).len(), 1);

    let bad = fit(
        out.path(),
        "bad",
        &server.uri,
        &["--set", "tracking.system_metrics_every=-1"],
    );
    let line = one_line_error(&bad);
    assert!(line.contains("tracking.system_metrics_every"), "{line}");
    assert!(!out.path().join("bad").exists());
}
