//! Crash safety: a checkpointing run is killed with SIGKILL at random instants (many of them
//! inside checkpoint writes), resumed with `--resume auto` each time, and must end with the
//! same weights as a run that was never killed.

use crate::common::repo;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const KILLS: usize = 20;

/// A small run that saves a checkpoint after every step, so kills often land inside a save.
fn spawn(out: &Path, name: &str, log: &Path) -> Child {
    let file = |suffix: &str| {
        Stdio::from(std::fs::File::create(log.with_extension(suffix)).expect("log file"))
    };
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["fit", "--run-name", name, "--resume", "auto", "--output"])
        .arg(out)
        .args(["--backend", "cpu", "--set", "model.mlp.hidden=[32]"])
        .args(["--set", "train.epochs=2", "--set", "train.log_every=10"])
        .args(["--set", "checkpoint.every_steps=1"])
        .current_dir(repo())
        .stdout(file("out"))
        .stderr(file("err"))
        .spawn()
        .expect("the trainer binary starts")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Waits up to `limit` for the child; None if it is still running.
fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Sends SIGKILL once `limit` has passed; `None` when the kill ended the process, its exit
/// status when it finished by itself first (even in the instant between the deadline and the
/// signal).
#[cfg(unix)]
fn kill_after(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(status) = wait_for(child, limit) {
        return Some(status);
    }
    let _ = child.kill(); // SIGKILL; fails only if the process has already exited
    let status = child.wait().expect("wait");
    (status.signal() != Some(9)).then_some(status)
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// The final model, exported to safetensors (no parameter ids, so two runs compare by bytes).
fn final_weights(run: &Path, tmp: &Path) -> Vec<u8> {
    let ck = run.join("checkpoints");
    let latest = read(&ck.join("latest"));
    let name = run.file_name().expect("run dir name").to_string_lossy();
    let out = tmp.join(format!("{name}.safetensors"));
    let o = crate::common::trainer(&[
        "checkpoints",
        "export",
        &ck.join(latest.trim()).display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    std::fs::read(out).expect("export written")
}

#[test]
#[cfg(unix)]
fn sigkill_at_random_instants_then_resume_ends_with_identical_weights() {
    let tmp = tempfile::tempdir().unwrap();

    // The reference run, never killed; it also measures when saving starts and how long it runs.
    let started = Instant::now();
    let mut child = spawn(tmp.path(), "reference", &tmp.path().join("reference"));
    let first_save = loop {
        if tmp.path().join("reference/checkpoints/latest").exists() {
            break started.elapsed();
        }
        if wait_for(&mut child, Duration::from_millis(2)).is_some() {
            break started.elapsed();
        }
    };
    let status = child.wait().unwrap();
    let total = started.elapsed();
    assert!(
        status.success(),
        "{}",
        read(&tmp.path().join("reference.err"))
    );
    let training = total
        .saturating_sub(first_save)
        .max(Duration::from_millis(50));

    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| started.elapsed().as_nanos() as u64 ^ std::process::id() as u64);
    eprintln!("crash loop seed {seed} (set CRASH_SEED to replay)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let run = tmp.path().join("crashy");
    let (mut kills, mut mid_save_kills, mut resumes, mut attempt) = (0, 0, 0, 0);
    // The window is calibrated on the reference run; a loaded machine can make later runs
    // faster relative to it (even the start-up part), so an early finish restarts the loop
    // with half the window and three quarters of the start-up delay.
    let (mut window, mut startup, mut restarts) = (1.0 / 12.0, 1.0, 0);
    loop {
        attempt += 1;
        assert!(attempt < 200, "no progress after {attempt} attempts");
        let log = tmp.path().join(format!("attempt-{attempt}"));
        let mut child = spawn(tmp.path(), "crashy", &log);
        // Kill somewhere between start-up and a twelfth of the training time after it.
        let delay = first_save.mul_f64(startup * rng.random_range(0.3..1.0))
            + training.mul_f64(rng.random_range(0.0..window));
        let finished = if kills < KILLS {
            kill_after(&mut child, delay)
        } else {
            Some(child.wait().unwrap())
        };
        let (out, err) = (
            read(&log.with_extension("out")),
            read(&log.with_extension("err")),
        );
        assert!(
            !err.contains("skipping checkpoint") && !err.contains("panicked"),
            "attempt {attempt}: a checkpoint was corrupt or the run panicked:\n{err}"
        );
        resumes += usize::from(out.contains("resuming from"));
        match finished {
            Some(status) => {
                assert!(status.success(), "attempt {attempt} failed:\n{err}\n{out}");
                if kills >= KILLS {
                    break;
                }
                restarts += 1;
                assert!(
                    restarts <= 6,
                    "the run kept finishing before {KILLS} kills; last window {window:.4}"
                );
                eprintln!("run finished after {kills} kills; restarting with a narrower window");
                std::fs::remove_dir_all(&run).unwrap();
                (kills, mid_save_kills, resumes) = (0, 0, 0);
                (window, startup) = (window / 2.0, startup * 0.75);
                continue;
            }
            None => {
                kills += 1;
                let leftovers = std::fs::read_dir(run.join("checkpoints"))
                    .map(|d| {
                        d.flatten()
                            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
                    })
                    .unwrap_or(false);
                mid_save_kills += usize::from(leftovers);
            }
        }
    }
    eprintln!(
        "{kills} kills ({mid_save_kills} inside a checkpoint write), {resumes} resumes, {attempt} starts"
    );
    assert!(
        mid_save_kills > 0,
        "no kill landed inside a checkpoint write"
    );
    assert!(
        resumes >= KILLS / 2,
        "only {resumes} starts resumed a checkpoint"
    );
    let last = read(&tmp.path().join(format!("attempt-{attempt}.out")));
    assert!(last.contains("resuming from"), "{last}");

    // Every checkpoint left on disk verifies.
    for entry in std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("step-") {
            let o = crate::common::trainer(&[
                "checkpoints",
                "verify",
                &entry.path().display().to_string(),
            ]);
            assert!(o.status.success(), "{}", crate::common::stderr(&o));
        }
    }
    let (crashy, reference) = (
        final_weights(&run, tmp.path()),
        final_weights(&tmp.path().join("reference"), tmp.path()),
    );
    assert!(
        crashy == reference,
        "final weights differ from the run that was never killed (sha256 {} vs {})",
        sha256(&crashy),
        sha256(&reference)
    );
}
