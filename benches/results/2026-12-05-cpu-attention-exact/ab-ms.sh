#!/usr/bin/env bash
# The A/B script these results were taken with: `benches/ab.sh` with ms per step as the value.
METRIC=ms exec bash "$(dirname "$0")/../../ab.sh" "$@"
