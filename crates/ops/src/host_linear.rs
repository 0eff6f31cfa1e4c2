//! A linear layer as one autodiff op where tensors live in host memory: `x @ W + b` and its
//! gradients as gemm products that read transposed operands through strides.
//!
//! Burn's `Linear` on flex is a matmul plus a broadcast bias add and their backwards. Flex
//! allocates each matmul output with `FlexTensor::empty`, which zeroes a byte vector and then
//! copies it into an aligned buffer (cubecl's `Bytes::from_bytes_vec`), both on the calling
//! thread while the other cores wait: 9% of the GPT's CPU step once its layer norms were host
//! ops (`benches/results/2026-12-05-cpu-layer-norm/`). Here the forward writes the bias into
//! the output and accumulates the product onto it, the backward passes `Wᵀ` and `xᵀ` to gemm as
//! strided views and runs the input and weight gradients side by side, each on half the
//! threads (`host_gemm::product_pair`: 5-7% of a CPU GPT step,
//! `benches/results/2026-12-06-cpu-linear-gradients-side-by-side/`), and every output is a
//! plain vector written once. The inference backends run the same forward. Other backends and
//! dtypes take Burn's `Linear::forward`; the module and its record are Burn's either way.
//! Results do not depend on the thread count (gemm splits rows and columns, never a sum; the
//! bias gradient adds fixed blocks of rows in order).

use super::HostMemory;
use super::host_gemm::{MatRef, matmul_parallel, product_pair, product_parallel};
use super::host_record::record_affine;
use super::host_tensor::{from_host, primitive, tensor};
use super::outputs::written;
use super::partial_sums::sum_in_order;
use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::FloatTensor;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// `layer.forward(x)` under `Autodiff<I>`, by the host op where it applies.
pub(crate) fn linear<I: HostMemory, const D: usize>(
    layer: &Linear<Autodiff<I>>,
    x: Tensor<Autodiff<I>, D>,
) -> Tensor<Autodiff<I>, D> {
    host_shape(layer, &x)
        .and_then(|shape| on_host(layer, &x, shape))
        .unwrap_or_else(|| layer.forward(x))
}

/// `layer.forward(x)` on the inference backend `I`, by the host forward where it applies.
pub(crate) fn linear_inference<I: HostMemory, const D: usize>(
    layer: &Linear<I>,
    x: Tensor<I, D>,
) -> Tensor<I, D> {
    host_shape(layer, &x)
        .and_then(|shape| {
            let weight = primitive(&layer.weight.val());
            let bias = layer.bias.as_ref().map(|b| primitive(&b.val()));
            host_forward::<I, D>(&shape, &primitive(&x), &weight, bias.as_ref())
        })
        .map(tensor)
        .unwrap_or_else(|| layer.forward(x))
}

/// The shapes of one call: `x` is `rows x d_in` (its leading dimensions flattened).
#[derive(Clone, Copy, Debug)]
struct Shape<const D: usize> {
    input: [usize; D],
    rows: usize,
    d_in: usize,
    d_out: usize,
}

impl<const D: usize> Shape<D> {
    /// The output's dimensions: `x`'s with the last one `d_out`.
    fn output(&self) -> [usize; D] {
        let mut dims = self.input;
        dims[D - 1] = self.d_out;
        dims
    }
}

/// The shapes when the host op can run the layer: f32 input and weight, rank 2 or more.
fn host_shape<B: Backend, const D: usize>(layer: &Linear<B>, x: &Tensor<B, D>) -> Option<Shape<D>> {
    let input: [usize; D] = x.dims();
    let [d_in, d_out] = layer.weight.val().dims();
    let f32_only = x.dtype() == DType::F32 && layer.weight.val().dtype() == DType::F32;
    let shape = Shape {
        input,
        rows: input[..D.saturating_sub(1)].iter().product(),
        d_in,
        d_out,
    };
    (f32_only && D >= 2 && input[D - 1] == d_in).then_some(shape)
}

