//! A checkpoint's image classifier as safetensors with PyTorch names and layouts.

use super::{JobError, restore};
use burn::prelude::Backend;
use std::path::Path;

/// An exported model: the file's bytes and what it holds.
pub struct Export {
    /// The safetensors file.
    pub bytes: Vec<u8>,
    /// The model kind (`mlp`, `cnn`, ...).
    pub model: &'static str,
    /// The checkpoint's global step.
    pub global_step: usize,
}

/// The checkpoint's weights as safetensors with PyTorch names and layouts (`layers.0.weight` as
/// [out, in], `conv1.weight` as [out, in, kh, kw]), the global step in the header.
pub fn pytorch_export<B: Backend>(
    checkpoint: &Path,
    device: &B::Device,
) -> Result<Export, JobError> {
    let r = restore::<B>(checkpoint, device)?;
    let model = r.config.model.kind.name();
    let metadata = [
        ("producer", "trainer".to_string()),
        ("trainer_version", env!("CARGO_PKG_VERSION").to_string()),
        ("model", model.to_string()),
        ("global_step", r.state.position.global_step.to_string()),
    ];
    let bytes =
        crate::model::to_pytorch_safetensors(&r.model, &metadata).map_err(JobError::runtime)?;
    Ok(Export {
        bytes,
        model,
        global_step: r.state.position.global_step,
    })
}
