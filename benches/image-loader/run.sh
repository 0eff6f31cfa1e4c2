#!/usr/bin/env bash
# Image-folder loader throughput (decode JPEG, random resized crop to 64x64, flip, normalize,
# batch of 64), trainer against torchvision's ImageFolder + DataLoader with the same
# transforms, 1 and 2 workers, alternating which goes first, ROUNDS rounds; then the training
# step on the folder (streaming) against the same step on prebuilt in-memory batches.
# Usage: benches/image-loader/run.sh OUT_DIR   (needs target/release/trainer and the torch venv
# of tests/setup.sh; installs torchvision into it if missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:?usage: run.sh OUT_DIR}"; mkdir -p "$OUT"
ROUNDS="${ROUNDS:-3}"; BATCHES="${BATCHES:-50}"; PER_CLASS="${PER_CLASS:-400}"
PY="${TRAINER_TORCH_VENV:-$HOME/.cache/trainer-ci/venv-torch}/bin/python"
"$PY" -c 'import torchvision' 2>/dev/null || "$PY" -m pip install -q torchvision
DATA="${DATA:-$HOME/.cache/trainer-bench/jpeg-folder}"
[ -d "$DATA/train" ] || "$PY" benches/image-loader/make_folder.py "$DATA" "$PER_CLASS"
T=target/release/trainer
trainer_loader() {  # workers
  rm -f "$OUT/t.json"
  "$T" bench --config configs/image-folder.toml --set "data.dir=\"$DATA\"" --set "data.workers=$1" \
    --set model.kind=\"mlp\" --backends cpu --steps "$BATCHES" --warmup 1 --checkpoint-repeats 0 \
    --json "$OUT/t.json" -q >/dev/null
  python3 -c "import json; r=json.load(open('$OUT/t.json'))['results'][0]; print(json.dumps({'loader':'trainer','workers':$1,'samples_per_sec':r['loader_samples_per_sec']}))"
}
torch_loader() {
  "$PY" benches/reference/torchvision_loader.py --dir "$DATA" --workers "$1" --batches "$BATCHES"
}
: > "$OUT/loader.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for w in 1 2; do
    if [ $((round % 2)) -eq 1 ]; then
      trainer_loader "$w" >> "$OUT/loader.jsonl"; torch_loader "$w" >> "$OUT/loader.jsonl"
    else
      torch_loader "$w" >> "$OUT/loader.jsonl"; trainer_loader "$w" >> "$OUT/loader.jsonl"
    fi
  done
done
cat "$OUT/loader.jsonl"
# The step on the folder against the same step on in-memory batches (the CNN at 64x64).
for feed in streaming prebuilt; do
  rm -f "$OUT/step-$feed.json"
  "$T" bench --config configs/image-folder.toml --set "data.dir=\"$DATA\"" --set model.kind=\"cnn\" \
    --backends cpu --steps 30 --warmup 3 --checkpoint-repeats 0 --data-feed "$feed" \
    --json "$OUT/step-$feed.json" -q >/dev/null
done
python3 - "$OUT" <<'PY'
import json, sys, statistics as st
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/loader.jsonl")]
for w in (1, 2):
    t = [r["samples_per_sec"] for r in rows if r["loader"] == "trainer" and r["workers"] == w]
    p = [r["samples_per_sec"] for r in rows if r["loader"] == "torchvision" and r["workers"] == w]
    print(f"workers {w}: trainer median {st.median(t):.0f} samples/s {t}, torchvision median {st.median(p):.0f} {p}, ratio {st.median(t)/st.median(p):.2f}")
s = {f: json.load(open(f"{out}/step-{f}.json"))["results"][0]["ms_per_step"] for f in ("streaming", "prebuilt")}
print(f"step ms: streaming {s['streaming']:.1f}, prebuilt {s['prebuilt']:.1f}, ratio {s['streaming']/s['prebuilt']:.3f}")
PY
