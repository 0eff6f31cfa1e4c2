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
# The second build, for the rest: the `trainer` package (its library, binary, examples and
# integration tests; nothing under crates/) at opt-level 0, with the MPI feature. One build
# serves both steps below. The optimized build of `trainer` above is not touched (another
# artifact). Why opt-level 0: the library examples call `trainer::fit`, which monomorphizes a
# user's model for cuda, wgpu and flex, 3.4-4.6 min of LLVM at opt-level 3 on 2 cores; at 0 the
# whole build takes 33-49 s, and runs stay seconds (the arithmetic runs in burn-flex, trainer-ops
# and the backends crate, all optimized).
second=(--release --locked --features mpi --config 'profile.release.package.trainer.opt-level=0')
# The library examples (README "Train your own model"), run; custom_model exits 1 unless its
# stopped-and-resumed run equals the straight one bit for bit.
examples_out="$(mktemp -d)"
step cargo build "${second[@]}" --example custom_model --example custom_data
step cargo run "${second[@]}" --example custom_model -- "$examples_out"
step cargo run "${second[@]}" --example custom_data -- "$examples_out"
rm -rf "$examples_out"
# Data parallel over MPI (Open MPI on localhost): the multi-process tests, which need the
# `mpi` feature; the rest of the integration tests ran above.
step cargo test "${second[@]}" --test integration -- mpi::
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
