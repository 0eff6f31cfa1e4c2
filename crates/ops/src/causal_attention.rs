//! Causal multi-head attention on host slices: the forward and its gradients, one rayon task
//! per (sequence, head), single-threaded matmuls inside.
//!
//! Rows are `[batch * t, heads * d_k]` (row `s * t + i` is position `i` of sequence `s`; head
//! `h` is columns `h * d_k..(h + 1) * d_k`), as the GPT's projections produce them. Position
//! `i` attends to positions `0..=i` with weights `softmax((q k^T) / sqrt(d_k))`, or, with score
//! dropout (Burn's `MultiHeadAttention` drops scores before the softmax), with
//! `softmax(((q k^T) / sqrt(d_k)) * m)` for a mask `m` of zeros and `1 / (1 - prob)`.

use super::host_gemm::{MatRef, matmul};
use super::outputs::{par_fill, written};
use std::mem::MaybeUninit;

/// Shape of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    /// Sequences in the batch.
    pub batch: usize,
    /// Positions per sequence.
    pub t: usize,
    /// Heads.
    pub heads: usize,
    /// Width of one head.
    pub d_k: usize,
}

impl AttentionShape {
    /// Row width: `heads * d_k`.
    pub fn d_model(&self) -> usize {
        self.heads * self.d_k
    }

    /// Elements of one `[batch * t, d_model]` operand.
    pub fn rows_len(&self) -> usize {
        self.batch * self.t * self.d_model()
    }

    /// Elements of the attention weights, `[batch, heads, t, t]`.
    pub fn weights_len(&self) -> usize {
        self.batch * self.heads * self.t * self.t
    }

    /// Head `h` of sequence `s` in `rows` (`[batch * t, d_model]`), a `t x d_k` view.
    fn head<'a>(&self, rows: &'a [f32], s: usize, h: usize) -> MatRef<'a> {
        let d = self.d_model();
        let start = s * self.t * d + h * self.d_k;
        MatRef {
            data: &rows[start..start + (self.t - 1) * d + self.d_k],
            rows: self.t,
            cols: self.d_k,
            row_stride: d,
            col_stride: 1,
        }
    }

    /// Copies per-task blocks `[batch, heads, t, d_k]` into rows `[batch * t, d_model]`.
    fn merge_heads(&self, blocks: &[f32]) -> Vec<f32> {
        let (t, d_k, d) = (self.t, self.d_k, self.d_model());
        let fill = |s: usize, rows: &mut [MaybeUninit<f32>]| {
            let blocks = &blocks[s * self.heads * t * d_k..][..self.heads * t * d_k];
            for (h, block) in blocks.chunks(t * d_k).enumerate() {
                for (i, line) in block.chunks(d_k).enumerate() {
                    for (r, &v) in rows[i * d + h * d_k..][..d_k].iter_mut().zip(line) {
                        r.write(v);
                    }
                }
            }
        };
        // SAFETY: a chunk is one sequence's `t` rows of `d = heads * d_k`; head `h` writes
        // columns `h * d_k..(h + 1) * d_k` of each, so the heads together write every element.
        unsafe { written(self.rows_len(), t * d, fill) }
    }
}

/// The context rows `[batch * t, d_model]` and the attention weights `[batch, heads, t, t]`
/// (zero above the diagonal), which the backward needs. `masks`, in the weights' layout, are
/// the score dropout's masks, if it is active.
pub fn forward(
    shape: AttentionShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    masks: Option<&[f32]>,
) -> (Vec<f32>, Vec<f32>) {
    let AttentionShape { t, d_k, heads, .. } = shape;
    let scale = (d_k as f32).sqrt();
    let ([weights, blocks], _) = par_fill(
        [shape.weights_len(), shape.rows_len()],
        [t * t, t * d_k],
        || (),
        |_, task, [p, out]| {
            let (s, h) = (task / heads, task % heads);
            let (q, k, v) = (
                shape.head(q, s, h),
                shape.head(k, s, h),
                shape.head(v, s, h),
            );
            let mask = masks.map(|m| &m[task * t * t..(task + 1) * t * t]);
            matmul(p, q, k.t(), false);
            for (i, row) in p.chunks_mut(t).enumerate() {
                causal_softmax(row, i, scale, mask.map(|m| &m[i * t..(i + 1) * t]));
            }
            matmul(out, MatRef::row_major(p, t, t), v, false);
        },
    );
    (shape.merge_heads(&blocks), weights)
}

