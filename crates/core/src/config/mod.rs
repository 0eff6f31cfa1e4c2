//! Typed run configuration: TOML file -> typed structs -> validated config.
//!
//! Layers, lowest first: built-in defaults (`Config::default()`, the MNIST MLP quick start),
//! the config file, then `--set key=value` overrides.

mod augment;
mod error;
mod flatten;
mod load;
mod placement;
mod validate;

pub use augment::AugmentConfig;
pub use error::ConfigError;
pub use flatten::{flatten_toml, flatten_value};
pub use load::{Override, load};
pub use placement::{DeviceList, Precision};
pub use validate::toml_name;

#[cfg(test)]
mod redact_tests {
    #[test]
    fn secrets_in_urls_are_redacted_whatever_the_scheme_case() {
        let r = super::redact_userinfo;
        assert_eq!(
            r("bad uri HTTP://alice:S3cr3tPW@host:5000/x and https://tok@h"),
            "bad uri HTTP://alice:***@host:5000/x and https://***@h"
        );
        assert_eq!(r("no url here"), "no url here");
        assert_eq!(r("\"http://u:p@h\""), "\"http://u:***@h\"");
        assert!(super::is_http_url("HTTP://h") && super::is_http_url("Https://h"));
        assert!(!super::is_http_url("file:///x") && !super::is_http_url("ht"));
    }

    #[test]
    fn saved_config_leaves_credentials_out() {
        let mut cfg = super::Config::default();
        cfg.tracking.mlflow_uri = "https://alice:s3cret@mlflow.example:5000/api".into();
        let text = cfg.to_toml();
        assert!(
            !text.contains("s3cret") && !text.contains("alice"),
            "{text}"
        );
        assert!(text.contains("https://mlflow.example:5000/api"), "{text}");
        let (_, creds) = super::split_userinfo("http://u@h");
        assert_eq!(creds, Some(("u".into(), String::new())));
        assert_eq!(super::split_userinfo("http://h/p").1, None);
    }
}

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The whole run configuration, as read from TOML.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run identity, seed, output location and backend.
    pub run: RunConfig,
    /// Dataset location and preprocessing.
    pub data: DataConfig,
    /// Model architecture.
    pub model: ModelConfig,
    /// Optimization.
    pub train: TrainConfig,
    /// When to save checkpoints and how many to keep.
    pub checkpoint: CheckpointConfig,
    /// Where metrics go besides the local journal.
    pub tracking: TrackingConfig,
}

/// `[tracking]`: the MLflow server (the local journal is always on). Empty strings fall back to
/// the `MLFLOW_TRACKING_URI` / `MLFLOW_EXPERIMENT_NAME` environment variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackingConfig {
    /// MLflow server URL (`http://host:port`); empty: `MLFLOW_TRACKING_URI`, else no MLflow.
    pub mlflow_uri: String,
    /// Experiment name; empty: `MLFLOW_EXPERIMENT_NAME`, else `trainer`.
    pub experiment: String,
    /// At the end of `fit`, how long to wait for the backlog to reach MLflow.
    pub drain_seconds: f64,
    /// The trainer UUID of the sweep this run is a trial of (set by `trainer sweep`); its MLflow
    /// run becomes this run's parent (`mlflow.parentRunId`).
    pub parent_run_uuid: String,
    /// Registered model name: a finished run's final model becomes a new version of it in
    /// MLflow's Model Registry (empty: not registered).
    pub register_model: String,
    /// Seconds between system-metric samples (CPU, memory, disk, network, GPU through NVML),
    /// journaled and sent as MLflow's `system/...` metrics; 0 turns them off.
    pub system_metrics_every: f64,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        Self {
            mlflow_uri: String::new(),
            experiment: String::new(),
            drain_seconds: 10.0,
            parent_run_uuid: String::new(),
            register_model: String::new(),
            system_metrics_every: 10.0,
        }
    }
}

