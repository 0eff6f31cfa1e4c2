//! Models, generic over the Burn backend: image classifiers behind one `Classifier` module enum,
//! the tabular MLP and the character-level GPT; each is `Trainable` on its own kind of batch.

mod cnn;
mod export;
mod export_gpt;
mod factory;
mod generate;
mod gpt;
mod gpt_blocks;
mod mlp;
mod resnet;
mod trainable;

pub use cnn::Cnn;
pub use export::{ExportError, to_pytorch_safetensors};
pub use export_gpt::gpt_to_pytorch_safetensors;
pub use factory::ModelFactory;
pub use generate::{Sampling, draw, generate};
pub use gpt::Gpt;
pub use mlp::Mlp;
pub use resnet::Resnet;
pub use trainable::{Scores, Trainable, like_params};

use crate::config::{ModelConfig, ModelKind};
use crate::data::HostBatch;
use burn::prelude::*;
use trainer_ops::HostOps;

/// Uploads a host batch: images `[n, c, h, w]` and integer labels `[n]`.
pub fn device_batch<B: Backend>(
    batch: &HostBatch,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
    let [c, h, w] = batch.sample_shape;
    let n = batch.len();
    let images = Tensor::from_data(
        TensorData::new(batch.features.clone(), [n, c, h, w]),
        device,
    );
    let labels = Tensor::from_data(TensorData::new(batch.labels.clone(), [n]), device);
    (images, labels)
}

/// Any image classifier the trainer can build from config.
// One value per run, moved by value through each step: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Classifier<B: Backend> {
    /// See [`Mlp`].
    Mlp(Mlp<B>),
    /// See [`Cnn`].
    Cnn(Cnn<B>),
    /// See [`Resnet`].
    Resnet(Resnet<B>),
}

impl<B: Backend> Classifier<B> {
    /// Builds the image model named by `cfg.kind` (`mlp` or `cnn`) for inputs of `input_shape`
    /// (`[c, h, w]`); other kinds build the MLP (config validation keeps them off image data).
    pub fn new(
        cfg: &ModelConfig,
        input_shape: [usize; 3],
        num_classes: usize,
        device: &B::Device,
    ) -> Self {
        match cfg.kind {
            ModelKind::Mlp | ModelKind::Gpt => Classifier::Mlp(Mlp::new(
                &cfg.mlp,
                input_shape.iter().product(),
                num_classes,
                device,
            )),
            ModelKind::Cnn => Classifier::Cnn(Cnn::new(&cfg.cnn, input_shape, num_classes, device)),
            ModelKind::Resnet => Classifier::Resnet(Resnet::new(
                &cfg.resnet,
                input_shape[0],
                num_classes,
                device,
            )),
        }
    }
}

impl<B: HostOps> Classifier<B> {
    /// Logits `[batch, classes]` for images `[batch, c, h, w]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        match self {
            Classifier::Mlp(m) => m.forward(images.flatten(1, 3)),
            Classifier::Cnn(m) => m.forward(images),
            Classifier::Resnet(m) => m.forward(images),
        }
    }
}

impl<B: HostOps> Trainable<B> for Classifier<B> {
    type Batch = HostBatch;

    fn score(&self, batch: &HostBatch, device: &B::Device) -> Scores<B> {
        let (images, labels) = device_batch::<B>(batch, device);
        Scores::Classes {
            logits: self.forward(like_params(images, self)),
            targets: labels,
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
    if cfg.kind == ModelKind::Resnet && (h < 4 || w < 4) {
        return Err(format!(
            "model.kind = \"resnet\" needs images of at least 4x4, the data has {h}x{w}"
        ));
    }
    Ok(())
}
