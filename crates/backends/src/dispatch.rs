//! The single place that maps a run-time `Choice` to a monomorphized generic call (GPU
//! choices first point the kernel cache at its directory).

use super::Choice;
use trainer_core::jobs::BackendJob;

/// Runs `job` on the chosen backend.
pub(crate) fn dispatch<J: BackendJob>(choice: &Choice, job: J) -> J::Output {
    #[allow(unused_imports)]
    use burn::backend::Autodiff;
    let name = choice.name();
    match choice {
        #[cfg(feature = "cuda")]
        Choice::Cuda(c) => {
            super::configure_kernel_cache();
            job.run::<Autodiff<burn::backend::Cuda>>(
                name,
                burn::backend::cuda::CudaDevice::new(c.index),
            )
        }
        #[cfg(feature = "wgpu")]
        Choice::Wgpu(a) => {
            use super::AdapterKind;
            use burn::backend::wgpu::WgpuDevice;
            super::configure_kernel_cache();
            let device = match a.kind {
                AdapterKind::Discrete => WgpuDevice::DiscreteGpu(a.index_in_kind),
                AdapterKind::Integrated => WgpuDevice::IntegratedGpu(a.index_in_kind),
                AdapterKind::Virtual => WgpuDevice::VirtualGpu(a.index_in_kind),
                AdapterKind::Software => WgpuDevice::Cpu,
            };
            job.run::<Autodiff<burn::backend::Wgpu>>(name, device)
        }
        #[cfg(feature = "flex")]
        Choice::Flex => job.run::<Autodiff<burn::backend::Flex>>(name, Default::default()),
        #[cfg(feature = "ndarray")]
        Choice::NdArray => job.run::<Autodiff<burn::backend::NdArray>>(name, Default::default()),
    }
}