/// `[run]`: identity and placement of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Run name; empty means `<model>-<timestamp>`. Used as the run directory name.
    pub name: String,
    /// Seed for weight init, dropout, the validation split and the shuffling order.
    pub seed: u64,
    /// Parent directory of run directories.
    pub output_dir: PathBuf,
    /// Which backend to train on (`auto`, `cuda`, `wgpu`, `cpu`, `flex`, `ndarray`).
    pub backend: BackendRequest,
    /// Device index for the chosen GPU backend.
    pub device: usize,
    /// Data parallel over these GPUs (`[0, 1]` or `"all"`); empty: the one device `run.device`.
    pub devices: DeviceList,
    /// Float type of the forward/backward passes (`f32`, `bf16`, `f16`); weights stay f32.
    pub precision: Precision,
    /// Multi-process jobs (MPI): the longest a rank waits between two collective steps before
    /// it ends the whole job (a peer hung or died); 0 = wait forever.
    pub step_timeout_seconds: f64,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            seed: 42,
            output_dir: PathBuf::from("checkpoints"),
            backend: BackendRequest::Auto,
            device: 0,
            devices: DeviceList::Unset,
            precision: Precision::F32,
            step_timeout_seconds: 600.0,
        }
    }
}

/// The backend a user asks for; `auto` probes CUDA, then a hardware wgpu adapter, then CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendRequest {
    /// Probe and pick the best usable backend.
    Auto,
    /// NVIDIA CUDA.
    Cuda,
    /// wgpu (Vulkan, Metal, DX12); a software adapter is used only when asked for explicitly.
    Wgpu,
    /// The fastest CPU backend compiled in (flex, else ndarray).
    Cpu,
    /// The flex CPU backend.
    Flex,
    /// The ndarray CPU backend.
    Ndarray,
}

/// `[data]`: where the dataset is and how samples are preprocessed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// On-disk format of the dataset.
    pub format: DataFormat,
    /// Directory holding the dataset: for `idx`, `train-images-idx3-ubyte[.gz]`,
    /// `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]` and
    /// `t10k-labels-idx1-ubyte[.gz]`; for `cifar10`, `data_batch_*.bin` and `test_batch.bin`;
    /// for `image-folder`, one folder per class (or `train/`, `val/`, `test/` of those).
    pub dir: PathBuf,
    /// Fraction of the training files held out for validation, in [0, 1).
    pub validation_fraction: f64,
    /// Pixels are scaled to [0, 1], then standardized: `(x - mean) / std`.
    pub normalize_mean: f64,
    /// See `normalize_mean`; must be > 0.
    pub normalize_std: f64,
    /// Batch size for validation and test evaluation.
    pub eval_batch_size: usize,
    /// Threads assembling training batches; 0 picks half the cores (1 to 8).
    pub workers: usize,
    /// Ready batches queued ahead of the training step; 0 picks twice the workers.
    pub prefetch: usize,
    /// The data file for `text` (UTF-8), `csv` (a table with a header row) and `parquet` (a
    /// file, or a directory of `*.parquet` part files).
    pub file: PathBuf,
    /// Fraction held out for the test split (`text`, tables, and `image-folder` without a
    /// `test/` folder; the other image formats have test files).
    pub test_fraction: f64,
    /// Tables: the column holding the label (a class name, or the number to predict).
    pub label: String,
    /// Tables: what the label column holds: `classification` (class names) or `regression`
    /// (a number; trained with mean squared error, reported as RMSE/MAE/R²).
    pub task: crate::data::TableTask,
    /// Tables: the feature columns, in model-input order; empty = every column but the label
    /// (all must then be numeric).
    pub features: Vec<String>,
    /// `text`: tokens between the starts of consecutive training windows; 0 = the model's
    /// block size (windows do not overlap).
    pub stride: usize,
    /// `image-folder`: `[height, width]` every image is resized to (required there).
    pub image_size: [usize; 2],
    /// `image-folder`: channels images are converted to, 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// `image-folder`: per-channel means subtracted after scaling to [0, 1] (one value, or one
    /// per channel); empty = `normalize_mean` for every channel.
    pub mean: Vec<f64>,
    /// `image-folder`: per-channel standard deviations divided by; empty = `normalize_std`.
    pub std: Vec<f64>,
    /// `[data.augment]`: random transforms of training images (`image-folder`).
    pub augment: AugmentConfig,
    /// `image-folder`: what a file that does not decode does: `error` (the run fails naming
    /// it) or `skip` (left out of its batch, named in the journal, the summary and `runs show`).
    pub bad_samples: BadSamples,
}

