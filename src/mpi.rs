//! The MPI adapter of the core's `Collective` port (rsmpi over Open MPI or MPICH): rank and size
//! from the launcher, sums of f32 buffers, byte broadcasts, barriers, the job-wide abort, and the
//! watchdog on the time between collective operations.

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use trainer_core::train::{Collective, CollectiveError, RankGroup};

/// The MPI environment, finalized by `finish` (MPI wants that before the process exits).
static UNIVERSE: Mutex<Option<Universe>> = Mutex::new(None);

/// The world communicator of this job.
struct Mpi {
    world: Mutex<SimpleCommunicator>,
    rank: usize,
    size: usize,
}

/// Milliseconds since the epoch at the end of this process's last collective operation.
static HEARTBEAT: AtomicU64 = AtomicU64::new(0);

// SAFETY: MPI is initialized with MPI_THREAD_SERIALIZED (checked in `join`): any thread may
// call MPI as long as no two do at once, which the mutex around the communicator ensures.
unsafe impl Send for Mpi {}
// SAFETY: as above; every use of the communicator goes through the mutex.
unsafe impl Sync for Mpi {}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Mpi {
    fn world(&self) -> std::sync::MutexGuard<'_, SimpleCommunicator> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn beat(&self) {
        HEARTBEAT.store(now_ms(), Ordering::SeqCst);
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<(), CollectiveError> {
        let send = buf.to_vec();
        self.world()
            .all_reduce_into(&send[..], buf, SystemOperation::sum());
        self.beat();
        Ok(())
    }

    fn broadcast(&self, bytes: &mut Vec<u8>, root: usize) -> Result<(), CollectiveError> {
        let world = self.world();
        let root = world.process_at_rank(root as i32);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        if len > 0 {
            // Open MPI refuses the dangling pointer of an empty buffer.
            root.broadcast_into(&mut bytes[..]);
        }
        drop(world);
        self.beat();
        Ok(())
    }

    fn barrier(&self) -> Result<(), CollectiveError> {
        self.world().barrier();
        self.beat();
        Ok(())
    }

    fn abort(&self, code: i32) -> ! {
        // Not through the mutex: another thread may be blocked inside a collective holding it.
        SimpleCommunicator::world().abort(code)
    }
}

/// Initializes MPI and returns this rank's group (None for a job of one process).
pub fn join() -> anyhow::Result<Option<RankGroup>> {
    let Some((universe, threading)) = mpi::initialize_with_threading(mpi::Threading::Serialized)
    else {
        anyhow::bail!("MPI was already initialized in this process");
    };
    if threading < mpi::Threading::Serialized {
        anyhow::bail!(
            "the MPI library offers thread support {threading:?}; training needs MPI_THREAD_SERIALIZED (the loader and the watchdog run on other threads)"
        );
    }
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    *UNIVERSE.lock().unwrap_or_else(|p| p.into_inner()) = Some(universe);
    if size == 1 {
        return Ok(None);
    }
    HEARTBEAT.store(now_ms(), Ordering::SeqCst);
    let mpi = Mpi {
        world: Mutex::new(world),
        rank,
        size,
    };
    Ok(Some(RankGroup {
        collective: Arc::new(mpi),
        requested: &crate::commands::STOP,
        agreed: &crate::ranks::STOP_AGREED,
    }))
}

/// MPI's finalize (once; later calls do nothing).
pub fn finish() {
    WATCHING.store(false, Ordering::SeqCst);
    drop(UNIVERSE.lock().unwrap_or_else(|p| p.into_inner()).take());
}

/// Whether the watchdog still watches (off once the process is finishing).
static WATCHING: AtomicBool = AtomicBool::new(true);

/// Ends the job when `seconds` pass without a collective operation on this rank.
pub fn watch(group: &RankGroup, seconds: f64) {
    if seconds <= 0.0 {
        return;
    }
    let collective = group.collective.clone();
    let limit = (seconds * 1000.0) as u64;
    let rank = collective.rank();
    let spawned = std::thread::Builder::new()
        .name("rank-watchdog".into())
        .spawn(move || {
            // The clock starts now (set-up before the first step counts against the limit).
            HEARTBEAT.store(now_ms(), Ordering::SeqCst);
            while WATCHING.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(200));
                let idle = now_ms().saturating_sub(HEARTBEAT.load(Ordering::SeqCst));
                if WATCHING.load(Ordering::SeqCst) && idle > limit {
                    eprintln!(
                        "error: rank {rank}: no collective step for {seconds} s (run.step_timeout_seconds): a peer rank hung or died; ending the job"
                    );
                    collective.abort(1);
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("warning: rank {rank}: the step watchdog did not start: {e}");
    }
}
