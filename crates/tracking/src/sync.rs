//! Replays a run's journal into MLflow, in order, exactly once: everything after the
//! acknowledged offset (kept in `tracking.json`) is pending, whether the process lives or not.

use super::client::{MlflowClient, MlflowError};
use super::convert::{MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, params_of, point_json};
use super::model_dir::{MODEL_ARTIFACT_DIR, model_files};
use super::settings::MlflowSettings;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use trainer_core::data::DatasetRecord;
use trainer_core::fsutil::write_atomic;
use trainer_core::observe::JournalLine;
use trainer_core::observe::{Point, metrics_of, sanitize_key};
use trainer_core::run::RunLayout;
use trainer_core::train::{Event, RunStatus};

/// Journal bytes read per pass (bounded memory however large the backlog).
const READ_CHUNK: u64 = 4 << 20;

/// What has reached MLflow so far (`tracking.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncState {
    /// The trainer's own id for this run (tagged `trainer.run_uuid`; recorded in checkpoints).
    pub run_uuid: String,
    /// MLflow experiment id (empty until known).
    pub experiment_id: String,
    /// MLflow run id (empty until created).
    pub mlflow_run_id: String,
    /// Where the run's artifacts go.
    pub artifact_uri: String,
    /// Journal bytes acknowledged by MLflow.
    pub acked_offset: u64,
    /// Global step of the last acknowledged step line.
    pub last_step: i64,
    /// Config params logged.
    pub params_logged: bool,
    /// Items MLflow rejected (4xx) and that were dropped.
    pub dropped: u64,
    /// The run's end (status) has been sent.
    pub ended: bool,
    /// The registered model this run's model (or a sweep's best trial's) became a version of.
    pub registered_model: String,
    /// That version (0 until registered).
    pub registered_version: u64,
    /// Why registration failed for good (a name MLflow refuses, no checkpoint); empty if not.
    pub registration_error: String,
}

impl SyncState {
    /// Reads `tracking.json` in `run_dir`, or creates it with a fresh run UUID.
    pub fn load_or_create(run_dir: &Path) -> std::io::Result<Self> {
        if let Some(state) = Self::load(run_dir)? {
            return Ok(state);
        }
        let state = Self {
            run_uuid: format!("{:032x}", rand::random::<u128>()),
            ..Self::default()
        };
        state.save(run_dir)?;
        Ok(state)
    }

    /// Reads `tracking.json` in `run_dir`; None if there is none.
    pub fn load(run_dir: &Path) -> std::io::Result<Option<Self>> {
        let path = RunLayout::of(run_dir).tracking();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn save(&self, run_dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&RunLayout::of(run_dir).tracking(), &bytes)
    }
}

/// Sends one run directory's journal to MLflow.
pub struct Syncer {
    dir: PathBuf,
    settings: MlflowSettings,
    client: MlflowClient,
    /// Public for reporting.
    pub state: SyncState,
    /// The run's `config.toml` as text (read once: a run's config does not change while it is
    /// synced), and parsed.
    config_text: String,
    config: toml::Table,
    /// The next batch may already be in MLflow (after a crash or an ambiguous failure).
    verify_next: bool,
    warned_reject: bool,
}

impl Syncer {
    /// Opens the run directory's sync state.
    pub fn open(run_dir: &Path, settings: MlflowSettings) -> Result<Self, MlflowError> {
        let client = MlflowClient::new(&settings)?;
        let state =
            SyncState::load_or_create(run_dir).map_err(|e| MlflowError::Local(e.to_string()))?;
        let config_text =
            std::fs::read_to_string(RunLayout::of(run_dir).config()).unwrap_or_default();
        Ok(Self {
            dir: run_dir.to_path_buf(),
            settings,
            client,
            state,
            config: config_text.parse().unwrap_or_default(),
            config_text,
            verify_next: true,
            warned_reject: false,
        })
    }

