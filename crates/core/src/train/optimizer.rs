//! The optimizer chosen in config, as one type the loop can hold.

use crate::config::{OptimizerKind, TrainConfig};
use burn::module::AutodiffModule;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, GradientsParams, Optimizer, Sgd, SgdConfig,
    adaptor::OptimizerAdaptor,
};
use burn::tensor::backend::AutodiffBackend;

/// Adam, AdamW or SGD over a module `M`.
pub enum AnyOptimizer<B: AutodiffBackend, M: AutodiffModule<B>> {
    /// Adam with L2 weight decay.
    Adam(OptimizerAdaptor<Adam, M, B>),
    /// AdamW (decoupled weight decay).
    AdamW(OptimizerAdaptor<AdamW, M, B>),
    /// SGD with momentum and L2 weight decay.
    Sgd(OptimizerAdaptor<Sgd<B::InnerBackend>, M, B>),
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> AnyOptimizer<B, M> {
    /// Builds the optimizer `[train]` asks for, with PyTorch's default betas and epsilon.
    pub fn new(cfg: &TrainConfig) -> Self {
        let wd = cfg.weight_decay as f32;
        let l2 = (wd > 0.0).then(|| WeightDecayConfig::new(wd));
        match cfg.optimizer {
            OptimizerKind::Adam => Self::Adam(
                AdamConfig::new()
                    .with_epsilon(1e-8)
                    .with_weight_decay(l2)
                    .init(),
            ),
            OptimizerKind::Adamw => Self::AdamW(
                AdamWConfig::new()
                    .with_epsilon(1e-8)
                    .with_weight_decay(wd)
                    .init(),
            ),
            OptimizerKind::Sgd => {
                let momentum = (cfg.momentum > 0.0).then_some(MomentumConfig {
                    momentum: cfg.momentum,
                    dampening: 0.0,
                    nesterov: false,
                });
                Self::Sgd(
                    SgdConfig::new()
                        .with_momentum(momentum)
                        .with_weight_decay(l2)
                        .init(),
                )
            }
        }
    }

    /// One update of `module` with `grads` at learning rate `lr`.
    pub fn step(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        match self {
            Self::Adam(o) => o.step(lr, module, grads),
            Self::AdamW(o) => o.step(lr, module, grads),
            Self::Sgd(o) => o.step(lr, module, grads),
        }
    }
}
