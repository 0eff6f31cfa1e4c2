//! A checkpoint's model as safetensors with the names and layouts of its PyTorch reference
//! module (every built-in family: image classifiers, the GPT, the tabular MLP), with the model's
//! assets (`vocab.json`, `preprocessing.json`) in the header.

use super::{JobError, open};
use crate::model::{gpt_to_pytorch_safetensors, to_pytorch_safetensors};
use crate::task::TaskModel;
use burn::prelude::Backend;
use std::path::Path;

/// An exported model: the file's bytes and what it holds.
pub struct Export {
    /// The safetensors file.
    pub bytes: Vec<u8>,
    /// The model kind (`mlp`, `cnn`, `gpt`, ...).
    pub model: &'static str,
    /// The checkpoint's global step.
    pub global_step: usize,
}

/// The checkpoint's weights as safetensors with PyTorch names and layouts (`layers.0.weight` as
/// [out, in], `conv1.weight` as [out, in, kh, kw], the GPT's blocks as
/// `torch.nn.TransformerEncoder`'s). The header's metadata holds the global step, the model's
/// shape keys and each asset as `asset.<file name>` (its JSON text).
pub fn pytorch_export<B: Backend>(
    checkpoint: &Path,
    device: &B::Device,
) -> Result<Export, JobError> {
    let opened = open(checkpoint)?;
    let cfg = &opened.config;
    let model = cfg.model.kind.name();
    let step = opened.state.position.global_step;
    let mut metadata = vec![
        ("producer".to_string(), "trainer".to_string()),
        ("trainer_version".into(), env!("CARGO_PKG_VERSION").into()),
        ("model".into(), model.to_string()),
        ("global_step".into(), step.to_string()),
    ];
    for (name, bytes) in opened.assets() {
        let text = String::from_utf8(bytes.clone()).map_err(|_| {
            JobError::Input(format!("{}: {name} is not UTF-8", opened.path.display()))
        })?;
        metadata.push((format!("asset.{name}"), text));
    }
    let bytes = match opened.restore::<B>(device)? {
        TaskModel::Images(m) => to_pytorch_safetensors(&m, &metadata),
        TaskModel::Table(m, _) => to_pytorch_safetensors(&m, &metadata),
        TaskModel::Text(m, _) => {
            let gpt = &cfg.model.gpt;
            metadata.extend([
                ("gpt.layers".to_string(), gpt.layers.to_string()),
                ("gpt.heads".into(), gpt.heads.to_string()),
                ("gpt.embedding".into(), gpt.embedding.to_string()),
                ("gpt.block_size".into(), gpt.block_size.to_string()),
            ]);
            gpt_to_pytorch_safetensors(&m, &metadata)
        }
    }
    .map_err(JobError::runtime)?;
    Ok(Export {
        bytes,
        model,
        global_step: step,
    })
}
