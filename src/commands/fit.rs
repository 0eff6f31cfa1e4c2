//! `trainer fit`.

use super::final_artifacts::write_final_artifacts;
use super::run_journal::{RunJournal, Sampling};
use super::{Failure, guarded};
use crate::backend::{Selection, select_devices};
use crate::checkpoint::{self, CheckpointStore, DirStore, Retention, Snapshot, incompatible_keys};
use crate::cli::FitArgs;
use crate::exit::Exit;
use crate::jobs::{BoxedLearner, FitJob};
use crate::observe::{Journal, Progress, append_event};
use crate::run::{
    CONFIG_FILE, RunDir, RunDirError, RunLayout, RunRecord, RunStatus, SUMMARY_FILE, Summary,
};
use crate::task::TaskData;
use crate::tracking::{DrainReport, MlflowSettings, MlflowWorker, SyncState};
use anyhow::{Context, anyhow};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use trainer_core::config::{self, BestMode, Config};
use trainer_core::data::DatasetRecord;
use trainer_core::train::{
    Event, FitOutcome, FitPorts, Observer, Observers, RankGroup, TrainError,
};

/// Raised by Ctrl-C / SIGTERM: the loop saves a checkpoint after the current step and stops.
pub(crate) static STOP: AtomicBool = AtomicBool::new(false);

/// Trains per the config (or continues a checkpointed run with `--resume`); writes
/// `config.toml`, `journal.jsonl`, `checkpoints/` and `summary.json` in the run directory.
/// Started by an MPI launcher, the process is one rank of a data-parallel job: rank 0 writes
/// the run and returns its summary, the other ranks train their shards and return None.
pub fn fit(args: FitArgs) -> Result<Option<Summary>, Failure> {
    let ranks = crate::ranks::join().map_err(Failure::input)?;
    let Some(group) = ranks else {
        return fit_as(args, None);
    };
    if !group.is_leader() {
        super::set_quiet(true); // rank 0 speaks for the job
    }
    let result = fit_as(args, Some(group.clone()));
    match &result {
        Ok(_) => {}
        Err(f) if f.code == Exit::Interrupted => {}
        Err(f) => {
            // Peers may be waiting in a collective step: end the whole job. Rank 0 has cleaned
            // up already; another rank gives rank 0 a moment to report the same failure first.
            eprintln!("error: rank {}: {:#}", group.collective.rank(), f.error);
            if !group.is_leader() {
                std::thread::sleep(Duration::from_secs(2));
            }
            group.collective.abort(i32::from(f.code.code()));
        }
    }
    // Rank 0 may still be writing the run (summary, tracking): the ranks leave together.
    if let Err(e) = group.collective.barrier() {
        tracing::warn!("the ranks' final barrier: {e}");
    }
    result
}

/// What to do when a config's relative data path is missing (the built-in defaults and the
/// bundled configs name the repository's `datasets/`).
const FIT_DATA_ADVICE: &str = "the built-in defaults and configs/*.toml read the bundled data in datasets/ from the trainer repository's root; start there, or set data.dir or data.file";

