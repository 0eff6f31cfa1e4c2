//! Choosing a backend: explicit requests are checked, `auto` falls back CUDA -> GPU wgpu -> CPU.

use super::BackendError;
#[cfg(feature = "cuda")]
use super::probe::{CudaInfo, cuda_devices};
#[cfg(feature = "wgpu")]
use super::probe::{WgpuAdapter, wgpu_adapters};
use trainer_core::config::{BackendRequest, DeviceList};

/// A concrete, usable backend and device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// A CUDA device.
    #[cfg(feature = "cuda")]
    Cuda(CudaInfo),
    /// A wgpu adapter.
    #[cfg(feature = "wgpu")]
    Wgpu(WgpuAdapter),
    /// The flex CPU backend.
    #[cfg(feature = "flex")]
    Flex,
    /// The ndarray CPU backend.
    #[cfg(feature = "ndarray")]
    NdArray,
}

impl Choice {
    /// Backend name as users type it.
    pub fn name(&self) -> &'static str {
        match self {
            #[cfg(feature = "cuda")]
            Choice::Cuda(_) => "cuda",
            #[cfg(feature = "wgpu")]
            Choice::Wgpu(_) => "wgpu",
            #[cfg(feature = "flex")]
            Choice::Flex => "flex",
            #[cfg(feature = "ndarray")]
            Choice::NdArray => "ndarray",
        }
    }

    /// Whether this is a CPU backend (one device, host memory).
    pub fn is_cpu(&self) -> bool {
        match self {
            #[cfg(feature = "cuda")]
            Choice::Cuda(_) => false,
            #[cfg(feature = "wgpu")]
            Choice::Wgpu(_) => false,
            #[cfg(feature = "flex")]
            Choice::Flex => true,
            #[cfg(feature = "ndarray")]
            Choice::NdArray => true,
        }
    }

    /// Human description of the device.
    pub fn device(&self) -> String {
        match self {
            #[cfg(feature = "cuda")]
            Choice::Cuda(c) => format!("cuda:{} {}", c.index, c.name),
            #[cfg(feature = "wgpu")]
            Choice::Wgpu(a) => format!("{} {:?} #{} {}", a.api, a.kind, a.index_in_kind, a.name),
            #[cfg(feature = "flex")]
            Choice::Flex => cpu_device(),
            #[cfg(feature = "ndarray")]
            Choice::NdArray => cpu_device(),
        }
    }
}

/// How runs name the CPU a CPU backend trains on: `cpu (N threads)`.
#[cfg(any(feature = "flex", feature = "ndarray"))]
pub(crate) fn cpu_device() -> String {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("cpu ({threads} threads)")
}

/// The choice and a one-line explanation of it.
#[derive(Debug, Clone)]
pub struct Selection {
    /// What will run.
    pub choice: Choice,
    /// Why: what was chosen and why the others were skipped.
    pub reason: String,
    /// Device indices each batch is split over (`run.devices`); empty: one device, no split.
    pub parallel: Vec<usize>,
}

impl Selection {
    /// The device as runs report it: the chosen device, and the devices each batch is split
    /// over when there are several.
    pub fn device_label(&self) -> String {
        match self.parallel.as_slice() {
            [] | [_] => self.choice.device(),
            all => format!(
                "{} (each batch split over devices {all:?})",
                self.choice.device()
            ),
        }
    }

    /// One device, no batch split.
    pub fn one(choice: Choice, reason: String) -> Self {
        Self {
            choice,
            reason,
            parallel: Vec::new(),
        }
    }
}

/// Resolves a request into a usable backend; `device` indexes the GPUs of the chosen kind.
pub fn select(request: BackendRequest, device: usize) -> Result<Selection, BackendError> {
    let explicit = |choice: Choice| {
        let reason = format!("using {} on {} (requested)", choice.name(), choice.device());
        Selection::one(choice, reason)
    };
    match request {
        BackendRequest::Cuda => cuda(device).map(explicit),
        BackendRequest::Wgpu => wgpu(device, true).map(explicit),
        BackendRequest::Cpu => cpu().map(explicit),
        BackendRequest::Flex => flex().map(explicit),
        BackendRequest::Ndarray => ndarray().map(explicit),
        BackendRequest::Auto => {
            let mut skipped = Vec::new();
            for (name, attempt) in [
                (
                    "cuda",
                    &(|| cuda(device)) as &dyn Fn() -> Result<Choice, BackendError>,
                ),
                ("wgpu", &|| wgpu(device, false)),
            ] {
                match attempt() {
                    Ok(choice) => {
                        let reason = format!(
                            "auto chose {} on {}{}",
                            name,
                            choice.device(),
                            skipped_text(&skipped)
                        );
                        return Ok(Selection::one(choice, reason));
                    }
                    Err(e) => skipped.push(format!("{name}: {}", short_reason(&e))),
                }
            }
            let choice = cpu()?;
            let reason = format!(
                "auto chose {} on {}{}",
                choice.name(),
                choice.device(),
                skipped_text(&skipped)
            );
            Ok(Selection::one(choice, reason))
        }
    }
}

