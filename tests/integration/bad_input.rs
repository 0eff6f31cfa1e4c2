//! Bad input a new user can give, each found by probing the CLI: closed or full stdout,
//! credentials in the MLflow URL, corrupt labels, non-regular data files, outputs that exist,
//! damaged or busy runs, models too large to train. Bad input exits 2 with one line, a failure
//! while running exits 1, nothing panics (101) or aborts (134), nothing is overwritten.

use crate::common::{
    idx, one_line_error, small_fit_args, stderr, stdout, summary, tiny_dataset, trainer,
    trainer_command, trainer_owned, write,
};
use crate::tasks::{newest_checkpoint, shakespeare_head, tiny_gpt};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

/// `trainer fit` of a one-epoch small MLP into `out/name`, plus `extra`.
fn fit_args(out: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let mut all = vec!["--set", "train.epochs=1", "--set", "train.log_every=10"];
    all.extend_from_slice(extra);
    small_fit_args(out, name, &all)
}

fn fit(out: &Path, name: &str, extra: &[&str]) -> Output {
    trainer_owned(&fit_args(out, name, extra))
}

fn spawn(args: &[String], stdout: Stdio) -> Child {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    trainer_command(&args, &[])
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the trainer binary starts")
}

/// Waits at most `limit` for `child`; kills it and fails the test if it is still running.
fn wait_with_limit(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?} (hung)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn no_panic(o: &Output) {
    let err = stderr(o);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    assert!(
        !matches!(o.status.code(), Some(101) | Some(134) | None),
        "{:?}: {err}",
        o.status
    );
}

fn last_journal_event(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("journal.jsonl")).expect("journal");
    serde_json::from_str(text.lines().last().expect("a journal line")).expect("JSON line")
}

fn count_events(run: &Path, event: &str) -> usize {
    let text = std::fs::read_to_string(run.join("journal.jsonl")).expect("journal");
    text.lines()
        .filter(|l| l.contains(&format!("\"event\":\"{event}\"")))
        .count()
}

#[test]
fn a_closed_or_full_stdout_never_panics_and_training_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    // `trainer fit ... | head -1`: the reader goes away after one line; the run finishes.
    let mut child = spawn(&fit_args(tmp.path(), "piped", &[]), Stdio::piped());
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    lines.read_line(&mut first).expect("a first line");
    drop(lines);
    let o = wait_with_limit(child, Duration::from_secs(600), "fit with a closed stdout");
    no_panic(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("piped");
    assert_eq!(last_journal_event(&run)["status"], "FINISHED");
    assert!(summary(&run)["test_accuracy"].as_f64().is_some());
    assert!(newest_checkpoint(&run).is_dir());

    // `trainer runs ls | true`: the pipe is closed before anything is written.
    let out = tmp.path().display().to_string();
    let ls = ["runs", "ls", "--output", &out].map(String::from);
    let mut child = spawn(&ls, Stdio::piped());
    drop(child.stdout.take());
    let o = wait_with_limit(child, Duration::from_secs(60), "runs ls | true");
    no_panic(&o);
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    assert_eq!(stderr(&o), "");

    // `trainer runs ls > /dev/full`: the output is lost, so the command fails, in one line.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    if let Ok(full) = full {
        let o = wait_with_limit(
            spawn(&ls, Stdio::from(full)),
            Duration::from_secs(60),
            "runs ls > /dev/full",
        );
        no_panic(&o);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: cannot write to standard output"),
            "{err}"
        );
    }
}

#[test]
fn sample_into_a_closed_pipe_exits_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let file = shakespeare_head(tmp.path(), 4_000);
    let out = tmp.path().join("runs");
    tiny_gpt(&file, &out, "g", &["--set", "train.epochs=1"]);
    let ck = newest_checkpoint(&out.join("g")).display().to_string();
    let args = [
        "sample",
        "--checkpoint",
        &ck,
        "--prompt",
        "ROMEO:",
        "--tokens",
        "200",
        "--backend",
        "cpu",
    ]
    .map(String::from);
    let mut child = spawn(&args, Stdio::piped());
    drop(child.stdout.take());
    let o = wait_with_limit(child, Duration::from_secs(300), "sample | head -c 0");
    no_panic(&o);
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
}