/// `fit` as a single process (`ranks` None) or as one rank of a job.
fn fit_as(args: FitArgs, ranks: Option<RankGroup>) -> Result<Option<Summary>, Failure> {
    let started = Instant::now();
    let mut overrides = args.config.overrides.clone();
    overrides.extend(args.flag_overrides());
    let cfg = config::load(args.config.config.as_deref(), &overrides).map_err(Failure::input)?;
    let selection = select_devices(cfg.run.backend, cfg.run.device, &cfg.run.devices)
        .map_err(Failure::input)?;
    if let Some(group) = &ranks {
        agree_on_config(group, &cfg)?;
        crate::ranks::watch(group, cfg.run.step_timeout_seconds);
        if !group.is_leader() {
            return follow(&cfg, group, &selection).map(|()| None);
        }
        super::note(format_args!(
            "ranks: {} processes (MPI), rank 0 writes the run",
            group.collective.world_size()
        ));
    }
    // Diagnostics go to stderr, results to stdout.
    super::note(format_args!("backend: {}", selection.reason));
    if let Some(kernels) = super::warmup::cold_cache_note(&selection.choice) {
        super::note(format_args!("{kernels}"));
    }
    if cfg.run.precision != config::Precision::F32 {
        crate::outln!(
            "precision: {} forward/backward, f32 weights and optimizer state{}",
            cfg.run.precision.name(),
            if cfg.run.precision == config::Precision::F16 {
                ", dynamic loss scaling"
            } else {
                ""
            }
        );
    }
    let (run_dir, resume) = resume_target(args.resume.as_deref(), args.run_name.as_deref(), &cfg)?;
    if let Some(group) = &ranks {
        // The other ranks resume from the same checkpoint (or start fresh with rank 0).
        let from = resume.as_ref().map(|(_, p)| p.display().to_string());
        let mut bytes = from.unwrap_or_default().into_bytes();
        group
            .collective
            .broadcast(&mut bytes, 0)
            .map_err(Failure::runtime)?;
    }
    let assets = resume.as_ref().map(|(s, _)| &s.assets);
    let data = TaskData::open(&cfg, assets)
        .map_err(|e| Failure::input(super::relative_data_hint(e, &cfg, FIT_DATA_ADVICE)))?;
    let ports = RunPorts {
        stop: match ranks {
            Some(_) => &crate::ranks::STOP_AGREED,
            None => &STOP,
        },
        observers: Vec::new(),
    };
    let trainee = BuiltIn {
        data: &data,
        selection: &selection,
        ranks,
    };
    let placement = Placement::of(&selection);
    run_fit(
        &cfg,
        &placement,
        (run_dir, resume),
        &trainee,
        ports,
        started,
    )
    .map(Some)
}

/// Every rank must train the same config: rank 0's digest of the resolved config is compared
/// on every rank, and all refuse if any differs (naming the ranks).
fn agree_on_config(group: &RankGroup, cfg: &Config) -> Result<(), Failure> {
    let mine = crate::digest::sha256_hex(cfg.to_toml().as_bytes());
    let mut leader = mine.clone().into_bytes();
    group
        .collective
        .broadcast(&mut leader, 0)
        .map_err(Failure::runtime)?;
    let mut differs = vec![0f32; group.collective.world_size()];
    differs[group.collective.rank()] = f32::from(u8::from(leader != mine.as_bytes()));
    group
        .collective
        .all_reduce_sum(&mut differs)
        .map_err(Failure::runtime)?;
    let ranks: Vec<String> = (0..differs.len())
        .filter(|&r| differs[r] > 0.0)
        .map(|r| r.to_string())
        .collect();
    if ranks.is_empty() {
        return Ok(());
    }
    Err(Failure::input(anyhow!(
        "rank {} resolved another config than rank 0 (config digest {} on rank 0): every rank must run the same config and overrides",
        ranks.join(", "),
        String::from_utf8_lossy(&leader)
            .get(..12)
            .unwrap_or_default()
    )))
}