/// Resolves `run.devices` too: the selection is on the first listed device, and its
/// `parallel` lists the devices each batch is split over (empty for `run.device` alone).
/// Several devices need CUDA.
pub fn select_devices(
    request: BackendRequest,
    device: usize,
    devices: &DeviceList,
) -> Result<Selection, BackendError> {
    match devices {
        DeviceList::Unset => select(request, device),
        DeviceList::Listed(list) if list.len() == 1 => {
            let mut selection = select(request, list[0])?;
            if selection.choice.is_cpu() && list[0] > 0 {
                // The CPU backends have one device: index 1 would train on device 0 silently.
                return Err(BackendError::Unavailable {
                    name: selection.choice.name(),
                    reason: format!(
                        "run.devices (--devices) lists device {}, but a CPU backend has one device, 0",
                        list[0]
                    ),
                });
            }
            selection
                .reason
                .push_str(" (data parallel path, one device)");
            selection.parallel = list.clone();
            Ok(selection)
        }
        several => cuda_parallel(several),
    }
}

#[cfg(feature = "cuda")]
fn cuda_parallel(devices: &DeviceList) -> Result<Selection, BackendError> {
    let found = cuda_devices().map_err(|reason| BackendError::Unavailable {
        name: "cuda",
        reason: format!("run.devices asks for several GPUs, which needs cuda: {reason}"),
    })?;
    let indices: Vec<usize> = match devices {
        DeviceList::Listed(list) => list.clone(),
        _ => (0..found.len()).collect(),
    };
    if let Some(&missing) = indices.iter().find(|&&i| i >= found.len()) {
        return Err(BackendError::Unavailable {
            name: "cuda",
            reason: format!(
                "run.devices lists device {missing}, but {} CUDA device(s) are usable here",
                found.len()
            ),
        });
    }
    let Some(first) = indices.first().map(|&i| found[i].clone()) else {
        return Err(BackendError::Unavailable {
            name: "cuda",
            reason: "no CUDA device found".into(),
        });
    };
    let names: Vec<String> = indices.iter().map(|&i| format!("cuda:{i}")).collect();
    let reason = format!(
        "data parallel on cuda over {} device(s): {} ({}); each batch is split across them",
        indices.len(),
        names.join(", "),
        first.name
    );
    Ok(Selection {
        choice: Choice::Cuda(first),
        reason,
        parallel: indices,
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda_parallel(_devices: &DeviceList) -> Result<Selection, BackendError> {
    Err(BackendError::NotCompiled { name: "cuda" })
}

fn skipped_text(skipped: &[String]) -> String {
    if skipped.is_empty() {
        String::new()
    } else {
        format!(" (skipped {})", skipped.join("; "))
    }
}

fn short_reason(e: &BackendError) -> String {
    match e {
        BackendError::Unavailable { reason, .. } => reason.clone(),
        BackendError::NotCompiled { .. } => "not compiled in".into(),
        other => other.to_string(),
    }
}

#[cfg(feature = "cuda")]
fn cuda(device: usize) -> Result<Choice, BackendError> {
    let devices = cuda_devices().map_err(|reason| BackendError::Unavailable {
        name: "cuda",
        reason,
    })?;
    let count = devices.len();
    devices
        .into_iter()
        .nth(device)
        .map(Choice::Cuda)
        .ok_or(BackendError::NoSuchDevice {
            name: "cuda",
            index: device,
            count,
        })
}

#[cfg(not(feature = "cuda"))]
fn cuda(_device: usize) -> Result<Choice, BackendError> {
    Err(BackendError::NotCompiled { name: "cuda" })
}

/// Hardware adapters first; software adapters (lavapipe) only when `allow_software`.
#[cfg(feature = "wgpu")]
fn wgpu(device: usize, allow_software: bool) -> Result<Choice, BackendError> {
    let adapters = wgpu_adapters();
    let (hardware, software): (Vec<_>, Vec<_>) =
        adapters.into_iter().partition(|a| a.kind.is_hardware());
    let pool = match (hardware.is_empty(), software.is_empty(), allow_software) {
        (false, _, _) => hardware,
        (true, false, true) => software,
        (true, false, false) => {
            let names: Vec<_> = software.iter().map(|a| a.name.as_str()).collect();
            return Err(BackendError::Unavailable {
                name: "wgpu",
                reason: format!(
                    "only software adapters ({}), not chosen automatically",
                    names.join(", ")
                ),
            });
        }
        (true, true, _) => {
            return Err(BackendError::Unavailable {
                name: "wgpu",
                reason: "no Vulkan/Metal/DX12 adapter found".into(),
            });
        }
    };
    let count = pool.len();
    pool.into_iter()
        .nth(device)
        .map(Choice::Wgpu)
        .ok_or(BackendError::NoSuchDevice {
            name: "wgpu",
            index: device,
            count,
        })
}

#[cfg(not(feature = "wgpu"))]
fn wgpu(_device: usize, _allow_software: bool) -> Result<Choice, BackendError> {
    Err(BackendError::NotCompiled { name: "wgpu" })
}

fn cpu() -> Result<Choice, BackendError> {
    flex()
        .or_else(|_| ndarray())
        .map_err(|_| BackendError::NotCompiled { name: "flex" })
}

fn flex() -> Result<Choice, BackendError> {
    #[cfg(feature = "flex")]
    return Ok(Choice::Flex);
    #[cfg(not(feature = "flex"))]
    Err(BackendError::NotCompiled { name: "flex" })
}

fn ndarray() -> Result<Choice, BackendError> {
    #[cfg(feature = "ndarray")]
    return Ok(Choice::NdArray);
    #[cfg(not(feature = "ndarray"))]
    Err(BackendError::NotCompiled { name: "ndarray" })
}

/// One row of `trainer backends`.
#[derive(Debug, Clone)]
pub struct BackendStatus {
    /// Backend name.
    pub name: &'static str,
    /// Usable devices, or why none is.
    pub devices: Result<Vec<String>, String>,
}

/// Probes every backend compiled into this binary; the others are listed as not compiled in.
// Which rows are pushed depends on the compiled backends (with only ndarray, clippy would
// have them in one `vec![]`).
#[allow(clippy::vec_init_then_push)]
pub fn list() -> Vec<BackendStatus> {
    let mut rows = Vec::new();
    #[cfg(not(feature = "cuda"))]
    rows.push(not_compiled("cuda"));
    #[cfg(feature = "cuda")]
    rows.push(BackendStatus {
        name: "cuda",
        devices: cuda_devices().map(|d| {
            d.iter()
                .map(|c| format!("{}: {}", c.index, c.name))
                .collect()
        }),
    });
    #[cfg(not(feature = "wgpu"))]
    rows.push(not_compiled("wgpu"));
    #[cfg(feature = "wgpu")]
    {
        let adapters = wgpu_adapters();
        let devices = if adapters.is_empty() {
            Err("no Vulkan/Metal/DX12 adapter found".to_string())
        } else {
            Ok(adapters
                .iter()
                .map(|a| {
                    let note = if a.kind.is_hardware() {
                        ""
                    } else {
                        " (software; used only with --backend wgpu)"
                    };
                    format!(
                        "{:?} #{}: {} [{}]{note}",
                        a.kind, a.index_in_kind, a.name, a.api
                    )
                })
                .collect())
        };
        rows.push(BackendStatus {
            name: "wgpu",
            devices,
        });
    }
    #[cfg(not(feature = "flex"))]
    rows.push(not_compiled("flex"));
    #[cfg(feature = "flex")]
    rows.push(BackendStatus {
        name: "flex",
        devices: Ok(vec![Choice::Flex.device()]),
    });
    #[cfg(not(feature = "ndarray"))]
    rows.push(not_compiled("ndarray"));
    #[cfg(feature = "ndarray")]
    rows.push(BackendStatus {
        name: "ndarray",
        devices: Ok(vec![Choice::NdArray.device()]),
    });
    rows
}

/// The row of a backend this binary was built without.
#[cfg(not(all(
    feature = "cuda",
    feature = "wgpu",
    feature = "flex",
    feature = "ndarray"
)))]
fn not_compiled(name: &'static str) -> BackendStatus {
    BackendStatus {
        name,
        devices: Err(format!(
            "not compiled into this binary (build with `--features {name}`)"
        )),
    }
}
