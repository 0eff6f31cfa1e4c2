//! Records a host op whose parents are an input, a weight and an optional bias (the linear
//! layer, the convolution, layer normalization) in Burn's autodiff graph.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::ops::{Backward, OpsKind};
use burn::prelude::*;
use burn::tensor::ops::FloatTensor;

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