/// A rank other than 0: trains its shard of every global batch in step with rank 0, from the
/// checkpoint rank 0 resumes (if any), and writes nothing: no run directory, journal,
/// tracking or checkpoints.
fn follow(cfg: &Config, group: &RankGroup, selection: &Selection) -> Result<(), Failure> {
    let mut from = Vec::new();
    group
        .collective
        .broadcast(&mut from, 0)
        .map_err(Failure::runtime)?;
    let snapshot = match from.is_empty() {
        true => None,
        false => {
            let path = PathBuf::from(String::from_utf8_lossy(&from).into_owned());
            let snap = checkpoint::load(&path)
                .map_err(|e| Failure::input(anyhow!("--resume (rank 0's checkpoint): {e}")))?;
            Some(snap)
        }
    };
    let data = TaskData::open(cfg, snapshot.as_ref().map(|s| &s.assets)).map_err(Failure::input)?;
    install_stop_handler();
    let mut observers = Observers(Vec::new());
    let ports = FitPorts {
        observer: &mut observers,
        store: None,
        stop: Some(&crate::ranks::STOP_AGREED),
        tracker_run_id: String::new(),
    };
    let trainee = BuiltIn {
        data: &data,
        selection,
        ranks: Some(group.clone()),
    };
    let outcome = guarded("training", || trainee.train(cfg, snapshot.as_ref(), ports))?
        .map_err(Failure::train)?;
    match outcome {
        FitOutcome::Finished(_) => Ok(()),
        FitOutcome::Interrupted { global_step, .. } => Err(Failure {
            code: Exit::Interrupted,
            error: anyhow!(
                "rank {}: stopped after step {global_step} with the job (rank 0 saved the checkpoint)",
                group.collective.rank()
            ),
        }),
    }
}

/// What a run trains, and on what: the config's built-in task, or a library user's model and
/// data.
pub(crate) trait Trainee {
    /// The model's name: in the summary, `runs ls` and default run names.
    fn model_name(&self, cfg: &Config) -> String;
    /// True when the final weights are exported as `model.safetensors` (the built-in models).
    fn exports_weights(&self) -> bool;
    /// The datasets the run reads, for its lineage (none when the trainer cannot tell).
    fn datasets(&self, _cfg: &Config) -> Vec<DatasetRecord> {
        Vec::new()
    }
    /// The model, optimizer and data on the run's backend, from `resume` when given.
    fn learner<'a>(
        &'a self,
        cfg: &'a Config,
        resume: Option<&'a Snapshot>,
    ) -> Result<BoxedLearner<'a>, TrainError>;
    /// Trains, from `resume` when given, reporting through `ports`.
    fn train<'a>(
        &'a self,
        cfg: &'a Config,
        resume: Option<&'a Snapshot>,
        ports: FitPorts<'a>,
    ) -> Result<FitOutcome, TrainError> {
        let mut learner = self.learner(cfg, resume)?;
        trainer_fit::fit(cfg, learner.as_mut(), resume, ports)
    }
}

/// The config's task on the backend `run.backend` selected (as one rank of a job, with
/// `ranks`).
struct BuiltIn<'s> {
    data: &'s TaskData,
    selection: &'s Selection,
    ranks: Option<RankGroup>,
}

impl Trainee for BuiltIn<'_> {
    fn model_name(&self, cfg: &Config) -> String {
        cfg.model.kind.name().to_string()
    }

    fn exports_weights(&self) -> bool {
        true // every built-in model family has a PyTorch export
    }

    fn datasets(&self, cfg: &Config) -> Vec<DatasetRecord> {
        match self.data.lineage(cfg) {
            Ok(record) => vec![record],
            Err(e) => {
                // The files were just read; a failure here costs the lineage, not the run.
                eprintln!("warning: the run's data lineage is not recorded: {e}");
                Vec::new()
            }
        }
    }

    fn learner<'a>(
        &'a self,
        cfg: &'a Config,
        resume: Option<&'a Snapshot>,
    ) -> Result<BoxedLearner<'a>, TrainError> {
        let job = FitJob {
            cfg,
            data: self.data,
            resume,
            // Checkpoints serialize weights and optimizer state in host memory on every backend.
            memory_budget: crate::host_memory::physical_memory(),
            parallel: &self.selection.parallel,
            ranks: self.ranks.clone(),
            device_label: self.selection.device_label(),
        };
        crate::backend::learner(&self.selection.choice, job)
    }
}

/// Where a run trains, as its summary reports it.
pub(crate) struct Placement {
    /// Backend name (`flex`, `cuda`, ...).
    pub backend: &'static str,
    /// Device description.
    pub device: String,
    /// Why this backend.
    pub reason: String,
}

