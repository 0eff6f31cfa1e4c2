#!/usr/bin/env bash
# The A/B script these results were taken with (samples/s, `--warmup 5`), since moved to
# `benches/ab.sh`, which takes the same arguments.
exec bash "$(dirname "$0")/../../ab.sh" "$@"
