# usage: python3 im2col_share.py S.txt: the share of samples spent in `im2col` itself or in what
# it called (its line copies: `memcpy`, or the inlined block copies), i.e. samples with an
# `im2col` frame among the innermost three.
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../..'))
import perf_samples

samples = perf_samples.read(sys.argv[1])
hits = sum(1 for _, stack in samples if any('im2col' in f and 'col2im' not in f for f in stack[:3]))
print(f'{100 * hits / len(samples):.1f}% of {len(samples)} samples in im2col and its copies')