impl Placement {
    /// What `selection` chose, and why.
    pub fn of(selection: &Selection) -> Self {
        Self {
            backend: selection.choice.name(),
            device: selection.device_label(),
            reason: selection.reason.clone(),
        }
    }
}

/// What a run's caller plugs in besides the journal and the progress bar.
pub(crate) struct RunPorts<'a> {
    /// Raised, it stops the run after the current step with a checkpoint (the CLI's is raised
    /// by Ctrl-C and SIGTERM).
    pub stop: &'a AtomicBool,
    /// More receivers of every training event.
    pub observers: Vec<Box<dyn Observer>>,
}

/// One run of `trainee` from start to end: the run directory (created, or the one resumed) and
/// its lock, config, journal, MLflow, training, `summary.json`, the final artifacts and the
/// run's end.
pub(crate) fn run_fit(
    cfg: &Config,
    placement: &Placement,
    (run_dir, resume): ResumeTarget,
    trainee: &dyn Trainee,
    ports: RunPorts<'_>,
    started: Instant,
) -> Result<Summary, Failure> {
    let fresh = run_dir.is_none();
    let model = trainee.model_name(cfg);
    let run_dir = match run_dir {
        Some(dir) => dir,
        None => RunDir::create(cfg, &model).map_err(run_dir_failure)?,
    };
    // Held until the run returns: one writer per run directory.
    let _lock = run_dir.lock().map_err(run_dir_failure)?;
    let journal_path = RunLayout::of(&run_dir.path).journal();
    if fresh && journal_path.exists() {
        // Another process created the same named run between our check and our lock.
        return Err(Failure::input(RunDirError::Exists(run_dir.path.clone())));
    }
    if let Some((snap, from)) = &resume {
        crate::outln!(
            "resuming from {} (epoch {}, step {})",
            from.display(),
            snap.state.position.epoch + 1,
            snap.state.position.global_step
        );
    }
    let (journal, run_uuid) = open_run_files(cfg, &run_dir)?;
    let mlflow = start_mlflow(cfg, &run_dir.path);

    let run = RunContext {
        cfg,
        placement,
        run_dir: &run_dir,
        model: &model,
        datasets: trainee.datasets(cfg),
        started,
    };
    let result = train_and_summarize(
        &run,
        trainee,
        resume.as_ref().map(|(s, _)| s),
        journal,
        run_uuid,
        ports,
    );
    if fresh
        && result.as_ref().is_err_and(|f| f.code == Exit::BadInput)
        && std::fs::metadata(&journal_path).is_ok_and(|m| m.len() == 0)
    {
        // Bad input found before the first event: leave no directory that blocks the name.
        if let Some(worker) = mlflow {
            worker.finish(Duration::ZERO);
        }
        if let Err(e) = std::fs::remove_dir_all(&run_dir.path) {
            tracing::warn!("cannot remove {}: {e}", run_dir.path.display());
        }
        return result;
    }
    close_run(&run, trainee.exports_weights(), &result, mlflow);
    result
}

/// What every step of one run needs to know about it.
struct RunContext<'a> {
    cfg: &'a Config,
    placement: &'a Placement,
    run_dir: &'a RunDir,
    model: &'a str,
    datasets: Vec<DatasetRecord>,
    started: Instant,
}

/// The run directory and checkpoint `--resume` (`resume`) names (None for a fresh run),
/// checked against `--run-name` (`run_name`).
pub(crate) fn resume_target(
    resume: Option<&str>,
    run_name: Option<&str>,
    cfg: &Config,
) -> Result<ResumeTarget, Failure> {
    let Some(spec) = resume else {
        return Ok((None, None));
    };
    let target = resume_point(spec, cfg)?;
    if let (Some(dir), Some(name)) = (&target.0, run_name)
        && *name != dir.name
    {
        return Err(Failure::input(anyhow!(
            "--run-name {name}: --resume {spec} continues run {:?} ({}); drop --run-name or name that run",
            dir.name,
            dir.path.display()
        )));
    }
    Ok(target)
}