#[test]
fn credentials_in_the_mlflow_uri_are_never_written_or_shown() {
    let tmp = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 here: tracking fails fast and training is unaffected.
    let o = fit(
        tmp.path(),
        "creds",
        &[
            "--set",
            "tracking.mlflow_uri=\"http://alice:s3cret@127.0.0.1:9/mlflow\"",
            "--set",
            "tracking.drain_seconds=0.5",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("creds");
    let mut seen = vec![stdout(&o), stderr(&o)];
    for file in [
        run.join("config.toml"),
        newest_checkpoint(&run).join("config.toml"),
    ] {
        let text = std::fs::read_to_string(&file).expect("config");
        assert!(
            text.contains("http://127.0.0.1:9/mlflow"),
            "{}: {text}",
            file.display()
        );
        seen.push(text);
    }
    let show = trainer(&["runs", "show", &run.display().to_string()]);
    assert!(show.status.success(), "{}", stderr(&show));
    seen.push(stdout(&show));
    for text in seen {
        assert!(
            !text.contains("s3cret") && !text.contains("alice"),
            "{text}"
        );
    }
}

/// A tiny IDX dataset whose label files are replaced by `train` and `test`.
fn dataset_with_labels(dir: &Path, train: &[u8], test: &[u8]) {
    tiny_dataset(dir, 30);
    write(dir, "train-labels-idx1-ubyte", idx(0x801, &[30], train));
    write(dir, "t10k-labels-idx1-ubyte", idx(0x801, &[30], test));
}

#[test]
fn a_corrupt_label_byte_is_refused_not_turned_into_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let good: Vec<u8> = (0..30).map(|i| (i % 3) as u8).collect();
    let mut bad = good.clone();
    bad[7] = 200;
    dataset_with_labels(tmp.path(), &bad, &good);
    let data = format!("data.dir={:?}", tmp.path().display().to_string());
    let e = one_line_error(&fit(&tmp.path().join("runs"), "labels", &["--set", &data]));
    assert!(
        e.contains("train-labels-idx1-ubyte") && e.contains("item 7 has label 200"),
        "{e}"
    );
    assert!(
        !tmp.path().join("runs/labels").exists(),
        "a refused run leaves no directory"
    );

    // Test labels beyond the training classes.
    let mut test = good.clone();
    test[4] = 5;
    dataset_with_labels(tmp.path(), &good, &test);
    let e = one_line_error(&fit(&tmp.path().join("runs"), "labels", &["--set", &data]));
    assert!(
        e.contains("t10k-labels-idx1-ubyte") && e.contains("item 4 has label 5"),
        "{e}"
    );

    // `eval --data` on such a directory with a model trained on good labels: no panic.
    dataset_with_labels(tmp.path(), &good, &good);
    let o = fit(&tmp.path().join("runs"), "good", &["--set", &data]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ck = newest_checkpoint(&tmp.path().join("runs/good"))
        .display()
        .to_string();
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let wide: Vec<u8> = (0..30).map(|i| (i % 5) as u8).collect();
    dataset_with_labels(&other, &wide, &wide);
    let e = one_line_error(&trainer(&[
        "eval",
        "--checkpoint",
        &ck,
        "--data",
        &other.display().to_string(),
    ]));
    assert!(
        e.contains("labels go up to 4") && e.contains("3 classes"),
        "{e}"
    );
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", path.display());
}

/// `fit` with `args` must fail in one line within a minute (not hang, not eat memory).
fn refused_quickly(args: Vec<String>) -> String {
    let child = spawn(&args, Stdio::piped());
    let o = wait_with_limit(child, Duration::from_secs(60), "fit on a non-regular file");
    one_line_error(&o)
}

#[test]
fn devices_fifos_and_directories_are_refused_as_data_files() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo.txt");
    mkfifo(&fifo);
    let out = tmp.path().join("runs");
    for (file, what) in [
        (PathBuf::from("/dev/zero"), "not a regular file"),
        (fifo.clone(), "not a regular file"),
        (tmp.path().to_path_buf(), "a directory"),
    ] {
        let mut args = fit_args(&out, "text", &[]);
        args.extend([
            "--config".to_string(),
            "configs/shakespeare-gpt-cpu.toml".to_string(),
            "--set".to_string(),
            format!("data.file={:?}", file.display().to_string()),
        ]);
        let e = refused_quickly(args);
        assert!(
            e.contains(&file.display().to_string()) && e.contains(what),
            "{e}"
        );
    }
    // An IDX file that is a FIFO is named as such, not as missing.
    let dir = tmp.path().join("idx");
    std::fs::create_dir(&dir).unwrap();
    tiny_dataset(&dir, 30);
    std::fs::remove_file(dir.join("train-images-idx3-ubyte")).unwrap();
    mkfifo(&dir.join("train-images-idx3-ubyte"));
    let mut args = fit_args(&out, "idx", &[]);
    args.extend([
        "--set".to_string(),
        format!("data.dir={:?}", dir.display().to_string()),
    ]);
    let e = refused_quickly(args);
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("not a regular file"),
        "{e}"
    );
}

