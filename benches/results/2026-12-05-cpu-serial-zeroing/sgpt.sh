#!/usr/bin/env bash
# shakespeare-gpt.toml rounds: head, new, torch rotating; --steps 8 --warmup 2.
cd /work/main
source <(bash tests/setup.sh)
OUT=$1; mkdir -p $OUT
cfg=configs/shakespeare-gpt.toml
entries=(head=/tmp/bin-review new=/tmp/bin-uninit torch=torch)
for r in 1 2 3; do
  k=${#entries[@]}; rot=$(( (r - 1) % k ))
  order=("${entries[@]:$rot}" "${entries[@]:0:$rot}")
  for e in "${order[@]}"; do
    name=${e%%=*}; bin=${e#*=}; f=$OUT/shakespeare-gpt-$name-r$r.json; rm -f $f
    if [ "$name" = torch ]; then
      $TRAINER_TORCH_VENV/bin/python benches/reference/torch_bench.py --config $cfg --steps 8 --warmup 2 --json $f > /dev/null 2>&1
    else
      $bin bench --config $cfg --backends cpu --steps 8 --warmup 2 --checkpoint-repeats 0 --json $f > /dev/null 2>&1
    fi
    python3 -c "import json;r=json.load(open('$f'))['results'][0];print('shakespeare-gpt r$r $name', round(r['samples_per_sec'],2))"
  done
done