/// The run directory to continue and the checkpoint (with where it was found) to resume from.
pub(crate) type ResumeTarget = (Option<RunDir>, Option<(Snapshot, PathBuf)>);

/// Writes the resolved config and opens the journal and the tracking state (the run's UUID).
fn open_run_files(cfg: &Config, run_dir: &RunDir) -> Result<(Journal, String), Failure> {
    run_dir
        .write(CONFIG_FILE, cfg.to_toml().as_bytes())
        .map_err(Failure::runtime)?;
    let tracking = SyncState::load_or_create(&run_dir.path)
        .with_context(|| format!("cannot set up tracking in {}", run_dir.path.display()))
        .map_err(Failure::runtime)?;
    let journal = Journal::open(&RunLayout::of(&run_dir.path).journal())
        .with_context(|| format!("cannot open the journal in {}", run_dir.path.display()))
        .map_err(Failure::runtime)?;
    Ok((journal, tracking.run_uuid))
}

/// After training: the final artifacts, the `run_ended` event, and the MLflow drain.
fn close_run(
    run: &RunContext<'_>,
    exports_weights: bool,
    result: &Result<Summary, Failure>,
    mlflow: Option<MlflowWorker>,
) {
    let status = match result {
        Ok(_) => RunStatus::Finished,
        Err(f) if f.code == Exit::Interrupted => RunStatus::Killed,
        Err(_) => RunStatus::Failed,
    };
    let run_dir = &run.run_dir.path;
    write_final_artifacts(run_dir, run.model, exports_weights, status);
    let journal_path = RunLayout::of(run_dir).journal();
    if let Err(e) = append_event(&journal_path, &Event::RunEnded { status }) {
        tracing::warn!("journal {}: {e}", journal_path.display());
    }
    if let Some(worker) = mlflow {
        let limit = Duration::from_secs_f64(run.cfg.tracking.drain_seconds);
        report_drain(&worker.finish(limit), run_dir);
    }
}

/// Starts the MLflow sender when a server is configured; a failure here only costs tracking.
pub(super) fn start_mlflow(cfg: &Config, run_dir: &Path) -> Option<MlflowWorker> {
    let Some(settings) = MlflowSettings::resolve(&cfg.tracking, |k| std::env::var(k).ok()) else {
        if !cfg.tracking.register_model.is_empty() {
            eprintln!(
                "warning: tracking.register_model = {:?} needs an MLflow server (tracking.mlflow_uri or MLFLOW_TRACKING_URI); the run is registered when `trainer runs sync {}` reaches one",
                cfg.tracking.register_model,
                run_dir.display()
            );
        }
        return None;
    };
    let (uri, experiment) = (settings.uri.clone(), settings.experiment.clone());
    match MlflowWorker::start(run_dir, settings) {
        Ok(w) => {
            crate::outln!(
                "tracking: MLflow at {uri}, experiment \"{experiment}\" (journal is the spool)"
            );
            Some(w)
        }
        Err(e) => {
            eprintln!("warning: MLflow tracking off: {e}; the journal has every metric");
            None
        }
    }
}

/// Says what reached MLflow and how to send the rest.
pub(super) fn report_drain(r: &DrainReport, run_dir: &Path) {
    if r.pending_lines == 0 && r.ended {
        crate::outln!(
            "tracking: all metrics are in MLflow run {}",
            r.mlflow_run_id
        );
        if !r.run_url.is_empty() {
            crate::outln!("tracking: {}", r.run_url);
        }
    } else {
        let why = r
            .last_error
            .as_deref()
            .unwrap_or("server slow or unreachable");
        crate::outln!(
            "tracking: {} journal line(s) not yet in MLflow ({why}); send them with `trainer runs sync {}`",
            r.pending_lines,
            run_dir.display()
        );
    }
    if r.dropped > 0 {
        crate::outln!(
            "tracking: MLflow rejected {} item(s); see the log",
            r.dropped
        );
    }
    if let Some((name, version)) = &r.registered {
        crate::outln!(
            "registry: model {name} version {version} (run {})",
            r.mlflow_run_id
        );
    }
    if !r.registration_error.is_empty() {
        eprintln!(
            "warning: the model was not registered: {}",
            r.registration_error
        );
    }
}

