//! The second bad-input round (issue #32): settings files that are not small regular files,
//! unbounded numbers, outputs that exist, a final state that must be saved, a run diverging
//! with finite losses, sweep spaces that would silently do the wrong thing, secrets in URLs.
//! Each case exits 2 (bad input) or 1 (failure while running) with one line, never 134/137.

use crate::common::{
    one_line_error, png_pixels_of, small_fit_args, stderr, trainer, trainer_owned, write,
};
use std::path::Path;
use trainer_plots::Color;

fn fit(out: &Path, name: &str, extra: &[&str]) -> std::process::Output {
    let mut all = vec!["--set", "train.epochs=1", "--set", "train.log_every=10"];
    all.extend_from_slice(extra);
    trainer_owned(&small_fit_args(out, name, &all))
}

#[test]
fn settings_files_must_be_small_regular_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().display().to_string();
    for (args, what) in [
        (
            vec!["fit", "--config", "/dev/zero", "--output", &out],
            "/dev/zero",
        ),
        (vec!["bench", "--config", "/dev/zero"], "/dev/zero"),
        (vec!["fit", "--config", &out, "--output", &out], "directory"),
    ] {
        let e = one_line_error(&trainer(&args));
        assert!(
            e.contains(what) && e.contains("expected a TOML file"),
            "{e}"
        );
    }
    let space = vec!["sweep", "--space", "/dev/zero", "--output", &out];
    let e = one_line_error(&trainer(&space));
    assert!(
        e.contains("/dev/zero") && e.contains("not a regular file"),
        "{e}"
    );
    let fifo = tmp.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        // Refused before it is opened: opening a FIFO would wait for a writer forever.
        let f = fifo.display().to_string();
        let e = one_line_error(&trainer(&["fit", "--config", &f, "--output", &out]));
        assert!(e.contains("not a regular file"), "{e}");
    }
    let made: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "fifo.toml")
        .collect();
    assert!(made.is_empty(), "no run directory was made: {made:?}");
}

#[test]
fn an_unbounded_prefetch_is_refused_before_a_run_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let e = one_line_error(&fit(
        tmp.path(),
        "huge",
        &["--set", "data.prefetch=1000000000"],
    ));
    assert!(
        e.contains("data.prefetch") && e.contains("1024") && e.contains("1000000000"),
        "{e}"
    );
    assert!(!tmp.path().join("huge").exists());
}

#[test]
fn bench_json_never_overwrites_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let existing = write(tmp.path(), "config.toml", "[train]\nepochs = 1\n");
    let o = trainer(&[
        "bench",
        "--config",
        &existing,
        "--backends",
        "flex",
        "--steps",
        "2",
        "--json",
        &existing,
    ]);
    let e = one_line_error(&o);
    assert!(e.contains("--json") && e.contains("already exists"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "[train]\nepochs = 1\n"
    );
}

#[test]
fn the_final_state_is_saved_without_any_save_trigger() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(
        tmp.path(),
        "last",
        &["--set", "checkpoint.at_epoch_end=false"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("last");
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).expect("a checkpoint");
    assert!(run.join("checkpoints").join(latest.trim()).is_dir());
    assert!(run.join("model.safetensors").is_file());
}

