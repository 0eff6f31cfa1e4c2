//! Multi-process jobs: a process started by an MPI launcher (`mpirun`, `srun`) joins the job
//! (with the `mpi` feature: MPI is the engine) and trains one rank of it; otherwise it is a
//! single process, as always.

use std::sync::atomic::AtomicBool;
use trainer_core::train::RankGroup;

/// Raised on every rank once any rank asked to stop (the training loop's stop flag in a job).
pub static STOP_AGREED: AtomicBool = AtomicBool::new(false);

/// Environment variables MPI launchers set in the processes they start, with what they hold:
/// Open MPI's `mpirun`, MPICH's Hydra and PMI-2 (`srun --mpi=pmi2`), PMIx (`srun --mpi=pmix`,
/// Open MPI 5).
const LAUNCHER_VARS: [&str; 5] = [
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "PMIX_RANK",
    "PMI_RANK",
    "OMPI_COMM_WORLD_RANK",
];

/// The launcher variable this process was started with, if any, and the job size it gives
/// (when it gives one).
fn launched() -> Option<(&'static str, Option<usize>)> {
    let var = LAUNCHER_VARS
        .into_iter()
        .find(|v| std::env::var_os(v).is_some())?;
    let size = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok());
    Some((var, size))
}

/// Joins the job this process was launched in: None for a single process (no launcher, or a
/// job of one); Err when launched as one of several processes by a binary built without MPI.
pub fn join() -> anyhow::Result<Option<RankGroup>> {
    let Some((var, size)) = launched() else {
        return Ok(None);
    };
    #[cfg(feature = "mpi")]
    {
        let _ = (var, size);
        crate::mpi::join()
    }
    #[cfg(not(feature = "mpi"))]
    match size {
        Some(n) if n > 1 => Err(anyhow::anyhow!(
            "started as one of {n} processes ({var} is set) by an MPI launcher, but this trainer was built without MPI; build it with `cargo build --release --features mpi` (each process would otherwise train alone)"
        )),
        _ => Ok(None),
    }
}

/// Ends this process's part in the job (MPI's finalize); nothing for a single process.
pub fn finish() {
    #[cfg(feature = "mpi")]
    crate::mpi::finish();
}

/// Starts the watchdog: a rank that sees no collective operation for `seconds` (a peer hung,
/// or died where the launcher does not notice) says so and ends the whole job.
pub fn watch(group: &RankGroup, seconds: f64) {
    #[cfg(feature = "mpi")]
    crate::mpi::watch(group, seconds);
    #[cfg(not(feature = "mpi"))]
    let _ = (group, seconds);
}