    /// The run directory this syncer replays.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn layout(&self) -> RunLayout<'_> {
        RunLayout::of(&self.dir)
    }

    /// The MLflow client (for queries).
    pub fn client(&self) -> &MlflowClient {
        &self.client
    }

    /// Complete journal lines not yet acknowledged.
    pub fn pending_lines(&self) -> u64 {
        pending_lines(&self.dir, self.state.acked_offset)
    }

    /// The journal's first line (`run_started`), read without loading the rest.
    fn first_event(&self) -> Option<JournalLine> {
        let f = std::fs::File::open(self.layout().journal()).ok()?;
        let line = BufReader::new(f).lines().next()?.ok()?;
        JournalLine::parse(line.as_bytes())
    }

    fn persist(&self) -> Result<(), MlflowError> {
        self.state
            .save(&self.dir)
            .map_err(|e| MlflowError::Local(format!("{}: {e}", self.dir.display())))
    }

    /// One pass: makes sure the MLflow run exists, then sends every complete journal line
    /// written before the pass began. Lines written meanwhile wait for the next pass, so a busy
    /// run's lines go out in a few large batches, not one request per step as they arrive.
    /// Ok(true) when everything written before the pass is acknowledged.
    pub fn pass(&mut self) -> Result<bool, MlflowError> {
        if self.first_event().is_none() {
            // Nothing written yet: creating the run now would miss the backend/device tags.
            return Ok(false);
        }
        let written = self.journal_len()?;
        self.ensure_run()?;
        loop {
            if self.state.acked_offset >= written {
                return Ok(true);
            }
            let (lines, end) = self.read_pending()?;
            if lines.is_empty() {
                return Ok(true);
            }
            let mut batch: Vec<Point> = Vec::new();
            let mut batch_end = self.state.acked_offset;
            let mut step = self.state.last_step;
            for (line_end, line) in lines {
                // A line this version cannot read carries nothing to send.
                let Some(line) = JournalLine::parse(line.as_bytes()) else {
                    batch_end = line_end;
                    continue;
                };
                if let Event::SweepBest {
                    name,
                    params,
                    objective,
                } = &line.event
                {
                    self.flush(&mut batch, batch_end, step)?;
                    self.log_best_params(name, params)?;
                    self.describe_best(name, *objective, params)?;
                    if let Some(model) = self.model_to_register() {
                        let trial = self.dir.join(name);
                        self.register_best_trial(&trial, &model)?;
                    }
                }
                if let Event::DataUsed { dataset } = &line.event {
                    self.flush(&mut batch, batch_end, step)?;
                    self.log_dataset(dataset)?;
                }
                if let Event::RunStarted { .. }
                | Event::SweepStarted { .. }
                | Event::RunEnded { .. } = line.event
                {
                    self.flush(&mut batch, batch_end, step)?;
                    self.lifecycle(&line)?;
                    self.ack(line_end, step)?;
                    batch_end = line_end;
                    continue;
                }
                let points = metrics_of(&line, &mut step);
                if batch.len() + points.len() > MAX_METRICS_PER_BATCH {
                    self.flush(&mut batch, batch_end, step)?;
                }
                batch.extend(points);
                batch_end = line_end;
            }
            self.flush(&mut batch, batch_end, step)?;
            self.ack(end, step)?;
        }
    }

    fn ack(&mut self, offset: u64, step: i64) -> Result<(), MlflowError> {
        if offset > self.state.acked_offset {
            self.state.acked_offset = offset;
            self.state.last_step = step;
            self.persist()?;
        }
        Ok(())
    }

    /// The journal's size in bytes now.
    fn journal_len(&self) -> Result<u64, MlflowError> {
        let path = self.layout().journal();
        std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| MlflowError::Local(format!("{}: {e}", path.display())))
    }

    /// Complete lines after the acknowledged offset, each with the offset just past it.
    fn read_pending(&self) -> Result<(Vec<(u64, String)>, u64), MlflowError> {
        let path = self.layout().journal();
        let io = |e: std::io::Error| MlflowError::Local(format!("{}: {e}", path.display()));
        let mut f = std::fs::File::open(&path).map_err(io)?;
        f.seek(SeekFrom::Start(self.state.acked_offset))
            .map_err(io)?;
        let mut buf = Vec::new();
        f.take(READ_CHUNK).read_to_end(&mut buf).map_err(io)?;
        let mut out = Vec::new();
        let mut start = 0;
        for (i, b) in buf.iter().enumerate() {
            if *b == b'\n' {
                let line = String::from_utf8_lossy(&buf[start..i]).into_owned();
                out.push((self.state.acked_offset + i as u64 + 1, line));
                start = i + 1;
            }
        }
        Ok((out, self.state.acked_offset + start as u64))
    }

    /// Sends `batch` (everything up to journal offset `end`), skipping it if a previous attempt
    /// already landed (log-batch is transactional: one point present means all are).
    fn flush(&mut self, batch: &mut Vec<Point>, end: u64, step: i64) -> Result<(), MlflowError> {
        if batch.is_empty() {
            return Ok(());
        }
        let run_id = self.state.mlflow_run_id.clone();
        let landed = if self.verify_next {
            let p = &batch[0];
            let history = self.client.metric_at_step(&run_id, &p.key, p.step)?;
            history
                .iter()
                .any(|(s, t, _)| *s == p.step && *t == p.timestamp)
        } else {
            false
        };
        if !landed {
            let metrics = batch.iter().map(point_json).collect();
            let sent = self.client.log_batch(&run_id, metrics, &[], &[]);
            if let Err(e) = self.refused_is_dropped(batch.len(), sent) {
                self.verify_next = true;
                return Err(e);
            }
        }
        self.verify_next = false;
        batch.clear();
        self.ack(end, step)
    }

    /// A sweep's best trial as params `best.trial` and `best.<key>` (params are write-once in
    /// MLflow: the sweep writes this event once).
    fn log_best_params(
        &mut self,
        name: &str,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), MlflowError> {
        let mut all = vec![("best.trial".to_string(), name.to_string())];
        all.extend(params.iter().map(|(k, v)| (format!("best.{k}"), v.clone())));
        let all: Vec<(String, String)> = all
            .into_iter()
            .map(|(k, v)| (sanitize_key(&k), v))
            .collect();
        self.log_params(&all)
    }

    /// Logs params in batches MLflow accepts; a rejected batch is dropped with a count.
    fn log_params(&mut self, params: &[(String, String)]) -> Result<(), MlflowError> {
        let run_id = self.state.mlflow_run_id.clone();
        for chunk in params.chunks(MAX_PARAMS_PER_BATCH) {
            let sent = self.client.log_batch(&run_id, Vec::new(), chunk, &[]);
            self.refused_is_dropped(chunk.len(), sent)?;
        }
        Ok(())
    }

    /// What was sent, as the pass goes on: a refusal (retrying cannot help) drops its `items`
    /// with a count and the pass continues; any other error stops it.
    fn refused_is_dropped(
        &mut self,
        items: usize,
        sent: Result<(), MlflowError>,
    ) -> Result<(), MlflowError> {
        match sent {
            Err(e) if e.is_final_answer() => {
                self.reject(items, &e.to_string());
                Ok(())
            }
            other => other,
        }
    }

    fn reject(&mut self, items: usize, why: &str) {
        if !self.warned_reject {
            tracing::warn!("MLflow rejected {items} item(s), dropped: {why}");
            self.warned_reject = true;
        }
        self.state.dropped += items as u64;
    }

    fn lifecycle(&mut self, line: &JournalLine) -> Result<(), MlflowError> {
        let run_id = self.state.mlflow_run_id.clone();
        let Event::RunEnded { status } = line.event else {
            self.state.ended = false;
            return self.client.update_run(&run_id, "RUNNING", None);
        };
        let ts = Some(line.ts_ms);
        for name in trainer_core::run::ARTIFACT_FILES {
            let Ok(bytes) = std::fs::read(self.dir.join(name)) else {
                continue;
            };
            let sent = self
                .client
                .upload_artifact(&self.state.artifact_uri, name, bytes);
            self.refused_is_dropped(1, sent)?;
        }
        // A sweep registers its best trial (at `sweep_best`), never itself.
        let sweep = matches!(
            self.first_event().map(|l| l.event),
            Some(Event::SweepStarted { .. })
        );
        if status == RunStatus::Finished
            && !sweep
            && let Some(model) = self.model_to_register()
        {
            let (run_id, uri) = (run_id.clone(), self.state.artifact_uri.clone());
            let dir = self.dir.clone();
            self.register(&dir, &run_id, &uri, &model)?;
        }
        self.client.update_run(&run_id, status.mlflow_name(), ts)?;
        self.state.ended = true;
        Ok(())
    }

    /// The sweep's description, completed with its best trial once the sweep has one.
    fn describe_best(
        &mut self,
        name: &str,
        objective: f64,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), MlflowError> {
        let Some(Event::SweepStarted {
            trials,
            objective: metric,
        }) = self.first_event().map(|l| l.event)
        else {
            return Ok(());
        };
        let mut note = sweep_note(trials, &metric);
        note.push_str(&format!(
            "\n\nbest trial: **{name}**, {metric} = {objective:.4}"
        ));
        for (k, v) in params {
            note.push_str(&format!("\n- `{k}` = {v}"));
        }
        let run_id = self.state.mlflow_run_id.clone();
        let tags = [("mlflow.note.content".to_string(), note)];
        let sent = self.client.log_batch(&run_id, Vec::new(), &[], &tags);
        self.refused_is_dropped(1, sent)
    }

    /// `tracking.register_model` of this run (or sweep), unless already registered or refused.
    fn model_to_register(&self) -> Option<String> {
        let name = self.config_str("tracking", "register_model")?;
        let done = self.state.registered_version > 0 || !self.state.registration_error.is_empty();
        (!name.trim().is_empty() && !done).then(|| name.to_string())
    }

    /// Registers the sweep's best trial: its own MLflow run holds the model files.
    fn register_best_trial(&mut self, trial: &Path, model: &str) -> Result<(), MlflowError> {
        let state = SyncState::load(trial)
            .map_err(|e| MlflowError::Local(e.to_string()))?
            .filter(|s| !s.mlflow_run_id.is_empty() && s.ended)
            .ok_or_else(|| {
                MlflowError::Transient(format!(
                    "the best trial {} is not in MLflow yet (`trainer runs sync {}` sends it)",
                    trial.display(),
                    trial.display()
                ))
            })?;
        self.register(trial, &state.mlflow_run_id, &state.artifact_uri, model)
    }

    /// Logs `model_run`'s model under `model/` in MLflow run `run_id` and registers it as a new
    /// version of `model`, once: a version that run already registered is found, not repeated.
    /// A refusal (a name MLflow rejects, a run without checkpoints) is recorded and reported,
    /// never retried, and never fails the run.
    fn register(
        &mut self,
        model_run: &Path,
        run_id: &str,
        artifact_uri: &str,
        model: &str,
    ) -> Result<(), MlflowError> {
        let outcome = self.try_register(model_run, run_id, artifact_uri, model);
        match outcome {
            Ok(version) => {
                self.state.registered_version = version;
                tracing::info!("registered model {model} version {version}");
            }
            Err(e) if e.is_final_answer() => {
                tracing::warn!("model {model} not registered: {e}");
                self.state.registration_error = e.to_string();
            }
            Err(e) => return Err(e),
        }
        self.state.registered_model = model.to_string();
        self.persist()
    }

    fn try_register(
        &self,
        model_run: &Path,
        run_id: &str,
        artifact_uri: &str,
        model: &str,
    ) -> Result<u64, MlflowError> {
        // A version this run already made (a create whose reply was lost, a replay after a
        // crash) is found here, not made again.
        if let Some(v) = self.client.model_version_of_run(model, run_id)? {
            return Ok(v.version);
        }
        let files = model_files(model_run, run_id, trainer_core::observe::now_ms() as i64)
            .map_err(MlflowError::Rejected)?;
        for (name, bytes) in files {
            let name = format!("{MODEL_ARTIFACT_DIR}/{name}");
            self.client.upload_artifact(artifact_uri, &name, bytes)?;
        }
        let run_name = model_run
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let description = format!("trained by trainer run {run_name}");
        self.client.ensure_registered_model(model, "")?;
        let source = format!(
            "{}/{MODEL_ARTIFACT_DIR}",
            artifact_uri.trim_end_matches('/')
        );
        let version = self
            .client
            .create_model_version(model, &source, run_id, &description)?;
        Ok(version.version)
    }

    /// The run's dataset as MLflow dataset inputs, one per split (context `training`,
    /// `validation`, `test`); MLflow keeps one input per dataset and run, so a replay adds none.
    fn log_dataset(&mut self, dataset: &DatasetRecord) -> Result<(), MlflowError> {
        let run_id = self.state.mlflow_run_id.clone();
        let sent = self.client.log_inputs(&run_id, dataset_inputs(dataset));
        self.refused_is_dropped(1, sent)
    }

    /// Gets or creates the experiment and the run (looked up by UUID before any create, so a
    /// retried create never makes a second run), then logs params and tags once.
    fn ensure_run(&mut self) -> Result<(), MlflowError> {
        if self.state.mlflow_run_id.is_empty() {
            let exp = self.client.experiment_id(&self.settings.experiment)?;
            let found = self.client.find_run(&exp, &self.state.run_uuid)?;
            let (run_id, artifact_uri) = match found {
                Some(r) => r,
                None => {
                    let mut tags = self.tags();
                    if let Some(parent) = self.parent_uuid() {
                        let (parent_id, _) = self.client.find_run(&exp, &parent)?.ok_or_else(|| {
                            MlflowError::Transient(format!(
                                "the sweep run {parent} is not in MLflow yet (`trainer sweep` sends it, or `trainer runs sync` on the sweep directory)"
                            ))
                        })?;
                        tags.push(("mlflow.parentRunId".into(), parent_id));
                    }
                    let start = self.start_ms();
                    let name = self
                        .dir
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    self.client.create_run(&exp, &name, start, &tags)?
                }
            };
            self.state.experiment_id = exp;
            self.state.mlflow_run_id = run_id;
            self.state.artifact_uri = artifact_uri;
            self.persist()?;
        }
        if !self.state.params_logged {
            let params = params_of(&self.config_text);
            self.log_params(&params)?;
            self.state.params_logged = true;
            self.persist()?;
        }
        Ok(())
    }

    /// The sweep run this run is a trial of (`tracking.parent_run_uuid` in its config).
    fn parent_uuid(&self) -> Option<String> {
        self.config_str("tracking", "parent_run_uuid")
            .filter(|uuid| !uuid.is_empty())
            .map(str::to_string)
    }

    /// The string at `[table] key` of the run's config.
    fn config_str(&self, table: &str, key: &str) -> Option<&str> {
        self.config.get(table)?.get(key)?.as_str()
    }

    fn start_ms(&self) -> i64 {
        self.first_event()
            .map(|first| first.ts_ms)
            .filter(|&ts| ts > 0)
            .unwrap_or_else(|| trainer_core::observe::now_ms() as i64)
    }

    /// Reproducibility tags: run UUID, trainer version, backend, device, seed, config hash, git.
    fn tags(&self) -> Vec<(String, String)> {
        let mut tags = vec![
            ("trainer.run_uuid".into(), self.state.run_uuid.clone()),
            ("trainer.version".into(), env!("CARGO_PKG_VERSION").into()),
            (
                "trainer.config_sha256".into(),
                trainer_core::digest::sha256_hex(self.config_text.as_bytes()),
            ),
        ];
        let table = &self.config;
        if let Some(seed) = table.get("run").and_then(|r| r.get("seed")) {
            tags.push(("trainer.seed".into(), seed.to_string()));
        }
        let started = self.first_event().map(|first| first.event);
        if let Some(Event::RunStarted {
            model,
            backend,
            device,
            ..
        }) = &started
        {
            if !model.is_empty() {
                tags.push(("trainer.model".into(), model.clone()));
            }
            tags.push(("trainer.backend".into(), backend.clone()));
            tags.push(("trainer.device".into(), device.clone()));
        }
        // What MLflow's runs table shows as Source and User, and the run's description.
        let program = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "trainer".into());
        tags.push(("mlflow.source.name".into(), program));
        tags.push(("mlflow.source.type".into(), "LOCAL".into()));
        if let Some(user) = ["USER", "LOGNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|u| !u.is_empty()))
        {
            tags.push(("mlflow.user".into(), user));
        }
        let note = match &started {
            Some(Event::SweepStarted { trials, objective }) => Some(sweep_note(*trials, objective)),
            Some(e) => run_note(e, table),
            None => None,
        };
        if let Some(note) = note {
            tags.push(("mlflow.note.content".into(), note));
        }
        if let Some(commit) = git_commit() {
            tags.push(("mlflow.source.git.commit".into(), commit));
        }
        tags
    }
}