/// The forward on host memory (operands read where they lie): the output on `x`'s device;
/// `None` if an operand is not f32.
fn host_forward<I: HostMemory, const D: usize>(
    shape: &Shape<D>,
    x: &FloatTensor<I>,
    weight: &FloatTensor<I>,
    bias: Option<&FloatTensor<I>>,
) -> Option<FloatTensor<I>> {
    let Shape {
        rows, d_in, d_out, ..
    } = *shape;
    let values = I::f32_elements::<D>(x)?;
    let weights = I::f32_elements::<2>(weight)?;
    let lhs = MatRef::row_major(&values, rows, d_in);
    let rhs = MatRef::row_major(&weights, d_in, d_out);
    let y = match bias {
        Some(b) => {
            let biases = I::f32_elements::<1>(b)?;
            if biases.len() != d_out {
                return None;
            }
            let fill = |_, block: &mut [MaybeUninit<f32>]| {
                for row in block.chunks_mut(d_out) {
                    row.iter_mut().zip(biases.iter()).for_each(|(y, &b)| {
                        y.write(b);
                    });
                }
            };
            // SAFETY: each chunk is whole rows of `d_out` elements (`biases.len()`, checked
            // above), every one written by `fill`.
            let mut y = unsafe { written(rows * d_out, ROWS_PER_BLOCK * d_out, fill) };
            matmul_parallel(&mut y, lhs, rhs, true);
            y
        }
        None => product_parallel(lhs, rhs),
    };
    Some(from_host::<I, D>(y, shape.output(), &I::float_device(x)))
}

/// Runs the host op and records its backward; `None` if an operand is not f32.
fn on_host<I: HostMemory, const D: usize>(
    layer: &Linear<Autodiff<I>>,
    x: &Tensor<Autodiff<I>, D>,
    shape: Shape<D>,
) -> Option<Tensor<Autodiff<I>, D>> {
    let x = primitive(x);
    let weight = primitive(&layer.weight.val());
    let bias = layer.bias.as_ref().map(|b| primitive(&b.val()));
    let y = host_forward::<I, D>(
        &shape,
        &x.primitive,
        &weight.primitive,
        bias.as_ref().map(|b| &b.primitive),
    )?;
    let saved = Saved {
        values: x.primitive.clone(),
        weight: weight.primitive.clone(),
        shape,
    };
    let y = record_affine(HostLinear::<D>, [&x, &weight], bias.as_ref(), y, saved);
    Some(tensor(y))
}

/// Autodiff op for [`linear`] on a rank-`D` input; `N` is 3 with a bias, 2 without.
#[derive(Debug)]
struct HostLinear<const D: usize>;

/// What the backward keeps: the input and the weight (the backend's tensors, read where they
/// lie) and the shapes.
#[derive(Clone)]
struct Saved<I: Backend, const D: usize> {
    values: FloatTensor<I>,
    weight: FloatTensor<I>,
    shape: Shape<D>,
}

impl<I: Backend, const D: usize> std::fmt::Debug for Saved<I, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Saved({:?})", self.shape)
    }
}

impl<I: HostMemory, const D: usize, const N: usize> Backward<I, N> for HostLinear<D> {
    type State = Saved<I, D>;

    fn backward(self, ops: Ops<Saved<I, D>, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<I>(&ops.node);
        let device = I::float_device(&grad);
        let saved = ops.state;
        let mut parents = ops.parents.into_iter();
        let [x_node, weight_node, bias_node] = [(); 3].map(|_| parents.next().flatten());
        // The output and both operands are f32 by construction; nothing to register otherwise.
        let (Some(grad), Some(values), Some(weight)) = (
            I::f32_elements::<D>(&grad),
            I::f32_elements::<D>(&saved.values),
            I::f32_elements::<2>(&saved.weight),
        ) else {
            return;
        };
        let Shape {
            rows, d_in, d_out, ..
        } = saved.shape;
        let dy = MatRef::row_major(&grad, rows, d_out);
        let input_grad = [dy, MatRef::row_major(&weight, d_in, d_out).t()];
        let weight_grad = [MatRef::row_major(&values, rows, d_in).t(), dy];
        // The two products are independent and equal in work: side by side when both are
        // needed (on two cores each alone keeps them only partly busy).
        let (dx, dw) = match (x_node.is_some(), weight_node.is_some()) {
            (true, true) => {
                let (dx, dw) = product_pair(input_grad, weight_grad);
                (Some(dx), Some(dw))
            }
            (x, w) => (
                x.then(|| product_parallel(input_grad[0], input_grad[1])),
                w.then(|| product_parallel(weight_grad[0], weight_grad[1])),
            ),
        };
        if let (Some(node), Some(dx)) = (x_node, dx) {
            let dx = from_host::<I, D>(dx, saved.shape.input, &device);
            grads.register::<I>(node.id, dx);
        }
        if let (Some(node), Some(dw)) = (weight_node, dw) {
            grads.register::<I>(node.id, from_host::<I, 2>(dw, [d_in, d_out], &device));
        }
        if let Some(node) = bias_node {
            let db = column_sums(&grad, d_out);
            grads.register::<I>(node.id, from_host::<I, 1>(db, [d_out], &device));
        }
    }
}