/// Row `i` of the scores, divided by `scale` (and times the dropout `mask` row, if any), to
/// softmax weights over columns `0..=i`; the columns after `i` become 0.
fn causal_softmax(row: &mut [f32], i: usize, scale: f32, mask: Option<&[f32]>) {
    let (seen, unseen) = row.split_at_mut(i + 1);
    unseen.fill(0.0);
    match mask {
        Some(mask) => seen
            .iter_mut()
            .zip(mask)
            .for_each(|(s, m)| *s = *s / scale * m),
        None => seen.iter_mut().for_each(|s| *s /= scale),
    }
    let max = seen.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    let mut sum = 0.0;
    for s in seen.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    for s in seen.iter_mut() {
        *s /= sum;
    }
}

/// Gradients of `q`, `k` and `v` (each `[batch * t, d_model]`) for the context gradient `grad`,
/// under the forward's dropout `masks`.
pub fn backward(
    shape: AttentionShape,
    (q, k, v): (&[f32], &[f32], &[f32]),
    weights: &[f32],
    masks: Option<&[f32]>,
    grad: &[f32],
) -> [Vec<f32>; 3] {
    let AttentionShape { t, d_k, heads, .. } = shape;
    let scale = (d_k as f32).sqrt();
    let (blocks, _) = par_fill(
        [shape.rows_len(); 3],
        [t * d_k; 3],
        || vec![0.0; t * t],
        |ds, task, [dq, dk, dv]| {
            let (s, h) = (task / heads, task % heads);
            let dout = shape.head(grad, s, h);
            let p = MatRef::row_major(&weights[task * t * t..][..t * t], t, t);
            // dV = Pᵀ dO; dP = dO Vᵀ.
            matmul(dv, p.t(), dout, false);
            matmul(ds, dout, shape.head(v, s, h).t(), false);
            // dS = P ⊙ (dP - rowsum(dP ⊙ P)) (⊙ M) / scale, zero above the diagonal with P.
            let mask = masks.map(|m| &m[task * t * t..(task + 1) * t * t]);
            for (i, (row, p_row)) in ds.chunks_mut(t).zip(p.data.chunks(t)).enumerate() {
                let dot: f32 = row.iter().zip(p_row).map(|(g, p)| g * p).sum();
                match mask.map(|m| &m[i * t..(i + 1) * t]) {
                    Some(m_row) => {
                        for ((g, p), m) in row.iter_mut().zip(p_row).zip(m_row) {
                            *g = p * (*g - dot) * m / scale;
                        }
                    }
                    None => {
                        for (g, p) in row.iter_mut().zip(p_row) {
                            *g = p * (*g - dot) / scale;
                        }
                    }
                }
            }
            let ds = MatRef::row_major(ds, t, t);
            matmul(dq, ds, shape.head(k, s, h), false);
            matmul(dk, ds.t(), shape.head(q, s, h), false);
        },
    );
    blocks.map(|b| shape.merge_heads(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len).map(|i| (i as f32 * 0.71 + seed).sin()).collect()
    }

    /// The context by the definition, in f64, with score dropout `masks` (weights' layout).
    fn reference(
        shape: AttentionShape,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        masks: Option<&[f32]>,
    ) -> Vec<f64> {
        let AttentionShape {
            batch,
            t,
            heads,
            d_k,
        } = shape;
        let d = shape.d_model();
        let at = |x: &[f32], s: usize, i: usize, h: usize, c: usize| {
            f64::from(x[(s * t + i) * d + h * d_k + c])
        };
        let mut out = vec![0.0; shape.rows_len()];
        for s in 0..batch {
            for h in 0..heads {
                for i in 0..t {
                    let scores: Vec<f64> = (0..=i)
                        .map(|j| {
                            (0..d_k)
                                .map(|c| at(q, s, i, h, c) * at(k, s, j, h, c))
                                .sum::<f64>()
                                / (d_k as f64).sqrt()
                                * masks.map_or(1.0, |m| {
                                    f64::from(m[((s * heads + h) * t + i) * t + j])
                                })
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for c in 0..d_k {
                        out[(s * t + i) * d + h * d_k + c] =
                            (0..=i).map(|j| e[j] / sum * at(v, s, j, h, c)).sum();
                    }
                }
            }
        }
        out
    }

    const SHAPE: AttentionShape = AttentionShape {
        batch: 2,
        t: 5,
        heads: 3,
        d_k: 4,
    };

    /// Dropout masks for `SHAPE` (probability 0.25): zeros and 1/0.75.
    fn masks() -> Vec<f32> {
        (0..SHAPE.weights_len())
            .map(|i| {
                if (i * 7 + 3) % 4 == 0 {
                    0.0
                } else {
                    1.0 / 0.75
                }
            })
            .collect()
    }

    #[test]
    fn forward_matches_the_definition() {
        let n = SHAPE.rows_len();
        let (q, k, v) = (values(n, 0.1), values(n, 1.3), values(n, 2.7));
        let masks = masks();
        for m in [None, Some(masks.as_slice())] {
            let (out, _) = forward(SHAPE, &q, &k, &v, m);
            for (a, b) in out.iter().zip(reference(SHAPE, &q, &k, &v, m)) {
                assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
        let (dropped, _) = forward(SHAPE, &q, &k, &v, Some(&masks));
        let (out, weights) = forward(SHAPE, &q, &k, &v, None);
        assert_ne!(dropped, out, "the masks change the context");
        // Each row of weights sums to 1 over the seen positions and is 0 after them.
        for (r, row) in weights.chunks(SHAPE.t).enumerate() {
            let i = r % SHAPE.t;
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            assert!(row[i + 1..].iter().all(|&w| w == 0.0));
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let masks = masks();
        for m in [None, Some(masks.as_slice())] {
            gradients_match_finite_differences_under(m);
        }
    }

    fn gradients_match_finite_differences_under(masks: Option<&[f32]>) {
        let n = SHAPE.rows_len();
        let inputs = [values(n, 0.4), values(n, 1.9), values(n, 3.1)];
        let upstream = values(n, 5.0);
        // loss = <context, upstream>, in f64 through the reference.
        let loss = |x: &[Vec<f32>; 3]| -> f64 {
            reference(SHAPE, &x[0], &x[1], &x[2], masks)
                .iter()
                .zip(&upstream)
                .map(|(a, b)| a * f64::from(*b))
                .sum()
        };
        let (_, weights) = forward(SHAPE, &inputs[0], &inputs[1], &inputs[2], masks);
        let grads = backward(
            SHAPE,
            (&inputs[0], &inputs[1], &inputs[2]),
            &weights,
            masks,
            &upstream,
        );
        let eps = 1e-2f32;
        for (which, grad) in grads.iter().enumerate() {
            for e in (0..n).step_by(7) {
                let mut plus = inputs.clone();
                plus[which][e] += eps;
                let mut minus = inputs.clone();
                minus[which][e] -= eps;
                let numeric = (loss(&plus) - loss(&minus)) / (2.0 * f64::from(eps));
                let got = f64::from(grad[e]);
                assert!(
                    (got - numeric).abs() < 2e-3,
                    "operand {which} element {e}: {got} vs {numeric}"
                );
            }
        }
    }
}
