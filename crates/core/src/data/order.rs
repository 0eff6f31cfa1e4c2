//! Deterministic sample order: depends only on (seed, epoch), never on threads or timing.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Stream id reserved for the train/validation split (epochs use streams 0..).
const SPLIT_STREAM: u64 = u64::MAX;

/// The permutation of `0..n` used for `epoch` of a run seeded with `seed`. Indices are `u32`
/// (4 bytes a sample: a 700k-sample epoch order is under 3 MB); the permutation depends only on
/// `n`, not on the index type.
pub fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut rng);
    order
}

/// Batches in an epoch of `n` samples.
pub fn batches_per_epoch(n: usize, batch_size: usize, drop_last: bool) -> usize {
    if drop_last {
        n / batch_size.max(1)
    } else {
        n.div_ceil(batch_size.max(1))
    }
}

/// Splits `0..n` into (train, validation) with `round(n * fraction)` validation samples.
pub fn split_indices(n: usize, fraction: f64, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(SPLIT_STREAM);
    let mut all: Vec<u32> = (0..n as u32).collect();
    all.shuffle(&mut rng);
    let n_valid = ((n as f64) * fraction).round() as usize;
    let train = all.split_off(n_valid.min(n));
    (train, all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_a_permutation_and_depends_on_seed_and_epoch() {
        let a = epoch_order(1, 0, 100);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<u32>>());
        assert_eq!(a, epoch_order(1, 0, 100));
        assert_ne!(a, epoch_order(1, 1, 100));
        assert_ne!(a, epoch_order(2, 0, 100));
    }

    #[test]
    fn order_matches_the_usize_permutation_checkpoints_were_written_with() {
        // Before the u32 switch the order was shuffled as `Vec<usize>`; resumed runs depend on
        // both giving the same permutation.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        rng.set_stream(3);
        let mut old: Vec<usize> = (0..1000).collect();
        old.shuffle(&mut rng);
        let new: Vec<usize> = epoch_order(9, 3, 1000)
            .iter()
            .map(|&i| i as usize)
            .collect();
        assert_eq!(new, old);
    }

    #[test]
    fn split_is_disjoint_and_sized() {
        let (t, v) = split_indices(1000, 0.1, 7);
        assert_eq!((t.len(), v.len()), (900, 100));
        let mut all: Vec<_> = t.iter().chain(&v).copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<u32>>());
    }
}
