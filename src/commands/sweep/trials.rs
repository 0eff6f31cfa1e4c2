//! Running a sweep's trials as `trainer fit` child processes: at most `parallel` at once,
//! each followed through its journal so that successive halving can stop it at a rung.

use super::SweepPlan;
use crate::cli::SweepArgs;
use crate::commands::Failure;
use crate::observe::JournalLine;
use crate::run::{RunLayout, RunRecord};
use crate::sweep::{Mode, PlannedTrial, SweepState, TrialStatus, rungs, stops};
use anyhow::anyhow;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use trainer_core::train::{Event, Split};

/// Raised by Ctrl-C / SIGTERM: no new trial starts; running ones checkpoint and stop.
static STOP: AtomicBool = AtomicBool::new(false);

/// How a trial process is started: the sweep's own config file, overrides and backend.
pub(crate) struct Launch {
    config: Option<PathBuf>,
    overrides: Vec<String>,
    backend: Option<String>,
}

impl Launch {
    /// The parts of the sweep's command line every trial repeats.
    pub(crate) fn of(args: &SweepArgs) -> Self {
        Self {
            config: args.config.config.clone(),
            overrides: args
                .config
                .overrides
                .iter()
                .map(|o| format!("{}={}", o.key, o.value))
                .collect(),
            backend: args.backend.and_then(|b| {
                clap::ValueEnum::to_possible_value(&b).map(|p| p.get_name().to_string())
            }),
        }
    }
}

/// A trial's status and objective as its run directory and the sweep state say.
pub(crate) fn status_of(
    plan: &SweepPlan,
    state: &SweepState,
    trial: &PlannedTrial,
) -> (TrialStatus, Option<f64>) {
    let record = RunRecord::load(&plan.dir.join(&trial.name)).ok();
    let objective = record
        .as_ref()
        .and_then(|r| r.metrics.get(&plan.spec.objective).copied())
        .filter(|v| v.is_finite());
    let status = TrialStatus::of(record.map(|r| r.status), state.pruned.contains(&trial.name));
    (status, objective)
}

/// A trial process being followed.
struct Running {
    index: usize,
    name: String,
    child: Child,
    journal: PathBuf,
    /// Journal bytes already read.
    offset: u64,
}

