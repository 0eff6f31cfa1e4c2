//! Text generation with a trained GPT: one token at a time, drawn from the model's next-token
//! distribution (temperature, then top-k), with a seeded RNG so a sample can be reproduced.

use super::Gpt;
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trainer_ops::HostOps;

/// How the next token is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Divides the logits; 0 always takes the most likely token.
    pub temperature: f64,
    /// Draw only among the `k` most likely tokens (None: all).
    pub top_k: Option<usize>,
    /// RNG seed: the same seed, prompt and model give the same text.
    pub seed: u64,
}

/// Continues `prompt` (token ids, non-empty) by `tokens` new ids, never drawing `banned` (the
/// vocabulary's unknown id, which has no text); the model reads the last `block_size` ids.
/// Reads each step's logits back to the host (one sync per token).
pub fn generate<B: HostOps>(
    model: &Gpt<B>,
    prompt: &[i64],
    tokens: usize,
    sampling: Sampling,
    banned: Option<usize>,
    device: &B::Device,
) -> Result<Vec<i64>, String> {
    if prompt.is_empty() {
        return Err("the prompt is empty; give at least one character".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(sampling.seed);
    let mut ids = prompt.to_vec();
    for _ in 0..tokens {
        let context = &ids[ids.len().saturating_sub(model.block_size())..];
        let t = context.len();
        let input =
            Tensor::<B, 2, Int>::from_data(TensorData::new(context.to_vec(), [1, t]), device);
        let logits = model.forward(input); // [1, t, vocab]
        let vocab = logits.dims()[2];
        let last = logits.slice([0..1, t - 1..t, 0..vocab]).reshape([vocab]);
        let mut values = last
            .try_into_data()
            .map_err(|e| format!("reading the logits back: {e:?}"))?
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| format!("reading the logits back: {e:?}"))?;
        if let Some(v) = banned.and_then(|b| values.get_mut(b)) {
            *v = f32::NEG_INFINITY;
        }
        ids.push(draw(&values, sampling, &mut rng) as i64);
    }
    Ok(ids[prompt.len()..].to_vec())
}

/// Draws one index from `logits` per `sampling` (ties in greedy mode go to the lower index).
pub fn draw(logits: &[f32], sampling: Sampling, rng: &mut impl Rng) -> usize {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    if sampling.temperature <= 0.0 || order.len() <= 1 {
        return order.first().copied().unwrap_or(0);
    }
    order.truncate(sampling.top_k.unwrap_or(order.len()).clamp(1, order.len()));
    let top = logits[order[0]] as f64;
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| ((logits[i] as f64 - top) / sampling.temperature).exp())
        .collect();
    let mut u = rng.random::<f64>() * weights.iter().sum::<f64>();
    for (&i, w) in order.iter().zip(&weights) {
        if u < *w {
            return i;
        }
        u -= w;
    }
    // Rounding left `u` past the total: the last token that had any weight.
    order
        .iter()
        .zip(&weights)
        .rev()
        .find(|(_, w)| **w > 0.0)
        .map_or(order[0], |(&i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampling(temperature: f64, top_k: Option<usize>) -> Sampling {
        Sampling {
            temperature,
            top_k,
            seed: 0,
        }
    }

    #[test]
    fn zero_temperature_or_top_one_is_greedy() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let logits = [0.5, 2.0, 2.0, -1.0];
        for _ in 0..20 {
            assert_eq!(draw(&logits, sampling(0.0, None), &mut rng), 1);
            assert_eq!(draw(&logits, sampling(1.0, Some(1)), &mut rng), 1);
        }
    }

    #[test]
    fn draws_follow_the_softmax_and_respect_top_k() {
        // Softmax of [ln 3, 0, -inf-ish]: 0.75 / 0.25 / ~0.
        let logits = [3f32.ln(), 0.0, -30.0];
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 20_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[draw(&logits, sampling(1.0, None), &mut rng)] += 1;
        }
        let p0 = counts[0] as f64 / n as f64;
        assert!((p0 - 0.75).abs() < 0.015, "p0 = {p0}");
        // Temperature 2 flattens: weights 3^(1/2) : 1, so p0 = 1.732 / 2.732 = 0.634.
        let mut hits = 0;
        for _ in 0..n {
            hits += (draw(&logits, sampling(2.0, None), &mut rng) == 0) as usize;
        }
        let p0 = hits as f64 / n as f64;
        assert!((p0 - 0.634).abs() < 0.015, "p0 at T=2 = {p0}");
        // Top-2 of [1, 5, 3, 4]: only indices 1 and 3 may come out.
        let logits = [1.0, 5.0, 3.0, 4.0];
        for _ in 0..2000 {
            let i = draw(&logits, sampling(5.0, Some(2)), &mut rng);
            assert!(i == 1 || i == 3, "drew {i}");
        }
    }

    #[test]
    fn a_banned_token_is_never_drawn() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let logits = [0.5, f32::NEG_INFINITY, 0.4, 0.3];
        for temperature in [0.0, 1.0, 5.0] {
            for _ in 0..200 {
                let pick = draw(&logits, sampling(temperature, None), &mut rng);
                assert_ne!(pick, 1, "temperature {temperature}");
            }
        }
    }
}
