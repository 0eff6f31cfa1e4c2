# usage: python3 by_op.py S.txt 'pattern,pattern,...'   (S.txt from `perf script -F comm,tid,ip,sym`
# of a `perf record --call-graph dwarf` run). Each sample goes to the first pattern (regex) that
# a frame of its stack matches, innermost frame first; prints the share of all samples per
# pattern and that group's four most frequent leaf functions.
import collections, os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../..'))
import perf_samples

samples = perf_samples.read(sys.argv[1])
pats = sys.argv[2].split(',')
groups = collections.Counter(); leaves = collections.defaultdict(collections.Counter)
for tid, stack in samples:
    hit = next((p for f in stack for p in pats if re.search(p, f)), 'other')
    groups[hit] += 1
    leaves[hit][stack[0][:70] if stack else '?'] += 1
n = len(samples)
for k, v in groups.most_common():
    top = '; '.join(f'{leaf} {100 * x / n:.1f}' for leaf, x in leaves[k].most_common(4))
    print(f'{100 * v / n:5.1f}% {k}   ::  {top}')
