#!/usr/bin/env bash
# The rounds script these results were taken with, since moved to `benches/rounds.sh` (which
# also prints each run's steal time, and takes STEPS and WARMUP): the same rounds, the same
# `--steps 60 --warmup 10` by default.
exec bash "$(dirname "$0")/../../rounds.sh" "$@"
