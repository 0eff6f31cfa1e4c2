//! Burn's Adam and AdamW as optimizers whose update runs in one pass over host memory where the
//! backend lends its tensors mutably ([`HostMemory::update_in_place`]), and is Burn's own step
//! everywhere else.
//!
//! Burn's step is a chain of about a dozen element-wise tensor ops per parameter (moments,
//! squares, bias corrections, square root, division, the learning-rate step), each a pass over
//! the parameter. The host pass computes the same f32 operations in the same order per element,
//! in place on the parameter, gradient and moments, so parameters and moments come out bit for
//! bit as Burn's. The state is Burn's (`AdamState`, `AdamWState`), so checkpoints are the same
//! bytes either way.

use burn::optim::{
    Adam, AdamConfig, AdamState, AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState,
    SimpleOptimizer, decay::WeightDecayConfig,
};
use burn::prelude::*;
use burn::tensor::ops::FloatTensor;
use rayon::prelude::*;

use super::HostMemory;
use super::HostOps;
use super::host_tensor::tensor;
use super::simd::{copies, dispatch};

/// Adam's hyper-parameters and which weight decay it applies (no AMSGrad).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamSettings {
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the second moment.
    pub beta_2: f32,
    /// Added to the second moment's square root.
    pub epsilon: f32,
    /// The weight decay, and with it the variant (Burn's `Adam` or `AdamW`).
    pub decay: AdamDecay,
}

/// Adam's weight decay, which also picks the variant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AdamDecay {
    /// Burn's `Adam`: an L2 penalty added to the gradient, if any.
    L2(Option<f32>),
    /// Burn's `AdamW`: decoupled decay of the parameter by `lr * weight_decay`.
    Decoupled(f32),
}

/// Burn's update of one parameter from its gradient and moments, for the backends that run it.
pub type BurnStep<'a, B, const D: usize> =
    &'a dyn Fn(
        Tensor<B, D>,
        Tensor<B, D>,
        Option<AdaptiveMomentumState<B, D>>,
    ) -> (Tensor<B, D>, Option<AdaptiveMomentumState<B, D>>);

/// Burn's `Adam` (`O = Adam`, L2 weight decay) or `AdamW` (`O = AdamW`, decoupled decay),
/// updated on host memory where the backend allows; its state is `O`'s.
#[derive(Clone)]
pub struct HostAdam<O> {
    settings: AdamSettings,
    burn: O,
}

impl<O> HostAdam<O> {
    fn from_parts(burn: O, [beta_1, beta_2, epsilon]: [f32; 3], decay: AdamDecay) -> Self {
        let settings = AdamSettings {
            beta_1,
            beta_2,
            epsilon,
            decay,
        };
        Self { settings, burn }
    }
}

impl HostAdam<Adam> {
    /// Adam with these betas and epsilon and an optional L2 penalty, as `AdamConfig` builds it.
    pub fn adam(beta_1: f32, beta_2: f32, epsilon: f32, l2: Option<f32>) -> Self {
        let burn = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .with_weight_decay(l2.map(WeightDecayConfig::new))
            .build();
        Self::from_parts(burn, [beta_1, beta_2, epsilon], AdamDecay::L2(l2))
    }
}

impl HostAdam<AdamW> {
    /// AdamW with these betas, epsilon and weight decay, as `AdamWConfig` builds it.
    pub fn adamw(beta_1: f32, beta_2: f32, epsilon: f32, weight_decay: f32) -> Self {
        let burn = AdamWConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay)
            .build();
        Self::from_parts(
            burn,
            [beta_1, beta_2, epsilon],
            AdamDecay::Decoupled(weight_decay),
        )
    }
}

/// A Burn optimizer whose per-parameter state is Adam's moments in a wrapper: `Adam`, `AdamW`.
pub trait AdamMoments<B: Backend>: SimpleOptimizer<B> {
    /// The moments inside a state.
    fn moments<const D: usize>(state: Self::State<D>) -> AdaptiveMomentumState<B, D>;
    /// A state holding these moments.
    fn state<const D: usize>(momentum: AdaptiveMomentumState<B, D>) -> Self::State<D>;
}

impl<B: Backend> AdamMoments<B> for Adam {
    fn moments<const D: usize>(state: AdamState<B, D>) -> AdaptiveMomentumState<B, D> {
        state.momentum
    }

