//! Multi-layer perceptron: Linear -> ReLU -> Dropout, repeated, then a Linear head.

use super::{Scores, Trainable};
use crate::config::MlpConfig;
use crate::data::{Samples, TableBatch, TableTargets};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;
use trainer_ops::HostOps;

/// MLP classifier on flattened inputs. Tensor names: `layers.{i}.weight|bias`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    layers: Vec<Linear<B>>,
    activation: Relu,
    dropout: Dropout,
}

impl<B: Backend> Mlp<B> {
    /// `d_in -> hidden[0] -> ... -> num_classes`.
    pub fn new(cfg: &MlpConfig, d_in: usize, num_classes: usize, device: &B::Device) -> Self {
        let widths: Vec<usize> = std::iter::once(d_in)
            .chain(cfg.hidden.iter().copied())
            .chain([num_classes])
            .collect();
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Self {
            layers,
            activation: Relu::new(),
            dropout: DropoutConfig::new(cfg.dropout).init(),
        }
    }
}

impl<B: HostOps> Mlp<B> {
    /// Logits `[batch, classes]` for `x: [batch, d_in]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let (head, hidden) = self
            .layers
            .split_last()
            .expect("an MLP has at least one layer");
        let x = hidden.iter().fold(x, |x, layer| {
            B::dropout_forward(
                &self.dropout,
                B::relu_forward(&self.activation, layer.forward(x)),
            )
        });
        head.forward(x)
    }
}

/// The tabular model: rows of standardized features in, class logits (classification) or one
/// standardized value (regression, built with one output) out.
impl<B: HostOps> Trainable<B> for Mlp<B> {
    type Batch = TableBatch;

    fn score(&self, batch: &TableBatch, device: &B::Device) -> Scores<B> {
        let rows = batch.samples();
        let width = batch.features.len() / rows.max(1);
        let x = Tensor::from_data(
            TensorData::new(batch.features.clone(), [rows, width]),
            device,
        );
        let outputs = self.forward(super::like_params(x, self));
        let labels = match &batch.targets {
            TableTargets::Values(v) => {
                return Scores::Values {
                    predicted: outputs,
                    targets: Tensor::from_data(TensorData::new(v.clone(), [rows]), device),
                    scale: batch.target,
                };
            }
            TableTargets::Classes(c) => c.clone(),
            // An unlabelled file (scoring) reads only the outputs; its targets are placeholders.
            TableTargets::Unlabelled(_) => vec![0; rows],
        };
        Scores::Classes {
            logits: outputs,
            targets: Tensor::from_data(TensorData::new(labels, [rows]), device),
        }
    }
}
