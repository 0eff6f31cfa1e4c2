//! What a `fit` run trains on, per data format, and the model each format trains: image
//! classifiers on IDX/CIFAR-10, the GPT on text, the MLP on CSV tables.

use crate::checkpoint::Snapshot;
use crate::config::{Config, DataFormat};
use crate::data::{
    DataError, PREPROCESSING_FILE, Splits, TablePreprocessing, TableRows, TextWindows, VOCAB_FILE,
    Vocab, load_splits, load_table_splits, load_text_splits,
};
use crate::model::{Gpt, Mlp};
use crate::train::{self, FitOutcome, FitPorts, ModelPlan, ModelSpec, TrainError};
use burn::tensor::backend::AutodiffBackend;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The opened splits of one run, by data family.
pub enum RunData {
    /// Image files (IDX, CIFAR-10) for the `mlp` and `cnn` classifiers.
    Images(Splits),
    /// A character-level corpus for the `gpt` model, with its vocabulary.
    Text(Splits<TextWindows>, Vocab),
    /// A CSV table for the `mlp` (classification or regression), with its fitted standardization.
    Table(Splits<TableRows>, Arc<TablePreprocessing>),
}

impl RunData {
    /// Opens `[data]`. With a checkpoint's `assets`, its saved vocabulary (text) or
    /// preprocessing (tables) is used, so ids and feature scaling are exactly the run's.
    pub fn open(cfg: &Config, assets: Option<&Assets>) -> Result<Self, DataError> {
        Ok(match cfg.data.format {
            DataFormat::Idx | DataFormat::Cifar10 => {
                RunData::Images(load_splits(&cfg.data, cfg.run.seed)?)
            }
            DataFormat::Text => {
                let saved = saved_asset::<Vocab>(assets, VOCAB_FILE)?;
                let (splits, vocab) = load_text_splits(&cfg.data, cfg.model.gpt.block_size, saved)?;
                RunData::Text(splits, vocab)
            }
            DataFormat::Csv => {
                let saved = saved_asset::<TablePreprocessing>(assets, PREPROCESSING_FILE)?;
                let (splits, prep) = load_table_splits(&cfg.data, cfg.run.seed, saved)?;
                RunData::Table(splits, prep)
            }
        })
    }

    /// Trains the model this data calls for with `train::fit_model`.
    pub fn fit<B: AutodiffBackend>(
        &self,
        cfg: &Config,
        backend: &str,
        device: &B::Device,
        resume: Option<&Snapshot>,
        ports: FitPorts<'_>,
    ) -> Result<FitOutcome, TrainError> {
        match self {
            RunData::Images(splits) => {
                train::fit::<B>(cfg, splits, backend, device, resume, ports).map(|f| f.outcome)
            }
            RunData::Text(splits, vocab) => {
                let plan = ModelPlan {
                    spec: ModelSpec {
                        kind: cfg.model.kind.name().to_string(),
                        input_shape: [1, 1, cfg.model.gpt.block_size],
                        num_classes: vocab.size(),
                        assets: asset(VOCAB_FILE, vocab)?,
                    },
                    build: |d: &B::Device| Gpt::<B>::new(&cfg.model.gpt, vocab.size(), d),
                };
                train::fit_model(cfg, plan, splits, backend, device, resume, ports)
                    .map(|f| f.outcome)
            }
            RunData::Table(splits, prep) => {
                let features = prep.features.len();
                let outputs = prep.outputs();
                let plan = ModelPlan {
                    spec: ModelSpec {
                        kind: cfg.model.kind.name().to_string(),
                        input_shape: [1, 1, features],
                        num_classes: outputs,
                        assets: asset(PREPROCESSING_FILE, prep.as_ref())?,
                    },
                    build: |d: &B::Device| Mlp::<B>::new(&cfg.model.mlp, features, outputs, d),
                };
                train::fit_model(cfg, plan, splits, backend, device, resume, ports)
                    .map(|f| f.outcome)
            }
        }
    }
}

/// Files stored beside a checkpoint's weights, by name.
pub type Assets = BTreeMap<String, Vec<u8>>;

/// Parses the JSON asset `name`, if the checkpoint has it.
fn saved_asset<T: serde::de::DeserializeOwned>(
    assets: Option<&Assets>,
    name: &str,
) -> Result<Option<T>, DataError> {
    let Some(bytes) = assets.and_then(|a| a.get(name)) else {
        return Ok(None);
    };
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| DataError::Mismatch {
            message: format!("the checkpoint's {name} is not valid: {e}"),
        })
}

/// One JSON asset for checkpoints.
fn asset<T: serde::Serialize>(name: &str, value: &T) -> Result<Assets, TrainError> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| TrainError::Checkpoint(format!("encoding {name}: {e}")))?;
    Ok(BTreeMap::from([(name.to_string(), bytes)]))
}