impl DataConfig {
    /// Whether this is a regression: a table whose target is a value.
    pub fn is_regression(&self) -> bool {
        self.format.is_table() && self.task == crate::data::TableTask::Regression
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            format: DataFormat::Idx,
            dir: PathBuf::from("datasets/mnist-10k"),
            validation_fraction: 0.1,
            normalize_mean: 0.1307,
            normalize_std: 0.3081,
            eval_batch_size: 1000,
            workers: 0,
            prefetch: 0,
            file: PathBuf::new(),
            test_fraction: 0.1,
            label: String::new(),
            task: crate::data::TableTask::Classification,
            features: Vec::new(),
            stride: 0,
            image_size: [0, 0],
            channels: 3,
            mean: Vec::new(),
            std: Vec::new(),
            augment: AugmentConfig::default(),
            bad_samples: BadSamples::Error,
        }
    }
}

/// What a sample that cannot be decoded does (`data.bad_samples`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BadSamples {
    /// The run fails with an error naming the file.
    #[default]
    Error,
    /// The sample is left out of its batch and counted.
    Skip,
}

/// Supported dataset formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// IDX image/label files (the MNIST format), gzipped or plain.
    Idx,
    /// CIFAR-10 binary batches (`data_batch_*.bin`, `test_batch.bin`).
    Cifar10,
    /// One UTF-8 text file, modelled character by character (`data.file`).
    Text,
    /// One CSV table with a header row; `data.label` names the class column (`data.file`).
    Csv,
    /// A Parquet table (`data.file`: one file, or a directory of `*.parquet` part files), read
    /// by row group; flat columns, `data.label` as for CSV.
    Parquet,
    /// Image files in one folder per class (`data.dir/<class>/<file>`, `.png`/`.jpg`/`.jpeg`;
    /// with `train/`, `val/` or `valid/`, `test/` subfolders those are the splits).
    #[serde(rename = "image-folder")]
    ImageFolder,
    /// Token shards in nanoGPT's format: `train.bin`, `val.bin` (and `test.bin`) of uint16 ids
    /// (uint32 per `meta.json`) in `data.dir`, for the `gpt`.
    Tokens,
}

impl DataFormat {
    /// True for the table formats (`csv`, `parquet`).
    pub fn is_table(self) -> bool {
        matches!(self, DataFormat::Csv | DataFormat::Parquet)
    }

    /// The config name of this format.
    pub fn name(self) -> &'static str {
        match self {
            DataFormat::Idx => "idx",
            DataFormat::Cifar10 => "cifar10",
            DataFormat::Text => "text",
            DataFormat::Csv => "csv",
            DataFormat::Parquet => "parquet",
            DataFormat::ImageFolder => "image-folder",
            DataFormat::Tokens => "tokens",
        }
    }
}

/// `[model]`: which architecture, and its hyperparameters in a sub-table per kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Which model to train.
    pub kind: ModelKind,
    /// `[model.mlp]`, used when `kind = "mlp"`.
    pub mlp: MlpConfig,
    /// `[model.cnn]`, used when `kind = "cnn"`.
    pub cnn: CnnConfig,
    /// `[model.gpt]`, used when `kind = "gpt"`.
    pub gpt: GptConfig,
    /// `[model.resnet]`, used when `kind = "resnet"`.
    pub resnet: ResnetConfig,
}

/// Model families.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Multi-layer perceptron on flattened pixels.
    #[default]
    Mlp,
    /// The classic MNIST CNN (two 3x3 convs, max-pool, dropout, two dense layers).
    Cnn,
    /// A decoder-only transformer over characters (`data.format = "text"`).
    Gpt,
    /// A small ResNet (basic residual blocks, batch norm) for 32x32 images.
    Resnet,
}

impl ModelKind {
    /// The config name of this model kind.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
            ModelKind::Gpt => "gpt",
            ModelKind::Resnet => "resnet",
        }
    }
}

