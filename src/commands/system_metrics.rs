//! System metrics while a run trains, in MLflow's names (`cpu_utilization_percentage`,
//! `system_memory_usage_megabytes`, `gpu_0_utilization_percentage`, ...; MLflow shows them as
//! `system/...`): sampled on their own thread every `tracking.system_metrics_every` seconds and
//! written to the journal (the spool), never on the training thread.

use crate::observe::JournalSender;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;
use trainer_core::train::Event;

/// Bytes in MLflow's megabyte.
const MB: f64 = 1e6;
/// How a sample's journal line names its event.
const SAMPLE_TAG: &[u8] = b"\"event\":\"system_metrics\"";

/// The sampling thread; dropping it stops and joins the thread (dropping its journal sender).
pub(super) struct SystemSampler {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SystemSampler {
    /// Samples every `every` seconds into `journal` (GPU figures through NVML when `gpus`);
    /// None when `every` is 0 or the thread cannot start.
    pub fn start(every: f64, run_dir: &Path, gpus: bool, journal: JournalSender) -> Option<Self> {
        if every <= 0.0 {
            return None;
        }
        let every = Duration::from_secs_f64(every);
        let run_dir = run_dir.to_path_buf();
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("system-metrics".into())
            .spawn(move || {
                // Started from the training thread: the journal scan and NVML's loading happen
                // here, not there.
                let mut sample = count_samples(&crate::run::RunLayout::of(&run_dir).journal());
                let mut probe = Probe::new(run_dir, gpus);
                // The first CPU figure needs two readings: the first sample waits one period.
                // When the run ends, one last sample: a short run still has one.
                loop {
                    let last =
                        !matches!(stopped.recv_timeout(every), Err(RecvTimeoutError::Timeout));
                    let values = probe.read();
                    if !values.is_empty() {
                        journal.send(&Event::SystemMetrics { sample, values });
                        sample += 1;
                    }
                    if last {
                        break;
                    }
                }
            });
        match thread {
            Ok(thread) => Some(Self {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Err(e) => {
                tracing::warn!("system metrics off: cannot start their thread: {e}");
                None
            }
        }
    }
}

impl Drop for SystemSampler {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Samples a resumed run already has: the next sample continues their numbering.
fn count_samples(journal: &Path) -> u64 {
    let Ok(f) = std::fs::File::open(journal) else {
        return 0;
    };
    std::io::BufReader::new(f)
        .split(b'\n')
        .map_while(Result::ok)
        .filter(|l| l.windows(SAMPLE_TAG.len()).any(|w| w == SAMPLE_TAG))
        .count() as u64
}

/// Readings that need the previous one (CPU times) or a baseline (network counters).
struct Probe {
    run_dir: PathBuf,
    cpu: Option<(u64, u64)>,
    network_start: Option<(u64, u64)>,
    nvml: Option<nvml::Nvml>,
}

impl Probe {
    fn new(run_dir: PathBuf, gpus: bool) -> Self {
        let nvml = if gpus { nvml::Nvml::load() } else { None };
        Self {
            cpu: cpu_times(),
            network_start: network_bytes(),
            run_dir,
            nvml,
        }
    }

    /// One sample: every figure this machine provides (a missing one is left out).
    fn read(&mut self) -> BTreeMap<String, f64> {
        let mut v = BTreeMap::new();
        if let (Some((busy0, total0)), Some((busy1, total1))) = (self.cpu, cpu_times()) {
            if total1 > total0 {
                let pct = 100.0 * (busy1 - busy0.min(busy1)) as f64 / (total1 - total0) as f64;
                v.insert("cpu_utilization_percentage".into(), pct);
            }
            self.cpu = Some((busy1, total1));
        }
        if let Some((total, available)) = memory_bytes() {
            let used = total.saturating_sub(available) as f64;
            v.insert("system_memory_usage_megabytes".into(), used / MB);
            v.insert(
                "system_memory_usage_percentage".into(),
                100.0 * used / total.max(1) as f64,
            );
        }
        if let Some((total, free, available)) = disk_bytes(&self.run_dir) {
            let used = total.saturating_sub(free) as f64;
            v.insert("disk_usage_megabytes".into(), used / MB);
            v.insert("disk_available_megabytes".into(), available as f64 / MB);
            v.insert(
                "disk_usage_percentage".into(),
                100.0 * used / (used + available as f64).max(1.0),
            );
        }
        if let (Some((rx0, tx0)), Some((rx, tx))) = (self.network_start, network_bytes()) {
            v.insert(
                "network_receive_megabytes".into(),
                rx.saturating_sub(rx0) as f64 / MB,
            );
            v.insert(
                "network_transmit_megabytes".into(),
                tx.saturating_sub(tx0) as f64 / MB,
            );
        }
        if let Some(nvml) = &self.nvml {
            for (i, gpu) in nvml.read().into_iter().enumerate() {
                let key = |k: &str| format!("gpu_{i}_{k}");
                v.insert(key("utilization_percentage"), gpu.utilization);
                v.insert(key("memory_usage_megabytes"), gpu.memory_used / MB);
                v.insert(
                    key("memory_usage_percentage"),
                    100.0 * gpu.memory_used / gpu.memory_total.max(1.0),
                );
                if let Some(watts) = gpu.power_watts {
                    v.insert(key("power_usage_watts"), watts);
                }
            }
        }
        v
    }
}

/// (busy, total) jiffies of all CPUs from `/proc/stat`.
fn cpu_times() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let total: u64 = n.iter().take(8).sum();
    let idle = n.get(3)? + n.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// (total, available) bytes of memory from `/proc/meminfo`.
fn memory_bytes() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    Some((kb("MemTotal:")? * 1024, kb("MemAvailable:")? * 1024))
}

/// (total, free, available to users) bytes of the filesystem holding `dir`.
fn disk_bytes(dir: &Path) -> Option<(u64, u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; `path` is NUL-terminated.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let unit = s.f_frsize as u64;
    Some((
        s.f_blocks as u64 * unit,
        s.f_bfree as u64 * unit,
        s.f_bavail as u64 * unit,
    ))
}

/// (received, transmitted) bytes over every interface but loopback, from `/proc/net/dev`.
fn network_bytes() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/dev").ok()?;
    let mut sums = (0u64, 0u64);
    for line in text.lines().skip(2) {
        let (name, counters) = line.split_once(':')?;
        if name.trim() == "lo" {
            continue;
        }
        let n: Vec<u64> = counters
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        sums.0 += n.first().copied().unwrap_or(0);
        sums.1 += n.get(8).copied().unwrap_or(0);
    }
    Some(sums)
}

/// NVIDIA's management library, loaded at run time like libcuda: absent is not an error.
mod nvml {
    use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

