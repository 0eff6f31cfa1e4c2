//! Availability probes that never touch a Burn device (touching an unusable CUDA device panics
//! in a background thread and poisons it for the process).

/// A usable CUDA device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaInfo {
    /// Device ordinal.
    pub index: usize,
    /// Device name from the driver.
    pub name: String,
}

/// Lists CUDA devices, or says why CUDA cannot run here (driver, NVRTC or headers missing).
#[cfg(feature = "cuda")]
pub fn cuda_devices() -> Result<Vec<CudaInfo>, String> {
    // SAFETY: dlopen probes only; no CUDA call is made when the library is absent.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("no NVIDIA driver (libcuda not loadable)".into());
    }
    let count = cudarc::driver::CudaContext::device_count()
        .map_err(|e| format!("CUDA driver error: {e:?}"))?;
    if count <= 0 {
        return Err("the NVIDIA driver reports 0 CUDA devices".into());
    }
    // SAFETY: as above, a dlopen probe.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err("libnvrtc (CUDA toolkit runtime compiler) not loadable".into());
    }
    if cuda_toolkit_path().is_none() {
        return Err(
            "CUDA headers not found (set CUDA_PATH or install the toolkit under /usr/local/cuda)"
                .into(),
        );
    }
    Ok((0..count as usize)
        .map(|index| {
            let name = cudarc::driver::CudaContext::new(index)
                .and_then(|c| c.name())
                .unwrap_or_else(|e| format!("unnamed ({e:?})"));
            CudaInfo { index, name }
        })
        .collect())
}

/// Same search order as cubecl-cuda 0.10's `install::cuda_path()`.
#[cfg(feature = "cuda")]
fn cuda_toolkit_path() -> Option<std::path::PathBuf> {
    if let Ok(p) = std::env::var("CUDA_PATH") {
        return Some(p.into());
    }
    ["/usr/local/cuda", "/opt/cuda"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            std::path::Path::new("/usr/bin/nvcc")
                .exists()
                .then(|| "/usr".into())
        })
}

/// A wgpu adapter as the platform reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgpuAdapter {
    /// Adapter name, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// Graphics API, e.g. `Vulkan`.
    pub api: String,
    /// Discrete, integrated, virtual, CPU (software) or other.
    pub kind: AdapterKind,
    /// Index among adapters of the same kind (what `WgpuDevice::DiscreteGpu(i)` etc. take).
    pub index_in_kind: usize,
}

/// wgpu device types that matter for selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    /// A discrete GPU.
    Discrete,
    /// An integrated GPU.
    Integrated,
    /// A virtualized GPU.
    Virtual,
    /// A software rasterizer (lavapipe, WARP, SwiftShader).
    Software,
}

impl AdapterKind {
    /// True for real GPU hardware.
    pub fn is_hardware(self) -> bool {
        !matches!(self, AdapterKind::Software)
    }
}

/// Enumerates the adapters of the platform's primary API (Vulkan, Metal or DX12).
#[cfg(feature = "wgpu")]
pub fn wgpu_adapters() -> Vec<WgpuAdapter> {
    let backends = wgpu::Backends::PRIMARY;
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let infos: Vec<wgpu::AdapterInfo> =
        burn::tensor::read_sync(instance.enumerate_adapters(backends))
            .into_iter()
            .map(|a| a.get_info())
            .collect();
    let mut seen = std::collections::HashMap::new();
    infos
        .into_iter()
        .filter_map(|info| {
            let kind = match info.device_type {
                wgpu::DeviceType::DiscreteGpu => AdapterKind::Discrete,
                wgpu::DeviceType::IntegratedGpu => AdapterKind::Integrated,
                wgpu::DeviceType::VirtualGpu => AdapterKind::Virtual,
                wgpu::DeviceType::Cpu => AdapterKind::Software,
                wgpu::DeviceType::Other => return None,
            };
            let slot = seen.entry(kind as u8).or_insert(0usize);
            let index_in_kind = *slot;
            *slot += 1;
            Some(WgpuAdapter {
                name: info.name,
                api: format!("{:?}", info.backend),
                kind,
                index_in_kind,
            })
        })
        .collect()
}
