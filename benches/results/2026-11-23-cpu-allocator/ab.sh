#!/usr/bin/env bash
# A/B: main (a913b0d, glibc malloc defaults) vs main + retained freed memory, each with its own
# PyTorch run, alternating, in one sitting.
set -euo pipefail
cd /work/main
out=$1; mkdir -p "$out"
for r in 1 2; do
  for name in main new; do
    TRAINER_BIN=/tmp/trainer-$name TRAINER_TORCH_VENV=$HOME/.cache/trainer-ci/venv-torch \
      benches/compare --backends flex --steps 50 --warmup 5 --out "$out/r$r-$name" \
      configs/mnist-mlp.toml configs/mnist-cnn.toml configs/shakespeare-gpt-cpu.toml | tee "$out/r$r-$name.txt"
  done
done
