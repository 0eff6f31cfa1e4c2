//! Which backend a model runs on, for the paths that only pay off where tensors live in host
//! memory (host dropout masks, the host convolution and attention ops), and the moves between
//! a backend's tensors and host `f32` vectors that those paths make.

use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn::tensor::ops::FloatTensor;
use std::any::{Any, TypeId};

/// Whether `B` is `Autodiff<I>` (without gradient checkpointing, as every trainer run is).
pub fn is_autodiff_of<B: Backend, I: Backend>() -> bool {
    TypeId::of::<B>() == TypeId::of::<Autodiff<I>>()
}

/// Whether `B` trains on a host-memory backend: `Autodiff<Flex>` or `Autodiff<NdArray>`.
pub fn host_autodiff<B: Backend>() -> bool {
    #[cfg(feature = "flex")]
    if is_autodiff_of::<B, burn::backend::Flex>() {
        return true;
    }
    #[cfg(feature = "ndarray")]
    if is_autodiff_of::<B, burn::backend::NdArray>() {
        return true;
    }
    false
}

/// `value` as `U` when it is one (a checked `TypeId` downcast), else `None`.
fn cast<T: 'static, U: 'static>(value: T) -> Option<U> {
    (Box::new(value) as Box<dyn Any>)
        .downcast::<U>()
        .ok()
        .map(|u| *u)
}

/// `x` as an `Autodiff<I>` primitive (sharing its data) when `B` is `Autodiff<I>`, else `None`.
pub fn as_autodiff<B: Backend, I: Backend, const D: usize>(
    x: &Tensor<B, D>,
) -> Option<FloatTensor<Autodiff<I>>> {
    cast(x.clone().into_primitive().tensor())
}

/// An `Autodiff<I>` primitive back as a tensor of `B` when `B` is `Autodiff<I>`, else `None`.
pub fn from_autodiff<B: Backend, I: Backend, const D: usize>(
    y: FloatTensor<Autodiff<I>>,
) -> Option<Tensor<B, D>> {
    cast::<_, FloatTensor<B>>(y).map(|y| Tensor::from_primitive(TensorPrimitive::Float(y)))
}

/// A float tensor's elements as a host `f32` vector (a copy only where the tensor is shared or
/// strided); `None` if they are not f32.
pub fn host_vec<I: Backend, const D: usize>(tensor: FloatTensor<I>) -> Option<Vec<f32>> {
    Tensor::<I, D>::from_primitive(TensorPrimitive::Float(tensor))
        .into_data()
        .into_vec::<f32>()
        .ok()
}

/// A host `f32` vector as a float tensor of `shape` on `device`.
pub fn from_host<I: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &I::Device,
) -> FloatTensor<I> {
    Tensor::<I, D>::from_data(TensorData::new(values, shape), device)
        .into_primitive()
        .tensor()
}
