//! A small ResNet for 32x32 images (He et al.'s CIFAR family): a 3x3 stem, three stages of basic
//! residual blocks (the 2nd and 3rd halve the resolution and double the width), global average
//! pooling and a linear head. Tensor names are torchvision's (`layer1.0.conv1.weight`,
//! `bn1.running_mean`), except the shortcut projection: `downsample.conv` / `downsample.bn`.

use crate::config::ResnetConfig;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use trainer_ops::HostOps;

/// A 3x3 convolution with padding 1 and no bias (batch norm follows).
fn conv3x3<B: Backend>(c_in: usize, c_out: usize, stride: usize, device: &B::Device) -> Conv2d<B> {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

/// The 1x1 projection on a block's shortcut when its shape changes.
#[derive(Module, Debug)]
pub struct Downsample<B: Backend> {
    conv: Conv2d<B>,
    bn: BatchNorm<B>,
}

/// Two 3x3 conv + BN layers with an identity (or projected) shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    conv2: Conv2d<B>,
    bn2: BatchNorm<B>,
    downsample: Option<Downsample<B>>,
    activation: Relu,
}

impl<B: Backend> BasicBlock<B> {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &B::Device) -> Self {
        let downsample = (stride != 1 || c_in != c_out).then(|| Downsample {
            conv: Conv2dConfig::new([c_in, c_out], [1, 1])
                .with_stride([stride, stride])
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        });
        Self {
            conv1: conv3x3(c_in, c_out, stride, device),
            bn1: BatchNormConfig::new(c_out).init(device),
            conv2: conv3x3(c_out, c_out, 1, device),
            bn2: BatchNormConfig::new(c_out).init(device),
            downsample,
            activation: Relu::new(),
        }
    }
}

impl<B: HostOps> BasicBlock<B> {
    /// The block's output: two 3x3 convolutions on the residual path, plus the shortcut.
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let shortcut = match &self.downsample {
            Some(d) => d.bn.forward(B::conv2d_forward(&d.conv, x.clone())),
            None => x.clone(),
        };
        let y = B::relu_forward(
            &self.activation,
            self.bn1.forward(B::conv2d_forward(&self.conv1, x)),
        );
        let y = self.bn2.forward(B::conv2d_forward(&self.conv2, y));
        B::relu_forward(&self.activation, y + shortcut)
    }
}

/// ResNet classifier for `[batch, c, h, w]` images.
#[derive(Module, Debug)]
pub struct Resnet<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    layer1: Vec<BasicBlock<B>>,
    layer2: Vec<BasicBlock<B>>,
    layer3: Vec<BasicBlock<B>>,
    fc: Linear<B>,
    activation: Relu,
}

impl<B: Backend> Resnet<B> {
    /// `widths[i]` channels in stage i, `blocks` basic blocks per stage.
    pub fn new(
        cfg: &ResnetConfig,
        channels: usize,
        num_classes: usize,
        device: &B::Device,
    ) -> Self {
        let [w1, w2, w3] = cfg.widths;
        let stage = |c_in: usize, c_out: usize, stride: usize| -> Vec<BasicBlock<B>> {
            (0..cfg.blocks.max(1))
                .map(|i| {
                    let (c, s) = if i == 0 { (c_in, stride) } else { (c_out, 1) };
                    BasicBlock::new(c, c_out, s, device)
                })
                .collect()
        };
        Self {
            conv1: conv3x3(channels, w1, 1, device),
            bn1: BatchNormConfig::new(w1).init(device),
            layer1: stage(w1, w1, 1),
            layer2: stage(w1, w2, 2),
            layer3: stage(w2, w3, 2),
            fc: LinearConfig::new(w3, num_classes).init(device),
            activation: Relu::new(),
        }
    }
}

impl<B: HostOps> Resnet<B> {
    /// Logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = B::relu_forward(
            &self.activation,
            self.bn1.forward(B::conv2d_forward(&self.conv1, x)),
        );
        let x = [&self.layer1, &self.layer2, &self.layer3]
            .into_iter()
            .flatten()
            .fold(x, |x, block| block.forward(x));
        let [b, c, _, _] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2).reshape([b, c]); // global average pool
        self.fc.forward(pooled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn stages_halve_the_resolution_and_the_head_sees_the_last_width() {
        let cfg = ResnetConfig {
            widths: [4, 8, 16],
            blocks: 2,
        };
        let device = Default::default();
        let m = Resnet::<Flex>::new(&cfg, 3, 10, &device);
        assert!(
            m.layer1[0].downsample.is_none(),
            "same shape: identity shortcut"
        );
        assert!(m.layer2[0].downsample.is_some() && m.layer2[1].downsample.is_none());
        let x = Tensor::<Flex, 4>::ones([2, 3, 32, 32], &device);
        assert_eq!(m.forward(x).dims(), [2, 10]);
    }
}
