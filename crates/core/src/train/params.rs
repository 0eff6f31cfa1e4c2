//! Questions about a model's parameters that the loop asks before and while training.

use super::{TrainError, read_scalar};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

/// Parameters of `model`, counted from their shapes: lazily initialized parameters stay
/// unallocated, so a model too large to build can be measured.
pub fn count_params<B: Backend, M: Module<B>>(model: &M) -> usize {
    struct Count(usize);
    impl<B: Backend> ModuleVisitor<B> for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0 = self.0.saturating_add(param.lazy_shape().num_elements());
        }
    }
    let mut count = Count(0);
    model.visit(&mut count);
    count.0
}

/// Bytes per parameter a training step holds: f32 weights, gradients and two optimizer moments
/// (Adam), 16, plus the optimizer update's temporaries and the allocator's slack (measured at
/// about 20 a parameter on an MLP of 923M; 24 leaves room).
pub const TRAINING_BYTES_PER_PARAM: u64 = 24;

/// The share of the machine's memory a run may plan to use (in percent): activations, the
/// loader's batches, the OS and other processes need the rest.
pub const USABLE_MEMORY_PERCENT: u64 = 80;

/// Refuses a model whose parameters' training memory (`TRAINING_BYTES_PER_PARAM` each)
/// exceeds `USABLE_MEMORY_PERCENT` of `budget` bytes.
pub fn check_fits(params: usize, budget: u64, model_keys: &str) -> Result<(), TrainError> {
    let need = (params as u64).saturating_mul(TRAINING_BYTES_PER_PARAM);
    let usable = budget / 100 * USABLE_MEMORY_PERCENT;
    if need <= usable {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    Err(TrainError::ModelTooLarge {
        params,
        need_gib: gib(need),
        bytes_per_param: TRAINING_BYTES_PER_PARAM,
        usable_percent: USABLE_MEMORY_PERCENT,
        budget_gib: gib(budget),
        usable_gib: gib(usable),
        keys: model_keys.to_string(),
    })
}

/// Whether every float parameter of `model` is finite (one read-back: a device sync).
pub fn params_finite<B: Backend, M: Module<B>>(model: &M) -> Result<bool, TrainError> {
    struct NonFinite<B: Backend>(Option<Tensor<B, 1>>);
    impl<B: Backend> ModuleVisitor<B> for NonFinite<B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            // [1]: how many elements are NaN or infinite
            let bad = param.val().is_finite().bool_not().float().sum();
            self.0 = Some(self.0.take().map_or(bad.clone(), |n| n + bad));
        }
    }
    let mut visitor = NonFinite(None);
    model.visit(&mut visitor);
    Ok(read_scalar(visitor.0)? == 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_leaves_headroom() {
        let gib = 1u64 << 30;
        // The 923M-parameter MLP of [30000, 30000] on a 23.5 GiB machine: 20.6 GiB needed.
        let e = check_fits(923_000_000, gib * 47 / 2, "model.mlp").unwrap_err();
        assert!(e.to_string().contains("923000000 parameters"), "{e}");
        assert!(check_fits(100_000_000, gib * 47 / 2, "model.mlp").is_ok());
    }
}
