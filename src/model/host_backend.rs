//! Which backend a model runs on, for the paths that only pay off where tensors live in host
//! memory (host dropout masks, the convolution's host weight gradient).

use burn::backend::Autodiff;
use burn::prelude::*;
use std::any::TypeId;

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
