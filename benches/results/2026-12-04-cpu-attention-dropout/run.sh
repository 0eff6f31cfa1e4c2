#!/usr/bin/env bash
# Shakespeare GPT (dropout 0.2), batch 16: trainer before/after the fused attention dropout and
# PyTorch, alternating. BEFORE and AFTER name the two release binaries; OUT the JSON folder.
set -u
cd "$(dirname "$0")/../../.."
source <(bash tests/setup.sh)   # TRAINER_TORCH_VENV
OUT=${OUT:-/tmp/sgpt}; mkdir -p $OUT
ARGS=(--config configs/shakespeare-gpt.toml --set train.batch_size=16 --steps 5 --warmup 2)
run_t() { rm -f $OUT/$1-r$2.json; $3 bench "${ARGS[@]}" --backends cpu --json $OUT/$1-r$2.json > /dev/null 2>&1; python3 -c "import json;r=json.load(open('$OUT/$1-r$2.json'))['results'][0];print('$1 r$2', round(r['samples_per_sec'],2), 'ms/step', round(r.get('ms_per_step',0),1))"; }
run_p() { $TRAINER_TORCH_VENV/bin/python benches/reference/torch_bench.py "${ARGS[@]}" --json $OUT/torch-r$1.json > /dev/null 2>&1; python3 -c "import json;r=json.load(open('$OUT/torch-r$1.json'))['results'][0];print('torch r$1', round(r['samples_per_sec'],2))"; }
for r in 1 2 3; do
  if [ $((r % 2)) -eq 1 ]; then run_t before $r "$BEFORE"; run_t after $r "$AFTER"; run_p $r
  else run_p $r; run_t after $r "$AFTER"; run_t before $r "$BEFORE"; fi
done
