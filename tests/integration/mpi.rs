//! Data parallel across processes over MPI (`--features mpi`; Open MPI on localhost, CPU):
//! 2 and 3 ranks take the steps one process takes on the same global batches; `trainer launch`
//! and plain `mpirun` both work; a killed rank ends the job and `--resume auto` finishes it
//! with the uninterrupted run's result; a rank with another config is refused; only rank 0
//! writes the run and tracks to MLflow. Without the feature, the binary says how to get it.

use std::path::Path;

/// `fit` of a small MLP on the bundled MNIST subset, one process or a job: no dropout (its
/// masks are drawn per rank), one loader worker, every step's loss in the journal.
fn fit_args(out: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let mut all = vec![
        "--set",
        "model.mlp.dropout=0.0",
        "--set",
        "data.workers=1",
        "--set",
        "train.batch_size=250",
        "--set",
        "train.log_every=1",
    ];
    all.extend_from_slice(extra);
    crate::common::small_fit_args(out, name, &all)
}

#[cfg(feature = "mpi")]
mod job {
    use super::fit_args;
    use crate::common::{repo, stderr, summary, trainer, trainer_env};
    use std::path::Path;
    use std::process::{Child, Command, ExitStatus, Output};
    use std::time::{Duration, Instant};

    /// Each step's loss as the run's journal has it.
    fn step_losses(run: &Path) -> Vec<f64> {
        std::fs::read_to_string(run.join("journal.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["event"] == "step")
            .map(|e| e["loss"].as_f64().unwrap())
            .collect()
    }

    /// `mpirun` with what a test box needs: root allowed, more ranks than cores, no binding, one
    /// CPU thread per rank.
    fn mpirun(n: usize) -> Command {
        let mut cmd = Command::new("mpirun");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.arg("--allow-run-as-root");
        }
        cmd.args([
            "--oversubscribe",
            "--bind-to",
            "none",
            "-x",
            "RAYON_NUM_THREADS",
        ])
        .args(["-np", &n.to_string()])
        .env("RAYON_NUM_THREADS", "1");
        with_test_env(&mut cmd);
        cmd
    }

    /// The environment `common::trainer_command` gives the trainer.
    fn with_test_env(cmd: &mut Command) {
        cmd.current_dir(repo()).env_remove("RUST_BACKTRACE").env(
            "TRAINER_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("data-cache"),
        );
        for (k, _) in std::env::vars() {
            if k.starts_with("MLFLOW_") {
                cmd.env_remove(k);
            }
        }
    }

    /// `mpirun -np N trainer ARGS`.
    fn mpirun_fit(n: usize, args: &[String]) -> Output {
        mpirun(n)
            .arg(env!("CARGO_BIN_EXE_trainer"))
            .args(args)
            .output()
            .unwrap()
    }

    /// `trainer launch --nprocs N -- ARGS` (one CPU thread per rank, as `mpirun` above).
    fn launch(n: usize, args: &[String], env: &[(&str, &str)]) -> Output {
        let mut all = vec![
            "launch".to_string(),
            "--nprocs".into(),
            n.to_string(),
            "--".into(),
        ];
        all.extend(args.iter().cloned());
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut env = env.to_vec();
        env.push(("RAYON_NUM_THREADS", "1"));
        trainer_env(&all, &env)
    }

    /// The largest relative difference between two loss curves of the same length.
    fn max_relative_gap(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len(), "same number of steps");
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() / x.abs().max(1e-12))
            .fold(0.0, f64::max)
    }

    #[test]
    fn two_and_three_ranks_take_the_steps_of_one_process() {
        let _serial = crate::common::train_lock();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        let one = trainer(
            &fit_args(out, "one", &["--set", "train.epochs=1"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert!(one.status.success(), "{}", stderr(&one));
        let two = launch(2, &fit_args(out, "two", &["--set", "train.epochs=1"]), &[]);
        assert!(two.status.success(), "{}", stderr(&two));
        let three = mpirun_fit(3, &fit_args(out, "three", &["--set", "train.epochs=1"]));
        assert!(three.status.success(), "{}", stderr(&three));

        let single = step_losses(&out.join("one"));
        assert_eq!(
            single.len(),
            29,
            "7,200 training images (8,000 less 10% validation) in batches of 250"
        );
        // The same global batches in the same order: each rank's shard's gradient weighted by
        // its share, summed. Only the summation order differs from one process (per-rank
        // partial sums, then MPI's sum): float rounding, measured ~2e-7 over the epoch.
        for run in ["two", "three"] {
            let losses = step_losses(&out.join(run));
            let gap = max_relative_gap(&single, &losses);
            eprintln!("{run}: largest relative loss gap to one process {gap:e}");
            assert!(
                gap < 1e-5,
                "{run}: relative gap {gap:e}\n{single:?}\n{losses:?}"
            );
        }
        let s1 = summary(&out.join("one"));
        let s2 = summary(&out.join("two"));
        let (a, b) = (
            s1["test_loss"].as_f64().unwrap(),
            s2["test_loss"].as_f64().unwrap(),
        );
        assert!((a - b).abs() / a < 1e-5, "test loss {a} vs {b}");
        // Throughput counts the whole job's samples, not rank 0's share.
        assert_eq!(s2["samples"], s1["samples"], "{s2}");

        // One run each: rank 0 alone wrote (one run_started, one directory per job).
        let mut dirs: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        assert_eq!(dirs, ["one", "three", "two"]);
        let journal = std::fs::read_to_string(out.join("two/journal.jsonl")).unwrap();
        assert_eq!(journal.matches("\"run_started\"").count(), 1, "{journal}");
    }

    /// The pids of rank `rank` of the job whose processes carry `marker` in their environment.
    fn rank_pids(marker: &str, rank: usize) -> Vec<i32> {
        let want = [
            format!("TRAINER_TEST_JOB={marker}"),
            format!("OMPI_COMM_WORLD_RANK={rank}"),
        ];
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                want.iter().all(|w| vars.contains(&w.as_bytes()))
            })
            .collect()
    }

    /// `trainer launch --nprocs 2 -- fit ...` of run `name` with `settings`, its processes
    /// marked `marker`; returned once the run has a checkpoint.
    fn start_job(out: &Path, name: &str, settings: &[&str], marker: &str) -> Child {
        let mut all = vec![
            "launch".to_string(),
            "--nprocs".into(),
            "2".into(),
            "--".into(),
        ];
        all.extend(fit_args(out, name, settings));
        let mut job = crate::common::trainer_command(
            &all.iter().map(String::as_str).collect::<Vec<_>>(),
            &[("RAYON_NUM_THREADS", "1"), ("TRAINER_TEST_JOB", marker)],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        let checkpoints = out.join(name).join("checkpoints");
        let has_checkpoint = || {
            std::fs::read_dir(&checkpoints).is_ok_and(|d| {
                d.filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().starts_with("step-"))
            })
        };
        let waited = Instant::now();
        while !has_checkpoint() {
            assert!(waited.elapsed() < Duration::from_secs(120), "no checkpoint");
            assert!(
                job.try_wait().unwrap().is_none(),
                "the job ended before a checkpoint"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        job
    }

    /// Sends `signal` to rank 1 of the job marked `marker`, then waits (at most a minute) for
    /// the job to end: its status, its stderr, and how long it took after the signal.
    fn signal_rank_1(mut job: Child, marker: &str, signal: i32) -> (ExitStatus, String, Duration) {
        let pids = rank_pids(marker, 1);
        assert_eq!(pids.len(), 1, "rank 1's process: {pids:?}");
        // SAFETY: kill(2) on a pid of this test's own job.
        assert_eq!(unsafe { libc::kill(pids[0], signal) }, 0);
        let sent = Instant::now();
        let status = loop {
            if let Some(s) = job.try_wait().unwrap() {
                break s;
            }
            if sent.elapsed() > Duration::from_secs(60) {
                // SAFETY: as above; the test fails below, leaving no process behind.
                unsafe { libc::kill(pids[0], libc::SIGKILL) };
                let _ = job.kill();
                panic!("the job outlived rank 1's signal {signal} by a minute");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(job.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status, err, sent.elapsed())
    }

    /// The settings of the fault tests: 12 epochs of a wider MLP, a checkpoint every 20 steps.
    const FAULT_SETTINGS: [&str; 6] = [
        "--set",
        "train.epochs=12",
        "--set",
        "model.mlp.hidden=[256]",
        "--set",
        "checkpoint.every_steps=20",
    ];

    /// Asserts that run `b` ended where run `a` did: final training and test loss within
    /// `tolerance` (relative).
    fn same_end(a: &Path, b: &Path, tolerance: f64) {
        let (a, b) = (summary(a), summary(b));
        for key in ["final_train_loss", "test_loss"] {
            let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
            assert!((x - y).abs() <= tolerance * x.abs(), "{key}: {x} vs {y}");
        }
    }

    #[test]
    fn a_killed_rank_ends_the_job_and_resume_auto_finishes_it_as_if_never_stopped() {
        let _serial = crate::common::train_lock();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        let straight = launch(2, &fit_args(out, "straight", &FAULT_SETTINGS), &[]);
        assert!(straight.status.success(), "{}", stderr(&straight));

        let marker = format!("kill-{}", std::process::id());
        let job = start_job(out, "killed", &FAULT_SETTINGS, &marker);
        let (status, err, took) = signal_rank_1(job, &marker, libc::SIGKILL);
        eprintln!("the job ended {took:?} after rank 1 was killed");
        assert!(!status.success(), "a job with a killed rank fails: {err}");
        assert!(!summary_exists(&out.join("killed")), "{err}");

        // The same launch with --resume auto finishes as the uninterrupted job did, exactly.
        let mut resume = fit_args(out, "killed", &FAULT_SETTINGS);
        resume.extend(["--resume".to_string(), "auto".to_string()]);
        let again = launch(2, &resume, &[]);
        assert!(again.status.success(), "{}", stderr(&again));
        same_end(&out.join("straight"), &out.join("killed"), 1e-6);
    }

    #[test]
    fn a_hung_rank_is_ended_by_the_watchdog_and_the_job_resumes_on_three_ranks() {
        let _serial = crate::common::train_lock();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        let straight = launch(2, &fit_args(out, "straight", &FAULT_SETTINGS), &[]);
        assert!(straight.status.success(), "{}", stderr(&straight));

        let marker = format!("hang-{}", std::process::id());
        let mut settings = FAULT_SETTINGS.to_vec();
        settings.extend(["--set", "run.step_timeout_seconds=3"]);
        let job = start_job(out, "hung", &settings, &marker);
        // SIGSTOP: rank 1 is alive but never reaches the next all-reduce.
        let (status, err, took) = signal_rank_1(job, &marker, libc::SIGSTOP);
        eprintln!("the job ended {took:?} after rank 1 stopped");
        assert!(!status.success(), "{err}");
        assert!(
            err.contains("error: rank 0: no collective step for 3 s"),
            "{err}"
        );
        assert!(took < Duration::from_secs(30), "{took:?}");

        // Resumed with another world size: the global batch and its order are the same, so the
        // run ends where the 2-rank one did, up to the summation order.
        // (The watchdog's limit may change on resume: back to the default here.)
        let mut resume = fit_args(out, "hung", &FAULT_SETTINGS);
        resume.extend(["--resume".to_string(), "auto".to_string()]);
        let again = launch(3, &resume, &[]);
        assert!(again.status.success(), "{}", stderr(&again));
        same_end(&out.join("straight"), &out.join("hung"), 1e-5);
    }

    fn summary_exists(run: &Path) -> bool {
        run.join("summary.json").exists()
    }

    #[test]
    fn a_rank_with_another_config_is_refused_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let args = fit_args(tmp.path(), "mixed", &["--set", "train.epochs=1"]);
        let o = mpirun(1)
            .arg(env!("CARGO_BIN_EXE_trainer"))
            .args(&args)
            .args([":", "-np", "1", env!("CARGO_BIN_EXE_trainer")])
            .args(&args)
            .args(["--set", "train.lr=0.5"])
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(
            err.contains("rank 1 resolved another config than rank 0"),
            "{err}"
        );
        assert!(!tmp.path().join("mixed").exists(), "nothing written");
    }

    #[test]
    fn only_rank_0_tracks_the_job_to_mlflow() {
        let server = crate::mlflow_server::Server::start(crate::mlflow_server::free_port());
        let tmp = tempfile::tempdir().unwrap();
        let env = crate::mlflow_server::mlflow_env(&server.uri);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let o = launch(
            2,
            &fit_args(tmp.path(), "tracked", &["--set", "train.epochs=1"]),
            &env,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let http = reqwest::blocking::Client::new();
        let exp: serde_json::Value = http
            .get(format!(
                "{}/api/2.0/mlflow/experiments/get-by-name?experiment_name=trainer-tests",
                server.uri
            ))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let id = exp["experiment"]["experiment_id"]
            .as_str()
            .unwrap()
            .to_string();
        let runs: serde_json::Value = http
            .post(format!("{}/api/2.0/mlflow/runs/search", server.uri))
            .json(&serde_json::json!({"experiment_ids": [id]}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let runs = runs["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{runs:?}");
        let steps = step_losses(&tmp.path().join("tracked")).len();
        assert_eq!(steps, 29, "every step logged once");
    }
}

#[cfg(not(feature = "mpi"))]
#[test]
fn without_the_mpi_feature_a_job_is_refused_with_how_to_build_one() {
    use crate::common::{one_line_error, trainer, trainer_env};
    let tmp = tempfile::tempdir().unwrap();
    let args = fit_args(tmp.path(), "alone", &["--set", "train.epochs=1"]);
    let mut launch = vec!["launch", "--nprocs", "2", "--"];
    launch.extend(args.iter().map(String::as_str));
    let e = one_line_error(&trainer(&launch));
    assert!(e.contains("--features mpi"), "{e}");
    let fit: Vec<&str> = args.iter().map(String::as_str).collect();
    let e = one_line_error(&trainer_env(&fit, &[("OMPI_COMM_WORLD_SIZE", "2")]));
    assert!(e.contains("built without MPI"), "{e}");
    assert!(!tmp.path().join("alone").exists(), "nothing written");
}
