//! Moves between a backend's float tensors and host `f32` vectors, for the ops that compute on
//! host memory.

use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn::tensor::ops::FloatTensor;

/// A float tensor's elements as a host `f32` vector (a copy only where the tensor is shared or
/// strided); `None` if they are not f32.
pub(crate) fn host_vec<I: Backend, const D: usize>(tensor: FloatTensor<I>) -> Option<Vec<f32>> {
    Tensor::<I, D>::from_primitive(TensorPrimitive::Float(tensor))
        .into_data()
        .into_vec::<f32>()
        .ok()
}

/// A host `f32` vector as a float tensor of `shape` on `device`.
pub(crate) fn from_host<I: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &I::Device,
) -> FloatTensor<I> {
    Tensor::<I, D>::from_data(TensorData::new(values, shape), device)
        .into_primitive()
        .tensor()
}

/// A tensor's float primitive (sharing its data).
pub(crate) fn primitive<B: Backend, const D: usize>(x: &Tensor<B, D>) -> FloatTensor<B> {
    x.clone().into_primitive().tensor()
}

/// A float primitive as a tensor.
pub(crate) fn tensor<B: Backend, const D: usize>(x: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(x))
}
