#!/usr/bin/env bash
# Run a limits experiment on one node with all its GPUs.
#
#   launch/gpu.sh --config=configs/sweep.py:paper --workdir=workdir/sweep_gpu [--cuda=12] [--dry-run]
#
# Installs the repository with jax[cudaNN] into the current Python environment and runs
# launch.train: one process sees every local GPU and the population's member axis is
# sharded over them. With --dry-run it prints the commands only. Extra flags after `--`
# go to launch.train.
set -euo pipefail
CONFIG=configs/sweep.py:paper WORKDIR=workdir/gpu CUDA=12 DRY=0 EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config=*) CONFIG="${1#*=}" ;; --workdir=*) WORKDIR="${1#*=}" ;; --cuda=*) CUDA="${1#*=}" ;;
    --dry-run) DRY=1 ;; --) shift; EXTRA=("$@"); break ;;
    *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
run() { if [[ $DRY == 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi; }
run pip install -q -e . "jax[cuda${CUDA}]"
run env XLA_PYTHON_CLIENT_PREALLOCATE=false python -m launch.train --config="$CONFIG" \
  --workdir="$WORKDIR" "${EXTRA[@]}"
