#!/usr/bin/env bash
# Text preparation and the token-shard loader on Tiny Shakespeare: `trainer data tokenize`
# (training a byte-level BPE of VOCAB ids, then encoding; tokens/s), the token loader's
# windows/s (trainer bench's loader figure), and the GPT step (configs/shakespeare-bpe.toml)
# on the shards streamed by the loader against the same step on prebuilt in-memory batches,
# alternating which goes first, ROUNDS rounds; medians in OUT_DIR/summary.txt.
# Usage: benches/token-shards/run.sh OUT_DIR   (needs target/release/trainer)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:?usage: run.sh OUT_DIR}"; mkdir -p "$OUT"
ROUNDS="${ROUNDS:-3}"; STEPS="${STEPS:-40}"; VOCAB="${VOCAB:-1024}"
T=target/release/trainer
SHARDS="$OUT/shards"
: > "$OUT/tokenize.txt"
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$SHARDS"
  "$T" data tokenize --input datasets/tinyshakespeare/input.txt --output "$SHARDS" \
    --vocab-size "$VOCAB" >> "$OUT/tokenize.txt"
done
step() {  # feed
  rm -f "$OUT/b.json"
  "$T" bench --config configs/shakespeare-bpe.toml --set "data.dir=\"$SHARDS\"" --backends cpu \
    --steps "$STEPS" --warmup 5 --checkpoint-repeats 0 --data-feed "$1" --json "$OUT/b.json" -q >/dev/null
  python3 -c "import json; r=json.load(open('$OUT/b.json'))['results'][0]; print(json.dumps({'feed':'$1','ms_per_step':r['ms_per_step'],'loader_samples_per_sec':r.get('loader_samples_per_sec')}))"
}
: > "$OUT/step.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then
    step streaming >> "$OUT/step.jsonl"; step prebuilt >> "$OUT/step.jsonl"
  else
    step prebuilt >> "$OUT/step.jsonl"; step streaming >> "$OUT/step.jsonl"
  fi
done
rm -rf "$SHARDS" "$OUT/b.json"
python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, re, sys, statistics as st
out = sys.argv[1]
text = open(f"{out}/tokenize.txt").read()
rates = [float(x) for x in re.findall(r"([0-9.]+) tokens/s", text)]
train_s = [float(x) for x in re.findall(r"tokenizer ([0-9.]+) s", text)]
print(f"tokenize: encoding median {st.median(rates):.0f} tokens/s {rates}; training the BPE median {st.median(train_s):.1f} s {train_s}")
rows = [json.loads(l) for l in open(f"{out}/step.jsonl")]
ms = {f: [r["ms_per_step"] for r in rows if r["feed"] == f] for f in ("streaming", "prebuilt")}
loader = [r["loader_samples_per_sec"] for r in rows if r["feed"] == "streaming" and r["loader_samples_per_sec"]]
if loader:
    print(f"token loader: median {st.median(loader):.0f} windows/s {[round(x) for x in loader]}")
s, p = st.median(ms["streaming"]), st.median(ms["prebuilt"])
print(f"GPT step ms: streaming median {s:.2f} {ms['streaming']}, prebuilt median {p:.2f} {ms['prebuilt']}, ratio {s/p:.3f}")
PY