/// Rows per block of [`column_sums`] and of the bias fill.
const ROWS_PER_BLOCK: usize = 64;

/// The sums of the columns of `rows` (`d` wide): each block of [`ROWS_PER_BLOCK`] rows summed
/// on its own thread, the blocks' sums added in order.
fn column_sums(rows: &[f32], d: usize) -> Vec<f32> {
    let blocks = rows
        .par_chunks(ROWS_PER_BLOCK * d)
        .map(|block| {
            block.chunks(d).fold(vec![0.0; d], |mut sums, row| {
                sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                sums
            })
        })
        .collect();
    sum_in_order(blocks, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::nn::LinearConfig;
    use burn::tensor::{Distribution, Tolerance};

    type A = Autodiff<Flex>;

    /// Output and the gradients of x, the weight and the bias, by the host op or Burn's.
    fn run<const D: usize>(bias: bool, dims: [usize; D], ours: bool) -> Vec<TensorData> {
        let device = Default::default();
        A::seed(&device, 11);
        let layer = LinearConfig::new(dims[D - 1], 7)
            .with_bias(bias)
            .init::<A>(&device);
        let x = Tensor::<A, D>::random(dims, Distribution::Normal(0.0, 1.0), &device);
        let mut out = dims;
        out[D - 1] = 7;
        let upstream = Tensor::<A, D>::random(out, Distribution::Normal(0.0, 1.0), &device);
        let x = x.require_grad();
        let y = if ours {
            let shape = host_shape(&layer, &x).expect("the host op applies");
            on_host(&layer, &x, shape).expect("the host op ran")
        } else {
            layer.forward(x.clone())
        };
        let grads = (y.clone() * upstream).sum().backward();
        let mut all = vec![
            y.into_data(),
            x.grad(&grads).expect("x's gradient").into_data(),
            layer
                .weight
                .val()
                .grad(&grads)
                .expect("weight gradient")
                .into_data(),
        ];
        if let Some(b) = &layer.bias {
            all.push(b.val().grad(&grads).expect("bias gradient").into_data());
        }
        all
    }

    #[test]
    fn matches_burns_linear_and_its_gradients() {
        let tolerance = Tolerance::<f32>::absolute(1e-5);
        for bias in [true, false] {
            let (ours, burns) = (run(bias, [9, 13], true), run(bias, [9, 13], false));
            assert_eq!(ours.len(), burns.len());
            for (o, b) in ours.iter().zip(&burns) {
                o.assert_approx_eq::<f32>(b, tolerance);
            }
            let (ours, burns) = (run(bias, [3, 5, 13], true), run(bias, [3, 5, 13], false));
            for (o, b) in ours.iter().zip(&burns) {
                o.assert_approx_eq::<f32>(b, tolerance);
            }
        }
    }

    #[test]
    fn column_sums_add_every_row_whatever_the_block_count() {
        let d = 3;
        let rows: Vec<f32> = (0..(2 * ROWS_PER_BLOCK + 5) * d)
            .map(|i| i as f32 % 7.0)
            .collect();
        let mut expected = vec![0.0f32; d];
        for (i, v) in rows.iter().enumerate() {
            expected[i % d] += v;
        }
        assert_eq!(column_sums(&rows, d), expected);
    }

    #[test]
    fn the_inference_forward_is_the_training_forward() {
        let device = Default::default();
        let layer = LinearConfig::new(6, 4).init::<Flex>(&device);
        let x = Tensor::<Flex, 2>::random([5, 6], Distribution::Normal(0.0, 1.0), &device);
        let ours = linear_inference(&layer, x.clone()).into_data();
        ours.assert_approx_eq::<f32>(
            &layer.forward(x).into_data(),
            Tolerance::<f32>::absolute(1e-5),
        );
    }
}
