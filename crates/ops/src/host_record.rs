//! Records host ops in Burn's autodiff graph: those whose parents are an input, a weight and
//! an optional bias (the linear layer, the convolution, layer normalization), and element-wise
//! ops of one input (GELU, ReLU), whose backward is written once here.

use super::HostMemory;
use super::host_tensor::from_host;
use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn::tensor::ops::FloatTensor;
use std::marker::PhantomData;

/// `y` as the output of `op` on `x`, `weight` and, if present, `bias`: its backward (with
/// `saved`) is registered if any parent is tracked. `op` takes three parents with a bias, two
/// without.
pub(crate) fn record_affine<I, Op, S>(
    op: Op,
    [x, weight]: [&FloatTensor<Autodiff<I>>; 2],
    bias: Option<&FloatTensor<Autodiff<I>>>,
    y: FloatTensor<I>,
    saved: S,
) -> FloatTensor<Autodiff<I>>
where
    I: Backend,
    Op: Backward<I, 2, State = S> + Backward<I, 3, State = S>,
    S: Clone + Send + std::fmt::Debug + 'static,
{
    let (x, weight) = (x.node.clone(), weight.node.clone());
    match bias {
        Some(bias) => finish(
            <Op as Backward<I, 3>>::prepare::<NoCheckpointing>(op, [x, weight, bias.node.clone()])
                .compute_bound()
                .stateful(),
            y,
            saved,
        ),
        None => finish(
            <Op as Backward<I, 2>>::prepare::<NoCheckpointing>(op, [x, weight])
                .compute_bound()
                .stateful(),
            y,
            saved,
        ),
    }
}

/// Registers the backward of `y` if the op is tracked.
fn finish<I, Op, S, const N: usize>(
    kind: OpsKind<Op, I, S, NoCheckpointing, N>,
    y: FloatTensor<I>,
    saved: S,
) -> FloatTensor<Autodiff<I>>
where
    I: Backend,
    Op: Backward<I, N, State = S>,
    S: Clone + Send + std::fmt::Debug + 'static,
{
    match kind {
        OpsKind::Tracked(prep) => prep.finish(saved, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

/// What an element-wise host op keeps for its backward (besides the input's shape).
pub(crate) trait UnaryState<I: HostMemory, const D: usize>: Clone + Send + 'static {
    /// The input gradient for the output gradient `grad`; `None` if what was kept is not f32
    /// (never, by construction of the ops).
    fn input_grad(&self, grad: &[f32]) -> Option<Vec<f32>>;
}

/// An op's kept state and its input's shape (all that `Debug` shows of it).
#[derive(Clone)]
struct Kept<S, const D: usize> {
    state: S,
    shape: [usize; D],
}

impl<S, const D: usize> std::fmt::Debug for Kept<S, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kept({:?})", self.shape)
    }
}

/// The autodiff op of an element-wise host op whose backward keeps an `S`.
struct HostUnary<S, const D: usize>(PhantomData<S>);

impl<S, const D: usize> std::fmt::Debug for HostUnary<S, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostUnary<{}>", std::any::type_name::<S>())
    }
}

impl<I: HostMemory, const D: usize, S: UnaryState<I, D>> Backward<I, 1> for HostUnary<S, D> {
    type State = Kept<S, D>;

    fn backward(self, ops: Ops<Kept<S, D>, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<I>(&ops.node);
        let device = I::float_device(&grad);
        let [Some(node)] = ops.parents else {
            return;
        };
        let Kept { state, shape } = ops.state;
        // The output is f32 by construction; nothing to register otherwise.
        let Some(dx) = I::f32_elements::<D>(&grad).and_then(|g| state.input_grad(&g)) else {
            return;
        };
        grads.register::<I>(node.id, from_host::<I, D>(dx, shape, &device));
    }
}

/// `y` as the output of an element-wise host op on `x` (of `shape`): its backward (with
/// `state`) is registered if `x` is tracked.
pub(crate) fn record_unary<I: HostMemory, const D: usize, S: UnaryState<I, D>>(
    x: &FloatTensor<Autodiff<I>>,
    y: FloatTensor<I>,
    state: S,
    shape: [usize; D],
) -> FloatTensor<Autodiff<I>> {
    let op = HostUnary::<S, D>(PhantomData);
    finish(
        op.prepare::<NoCheckpointing>([x.node.clone()])
            .compute_bound()
            .stateful(),
        y,
        Kept { state, shape },
    )
}
