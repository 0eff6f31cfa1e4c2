#!/usr/bin/env bash
# usage: BINS="name=path name=path" benches/rounds.sh OUT ROUNDS CONFIG...: each named release
# binary and PyTorch per config, the order rotating each round; each line ends with the CPU time the
# hypervisor took from this VM during the run ("steal", /proc/stat, in 1/100 s). STEPS and
# WARMUP (default 60 and 10) set the timed and warm-up steps of both.
set -u
cd "$(dirname "$0")/.."
source <(bash tests/setup.sh)   # TRAINER_TORCH_VENV
OUT=$1; ROUNDS=$2; shift 2; mkdir -p $OUT
STEPS=${STEPS:-60}; WARMUP=${WARMUP:-10}
for r in $(seq $ROUNDS); do
  for cfg in "$@"; do
    n=$(basename $cfg .toml)
    entries=($BINS torch=torch)
    k=${#entries[@]}; rot=$(( (r - 1) % k ))
    order=("${entries[@]:$rot}" "${entries[@]:0:$rot}")
    for e in "${order[@]}"; do
      name=${e%%=*}; bin=${e#*=}
      s0=$(awk '/^cpu /{print $9}' /proc/stat)
      f=$OUT/$n-$name-r$r.json; rm -f $f
      if [ "$name" = torch ]; then
        $TRAINER_TORCH_VENV/bin/python benches/reference/torch_bench.py --config $cfg --steps $STEPS --warmup $WARMUP --json $f > /dev/null 2>&1
      else
        $bin bench --config $cfg --backends cpu --steps $STEPS --warmup $WARMUP --json $f > /dev/null 2>&1
      fi
      python3 -c "import json;r=json.load(open('$f'))['results'][0];print('$n r$r $name', round(r['samples_per_sec'],1), 'steal', $(awk '/^cpu /{print $9}' /proc/stat) - $s0)"
    done
  done
done
