//! Mixed precision: a bf16/f16 forward and backward over f32 master weights (the f32 model is
//! cast inside the autodiff graph each step, so its gradients arrive in f32), and dynamic loss
//! scaling for f16 (PyTorch's `autocast` + `GradScaler`, as the loop needs them).

use super::TrainError;
use super::clip::{CLIP_EPSILON, Rescale, SquaredNorm};
use crate::checkpoint::LossScaleState;
use crate::config::Precision;
use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{DType, FloatDType};

/// The f16 loss scale a run starts with (PyTorch's `GradScaler` default).
pub const INITIAL_LOSS_SCALE: f64 = 65536.0;
/// Overflow-free updates after which the loss scale doubles (PyTorch's default).
pub const GROWTH_INTERVAL: usize = 2000;

/// How one step computes: the float type of its forward/backward, and the loss scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Compute {
    /// The float type of the forward and backward (None: f32, nothing is cast).
    pub dtype: Option<FloatDType>,
    /// Factor on the loss before backward (1 except under f16 loss scaling).
    pub loss_scale: f32,
}

impl Compute {
    /// Plain f32: no cast, no scaling.
    pub const F32: Compute = Compute {
        dtype: None,
        loss_scale: 1.0,
    };

    /// The step for `precision` with the scaler's current state (f16 only).
    pub fn new(precision: Precision, scale: Option<&LossScaleState>) -> Self {
        Compute {
            dtype: compute_dtype(precision),
            loss_scale: scale.map_or(1.0, |s| s.scale as f32),
        }
    }
}

/// The float type `precision` computes in (None for f32).
pub fn compute_dtype(precision: Precision) -> Option<FloatDType> {
    match precision {
        Precision::F32 => None,
        Precision::Bf16 => Some(FloatDType::BF16),
        Precision::F16 => Some(FloatDType::F16),
    }
}

/// Err when `backend` on `device` cannot compute in `precision` (e.g. bf16 on a Vulkan
/// adapter without it, anything but f32 on ndarray).
pub fn check_supported<B: Backend>(
    precision: Precision,
    backend: &str,
    device: &B::Device,
) -> Result<(), TrainError> {
    let dtype = match compute_dtype(precision) {
        None => return Ok(()),
        Some(FloatDType::BF16) => DType::BF16,
        Some(_) => DType::F16,
    };
    if B::supports_dtype(device, dtype) {
        return Ok(());
    }
    let other = match precision {
        Precision::Bf16 if B::supports_dtype(device, DType::F16) => "\"f16\" or \"f32\"",
        Precision::F16 if B::supports_dtype(device, DType::BF16) => "\"bf16\" or \"f32\"",
        _ => "\"f32\"",
    };
    Err(TrainError::UnsupportedPrecision {
        precision: precision.name(),
        backend: backend.to_string(),
        device: format!("{device:?}"),
        alternatives: other,
    })
}

/// The loss scaler a fresh run of `precision` starts with (f16 only).
pub fn initial_loss_scale(precision: Precision) -> Option<LossScaleState> {
    (precision == Precision::F16).then_some(LossScaleState {
        scale: INITIAL_LOSS_SCALE,
        good_steps: 0,
    })
}

/// Moves the scaler after an update: an overflow halves the scale (the update is skipped),
/// `GROWTH_INTERVAL` clean updates in a row double it. Returns whether the update applies.
pub fn advance_loss_scale(s: &mut LossScaleState, grads_finite: bool) -> bool {
    if !grads_finite {
        s.scale = (s.scale / 2.0).max(1.0);
        s.good_steps = 0;
        return false;
    }
    s.good_steps += 1;
    if s.good_steps >= GROWTH_INTERVAL {
        s.scale = (s.scale * 2.0).min(f32::MAX as f64 / 2.0);
        s.good_steps = 0;
    }
    true
}

/// Divides the (loss-scaled) `grads` by `scale` and, when `clip_norm > 0`, clips them to that
/// global L2 norm in the same pass (the overflow check has read the norm back already).
/// Reports whether every gradient is finite; one read-back (a device sync) per update.
pub fn unscale<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    scale: f64,
    clip_norm: f64,
) -> Result<bool, TrainError> {
    let mut norm = SquaredNorm::<B> { grads, sum: None };
    model.visit(&mut norm);
    let Some(squared) = norm.sum else {
        return Ok(true);
    };
    let device = squared.device();
    let squared = super::read_scalar(Some(squared))?;
    if !squared.is_finite() {
        return Ok(false);
    }
    let mut factor = 1.0 / scale;
    if clip_norm > 0.0 {
        // clip_grad_norm's factor, on the unscaled norm.
        factor *= (clip_norm / (squared.sqrt() / scale + CLIP_EPSILON)).min(1.0);
    }
    let factor = Tensor::<B::InnerBackend, 1>::from_floats([factor as f32], &device);
    model.visit(&mut Rescale::<B> { grads, factor });
    Ok(true)
}

