//! The classic MNIST CNN (PyTorch's `examples/mnist`): two 3x3 convs, max-pool 2, dropout,
//! dense hidden layer, dropout, dense head. Tensor names match that module.

use crate::config::CnnConfig;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;
use trainer_ops::HostOps;

/// CNN classifier for `[batch, c, h, w]` images.
#[derive(Module, Debug)]
pub struct Cnn<B: Backend> {
    conv1: Conv2d<B>,
    conv2: Conv2d<B>,
    pool: MaxPool2d,
    dropout1: Dropout,
    fc1: Linear<B>,
    dropout2: Dropout,
    fc2: Linear<B>,
    activation: Relu,
}

impl<B: Backend> Cnn<B> {
    /// For 1x28x28 inputs and default channels, `fc1` is 9216 -> 128.
    pub fn new(
        cfg: &CnnConfig,
        input_shape: [usize; 3],
        num_classes: usize,
        device: &B::Device,
    ) -> Self {
        let [c, h, w] = input_shape;
        let [c1, c2] = cfg.channels;
        // Two valid 3x3 convs shrink each side by 4; the 2x2 pool halves it.
        let flat = c2 * ((h - 4) / 2) * ((w - 4) / 2);
        Self {
            conv1: Conv2dConfig::new([c, c1], [3, 3]).init(device),
            conv2: Conv2dConfig::new([c1, c2], [3, 3]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            dropout1: DropoutConfig::new(cfg.dropout_conv).init(),
            fc1: LinearConfig::new(flat, cfg.fc_hidden).init(device),
            dropout2: DropoutConfig::new(cfg.dropout_fc).init(),
            fc2: LinearConfig::new(cfg.fc_hidden, num_classes).init(device),
            activation: Relu::new(),
        }
    }
}

impl<B: HostOps> Cnn<B> {
    /// Logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = B::relu_forward(&self.activation, B::conv2d_forward(&self.conv1, x)); // [b, c1, h-2, w-2]
        let x = B::conv2d_forward(&self.conv2, x); // [b, c2, h-4, w-4]
        // Pooled, then the ReLU (PyTorch's module applies them the other way round): both are
        // monotone, so each pooled value and each gradient is the same, and the ReLU passes over
        // a quarter of the elements.
        let x = B::relu_forward(&self.activation, B::max_pool2d_forward(&self.pool, x)); // [b, c2, (h-4)/2, (w-4)/2]
        let x = B::dropout_forward(&self.dropout1, x);
        let x = B::relu_forward(&self.activation, self.fc1.forward(x.flatten(1, 3))); // [b, fc_hidden]
        self.fc2.forward(B::dropout_forward(&self.dropout2, x)) // [b, classes]
    }
}
