//! Character-level GPT: token + position embeddings, pre-norm transformer blocks with causal
//! self-attention and a GELU MLP, a final LayerNorm and a linear head over the vocabulary.

use super::gpt_blocks::causal_forward;
use super::{Scores, Trainable};
use crate::config::GptConfig;
use crate::data::TokenBatch;
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig,
    Linear, LinearConfig,
};
use burn::prelude::*;
use trainer_ops::HostOps;

/// Decoder-only transformer over token ids; `block_size` is the longest context it reads.
#[derive(Module, Debug)]
pub struct Gpt<B: Backend> {
    tokens: Embedding<B>,
    positions: Embedding<B>,
    dropout: Dropout,
    blocks: TransformerEncoder<B>,
    norm: LayerNorm<B>,
    head: Linear<B>,
}

impl<B: Backend> Gpt<B> {
    /// A model over `vocab` tokens with GPT-2's N(0, 0.02) embedding init.
    pub fn new(cfg: &GptConfig, vocab: usize, device: &B::Device) -> Self {
        let d = cfg.embedding;
        let small = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        Self {
            tokens: EmbeddingConfig::new(vocab, d)
                .with_initializer(small.clone())
                .init(device),
            positions: EmbeddingConfig::new(cfg.block_size, d)
                .with_initializer(small)
                .init(device),
            dropout: DropoutConfig::new(cfg.dropout).init(),
            blocks: TransformerEncoderConfig::new(d, 4 * d, cfg.heads, cfg.layers)
                .with_norm_first(true)
                .with_dropout(cfg.dropout)
                .init(device),
            norm: LayerNormConfig::new(d).init(device),
            head: LinearConfig::new(d, vocab).init(device),
        }
    }

    /// The longest context (in tokens) the model reads.
    pub fn block_size(&self) -> usize {
        self.positions.weight.dims()[0]
    }
}

impl<B: HostOps> Gpt<B> {
    /// Logits `[batch, t, vocab]` for token ids `[batch, t]` (`t <= block_size`).
    pub fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [b, t] = tokens.dims();
        let device = tokens.device();
        let pos = Tensor::<B, 1, Int>::arange(0..t as i64, &device)
            .reshape([1, t])
            .repeat_dim(0, b);
        let x = B::dropout_forward(
            &self.dropout,
            self.tokens.forward(tokens) + self.positions.forward(pos),
        );
        let x = causal_forward(&self.blocks, x);
        B::linear_forward(&self.head, B::layer_norm_forward(&self.norm, x))
    }
}

impl<B: HostOps> Trainable<B> for Gpt<B> {
    type Batch = TokenBatch;
    const LANGUAGE_MODEL: bool = true;

    fn score(&self, batch: &TokenBatch, device: &B::Device) -> Scores<B> {
        let (w, rows) = (batch.window, batch.inputs.len());
        let b = rows / w.max(1);
        let inputs = Tensor::from_data(TensorData::new(batch.inputs.clone(), [b, w]), device);
        let targets = Tensor::from_data(TensorData::new(batch.targets.clone(), [rows]), device);
        let logits = self.forward(inputs); // [b, w, vocab]
        let vocab = logits.dims()[2];
        Scores::Classes {
            logits: logits.reshape([rows, vocab]),
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    fn model() -> Gpt<Flex> {
        let cfg = GptConfig {
            layers: 2,
            heads: 2,
            embedding: 16,
            block_size: 8,
            dropout: 0.0,
        };
        Flex::seed(&Default::default(), 3);
        Gpt::new(&cfg, 11, &Default::default())
    }

    fn logits(m: &Gpt<Flex>, ids: &[i64]) -> Vec<f32> {
        let t = Tensor::from_data(
            TensorData::new(ids.to_vec(), [1, ids.len()]),
            &Default::default(),
        );
        m.forward(t).into_data().to_vec::<f32>().unwrap()
    }

    #[test]
    fn attention_is_causal_a_position_never_sees_later_tokens() {
        let m = model();
        let (a, b) = (
            logits(&m, &[1, 2, 3, 4, 5, 6]),
            logits(&m, &[1, 2, 3, 9, 0, 7]),
        );
        assert_eq!(a.len(), 6 * 11, "[1, t, vocab]");
        // Positions 0..3 read the same prefix: identical logits. Position 3 differs.
        assert_eq!(a[..3 * 11], b[..3 * 11]);
        assert_ne!(a[3 * 11..4 * 11], b[3 * 11..4 * 11]);
    }

    #[test]
    fn score_flattens_tokens_into_rows() {
        let m = model();
        let batch = TokenBatch {
            inputs: vec![1, 2, 3, 4, 5, 6],
            targets: vec![2, 3, 4, 5, 6, 7],
            window: 3,
        };
        let Scores::Classes { logits, targets } = m.score(&batch, &Default::default()) else {
            panic!("a GPT scores classes")
        };
        assert_eq!(logits.dims(), [6, 11]);
        assert_eq!(
            targets
                .into_data()
                .convert::<i64>()
                .to_vec::<i64>()
                .unwrap(),
            batch.targets
        );
        assert_eq!(m.block_size(), 8);
    }
}
