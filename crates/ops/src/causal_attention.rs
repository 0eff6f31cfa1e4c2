//! Causal multi-head attention on host slices: the forward and its gradients, one rayon task
//! per (sequence, head), single-threaded matmuls inside.
//!
//! Rows are `[batch * t, heads * d_k]` (row `s * t + i` is position `i` of sequence `s`; head
//! `h` is columns `h * d_k..(h + 1) * d_k`), as the GPT's projections produce them. Position
//! `i` attends to positions `0..=i` with weights `softmax((q k^T) / sqrt(d_k))`, or, with score
//! dropout (Burn's `MultiHeadAttention` drops scores before the softmax), with
//! `softmax(((q k^T) / sqrt(d_k)) * m)` for a mask `m` of zeros and `1 / (1 - prob)`.
//!
//! The forward and the backward take the steps of Burn's composed attention and of its
//! autodiff backward, in the same order and with the same products, so on flex their results
//! are that path's to the bit (tested in `host_attention` and `tests/attention_dropout.rs`).

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

/// Sums each `row_len`-element row of a row-major block into one element of the output, in
/// the order the backend's own `sum_dim` over a contiguous last axis adds them.
pub type RowSums = fn(&[f32], usize, &mut [f32]);

/// How the scores are masked: the value Burn's attention writes above the diagonal (its
/// `min_float`) and the score dropout's masks, in the weights' layout, if dropout is active.
#[derive(Clone, Copy, Debug)]
pub struct ScoreMasks<'a> {
    /// The score above the diagonal, before the softmax.
    pub causal: f32,
    /// Per sequence and head, `t x t` factors: 0 or `1 / (1 - prob)`.
    pub dropout: Option<&'a [f32]>,
}

/// What the backward keeps of the softmax: its exponentials `[batch, heads, t, t]` (each row
/// shifted by its maximum) and their row sums `[batch, heads, t]`.
#[derive(Debug)]
pub struct Softmax {
    /// `exp(score - row max)`, the masked positions included.
    pub exps: Vec<f32>,
    /// The sum of each row of `exps`.
    pub sums: Vec<f32>,
}

/// The divisor of the scores: `sqrt(d_k)`, rounded to f32 from f64 as Burn's `div_scalar`
/// rounds its scalar.
fn score_scale(d_k: usize) -> f32 {
    (d_k as f64).sqrt() as f32
}

/// The context rows `[batch * t, d_model]` and what the backward needs of the softmax.
///
/// Every element is the one Burn's composed attention on the same backend computes, bit for
/// bit: the same matrix products (flex's `gemm` calls, with the same strides), the same
/// element-wise steps in the same order (scale, dropout, causal fill, shift, exp, divide) and
/// the backend's own row sums (`sums`).
pub fn forward(
    shape: AttentionShape,
    [q, k, v]: [&[f32]; 3],
    masks: ScoreMasks<'_>,
    sums: RowSums,
) -> (Vec<f32>, Softmax) {
    let AttentionShape { t, d_k, heads, .. } = shape;
    let scale = score_scale(d_k);
    let ([exps, blocks, row_sums], _) = par_fill(
        [
            shape.weights_len(),
            shape.rows_len(),
            shape.weights_len() / t,
        ],
        [t * t, t * d_k, t],
        || vec![0.0; t * t],
        |weights, task, [e, out, row_sums]| {
            let (s, h) = (task / heads, task % heads);
            let dropout = masks.dropout.map(|m| &m[task * t * t..(task + 1) * t * t]);
            matmul(e, shape.head(q, s, h), shape.head(k, s, h).t(), false);
            for (i, row) in e.chunks_mut(t).enumerate() {
                let dropout = dropout.map(|m| &m[i * t..(i + 1) * t]);
                shifted_exps(row, i, scale, masks.causal, dropout);
            }
            sums(e, t, row_sums);
            let weights = normalized(weights, e, row_sums);
            matmul(out, weights, shape.head(v, s, h), false);
        },
    );
    let softmax = Softmax {
        exps,
        sums: row_sums,
    };
    (shape.merge_heads(&blocks), softmax)
}