#[test]
fn a_run_diverging_with_finite_losses_stops_failed_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(
        tmp.path(),
        "diverge",
        &["--set", "train.lr=1e6", "--set", "train.epochs=2"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        line.contains("diverged") && line.contains("train.divergence_factor"),
        "{err}"
    );
    let journal = std::fs::read_to_string(tmp.path().join("diverge/journal.jsonl")).unwrap();
    let last: serde_json::Value =
        serde_json::from_str(journal.lines().last().expect("a journal line")).unwrap();
    assert_eq!(last["status"], "FAILED");
    // The failed run keeps its curve, with a red line where it stopped, and no final weights.
    let curve = tmp.path().join("diverge/loss.png");
    assert!(
        png_pixels_of(&curve, Color::Blue.rgb()) > 50,
        "the training curve"
    );
    assert!(
        png_pixels_of(&curve, Color::Red.rgb()) > 200,
        "the stop marker"
    );
    assert!(!tmp.path().join("diverge/model.safetensors").exists());

    // Off: the same run ends "done", as before the guard.
    let o = fit(
        tmp.path(),
        "unguarded",
        &[
            "--set",
            "train.lr=1e6",
            "--set",
            "train.divergence_factor=0",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn sweep_spaces_that_would_mislead_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out").display().to_string();
    for (body, what) in [
        (
            "objective = \"valid_loss\"\nmode = \"min\"\ntrials = 100000000000\n[space]\n\"train.lr\" = { log_uniform = [1e-4, 1e-1] }\n",
            "at most 10000 trials",
        ),
        (
            "objective = \"valid_accuracy\"\nmode = \"min\"\n[space]\n\"train.lr\" = [0.1, 0.01]\n",
            "expected \"max\"",
        ),
        (
            "objective = \"valid_loss\"\nmode = \"min\"\n[space]\n\"train.lr\" = [0.1]\n[space.train]\nlr = [0.2]\n",
            "given twice",
        ),
        (
            "objective = \"valid_loss\"\nmode = \"min\"\n[space]\n\"run.output_dir\" = [\"a\", \"b\"]\n",
            "cannot be searched",
        ),
    ] {
        let space = write(tmp.path(), "space.toml", body);
        let o = trainer(&["sweep", "--space", &space, "--output", &out]);
        let e = one_line_error(&o);
        assert!(e.contains("space.toml") && e.contains(what), "{e}");
    }
    assert!(!tmp.path().join("out").exists(), "nothing was started");

    // --output naming a file is bad input too.
    let file = write(tmp.path(), "file", "x");
    let space = write(
        tmp.path(),
        "space.toml",
        "objective = \"valid_loss\"\nmode = \"min\"\n[space]\n\"train.lr\" = [0.1]\n",
    );
    let e = one_line_error(&trainer(&["sweep", "--space", &space, "--output", &file]));
    assert!(
        e.contains("--output") && e.contains("not a directory"),
        "{e}"
    );
}

#[test]
fn secrets_in_urls_never_reach_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(
        tmp.path(),
        "secret",
        &["--set", "tracking.mlflow_uri=ftp://alice:S3cr3tPW@host"],
    );
    let e = one_line_error(&o);
    assert!(e.contains("tracking.mlflow_uri"), "{e}");
    assert!(
        !stderr(&o).contains("S3cr3tPW") && !e.contains("S3cr3tPW"),
        "{e}"
    );
    let dir = tmp.path().join("data").display().to_string();
    let o = trainer(&[
        "data",
        "fetch",
        "mnist",
        "--dir",
        &dir,
        "--mirror",
        "gopher://u:PW123@mirror",
    ]);
    let e = one_line_error(&o);
    assert!(e.contains("--mirror") && !e.contains("PW123"), "{e}");
}

#[test]
fn a_cross_key_error_names_the_key_the_user_set() {
    let tmp = tempfile::tempdir().unwrap();
    let e = one_line_error(&fit(
        tmp.path(),
        "split",
        &["--set", "data.validation_fraction=0.95"],
    ));
    assert!(
        e.contains("data.validation_fraction") && !e.contains("built-in defaults"),
        "{e}"
    );
}

#[test]
fn listing_a_directory_that_holds_no_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let e = one_line_error(&trainer(&[
        "checkpoints",
        "ls",
        &tmp.path().display().to_string(),
    ]));
    assert!(e.contains("not a run directory"), "{e}");
}

#[test]
fn a_negative_number_is_an_invalid_value_not_an_unknown_flag() {
    let o = trainer(&["bench", "--steps", "-1"]);
    let e = one_line_error(&o);
    assert!(
        e.contains("-1") && !e.contains("unexpected argument"),
        "{e}"
    );
}

#[test]
fn predict_writes_class_probabilities_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(tmp.path(), "p", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let checkpoint = crate::tasks::newest_checkpoint(&tmp.path().join("p"));
    let images = crate::common::repo().join("datasets/mnist-10k/t10k-images-idx3-ubyte.gz");
    let csv = tmp.path().join("p.csv");
    let o = trainer(&[
        "predict",
        "--checkpoint",
        &checkpoint.display().to_string(),
        "--input",
        &images.display().to_string(),
        "--output",
        &csv.display().to_string(),
        "--backend",
        "cpu",
        "--probabilities",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 2 + 10 + 10, "{header:?}");
    assert_eq!(header[12], "prob_0");
    for row in rows.take(200) {
        let cells: Vec<f64> = row.split(',').map(|v| v.parse().unwrap()).collect();
        let probs = &cells[12..];
        let sum: f64 = probs.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "{row}");
        let best = (0..10).fold(0, |b, i| if probs[i] > probs[b] { i } else { b });
        assert_eq!(
            best as f64, cells[1],
            "the most probable class is the prediction: {row}"
        );
    }
}