/// Runs every trial that is not done yet; Err(130) when stopped by Ctrl-C.
pub(super) fn run_all(
    plan: &SweepPlan,
    state: &mut SweepState,
    parent_uuid: &str,
    event: &dyn Fn(&Event) -> Result<(), Failure>,
) -> Result<(), Failure> {
    install_stop_handler();
    let parallel = plan.parallel;
    let save = |s: &SweepState| s.save(&plan.dir).map_err(Failure::runtime);
    let mut queue: std::collections::VecDeque<usize> = (0..plan.trials.len()).collect();
    let mut running: Vec<Running> = Vec::new();
    let mut stopping = false;
    let mut unfinished = Vec::new();
    loop {
        while !stopping && running.len() < parallel {
            let Some(i) = queue.pop_front() else { break };
            let trial = &plan.trials[i];
            match status_of(plan, state, trial) {
                (TrialStatus::Pending, _) => running.push(start(plan, i, trial, parent_uuid)?),
                (status, objective) => report_end(plan, state, i, &status, objective, event)?,
            }
        }
        if running.is_empty() {
            break;
        }
        if STOP.load(Ordering::SeqCst) && !stopping {
            stopping = true;
            for r in &running {
                interrupt(&r.child);
            }
        }
        let mut i = 0;
        while i < running.len() {
            if !stopping && follow(plan, state, &mut running[i]) {
                save(state)?;
                interrupt(&running[i].child);
            }
            match running[i].child.try_wait() {
                Ok(None) => i += 1,
                Ok(Some(exit)) => {
                    let r = running.swap_remove(i);
                    let trial = &plan.trials[r.index];
                    let (status, objective) = status_of(plan, state, trial);
                    if status == TrialStatus::Pending && !stopping {
                        eprintln!(
                            "warning: {} exited ({exit}) without finishing; see {}",
                            r.name,
                            log_path(plan, &r.name).display()
                        );
                        unfinished.push(r.name.clone());
                    }
                    report_end(plan, state, r.index, &status, objective, event)?;
                }
                Err(e) => return Err(Failure::runtime(anyhow!("{}: {e}", running[i].name))),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if stopping {
        return Err(Failure {
            code: crate::exit::Exit::Interrupted,
            error: anyhow!(
                "sweep interrupted; run the same command again to finish it (finished trials are kept)"
            ),
        });
    }
    save(state)?;
    if !unfinished.is_empty() {
        return Err(Failure::runtime(anyhow!(
            "{} did not finish (logs in {}); run the same command again to retry",
            unfinished.join(", "),
            plan.dir.join("logs").display()
        )));
    }
    Ok(())
}

/// Prints and journals a trial's end once (a pending trial has not ended).
fn report_end(
    plan: &SweepPlan,
    state: &mut SweepState,
    index: usize,
    status: &TrialStatus,
    objective: Option<f64>,
    event: &dyn Fn(&Event) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let name = &plan.trials[index].name;
    if *status == TrialStatus::Pending || state.reported.contains(name) {
        return Ok(());
    }
    let shown = objective.map_or_else(|| "-".into(), |o| format!("{o:.4}"));
    crate::outln!(
        "{name}: {} ({} = {shown})",
        status.name(),
        plan.spec.objective
    );
    event(&Event::TrialEnded {
        trial: index,
        name: name.clone(),
        status: *status,
        objective,
    })?;
    state.reported.insert(name.clone());
    state.save(&plan.dir).map_err(Failure::runtime)
}

/// Where a trial process's output goes.
pub(crate) fn log_path(plan: &SweepPlan, name: &str) -> PathBuf {
    plan.dir.join("logs").join(format!("{name}.log"))
}

/// Starts `trainer fit` for one trial (resuming it when it has a checkpoint).
fn start(
    plan: &SweepPlan,
    index: usize,
    trial: &PlannedTrial,
    parent_uuid: &str,
) -> Result<Running, Failure> {
    let log = log_path(plan, &trial.name);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Failure::runtime(anyhow!("{}: {e}", p.display()))
    };
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(io(&log))?;
    let err = out.try_clone().map_err(io(&log))?;
    let exe = std::env::current_exe().map_err(|e| Failure::runtime(anyhow!("trainer: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.arg("fit");
    if let Some(c) = &plan.launch.config {
        cmd.arg("--config").arg(c);
    }
    for o in &plan.launch.overrides {
        cmd.arg("--set").arg(o);
    }
    for (k, v) in &trial.params {
        cmd.arg("--set").arg(format!("{k}={v}"));
    }
    cmd.arg("--set")
        .arg(format!("tracking.parent_run_uuid=\"{parent_uuid}\""));
    // A sweep registers its best trial's model (when it has `tracking.register_model`); the
    // trials themselves register nothing.
    cmd.arg("--set").arg("tracking.register_model=\"\"");
    if let Some(b) = &plan.launch.backend {
        cmd.args(["--backend", b]);
    }
    cmd.arg("--output")
        .arg(&plan.dir)
        .args(["--run-name", &trial.name, "--resume", "auto"]);
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    // Ctrl-C reaches the sweep only; it stops each trial with one SIGINT (a second would
    // make `fit` quit without its checkpoint).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    // If the sweep dies (even by SIGKILL), the trial checkpoints and stops.
    cmd.env(crate::commands::STOP_WITH_PARENT_ENV, "1");
    let child = cmd
        .spawn()
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", trial.name)))?;
    crate::outln!("{}: started ({})", trial.name, describe(trial));
    Ok(Running {
        index,
        name: trial.name.clone(),
        child,
        journal: RunLayout::of(&plan.dir.join(&trial.name)).journal(),
        offset: 0,
    })
}

/// `key=value, ...` of a trial.
pub(crate) fn describe(trial: &PlannedTrial) -> String {
    trial
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the trial's new journal lines; at each rung records its validation metric and
/// returns true when successive halving stops it (it is then in `state.pruned`).
fn follow(plan: &SweepPlan, state: &mut SweepState, r: &mut Running) -> bool {
    // A trial may search its own length.
    let epochs = plan.trials[r.index]
        .params
        .get("train.epochs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(plan.cfg.train.epochs);
    let rung_epochs = rungs(&plan.spec.early_stopping, epochs);
    if rung_epochs.is_empty() || state.pruned.contains(&r.name) {
        return false;
    }
    let Ok(mut f) = std::fs::File::open(&r.journal) else {
        return false;
    };
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(r.offset)).is_err() || f.read_to_end(&mut buf).is_err() {
        return false;
    }
    let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    r.offset += complete as u64;
    let (metric, mode) = rung_metric(&plan.spec.objective, plan.spec.mode);
    for line in buf[..complete].split(|&b| b == b'\n') {
        let Some(JournalLine {
            event:
                Event::Evaluated {
                    epoch: Some(epoch),
                    split: Split::Valid,
                    result,
                },
            ..
        }) = JournalLine::parse(line)
        else {
            continue;
        };
        let rung = epoch + 1;
        let seen = state.rungs.entry(rung).or_default();
        if !rung_epochs.contains(&rung) || seen.contains_key(&r.name) {
            continue; // not a rung, or decided before (a resumed trial's earlier epochs)
        }
        let value = result
            .metrics()
            .into_iter()
            .find(|(m, _)| *m == metric)
            .map_or(f64::NAN, |(_, v)| v);
        let others: Vec<f64> = seen.values().copied().collect();
        let stop = stops(mode, plan.spec.early_stopping.eta, &others, value);
        if value.is_finite() {
            seen.insert(r.name.clone(), value);
        }
        if stop {
            crate::outln!(
                "{}: stopped early at epoch {rung} (valid {metric} {value:.4} not in the best 1/{} of {} trial(s))",
                r.name,
                plan.spec.early_stopping.eta,
                others.len() + 1
            );
            state.pruned.insert(r.name.clone());
            return true;
        }
    }
    false
}

/// The validation metric rungs compare: the objective's when it is a `valid_` metric, else
/// the validation loss.
fn rung_metric(objective: &str, mode: Mode) -> (&str, Mode) {
    match objective.strip_prefix("valid_") {
        Some(m) if trainer_core::train::EVAL_METRICS.contains(&m) => (m, mode),
        _ => ("loss", Mode::Min),
    }
}

fn install_stop_handler() {
    let result = ctrlc::set_handler(|| {
        if !STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopping: running trials save a checkpoint and stop; no new trial starts");
        }
    });
    if let Err(e) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
}

/// Asks a trial to checkpoint and stop (SIGINT, as Ctrl-C would).
fn interrupt(child: &Child) {
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) with a pid this process spawned and has not reaped yet.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
}
