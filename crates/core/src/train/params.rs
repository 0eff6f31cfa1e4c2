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

/// Bytes per parameter that training holds at least: f32 weights, gradients and two optimizer
/// moments (Adam).
pub const TRAINING_BYTES_PER_PARAM: u64 = 16;

/// Refuses a model whose weights, gradients and optimizer state alone exceed `budget` bytes.
pub fn check_fits(params: usize, budget: u64, model_keys: &str) -> Result<(), TrainError> {
    let need = (params as u64).saturating_mul(TRAINING_BYTES_PER_PARAM);
    if need <= budget {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    Err(TrainError::Data(format!(
        "the model has {params} parameters: training needs at least {:.1} GiB for weights, gradients and optimizer state, more than the {:.1} GiB of memory here; make {model_keys} smaller",
        gib(need),
        gib(budget)
    )))
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
