//! Command-line interface (clap derive).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use trainer_core::config::{BackendRequest, DeviceList, Override, Precision};

/// One binary, one config file, any machine: train Burn models on CUDA, wgpu or CPU.
#[derive(Debug, Parser)]
#[command(name = "trainer", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Errors and results only: no progress, no `backend:` line, no warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More log lines on stderr: -v info, -vv debug (`TRAINER_LOG` overrides both).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from a config file (built-in defaults: the MNIST MLP quick start).
    Fit(FitArgs),
    /// List the backends compiled into this binary and whether each is usable here.
    Backends {
        /// One JSON object a backend (name, usable, devices or reason) instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (`trainer completions bash > ~/.local/share/bash-completion/completions/trainer`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Measure training throughput per backend.
    Bench(BenchArgs),
    /// Inspect, verify and export checkpoints.
    #[command(subcommand)]
    Checkpoints(CheckpointsCommand),
    /// Score samples with a checkpoint's model: IDX images or image files for image models, CSV
    /// or Parquet rows for table models; JSON lines, or CSV for `.csv`, out (text models
    /// generate with `sample`).
    Predict(PredictArgs),
    /// Generate text with a GPT checkpoint, through its characters or its tokenizer (the text
    /// goes to stdout).
    Sample(SampleArgs),
    /// Evaluate a checkpoint on its run's test (or validation) split, or on other data.
    Eval(EvalArgs),
    /// Runs and their tracking.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// MLflow's Model Registry: registered models, versions and aliases; pull a version to
    /// evaluate or serve it.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Datasets: what a file or directory holds.
    #[command(subcommand)]
    Data(DataCommand),
    /// Search hyperparameters: trials of a config with values from a space file, each a run.
    Sweep(SweepArgs),
    /// Compile and tune the config's training kernels once, into the kernel cache, and report
    /// the first-step time (later runs on this machine start fast).
    Warmup(WarmupArgs),
    /// Run a trainer command as N processes on this host with `mpirun` (data parallel over MPI;
    /// needs a build with `--features mpi`): `trainer launch --nprocs 2 -- fit --config X`.
    Launch(LaunchArgs),
}

/// `trainer launch`.
#[derive(Debug, clap::Args)]
pub struct LaunchArgs {
    /// Processes (ranks) to start.
    #[arg(long)]
    pub nprocs: usize,
    /// The MPI launcher to run.
    #[arg(long, default_value = "mpirun")]
    pub mpirun: String,
    /// The trainer command every rank runs (after `--`).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `trainer warmup`.
#[derive(Debug, clap::Args)]
pub struct WarmupArgs {
    #[command(flatten)]
    /// Config file and overrides (the model, batch size and precision to warm up).
    pub config: ConfigArgs,
    #[command(flatten)]
    /// Backend and device.
    pub placement: PlacementArgs,
    /// Float type of the forward/backward (overrides `run.precision`).
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// Training steps to run (the first compiles; the rest show the warm step time).
    #[arg(allow_negative_numbers = true, long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(2..))]
    pub steps: u64,
}

impl WarmupArgs {
    /// The dedicated flags as config overrides, applied after `--set`.
    pub fn flag_overrides(&self) -> Vec<Override> {
        let mut v = self.placement.overrides();
        v.extend(self.precision.map(precision_override));
        v
    }
}

/// `--backend` and `--device` of `fit` and `warmup`.
#[derive(Debug, clap::Args)]
pub struct PlacementArgs {
    /// Backend (overrides `run.backend`).
    #[arg(long, value_enum)]
    pub backend: Option<BackendRequest>,
    /// GPU index for cuda/wgpu (overrides `run.device`).
    #[arg(allow_negative_numbers = true, long)]
    pub device: Option<usize>,
}

impl PlacementArgs {
    /// The flags as config overrides.
    pub fn overrides(&self) -> Vec<Override> {
        let mut v = Vec::new();
        if let Some(b) = self.backend {
            let name = clap::ValueEnum::to_possible_value(&b)
                .map(|p| p.get_name().to_string())
                .unwrap_or_default();
            v.push(Override::flag(
                "--backend",
                "run.backend",
                toml::Value::String(name),
            ));
        }
        if let Some(d) = self.device {
            v.push(Override::flag(
                "--device",
                "run.device",
                toml::Value::Integer(d as i64),
            ));
        }
        v
    }
}

/// `--precision` as a config override.
fn precision_override(p: Precision) -> Override {
    Override::flag(
        "--precision",
        "run.precision",
        toml::Value::String(p.name().into()),
    )
}

/// `trainer sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    /// The base config every trial starts from, and overrides.
    pub config: ConfigArgs,
    /// The search space (TOML): objective, mode, trials, seed, `[space]`, `[early_stopping]`.
    #[arg(long)]
    pub space: PathBuf,
    /// Sweep name: its directory under `--output` (default: the space file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Parent directory of the sweep directory (overrides `run.output_dir`).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Trial processes at once (overrides the space file's `parallel`).
    #[arg(allow_negative_numbers = true, long, value_parser = clap::value_parser!(u64).range(1..))]
    pub parallel: Option<u64>,
    /// Backend of every trial (overrides `run.backend`).
    #[arg(long, value_enum)]
    pub backend: Option<BackendRequest>,
}

