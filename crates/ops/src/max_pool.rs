//! 2-D max pooling on host slices (no padding, no dilation): the forward with each output's
//! argmax, and the gradient routed back through it. One rayon task per run of planes
//! (`batch * channels` planes of `h x w`).
//!
//! Each window is scanned row by row; its first element is the start and a later element
//! replaces the maximum only when strictly greater, as Burn's CPU backends pick it, so ties
//! and NaNs route the gradient to the same element.

use super::outputs::{filled, written};
use std::hint::select_unpredictable;
use std::mem::MaybeUninit;

/// Shape of one pooling call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    /// `batch * channels`: the planes pooled independently.
    pub planes: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Step between windows, vertically and horizontally.
    pub stride: [usize; 2],
}

impl PoolGeometry {
    /// Output height and width (floor mode); `[0, 0]` when the window does not fit.
    pub fn output(&self) -> [usize; 2] {
        let side = |i: usize| {
            if self.input[i] < self.kernel[i] || self.stride[i] == 0 {
                0
            } else {
                (self.input[i] - self.kernel[i]) / self.stride[i] + 1
            }
        };
        [side(0), side(1)]
    }

    fn plane_in(&self) -> usize {
        self.input[0] * self.input[1]
    }

    fn plane_out(&self) -> usize {
        let [h, w] = self.output();
        h * w
    }

    /// Planes per rayon task: at least 16 Ki input elements, so small planes are batched.
    fn planes_per_task(&self) -> usize {
        (16_384 / self.plane_in().max(1)).max(1)
    }
}

/// The pooled values `[planes, out_h, out_w]` and, for each, its argmax as an offset within
/// its input plane.
///
/// # Panics
/// If `x` is not `planes` planes of the input size (a bug in the caller).
pub fn forward(geo: &PoolGeometry, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let (plane_in, plane_out) = (geo.plane_in(), geo.plane_out());
    assert_eq!(x.len(), geo.planes * plane_in, "max pool: input length");
    let per_task = geo.planes_per_task();
    let len = geo.planes * plane_out;
    let argmax = filled(len, plane_out * per_task, |task, argmax| {
        let mut best = vec![0.0; geo.output()[1]];
        let x = &x[task * per_task * plane_in..];
        for (argmax, x) in argmax.chunks_mut(plane_out).zip(x.chunks(plane_in)) {
            plane_argmax(geo, x, argmax, &mut best);
        }
    });
    let gather = |task: usize, values: &mut [MaybeUninit<f32>]| {
        let argmax = &argmax[task * per_task * plane_out..][..values.len()];
        let x = &x[task * per_task * plane_in..];
        let planes = values
            .chunks_mut(plane_out)
            .zip(argmax.chunks(plane_out))
            .zip(x.chunks(plane_in));
        for ((values, argmax), x) in planes {
            for (v, &at) in values.iter_mut().zip(argmax) {
                v.write(x[at as usize]);
            }
        }
    };
    // SAFETY: `gather` writes each value of its chunk: the chunk's argmax is as long, and each
    // plane's values and argmax chunks pair up one to one.
    let values = unsafe { written(len, plane_out * per_task, gather) };
    (values, argmax)
}

/// Each window's argmax in one plane (`best`: scratch, `out_w` long).
fn plane_argmax(geo: &PoolGeometry, x: &[f32], argmax: &mut [u32], best: &mut [f32]) {
    if geo.kernel == [2, 2] && geo.stride == [2, 2] {
        plane_argmax_2x2(geo.input[1], x, argmax, best.len());
    } else {
        plane_argmax_general(geo, x, argmax, best);
    }
}

/// Each window's argmax in one plane, a row of outputs at a time: the windows' elements are
/// visited in row-major order, each compared with the row's running maxima (`best`, `out_w`
/// long) and kept by a conditional move, not a branch (on a real image "is it larger" is a
/// coin toss for the branch predictor: the branchy loop took 8% of a CNN step).
fn plane_argmax_general(geo: &PoolGeometry, x: &[f32], argmax: &mut [u32], best: &mut [f32]) {
    let [_, in_w] = geo.input;
    let [kh, kw] = geo.kernel;
    let [sh, sw] = geo.stride;
    let out_w = best.len();
    for (oh, argmax) in argmax.chunks_mut(out_w).enumerate() {
        let top = oh * sh * in_w;
        for r in 0..kh {
            for c in 0..kw {
                let start = top + r * in_w + c;
                // The window element (r, c) of every output in the row: `sw` apart.
                let first = r == 0 && c == 0;
                let column = &x[start..start + (out_w - 1) * sw + 1];
                for (i, (b, a)) in best.iter_mut().zip(argmax.iter_mut()).enumerate() {
                    let v = column[i * sw];
                    // `|`, not `||`: no branch on the comparison.
                    let larger = first | (v > *b);
                    *b = select_unpredictable(larger, v, *b);
                    *a = select_unpredictable(larger, (start + i * sw) as u32, *a);
                }
            }
        }
    }
}

