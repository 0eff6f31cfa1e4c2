//! The trainer as a library: [`fit`] trains a user's own Burn model with everything a
//! `trainer fit` run gets, and [`load`] rebuilds it from a checkpoint.

use crate::backend::{NamedBackend, Selection, select_devices};
use crate::checkpoint::Snapshot;
use crate::commands::{Failure, Placement, RunPorts, STOP, Trainee, note, resume_target, run_fit};
use crate::exit::Exit;
use crate::jobs::{BackendJob, BoxedLearner, CustomFitJob, InferenceModel, load_custom};
use crate::run::Summary;
use burn::prelude::Backend;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use trainer_core::config::Config;
use trainer_core::data::{BatchSource, Splits};
use trainer_core::model::ModelFactory;
use trainer_core::train::{Observer, TrainError};

/// How a library run starts and stops, beyond its config.
#[derive(Default)]
pub struct FitOptions<'a> {
    /// `auto` continues the run named by `run.name` from its newest checkpoint that verifies
    /// (or starts it when it has none); a path names a checkpoint or run directory. `None`
    /// starts a new run. As `trainer fit --resume`.
    pub resume: Option<String>,
    /// Raised, it stops the run after the current step with a checkpoint (the run then fails
    /// with [`Exit::Interrupted`] and resumes exactly). `None`: Ctrl-C and SIGTERM do it.
    pub stop: Option<&'a AtomicBool>,
    /// More receivers of every training event (beside the journal and the progress bar).
    pub observers: Vec<Box<dyn Observer>>,
}

/// Why a library run or load did not succeed: the one-line message `trainer` would print, and
/// the exit code it would end with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RunError {
    /// Bad input (2), a failure while running (1), or interrupted (130).
    pub exit: Exit,
    /// What went wrong, on one line.
    pub message: String,
}

impl From<Failure> for RunError {
    fn from(f: Failure) -> Self {
        Self {
            exit: f.code,
            message: format!("{:#}", f.error),
        }
    }
}

/// Trains the model `factory` builds on `data`, per `config`, on the backend `run.backend`
/// picks at run time (`auto` probes CUDA, then wgpu, then the CPU). The run gets what a
/// `trainer fit` run gets: its directory under `run.output_dir` (`config.toml`, the journal,
/// checkpoints, `summary.json`, `loss.png`), MLflow tracking when `[tracking]` names a server,
/// the progress bar, the NaN and divergence guards, and exact resume. `config` comes from
/// [`trainer_core::config::load`] (validated); its `[model]` and `[data]` tables are not read.
///
/// Your model's training steps are compiled into your program once per backend this build of
/// `trainer` has (its cargo features); [`fit_on`] compiles them for one backend you name.
///
/// A model whose `score` panics ends the run FAILED with the panic's message, as a built-in
/// model's failure does.
pub fn fit<U, S>(
    config: &Config,
    factory: &U,
    data: &Splits<S>,
    options: FitOptions<'_>,
) -> Result<Summary, RunError>
where
    U: ModelFactory,
    S: BatchSource<Batch = U::Batch> + ?Sized + 'static,
{
    let started = Instant::now();
    let selection = select_devices(config.run.backend, config.run.device, &config.run.devices)
        .map_err(Failure::input)?;
    note(format_args!("backend: {}", selection.reason));
    let trainee = Custom {
        factory,
        data,
        placer: Selected(&selection),
    };
    run(
        config,
        &Placement::of(&selection),
        &trainee,
        options,
        started,
    )
}

