//! Where compiled GPU kernels (CUDA PTX) and autotune results are kept between processes, so
//! only the first run on a machine pays for kernel compilation and tuning.

use std::path::{Path, PathBuf};

/// Environment variable that sets the kernel cache directory.
pub const KERNEL_CACHE_ENV: &str = "TRAINER_KERNEL_CACHE";

/// CubeCL config files that, when present in the working directory or a parent, take
/// precedence over the trainer's cache location.
const CUBECL_CONFIG_FILES: [&str; 4] = ["cubecl.toml", "CubeCL.toml", "burn.toml", "Burn.toml"];

/// Where kernels are cached, and who decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelCache {
    /// The trainer's directory: `$TRAINER_KERNEL_CACHE`, else `$XDG_CACHE_HOME/trainer/kernels`,
    /// else `~/.cache/trainer/kernels`.
    Trainer(PathBuf),
    /// A CubeCL config file found above the working directory decides (its `[cache]` settings).
    CubeclConfig(PathBuf),
    /// No home directory to cache in: kernels are compiled in every process.
    Off,
}

impl std::fmt::Display for KernelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelCache::Trainer(dir) => write!(f, "{}", dir.display()),
            KernelCache::CubeclConfig(file) => write!(f, "as configured in {}", file.display()),
            KernelCache::Off => write!(f, "off (no home directory; set {KERNEL_CACHE_ENV})"),
        }
    }
}

/// The cache the trainer would use with this environment and working directory.
pub fn kernel_cache_location(
    env: impl Fn(&str) -> Option<String>,
    working_dir: &Path,
) -> KernelCache {
    if let Some(file) = working_dir.ancestors().find_map(|d| {
        CUBECL_CONFIG_FILES
            .iter()
            .map(|name| d.join(name))
            .find(|p| p.is_file())
    }) {
        return KernelCache::CubeclConfig(file);
    }
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty(KERNEL_CACHE_ENV) {
        return KernelCache::Trainer(PathBuf::from(dir));
    }
    let base = non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| Path::new(&h).join(".cache")));
    match base {
        Some(b) => KernelCache::Trainer(b.join("trainer").join("kernels")),
        None => KernelCache::Off,
    }
}

/// Points CubeCL's kernel (PTX) and autotune caches at the trainer's directory, unless a CubeCL
/// config file decides; must run before the first GPU tensor of the process (later calls and
/// CPU-only builds change nothing). Decided once per process; returns where kernels are cached.
pub fn configure_kernel_cache() -> KernelCache {
    static LOCATION: std::sync::OnceLock<KernelCache> = std::sync::OnceLock::new();
    LOCATION.get_or_init(configure_once).clone()
}

/// Decides the location and configures CubeCL with it (the first call of the process).
fn configure_once() -> KernelCache {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let location = kernel_cache_location(|k| std::env::var(k).ok(), &cwd);
    #[cfg(any(feature = "cuda", feature = "wgpu"))]
    if let KernelCache::Trainer(dir) = &location {
        use cubecl_runtime::config::cache::CacheConfig;
        use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig};
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), "kernel cache unavailable: {e}");
            return location;
        }
        // The defaults plus the CUBECL_* environment overrides, with our cache directory.
        let mut cfg = CubeClRuntimeConfig::default().override_from_env();
        cfg.compilation.cache = Some(CacheConfig::File(dir.clone()));
        cfg.autotune.cache = CacheConfig::File(dir.clone());
        // Refused (a panic inside CubeCL) only if the config was already read: keep that one.
        let set = std::panic::catch_unwind(move || CubeClRuntimeConfig::set(cfg));
        if set.is_err() {
            tracing::warn!("kernel cache not configured: the GPU runtime had started");
        }
    }
    location
}
