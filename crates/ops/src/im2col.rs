//! Host-side `im2col` and its adjoint `col2im` for one image of a 2-D convolution (`groups = 1`).
//!
//! `cols` is `[channels * kh * kw, out_h * out_w]`, row `(c * kh + i) * kw + j` holding input
//! pixel `(c, oh * sh + i * dh - ph, ow * sw + j * dw - pw)` (0 outside the image) at column
//! `oh * out_w + ow`: the layout where a convolution is `weight[co, K] @ cols[K, L]`.

/// Shape of one 2-D convolution over one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Input channels.
    pub channels: usize,
    /// Input `[height, width]`.
    pub input: [usize; 2],
    /// Kernel `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride `[sh, sw]`.
    pub stride: [usize; 2],
    /// Zero padding on each side `[ph, pw]`.
    pub padding: [usize; 2],
    /// Dilation `[dh, dw]`.
    pub dilation: [usize; 2],
}

impl ConvGeometry {
    /// Output `[out_h, out_w]` (0 where the kernel does not fit).
    pub fn output(&self) -> [usize; 2] {
        [0, 1].map(|a| {
            let span = self.dilation[a] * (self.kernel[a] - 1) + 1;
            let padded = self.input[a] + 2 * self.padding[a];
            if padded < span {
                0
            } else {
                (padded - span) / self.stride[a] + 1
            }
        })
    }

    /// Rows of `cols`: `channels * kh * kw`.
    pub fn patch_len(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Columns of `cols`: `out_h * out_w`.
    pub fn positions(&self) -> usize {
        let [oh, ow] = self.output();
        oh * ow
    }

    /// Elements of one input image: `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.input[0] * self.input[1]
    }

    /// For kernel offset `k` along axis `a`: the outputs `lo..hi` whose input index lies inside
    /// the image, and the input index of output 0 (`-padding + k * dilation`, may be negative).
    fn valid(&self, a: usize, k: usize) -> (usize, usize, isize) {
        let out = self.output()[a] as isize;
        let stride = self.stride[a] as isize;
        let offset = (k * self.dilation[a]) as isize - self.padding[a] as isize;
        let len = self.input[a] as isize;
        let lo = if offset >= 0 {
            0
        } else {
            (-offset + stride - 1) / stride
        };
        let hi = if len - offset <= 0 {
            0
        } else {
            ((len - offset + stride - 1) / stride).min(out)
        };
        (lo as usize, hi.max(lo) as usize, offset)
    }
}

/// [`Patches::im2col`] and its adjoint [`Patches::col2im`] for one geometry, with where each
/// row of `cols` reads the image worked out once instead of once per image.
pub struct Patches {
    rows: Vec<RowPlan>,
    positions: usize,
    out_w: usize,
    stride_w: usize,
}

impl Patches {
    /// The row plans of `geo`.
    pub fn new(geo: &ConvGeometry) -> Self {
        Self {
            rows: (0..geo.patch_len()).map(|r| RowPlan::new(geo, r)).collect(),
            positions: geo.positions(),
            out_w: geo.output()[1],
            stride_w: geo.stride[1],
        }
    }

    /// Fills `cols` (`patch_len * positions`) from one image (`image_len`, `[c, h, w]`).
    pub fn im2col(&self, image: &[f32], cols: &mut [f32]) {
        let sw = self.stride_w;
        for (plan, row) in self.rows.iter().zip(cols.chunks_mut(self.positions)) {
            for (oh, line) in row.chunks_mut(self.out_w).enumerate() {
                let Some(start) = plan.first_input(oh) else {
                    line.fill(0.0);
                    continue;
                };
                let (lo, hi) = plan.columns;
                line[..lo].fill(0.0);
                line[hi..].fill(0.0);
                let inside = &mut line[lo..hi];
                if sw == 1 {
                    copy_line(inside, &image[start..start + inside.len()]);
                } else {
                    for (k, v) in inside.iter_mut().enumerate() {
                        *v = image[start + k * sw];
                    }
                }
            }
        }
    }

    /// Adds `cols` (`patch_len * positions`) into one image (`image_len`): the adjoint of
    /// [`Patches::im2col`], so a zeroed image receives each pixel's gradient summed over its
    /// patches.
    pub fn col2im(&self, cols: &[f32], image: &mut [f32]) {
        let sw = self.stride_w;
        for (plan, row) in self.rows.iter().zip(cols.chunks(self.positions)) {
            for (oh, line) in row.chunks(self.out_w).enumerate() {
                let Some(start) = plan.first_input(oh) else {
                    continue;
                };
                let (lo, hi) = plan.columns;
                let inside = &line[lo..hi];
                if sw == 1 {
                    let pixels = &mut image[start..start + inside.len()];
                    for (pixel, v) in pixels.iter_mut().zip(inside) {
                        *pixel += v;
                    }
                } else {
                    for (k, v) in inside.iter().enumerate() {
                        image[start + k * sw] += v;
                    }
                }
            }
        }
    }
}

/// Elements [`copy_line`] moves at a time.
const BLOCK: usize = 16;

/// `dst.copy_from_slice(src)` for the short lines of `im2col` (an output row's width), in
/// fixed-size blocks the compiler inlines as vector moves, the last block overlapping the one
/// before it: `copy_from_slice` of a length known only at run time is a `memcpy` call, whose
/// overhead on 24 elements was most of `im2col`'s time (4% of a CNN step).
#[inline(always)]
fn copy_line(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    if n < BLOCK || src.len() != n {
        dst.copy_from_slice(src);
        return;
    }
    for k in (0..n - BLOCK).step_by(BLOCK) {
        dst[k..k + BLOCK].copy_from_slice(&src[k..k + BLOCK]);
    }
    dst[n - BLOCK..].copy_from_slice(&src[n - BLOCK..]);
}

