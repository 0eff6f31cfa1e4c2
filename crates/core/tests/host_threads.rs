//! `host_threads::compute_on_this_thread` in a process of its own (rayon's global pool can be
//! built once per process).

use rayon::prelude::*;
use std::collections::BTreeSet;
use trainer_core::host_threads::{ComputeThreads, compute_on_this_thread};

#[test]
fn the_calling_thread_becomes_worker_0_and_other_threads_still_get_work_done() {
    // Two threads even on a one-core machine.
    // SAFETY: this is the test binary's only test, and nothing else has started a thread that
    // reads the environment.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "2") };
    assert_eq!(compute_on_this_thread(), ComputeThreads::Joined(2));
    assert_eq!(rayon::current_thread_index(), Some(0));
    assert_eq!(rayon::current_num_threads(), 2);

    // A parallel loop started here runs part of its work on this thread.
    let workers: BTreeSet<usize> = (0..10_000)
        .into_par_iter()
        .map(|_| rayon::current_thread_index().expect("on a pool thread"))
        .collect();
    assert!(workers.contains(&0), "workers: {workers:?}");

    // Work handed to the pool by a thread outside it completes while this thread waits
    // outside rayon (the pool's other worker runs it).
    let sum = std::thread::spawn(|| (1..=100u64).into_par_iter().sum::<u64>())
        .join()
        .expect("the outside thread");
    assert_eq!(sum, 5050);

    // The pool exists now: a second call leaves it as it is.
    assert!(matches!(
        compute_on_this_thread(),
        ComputeThreads::AlreadyBuilt(_)
    ));
}
