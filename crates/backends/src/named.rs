//! The backends a program can name itself (instead of `run.backend` choosing at run time), by
//! the names `trainer` reports them under.

use trainer_core::TrainBackend;

/// A training backend with the name runs and summaries report it under (`flex`, `cuda`, ...).
pub trait NamedBackend: TrainBackend {
    /// The backend's name, as `run.backend` spells it.
    const NAME: &'static str;
}

#[cfg(feature = "flex")]
impl NamedBackend for burn::backend::Autodiff<burn::backend::Flex> {
    const NAME: &'static str = "flex";
}

#[cfg(feature = "ndarray")]
impl NamedBackend for burn::backend::Autodiff<burn::backend::NdArray> {
    const NAME: &'static str = "ndarray";
}

#[cfg(feature = "cuda")]
impl NamedBackend for burn::backend::Autodiff<burn::backend::Cuda> {
    const NAME: &'static str = "cuda";
}

#[cfg(feature = "wgpu")]
impl NamedBackend for burn::backend::Autodiff<burn::backend::Wgpu> {
    const NAME: &'static str = "wgpu";
}
