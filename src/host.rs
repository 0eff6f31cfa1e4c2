//! The process tuned for CPU training as the `trainer` binary tunes itself: a program training
//! through the library calls [`tune`] first thing in its `main` to train at the binary's speed.

pub use trainer_core::host_memory::Tuning;
pub use trainer_core::host_threads::ComputeThreads;

/// What [`tune`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTuning {
    /// glibc's malloc thresholds: fixed so each step reuses the last one's buffers, or left as
    /// the environment or platform set them.
    pub memory: Tuning,
    /// Rayon's global pool: the calling thread joined it as a worker, or it was left as it was.
    pub threads: ComputeThreads,
}

/// Fixes glibc's mmap and trim thresholds (CPU steps reuse their buffers instead of faulting
/// them in again) and builds rayon's global pool with the calling thread as one of its workers
/// (it runs its share of each parallel op instead of waiting on the pool). Call it first in
/// `main`, on the thread that will train, before anything allocates much or uses rayon; each
/// part is skipped where it cannot apply (malloc settings in the environment, a pool built
/// already, not glibc), and the result says which.
pub fn tune() -> HostTuning {
    HostTuning {
        memory: trainer_core::host_memory::retain_freed_memory(),
        threads: trainer_core::host_threads::compute_on_this_thread(),
    }
}
