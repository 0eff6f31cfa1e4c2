#!/usr/bin/env bash
# Installs everything the test suite needs, idempotently, caching outside the repo:
#   - Debian: Mesa lavapipe (software Vulkan) so the wgpu backend runs without a GPU,
#     Chromium (headless) for the test that looks at MLflow's UI, and Open MPI with libclang
#     (the `mpi` feature's bindings) for the multi-process tests;
#   - a Python venv with MLflow 3.17.2 (tracking integration tests);
#   - a Python venv with PyTorch + safetensors (export checks, benchmark reference).
# Prints the environment to source: TRAINER_MLFLOW_VENV, TRAINER_TORCH_VENV.
set -euo pipefail

cache="${TRAINER_CACHE_DIR:-$HOME/.cache/trainer-ci}"
mkdir -p "$cache"

need_apt=()
for pkg in mesa-vulkan-drivers libvulkan1 python3-venv chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Open MPI and libclang with their recommended packages (the headers bindgen needs).
need_mpi=()
for pkg in libopenmpi-dev openmpi-bin libclang-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_mpi+=("$pkg")
done
if [ ${#need_mpi[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_mpi[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need_mpi[@]}" >/dev/null
fi

# make_venv DIR STAMP PACKAGES...: (re)creates DIR when STAMP (the package list) changed.
make_venv() {
  local dir="$1" stamp="$2"; shift 2
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then return 0; fi
  echo "setup: creating venv $dir ($*)" >&2
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check "$@"
  echo "$stamp" >"$dir/.stamp"
}

make_venv "$cache/venv-mlflow" "mlflow==3.17.2" "mlflow==3.17.2"
make_venv "$cache/venv-torch" "torch safetensors numpy v1" torch safetensors numpy

echo "export TRAINER_MLFLOW_VENV=$cache/venv-mlflow"
echo "export TRAINER_TORCH_VENV=$cache/venv-torch"