/// Trains and writes `summary.json`; the journal is flushed when this returns.
fn train_and_summarize(
    run: &RunContext<'_>,
    trainee: &dyn Trainee,
    resume: Option<&Snapshot>,
    journal: Journal,
    run_uuid: String,
    RunPorts {
        stop,
        observers: extra,
    }: RunPorts<'_>,
) -> Result<Summary, Failure> {
    let (cfg, placement, run_dir) = (run.cfg, run.placement, run.run_dir);
    let retention = Retention {
        keep_last: cfg.checkpoint.keep_last,
        keep_best: cfg.checkpoint.keep_best,
        maximize: cfg.checkpoint.best_mode == BestMode::Max,
    };
    let checkpoints = RunLayout::of(&run_dir.path).checkpoints();
    let mut store =
        DirStore::open_for_writing(&checkpoints, retention).map_err(Failure::runtime)?;
    let sampling = Sampling {
        every: cfg.tracking.system_metrics_every,
        run_dir: run_dir.path.clone(),
        gpus: placement.backend == "cuda",
    };
    let journal = RunJournal::new(journal, run.datasets.clone(), sampling);
    let mut observers = Observers(vec![Box::new(journal)]);
    if !super::quiet() {
        observers.0.insert(0, Box::new(Progress::new()));
    }
    observers.0.extend(extra);
    if std::ptr::eq(stop, &STOP) || std::ptr::eq(stop, &crate::ranks::STOP_AGREED) {
        install_stop_handler();
    }

    let ports = FitPorts {
        observer: &mut observers,
        store: Some(&mut store as &mut dyn CheckpointStore),
        stop: Some(stop),
        tracker_run_id: run_uuid,
    };
    let outcome = guarded("training", || trainee.train(cfg, resume, ports));
    drop(observers); // stops the sampler, flushes the journal
    let outcome = outcome?.map_err(Failure::train)?;

    let report = match outcome {
        FitOutcome::Finished(report) => *report,
        FitOutcome::Interrupted {
            global_step,
            checkpoint,
        } => return Err(interrupted(global_step, checkpoint, run_dir)),
    };
    let summary = Summary {
        trainer_version: env!("CARGO_PKG_VERSION"),
        run_name: run_dir.name.clone(),
        model: run.model.to_string(),
        backend: placement.backend,
        device: placement.device.clone(),
        backend_reason: placement.reason.clone(),
        seed: cfg.run.seed,
        datasets: run.datasets.clone(),
        wall_seconds: run.started.elapsed().as_secs_f64(),
        valid_accuracy: report.valid.and_then(|v| v.accuracy),
        valid_loss: report.valid.map(|v| v.loss),
        test_accuracy: report.test.accuracy,
        test_loss: report.test.loss,
        report,
    };
    let json = serde_json::to_vec_pretty(&summary).map_err(Failure::runtime)?;
    run_dir
        .write(SUMMARY_FILE, &json)
        .map_err(Failure::runtime)?;
    print_outcome(cfg, &summary, run_dir);
    Ok(summary)
}

/// The exit-130 failure of a run stopped by Ctrl-C or SIGTERM, saying how to continue it.
fn interrupted(global_step: usize, checkpoint: Option<String>, run_dir: &RunDir) -> Failure {
    let saved = checkpoint.map_or_else(
        || "no checkpoint saved".into(),
        |c| format!("checkpoint {c} saved"),
    );
    Failure {
        code: Exit::Interrupted,
        error: anyhow!(
            "interrupted after step {global_step}; {saved} in {}; continue with the same command plus `--run-name {} --resume auto`",
            run_dir.path.display(),
            run_dir.name
        ),
    }
}