/// [`fit`] on the backend `B` and `device` the program names (`run.backend` and
/// `run.devices` are not read), e.g. `fit_on::<Autodiff<Flex>, _, _>(.., Default::default())`:
/// only that backend's training steps are compiled into the program.
pub fn fit_on<B, U, S>(
    config: &Config,
    factory: &U,
    data: &Splits<S>,
    options: FitOptions<'_>,
    device: B::Device,
) -> Result<Summary, RunError>
where
    B: NamedBackend,
    U: ModelFactory,
    S: BatchSource<Batch = U::Batch> + ?Sized + 'static,
{
    let started = Instant::now();
    let placement = Placement {
        backend: B::NAME,
        device: B::device_label(&device),
        reason: format!("{} chosen by the program (trainer::fit_on)", B::NAME),
    };
    note(format_args!("backend: {}", placement.reason));
    let trainee = Custom {
        factory,
        data,
        placer: Named::<B>(device),
    };
    run(config, &placement, &trainee, options, started)
}

/// The run itself, once the backend is settled.
fn run(
    config: &Config,
    placement: &Placement,
    trainee: &dyn Trainee,
    options: FitOptions<'_>,
    started: Instant,
) -> Result<Summary, RunError> {
    let target = resume_target(options.resume.as_deref(), None, config)?;
    let ports = RunPorts {
        stop: options.stop.unwrap_or(&STOP),
        observers: options.observers,
    };
    Ok(run_fit(config, placement, target, trainee, ports, started)?)
}

/// Rebuilds the model `factory` makes, for inference on `device`, with the weights saved at
/// `path`: a checkpoint (`RUN/checkpoints/step-N`) or a run directory (its newest checkpoint
/// that verifies). The checkpoint's checksums are verified and it must hold a model of the
/// factory's name.
pub fn load<B: Backend, U: ModelFactory>(
    factory: &U,
    path: impl AsRef<Path>,
    device: &B::Device,
) -> Result<InferenceModel<U, B>, RunError> {
    load_custom::<B, U>(factory, path.as_ref(), device).map_err(|e| Failure::job(e).into())
}

/// Where a library run's job runs: the backend `run.backend` selected, or one the program named.
trait Placer {
    /// Device indices each batch is split over (empty: one device).
    fn parallel(&self) -> &[usize];
    /// How runs name the device.
    fn device_label(&self) -> String;
    /// Runs `job` there.
    fn run<J: BackendJob>(&self, job: J) -> J::Output;
}

/// The backend `run.backend` selected (dispatch over every compiled backend).
struct Selected<'a>(&'a Selection);

impl Placer for Selected<'_> {
    fn parallel(&self) -> &[usize] {
        &self.0.parallel
    }

    fn device_label(&self) -> String {
        self.0.device_label()
    }

    fn run<J: BackendJob>(&self, job: J) -> J::Output {
        crate::backend::run_job(&self.0.choice, job)
    }
}

/// The backend and device the program named.
struct Named<B: NamedBackend>(B::Device);

impl<B: NamedBackend> Placer for Named<B> {
    fn parallel(&self) -> &[usize] {
        &[]
    }

    fn device_label(&self) -> String {
        B::device_label(&self.0)
    }

    fn run<J: BackendJob>(&self, job: J) -> J::Output {
        job.run::<B>(B::NAME, self.0.clone())
    }
}

/// A library user's model and data, and where they train.
struct Custom<'a, U, S: ?Sized, P> {
    factory: &'a U,
    data: &'a Splits<S>,
    placer: P,
}

impl<U, S, P> Trainee for Custom<'_, U, S, P>
where
    U: ModelFactory,
    S: BatchSource<Batch = U::Batch> + ?Sized + 'static,
    P: Placer,
{
    fn model_name(&self, _: &Config) -> String {
        self.factory.name()
    }

    fn exports_weights(&self) -> bool {
        false
    }

    fn learner<'a>(
        &'a self,
        cfg: &'a Config,
        resume: Option<&'a Snapshot>,
    ) -> Result<BoxedLearner<'a>, TrainError> {
        let job = CustomFitJob {
            cfg,
            factory: self.factory,
            data: self.data,
            resume,
            memory_budget: crate::host_memory::physical_memory(),
            parallel: self.placer.parallel(),
            device_label: self.placer.device_label(),
        };
        self.placer.run(job)
    }
}
