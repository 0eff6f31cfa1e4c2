//! The optimizer chosen in config, as one type the loop can hold.

use crate::config::{OptimizerKind, TrainConfig};
use burn::module::AutodiffModule;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    Adam, AdamW, GradientsParams, Optimizer, Sgd, SgdConfig, adaptor::OptimizerAdaptor,
};
use trainer_ops::{HostAdam, TrainBackend};

/// PyTorch's default Adam betas.
const BETAS: (f32, f32) = (0.9, 0.999);
/// PyTorch's default Adam epsilon.
const EPSILON: f32 = 1e-8;

/// Adam, AdamW or SGD over a module `M`.
pub enum AnyOptimizer<B: TrainBackend, M: AutodiffModule<B>> {
    /// Adam with L2 weight decay (Burn's, updated on host memory where the backend keeps it).
    Adam(OptimizerAdaptor<HostAdam<Adam>, M, B>),
    /// AdamW, decoupled weight decay (likewise).
    AdamW(OptimizerAdaptor<HostAdam<AdamW>, M, B>),
    /// SGD with momentum and L2 weight decay.
    Sgd(OptimizerAdaptor<Sgd<B::InnerBackend>, M, B>),
}

impl<B: TrainBackend, M: AutodiffModule<B>> AnyOptimizer<B, M> {
    /// Builds the optimizer `[train]` asks for, with PyTorch's default betas and epsilon.
    pub fn new(cfg: &TrainConfig) -> Self {
        let wd = cfg.weight_decay as f32;
        let penalty = (wd > 0.0).then_some(wd);
        let (beta_1, beta_2) = BETAS;
        match cfg.optimizer {
            OptimizerKind::Adam => {
                Self::Adam(HostAdam::adam(beta_1, beta_2, EPSILON, penalty).into())
            }
            OptimizerKind::Adamw => {
                Self::AdamW(HostAdam::adamw(beta_1, beta_2, EPSILON, wd).into())
            }
            OptimizerKind::Sgd => {
                let momentum = (cfg.momentum > 0.0).then_some(MomentumConfig {
                    momentum: cfg.momentum,
                    dampening: 0.0,
                    nesterov: false,
                });
                Self::Sgd(
                    SgdConfig::new()
                        .with_momentum(momentum)
                        .with_weight_decay(penalty.map(WeightDecayConfig::new))
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