/// Prints how the run ended: an early stop, then the test (or validation) result.
fn print_outcome(cfg: &Config, summary: &Summary, run_dir: &RunDir) {
    if summary.report.stopped_early {
        crate::outln!(
            "stopped early after epoch {} of {}: {} did not improve for {} epochs",
            summary.report.epochs,
            cfg.train.epochs,
            config::toml_name(&cfg.checkpoint.best_metric),
            cfg.train.early_stopping_patience
        );
    }
    let test = &summary.report.test;
    let result = match (&summary.report.valid, test.samples) {
        (_, n) if n > 0 => match (test.accuracy, test.rmse, test.r2) {
            (Some(a), _, _) => format!("test accuracy {:.2}%", a * 100.0),
            (None, Some(rmse), Some(r2)) => format!("test RMSE {rmse:.4}, R² {r2:.4}"),
            _ => format!("test loss {:.4}", test.loss),
        },
        (Some(v), _) => format!("validation loss {:.4}, no test split", v.loss),
        (None, _) => "no validation or test split".to_string(),
    };
    crate::outln!(
        "done in {:.1}s: {result}; run directory {}",
        summary.wall_seconds,
        run_dir.path.display()
    );
}

/// A run-directory error as a failure: bad input (name, place, in use) or a filesystem error.
pub(super) fn run_dir_failure(e: RunDirError) -> Failure {
    if e.is_bad_input() {
        Failure::input(e)
    } else {
        Failure::runtime(e)
    }
}

/// `--resume auto|PATH`: the run directory to continue and the checkpoint to continue from.
/// `auto` resumes the named run's newest valid checkpoint, or starts the run fresh if it has
/// none (a run killed before its first checkpoint); a finished run, or one whose checkpoints
/// are all damaged, is refused.
fn resume_point(spec: &str, cfg: &Config) -> Result<ResumeTarget, Failure> {
    let checkpoint_dir = if spec == "auto" {
        if cfg.run.name.is_empty() {
            return Err(Failure::input(anyhow!(
                "--resume auto needs the run's name: add --run-name NAME (or set run.name)"
            )));
        }
        let run_path = cfg.run.output_dir.join(&cfg.run.name);
        match newest_valid(&RunLayout::of(&run_path).checkpoints())? {
            Some(dir) => dir,
            None => return fresh_start(cfg, run_path),
        }
    } else {
        // Absolute, so `--resume .` or `--resume step-N` inside a run resolve to the run.
        let p = std::fs::canonicalize(spec).map_err(|e| {
            let what = match e.kind() {
                std::io::ErrorKind::NotFound => "no such checkpoint directory".to_string(),
                _ => e.to_string(),
            };
            Failure::input(anyhow!(
                "--resume {spec}: {what}; expected a checkpoint (RUN/checkpoints/step-N), a run directory, or auto"
            ))
        })?;
        let checkpoints = RunLayout::of(&p).checkpoints();
        if checkpoints.is_dir() {
            newest_valid(&checkpoints)?.ok_or_else(|| {
                Failure::input(anyhow!(
                    "--resume {spec}: no checkpoint in {}",
                    checkpoints.display()
                ))
            })?
        } else {
            p
        }
    };
    let snap =
        checkpoint::load(&checkpoint_dir).map_err(|e| Failure::input(anyhow!("--resume: {e}")))?;
    let saved: Config = toml::from_str(&snap.config_toml).map_err(|e| {
        Failure::input(anyhow!(
            "--resume: {}: config.toml: {}",
            checkpoint_dir.display(),
            e.message().trim()
        ))
    })?;
    let diff = incompatible_keys(&saved, cfg);
    if !diff.is_empty() {
        return Err(Failure::input(anyhow!(
            "cannot resume from {}: the config changes keys that define the model, data or optimization: {}",
            checkpoint_dir.display(),
            diff.join("; ")
        )));
    }
    let run_dir = run_of_checkpoint(&checkpoint_dir).ok_or_else(|| {
        Failure::input(anyhow!(
            "--resume {spec}: {} is not inside a run directory (RUN/checkpoints/step-N)",
            checkpoint_dir.display()
        ))
    })?;
    Ok((Some(run_dir), Some((snap, checkpoint_dir))))
}