/// `trainer data ...`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Format, sample count, shapes, label balance or column schema of a dataset file or
    /// directory (IDX, CIFAR-10 `.bin`, CSV, Parquet, token shards, image folders, UTF-8 text),
    /// read the way training reads it.
    Inspect {
        /// A dataset directory or file.
        path: PathBuf,
    },
    /// Tokenize UTF-8 text into token shards for the GPT (`data.format = "tokens"`): trains a
    /// byte-level BPE (`--vocab-size`) or uses an existing tokenizer (`--tokenizer`, or GPT-2's
    /// `--vocab` + `--merges`); writes `train.bin`, `val.bin` (and `test.bin`) in nanoGPT's
    /// format, `meta.json` and `tokenizer.json`.
    Tokenize(TokenizeArgs),
    /// Download a dataset from its canonical URLs (mnist, fashion-mnist, cifar10,
    /// tinyshakespeare): SHA-256 verified, resumable (run it again after an interruption),
    /// written atomically into `<dir>/<dataset>`.
    Fetch {
        /// Dataset name.
        name: String,
        /// Parent directory of the dataset directory.
        #[arg(long, default_value = "datasets")]
        dir: PathBuf,
        /// Base URL of a mirror holding the same file names (replaces the canonical hosts).
        #[arg(long)]
        mirror: Option<String>,
    },
}

/// `trainer data tokenize`.
#[derive(Debug, clap::Args)]
pub struct TokenizeArgs {
    /// A UTF-8 text file, or a directory of them (read in path order as one text).
    #[arg(long)]
    pub input: PathBuf,
    /// Directory for the shards (created; files already there are never overwritten).
    #[arg(long)]
    pub output: PathBuf,
    /// Train a byte-level BPE of this many ids on the training part of the text.
    #[arg(long, conflicts_with_all = ["tokenizer", "vocab", "merges"])]
    pub vocab_size: Option<usize>,
    /// Use this `tokenizer.json` (HuggingFace tokenizers format).
    #[arg(long, conflicts_with_all = ["vocab", "merges"])]
    pub tokenizer: Option<PathBuf>,
    /// GPT-2 style `vocab.json` (with `--merges`).
    #[arg(long, requires = "merges")]
    pub vocab: Option<PathBuf>,
    /// GPT-2 style `merges.txt` (with `--vocab`).
    #[arg(long, requires = "vocab")]
    pub merges: Option<PathBuf>,
    /// Fraction of the text (by bytes, at the end) for `val.bin`.
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Fraction of the text (by bytes, at the very end) for `test.bin`; 0 writes none.
    #[arg(long, default_value_t = 0.0)]
    pub test_fraction: f64,
}

/// `trainer runs ...`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Replay what the MLflow server has not acknowledged yet, in order, exactly once.
    Sync {
        /// Run directories (or run names under `--output`).
        runs: Vec<PathBuf>,
        /// Every run under `--output`.
        #[arg(long)]
        all: bool,
        /// Parent of run directories.
        #[arg(long, default_value = "checkpoints")]
        output: PathBuf,
        /// Give up on a run after this many seconds of failed attempts.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
    },
    /// List the runs under `--output`: status, model, progress, final accuracy, MLflow state.
    Ls {
        /// Parent of run directories.
        #[arg(long, default_value = "checkpoints")]
        output: PathBuf,
        /// A JSON array (one object a run: name, status, model, backend, steps, metrics).
        #[arg(long)]
        json: bool,
    },
    /// One run in detail: status, params, final metrics, epochs, checkpoints, MLflow state.
    Show {
        /// Run directory (or run name under `--output`).
        run: PathBuf,
        /// Parent of run directories.
        #[arg(long, default_value = "checkpoints")]
        output: PathBuf,
        /// The whole record as JSON (status, params, metrics, epochs) instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Runs side by side: the params that differ and the final metrics.
    Compare {
        /// Two or more run directories (or run names under `--output`).
        #[arg(num_args = 2.., required = true)]
        runs: Vec<PathBuf>,
        /// Parent of run directories.
        #[arg(long, default_value = "checkpoints")]
        output: PathBuf,
        /// A JSON array of the runs' records instead of tables.
        #[arg(long)]
        json: bool,
    },
}

