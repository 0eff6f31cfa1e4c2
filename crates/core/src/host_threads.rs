//! The CPU compute threads: the thread that runs the training loop is one of rayon's workers.
//!
//! The host ops, flex and gemm split their work on rayon's global pool. By default the thread that
//! calls them (the training loop's) is not one of the pool's: each parallel op is handed over to
//! the pool, its sleeping workers are woken, and the caller sleeps until they finish and wake it,
//! hundreds of times a step. With the calling thread as worker 0 it runs its share of each op
//! itself and wakes only the others: 4.6x fewer context switches in a CNN benchmark, and on 2 cores
//! the GPT 4x128 step 3-6% and the MLP's 10-18% faster, the CNN's 2-5% slower, within that
//! machine's noise (`benches/results/2026-12-05-cpu-main-thread-worker/`). The thread stays the
//! process's main thread, so its allocations keep using glibc's main heap: running the loop on a
//! spawned pool thread instead cost the CNN 4.6x the page faults and 8% of its speed.

/// What [`compute_on_this_thread`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComputeThreads {
    /// The calling thread is worker 0 of a global pool of this many threads.
    Joined(usize),
    /// One thread only (`RAYON_NUM_THREADS=1`, a one-core machine): rayon's default pool, whose
    /// single worker runs anything handed to the pool by other threads.
    Default,
    /// The global pool existed already (built by a library user, or an earlier call).
    AlreadyBuilt(String),
}

/// Builds rayon's global pool (`RAYON_NUM_THREADS` or one thread per core) with the calling
/// thread as one of its workers. Call it first thing on the thread that will train, before
/// anything uses rayon.
pub fn compute_on_this_thread() -> ComputeThreads {
    let threads = configured_threads();
    // With a single thread, work handed to the pool by another thread (none does today) would
    // wait until this one yields to rayon: keep the default pool's own worker.
    if threads < 2 {
        return ComputeThreads::Default;
    }
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .use_current_thread()
        .build_global()
    {
        Ok(()) => ComputeThreads::Joined(threads),
        Err(e) => ComputeThreads::AlreadyBuilt(e.to_string()),
    }
}

/// The pool size rayon chooses itself: `RAYON_NUM_THREADS` when it is a positive number (0: one
/// per core), else the deprecated `RAYON_RS_NUM_CPUS` when positive, else one thread per core.
fn configured_threads() -> usize {
    let per_core = || std::thread::available_parallelism().map_or(1, |n| n.get());
    let number = |name: &str| std::env::var(name).ok()?.parse::<usize>().ok();
    match number("RAYON_NUM_THREADS") {
        Some(0) => per_core(),
        Some(n) => n,
        None => number("RAYON_RS_NUM_CPUS")
            .filter(|&n| n > 0)
            .unwrap_or_else(per_core),
    }
}
