//! Models, generic over the Burn backend, behind one `Classifier` module enum.

mod cnn;
mod export;
mod mlp;

pub use cnn::Cnn;
pub use export::{ExportError, to_pytorch_safetensors};
pub use mlp::Mlp;

use crate::config::{ModelConfig, ModelKind};
use burn::prelude::*;

/// Any image classifier the trainer can build from config.
// One value per run, moved by value through each step: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Classifier<B: Backend> {
    /// See [`Mlp`].
    Mlp(Mlp<B>),
    /// See [`Cnn`].
    Cnn(Cnn<B>),
}

impl<B: Backend> Classifier<B> {
    /// Builds the model named by `cfg.kind` for inputs of `input_shape` (`[c, h, w]`).
    pub fn new(
        cfg: &ModelConfig,
        input_shape: [usize; 3],
        num_classes: usize,
        device: &B::Device,
    ) -> Self {
        match cfg.kind {
            ModelKind::Mlp => Classifier::Mlp(Mlp::new(
                &cfg.mlp,
                input_shape.iter().product(),
                num_classes,
                device,
            )),
            ModelKind::Cnn => Classifier::Cnn(Cnn::new(&cfg.cnn, input_shape, num_classes, device)),
        }
    }

    /// Logits `[batch, classes]` for images `[batch, c, h, w]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        match self {
            Classifier::Mlp(m) => m.forward(images.flatten(1, 3)),
            Classifier::Cnn(m) => m.forward(images),
        }
    }
}

/// Shape check for `[model]` against the data, as a readable message (the CNN needs >= 6x6).
pub fn check_input(cfg: &ModelConfig, input_shape: [usize; 3]) -> Result<(), String> {
    let [_, h, w] = input_shape;
    if cfg.kind == ModelKind::Cnn && (h < 6 || w < 6) {
        return Err(format!(
            "model.kind = \"cnn\" needs images of at least 6x6, the data has {h}x{w}"
        ));
    }
    Ok(())
}
