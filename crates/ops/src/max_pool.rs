//! 2-D max pooling on host slices (no padding, no dilation): the forward with each output's
//! argmax, and the gradient routed back through it. One rayon task per run of planes
//! (`batch * channels` planes of `h x w`).
//!
//! Each window is scanned row by row; its first element is the start and a later element
//! replaces the maximum only when strictly greater, as Burn's CPU backends pick it, so ties
//! and NaNs route the gradient to the same element.

use rayon::prelude::*;

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
pub fn forward(geo: &PoolGeometry, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let [out_h, out_w] = geo.output();
    let [_, in_w] = geo.input;
    let [kh, kw] = geo.kernel;
    let [sh, sw] = geo.stride;
    let (plane_in, plane_out) = (geo.plane_in(), geo.plane_out());
    let mut values = vec![0.0; geo.planes * plane_out];
    let mut argmax = vec![0u32; geo.planes * plane_out];
    let per_task = geo.planes_per_task();
    values
        .par_chunks_mut(plane_out * per_task)
        .zip(argmax.par_chunks_mut(plane_out * per_task))
        .zip(x.par_chunks(plane_in * per_task))
        .for_each(|((values, argmax), x)| {
            let planes = values
                .chunks_mut(plane_out)
                .zip(argmax.chunks_mut(plane_out))
                .zip(x.chunks(plane_in));
            for ((values, argmax), x) in planes {
                for oh in 0..out_h {
                    for ow in 0..out_w {
                        let start = oh * sh * in_w + ow * sw;
                        let (mut best, mut at) = (x[start], start);
                        for r in 0..kh {
                            let row = start + r * in_w;
                            for (c, &v) in x[row..row + kw].iter().enumerate() {
                                if v > best {
                                    (best, at) = (v, row + c);
                                }
                            }
                        }
                        values[oh * out_w + ow] = best;
                        argmax[oh * out_w + ow] = at as u32;
                    }
                }
            }
        });
    (values, argmax)
}

/// The input gradient `[planes, h, w]` for the output gradient `grad`: each output's gradient
/// added to its argmax (overlapping windows add up).
pub fn backward(geo: &PoolGeometry, argmax: &[u32], grad: &[f32]) -> Vec<f32> {
    let (plane_in, plane_out) = (geo.plane_in(), geo.plane_out());
    let mut dx = vec![0.0; geo.planes * plane_in];
    let per_task = geo.planes_per_task();
    dx.par_chunks_mut(plane_in * per_task)
        .zip(argmax.par_chunks(plane_out * per_task))
        .zip(grad.par_chunks(plane_out * per_task))
        .for_each(|((dx, argmax), grad)| {
            let planes = dx
                .chunks_mut(plane_in)
                .zip(argmax.chunks(plane_out))
                .zip(grad.chunks(plane_out));
            for ((dx, argmax), grad) in planes {
                for (&at, &g) in argmax.iter().zip(grad) {
                    dx[at as usize] += g;
                }
            }
        });
    dx
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