/// A sweep's description in MLflow (Markdown): its trials and objective (the best trial is
/// added when the sweep ends).
fn sweep_note(trials: usize, objective: &str) -> String {
    format!("**sweep** of {trials} trials, each a child run; objective `{objective}`")
}

/// The run's description in MLflow (Markdown): model and size, backend and device, precision
/// and seed, the data (for the built-in models, which read `[data]`) and the training plan.
fn run_note(started: &Event, config: &toml::Table) -> Option<String> {
    let Event::RunStarted {
        model,
        backend,
        device,
        parameters,
        train_samples,
        epochs,
        ..
    } = started
    else {
        return None;
    };
    let get = |table: &str, key: &str| -> Option<String> {
        let v = config.get(table)?.get(key)?;
        Some(v.as_str().map_or_else(|| v.to_string(), str::to_string))
    };
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut note = format!(
        "**{model}** ({parameters} parameters) on **{backend}** ({device}), precision {}, seed {}",
        or_dash(get("run", "precision")),
        or_dash(get("run", "seed")),
    );
    let built_in = get("model", "kind").is_some_and(|kind| kind == *model);
    if built_in {
        let source = get("data", "file")
            .filter(|f| !f.is_empty())
            .or_else(|| get("data", "dir"));
        note.push_str(&format!(
            "\n\ndata: {} `{}`, {train_samples} training samples",
            or_dash(get("data", "format")),
            or_dash(source),
        ));
    } else {
        note.push_str(&format!("\n\n{train_samples} training samples"));
    }
    note.push_str(&format!(
        "; {epochs} epochs of batch {}, {} at lr {}",
        or_dash(get("train", "batch_size")),
        or_dash(get("train", "optimizer")),
        or_dash(get("train", "lr")),
    ));
    Some(note)
}

