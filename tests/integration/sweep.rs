//! `trainer sweep`: a search over the MNIST MLP, a sweep killed mid-trial and rerun, early
//! stopping, bad space files, and trials as child runs of the sweep in a real MLflow.

use crate::common::{
    one_line_error, png_pixels_of, stdout, summary, trainer, trainer_command, trainer_env, write,
};
use crate::mlflow_server::{Server, free_port, mlflow_env, sync_state};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use trainer_core::observe::JournalLine;
use trainer_core::train::{Event, RunStatus};
use trainer_plots::Color;

/// The base every sweep here starts from: the bundled MNIST MLP, shortened.
const BASE: [&str; 6] = [
    "--backend",
    "cpu",
    "--set",
    "train.epochs=2",
    "--set",
    "train.log_every=5",
];

fn sweep_args<'a>(out: &'a str, space: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["sweep", "--output", out, "--space", space];
    args.extend_from_slice(&BASE);
    args.extend_from_slice(extra);
    args
}

fn events(run: &Path) -> Vec<Event> {
    std::fs::read_to_string(run.join("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            JournalLine::parse(l.as_bytes())
                .expect("a journal line")
                .event
        })
        .collect()
}

fn ends(run: &Path) -> Vec<RunStatus> {
    events(run)
        .into_iter()
        .filter_map(|e| match e {
            Event::RunEnded { status } => Some(status),
            _ => None,
        })
        .collect()
}

fn starts(run: &Path) -> usize {
    events(run)
        .iter()
        .filter(|e| matches!(e, Event::RunStarted { .. }))
        .count()
}

