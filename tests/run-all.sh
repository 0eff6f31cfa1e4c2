#!/usr/bin/env bash
# The README's test command: installs what the tests need (tests/setup.sh: apt packages and the
# MLflow/PyTorch venvs, cached in ~/.cache/trainer-ci), then runs the whole suite. Every step
# runs even when an earlier one failed; the exit status is 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash tests/setup.sh)"
# Kernel autotuning on the software Vulkan adapter costs minutes and tests need no tuned kernels.
export CUBECL_AUTOTUNE_LEVEL="${CUBECL_AUTOTUNE_LEVEL:-minimal}"
failed=()
step() { "$@" || failed+=("$*"); }
# Unit, integration and library tests of every crate, and one pass of the criterion
# micro-benchmarks (criterion's test mode, which is what `cargo test` runs a bench target in).
# The examples are left to their own build below; `--doc` cannot be mixed with target flags.
step cargo test --release --locked --no-fail-fast --lib --bins --tests --benches
step cargo test --release --locked --no-fail-fast --doc
# The library examples (README "Train your own model"), run; custom_model exits 1 unless its
# stopped-and-resumed run equals the straight one bit for bit. They are built with the `trainer`
# package (its library and the examples) at opt-level 0: `trainer::fit` monomorphizes a user's
# model for cuda, wgpu and flex, 3.5-4.5 min of LLVM at opt-level 3 on 2 cores, 45 s at 0 (both examples), and
# their training is seconds either way (the arithmetic runs in burn-flex and trainer-ops, built
# optimized). A separate artifact: the release build of `trainer` is not touched.
examples_out="$(mktemp -d)"
example=(--release --locked --config 'profile.release.package.trainer.opt-level=0')
step cargo run "${example[@]}" --example custom_model -- "$examples_out"
step cargo run "${example[@]}" --example custom_data -- "$examples_out"
rm -rf "$examples_out"
# Data parallel over MPI: the trainer and its tests rebuilt with `--features mpi` (only the
# top crate recompiles), then the multi-process tests (Open MPI on localhost). Last, so the
# default-feature builds above are not rebuilt.
step cargo test --release --locked --features mpi --test integration -- mpi::
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
