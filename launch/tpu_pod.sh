#!/usr/bin/env bash
# Run a limits experiment on every worker of a Cloud TPU VM pod.
#
#   launch/tpu_pod.sh --name=limits-pod --zone=us-central2-b --type=v4-32 \
#       --config=configs/sweep.py:paper --workdir=workdir/sweep_paper [--project=P] [--dry-run]
#
# Creates the pod if it does not exist (else reuses it), copies this repository to every
# worker, installs it with jax[tpu], runs the same `python -m launch.train --distributed`
# on --worker=all (jax.distributed auto-detects the pod: each host runs one process, the
# population's member axis is sharded over all chips; process 0 writes results), then
# copies the workdir from worker 0 back here. With --dry-run it prints the commands only.
# Extra flags after `--` go to launch.train (e.g. -- --config.train.steps=100).
set -euo pipefail
NAME=limits-pod ZONE=us-central2-b TYPE=v4-32 PROJECT="" CONFIG=configs/sweep.py:paper
WORKDIR=workdir/tpu VERSION=tpu-ubuntu2204-base DRY=0 EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --name=*) NAME="${1#*=}" ;; --zone=*) ZONE="${1#*=}" ;; --type=*) TYPE="${1#*=}" ;;
    --project=*) PROJECT="${1#*=}" ;; --config=*) CONFIG="${1#*=}" ;;
    --workdir=*) WORKDIR="${1#*=}" ;; --version=*) VERSION="${1#*=}" ;;
    --dry-run) DRY=1 ;; --) shift; EXTRA=("$@"); break ;;
    *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
G=(gcloud compute tpus tpu-vm)
P=(--zone="$ZONE"); [[ -n "$PROJECT" ]] && P+=(--project="$PROJECT")
run() { if [[ $DRY == 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi; }
TGZ=/tmp/limits-$$.tgz
if [[ $DRY == 1 ]] || ! "${G[@]}" describe "$NAME" "${P[@]}" >/dev/null 2>&1; then
  run "${G[@]}" create "$NAME" "${P[@]}" --accelerator-type="$TYPE" --version="$VERSION"
fi
run git archive --format=tar.gz -o "$TGZ" HEAD
run "${G[@]}" scp "$TGZ" "$NAME":limits.tgz "${P[@]}" --worker=all
run "${G[@]}" ssh "$NAME" "${P[@]}" --worker=all --command \
  "mkdir -p limits && tar xzf limits.tgz -C limits && cd limits && pip install -q -e . 'jax[tpu]'"
TC='p=$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -1); [ -n "$p" ] && export LD_PRELOAD=$p;'
run "${G[@]}" ssh "$NAME" "${P[@]}" --worker=all --command \
  "cd limits && $TC python -m launch.train --distributed --config=$CONFIG --workdir=$WORKDIR ${EXTRA[*]:-}"
run "${G[@]}" scp --recurse "$NAME":limits/"$WORKDIR" "$(dirname "$WORKDIR")/" "${P[@]}" --worker=0
