//! The streaming loader: worker threads assemble batches into a bounded queue, off the training
//! thread, and hand them out strictly in order.
//!
//! Batch `k` of an epoch is always the samples `order[k*bs .. (k+1)*bs]`, where `order` depends
//! only on (seed, epoch). Workers take batches round-robin (worker `w` builds every batch whose
//! position is `w` mod N) and each has its own bounded lane, so the consumer reads lane `k mod N`
//! for batch `k`: the sequence is the same for any worker count or thread timing, and memory is
//! bounded by `prefetch` ready batches plus one in progress per worker.

use super::{BatchSource, DataError, batches_per_epoch, epoch_order};
use crate::background::panic_message;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Worker threads and queue depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderSettings {
    /// Threads assembling batches (at least 1).
    pub workers: usize,
    /// Ready batches kept queued ahead of the consumer (at least 1).
    pub prefetch: usize,
}

impl LoaderSettings {
    /// Resolves config values where 0 means "pick for this machine": half the cores (1 to 8)
    /// workers, and twice as many batches prefetched.
    pub fn resolve(workers: usize, prefetch: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = if workers == 0 {
            (cores / 2).clamp(1, 8)
        } else {
            workers
        };
        let prefetch = if prefetch == 0 { 2 * workers } else { prefetch };
        Self { workers, prefetch }
    }
}

/// A position in the batch stream: the next batch to hand out. Saved in checkpoints; a loader
/// started at a cursor continues with exactly the batches an uninterrupted one would yield.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Batches of that epoch already handed out.
    pub batch: usize,
}

/// How an epoch is cut into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochPlan {
    /// Seed of the shuffling order.
    pub seed: u64,
    /// Samples per batch.
    pub batch_size: usize,
    /// Drop the last, smaller batch of an epoch.
    pub drop_last: bool,
}

/// A list of sample indices cut into consecutive batches.
#[derive(Debug, Clone)]
pub struct BatchList {
    order: Arc<[u32]>,
    batch_size: usize,
    batches: usize,
    /// The training epoch these batches are (None: evaluation, never augmented).
    epoch: Option<usize>,
}

impl BatchList {
    /// Batches of `batch_size` over `order`, the last one smaller unless `drop_last`.
    pub fn new(order: Vec<u32>, batch_size: usize, drop_last: bool) -> Self {
        let batch_size = batch_size.max(1);
        let batches = batches_per_epoch(order.len(), batch_size, drop_last);
        Self {
            order: order.into(),
            batch_size,
            batches,
            epoch: None,
        }
    }

    /// The shuffled batches of one training epoch (read with the epoch's augmentation).
    pub fn epoch(plan: &EpochPlan, epoch: usize, samples: usize) -> Self {
        let mut list = Self::new(
            epoch_order(plan.seed, epoch, samples),
            plan.batch_size,
            plan.drop_last,
        );
        list.epoch = Some(epoch);
        list
    }

    /// Number of batches.
    pub fn len(&self) -> usize {
        self.batches
    }

    /// True when there are no batches.
    pub fn is_empty(&self) -> bool {
        self.batches == 0
    }

    /// The sample indices of batch `k`.
    pub fn indices(&self, k: usize) -> &[u32] {
        let start = k * self.batch_size;
        &self.order[start..(start + self.batch_size).min(self.order.len())]
    }
}

/// Yields `(batch index, batch)` from a `BatchList`, assembled by worker threads. Dropping it
/// stops and joins the workers.
pub struct Loader<T> {
    lanes: Vec<Receiver<Result<T, DataError>>>,
    workers: Vec<JoinHandle<()>>,
    start: usize,
    next: usize,
    end: usize,
}

impl<T: Send + 'static> Loader<T> {
    /// Starts workers that assemble batches `from..batches.len()` of `batches` from `source`.
    pub fn start<S>(
        source: Arc<S>,
        batches: BatchList,
        from: usize,
        settings: LoaderSettings,
    ) -> Self
    where
        S: BatchSource<Batch = T> + ?Sized + 'static,
    {
        let end = batches.len();
        let from = from.min(end);
        let n = settings.workers.clamp(1, (end - from).max(1));
        let depth = settings.prefetch.max(1).div_ceil(n);
        let (mut lanes, mut workers) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for w in 0..n {
            let (tx, rx) = sync_channel(depth);
            let (source, batches) = (source.clone(), batches.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("data-worker-{w}"))
                .spawn(move || work(&*source, &batches, (from + w..end).step_by(n), tx));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    // No thread: this lane reports the failure when its first batch is due.
                    let (tx, rx) = sync_channel(1);
                    let _ = tx.send(Err(DataError::Worker(format!(
                        "cannot start a data worker thread: {e}"
                    ))));
                    lanes.push(rx);
                    continue;
                }
            }
            lanes.push(rx);
        }
        Self {
            lanes,
            workers,
            start: from,
            next: from,
            end,
        }
    }

    /// The next batch this loader will hand out (restart a loader there to continue).
    pub fn next_batch(&self) -> usize {
        self.next
    }
}

fn work<S: BatchSource + ?Sized>(
    source: &S,
    batches: &BatchList,
    mine: impl Iterator<Item = usize>,
    tx: SyncSender<Result<S::Batch, DataError>>,
) {
    for k in mine {
        // A panic in the source (a user's `BatchSource`, a reader bug) becomes this batch's
        // error, so the run ends FAILED with it instead of a closed channel.
        let read = || match batches.epoch {
            Some(epoch) => source.read_epoch_batch(batches.indices(k), epoch),
            None => source.read_batch(batches.indices(k)),
        };
        let batch = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(
            |payload| {
                Err(DataError::Worker(format!(
                    "the data worker panicked reading batch {k}: {}",
                    panic_message(payload.as_ref())
                )))
            },
        );
        let failed = batch.is_err();
        // A send error means the loader was dropped: stop quietly.
        if tx.send(batch).is_err() || failed {
            return;
        }
    }
}