/// `trainer models ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// The registered models, or the versions of one (newest first).
    Ls {
        /// A registered model's name: list its versions.
        name: Option<String>,
        #[command(flatten)]
        /// The MLflow server.
        server: ServerArgs,
    },
    /// One version with its lineage (run, metrics, datasets, commit): `NAME` (latest),
    /// `NAME/VERSION` or `NAME@ALIAS`.
    Show {
        /// Which version.
        #[arg(value_name = "NAME[/VERSION|@ALIAS]")]
        model: String,
        #[command(flatten)]
        /// The MLflow server.
        server: ServerArgs,
    },
    /// Points alias ALIAS (`champion`) of NAME at VERSION (moving it if it pointed elsewhere).
    Alias {
        /// Registered model name.
        name: String,
        /// Version number.
        version: u64,
        /// Alias.
        alias: String,
        #[command(flatten)]
        /// The MLflow server.
        server: ServerArgs,
    },
    /// Downloads a version's model directory, checksums verified; `eval`, `predict` and
    /// `sample` take it as their checkpoint.
    Pull {
        /// Which version: `NAME` (latest), `NAME/VERSION` or `NAME@ALIAS`.
        #[arg(value_name = "NAME[/VERSION|@ALIAS]")]
        model: String,
        /// Directory to create (must not exist).
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        /// The MLflow server.
        server: ServerArgs,
    },
}

/// Which MLflow server a `models` command talks to.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// MLflow server URL (default: `MLFLOW_TRACKING_URI`).
    #[arg(long, value_name = "URL")]
    pub tracking_uri: Option<String>,
}

/// `trainer predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// Checkpoint directory, e.g. checkpoints/RUN/checkpoints/step-000000120, or a run
    /// directory (its newest checkpoint that verifies).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// What to score: an IDX image file (`...-images-idx3-ubyte`, gzipped or plain) of the
    /// training image size for image models; one image file or a folder of them (searched
    /// recursively; each row names its file) for image-folder models; a CSV file with the run's
    /// feature columns (the label column may be absent) for table models.
    #[arg(long)]
    pub input: PathBuf,
    /// Output file: one row per sample with the predicted class (and its name for tables and
    /// image folders) and
    /// the logits, or the predicted value for a regression; CSV when it ends in `.csv`, JSON
    /// lines otherwise. Written atomically; never overwrites.
    #[arg(long)]
    pub output: PathBuf,
    /// Also write each class's probability (softmax of the logits): `prob_N` columns, or a
    /// `probabilities` array.
    #[arg(long)]
    pub probabilities: bool,
    /// Backend to run on.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendRequest,
    /// GPU index for cuda/wgpu.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0)]
    pub device: usize,
    /// Images per forward pass.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
}

/// `trainer eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Checkpoint directory, e.g. checkpoints/RUN/checkpoints/step-000000120, or a run
    /// directory (its newest checkpoint that verifies).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Data to evaluate instead of the run's: replaces `data.dir` (images) or `data.file` (text,
    /// CSV); it is split as the run's data was, with the run's vocabulary or preprocessing.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Which split [default: test; valid for a run without a test split].
    #[arg(long, value_enum)]
    pub split: Option<EvalSplit>,
    /// Also write the metrics as JSON here (must not exist).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Backend to run on.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendRequest,
    /// GPU index for cuda/wgpu.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0)]
    pub device: usize,
}

/// The split `trainer eval` scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalSplit {
    /// The test split.
    Test,
    /// The validation split.
    Valid,
}

impl EvalSplit {
    /// Its name in output.
    pub fn name(self) -> &'static str {
        match self {
            EvalSplit::Test => "test",
            EvalSplit::Valid => "valid",
        }
    }
}

/// `trainer sample`.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Checkpoint directory of a `gpt` run, e.g. checkpoints/RUN/checkpoints/step-000002000, or
    /// the run directory (its newest checkpoint that verifies).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Text the sample continues (printed first).
    #[arg(long, default_value = "\n")]
    pub prompt: String,
    /// Characters to generate.
    #[arg(allow_negative_numbers = true, long, default_value_t = 500)]
    pub tokens: usize,
    /// Sharpens (< 1) or flattens (> 1) the distribution; 0 always takes the likeliest character.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Draw only among the K likeliest characters.
    #[arg(allow_negative_numbers = true, long)]
    pub top_k: Option<usize>,
    /// Seed of the sampling RNG (same seed, same text).
    #[arg(allow_negative_numbers = true, long, default_value_t = 42)]
    pub seed: u64,
    /// Backend to run on.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendRequest,
    /// GPU index for cuda/wgpu.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0)]
    pub device: usize,
}