    /// One GPU's figures.
    pub struct Gpu {
        pub utilization: f64,
        pub memory_used: f64,
        pub memory_total: f64,
        pub power_watts: Option<f64>,
    }

    #[repr(C)]
    struct Utilization {
        gpu: c_uint,
        memory: c_uint,
    }

    #[repr(C)]
    struct Memory {
        total: u64,
        free: u64,
        used: u64,
    }

    type Device = *mut c_void;
    type Init = unsafe extern "C" fn() -> c_int;
    type Count = unsafe extern "C" fn(*mut c_uint) -> c_int;
    type Handle = unsafe extern "C" fn(c_uint, *mut Device) -> c_int;
    type Util = unsafe extern "C" fn(Device, *mut Utilization) -> c_int;
    type Mem = unsafe extern "C" fn(Device, *mut Memory) -> c_int;
    type Power = unsafe extern "C" fn(Device, *mut c_uint) -> c_int;

    /// The library's entry points this sampler calls.
    pub struct Nvml {
        count: Count,
        handle: Handle,
        utilization: Util,
        memory: Mem,
        power: Power,
    }

    // SAFETY: NVML's functions are thread-safe; the struct only holds function pointers into a
    // library that stays loaded for the life of the process.
    unsafe impl Send for Nvml {}

