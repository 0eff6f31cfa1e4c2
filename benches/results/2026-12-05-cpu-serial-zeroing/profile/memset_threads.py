# usage: python3 memset_threads.py S.txt: the samples whose leaf is memset, by thread and by the
# first trainer/Burn frame above it (where the zeroing was asked for).
import collections, os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../..'))
import perf_samples

samples = perf_samples.read(sys.argv[1])
print('samples per thread:', collections.Counter(tid for tid, _ in samples).most_common())
c = collections.Counter()
for tid, stack in samples:
    if stack and 'memset' in stack[0]:
        f = next((x for x in stack if re.search('trainer_ops|burn_flex|burn_autodiff', x)), '?')
        c[(tid, f[:90])] += 1
for k, v in c.most_common(20):
    print(v, k)
print(sum(c.values()), 'memset samples of', len(samples))
