//! The random draws of `[data.augment]`: where to crop and whether to flip. Each sample's draws
//! come from its own generator seeded by (run seed, epoch, sample index), so they do not depend
//! on which worker reads it or when, and a resumed run redraws them exactly.

use crate::config::AugmentConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A region of an image: left, top, width, height in pixels.
pub type CropBox = (u32, u32, u32, u32);

/// What to do to one training sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleTransform {
    /// The region to crop before resizing (None: the whole image).
    pub crop: Option<CropBox>,
    /// Mirror left-right.
    pub flip: bool,
}

impl SampleTransform {
    /// The whole image, unflipped (evaluation, prediction).
    pub const NONE: Self = Self {
        crop: None,
        flip: false,
    };
}

/// The transform of sample `index` in `epoch` of a run seeded with `seed`, for an image of
/// `width` x `height`.
pub fn draw(
    cfg: &AugmentConfig,
    (seed, epoch, index): (u64, usize, usize),
    (width, height): (u32, u32),
) -> SampleTransform {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, epoch as u64, index as u64));
    let crop = cfg
        .random_resized_crop
        .then(|| resized_crop_box(cfg, &mut rng, width, height));
    let flip = cfg.horizontal_flip && rng.random_bool(0.5);
    SampleTransform { crop, flip }
}

/// One 64-bit seed from three numbers (SplitMix64's finalizer over a running sum).
fn mix(seed: u64, epoch: u64, index: u64) -> u64 {
    let mut h = seed;
    for v in [epoch, index] {
        h = h.wrapping_add(v).wrapping_add(0x9E37_79B9_7F4A_7C15);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
    }
    h
}

/// torchvision's `RandomResizedCrop.get_params`: ten tries at a region with a random area
/// fraction and log-uniform aspect ratio that fits; else the centre crop with the ratio
/// clamped to the range.
fn resized_crop_box(cfg: &AugmentConfig, rng: &mut ChaCha8Rng, width: u32, height: u32) -> CropBox {
    let (w, h) = (width as f64, height as f64);
    let area = w * h;
    let [s0, s1] = cfg.crop_scale;
    let [r0, r1] = cfg.crop_ratio;
    let (l0, l1) = (r0.ln(), r1.ln());
    for _ in 0..10 {
        let target = area * uniform(rng, s0, s1);
        let ratio = uniform(rng, l0, l1).exp();
        let cw = (target * ratio).sqrt().round();
        let ch = (target / ratio).sqrt().round();
        if cw >= 1.0 && ch >= 1.0 && cw <= w && ch <= h {
            let (cw, ch) = (cw as u32, ch as u32);
            let top = rng.random_range(0..=height - ch);
            let left = rng.random_range(0..=width - cw);
            return (left, top, cw, ch);
        }
    }
    let in_ratio = w / h;
    let (cw, ch) = if in_ratio < r0 {
        (w, (w / r0).round())
    } else if in_ratio > r1 {
        ((h * r1).round(), h)
    } else {
        (w, h)
    };
    let (cw, ch) = ((cw as u32).clamp(1, width), (ch as u32).clamp(1, height));
    ((width - cw) / 2, (height - ch) / 2, cw, ch)
}

fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> AugmentConfig {
        AugmentConfig {
            random_resized_crop: true,
            horizontal_flip: true,
            ..AugmentConfig::default()
        }
    }

    #[test]
    fn draws_depend_only_on_seed_epoch_and_index() {
        let cfg = on();
        let a = draw(&cfg, (7, 2, 31), (64, 48));
        assert_eq!(a, draw(&cfg, (7, 2, 31), (64, 48)));
        let others = [(8, 2, 31), (7, 3, 31), (7, 2, 32)];
        let differ = others
            .iter()
            .filter(|k| draw(&cfg, **k, (64, 48)) != a)
            .count();
        assert!(differ >= 2, "{differ}");
    }

    #[test]
    fn crops_fit_the_image_and_follow_the_scale_range() {
        let mut cfg = on();
        cfg.crop_scale = [0.25, 0.5];
        let mut flips = 0;
        for i in 0..500 {
            let t = draw(&cfg, (1, 0, i), (40, 30));
            let (x, y, w, h) = t.crop.unwrap();
            assert!(
                x + w <= 40 && y + h <= 30 && w >= 1 && h >= 1,
                "{:?}",
                t.crop
            );
            let frac = (w * h) as f64 / 1200.0;
            assert!((0.2..0.56).contains(&frac), "area fraction {frac}");
            flips += t.flip as usize;
        }
        assert!((200..300).contains(&flips), "{flips} flips of 500");
    }

    #[test]
    fn off_draws_nothing() {
        let t = draw(&AugmentConfig::default(), (1, 0, 0), (10, 10));
        assert_eq!(t, SampleTransform::NONE);
    }
}
