#!/usr/bin/env bash
# usage: [METRIC=samples|ms] [WARMUP=5] [MAXSTEAL=30] benches/ab.sh CONFIG ROUNDS STEPS BIN...:
# alternating `trainer bench` runs of several binaries (no PyTorch), the order rotating each
# round. Prints one line per run ("round binary value steal", the value samples/s or, with
# METRIC=ms, ms per step; steal is the CPU time the hypervisor took meanwhile, 1/100 s), then
# per binary the median value and the median per-round ratio to the first binary, over all
# rounds and over the calm ones (no run's steal above MAXSTEAL).
set -u
cfg=$1; n=$2; steps=$3; shift 3; bins=("$@"); k=${#bins[@]}
case "${METRIC:-samples}" in
  samples) column=6 ;;
  ms) column=8 ;;
  *) echo "ab.sh: METRIC must be samples or ms, not ${METRIC}" >&2; exit 2 ;;
esac
steal() { awk '/^cpu /{print $9}' /proc/stat; }
runs=$(mktemp); trap 'rm -f "$runs"' EXIT
for i in $(seq $n); do
  for j in $(seq 0 $((k-1))); do
    bin=${bins[$(( (i + j) % k ))]}
    s0=$(steal)
    v=$($bin bench --config $cfg --backends cpu --steps $steps --warmup ${WARMUP:-5} \
      --checkpoint-repeats 0 --data-feed prebuilt 2>&1 | awk -v c=$column '/^flex/{print $c}')
    echo "$i $(basename $bin) $v $(( $(steal) - s0 ))"
  done
done | tee "$runs"
python3 - "$runs" "${MAXSTEAL:-30}" "${bins[@]}" <<'PY'
import collections, os, statistics as st, sys
runs, maxs, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
d = collections.defaultdict(dict); bad = set()
for i, b, v, s in (line.split() for line in open(runs)):
    d[i][b] = float(v)
    if int(s) > maxs:
        bad.add(i)
names = [os.path.basename(b) for b in bins]
good = [i for i in d if i not in bad]
print('rounds', len(d), 'kept (steal <= %d)' % maxs, len(good))
for sel, label in ((list(d), 'all'), (good, 'calm')):
    if sel:
        print(label, ' '.join(f'{b} {st.median(d[i][b] for i in sel):.0f} '
                              f'(x{st.median(d[i][b] / d[i][names[0]] for i in sel):.3f})'
                              for b in names))
PY