#[test]
fn outputs_that_exist_are_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(tmp.path(), "p", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ck = newest_checkpoint(&tmp.path().join("p"))
        .display()
        .to_string();
    let input = tmp.path().join("images-idx3-ubyte");
    std::fs::copy(
        crate::common::repo().join("datasets/mnist-10k/t10k-images-idx3-ubyte.gz"),
        &input,
    )
    .unwrap();
    let before = std::fs::read(&input).unwrap();
    let input_s = input.display().to_string();
    let existing = write(tmp.path(), "preds.csv", "keep me");
    for out in [&existing, &input_s] {
        let e = one_line_error(&trainer(&[
            "predict",
            "--checkpoint",
            &ck,
            "--input",
            &input_s,
            "--output",
            out,
        ]));
        assert!(
            e.contains("already exists") && e.contains(out.as_str()),
            "{e}"
        );
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    assert_eq!(std::fs::read(&input).unwrap(), before);

    // `--output` naming a file where run directories should go.
    let e = one_line_error(&fit(Path::new(&existing), "x", &[]));
    assert!(
        e.contains("preds.csv") && e.contains("not a directory"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
}

#[test]
fn resume_auto_refuses_damaged_checkpoints_and_finished_runs_instead_of_starting_over() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(tmp.path(), "broken", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("broken");
    for entry in std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .flatten()
    {
        if entry.path().is_dir() {
            std::fs::write(entry.path().join("model.mpk"), b"garbage").unwrap();
        }
    }
    let journal = std::fs::read(run.join("journal.jsonl")).unwrap();
    let e = one_line_error(&fit(tmp.path(), "broken", &["--resume", "auto"]));
    assert!(
        e.contains("no checkpoint") && e.contains("verifies") && e.contains("model.mpk"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(run.join("journal.jsonl")).unwrap(),
        journal,
        "nothing appended"
    );

    // A finished run that has no checkpoint (they were removed) has nothing to continue.
    let none = ["--set", "checkpoint.at_epoch_end=false"];
    assert!(fit(tmp.path(), "done", &none).status.success());
    std::fs::remove_dir_all(tmp.path().join("done/checkpoints")).unwrap();
    let mut args = none.to_vec();
    args.extend(["--resume", "auto"]);
    let e = one_line_error(&fit(tmp.path(), "done", &args));
    assert!(e.contains("already finished"), "{e}");
    assert_eq!(count_events(&tmp.path().join("done"), "run_started"), 1);
}

#[test]
fn a_second_fit_on_a_busy_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let long = ["--set", "train.epochs=50"];
    let mut first = spawn(&fit_args(tmp.path(), "busy", &long), Stdio::null());
    let run = tmp.path().join("busy");
    let deadline = Instant::now() + Duration::from_secs(300);
    while count_events_or_zero(&run, "step") == 0 {
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first run ended early"
        );
        assert!(
            Instant::now() < deadline,
            "the first run never logged a step"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut args = long.to_vec();
    args.extend(["--resume", "auto"]);
    let second = fit(tmp.path(), "busy", &args);
    let _ = first.kill();
    let _ = first.wait();
    let e = one_line_error(&second);
    assert!(
        e.contains("in use by another trainer process")
            && e.contains(&format!("pid {}", first.id())),
        "{e}"
    );
    assert_eq!(count_events(&run, "run_started"), 1);
}

fn count_events_or_zero(run: &Path, event: &str) -> usize {
    if run.join("journal.jsonl").is_file() {
        count_events(run, event)
    } else {
        0
    }
}

#[test]
fn a_model_too_large_for_memory_is_refused_before_anything_is_allocated() {
    let tmp = tempfile::tempdir().unwrap();
    let huge = ["--set", "model.mlp.hidden=[100000000, 100000000]"];
    let o = fit(tmp.path(), "huge", &huge);
    no_panic(&o);
    let e = one_line_error(&o);
    assert!(
        e.contains("parameters") && e.contains("GiB") && e.contains("model.mlp"),
        "{e}"
    );
    assert!(
        !tmp.path().join("huge").exists(),
        "the refused run left its directory"
    );
    // The name is free for a run that fits.
    assert!(fit(tmp.path(), "huge", &[]).status.success());
}

#[test]
fn smaller_input_mistakes_get_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    // A bad item of a list set on the command line names the --set, not the file.
    let e = one_line_error(&trainer(&[
        "fit",
        "--config",
        "configs/mnist-mlp.toml",
        "--set",
        "model.mlp.hidden=[64, \"x\"]",
    ]));
    assert!(e.starts_with("error: --set model.mlp.hidden"), "{e}");

    // --run-name that contradicts the run --resume PATH continues.
    let o = fit(tmp.path(), "first", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ck = newest_checkpoint(&tmp.path().join("first"))
        .display()
        .to_string();
    let e = one_line_error(&fit(tmp.path(), "second", &["--resume", &ck]));
    assert!(
        e.contains("--run-name second") && e.contains("\"first\""),
        "{e}"
    );
    assert!(!tmp.path().join("second").exists());
}
