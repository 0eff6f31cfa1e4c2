//! Moves between a backend's float tensors and host `f32` vectors, for the ops that compute on
//! host memory.

use super::HostMemory;
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

/// `compute` of `x`'s f32 elements, as a tensor of `x`'s shape on its device, where `applies`
/// (an element-wise host loop on an inference backend); `fallback(x)` otherwise, or if the
/// elements are not f32.
pub(crate) fn map_on_host<I: HostMemory, const D: usize>(
    x: Tensor<I, D>,
    applies: bool,
    compute: impl FnOnce(&[f32]) -> Vec<f32>,
    fallback: impl FnOnce(Tensor<I, D>) -> Tensor<I, D>,
) -> Tensor<I, D> {
    let host = || {
        let y = compute(&I::f32_elements::<D>(&primitive(&x))?);
        Some(tensor(from_host::<I, D>(y, x.dims(), &x.device())))
    };
    match applies.then(host).flatten() {
        Some(y) => y,
        None => fallback(x),
    }
}

/// A tensor's float primitive (sharing its data).
pub(crate) fn primitive<B: Backend, const D: usize>(x: &Tensor<B, D>) -> FloatTensor<B> {
    x.clone().into_primitive().tensor()
}

/// A float primitive as a tensor.
pub(crate) fn tensor<B: Backend, const D: usize>(x: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(x))
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::HostMemory;
    use burn::backend::Flex;
    use std::borrow::Cow;

    #[test]
    fn flex_lends_a_shared_contiguous_tensor_and_copies_a_strided_one() {
        let device = Default::default();
        let x = Tensor::<Flex, 2>::from_data([[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]], &device);
        let shared = primitive(&x);
        let lent = Flex::f32_elements::<2>(&shared).expect("f32");
        assert!(
            matches!(lent, Cow::Borrowed(_)),
            "a contiguous tensor is read in place"
        );
        assert_eq!(lent.as_ref(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let transposed = primitive(&x.clone().transpose());
        let copied = Flex::f32_elements::<2>(&transposed).expect("f32");
        assert!(
            matches!(copied, Cow::Owned(_)),
            "a strided tensor is copied"
        );
        assert_eq!(copied.as_ref(), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let sliced = primitive(&x.clone().slice([1..2, 0..3]));
        assert_eq!(
            Flex::f32_elements::<2>(&sliced).expect("f32").as_ref(),
            [4.0, 5.0, 6.0],
            "an offset view is read from its own elements"
        );
        let wide = x.cast(burn::tensor::FloatDType::F64);
        assert!(
            Flex::f32_elements::<2>(&primitive(&wide)).is_none(),
            "f64 is not lent as f32"
        );
    }
}
