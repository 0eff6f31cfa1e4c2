#!/usr/bin/env bash
# Data parallel over MPI on this host: (1) the all-reduce of the MLP's and the GPT's gradients
# (their parameter counts, f32) by trainer's MPI adapter against torch.distributed's gloo
# backend, 2 ranks, alternating which goes first, ROUNDS rounds; (2) samples/s and scaling
# efficiency of `trainer launch --nprocs K` for K = 1, 2, 4 on the MLP (one epoch of the
# bundled MNIST subset, 7,200 training images, global batch 250) and a 2-layer GPT on Tiny Shakespeare.
# Needs the MPI build: cargo build --release --features mpi --bin trainer --example allreduce_bench
# Usage: benches/mpi/run.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:?usage: run.sh OUT_DIR}"; mkdir -p "$OUT"
ROUNDS="${ROUNDS:-3}"; RANKS_LIST="${RANKS_LIST:-1 2 4}"
T=target/release/trainer
PY="${TRAINER_TORCH_VENV:-$HOME/.cache/trainer-ci/venv-torch}/bin/python"
ROOT=(); [ "$(id -u)" = 0 ] && ROOT=(--allow-run-as-root)
MLP=(--config configs/mnist-mlp.toml --set train.epochs=1 --set train.batch_size=250 --set model.mlp.dropout=0.0)
GPT=(--config configs/shakespeare-gpt-cpu.toml --set train.epochs=1 --set model.gpt.layers=2 --set data.stride=256 --set model.gpt.dropout=0.0)
params() {  # the parameter count of a config's model, from a one-epoch fit's summary
  local dir; dir="$(mktemp -d)"
  "$T" fit "$@" --output "$dir" --run-name p -q >/dev/null
  python3 -c "import json; print(json.load(open('$dir/p/summary.json'))['parameters'])"
  rm -rf "$dir"
}
MLP_P="$(params "${MLP[@]}")"; GPT_P="$(params "${GPT[@]}")"
echo "gradient floats: mlp $MLP_P, gpt $GPT_P" | tee "$OUT/sizes.txt"
: > "$OUT/allreduce.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  ours() { RAYON_NUM_THREADS=1 mpirun "${ROOT[@]}" --bind-to none -np 2 target/release/examples/allreduce_bench "$MLP_P" "$GPT_P"; }
  torch() { "$PY" benches/reference/torch_allreduce.py --ranks 2 "$MLP_P" "$GPT_P"; }
  if [ $((round % 2)) -eq 1 ]; then ours >> "$OUT/allreduce.jsonl"; torch >> "$OUT/allreduce.jsonl"
  else torch >> "$OUT/allreduce.jsonl"; ours >> "$OUT/allreduce.jsonl"; fi
done
: > "$OUT/scaling.jsonl"
for k in $RANKS_LIST; do
  for model in mlp gpt; do
    if [ "$model" = mlp ]; then args=("${MLP[@]}"); else args=("${GPT[@]}"); fi
    dir="$(mktemp -d)"
    "$T" launch --nprocs "$k" -- fit "${args[@]}" --output "$dir" --run-name s -q >/dev/null
    python3 - "$dir/s/summary.json" "$k" "$model" >> "$OUT/scaling.jsonl" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
# Every rank trains the same global batches; rank 0's train_seconds is the job's.
total = s["datasets"][0]["splits"]["train"] * s["epochs"]
print(json.dumps({"model": sys.argv[3], "ranks": int(sys.argv[2]), "train_seconds": s["train_seconds"],
                  "samples_per_sec": total / s["train_seconds"], "final_train_loss": s["final_train_loss"]}))
PY
    rm -rf "$dir"
  done
done
python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, sys, statistics as st
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/allreduce.jsonl")]
for n in sorted({r["floats"] for r in rows}):
    m = {e: st.median([r["median_ms"] for r in rows if r["engine"] == e and r["floats"] == n]) for e in ("trainer-mpi", "torch-gloo")}
    print(f"all-reduce of {n} floats, 2 ranks: trainer MPI {m['trainer-mpi']:.3f} ms, torch gloo {m['torch-gloo']:.3f} ms (medians of {len(rows)//4} rounds)")
rows = [json.loads(l) for l in open(f"{out}/scaling.jsonl")]
for model in ("mlp", "gpt"):
    one = [r for r in rows if r["model"] == model and r["ranks"] == 1]
    for r in (r for r in rows if r["model"] == model):
        eff = r["samples_per_sec"] / one[0]["samples_per_sec"] / r["ranks"] if one else float("nan")
        print(f"{model} {r['ranks']} rank(s): {r['samples_per_sec']:.0f} samples/s, efficiency {eff:.2f}, final loss {r['final_train_loss']:.4f}")
PY
