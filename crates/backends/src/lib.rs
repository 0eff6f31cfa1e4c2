//! Run-time backend choice: probing, `auto` fallback, and the one place that names concrete
//! Burn backends (`dispatch`). The jobs of `trainer-core` are monomorphized here, once per
//! compiled backend, behind the non-generic entry points of `run`: crates above this one
//! (tracking, the CLI) compile no backend code, so editing them never recompiles it. A library
//! user's model goes through the generic [`run_job`] and is monomorphized in their crate.

mod dispatch;
mod kernel_cache;
mod named;
mod probe;
mod run;
mod select;

pub use kernel_cache::{
    KERNEL_CACHE_ENV, KernelCache, configure_kernel_cache, kernel_cache_location,
};
pub use named::NamedBackend;
pub use probe::{AdapterKind, CudaInfo, WgpuAdapter};
pub use run::{bench, eval, learner, predict, pytorch_export, run_job, sample};
pub use select::{BackendStatus, Choice, Selection, list, select, select_devices};

/// Why the requested backend cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Compiled in, but not usable on this machine.
    #[error("backend `{name}` is not usable here: {reason}")]
    Unavailable {
        /// Backend name.
        name: &'static str,
        /// What the probe found.
        reason: String,
    },
    /// Left out of this build by cargo features.
    #[error(
        "backend `{name}` is not compiled into this binary (build with the `{name}` cargo feature)"
    )]
    NotCompiled {
        /// Backend name.
        name: &'static str,
    },
    /// `--device N` beyond the devices present.
    #[error("--device {index}: backend `{name}` has {count} usable device(s) here")]
    NoSuchDevice {
        /// Backend name.
        name: &'static str,
        /// Requested index.
        index: usize,
        /// Devices present.
        count: usize,
    },
}