/// [`plane_argmax_general`] for the common 2x2 window with stride 2: one pass per output row over
/// the two input rows' element pairs, the four elements of a window compared in registers by
/// conditional moves (the general loop visits each output once per window element, through
/// `best` and `argmax` in memory).
fn plane_argmax_2x2(in_w: usize, x: &[f32], argmax: &mut [u32], out_w: usize) {
    for (oh, argmax) in argmax.chunks_mut(out_w).enumerate() {
        let top = 2 * oh * in_w;
        let rows = [top, top + in_w].map(|start| x[start..start + 2 * out_w].chunks_exact(2));
        let [upper, lower] = rows;
        for (ow, ((a, u), l)) in argmax.iter_mut().zip(upper).zip(lower).enumerate() {
            let at = (top + 2 * ow) as u32;
            let (mut best, mut best_at) = (u[0], at);
            for (v, v_at) in [
                (u[1], at + 1),
                (l[0], at + in_w as u32),
                (l[1], at + in_w as u32 + 1),
            ] {
                let larger = v > best;
                best = select_unpredictable(larger, v, best);
                best_at = select_unpredictable(larger, v_at, best_at);
            }
            *a = best_at;
        }
    }
}

/// The input gradient `[planes, h, w]` for the output gradient `grad`: each output's gradient
/// added to its argmax (overlapping windows add up).
pub fn backward(geo: &PoolGeometry, argmax: &[u32], grad: &[f32]) -> Vec<f32> {
    let (plane_in, plane_out) = (geo.plane_in(), geo.plane_out());
    let per_task = geo.planes_per_task();
    filled(geo.planes * plane_in, plane_in * per_task, |task, dx| {
        let outputs = task * per_task * plane_out..;
        let planes = dx
            .chunks_mut(plane_in)
            .zip(argmax[outputs.clone()].chunks(plane_out))
            .zip(grad[outputs].chunks(plane_out));
        for ((dx, argmax), grad) in planes {
            for (&at, &g) in argmax.iter().zip(grad) {
                dx[at as usize] += g;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GEO: PoolGeometry = PoolGeometry {
        planes: 3,
        input: [5, 7],
        kernel: [3, 2],
        stride: [2, 1],
    };

    #[test]
    fn each_output_is_its_windows_maximum_and_points_at_it() {
        let x: Vec<f32> = (0..3 * 35).map(|i| ((i * 37) % 23) as f32).collect();
        let (values, argmax) = forward(&GEO, &x);
        assert_eq!(GEO.output(), [2, 6]);
        for p in 0..3 {
            for oh in 0..2 {
                for ow in 0..6 {
                    let window = (0..3)
                        .flat_map(|r| (0..2).map(move |c| (oh * 2 + r) * 7 + ow + c))
                        .map(|i| x[p * 35 + i]);
                    let want = window.fold(f32::NEG_INFINITY, f32::max);
                    let o = p * 12 + oh * 6 + ow;
                    assert_eq!(values[o], want);
                    assert_eq!(x[p * 35 + argmax[o] as usize], want);
                }
            }
        }
    }

    #[test]
    fn ties_keep_the_first_element_and_overlapping_gradients_add_up() {
        let x = vec![1.0; 35];
        let geo = PoolGeometry { planes: 1, ..GEO };
        let (_, argmax) = forward(&geo, &x);
        // Every window's first element (its top-left corner).
        let corners: Vec<u32> = (0..2)
            .flat_map(|oh| (0..6).map(move |ow| (oh * 2 * 7 + ow) as u32))
            .collect();
        assert_eq!(argmax, corners);
        let dx = backward(&geo, &argmax, &[1.0; 12]);
        assert_eq!(dx.iter().sum::<f32>(), 12.0);
        assert!(corners.iter().all(|&c| dx[c as usize] == 1.0));
    }

    #[test]
    fn a_nan_is_kept_only_where_it_starts_its_window() {
        // One 2x2 window per corner of a 4x4 plane: NaN first in the first window (it stays),
        // NaN after the maximum in the second (skipped: NaN is never larger).
        let mut x = vec![0.0; 16];
        x[0] = f32::NAN;
        x[1] = 5.0;
        x[2] = 3.0;
        x[7] = f32::NAN;
        let geo = PoolGeometry {
            planes: 1,
            input: [4, 4],
            kernel: [2, 2],
            stride: [2, 2],
        };
        let (values, argmax) = forward(&geo, &x);
        assert!(values[0].is_nan());
        assert_eq!((values[1], argmax[0], argmax[1]), (3.0, 0, 2));
    }

    #[test]
    fn the_two_by_two_path_picks_what_the_general_loop_picks() {
        // Ties, NaNs and a ragged edge (odd width and height): the 2x2 stride-2 path against
        // the general loop on the same windows.
        let (h, w) = (7, 9);
        let x: Vec<f32> = (0..2 * h * w)
            .map(|i| match i % 11 {
                3 => f32::NAN,
                5 | 6 => 2.0,
                k => ((i * 7) % 5) as f32 - k as f32 * 0.5,
            })
            .collect();
        let geo = PoolGeometry {
            planes: 2,
            input: [h, w],
            kernel: [2, 2],
            stride: [2, 2],
        };
        let (values, fast) = forward(&geo, &x);
        let [out_h, out_w] = geo.output();
        let mut general = vec![0; 2 * out_h * out_w];
        let mut best = vec![0.0; out_w];
        for (argmax, x) in general.chunks_mut(out_h * out_w).zip(x.chunks(h * w)) {
            plane_argmax_general(&geo, x, argmax, &mut best);
        }
        assert_eq!(fast, general);
        for (p, (v, &at)) in values.iter().zip(&fast).enumerate() {
            let plane = p / (out_h * out_w);
            let want = x[plane * h * w + at as usize];
            assert!(v.to_bits() == want.to_bits());
        }
    }

    #[test]
    fn a_window_larger_than_the_input_has_no_output() {
        let geo = PoolGeometry {
            planes: 1,
            input: [1, 7],
            kernel: [2, 2],
            stride: [2, 2],
        };
        assert_eq!(geo.output(), [0, 3]);
    }
}