impl<T> Iterator for Loader<T> {
    type Item = Result<(usize, T), DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let k = self.next;
        let lane = &self.lanes[(k - self.start) % self.lanes.len()];
        let item = match lane.recv() {
            Ok(batch) => batch.map(|b| (k, b)),
            Err(_) => Err(DataError::Worker(format!(
                "the data worker for batch {k} stopped without producing it"
            ))),
        };
        // After an error the stream ends: later batches of a failed lane never come.
        self.next = if item.is_ok() { k + 1 } else { self.end };
        Some(item)
    }
}

impl<T> Drop for Loader<T> {
    fn drop(&mut self) {
        self.lanes.clear(); // unblocks workers waiting on a full lane
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches are the index lists themselves, read slowly and unevenly so threads interleave.
    struct Echo(usize);

    impl BatchSource for Echo {
        type Batch = Vec<u32>;
        fn len(&self) -> usize {
            self.0
        }
        fn read_batch(&self, indices: &[u32]) -> Result<Vec<u32>, DataError> {
            if indices[0].is_multiple_of(3) {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            Ok(indices.to_vec())
        }
    }

    fn run(workers: usize, prefetch: usize, from: Cursor) -> Vec<(usize, usize, Vec<u32>)> {
        let plan = EpochPlan {
            seed: 5,
            batch_size: 7,
            drop_last: false,
        };
        let source = Arc::new(Echo(100));
        let settings = LoaderSettings { workers, prefetch };
        let mut out = Vec::new();
        for epoch in from.epoch..3 {
            let skip = if epoch == from.epoch { from.batch } else { 0 };
            let list = BatchList::epoch(&plan, epoch, 100);
            for item in Loader::start(source.clone(), list, skip, settings) {
                let (k, b) = item.unwrap();
                out.push((epoch, k, b));
            }
        }
        out
    }

    #[test]
    fn same_batches_for_any_worker_count_and_prefetch() {
        let one = run(1, 1, Cursor::default());
        assert_eq!(one.len(), 3 * 15);
        assert_eq!(one[14].2.len(), 100 - 14 * 7);
        for (w, p) in [(2, 2), (8, 3), (8, 64), (3, 1)] {
            assert_eq!(
                run(w, p, Cursor::default()),
                one,
                "{w} workers, prefetch {p}"
            );
        }
    }

    #[test]
    fn a_loader_restarted_at_its_cursor_continues_the_same_stream() {
        let whole = run(2, 4, Cursor::default());
        let source = Arc::new(Echo(100));
        let plan = EpochPlan {
            seed: 5,
            batch_size: 7,
            drop_last: false,
        };
        let settings = LoaderSettings {
            workers: 4,
            prefetch: 4,
        };
        let mut first = Loader::start(source, BatchList::epoch(&plan, 1, 100), 0, settings);
        let taken: Vec<_> = first.by_ref().take(6).map(|r| r.unwrap().1).collect();
        let cursor = Cursor {
            epoch: 1,
            batch: first.next_batch(),
        };
        drop(first); // workers have prefetched ahead; dropping must not lose or skip anything
        let rest = run(8, 2, cursor);
        let mut resumed: Vec<_> = whole[..15].to_vec();
        resumed.extend(taken.into_iter().enumerate().map(|(k, b)| (1, k, b)));
        resumed.extend(rest);
        assert_eq!(resumed, whole);
    }

    #[test]
    fn a_read_error_ends_the_stream_with_that_error() {
        struct Failing;
        impl BatchSource for Failing {
            type Batch = ();
            fn len(&self) -> usize {
                50
            }
            fn read_batch(&self, indices: &[u32]) -> Result<(), DataError> {
                if indices.contains(&42) {
                    return Err(DataError::Worker("sample 42 is bad".into()));
                }
                Ok(())
            }
        }
        let list = BatchList::new((0..50).collect(), 10, false);
        let settings = LoaderSettings {
            workers: 3,
            prefetch: 2,
        };
        let items: Vec<_> = Loader::start(Arc::new(Failing), list, 0, settings).collect();
        assert_eq!(items.len(), 5);
        assert!(items[..4].iter().all(|r| r.is_ok()));
        assert!(items[4].as_ref().unwrap_err().to_string().contains("42"));
    }

    #[test]
    fn a_panicking_source_ends_the_stream_with_a_one_line_error() {
        struct Panicking;
        impl BatchSource for Panicking {
            type Batch = ();
            fn len(&self) -> usize {
                30
            }
            fn read_batch(&self, indices: &[u32]) -> Result<(), DataError> {
                if indices.contains(&17) {
                    panic!("injected: decoder bug\nbacktrace noise");
                }
                Ok(())
            }
        }
        let list = BatchList::new((0..30).collect(), 10, false);
        let settings = LoaderSettings {
            workers: 2,
            prefetch: 2,
        };
        let items: Vec<_> = Loader::start(Arc::new(Panicking), list, 0, settings).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        let error = items[1].as_ref().unwrap_err().to_string();
        assert!(
            error.contains("the data worker panicked reading batch 1: injected: decoder bug"),
            "{error}"
        );
        assert!(!error.contains('\n'), "{error}");
    }
}
