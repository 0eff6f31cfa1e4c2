//! `trainer sweep`: a hyperparameter search. Each trial is a normal `trainer fit` run in the
//! sweep directory (`<output>/<sweep>/trial-NNN/`), started as a child process with the
//! trial's values as `--set` overrides and `--resume auto`, so a rerun of the same command
//! after a crash or Ctrl-C continues unfinished trials and skips finished ones. The sweep
//! directory is itself a run for tracking: its journal holds each trial's objective and the
//! best trial, and its MLflow run is the parent of the trials' runs.

mod report;
mod trials;

use super::Failure;
use super::fit::{report_drain, run_dir_failure, start_mlflow};
use crate::cli::SweepArgs;
use crate::observe::append_event;
use crate::run::{CONFIG_FILE, RunDir, RunDirError, RunLayout, RunLock};
use crate::sweep::{PlannedTrial, SweepSpec, SweepState};
use crate::tracking::SyncState;
use anyhow::anyhow;
use std::path::PathBuf;
use std::time::Duration;
use trainer_core::config::{self, Config, Override};
use trainer_core::train::{Event, RunStatus};

/// Everything a sweep needs, checked before any trial starts.
pub(super) struct SweepPlan {
    /// The base config with the command-line overrides (what every trial starts from).
    pub cfg: Config,
    /// The space file.
    pub spec: SweepSpec,
    /// The trials, in order.
    pub trials: Vec<PlannedTrial>,
    /// The sweep directory (trials are run directories inside it).
    pub dir: PathBuf,
    /// How trials are launched: base config file and overrides, backend flag.
    pub launch: trials::Launch,
    /// Trial processes at once (`--parallel`, else the space file's).
    pub parallel: usize,
}

/// Runs (or continues) the sweep; prints the trials ranked by the objective.
pub fn sweep(args: SweepArgs) -> Result<(), Failure> {
    let plan = prepare(&args)?;
    if let Some(parent) = plan.dir.parent()
        && parent.exists()
        && !parent.is_dir()
    {
        return Err(Failure::input(anyhow!(
            "--output {}: not a directory; expected the directory sweeps go in",
            parent.display()
        )));
    }
    std::fs::create_dir_all(&plan.dir)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", plan.dir.display())))?;
    // The sweep's name flag is --name (a run's is --run-name, which RunDirError names).
    let _lock = RunLock::acquire(&plan.dir).map_err(|e| match e {
        RunDirError::InUse { path, holder } => Failure::input(anyhow!(
            "sweep directory {} is in use by another trainer process ({holder}); wait for it to end or pick another --name",
            path.display()
        )),
        e => run_dir_failure(e),
    })?;
    let mut state = SweepState::open(&plan.dir, &fingerprint(&plan), plan.trials.clone())
        .map_err(Failure::input)?;
    let journal = RunLayout::of(&plan.dir).journal();
    let fresh = !journal.exists();
    RunDir {
        name: String::new(),
        path: plan.dir.clone(),
    }
    .write(CONFIG_FILE, plan.cfg.to_toml().as_bytes())
    .map_err(Failure::runtime)?;
    let uuid = SyncState::load_or_create(&plan.dir)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", plan.dir.display())))?
        .run_uuid;
    let started = Event::SweepStarted {
        trials: plan.trials.len(),
        objective: plan.spec.objective.clone(),
    };
    let event = |e: &Event| {
        append_event(&journal, e)
            .map_err(|err| Failure::runtime(anyhow!("{}: {err}", journal.display())))
    };
    if fresh || last_event_is_end(&journal) {
        event(&started)?;
    }
    let mlflow = start_mlflow(&plan.cfg, &plan.dir);
    crate::outln!(
        "sweep {}: {} trial(s), {} {} ({})",
        plan.dir.display(),
        plan.trials.len(),
        match plan.spec.mode {
            crate::sweep::Mode::Min => "minimizing",
            crate::sweep::Mode::Max => "maximizing",
        },
        plan.spec.objective,
        match plan.parallel {
            1 => "one trial at a time".to_string(),
            n => format!("{n} trials at a time"),
        }
    );
    let outcome = trials::run_all(&plan, &mut state, &uuid, &event);
    let status = match &outcome {
        Ok(()) => RunStatus::Finished,
        Err(f) if f.code == crate::exit::Exit::Interrupted => RunStatus::Killed,
        Err(_) => RunStatus::Failed,
    };
    let result = outcome.and_then(|()| report::finish(&plan, &mut state, &event));
    let status = if result.is_err() && status == RunStatus::Finished {
        RunStatus::Failed
    } else {
        status
    };
    event(&Event::RunEnded { status })?;
    if let Some(worker) = mlflow {
        let limit = Duration::from_secs_f64(plan.cfg.tracking.drain_seconds);
        report_drain(&worker.finish(limit), &plan.dir);
    }
    result
}

/// Loads the base config and the space, and checks every searched key against the config.
fn prepare(args: &SweepArgs) -> Result<SweepPlan, Failure> {
    let overrides = &args.config.overrides;
    let base = args.config.config.as_deref();
    let cfg = config::load(base, overrides).map_err(Failure::input)?;
    let spec = SweepSpec::load(&args.space).map_err(Failure::input)?;
    let space = args.space.display();
    for (key, dim) in &spec.space {
        for value in dim.examples() {
            let mut all = overrides.clone();
            all.push(Override {
                key: key.clone(),
                value,
                origin: format!("{space}: space.{key}"),
            });
            config::load(base, &all).map_err(Failure::input)?;
        }
    }
    report::check_objective(&spec, &cfg).map_err(Failure::input)?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .space
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sweep".into()),
    };
    // The name must be a valid run name (it becomes a directory).
    let mut named = overrides.clone();
    named.push(Override::flag(
        "--name",
        "run.name",
        toml::Value::String(name.clone()),
    ));
    config::load(base, &named).map_err(Failure::input)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| cfg.run.output_dir.clone());
    let trials = spec
        .trial_list()
        .into_iter()
        .map(|t| PlannedTrial {
            name: t.name,
            params: t
                .params
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect(),
        })
        .collect();
    let parallel = args.parallel.map_or(spec.parallel, |p| p as usize).max(1);
    Ok(SweepPlan {
        launch: trials::Launch::of(args),
        parallel,
        cfg,
        spec,
        trials,
        dir: output.join(name),
    })
}

/// The space file's and base config's digest: a rerun must use the same ones.
fn fingerprint(plan: &SweepPlan) -> String {
    let text = format!(
        "{}\n{}",
        plan.spec.digest,
        crate::digest::sha256_hex(plan.cfg.to_toml().as_bytes())
    );
    crate::digest::sha256_hex(text.as_bytes())
}

/// True when the journal's last line ends a session (a rerun then starts a new one).
fn last_event_is_end(journal: &std::path::Path) -> bool {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    text.lines()
        .last()
        .and_then(|l| crate::observe::JournalLine::parse(l.as_bytes()))
        .is_some_and(|l| matches!(l.event, Event::RunEnded { .. }))
}
