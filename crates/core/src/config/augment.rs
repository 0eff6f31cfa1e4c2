//! `[data.augment]`: random transforms of training images (`data.format = "image-folder"`).

use serde::{Deserialize, Serialize};

/// Random transforms applied to training images only; each draw is a function of (run seed,
/// epoch, sample), so they do not depend on the worker count and resume exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    /// Crop a random region (area fraction in `crop_scale`, aspect ratio in `crop_ratio`) and
    /// resize it to `data.image_size`, as torchvision's `RandomResizedCrop`.
    pub random_resized_crop: bool,
    /// Range of the crop's area as a fraction of the image's, in (0, 1].
    pub crop_scale: [f64; 2],
    /// Range of the crop's width / height.
    pub crop_ratio: [f64; 2],
    /// Mirror left-right with probability 1/2.
    pub horizontal_flip: bool,
}

impl AugmentConfig {
    /// True when any transform is on.
    pub fn any(&self) -> bool {
        self.random_resized_crop || self.horizontal_flip
    }
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            random_resized_crop: false,
            crop_scale: [0.08, 1.0],
            crop_ratio: [3.0 / 4.0, 4.0 / 3.0],
            horizontal_flip: false,
        }
    }
}