/// Where row `(c, i, j)` of `cols` reads the image.
struct RowPlan {
    /// Output rows inside the image vertically, and the input row of output row 0.
    rows: (usize, usize, isize),
    /// Output columns inside the image horizontally.
    columns: (usize, usize),
    /// Image index of (channel `c`, row 0, the input column of output column `columns.0`).
    base: usize,
    /// Image row length and vertical stride.
    width: usize,
    stride_h: usize,
}

impl RowPlan {
    fn new(geo: &ConvGeometry, r: usize) -> Self {
        let [kh, kw] = geo.kernel;
        let [h, w] = geo.input;
        let (c, i, j) = (r / (kh * kw), (r / kw) % kh, r % kw);
        let rows = geo.valid(0, i);
        let (w_lo, w_hi, w_off) = geo.valid(1, j);
        // For w_lo < w_hi the input column is inside the image by `valid`'s bounds.
        let first_column = ((w_lo * geo.stride[1]) as isize + w_off).max(0) as usize;
        Self {
            rows,
            columns: (w_lo, w_hi),
            base: c * h * w + first_column,
            width: w,
            stride_h: geo.stride[0],
        }
    }

    /// Image index of output row `oh`'s first inside column; `None` where the row reads only
    /// padding.
    fn first_input(&self, oh: usize) -> Option<usize> {
        let (lo, hi, offset) = self.rows;
        if oh < lo || oh >= hi || self.columns.0 >= self.columns.1 {
            return None;
        }
        // Inside the image by `valid`'s bounds.
        let ih = ((oh * self.stride_h) as isize + offset) as usize;
        Some(self.base + ih * self.width)
    }
}

#[cfg(test)]
impl ConvGeometry {
    /// By the definition: the index in one `[c, h, w]` image that output `(oh, ow)` reads at
    /// kernel offset `(i, j)` of channel `c`; `None` where that is padding.
    pub(super) fn source_pixel(
        &self,
        c: usize,
        out: [usize; 2],
        kernel: [usize; 2],
    ) -> Option<usize> {
        let [h, w] = self.input;
        let at = |a: usize| {
            (out[a] * self.stride[a] + kernel[a] * self.dilation[a]) as isize
                - self.padding[a] as isize
        };
        let (ih, iw) = (at(0), at(1));
        ((0..h as isize).contains(&ih) && (0..w as isize).contains(&iw))
            .then(|| (c * h + ih as usize) * w + iw as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// im2col by the definition, element by element.
    fn reference(geo: &ConvGeometry, image: &[f32]) -> Vec<f32> {
        let [oh_n, ow_n] = geo.output();
        let [kh, kw] = geo.kernel;
        let mut cols = Vec::new();
        for c in 0..geo.channels {
            for i in 0..kh {
                for j in 0..kw {
                    for oh in 0..oh_n {
                        for ow in 0..ow_n {
                            let pixel = geo.source_pixel(c, [oh, ow], [i, j]);
                            cols.push(pixel.map_or(0.0, |p| image[p]));
                        }
                    }
                }
            }
        }
        cols
    }

    fn geometries() -> Vec<ConvGeometry> {
        let mut all = Vec::new();
        for (stride, padding, dilation) in [
            ([1, 1], [0, 0], [1, 1]),
            ([2, 2], [1, 1], [1, 1]),
            ([1, 2], [2, 1], [2, 1]),
            ([3, 1], [0, 3], [1, 2]),
        ] {
            all.push(ConvGeometry {
                channels: 2,
                input: [7, 6],
                kernel: [3, 2],
                stride,
                padding,
                dilation,
            });
        }
        all
    }

    #[test]
    fn im2col_matches_the_definition() {
        for geo in geometries() {
            let image: Vec<f32> = (0..geo.image_len()).map(|v| v as f32 + 1.0).collect();
            // Garbage in `cols` must be overwritten, padding included.
            let mut cols = vec![f32::NAN; geo.patch_len() * geo.positions()];
            Patches::new(&geo).im2col(&image, &mut cols);
            assert_eq!(cols, reference(&geo, &image), "{geo:?}");
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for all x, c; with one-hot x this checks every pixel.
        for geo in geometries() {
            let cols: Vec<f32> = (0..geo.patch_len() * geo.positions())
                .map(|v| (v % 13) as f32 - 6.0)
                .collect();
            let mut back = vec![0.0; geo.image_len()];
            Patches::new(&geo).col2im(&cols, &mut back);
            for (pixel, got) in back.iter().enumerate() {
                let mut one_hot = vec![0.0; geo.image_len()];
                one_hot[pixel] = 1.0;
                let want: f32 = reference(&geo, &one_hot)
                    .iter()
                    .zip(&cols)
                    .map(|(a, b)| a * b)
                    .sum();
                assert_eq!(*got, want, "{geo:?} pixel {pixel}");
            }
        }
    }

    #[test]
    fn lines_of_every_length_are_copied_whole() {
        let src: Vec<f32> = (0..70).map(|v| v as f32).collect();
        for n in 0..70 {
            let mut dst = vec![-1.0; n];
            copy_line(&mut dst, &src[..n]);
            assert_eq!(dst, src[..n], "{n} elements");
        }
    }

    #[test]
    fn output_size_follows_the_convolution_formula() {
        let geo = ConvGeometry {
            channels: 1,
            input: [28, 28],
            kernel: [3, 3],
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
        };
        assert_eq!(geo.output(), [26, 26]);
        let strided = ConvGeometry {
            stride: [2, 2],
            padding: [1, 1],
            ..geo
        };
        assert_eq!(strided.output(), [14, 14]);
    }
}
