//! `trainer fit` and `trainer backends` end to end, through the real binary.

use crate::common::{one_line_error, stdout, summary, trainer};
use serde_json::Value;

const SMALL: [&str; 8] = [
    "--set",
    "train.epochs=1",
    "--set",
    "model.mlp.hidden=[32]",
    "--set",
    "train.log_every=10",
    "--backend",
    "cpu",
];

fn cuda_usable() -> bool {
    stdout(&trainer(&["backends"]))
        .lines()
        .any(|l| l.starts_with("cuda") && l.contains("usable") && !l.contains("not usable"))
}

#[test]
fn fit_writes_config_summary_and_journal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let mut args = vec!["fit", "--run-name", "r1", "--output", &out];
    args.extend(SMALL);
    let o = trainer(&args);
    assert!(
        o.status.success(),
        "{}\n{}",
        stdout(&o),
        crate::common::stderr(&o)
    );
    // Diagnostics on stderr, results on stdout.
    let err = crate::common::stderr(&o);
    assert!(err.contains("backend: using flex"), "{err}");
    assert!(!stdout(&o).contains("backend:"), "{}", stdout(&o));
    let run = dir.path().join("r1");

    // The saved config is the resolved one (overrides applied) and loads back as it is.
    let saved = trainer_core::config::load(Some(&run.join("config.toml")), &[])
        .expect("saved config loads");
    assert_eq!(saved.train.epochs, 1);
    assert_eq!(saved.model.mlp.hidden, vec![32]);
    assert_eq!(saved.run.name, "r1");

    let summary = summary(&run);
    for key in [
        "backend",
        "device",
        "epochs",
        "steps",
        "wall_seconds",
        "samples_per_sec",
        "final_train_loss",
        "valid_accuracy",
        "test_accuracy",
    ] {
        assert!(
            summary.get(key).is_some(),
            "summary.json lacks {key}: {summary}"
        );
    }
    assert_eq!(summary["backend"], "flex");
    assert_eq!(
        summary["steps"], 57,
        "7,200 training samples / 128, rounded up"
    );
    assert!(
        summary["test_accuracy"].as_f64().unwrap() > 0.8,
        "{summary}"
    );
    // The test split is class-balanced (200 per digit): macro F1 sits near the accuracy.
    let (acc, f1) = (
        summary["test"]["accuracy"].as_f64().unwrap(),
        summary["test"]["macro_f1"].as_f64().unwrap(),
    );
    assert!(
        f1 > 0.75 && f1 <= 1.0 && (acc - f1).abs() < 0.05,
        "{summary}"
    );

    let journal = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    let events: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("each journal line is JSON"))
        // System-metric samples come from their own thread, between any two events.
        .filter(|e| e["event"] != "system_metrics")
        .collect();
    assert_eq!(events.first().unwrap()["event"], "run_started");
    // The journal (hence `runs show`, the progress line and MLflow's tags) names the device as
    // the summary does, not by Burn's debug name (`Cpu`).
    let device = &events.first().unwrap()["device"];
    assert_eq!(device, &summary["device"], "{journal}");
    assert!(device.as_str().unwrap().starts_with("cpu ("), "{device}");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "run_ended");
    assert_eq!(last["status"], "FINISHED");
    let test_eval = &events[events.len() - 2];
    assert_eq!(test_eval["event"], "evaluated");
    assert_eq!(test_eval["split"], "test");
    assert_eq!(
        events.iter().filter(|e| e["event"] == "step").count(),
        6,
        "steps 10..50 and 57"
    );
    assert!(events.iter().all(|e| e["ts_ms"].as_u64().is_some()));
}

#[test]
fn an_existing_run_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let mut args = vec!["fit", "--run-name", "keep", "--output", &out];
    args.extend(SMALL);
    assert!(trainer(&args).status.success());
    let summary = dir.path().join("keep/summary.json");
    let before = std::fs::read(&summary).unwrap();
    let e = one_line_error(&trainer(&args));
    assert!(e.contains("already holds a run"), "{e}");
    assert_eq!(std::fs::read(&summary).unwrap(), before);
}

#[test]
fn auto_says_what_it_chose_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let o = trainer(&[
        "fit",
        "--output",
        &out,
        "--set",
        "train.epochs=1",
        "--set",
        "model.mlp.hidden=[16]",
        "--backend",
        "auto",
    ]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let line = crate::common::stderr(&o)
        .lines()
        .find(|l| l.starts_with("backend: "))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("auto chose"), "{line}");
    if !cuda_usable() {
        assert!(line.contains("skipped cuda: "), "{line}");
    }
}

#[test]
fn cuda_without_a_gpu_is_a_one_line_error() {
    if cuda_usable() {
        eprintln!("skipped: this machine has a usable CUDA device");
        return;
    }
    let e = one_line_error(&trainer(&["fit", "--backend", "cuda"]));
    assert!(e.contains("backend `cuda` is not usable here"), "{e}");
}

#[test]
fn backends_lists_the_cpu_backends() {
    let o = trainer(&["backends"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for name in ["cuda", "wgpu", "flex", "ndarray"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("flex") && l.contains("usable")),
        "{text}"
    );
    // ndarray is opt-in: the default build names the feature that brings it.
    #[cfg(not(feature = "ndarray"))]
    assert!(
        text.lines()
            .any(|l| l.starts_with("ndarray") && l.contains("--features ndarray")),
        "{text}"
    );
}

#[test]
fn same_seed_same_summary_on_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let run = |name: &str| {
        let mut args = vec!["fit", "--run-name", name, "--output", &out];
        args.extend(SMALL);
        assert!(trainer(&args).status.success());
        let s = summary(&dir.path().join(name));
        (
            s["final_train_loss"].clone(),
            s["test_accuracy"].clone(),
            s["test_loss"].clone(),
        )
    };
    assert_eq!(run("a"), run("b"));
}
