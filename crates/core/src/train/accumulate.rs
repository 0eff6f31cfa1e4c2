//! Gradient accumulation: `train.grad_accumulation_steps` consecutive batches of an epoch make
//! one optimizer update. Each batch's loss is weighted by its share of the window's samples, so
//! the update equals one step on the window's samples as a single batch (with
//! `drop_last = false`, the same as `batch_size * grad_accumulation_steps` without accumulation).

use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::backend::AutodiffBackend;

/// Where the windows of an epoch fall, and the gradients summed so far in the current one.
pub struct Accumulation<M> {
    /// Batches per update.
    every: usize,
    /// Training samples per epoch.
    samples: usize,
    /// Samples per batch.
    batch_size: usize,
    /// Batches per epoch.
    batches: usize,
    summed: GradientsAccumulator<M>,
    /// Batches summed into `summed` since the last update.
    pending: usize,
}

impl<M> Accumulation<M> {
    /// Windows of `every` batches over epochs of `batches` batches of `batch_size` drawn from
    /// `samples` samples (the last batch of an epoch may be smaller).
    pub fn new(every: usize, samples: usize, batch_size: usize, batches: usize) -> Self {
        Self {
            every: every.max(1),
            samples,
            batch_size,
            batches,
            summed: GradientsAccumulator::new(),
            pending: 0,
        }
    }

    /// True while a window has gradients that are not yet applied (no checkpoint can hold them).
    pub fn pending(&self) -> bool {
        self.pending > 0
    }

    /// The loss weight of batch `i` of the epoch: its samples over its window's samples.
    pub fn weight(&self, i: usize) -> f32 {
        if self.every == 1 {
            return 1.0;
        }
        let first = i / self.every * self.every;
        let last = (first + self.every).min(self.batches);
        let window: usize = (first..last).map(|j| self.batch_samples(j)).sum();
        self.batch_samples(i) as f32 / window.max(1) as f32
    }

    /// Adds batch `i`'s gradients; returns the window's sum when `i` ends a window (the update
    /// is due), `None` while the window is still open.
    pub fn add<B>(&mut self, model: &M, i: usize, grads: GradientsParams) -> Option<GradientsParams>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
    {
        if self.every == 1 {
            return Some(grads);
        }
        self.summed.accumulate(model, grads);
        self.pending += 1;
        let ends_window = (i + 1).is_multiple_of(self.every) || i + 1 == self.batches;
        ends_window.then(|| {
            self.pending = 0;
            self.summed.grads()
        })
    }

    /// Samples in batch `j` of an epoch.
    fn batch_samples(&self, j: usize) -> usize {
        self.samples
            .saturating_sub(j * self.batch_size)
            .min(self.batch_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::Linear;

    type A = Accumulation<Linear<Autodiff<Flex>>>;

    #[test]
    fn weights_are_shares_of_the_window_samples() {
        // 50 samples in batches of 8: 7 batches (the last has 2); windows of 3 batches.
        let a = A::new(3, 50, 8, 7);
        let w: Vec<f32> = (0..7).map(|i| a.weight(i)).collect();
        let third = 1.0 / 3.0;
        for (got, want) in w
            .iter()
            .zip([third, third, third, third, third, third, 1.0])
        {
            assert!((got - want).abs() < 1e-6, "{w:?}");
        }
        // Windows of 4: batches 4..7 hold 8 + 8 + 2 = 18 samples.
        let a = A::new(4, 50, 8, 7);
        assert!((a.weight(0) - 0.25).abs() < 1e-6);
        assert!((a.weight(5) - 8.0 / 18.0).abs() < 1e-6);
        assert!((a.weight(6) - 2.0 / 18.0).abs() < 1e-6);
        // Without accumulation every batch weighs 1.
        assert_eq!(A::new(1, 50, 8, 7).weight(6), 1.0);
    }
}
