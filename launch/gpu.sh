#!/usr/bin/env bash
# Run a limits experiment on one node with all its GPUs.
#
#   launch/gpu.sh --config=configs/sweep.py:paper --workdir=workdir/sweep_gpu [--cuda=12]
#       [--dry-run] [--help] [-- FLAGS...]
#
# Validates the config first (`python -m launch.train --validate_only` with the same
# --config, --workdir and FLAGS: a bad value is its one line and exit 2, before anything
# is installed), then installs the repository with jax[cudaNN] into the current Python
# environment and runs launch.train: one process sees every local GPU, and the
# population's members x data mesh spans them. It runs this working tree as it is (no
# copy, so uncommitted edits are what runs). With --dry-run it prints the commands only
# (after validating). Extra flags after `--` go to launch.train.
set -euo pipefail
CONFIG=configs/sweep.py:paper WORKDIR=workdir/gpu CUDA=12 DRY=0 EXTRA=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config=*) CONFIG="${1#*=}" ;; --workdir=*) WORKDIR="${1#*=}" ;; --cuda=*) CUDA="${1#*=}" ;;
    --dry-run) DRY=1 ;; -h|--help) usage; exit 0 ;; --) shift; EXTRA=("$@"); break ;;
    *) echo "error: unknown argument $1 (see $0 --help)" >&2; exit 2 ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
"${PYTHON:-python}" -m launch.train --validate_only --config="$CONFIG" --workdir="$WORKDIR" \
  "${EXTRA[@]}" >/dev/null || exit $?
run() { if [[ $DRY == 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi; }
run pip install -q -e . "jax[cuda${CUDA}]"
run env XLA_PYTHON_CLIENT_PREALLOCATE=false python -m launch.train --config="$CONFIG" \
  --workdir="$WORKDIR" "${EXTRA[@]}"