/// The run a checkpoint directory belongs to: `RUN/checkpoints/step-N` -> RUN, when RUN holds
/// a run.
fn run_of_checkpoint(checkpoint_dir: &Path) -> Option<RunDir> {
    let path = RunLayout::of_checkpoint(checkpoint_dir)?
        .dir()
        .to_path_buf();
    let name = path.file_name()?.to_string_lossy().into_owned();
    RunDir::holds_run(&path).then_some(RunDir { name, path })
}

/// `--resume auto` on a run with no checkpoint: start it fresh, reusing the directory a run
/// killed before its first checkpoint left; a finished run is refused.
fn fresh_start(cfg: &Config, run_path: PathBuf) -> Result<ResumeTarget, Failure> {
    if !run_path.is_dir() {
        crate::outln!(
            "no checkpoint to resume in {}; starting the run",
            run_path.display()
        );
        return Ok((None, None)); // created as a fresh run
    }
    if let Ok(record) = RunRecord::load(&run_path)
        && record.status == RunStatus::Finished
    {
        return Err(Failure::input(anyhow!(
            "--resume auto: run {} already finished and has no checkpoint to continue; pick another --run-name",
            run_path.display()
        )));
    }
    crate::outln!(
        "no checkpoint to resume in {}; starting the run fresh",
        run_path.display()
    );
    Ok((
        Some(RunDir {
            name: cfg.run.name.clone(),
            path: run_path,
        }),
        None,
    ))
}

/// The newest verifying checkpoint under `root`, reporting newer ones that failed; None when
/// there is no checkpoint at all. Checkpoints that all fail to verify are an error: starting
/// over would silently discard the run.
fn newest_valid(root: &Path) -> Result<Option<PathBuf>, Failure> {
    if !root.is_dir() {
        return Ok(None);
    }
    let store = DirStore::open(root);
    match store.latest_valid().map_err(Failure::runtime)? {
        Some((ok, skipped)) => {
            for (name, why) in skipped {
                eprintln!("warning: skipping checkpoint {name}: {why}");
            }
            Ok(Some(ok.path))
        }
        None => {
            let damaged: Vec<String> = store
                .names()
                .map_err(Failure::runtime)?
                .iter()
                .filter_map(|n| checkpoint::verify(&root.join(n)).err())
                .map(|e| e.to_string())
                .collect();
            if damaged.is_empty() {
                return Ok(None);
            }
            Err(Failure::input(anyhow!(
                "no checkpoint in {} verifies, refusing to start over: {}",
                root.display(),
                damaged.join("; ")
            )))
        }
    }
}

/// First Ctrl-C / SIGTERM: stop after the current step with a checkpoint. Second: exit now.
fn install_stop_handler() {
    let result = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(Exit::Interrupted.code()));
        }
        eprintln!("\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)");
    });
    if let Err(e) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
    if std::env::var_os(super::STOP_WITH_PARENT_ENV).is_some() {
        watch_parent();
    }
}

/// A sweep's trial stops as on Ctrl-C (checkpoint, KILLED) once its parent process is gone.
fn watch_parent() {
    let parent = std::os::unix::process::parent_id();
    let watcher = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            while std::os::unix::process::parent_id() == parent {
                std::thread::sleep(Duration::from_millis(200));
            }
            if !STOP.swap(true, Ordering::SeqCst) {
                eprintln!("\nthe sweep that started this run is gone: stopping after this step and saving a checkpoint");
            }
        });
    if let Err(e) = watcher {
        tracing::warn!("cannot watch the parent process: {e}");
    }
}
