"""Reads `perf script -F comm,tid,ip,sym` output (from `perf record --call-graph dwarf`): the
profile scripts under results/ import it.

    samples = perf_samples.read(path)   # [(tid, [frame, ...]), ...], innermost frame first
"""


def read(path):
    """Each sample's thread id and its stack's symbols, innermost first."""
    samples, current = [], None
    for line in open(path):
        if not line.strip():
            if current:
                samples.append(current)
            current = None
            continue
        if line[0] not in ' \t':
            if current:
                samples.append(current)
            fields = line.split()
            current = (fields[1] if len(fields) > 1 else '', [])
            continue
        current[1].append(line.strip().split(' ', 1)[-1])
    if current:
        samples.append(current)
    return samples