/// `[model.mlp]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpConfig {
    /// Widths of the hidden layers, in order.
    pub hidden: Vec<usize>,
    /// Dropout after each hidden activation, in [0, 1).
    pub dropout: f64,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            hidden: vec![512, 512],
            dropout: 0.2,
        }
    }
}

/// `[model.cnn]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CnnConfig {
    /// Output channels of the two 3x3 convolutions.
    pub channels: [usize; 2],
    /// Width of the hidden dense layer.
    pub fc_hidden: usize,
    /// Dropout after the max-pool, in [0, 1).
    pub dropout_conv: f64,
    /// Dropout after the hidden dense layer, in [0, 1).
    pub dropout_fc: f64,
}

impl Default for CnnConfig {
    fn default() -> Self {
        Self {
            channels: [32, 64],
            fc_hidden: 128,
            dropout_conv: 0.25,
            dropout_fc: 0.5,
        }
    }
}

/// `[model.resnet]`: three stages of basic residual blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResnetConfig {
    /// Channels of the three stages (the 2nd and 3rd halve the resolution).
    pub widths: [usize; 3],
    /// Basic blocks per stage (1 = ResNet-8, 3 = ResNet-20).
    pub blocks: usize,
}

impl Default for ResnetConfig {
    fn default() -> Self {
        Self {
            widths: [16, 32, 64],
            blocks: 1,
        }
    }
}

/// `[model.gpt]`: a pre-norm decoder-only transformer (GPT-2 style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GptConfig {
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads per block; must divide `embedding`.
    pub heads: usize,
    /// Width of the token and position embeddings (the model width).
    pub embedding: usize,
    /// Context length in tokens (training windows have this length).
    pub block_size: usize,
    /// Dropout on embeddings, attention and MLP outputs, in [0, 1).
    pub dropout: f64,
}

impl Default for GptConfig {
    fn default() -> Self {
        Self {
            layers: 6,
            heads: 6,
            embedding: 384,
            block_size: 256,
            dropout: 0.2,
        }
    }
}

/// `[train]`: the optimization loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Passes over the training split.
    pub epochs: usize,
    /// Samples per optimizer step.
    pub batch_size: usize,
    /// Optimizer algorithm.
    pub optimizer: OptimizerKind,
    /// Learning rate, > 0.
    pub lr: f64,
    /// Weight decay (L2 for adam/sgd, decoupled for adamw), >= 0.
    pub weight_decay: f64,
    /// SGD momentum in [0, 1); ignored by adam/adamw.
    pub momentum: f64,
    /// Read the loss back from the device (and report progress) every this many steps.
    pub log_every: usize,
    /// Drop the last incomplete batch of each epoch (keeps every step's shape fixed).
    pub drop_last: bool,
    /// Learning-rate schedule over the run's steps.
    pub schedule: ScheduleConfig,
    /// Rescale the gradients when their global L2 norm exceeds this (0 = off).
    pub grad_clip_norm: f64,
    /// Stop when `checkpoint.best_metric` has not improved for this many epochs (0 = off).
    pub early_stopping_patience: usize,
    /// Stop the run FAILED when the smoothed training loss (the mean between read-backs)
    /// exceeds this multiple of its best so far (never less than 1% of the first): a run
    /// diverging with finite losses. 0 = off.
    pub divergence_factor: f64,
    /// Batches whose gradients are summed into each optimizer update (1 = none): the update
    /// sees `batch_size * grad_accumulation_steps` samples with the memory of one batch. Steps
    /// (logging, checkpoints, schedules) still count batches.
    pub grad_accumulation_steps: usize,
}

/// `[train.schedule]`: the learning rate at each optimizer step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Shape of the schedule after warm-up.
    pub kind: ScheduleKind,
    /// Steps of linear warm-up from `lr / warmup_steps` to `lr` (0 = none).
    pub warmup_steps: usize,
    /// `cosine`: the rate reached at the last step.
    pub min_lr: f64,
    /// `step`: multiply the rate by `gamma` every this many steps.
    pub step_every: usize,
    /// `step`: the decay factor, in (0, 1].
    pub gamma: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Constant,
            warmup_steps: 0,
            min_lr: 0.0,
            step_every: 1000,
            gamma: 0.1,
        }
    }
}

