#!/usr/bin/env python3
"""Per-round ratios of benches/rounds.sh output: each binary / PyTorch and new / head, medians.
usage: benches/rounds_ratios.py ROUNDS.txt (the output of benches/rounds.sh)"""
import collections, statistics, sys

rows = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    w = line.split()
    if len(w) >= 4 and w[1].startswith("r"):
        rows[(w[0], w[1])][w[2]] = float(w[3])
for model in dict.fromkeys(m for m, _ in rows):
    rounds = [rows[k] for k in rows if k[0] == model]
    names = [n for n in rounds[0] if n != "torch"]
    line = [model]
    for n in names:
        r = [x[n] / x["torch"] for x in rounds]
        line.append(f"{n}/torch {', '.join(f'{v:.2f}' for v in r)} median {statistics.median(r):.2f}")
    if "head" in names and "new" in names:
        r = [x["new"] / x["head"] for x in rounds]
        line.append(f"new/head {', '.join(f'{v:.2f}' for v in r)} median {statistics.median(r):.3f}")
    print(" | ".join(line))
