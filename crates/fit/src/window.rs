//! Training losses between read-backs: summed on the device by the learner, read back (a
//! device sync) only when the loop logs, checkpoints or first needs a reference.

use trainer_core::train::{Learner, TrainError};

/// The losses read back since the last logged mean, over the steps taken since then.
#[derive(Default)]
pub(crate) struct LossWindow {
    read_back: f64,
    steps: usize,
}

impl LossWindow {
    /// Counts a step whose loss the learner summed on the device.
    pub fn push(&mut self) {
        self.steps += 1;
    }

    /// Reads the device part back; returns the newly read sum (it stays in the window). A
    /// non-finite sum means the run diverged by `step`.
    pub fn sync(&mut self, learner: &mut dyn Learner, step: usize) -> Result<f64, TrainError> {
        let sum = learner.read_losses()?;
        if !sum.is_finite() {
            return Err(TrainError::Diverged {
                step,
                what: format!("the training loss is {sum}"),
            });
        }
        self.read_back += sum;
        Ok(sum)
    }

    /// Mean loss over the window's steps read back so far (after `sync`), window kept.
    pub fn peek_mean(&self) -> f64 {
        self.read_back / self.steps.max(1) as f64
    }

    /// Mean loss over the window's steps (after `sync`), and starts a new window.
    pub fn take_mean(&mut self) -> f64 {
        let mean = self.peek_mean();
        (self.read_back, self.steps) = (0.0, 0);
        mean
    }
}
