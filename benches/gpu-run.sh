#!/usr/bin/env bash
# GPU benchmark session on an NVIDIA box with no internet (how benches/results/*-h100 and
# *-h200 were made). Expects, relative to the repo root:
#   dist/trainer.gz            release binary built elsewhere (cargo build --release; gzip -c)
#   dist/fashion-mnist/        the Fashion-MNIST IDX files
#   .gl/*.deb                  Vulkan/GL loader packages, when the box has none (optional)
# and python3 with torch for the reference.
#
# Every model's first CUDA step compiles its kernels (about 135 s each on an H200, see
# benches/results/2026-12-04-h200), so a short lease cannot run everything: STAGES picks and
# orders the stages, BUDGET (seconds) bounds the whole script, and a stage that would start
# with less than MIN_STAGE seconds left is skipped. Whatever ran is packed into
# $OUT/gpu-results.tgz at the end (one file; the kernel cache is left out), also on timeout.
set -uo pipefail
OUT="${OUT:-gpu-out}"; mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
RES="$OUT/results"; mkdir -p "$RES"
STAGES="${STAGES:-gpt fashion mlp cnn precision}"
BUDGET="${BUDGET:-900}"; MIN_STAGE="${MIN_STAGE:-60}"
STEPS="${STEPS:-300}"; WARMUP="${WARMUP:-30}"
START=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
pack() { tar czf "$OUT/gpu-results.tgz" -C "$OUT" results 2>/dev/null; }
trap pack EXIT
if ! ldconfig -p | grep -q libvulkan && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
T=/tmp/trainer; gunzip -c dist/trainer.gz > "$T"; chmod +x "$T"
export TRAINER_KERNEL_CACHE="${TRAINER_KERNEL_CACHE:-$OUT/kernel-cache}"
{
  date -u +"date: %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  nproc; python3 -c 'import torch; print("torch", torch.__version__)'
  "$T" backends
} 2>&1 | tee "$RES/host.txt"

# run LIMIT-LABEL CMD...: runs CMD under the time left, logging how long it took.
run() {
  local label=$1; shift
  local t; t=$(left)
  if [ "$t" -lt "$MIN_STAGE" ]; then echo "skipped $label: ${t}s left" | tee -a "$RES/stages.txt"; return; fi
  local s; s=$(date +%s)
  timeout "$t" "$@"; local rc=$?
  echo "$label rc=$rc $(( $(date +%s) - s ))s" | tee -a "$RES/stages.txt"
}
# side by side: trainer on cuda and wgpu, then PyTorch on cuda, for one config.
bench_pair() {
  local cfg=$1
  rm -f "$RES/$cfg-trainer.json"  # bench --json never overwrites
  run "$cfg-trainer" "$T" bench --config "configs/$cfg.toml" --backends cuda,wgpu --steps "$STEPS" \
    --warmup "$WARMUP" --json "$RES/$cfg-trainer.json" 2>&1 | tee -a "$RES/bench.log"
  run "$cfg-torch" python3 benches/reference/torch_bench.py --config "configs/$cfg.toml" --device cuda \
    --steps "$STEPS" --warmup "$WARMUP" --json "$RES/$cfg-torch.json" >/dev/null 2>>"$RES/bench.log"
}
# #22: cuda f32 vs bf16 beside PyTorch eager and autocast bf16, the first step cold and warm.
precision() {
  for cfg in shakespeare-gpt mnist-cnn; do
    for pass in cold warm; do
      run "warmup-$cfg-$pass" "$T" warmup --config "configs/$cfg.toml" --backend cuda --precision bf16 \
        2>&1 | tee -a "$RES/warmup-$cfg-$pass.log"
    done
    rm -f "$RES/$cfg-precision-trainer.json"
    run "$cfg-precision" "$T" bench --config "configs/$cfg.toml" --backends cuda --precision f32,bf16 \
      --steps "$STEPS" --warmup "$WARMUP" --checkpoint-repeats 0 \
      --json "$RES/$cfg-precision-trainer.json" 2>&1 | tee -a "$RES/bench.log"
    for amp in off bf16; do
      run "$cfg-torch-$amp" python3 benches/reference/torch_bench.py --config "configs/$cfg.toml" \
        --device cuda --autocast $amp --steps "$STEPS" --warmup "$WARMUP" \
        --json "$RES/$cfg-torch-$amp.json" >/dev/null 2>>"$RES/bench.log"
    done
  done
}
for stage in $STAGES; do
  case $stage in
    gpt) bench_pair shakespeare-gpt ;;
    mlp) bench_pair mnist-mlp ;;
    cnn) bench_pair mnist-cnn ;;
    fashion)
      run fashion-cnn-fit "$T" fit --config configs/fashion-cnn.toml --backend cuda \
        --set data.dir=dist/fashion-mnist --output /tmp/runs --run-name fashion-cnn-cuda 2>&1 |
        grep -v ' step ' | tee "$RES/fashion-cnn-cuda.log"
      cp /tmp/runs/fashion-cnn-cuda/summary.json "$RES/fashion-cnn-cuda-summary.json" 2>/dev/null ;;
    precision) precision ;;
    *) echo "unknown stage $stage (gpt, fashion, mlp, cnn, precision)" | tee -a "$RES/stages.txt" ;;
  esac
done
true
