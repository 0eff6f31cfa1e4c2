#!/usr/bin/env bash
# usage: abn.sh CONFIG ROUNDS STEPS BIN... -> per round samples/s and steal jiffies, rotating the order;
# medians and per-round ratios against the first binary (rounds with steal > MAXSTEAL dropped)
cfg=$1; n=$2; steps=$3; shift 3; bins=("$@"); k=${#bins[@]}
steal() { awk '/^cpu /{print $9}' /proc/stat; }
for i in $(seq $n); do
  for j in $(seq 0 $((k-1))); do
    bin=${bins[$(( (i + j) % k ))]}
    s0=$(steal)
    v=$($bin bench --config $cfg --backends cpu --steps $steps --warmup ${WARMUP:-5} --checkpoint-repeats 0 --data-feed prebuilt 2>&1 | awk "/^flex/{print \$8}")
    echo "$i $(basename $bin) $v $(( $(steal) - s0 ))"
  done
done | tee /tmp/ab/last.txt | python3 -c "
import sys,statistics as st,collections,os
rows=[l.split() for l in sys.stdin]
maxs=int(os.environ.get('MAXSTEAL','30'))
d=collections.defaultdict(dict); bad=set()
for i,b,v,s in rows:
    d[i][b]=float(v)
    if int(s)>maxs: bad.add(i)
names=[os.path.basename(b) for b in '${bins[*]}'.split()]
good=[i for i in d if i not in bad]
print('rounds', len(d), 'kept (steal <= %d)'%maxs, len(good))
for sel,label in ((list(d),'all'),(good,'calm')):
    if not sel: continue
    base=names[0]
    print(label, ' '.join(f'{b} {st.median(d[i][b] for i in sel):.0f} (x{st.median(d[i][b]/d[i][base] for i in sel):.3f})' for b in names))
"