fn ok(o: &Output) -> String {
    let text = format!("{}\n{}", stdout(o), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    text
}

#[test]
fn a_sweep_over_lr_and_width_finds_a_config_at_least_as_good_as_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let mut default = vec!["fit", "--output", &out, "--run-name", "default"];
    default.extend_from_slice(&BASE);
    ok(&trainer(&default));
    let default_loss = summary(&dir.path().join("default"))["valid_loss"]
        .as_f64()
        .unwrap();
    let space = write(
        dir.path(),
        "lr-width.toml",
        r#"
objective = "valid_loss"
mode = "min"
trials = 8
seed = 1
[space]
"train.lr" = { log_uniform = [5e-4, 5e-3] }
"model.mlp.hidden" = [[512, 512], [1024, 1024]]
"#,
    );
    let text = ok(&trainer(&sweep_args(&out, &space, &[])));
    let sweep = dir.path().join("lr-width");
    let mut best = f64::INFINITY;
    for i in 0..8 {
        let trial = sweep.join(format!("trial-{i:03}"));
        assert_eq!(ends(&trial), [RunStatus::Finished], "{}", trial.display());
        best = best.min(summary(&trial)["valid_loss"].as_f64().unwrap());
    }
    assert!(
        best <= default_loss,
        "best trial {best} vs default {default_loss}\n{text}"
    );
    // best.toml is the best trial's config, and it says so.
    let best_toml = std::fs::read_to_string(sweep.join("best.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("best: "))
        .expect("a best line");
    let name = line.split_whitespace().nth(1).unwrap();
    let trial_cfg = std::fs::read_to_string(sweep.join(name).join("config.toml")).unwrap();
    assert_eq!(best_toml, trial_cfg);
    assert!(line.contains(&format!("{best:.4}")), "{line} vs {best}");
    for png in [
        "objective_vs_train.lr.png",
        "objective_vs_model.mlp.hidden.png",
    ] {
        // The best trial is the green dot (with its legend entry), the others blue.
        let file = sweep.join(png);
        assert!(
            png_pixels_of(&file, Color::Green.rgb()) > 40,
            "{png}: the best trial"
        );
        assert!(
            png_pixels_of(&file, Color::Blue.rgb()) > 40,
            "{png}: the other trials"
        );
    }
    // Trials are runs: `runs compare` shows the searched keys that differ.
    let compare = trainer(&[
        "runs",
        "compare",
        "--output",
        &sweep.display().to_string(),
        "trial-000",
        "trial-001",
    ]);
    assert!(ok(&compare).contains("train.lr"));
}

#[test]
fn a_sweep_killed_mid_trial_reruns_to_completion_with_each_trial_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let space = write(
        dir.path(),
        "grid.toml",
        "objective = \"valid_accuracy\"\nmode = \"max\"\n[space]\n\"train.lr\" = [1e-3, 2e-3, 3e-3]\n",
    );
    let extra = [
        "--set",
        "train.epochs=6",
        "--set",
        "checkpoint.every_steps=10",
    ];
    let args = sweep_args(&out, &space, &extra);
    let mut sweep = trainer_command(&args, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let root = dir.path().join("grid");
    let (first, second) = (root.join("trial-000"), root.join("trial-001"));
    let deadline = Instant::now() + Duration::from_secs(600);
    // Mid-trial: the second trial has logged steps and saved a checkpoint.
    while !(second.join("checkpoints").is_dir()
        && events(&second)
            .iter()
            .any(|e| matches!(e, Event::Step { .. })))
    {
        assert!(
            Instant::now() < deadline,
            "the second trial never got going"
        );
        assert!(sweep.try_wait().unwrap().is_none(), "the sweep ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    sweep.kill().unwrap(); // SIGKILL: no chance to clean up
    sweep.wait().unwrap();
    // The orphaned trial is told to stop (SIGINT when its parent dies) and does.
    while ends(&second).is_empty() {
        assert!(Instant::now() < deadline, "the second trial did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ends(&second), [RunStatus::Killed]);
    assert_eq!(ends(&first), [RunStatus::Finished]);
    let first_journal = std::fs::read(first.join("journal.jsonl")).unwrap();
    std::thread::sleep(Duration::from_millis(500)); // its lock is released on exit

    let text = ok(&trainer(&args));
    assert_eq!(
        std::fs::read(first.join("journal.jsonl")).unwrap(),
        first_journal
    );
    assert_eq!(starts(&second), 2, "the second trial resumed once");
    assert_eq!(ends(&second), [RunStatus::Killed, RunStatus::Finished]);
    assert_eq!(ends(&root.join("trial-002")), [RunStatus::Finished]);
    // The sweep's journal reports each trial exactly once, across both sessions.
    let reported: Vec<String> = events(&root)
        .into_iter()
        .filter_map(|e| match e {
            Event::TrialEnded { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    assert_eq!(reported, ["trial-000", "trial-001", "trial-002"], "{text}");
    // A third run has nothing left to do and changes no trial.
    let before = std::fs::read(root.join("trial-002").join("journal.jsonl")).unwrap();
    ok(&trainer(&args));
    assert_eq!(
        std::fs::read(root.join("trial-002").join("journal.jsonl")).unwrap(),
        before
    );
}

#[test]
fn early_stopping_stops_poor_trials_at_the_first_rung_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let space = write(
        dir.path(),
        "halving.toml",
        r#"
objective = "valid_loss"
mode = "min"
[early_stopping]
enabled = true
min_epochs = 1
eta = 2
[space]
"train.lr" = [1e-2, 1e-6, 1e-7]
"#,
    );
    let args = sweep_args(&out, &space, &["--set", "train.epochs=3"]);
    let text = ok(&trainer(&args));
    let root = dir.path().join("halving");
    // The first trial at a rung goes on; the two hopeless ones are not in the best half.
    assert_eq!(
        ends(&root.join("trial-000")),
        [RunStatus::Finished],
        "{text}"
    );
    for t in ["trial-001", "trial-002"] {
        let run = root.join(t);
        assert_eq!(ends(&run), [RunStatus::Killed], "{t}: {text}");
        let epochs = events(&run)
            .iter()
            .filter(|e| matches!(e, Event::EpochEnded { .. }))
            .count();
        assert!(epochs < 3, "{t} trained {epochs} epochs");
        assert!(
            text.contains(&format!("{t}: stopped early at epoch 1")),
            "{text}"
        );
    }
    // A rerun does not resume stopped trials.
    ok(&trainer(&args));
    assert_eq!(ends(&root.join("trial-001")), [RunStatus::Killed]);
}

#[test]
fn bad_space_files_get_one_line_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let cases = [
        ("[space]\n\"train.lrr\" = [0.1]", "train.lrr"),
        (
            "[space]\n\"train.lr\" = { uniform = [0.5, 0.1] }",
            "empty range",
        ),
        (
            "[space]\n\"train.lr\" = { log_uniform = [0.0, 0.1] }",
            "above 0",
        ),
        ("[space]\n\"train.lr\" = [\"fast\"]", "train.lr"),
    ];
    for (i, (body, what)) in cases.into_iter().enumerate() {
        let text = format!("objective = \"valid_loss\"\nmode = \"min\"\n{body}\n");
        let space = write(dir.path(), &format!("bad{i}.toml"), text);
        let line = one_line_error(&trainer(&sweep_args(&out, &space, &[])));
        assert!(
            line.contains(&format!("bad{i}.toml")) && line.contains(what),
            "{line}"
        );
        assert!(!dir.path().join(format!("bad{i}")).exists(), "{line}");
    }
    let space = write(
        dir.path(),
        "objective.toml",
        "objective = \"val_loss\"\nmode = \"min\"\n[space]\n\"train.lr\" = [0.1]\n",
    );
    let line = one_line_error(&trainer(&sweep_args(&out, &space, &[])));
    assert!(
        line.contains("objective") && line.contains("valid_loss"),
        "{line}"
    );
    // A metric the task never logs is refused before any trial runs, not after all of them.
    let space = write(
        dir.path(),
        "rmse.toml",
        "objective = \"valid_rmse\"\nmode = \"min\"\n[space]\n\"train.lr\" = [0.1]\n",
    );
    let line = one_line_error(&trainer(&sweep_args(&out, &space, &[])));
    assert!(
        line.contains("image classification") && line.contains("valid_accuracy"),
        "{line}"
    );
    assert!(!dir.path().join("rmse").exists());
}

#[test]
fn trials_are_child_runs_of_the_sweep_in_mlflow() {
    let server = Server::start(free_port());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let space = write(
        dir.path(),
        "tracked.toml",
        "objective = \"valid_accuracy\"\nmode = \"max\"\n[space]\n\"train.lr\" = [1e-3, 3e-3]\n",
    );
    let env = mlflow_env(&server.uri);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Both trials at once: two `fit` processes sending to MLflow beside the sweep's own sender.
    // With `tracking.register_model`, the sweep registers its best trial (and only it).
    let args = sweep_args(
        &out,
        &space,
        &[
            "--set",
            "train.epochs=1",
            "--set",
            "tracking.register_model=\"sweep-best\"",
            "--parallel",
            "2",
        ],
    );
    let text = ok(&trainer_env(&args, &env));
    assert!(text.contains("2 trials at a time"), "{text}");
    assert!(text.contains("all metrics are in MLflow"), "{text}");
    let root = dir.path().join("tracked");
    let client = server.client();
    let parent = sync_state(&root)
        .expect("the sweep's tracking.json")
        .mlflow_run_id;
    let run = client.get_run(&parent).unwrap();
    let params = run["run"]["data"]["params"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let param = |k: &str| {
        params
            .iter()
            .find(|p| p["key"] == k)
            .and_then(|p| p["value"].as_str().map(str::to_string))
    };
    let best = param("best.trial").expect("best.trial param");
    // The sweep's description names its best trial and the values it searched.
    let note = run["run"]["data"]["tags"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["key"] == "mlflow.note.content"))
        .and_then(|t| t["value"].as_str().map(str::to_string))
        .unwrap_or_default();
    assert!(
        note.contains("**sweep** of 2 trials")
            && note.contains(&format!("best trial: **{best}**"))
            && note.contains("`train.lr`"),
        "{note}"
    );
    assert!(param("best.train.lr").is_some(), "{params:?}");
    let metrics = run["run"]["data"]["metrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        metrics.iter().any(|m| m["key"] == "best_objective"),
        "{metrics:?}"
    );
    for t in ["trial-000", "trial-001"] {
        let id = sync_state(&root.join(t))
            .expect("trial tracking.json")
            .mlflow_run_id;
        let tags = client.get_run(&id).unwrap()["run"]["data"]["tags"].clone();
        let parent_tag = tags
            .as_array()
            .and_then(|a| a.iter().find(|x| x["key"] == "mlflow.parentRunId"))
            .and_then(|x| x["value"].as_str().map(str::to_string));
        assert_eq!(parent_tag.as_deref(), Some(parent.as_str()), "{t}: {tags}");
    }
    assert!(["trial-000", "trial-001"].contains(&best.as_str()));
    let versions = client.model_versions("sweep-best").unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    let best_id = sync_state(&root.join(&best)).unwrap().mlflow_run_id;
    assert_eq!(
        versions[0].run_id, best_id,
        "the best trial's run is the version's source"
    );
}