/// The softmax weights `exps / sums` (each row by its sum) written into `weights`, as a
/// row-major `t x t` view. Row `i`'s columns after `i` share one exponential (the causal
/// fill's), so their weight is divided once.
fn normalized<'a>(weights: &'a mut [f32], exps: &[f32], sums: &[f32]) -> MatRef<'a> {
    let t = sums.len();
    let rows = weights.chunks_mut(t).zip(exps.chunks(t)).zip(sums);
    for (i, ((w, e), &sum)) in rows.enumerate() {
        let (seen, unseen) = w.split_at_mut(i + 1);
        seen.iter_mut().zip(e).for_each(|(w, e)| *w = e / sum);
        if let Some(&masked) = e.get(i + 1) {
            unseen.fill(masked / sum);
        }
    }
    MatRef::row_major(weights, t, t)
}

/// Row `i` of the scores to `exp(score - max)`, as Burn's attention and softmax compute it:
/// divided by `scale`, times the dropout row (if any), `causal` after column `i`, shifted by
/// the row's maximum. Every masked column holds the same value, so its exponential is taken
/// once.
fn shifted_exps(row: &mut [f32], i: usize, scale: f32, causal: f32, dropout: Option<&[f32]>) {
    let (seen, unseen) = row.split_at_mut(i + 1);
    match dropout {
        Some(m) => seen
            .iter_mut()
            .zip(m)
            .for_each(|(s, m)| *s = *s / scale * m),
        None => seen.iter_mut().for_each(|s| *s /= scale),
    }
    let mut max = seen.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    if !unseen.is_empty() {
        max = max.max(causal);
    }
    seen.iter_mut().for_each(|s| *s = (*s - max).exp());
    unseen.fill((causal - max).exp());
}

/// Per-task buffers of [`backward`]: `t x t` weights and score gradients, `d_k x t` for
/// `dKᵀ`, and one row of the terms whose sum is a row sum's gradient.
struct Scratch {
    weights: Vec<f32>,
    dscores: Vec<f32>,
    dkt: Vec<f32>,
    terms: Vec<f32>,
}