/// Learning-rate schedule shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// `train.lr` throughout (after any warm-up).
    Constant,
    /// Half a cosine from `train.lr` down to `min_lr` over the remaining steps.
    Cosine,
    /// `train.lr * gamma^(step / step_every)`.
    Step,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 128,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            weight_decay: 0.0,
            momentum: 0.9,
            log_every: 20,
            drop_last: false,
            schedule: ScheduleConfig::default(),
            grad_clip_norm: 0.0,
            early_stopping_patience: 0,
            divergence_factor: 1000.0,
            grad_accumulation_steps: 1,
        }
    }
}

/// `[checkpoint]`: cadence and retention of checkpoints in `<run dir>/checkpoints/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Save every N optimizer steps (0 = off).
    pub every_steps: usize,
    /// Save when this many seconds passed since the last save (0 = off).
    pub every_seconds: f64,
    /// Save at the end of every epoch.
    pub at_epoch_end: bool,
    /// Keep the newest N checkpoints (>= 1).
    pub keep_last: usize,
    /// Also keep the best checkpoint by `best_metric`.
    pub keep_best: bool,
    /// Validation metric that ranks checkpoints for `keep_best`.
    pub best_metric: BestMetric,
    /// Whether the largest (`max`) or smallest (`min`) `best_metric` is best.
    pub best_mode: BestMode,
}

/// Validation metrics a checkpoint can be ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BestMetric {
    /// Accuracy on the validation split (higher is better).
    ValidAccuracy,
    /// Mean cross-entropy on the validation split (lower is better).
    ValidLoss,
}

impl BestMetric {
    /// The mode under which this metric improves.
    pub fn natural_mode(self) -> BestMode {
        match self {
            Self::ValidAccuracy => BestMode::Max,
            Self::ValidLoss => BestMode::Min,
        }
    }
}

/// Direction in which a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BestMode {
    /// Larger is better.
    Max,
    /// Smaller is better.
    Min,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            every_steps: 0,
            every_seconds: 0.0,
            at_epoch_end: true,
            keep_last: 3,
            keep_best: true,
            best_metric: BestMetric::ValidAccuracy,
            best_mode: BestMode::Max,
        }
    }
}

/// Optimizer algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (PyTorch defaults: betas 0.9/0.999, eps 1e-8); weight decay is L2.
    Adam,
    /// AdamW with decoupled weight decay.
    Adamw,
    /// SGD with momentum; weight decay is L2.
    Sgd,
}

impl Config {
    /// The resolved config as pretty TOML (saved in every run directory and checkpoint, and
    /// the source of the MLflow params): credentials in `tracking.mlflow_uri` are left out.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        shown.tracking.mlflow_uri = split_userinfo(&self.tracking.mlflow_uri).0;
        toml::to_string_pretty(&shown)
            .unwrap_or_else(|e| format!("# could not render config: {e}\n"))
    }
}

/// `text` with the secret of every `scheme://user:secret@host` in it replaced by `***`
/// (`scheme://user:***@host`; a lone `scheme://token@host` becomes `scheme://***@host`), whatever
/// the scheme and its case: for every message that may quote a URL.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || matches!(c, '"' | '\'' | '`'))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rsplit_once('@') {
            Some((info, host)) => match info.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***@{host}")),
                None => out.push_str(&format!("***@{host}")),
            },
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Whether `uri` is an `http://` or `https://` URL (the scheme in any case).
pub fn is_http_url(uri: &str) -> bool {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// `http://user:pw@host/path` -> (`http://host/path`, Some((user, pw))); other strings unchanged.
pub fn split_userinfo(uri: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return (uri.to_string(), None);
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rsplit_once('@') {
        Some((info, host)) => {
            let (user, pw) = info.split_once(':').unwrap_or((info, ""));
            let clean = format!("{scheme}://{host}{}", &rest[host_end..]);
            (clean, Some((user.to_string(), pw.to_string())))
        }
        None => (uri.to_string(), None),
    }
}