/// MLflow `DatasetInput`s for the splits of `d` that have samples.
fn dataset_inputs(d: &DatasetRecord) -> Vec<serde_json::Value> {
    let splits = [
        ("train", "training", d.splits.train),
        ("valid", "validation", d.splits.valid),
        ("test", "test", d.splits.test),
    ];
    splits
        .into_iter()
        .filter(|(_, _, rows)| *rows > 0)
        .map(|(split, context, rows)| {
            let digest = d.split_digest(split);
            let profile = serde_json::json!({
                "num_rows": rows,
                "num_classes": d.classes,
                "split": split,
                "seed": d.seed,
                "files": d.files,
                "bytes": d.bytes,
                "sha256": d.digest,
            });
            serde_json::json!({
                "tags": [{"key": "mlflow.data.context", "value": context}],
                "dataset": {
                    "name": d.name,
                    // MLflow keeps at most 36 characters of a digest.
                    "digest": &digest[..32],
                    "source_type": "local",
                    "source": serde_json::json!({"uri": d.source}).to_string(),
                    "profile": profile.to_string(),
                },
            })
        })
        .collect()
}

/// Complete journal lines in `run_dir` after byte `offset`, counted in a streaming pass.
pub fn pending_lines(run_dir: &Path, offset: u64) -> u64 {
    let Ok(mut f) = std::fs::File::open(RunLayout::of(run_dir).journal()) else {
        return 0;
    };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return 0;
    }
    let mut reader = BufReader::new(f);
    let mut lines = 0;
    while let Ok(buf) = reader.fill_buf() {
        if buf.is_empty() {
            break;
        }
        lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        let n = buf.len();
        reader.consume(n);
    }
    lines
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}
