#!/usr/bin/env bash
# `trainer eval` throughput before and after the inference backends used the host ops (#36):
# each binary trains the MNIST CNN and the CPU GPT briefly, then evaluates its checkpoint on a
# large file set: three rounds, the binaries in the order given; prints wall seconds per eval.
# Usage: BINS="before=PATH after=PATH" bash benches/results/2026-12-05-cpu-host-memory/run-eval.sh OUT
set -euo pipefail
cd "$(dirname "$0")/../../.."
out="${1:?output directory}"
mkdir -p "$out"
fashion="${FASHION:-../shared/datasets/fashion-mnist}"
read -r -a bins <<< "${BINS:?BINS=\"name=PATH ...\"}"
for entry in "${bins[@]}"; do
    name="${entry%%=*}" bin="${entry#*=}"
    "$bin" fit --config configs/mnist-cnn.toml --set train.epochs=1 --backend cpu \
        --output "$out/$name" --run-name cnn > "$out/$name-cnn-fit.log" 2>&1
    "$bin" fit --config configs/shakespeare-gpt-cpu.toml --set train.epochs=1 \
        --set data.stride=1024 --backend cpu --output "$out/$name" --run-name gpt \
        > "$out/$name-gpt-fit.log" 2>&1
done
last() { ls -d "$1"/checkpoints/step-* | sort -t- -k2 -n | tail -1; }
for round in 1 2 3; do
    for entry in "${bins[@]}"; do
        name="${entry%%=*}" bin="${entry#*=}"
        for model in cnn gpt; do
            case "$model" in
                cnn) data="$fashion" ;;
                gpt) data="datasets/tinyshakespeare/input.txt" ;;
            esac
            ck="$(last "$out/$name/$model")"
            start=$(date +%s.%N)
            "$bin" eval --checkpoint "$ck" --data "$data" --backend cpu \
                > "$out/$name-$model-eval-$round.txt" 2>&1
            end=$(date +%s.%N)
            echo "round=$round bin=$name model=$model seconds=$(echo "$end - $start" | bc)" \
                | tee -a "$out/rounds.txt"
        done
    done
done