/// Gradients of `q`, `k` and `v` (each `[batch * t, d_model]`) for the context gradient `grad`,
/// under the forward's masks and softmax.
///
/// Each step is the one Burn's autodiff takes back through the composed attention, in its
/// order: `dW = dO Vᵀ` and `dV = Wᵀ dO`; through `W = E / Σ`: `dW * recip(Σ)` plus the row sum
/// of `dW * (-E / Σ²)`; through the exp (times `E`), the causal fill (0 above the diagonal),
/// the dropout (times its mask) and the scale (times `1 / scale`); then `dQ = dS K` and
/// `dKᵀ = Qᵀ dS`.
pub fn backward(
    shape: AttentionShape,
    [q, k, v]: [&[f32]; 3],
    softmax: &Softmax,
    masks: ScoreMasks<'_>,
    sums: RowSums,
    grad: &[f32],
) -> [Vec<f32>; 3] {
    let AttentionShape { t, d_k, heads, .. } = shape;
    let inverse_scale = 1.0 / score_scale(d_k);
    let scratch = || Scratch {
        weights: vec![0.0; t * t],
        dscores: vec![0.0; t * t],
        dkt: vec![0.0; d_k * t],
        terms: vec![0.0; t],
    };
    let (blocks, _) = par_fill(
        [shape.rows_len(); 3],
        [t * d_k; 3],
        scratch,
        |sc, task, [dq, dk, dv]| {
            let (s, h) = (task / heads, task % heads);
            let exps = &softmax.exps[task * t * t..][..t * t];
            let row_sums = &softmax.sums[task * t..][..t];
            let dropout = masks.dropout.map(|m| &m[task * t * t..(task + 1) * t * t]);
            let dout = shape.head(grad, s, h);
            let weights = normalized(&mut sc.weights, exps, row_sums);
            matmul(dv, weights.t(), dout, false);
            matmul(&mut sc.dscores, dout, shape.head(v, s, h).t(), false);
            let rows = sc.dscores.chunks_mut(t).zip(exps.chunks(t)).zip(row_sums);
            for (i, ((row, e), &sum)) in rows.enumerate() {
                // dW * (-E / Σ²); the columns after `i` share one E, so one division.
                let square = sum * sum;
                let (seen_terms, unseen_terms) = sc.terms.split_at_mut(i + 1);
                for ((term, dw), e) in seen_terms.iter_mut().zip(&*row).zip(e) {
                    *term = dw * (-e / square);
                }
                if let Some(&masked) = e.get(i + 1) {
                    let factor = -masked / square;
                    for (term, dw) in unseen_terms.iter_mut().zip(&row[i + 1..]) {
                        *term = dw * factor;
                    }
                }
                let mut dsum = 0.0;
                sums(&sc.terms, t, std::slice::from_mut(&mut dsum));
                let recip = 1.0 / sum;
                let dexp = |g: f32, e: f32| (g * recip + dsum) * e;
                let (seen, unseen) = row.split_at_mut(i + 1);
                match dropout.map(|m| &m[i * t..(i + 1) * t]) {
                    Some(m) => {
                        for ((g, e), m) in seen.iter_mut().zip(e).zip(m) {
                            *g = dexp(*g, *e) * m * inverse_scale;
                        }
                    }
                    None => {
                        for (g, e) in seen.iter_mut().zip(e) {
                            *g = dexp(*g, *e) * inverse_scale;
                        }
                    }
                }
                unseen.fill(0.0);
            }
            let dscores = MatRef::row_major(&sc.dscores, t, t);
            matmul(dq, dscores, shape.head(k, s, h), false);
            matmul(&mut sc.dkt, shape.head(q, s, h).t(), dscores, false);
            for (c, line) in sc.dkt.chunks(t).enumerate() {
                for (j, &x) in line.iter().enumerate() {
                    dk[j * d_k + c] = x;
                }
            }
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

    /// Row sums in order (flex's differ in order only, and are tested in `host_attention`).
    const IN_ORDER: RowSums = crate::partial_sums::row_sums_in_order;

    /// Burn's masking: `-1e4` above the diagonal, and the dropout masks if given.
    fn masking(dropout: Option<&[f32]>) -> ScoreMasks<'_> {
        ScoreMasks {
            causal: -1.0e4,
            dropout,
        }
    }

    #[test]
    fn forward_matches_the_definition() {
        let n = SHAPE.rows_len();
        let (q, k, v) = (values(n, 0.1), values(n, 1.3), values(n, 2.7));
        let masks = masks();
        for m in [None, Some(masks.as_slice())] {
            let (out, _) = forward(SHAPE, [&q, &k, &v], masking(m), IN_ORDER);
            for (a, b) in out.iter().zip(reference(SHAPE, &q, &k, &v, m)) {
                assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
        let (dropped, _) = forward(SHAPE, [&q, &k, &v], masking(Some(&masks)), IN_ORDER);
        let (out, softmax) = forward(SHAPE, [&q, &k, &v], masking(None), IN_ORDER);
        assert_ne!(dropped, out, "the masks change the context");
        // Each row's sum is kept, and the masked columns' exponentials are 0.
        let rows = softmax.exps.chunks(SHAPE.t).zip(&softmax.sums);
        for (r, (row, &sum)) in rows.enumerate() {
            let i = r % SHAPE.t;
            assert_eq!(row.iter().sum::<f32>(), sum);
            assert!(row[..=i].iter().all(|&e| e > 0.0 && e <= 1.0));
            assert!(row[i + 1..].iter().all(|&e| e == 0.0));
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
        let operands = [&inputs[0], &inputs[1], &inputs[2]].map(Vec::as_slice);
        let (_, softmax) = forward(SHAPE, operands, masking(masks), IN_ORDER);
        let grads = backward(
            SHAPE,
            operands,
            &softmax,
            masking(masks),
            IN_ORDER,
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
