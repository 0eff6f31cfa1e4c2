#!/usr/bin/env bash
# The README's test command: installs what the tests need (tests/setup.sh: apt packages and the
# MLflow/PyTorch venvs, cached in ~/.cache/trainer-ci), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash tests/setup.sh)"
# Kernel autotuning on the software Vulkan adapter costs minutes and tests need no tuned kernels.
export CUBECL_AUTOTUNE_LEVEL="${CUBECL_AUTOTUNE_LEVEL:-minimal}"
cargo test --release --locked --no-fail-fast
# The library examples (README "Train your own model"); `cargo test` built them. custom_model
# exits 1 unless its stopped-and-resumed run equals the straight one bit for bit.
examples_out="$(mktemp -d)"
cargo run --release --locked --example custom_model -- "$examples_out"
cargo run --release --locked --example custom_data -- "$examples_out"
rm -rf "$examples_out"
# The criterion micro-benchmarks, each run once (criterion's --test mode): they build and run.
cargo bench --locked --bench micro -- --test
# Data parallel over MPI: the trainer and its tests rebuilt with `--features mpi` (only the
# top crate recompiles), then the multi-process tests (Open MPI on localhost). Last, so the
# default-feature builds above are not rebuilt.
cargo test --release --locked --features mpi --test integration -- mpi::