    fn state<const D: usize>(momentum: AdaptiveMomentumState<B, D>) -> AdamState<B, D> {
        AdamState::new(momentum)
    }
}

impl<B: Backend> AdamMoments<B> for AdamW {
    fn moments<const D: usize>(state: AdamWState<B, D>) -> AdaptiveMomentumState<B, D> {
        state.momentum
    }

    fn state<const D: usize>(momentum: AdaptiveMomentumState<B, D>) -> AdamWState<B, D> {
        AdamWState { momentum }
    }
}

impl<B: HostOps, O: AdamMoments<B>> SimpleOptimizer<B> for HostAdam<O> {
    type State<const D: usize> = O::State<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let burns = |p, g, m: Option<AdaptiveMomentumState<B, D>>| {
            let (p, s) = self.burn.step(lr, p, g, m.map(O::state));
            (p, s.map(O::moments))
        };
        let momentum = state.map(O::moments);
        let (p, m) = B::adam_step(&self.settings, lr, tensor, grad, momentum, &burns);
        (p, m.map(O::state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        O::to_device(state, device)
    }
}

/// The per-update scalars, computed in f32 as Burn computes them.
struct Factors {
    settings: AdamSettings,
    lr: f32,
    /// `1 - beta_1`, `1 - beta_2`.
    one_minus: [f32; 2],
    /// Adam: the first moment's factor and the epsilon term; AdamW: the two bias corrections.
    correction: [f32; 2],
    /// AdamW: the parameter's decay factor, if `lr * weight_decay` is not 0.
    keep: Option<f32>,
}

impl Factors {
    fn new(settings: &AdamSettings, lr: f64, time: usize) -> Self {
        let AdamSettings {
            beta_1,
            beta_2,
            epsilon,
            decay,
        } = *settings;
        let t = time as i32;
        let (correction, keep) = match decay {
            AdamDecay::L2(_) => {
                let bias_correction2_sqrt = (1.0 - beta_2.powi(t)).sqrt();
                let combined = bias_correction2_sqrt / (1.0 - beta_1.powi(t));
                ([combined, epsilon * bias_correction2_sqrt], None)
            }
            AdamDecay::Decoupled(weight_decay) => {
                let rate = lr * f64::from(weight_decay);
                let keep = (rate != 0.0).then_some((1.0 - rate) as f32);
                ([1f32 - beta_1.powi(t), 1f32 - beta_2.powi(t)], keep)
            }
        };
        Self {
            settings: *settings,
            lr: lr as f32,
            one_minus: [1.0 - beta_1, 1.0 - beta_2],
            correction,
            keep,
        }
    }
}

/// Elements per rayon task of the host update.
const CHUNK: usize = 8192;

/// The update in one pass over host memory, in place; Burn's step (`burns`) where the backend
/// does not lend its tensors mutably or the state is not one this pass computes (AMSGrad).
pub(crate) fn host<I: HostMemory, const D: usize>(
    settings: &AdamSettings,
    lr: f64,
    param: Tensor<I, D>,
    grad: Tensor<I, D>,
    momentum: Option<AdaptiveMomentumState<I, D>>,
    burns: BurnStep<'_, I, D>,
) -> (Tensor<I, D>, Option<AdaptiveMomentumState<I, D>>) {
    let amsgrad = momentum.as_ref().is_some_and(|m| m.max_moment_2.is_some());
    let same_shape = momentum
        .as_ref()
        .is_none_or(|m| m.moment_1.shape() == param.shape() && m.moment_2.shape() == param.shape());
    if amsgrad || !same_shape || grad.shape() != param.shape() {
        return burns(param, grad, momentum);
    }
    let first = momentum.is_none();
    let (time, m, v) = match momentum {
        Some(state) => (state.time + 1, state.moment_1, state.moment_2),
        None => {
            let zeros = || Tensor::zeros(param.shape(), &param.device());
            (1, zeros(), zeros())
        }
    };
    let factors = Factors::new(settings, lr, time);
    let mut operands: [FloatTensor<I>; 4] =
        [param, grad, m, v].map(|t| t.into_primitive().tensor());
    let mut update = |[p, g, m, v]: [&mut [f32]; 4]| {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks_mut(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| {
                // The widest vectors the CPU has (the same bits on every path: `simd`).
                dispatch!(update_elements(&factors, p, g, m, v, first))
            });
    };
    let updated = I::update_in_place(&mut operands, &mut update);
    let [p, g, m, v] = operands;
    if updated {
        let state = AdaptiveMomentumState::new(time, tensor(m), tensor(v));
        (tensor(p), Some(state))
    } else {
        let momentum = (!first).then(|| AdaptiveMomentumState::new(time - 1, tensor(m), tensor(v)));
        burns(tensor(p), tensor(g), momentum)
    }
}

/// One chunk of elements in place: the parameters `p`, their gradients `g` (overwritten
/// by the L2-decayed gradient), and the moments `m`, `v` (read unless `first`). Each pass
/// is a plain loop over slices, so it compiles to vector instructions (the widest the CPU
/// has, by `dispatch!`).
#[inline(always)]
fn update_elements(
    factors: &Factors,
    p: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    first: bool,
) {
    let AdamSettings {
        beta_1,
        beta_2,
        decay,
        epsilon,
    } = factors.settings;
    if let AdamDecay::L2(Some(penalty)) = decay {
        for (g, p) in g.iter_mut().zip(p.iter()) {
            *g += *p * penalty;
        }
    }
    let [f1, f2] = factors.one_minus;
    if first {
        for ((m, v), g) in m.iter_mut().zip(v.iter_mut()).zip(g.iter()) {
            *m = g * f1;
            *v = (g * g) * f2;
        }
    } else {
        for ((m, v), g) in m.iter_mut().zip(v.iter_mut()).zip(g.iter()) {
            *m = *m * beta_1 + g * f1;
            *v = *v * beta_2 + (g * g) * f2;
        }
    }
    let lr = factors.lr;
    match decay {
        AdamDecay::L2(_) => {
            let [combined, eps] = factors.correction;
            for ((p, m), v) in p.iter_mut().zip(m.iter()).zip(v.iter()) {
                *p -= ((m * combined) / (v.sqrt() + eps)) * lr;
            }
        }
        AdamDecay::Decoupled(_) => {
            let [c1, c2] = factors.correction;
            for ((p, m), v) in p.iter_mut().zip(m.iter()).zip(v.iter()) {
                let delta = (m / c1) / ((v / c2).sqrt() + epsilon);
                let decayed = match factors.keep {
                    Some(keep) => *p * keep,
                    None => *p,
                };
                *p = decayed - delta * lr;
            }
        }
    }
}

copies! {
    fn update_elements(
        factors: &Factors,
        p: &mut [f32],
        g: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        first: bool,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::module::{Module, Param};
    use burn::optim::adaptor::OptimizerAdaptor;
    use burn::optim::{GradientsParams, Optimizer};
    use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
    use burn::tensor::Distribution;

    type A = Autodiff<Flex>;

    #[derive(Module, Debug)]
    struct Weights<B: Backend> {
        w: Param<Tensor<B, 2>>,
    }

    /// A `[37, 29]` parameter and four gradients for it.
    fn problem() -> (Tensor<A, 2>, Vec<Tensor<A, 2>>) {
        let device = Default::default();
        let init = Tensor::<A, 2>::random([37, 29], Distribution::Normal(0.0, 1.0), &device);
        let grads = (0..4)
            .map(|_| Tensor::random([37, 29], Distribution::Normal(0.0, 0.1), &device))
            .collect();
        (init, grads)
    }

    /// The parameter after each update of `optim`, starting from `model`.
    fn updates(
        optim: &mut impl Optimizer<Weights<A>, A>,
        mut model: Weights<A>,
        grads: &[Tensor<A, 2>],
    ) -> (Vec<TensorData>, Weights<A>) {
        let mut after = Vec::new();
        for g in grads {
            let loss = (model.w.val() * g.clone().detach()).sum();
            let gp = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(3e-3, model, gp);
            after.push(model.w.val().into_data());
        }
        (after, model)
    }

    /// The parameter after each update by the host pass alone (falling back fails the test).
    fn host_only(
        settings: AdamDecay,
        init: &Tensor<A, 2>,
        grads: &[Tensor<A, 2>],
    ) -> Vec<TensorData> {
        let settings = AdamSettings {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            decay: settings,
        };
        let never: BurnStep<'_, Flex, 2> = &|_, _, _| panic!("the host pass fell back");
        let (mut p, mut m, mut after) = (init.clone().inner(), None, Vec::new());
        for g in grads {
            let (next, state) = host(&settings, 3e-3, p, g.clone().inner(), m, never);
            after.push(next.to_data());
            (p, m) = (next, state);
        }
        after
    }

    fn weights(init: &Tensor<A, 2>) -> Weights<A> {
        Weights {
            w: Param::from_tensor(init.clone()),
        }
    }

    /// Burn's optimizer and ours from the same start and gradients, and the host pass alone:
    /// the same parameters after every update.
    fn assert_same_as_burns(
        mut burns: impl Optimizer<Weights<A>, A>,
        mut ours: impl Optimizer<Weights<A>, A>,
        decay: AdamDecay,
    ) {
        let (init, grads) = problem();
        let (theirs, _) = updates(&mut burns, weights(&init), &grads);
        let (mine, _) = updates(&mut ours, weights(&init), &grads);
        assert_eq!(mine, theirs, "through the adaptor, {decay:?}");
        let host = host_only(decay, &init, &grads);
        assert_eq!(host, theirs, "the host pass alone, {decay:?}");
    }

    #[test]
    fn host_adam_is_burns_adam_bit_for_bit() {
        for l2 in [None, Some(0.01)] {
            let burns = AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(l2.map(WeightDecayConfig::new))
                .init::<A, Weights<A>>();
            let ours: OptimizerAdaptor<HostAdam<Adam>, Weights<A>, A> =
                HostAdam::adam(0.9, 0.999, 1e-8, l2).into();
            assert_same_as_burns(burns, ours, AdamDecay::L2(l2));
        }
    }

    #[test]
    fn host_adamw_is_burns_adamw_bit_for_bit() {
        for weight_decay in [0.0, 0.1] {
            let burns = AdamWConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(weight_decay)
                .init::<A, Weights<A>>();
            let ours: OptimizerAdaptor<HostAdam<AdamW>, Weights<A>, A> =
                HostAdam::adamw(0.9, 0.999, 1e-8, weight_decay).into();
            assert_same_as_burns(burns, ours, AdamDecay::Decoupled(weight_decay));
        }
    }

    #[test]
    fn burns_adam_checkpoint_resumes_under_host_adam() {
        // Two updates by Burn's Adam, its state saved as checkpoints save it, then two more
        // by each optimizer from that state: the same parameters.
        let (init, grads) = problem();
        let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
        let mut burns = AdamConfig::new().with_epsilon(1e-8).init::<A, Weights<A>>();
        let (_, model) = updates(&mut burns, weights(&init), &grads[..2]);
        let bytes = Recorder::<A>::record(&recorder, burns.to_record(), ()).expect("encodes");
        let device = Default::default();
        let record = Recorder::<A>::load(&recorder, bytes, &device).expect("decodes as HostAdam's");
        let ours: OptimizerAdaptor<HostAdam<Adam>, Weights<A>, A> =
            HostAdam::adam(0.9, 0.999, 1e-8, None).into();
        let mut ours = ours.load_record(record);
        let (theirs, _) = updates(&mut burns, model.clone(), &grads[2..]);
        let (mine, _) = updates(&mut ours, model, &grads[2..]);
        assert_eq!(mine, theirs);
    }

    #[test]
    fn flex_updates_a_unique_tensor_in_place_and_copies_a_shared_one() {
        let device = Default::default();
        let x = Tensor::<Flex, 1>::from_data([1.0f32, 2.0, 3.0], &device);
        let kept = x.clone();
        let double = &mut |[x]: [&mut [f32]; 1]| x.iter_mut().for_each(|v| *v *= 2.0);
        let mut operands = [x.into_primitive().tensor()];
        assert!(
            Flex::update_in_place(&mut operands, double),
            "flex lends contiguous f32"
        );
        let [shared] = operands;
        let doubled: Tensor<Flex, 1> = tensor(shared);
        assert_eq!(
            doubled.to_data().to_vec::<f32>().ok(),
            Some(vec![2.0, 4.0, 6.0])
        );
        assert_eq!(
            kept.to_data().to_vec::<f32>().ok(),
            Some(vec![1.0, 2.0, 3.0]),
            "the other holder of a shared buffer keeps its values"
        );
        let strided =
            Tensor::<Flex, 2>::from_data([[1.0f32, 2.0], [3.0, 4.0]], &device).transpose();
        let noop = &mut |_: [&mut [f32]; 1]| {};
        let mut operands = [strided.into_primitive().tensor()];
        assert!(
            !Flex::update_in_place(&mut operands, noop),
            "a strided tensor is left as it is"
        );
    }
}
