//! One image file to one normalized sample: decode (PNG or JPEG), convert to 1 or 3 channels,
//! crop and flip as drawn, resize (bilinear, antialiased when shrinking) and standardize per
//! channel into `[channels, height, width]`.

use super::augment::SampleTransform;
use crate::data::{DataError, open_regular};
use image::imageops::{self, FilterType};
use image::{ImageBuffer, Pixel};
use std::io::Read;
use std::path::Path;

/// Decodes and preprocesses image files to one sample shape.
#[derive(Debug, Clone)]
pub struct ImageDecoder {
    height: u32,
    width: u32,
    channels: usize,
    /// Normalized value of each byte, per channel.
    tables: Vec<[f32; 256]>,
}

impl ImageDecoder {
    /// Samples of `channels` x `height` x `width`, standardized with per-channel `mean` and
    /// `std` (one value each, or one per channel).
    pub fn new(size: [usize; 2], channels: usize, mean: &[f32], std: &[f32]) -> Self {
        let pick = |v: &[f32], c: usize| v.get(c).or(v.first()).copied().unwrap_or(0.0);
        let tables = (0..channels)
            .map(|c| {
                let (m, s) = (pick(mean, c), pick(std, c));
                std::array::from_fn(|b| (b as f32 / 255.0 - m) / s)
            })
            .collect();
        Self {
            height: size[0] as u32,
            width: size[1] as u32,
            channels,
            tables,
        }
    }

    /// The shape of one sample: `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height as usize, self.width as usize]
    }

    /// Decodes `path` and writes its sample into `out`; `transform` is asked for the sample's
    /// random transform given the decoded image's width and height.
    pub fn read(
        &self,
        path: &Path,
        transform: impl FnOnce(u32, u32) -> SampleTransform,
        out: &mut [f32],
    ) -> Result<(), DataError> {
        let mut bytes = Vec::new();
        open_regular(path)?
            .read_to_end(&mut bytes)
            .map_err(|e| DataError::io(path, e))?;
        let decoded = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| DataError::io(path, e))?
            .decode()
            .map_err(|e| DataError::Format {
                path: path.to_path_buf(),
                message: format!("cannot be decoded as a PNG or JPEG image: {e}"),
            })?;
        let t = transform(decoded.width(), decoded.height());
        if self.channels == 1 {
            self.fill(&self.apply(decoded.to_luma8(), t), out);
        } else {
            self.fill(&self.apply(decoded.to_rgb8(), t), out);
        }
        Ok(())
    }

    /// Crops, resizes and flips one image as `t` says.
    fn apply<P>(&self, img: ImageBuffer<P, Vec<u8>>, t: SampleTransform) -> ImageBuffer<P, Vec<u8>>
    where
        P: Pixel<Subpixel = u8> + 'static,
    {
        let img = match t.crop {
            Some((x, y, w, h)) => imageops::crop_imm(&img, x, y, w, h).to_image(),
            None => img,
        };
        let mut img = if img.dimensions() == (self.width, self.height) {
            img
        } else {
            imageops::resize(&img, self.width, self.height, FilterType::Triangle)
        };
        if t.flip {
            imageops::flip_horizontal_in_place(&mut img);
        }
        img
    }

    /// Writes interleaved pixels as normalized planes (`[c][y][x]`).
    fn fill<P>(&self, img: &ImageBuffer<P, Vec<u8>>, out: &mut [f32])
    where
        P: Pixel<Subpixel = u8> + 'static,
    {
        let plane = (self.width * self.height) as usize;
        let raw = img.as_raw();
        for (c, table) in self.tables.iter().enumerate() {
            let dst = &mut out[c * plane..(c + 1) * plane];
            for (o, px) in dst.iter_mut().zip(raw.chunks_exact(self.channels)) {
                *o = table[px[c] as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    fn decoder(size: [usize; 2], channels: usize) -> ImageDecoder {
        ImageDecoder::new(size, channels, &[0.0], &[1.0])
    }

    #[test]
    fn same_size_png_is_read_exactly_as_planes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let img = RgbImage::from_fn(3, 2, |x, y| Rgb([x as u8 * 50, y as u8 * 100, 255]));
        img.save(&path).unwrap();
        let mut out = vec![0f32; 18];
        decoder([2, 3], 3)
            .read(
                &path,
                |w, h| {
                    assert_eq!((w, h), (3, 2));
                    SampleTransform::NONE
                },
                &mut out,
            )
            .unwrap();
        let red: Vec<f32> = out[..6].iter().map(|v| (v * 255.0).round()).collect();
        assert_eq!(red, [0.0, 50.0, 100.0, 0.0, 50.0, 100.0]);
        assert!(out[12..].iter().all(|&v| v == 1.0), "blue plane");
    }

    #[test]
    fn grayscale_resize_and_flip_keep_the_sample_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.jpg");
        // Left half black, right half white.
        let img = GrayImage::from_fn(40, 20, |x, _| Luma([if x < 20 { 0 } else { 255 }]));
        img.save(&path).unwrap();
        let d = ImageDecoder::new([4, 8], 1, &[0.5], &[0.5]);
        assert_eq!(d.shape(), [1, 4, 8]);
        let mut plain = vec![0f32; 32];
        d.read(&path, |_, _| SampleTransform::NONE, &mut plain)
            .unwrap();
        assert!(plain[0] < -0.9 && plain[7] > 0.9, "{plain:?}");
        let mut flipped = vec![0f32; 32];
        let flip = SampleTransform {
            crop: None,
            flip: true,
        };
        d.read(&path, |_, _| flip, &mut flipped).unwrap();
        assert!(flipped[0] > 0.9 && flipped[7] < -0.9, "{flipped:?}");
        let left = SampleTransform {
            crop: Some((0, 0, 10, 20)),
            flip: false,
        };
        d.read(&path, |_, _| left, &mut flipped).unwrap();
        assert!(
            flipped.iter().all(|&v| v < -0.9),
            "a crop of the black half"
        );
    }

    #[test]
    fn truncated_and_foreign_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.png");
        RgbImage::new(16, 16).save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let mut out = vec![0f32; 3 * 16 * 16];
        let d = decoder([16, 16], 3);
        let e = d
            .read(&path, |_, _| SampleTransform::NONE, &mut out)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&path.display().to_string()), "{e}");
        assert!(
            e.contains("cannot be decoded as a PNG or JPEG image"),
            "{e}"
        );
        let text = dir.path().join("notes.jpg");
        std::fs::write(&text, "hello").unwrap();
        let e = d
            .read(&text, |_, _| SampleTransform::NONE, &mut out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("notes.jpg: cannot be decoded"), "{e}");
    }
}