    impl Nvml {
        /// Loads `libnvidia-ml.so.1` and initializes it; None when there is no NVIDIA driver.
        pub fn load() -> Option<Self> {
            // SAFETY: dlopen/dlsym with NUL-terminated names; the symbols' C signatures are
            // NVML's documented ones; the handle is never closed.
            unsafe {
                let lib = libc::dlopen(c"libnvidia-ml.so.1".as_ptr(), libc::RTLD_NOW);
                if lib.is_null() {
                    return None;
                }
                let sym = |name: &CStr| {
                    let p = libc::dlsym(lib, name.as_ptr() as *const c_char);
                    (!p.is_null()).then_some(p)
                };
                let init: Init = std::mem::transmute(sym(c"nvmlInit_v2")?);
                let nvml = Self {
                    count: std::mem::transmute::<*mut c_void, Count>(sym(
                        c"nvmlDeviceGetCount_v2",
                    )?),
                    handle: std::mem::transmute::<*mut c_void, Handle>(sym(
                        c"nvmlDeviceGetHandleByIndex_v2",
                    )?),
                    utilization: std::mem::transmute::<*mut c_void, Util>(sym(
                        c"nvmlDeviceGetUtilizationRates",
                    )?),
                    memory: std::mem::transmute::<*mut c_void, Mem>(sym(
                        c"nvmlDeviceGetMemoryInfo",
                    )?),
                    power: std::mem::transmute::<*mut c_void, Power>(sym(
                        c"nvmlDeviceGetPowerUsage",
                    )?),
                };
                (init() == 0).then_some(nvml)
            }
        }

        /// Every GPU's figures now (a GPU that does not answer is left out).
        pub fn read(&self) -> Vec<Gpu> {
            let mut out = Vec::new();
            // SAFETY: NVML calls with out-pointers to locals, as documented.
            unsafe {
                let mut n: c_uint = 0;
                if (self.count)(&mut n) != 0 {
                    return out;
                }
                for i in 0..n {
                    let mut dev: Device = std::ptr::null_mut();
                    let mut util = Utilization { gpu: 0, memory: 0 };
                    let mut mem = Memory {
                        total: 0,
                        free: 0,
                        used: 0,
                    };
                    if (self.handle)(i, &mut dev) != 0
                        || (self.utilization)(dev, &mut util) != 0
                        || (self.memory)(dev, &mut mem) != 0
                    {
                        continue;
                    }
                    let mut milliwatts: c_uint = 0;
                    let power = ((self.power)(dev, &mut milliwatts) == 0)
                        .then(|| f64::from(milliwatts) / 1000.0);
                    out.push(Gpu {
                        utilization: f64::from(util.gpu),
                        memory_used: mem.used as f64,
                        memory_total: mem.total as f64,
                        power_watts: power,
                    });
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_reports_cpu_memory_disk_and_network() {
        let dir = std::env::temp_dir();
        let mut probe = Probe::new(dir, true);
        // Some CPU work between the two readings.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        std::thread::sleep(Duration::from_millis(50));
        let v = probe.read();
        let cpu = v["cpu_utilization_percentage"];
        assert!((0.0..=100.0).contains(&cpu), "{v:?}");
        assert!(v["system_memory_usage_megabytes"] > 1.0, "{v:?}");
        assert!((0.0..=100.0).contains(&v["disk_usage_percentage"]), "{v:?}");
        assert!(v.contains_key("network_receive_megabytes"), "{v:?}");
        // Without an NVIDIA driver: no GPU keys, and no error.
        if nvml::Nvml::load().is_none() {
            assert!(!v.keys().any(|k| k.starts_with("gpu_")), "{v:?}");
        }
    }
}