/// `trainer checkpoints ...`.
#[derive(Debug, Subcommand)]
pub enum CheckpointsCommand {
    /// List a run's checkpoints (newest first) and whether each verifies.
    Ls {
        /// Run directory (or its `checkpoints/` directory).
        run: PathBuf,
        /// A JSON array (one object a checkpoint: name, step, epoch, metric, status, latest).
        #[arg(long)]
        json: bool,
    },
    /// Check a checkpoint's manifest, format version and every file's SHA-256.
    Verify {
        /// Checkpoint directory, e.g. checkpoints/RUN/checkpoints/step-000000120.
        checkpoint: PathBuf,
    },
    /// Export a checkpoint's weights as .safetensors with the tensor names and layouts of its
    /// PyTorch reference module (image classifiers, the GPT, the tabular MLP), the model's
    /// assets (vocabulary, preprocessing) in the header.
    Export {
        /// Checkpoint directory, or a run directory (its newest checkpoint that verifies).
        checkpoint: PathBuf,
        /// Output file (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Config selection shared by `fit` and `bench`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// TOML config file; without it the built-in defaults are used.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. `--set train.lr=0.01` (repeatable; validated like the file).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<Override>,
}

/// `trainer fit`.
#[derive(Debug, clap::Args)]
pub struct FitArgs {
    #[command(flatten)]
    /// Config file and overrides.
    pub config: ConfigArgs,
    #[command(flatten)]
    /// Backend and device.
    pub placement: PlacementArgs,
    /// Data parallel over these CUDA devices: `all` or indices such as `0,1` (overrides
    /// `run.devices`).
    #[arg(long, value_name = "all|0,1,...", value_parser = DeviceList::parse_flag)]
    pub devices: Option<DeviceList>,
    /// Float type of the forward/backward: f32, bf16 or f16; weights stay f32 (overrides
    /// `run.precision`).
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// Run name (overrides `run.name`).
    #[arg(long)]
    pub run_name: Option<String>,
    /// Parent directory for run directories (overrides `run.output_dir`).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Continue a run: `auto` (the named run's newest valid checkpoint, or a fresh start),
    /// a checkpoint directory, or a run directory.
    #[arg(long, value_name = "auto|PATH")]
    pub resume: Option<String>,
    /// Register the finished run's model as a new version of this MLflow registered model
    /// (overrides `tracking.register_model`).
    #[arg(long, value_name = "NAME")]
    pub register: Option<String>,
}

/// `trainer bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    /// Config file and overrides.
    pub config: ConfigArgs,
    /// `auto`, `all` (every usable backend, software wgpu included), or a list such as `cpu,wgpu`.
    #[arg(long, default_value = "auto")]
    pub backends: String,
    /// Timed steps per backend.
    #[arg(allow_negative_numbers = true, long, default_value_t = 50)]
    pub steps: usize,
    /// Untimed warm-up steps per backend (at least 1).
    #[arg(allow_negative_numbers = true, long, default_value_t = 5)]
    pub warmup: usize,
    /// GPU index for cuda/wgpu.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0)]
    pub device: usize,
    /// Float types to benchmark, side by side: e.g. `f32,bf16` (default: `run.precision`).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub precision: Vec<Precision>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Where timed steps get batches: `streaming` (the loader, as `fit`) or `prebuilt` (built in
    /// memory before timing: the baseline without data cost).
    #[arg(long, value_enum, default_value = "streaming")]
    pub data_feed: crate::bench::DataFeed,
    /// Checkpoint saves and restores to time per backend (0: skip checkpoint timing).
    #[arg(allow_negative_numbers = true, long, default_value_t = 3)]
    pub checkpoint_repeats: usize,
    /// Parent of the temporary directory benchmark checkpoints go to (default: `run.output_dir`,
    /// the disk real checkpoints go to); that directory is removed afterwards.
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
}

impl FitArgs {
    /// The dedicated flags as config overrides, applied after `--set`.
    pub fn flag_overrides(&self) -> Vec<Override> {
        let mut v = self.placement.overrides();
        if let Some(d) = &self.devices {
            v.push(Override::flag("--devices", "run.devices", d.to_toml()));
        }
        v.extend(self.precision.map(precision_override));
        if let Some(n) = &self.run_name {
            v.push(Override::flag(
                "--run-name",
                "run.name",
                toml::Value::String(n.clone()),
            ));
        }
        if let Some(n) = &self.register {
            v.push(Override::flag(
                "--register",
                "tracking.register_model",
                toml::Value::String(n.clone()),
            ));
        }
        if let Some(o) = &self.output {
            v.push(Override::flag(
                "--output",
                "run.output_dir",
                toml::Value::String(o.display().to_string()),
            ));
        }
        v
    }
}