#[test]
fn eval_on_a_directory_of_only_the_test_files() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(tmp.path(), "e", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let checkpoint = crate::tasks::newest_checkpoint(&tmp.path().join("e"));
    let only_test = tmp.path().join("t10k-only");
    std::fs::create_dir(&only_test).unwrap();
    for f in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        let from = crate::common::repo().join("datasets/mnist-10k").join(f);
        std::fs::copy(from, only_test.join(f)).unwrap();
    }
    let o = trainer(&[
        "eval",
        "--checkpoint",
        &checkpoint.display().to_string(),
        "--data",
        &only_test.display().to_string(),
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = crate::common::stdout(&o);
    assert!(
        out.contains("test split") && out.contains("2000 samples"),
        "{out}"
    );
}

#[test]
fn a_second_device_on_a_cpu_backend_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(tmp.path(), "d", &["--devices", "1"]);
    let e = one_line_error(&o);
    assert!(e.contains("device 1") && e.contains("one device"), "{e}");
}

#[test]
fn a_regression_needs_no_checkpoint_keys_and_runs_ls_shows_its_rmse() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().display().to_string();
    let config = crate::common::repo().join("configs/wine-alcohol.toml");
    let config = std::fs::read_to_string(config).unwrap();
    // The shipped config names best_metric/best_mode; a user's need not.
    let bare: String = config
        .lines()
        .filter(|l| !l.starts_with("best_metric") && !l.starts_with("best_mode"))
        .map(|l| format!("{l}\n"))
        .collect();
    let bare = bare.replace(
        "file = \"datasets/",
        &format!("file = \"{}/datasets/", crate::common::repo().display()),
    );
    let path = write(tmp.path(), "reg.toml", bare);
    let o = trainer(&[
        "fit",
        "--config",
        &path,
        "--output",
        &out,
        "--run-name",
        "reg",
        "--backend",
        "cpu",
        "--set",
        "train.epochs=2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = trainer(&["runs", "ls", "--output", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = crate::common::stdout(&o);
    assert!(table.contains("rmse "), "{table}");
}

#[test]
fn a_path_that_is_no_checkpoint_says_what_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(tmp.path(), "r", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("r").display().to_string();
    let e = one_line_error(&trainer(&["checkpoints", "verify", &run]));
    assert!(e.contains("is a run directory"), "{e}");
    let missing = tmp.path().join("nope").display().to_string();
    let e = one_line_error(&fit(tmp.path(), "r2", &["--resume", &missing]));
    assert!(e.contains("no such checkpoint directory"), "{e}");
    let file = write(tmp.path(), "config.toml", "[train]\nepochs = 1\n");
    let e = one_line_error(&fit(tmp.path(), "r3", &["--resume", &file]));
    assert!(e.contains("is a file"), "{e}");
}

#[test]
fn quiet_json_listings_and_completions() {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["-q".to_string()];
    args.extend(small_fit_args(
        tmp.path(),
        "q",
        &["--set", "train.epochs=1"],
    ));
    let o = trainer_owned(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "quiet: no backend line, no warnings");
    let out = crate::common::stdout(&o);
    assert!(!out.contains("epoch 1/1"), "quiet: no progress\n{out}");

    let dir = tmp.path().display().to_string();
    let o = trainer(&["runs", "ls", "--output", &dir, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let runs: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("runs ls --json is JSON");
    assert_eq!(runs[0]["name"], "q");
    assert_eq!(runs[0]["status"], "finished");
    assert!(runs[0]["metrics"]["test_accuracy"].as_f64().is_some());

    let o = trainer(&["runs", "show", "q", "--output", &dir, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let record: serde_json::Value = serde_json::from_slice(&o.stdout).expect("runs show --json");
    assert_eq!(record["status"], "FINISHED");
    assert_eq!(record["epochs"].as_array().map(Vec::len), Some(1));
    let o = trainer(&["runs", "compare", "q", "q", "--output", &dir, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let both: serde_json::Value = serde_json::from_slice(&o.stdout).expect("runs compare --json");
    assert_eq!(both.as_array().map(Vec::len), Some(2));

    let run = tmp.path().join("q").display().to_string();
    let o = trainer(&["checkpoints", "ls", &run, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cks: serde_json::Value = serde_json::from_slice(&o.stdout).expect("checkpoints ls --json");
    assert_eq!(cks[0]["status"], "ok");
    assert_eq!(cks[0]["latest"], true);

    let o = trainer(&["backends", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = crate::common::stdout(&o);
    let flex = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("one JSON object a line"))
        .find(|b| b["name"] == "flex")
        .expect("flex is listed");
    assert_eq!(flex["usable"], true);

    let o = trainer(&["completions", "bash"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let script = crate::common::stdout(&o);
    assert!(
        script.contains("_trainer") && script.contains("fit"),
        "{script}"
    );
}

#[test]
fn another_tasks_data_and_a_relative_data_path_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(tmp.path(), "img", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let checkpoint = crate::tasks::newest_checkpoint(&tmp.path().join("img"));
    let ck = checkpoint.display().to_string();
    let wine = crate::common::repo().join("datasets/tabular/wine.csv");
    let o = trainer(&[
        "eval",
        "--checkpoint",
        &ck,
        "--data",
        &wine.display().to_string(),
    ]);
    let e = one_line_error(&o);
    assert!(e.contains("is a file") && e.contains("image"), "{e}");
    // The run's data path is relative: from another directory it does not resolve.
    let o = crate::common::trainer_command(&["eval", "--checkpoint", &ck, "--backend", "cpu"], &[])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let e = one_line_error(&o);
    assert!(
        e.contains("relative to the current directory") && e.contains("--data"),
        "{e}"
    );
}

#[test]
fn a_diverging_run_leaves_no_checkpoint_whose_loss_is_not_finite() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(
        tmp.path(),
        "boom",
        &[
            "--set",
            "train.lr=1e2",
            "--set",
            "checkpoint.every_steps=1",
            "--set",
            "train.epochs=2",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("diverged"), "{}", stderr(&o));
    let latest = tmp.path().join("boom/checkpoints/latest");
    if let Ok(name) = std::fs::read_to_string(&latest) {
        let ck = tmp.path().join("boom/checkpoints").join(name.trim());
        let o = trainer(&[
            "eval",
            "--checkpoint",
            &ck.display().to_string(),
            "--backend",
            "cpu",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = crate::common::stdout(&o);
        let loss: f64 = out
            .split("loss ")
            .nth(1)
            .and_then(|r| r.split([',', ' ']).next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        assert!(
            loss.is_finite(),
            "the last good checkpoint evaluates to {out}"
        );
    }
}

#[test]
fn runs_ls_lists_a_sweep_as_a_sweep_and_runs_show_gives_its_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().display().to_string();
    let space = write(
        tmp.path(),
        "space.toml",
        "objective = \"valid_loss\"\nmode = \"min\"\n[space]\n\"train.lr\" = [0.01, 0.001]\n",
    );
    let o = trainer(&[
        "sweep",
        "--space",
        &space,
        "--output",
        &out,
        "--name",
        "sw",
        "--backend",
        "cpu",
        "--set",
        "train.epochs=1",
        "--set",
        "model.mlp.hidden=[16]",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = trainer(&["runs", "ls", "--output", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = crate::common::stdout(&o);
    let row = table
        .lines()
        .find(|l| l.starts_with("sw "))
        .expect("the sweep is listed");
    assert!(
        row.contains("sweep") && row.contains("2/2 trials") && row.contains("best "),
        "{table}"
    );
    let o = trainer(&["runs", "show", "sw", "--output", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let shown = crate::common::stdout(&o);
    assert!(
        shown.contains("trial-000") && shown.contains("trial-001") && shown.contains("valid_loss"),
        "{shown}"
    );
}

#[test]
fn the_defaults_outside_the_repository_say_where_their_data_is_looked_up() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("runs").display().to_string();
    let o = crate::common::trainer_command(&["-q", "fit", "--output", &out], &[])
        .current_dir(tmp.path())
        .output()
        .expect("the trainer binary runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = one_line_error(&o);
    assert!(e.contains("datasets/mnist-10k"), "{e}");
    assert!(e.contains("relative to the current directory"), "{e}");
    assert!(e.contains(&tmp.path().display().to_string()), "{e}");
    assert!(!tmp.path().join("runs").exists(), "nothing written");
}
