#!/usr/bin/env bash
# GPU benchmark session on an NVIDIA box with no internet (how benches/results/*-h100 was made).
# Expects, relative to the repo root:
#   dist/trainer.gz            release binary built elsewhere (cargo build --release; gzip -c)
#   dist/fashion-mnist/        the Fashion-MNIST IDX files
#   .gl/*.deb                  Vulkan/GL loader packages, when the box has none (optional)
# and python3 with torch for the reference. Results go to $OUT (default: ./gpu-out).
set -uo pipefail
OUT="${OUT:-gpu-out}"; mkdir -p "$OUT"
if ! ldconfig -p | grep -q libvulkan && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
T=/tmp/trainer; gunzip -c dist/trainer.gz > "$T"; chmod +x "$T"
STEPS="${STEPS:-300}"; WARMUP="${WARMUP:-30}"
{
  date -u +"date: %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  nproc; python3 -c 'import torch; print("torch", torch.__version__)'
  "$T" backends
} 2>&1 | tee "$OUT/host.txt"
rm -f "$OUT"/*-trainer.json  # bench --json never overwrites; a rerun replaces them
for cfg in mnist-mlp mnist-cnn shakespeare-gpt; do
  "$T" bench --config configs/$cfg.toml --backends cuda,wgpu --steps "$STEPS" --warmup "$WARMUP" \
    --json "$OUT/$cfg-trainer.json" 2>&1 | tee -a "$OUT/bench.log"
  python3 benches/reference/torch_bench.py --config configs/$cfg.toml --device cuda \
    --steps "$STEPS" --warmup "$WARMUP" --json "$OUT/$cfg-torch.json" >/dev/null 2>>"$OUT/bench.log"
done
# #22: cuda f32 vs bf16 beside PyTorch eager and autocast bf16, then the first step cold
# (empty kernel cache) and warm (the cache the cold run filled), for the GPT and the CNN.
export TRAINER_KERNEL_CACHE="$OUT/kernel-cache"; rm -rf "$TRAINER_KERNEL_CACHE"
rm -f "$OUT"/*-precision-trainer.json  # bench --json never overwrites
for cfg in shakespeare-gpt mnist-cnn; do
  for pass in cold warm; do
    "$T" warmup --config configs/$cfg.toml --backend cuda --precision bf16 2>&1 | tee -a "$OUT/warmup-$cfg-$pass.log"
  done
  "$T" bench --config configs/$cfg.toml --backends cuda --precision f32,bf16 --steps "$STEPS" \
    --warmup "$WARMUP" --checkpoint-repeats 0 --json "$OUT/$cfg-precision-trainer.json" 2>&1 | tee -a "$OUT/bench.log"
  for amp in off bf16; do
    python3 benches/reference/torch_bench.py --config configs/$cfg.toml --device cuda --autocast $amp \
      --steps "$STEPS" --warmup "$WARMUP" --json "$OUT/$cfg-torch-$amp.json" >/dev/null 2>>"$OUT/bench.log"
  done
done
"$T" fit --config configs/fashion-cnn.toml --backend cuda --set data.dir=dist/fashion-mnist \
  --output /tmp/runs --run-name fashion-cnn-cuda 2>&1 | grep -v ' step ' | tee "$OUT/fashion-cnn-cuda.log"
cp /tmp/runs/fashion-cnn-cuda/summary.json "$OUT/fashion-cnn-cuda-summary.json" 2>/dev/null
"$T" fit --backend cuda --output /tmp/runs --run-name mnist-mlp-cuda 2>&1 | grep -v ' step ' | tee "$OUT/mnist-mlp-cuda.log"
true
