//! `attention/flex/<path>/<shape>`: one causal self-attention layer (projections included),
//! forward and backward, through the fused host op (`fused`) and Burn's composed heads
//! (`composed`), which compute the same bits. Shapes: the GPT 4x128 config's layer, and
//! `shakespeare-gpt.toml`'s with its score dropout at a batch of 4.

use burn::backend::{Autodiff, Flex};
use burn::nn::attention::{MultiHeadAttentionConfig, generate_autoregressive_mask};
use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, SamplingMode};
use std::time::Duration;
use trainer_ops::{HostOps, composed_attention};

type A = Autodiff<Flex>;

fn attention(c: &mut Criterion) {
    let device = Default::default();
    let mut group = c.benchmark_group("attention/flex");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for [b, t, d, heads, percent] in [[32, 64, 128, 4, 0], [4, 256, 384, 6, 20]] {
        A::seed(&device, 1);
        let mha = MultiHeadAttentionConfig::new(d, heads)
            .with_dropout(percent as f64 / 100.0)
            .init::<A>(&device);
        let h = Tensor::<A, 2>::random([b * t, d], Distribution::Normal(0.0, 1.0), &device);
        let mask = generate_autoregressive_mask::<A>(b, t, &device);
        let shape = format!("b{b}-t{t}-d{d}-h{heads}-dropout{percent}");
        for fused in [true, false] {
            let path = if fused { "fused" } else { "composed" };
            group.bench_function(format!("{path}/{shape}"), |bench| {
                bench.iter(|| {
                    let x = h.clone().detach().require_grad();
                    let y = if fused {
                        A::causal_attention_forward(&mha, x.clone(), [b, t], &mask)
                    } else {
                        composed_attention(&mha, x.clone(), [b, t], &mask)
                    };
                    let grads = y.sum().backward();
                    x.grad(&grads).expect("a gradient").into_data()
                })
            });
        }
    }
    group.finish();
}

criterion::criterion_group!(benches, attention);
