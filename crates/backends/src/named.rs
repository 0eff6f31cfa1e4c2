//! The backends a program can name itself (instead of `run.backend` choosing at run time), by
//! the names `trainer` reports them under.

use trainer_core::TrainBackend;

/// A training backend with the name runs and summaries report it under (`flex`, `cuda`, ...).
pub trait NamedBackend: TrainBackend {
    /// The backend's name, as `run.backend` spells it.
    const NAME: &'static str;

    /// How runs name `device` (`cpu (8 threads)`, `cuda:0`); Burn's name for it by default.
    fn device_label(device: &Self::Device) -> String {
        format!("{device:?}")
    }
}

#[cfg(feature = "flex")]
impl NamedBackend for burn::backend::Autodiff<burn::backend::Flex> {
    const NAME: &'static str = "flex";

    fn device_label(_: &Self::Device) -> String {
        crate::select::cpu_device()
    }
}

#[cfg(feature = "ndarray")]
impl NamedBackend for burn::backend::Autodiff<burn::backend::NdArray> {
    const NAME: &'static str = "ndarray";

    fn device_label(_: &Self::Device) -> String {
        crate::select::cpu_device()
    }
}

#[cfg(feature = "cuda")]
impl NamedBackend for burn::backend::Autodiff<burn::backend::Cuda> {
    const NAME: &'static str = "cuda";

    fn device_label(device: &Self::Device) -> String {
        format!("cuda:{}", device.index)
    }
}

#[cfg(feature = "wgpu")]
impl NamedBackend for burn::backend::Autodiff<burn::backend::Wgpu> {
    const NAME: &'static str = "wgpu";
}
