//! Runs that go wrong while running: a diverging loss, a data file that breaks mid-run, a
//! reader beside a live writer, resuming from inside a run's directory.

use crate::common::{
    one_line_error, small_fit_args, stderr, stdout, tiny_dataset, trainer, trainer_command,
    trainer_owned,
};
use crate::tasks::newest_checkpoint;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn fit_args(out: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    small_fit_args(out, name, extra)
}

fn fit(out: &Path, name: &str, extra: &[&str]) -> Output {
    trainer_owned(&small_fit_args(out, name, extra))
}

fn journal(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
        .collect()
}

/// Every f32 in a safetensors file (header skipped).
fn safetensors_floats(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).expect("export");
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + n..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn a_diverging_run_stops_failed_and_keeps_only_finite_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    // The first update makes the weights ~1e30: step 2's loss overflows.
    let o = fit(
        tmp.path(),
        "nan",
        &[
            "--set",
            "train.lr=1e30",
            "--set",
            "train.optimizer=\"sgd\"",
            "--set",
            "train.log_every=1",
            "--set",
            "checkpoint.every_steps=1",
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}\n{}", stdout(&o));
    // One error line (the `backend:` line before it is a diagnostic on stderr).
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("backend: "))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(err.contains("training diverged at step"), "{err}");
    let run = tmp.path().join("nan");
    let events = journal(&run);
    let last = events.last().expect("journal lines");
    assert_eq!(
        (last["event"].as_str(), last["status"].as_str()),
        (Some("run_ended"), Some("FAILED"))
    );
    let steps = events.iter().filter(|e| e["event"] == "step").count();
    assert!(steps >= 1, "the first steps were logged before divergence");
    // Whatever was saved is finite, and `latest` names a checkpoint that verifies.
    let ck = newest_checkpoint(&run);
    let v = trainer(&["checkpoints", "verify", &ck.display().to_string()]);
    assert!(v.status.success(), "{}", stderr(&v));
    let export = tmp.path().join("nan.safetensors");
    let x = trainer(&[
        "checkpoints",
        "export",
        &ck.display().to_string(),
        "--out",
        &export.display().to_string(),
    ]);
    assert!(x.status.success(), "{}", stderr(&x));
    let floats = safetensors_floats(&export);
    assert!(!floats.is_empty() && floats.iter().all(|f| f.is_finite()));
}

#[test]
fn a_data_file_that_breaks_mid_run_is_a_runtime_failure_not_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    tiny_dataset(&data, 2_000);
    let dir = format!("data.dir={:?}", data.display().to_string());
    let extra = [
        "--set",
        &dir,
        "--set",
        "train.epochs=1000",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.log_every=1",
        "--set",
        "checkpoint.at_epoch_end=false",
    ];
    let args = fit_args(tmp.path(), "broken", &extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = trainer_command(&args, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let run = tmp.path().join("broken");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !journal(&run).iter().any(|e| e["event"] == "step") {
        assert!(child.try_wait().unwrap().is_none(), "ended before a step");
        assert!(Instant::now() < deadline, "no step logged");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The images vanish under the running loader (a disk or mount going away).
    let images = data.join("train-images-idx3-ubyte");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&images)
        .unwrap()
        .set_len(16)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    assert_eq!(journal(&run).last().unwrap()["status"], "FAILED");
}

#[test]
fn read_only_commands_beside_a_live_fit_never_touch_its_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let args = fit_args(
        tmp.path(),
        "live",
        &[
            "--set",
            "train.epochs=3",
            "--set",
            "checkpoint.every_steps=5",
            "--set",
            "checkpoint.keep_last=1000",
        ],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = trainer_command(&args, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let run = tmp.path().join("live");
    let (run_s, out_s) = (run.display().to_string(), tmp.path().display().to_string());
    let mut reads = 0;
    while child.try_wait().unwrap().is_none() {
        if run.join("checkpoints").is_dir() {
            let ls = trainer(&["checkpoints", "ls", &run_s]);
            assert!(ls.status.success(), "{}", stderr(&ls));
            let runs = trainer(&["runs", "ls", "--output", &out_s]);
            assert!(runs.status.success(), "{}", stderr(&runs));
            reads += 1;
        }
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(reads >= 3, "only {reads} reads happened during the run");
    let names: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    // 3 epochs of 57 steps: every 5th step plus each epoch's end.
    assert!(names.len() >= 30, "{names:?}");
    for n in names {
        let v = trainer(&["checkpoints", "verify", &format!("{run_s}/checkpoints/{n}")]);
        assert!(v.status.success(), "{n}: {}", stderr(&v));
    }
}

#[test]
fn resume_from_inside_the_checkpoints_directory_continues_that_run() {
    let tmp = tempfile::tempdir().unwrap();
    let o = fit(tmp.path(), "inside", &["--set", "train.epochs=1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("inside");
    let ck = newest_checkpoint(&run);
    let name = ck.file_name().unwrap().to_string_lossy().into_owned();
    let data = format!(
        "data.dir={:?}",
        crate::common::repo()
            .join("datasets/mnist-10k")
            .display()
            .to_string()
    );
    let o = trainer_command(
        &[
            "fit",
            "--backend",
            "cpu",
            "--resume",
            &name,
            "--set",
            "model.mlp.hidden=[32]",
            "--set",
            "train.epochs=2",
            "--set",
            &data,
        ],
        &[],
    )
    .current_dir(run.join("checkpoints"))
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !run.join("checkpoints/config.toml").exists(),
        "wrote into the checkpoints dir"
    );
    let started = journal(&run)
        .iter()
        .filter(|e| e["event"] == "run_started")
        .count();
    assert_eq!(started, 2, "the resumed part is in the same run's journal");
    assert_eq!(crate::common::summary(&run)["epochs"], 2);

    // A checkpoint directory outside any run is refused, not treated as one.
    let loose = tmp.path().join("loose");
    std::fs::create_dir(&loose).unwrap();
    let copy = loose.join(&name);
    std::fs::create_dir(&copy).unwrap();
    for f in std::fs::read_dir(&ck).unwrap().flatten() {
        std::fs::copy(f.path(), copy.join(f.file_name())).unwrap();
    }
    let e = one_line_error(&trainer(&[
        "fit",
        "--backend",
        "cpu",
        "--resume",
        &copy.display().to_string(),
        "--set",
        "model.mlp.hidden=[32]",
    ]));
    assert!(e.contains("not inside a run directory"), "{e}");
}