/// A copy of `model` with every float parameter cast to `dtype` inside the autodiff graph: the
/// forward runs in `dtype` and backward casts the gradients back to the f32 parameters.
pub fn cast_params<B: Backend, M: Module<B>>(model: &M, dtype: FloatDType) -> M {
    model.clone().map(&mut CastParams(dtype))
}

struct CastParams(FloatDType);

impl<B: Backend> ModuleMapper<B> for CastParams {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.cast(self.0), mapper)
    }
}

/// Initializes every lazily initialized parameter now, so copies of the model made afterwards
/// (cast or per-device replicas) hold the same values as the model itself.
pub fn materialize<B: Backend, M: Module<B>>(model: &M) {
    struct Touch;
    impl<B: Backend> ModuleVisitor<B> for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let _ = param.val();
        }
    }
    model.visit(&mut Touch);
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::{Linear, LinearConfig};

    type B = Autodiff<Flex>;

    #[test]
    fn the_scale_halves_on_overflow_and_doubles_after_a_clean_interval() {
        let mut s = initial_loss_scale(Precision::F16).unwrap();
        assert_eq!(initial_loss_scale(Precision::Bf16), None);
        assert!(
            !advance_loss_scale(&mut s, false),
            "an overflow skips the update"
        );
        assert_eq!(s.scale, INITIAL_LOSS_SCALE / 2.0);
        for _ in 0..GROWTH_INTERVAL - 1 {
            assert!(advance_loss_scale(&mut s, true));
        }
        assert_eq!(s.scale, INITIAL_LOSS_SCALE / 2.0);
        assert!(advance_loss_scale(&mut s, true));
        assert_eq!((s.scale, s.good_steps), (INITIAL_LOSS_SCALE, 0));
        let mut tiny = LossScaleState {
            scale: 1.0,
            good_steps: 3,
        };
        advance_loss_scale(&mut tiny, false);
        assert_eq!(tiny.scale, 1.0, "never below 1");
    }

    /// The gradient of sum(layer(x)) on the f32 layer and through a bf16 cast of it: the cast
    /// path computes in bf16 yet hands f32 gradients of the f32 parameters back.
    #[test]
    fn a_cast_forward_gives_f32_gradients_close_to_the_f32_ones() {
        let device = Default::default();
        B::seed(&device, 7);
        let layer: Linear<B> = LinearConfig::new(8, 4).init(&device);
        materialize(&layer);
        let x = Tensor::<B, 2>::random([16, 8], burn::tensor::Distribution::Default, &device);
        let grad_of = |cast: bool| {
            let out = if cast {
                let c = cast_params(&layer, FloatDType::BF16);
                assert_eq!(c.weight.val().dtype(), DType::BF16);
                c.forward(x.clone().cast(FloatDType::BF16))
                    .cast(FloatDType::F32)
            } else {
                layer.forward(x.clone())
            };
            let grads = GradientsParams::from_grads(out.sum().backward(), &layer);
            let g = grads
                .get::<Flex, 2>(layer.weight.id)
                .expect("the f32 weight has a gradient");
            assert_eq!(g.dtype(), DType::F32);
            g.into_data().to_vec::<f32>().unwrap()
        };
        let (full, half) = (grad_of(false), grad_of(true));
        assert_eq!(layer.weight.val().dtype(), DType::F32, "master stays f32");
        let worst = full
            .iter()
            .zip(&half)
            .map(|(a, b)| (a - b).abs() / a.abs().max(1.0))
            .fold(0f32, f32::max);
        assert!(worst < 0.02, "bf16 gradient off by {worst}");
        assert_ne!(full, half, "the cast path really ran in bf16");
    }

    #[test]
    fn unscale_divides_finite_gradients_and_flags_overflow() {
        let device = Default::default();
        let layer: Linear<B> = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<B, 2>::ones([1, 3], &device);
        let grads_times = |k: f32| {
            GradientsParams::from_grads((layer.forward(x.clone()).sum() * k).backward(), &layer)
        };
        let read = |g: &GradientsParams| {
            g.get::<Flex, 2>(layer.weight.id)
                .unwrap()
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        };
        let want = read(&grads_times(1.0));
        let mut scaled = grads_times(1024.0);
        assert!(unscale(&layer, &mut scaled, 1024.0, 0.0).unwrap());
        assert_eq!(read(&scaled), want);
        let mut overflow = grads_times(f32::INFINITY);
        assert!(!unscale(&layer, &mut overflow, 1024.0, 0.0).unwrap());
        // Clipping in the same pass equals unscaling, then clip_grad_norm.
        let mut once = grads_times(1024.0);
        assert!(unscale(&layer, &mut once, 1024.0, 0.5).unwrap());
        let mut twice = grads_times(1.0);
        crate::train::clip::clip_grad_norm(&layer, &mut twice, 0.5);
        let (a, b) = (read(&once), read(&twice));
        assert!(
            a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5),
            "{a:?} vs {b:?}"
        );
        assert_ne!(a, want, "the clip applied");
    }
}
