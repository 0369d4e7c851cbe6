#!/usr/bin/env bash
# Run a limits experiment on every worker of a Cloud TPU VM pod.
#
#   launch/tpu_pod.sh --name=limits-pod --zone=us-central2-b --type=v4-32 \
#       --config=configs/sweep.py:paper --workdir=/mnt/shared/limits/sweep_paper \
#       [--project=P] [--version=V] [--dry-run] [--allow_dirty] [--help] [-- FLAGS...]
#
# 1. Refuses a working tree with uncommitted changes (modified, staged or untracked files
#    git does not ignore), which `git archive HEAD` would silently leave out; with
#    --allow_dirty it ships the working tree as it is (tracked and untracked files).
# 2. Validates the config here, before any machine starts: `python -m launch.train
#    --validate_only` with the same --config, --workdir and FLAGS (a bad value: its one
#    line and exit 2; nothing is created).
# 3. Creates the pod if it does not exist (else reuses it), copies the code to every
#    worker, installs it with jax[tpu] and runs the same `python -m launch.train
#    --distributed` on --worker=all (jax.distributed auto-detects the pod: one process per
#    host, the population's members x data mesh over all chips; process 0 writes results).
# 4. Copies the workdir back from worker 0.
# Storage: every worker writes its own shards of each checkpoint into --workdir, so on a
#    multi-host pod --workdir must be shared storage, mounted at the same path on every
#    worker (Filestore/NFS, or a bucket through gcsfuse; mount it before running this):
#    then checkpoints are whole, and rerunning this command on a new pod with the same
#    mount and --workdir resumes from the latest one. A worker-local --workdir holds only
#    that worker's shards: a new pod cannot resume from it. URL workdirs (gs://) are
#    refused by the validation until the result writers support them.
# --dry-run prints the commands of steps 3-4 after running steps 1-2. Extra flags after
# `--` go to launch.train (e.g. -- --config.train.steps=100). Exit status: launch.train's,
# 2 for a bad argument, a dirty tree or a bad config.
set -euo pipefail
NAME=limits-pod ZONE=us-central2-b TYPE=v4-32 PROJECT="" CONFIG=configs/sweep.py:paper
WORKDIR=workdir/tpu VERSION=tpu-ubuntu2204-base DRY=0 DIRTY=0 EXTRA=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --name=*) NAME="${1#*=}" ;; --zone=*) ZONE="${1#*=}" ;; --type=*) TYPE="${1#*=}" ;;
    --project=*) PROJECT="${1#*=}" ;; --config=*) CONFIG="${1#*=}" ;;
    --workdir=*) WORKDIR="${1#*=}" ;; --version=*) VERSION="${1#*=}" ;;
    --dry-run) DRY=1 ;; --allow_dirty) DIRTY=1 ;; -h|--help) usage; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "error: unknown argument $1 (see $0 --help)" >&2; exit 2 ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
if [[ -z "$WORKDIR" ]]; then echo "error: --workdir: empty; name a directory" >&2; exit 2; fi
if [[ $DIRTY == 0 ]]; then
  if ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo "error: $(pwd) is not a git checkout; pass --allow_dirty to ship the directory as it is" >&2
    exit 2
  fi
  changed=$(git status --porcelain --untracked-files=normal | wc -l)
  if [[ $changed -gt 0 ]]; then
    echo "error: the working tree has $changed uncommitted change(s) (git status), which the" \
         "pod would not get; commit them, or pass --allow_dirty to ship the tree as it is" >&2
    exit 2
  fi
fi
"${PYTHON:-python}" -m launch.train --validate_only --config="$CONFIG" --workdir="$WORKDIR" \
  "${EXTRA[@]}" >/dev/null || exit $?
G=(gcloud compute tpus tpu-vm)
P=(--zone="$ZONE"); [[ -n "$PROJECT" ]] && P+=(--project="$PROJECT")
run() { if [[ $DRY == 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi; }
TGZ=/tmp/limits-$$.tgz
if [[ $DRY == 1 ]] || ! "${G[@]}" describe "$NAME" "${P[@]}" >/dev/null 2>&1; then
  run "${G[@]}" create "$NAME" "${P[@]}" --accelerator-type="$TYPE" --version="$VERSION"
fi
if [[ $DIRTY == 1 ]] && git rev-parse --git-dir >/dev/null 2>&1; then
  # Tracked and untracked files as they are now (ignored ones, like workdir/, left out).
  ship="git ls-files -z -co --exclude-standard | tar czf $TGZ --null -T -"
  if [[ $DRY == 1 ]]; then echo "$ship"; else eval "$ship"; fi
elif [[ $DIRTY == 1 ]]; then
  run tar czf "$TGZ" --exclude=./workdir --exclude=./.git .
else
  run git archive --format=tar.gz -o "$TGZ" HEAD
fi
run "${G[@]}" scp "$TGZ" "$NAME":limits.tgz "${P[@]}" --worker=all
run "${G[@]}" ssh "$NAME" "${P[@]}" --worker=all --command \
  "mkdir -p limits && tar xzf limits.tgz -C limits && cd limits && pip install -q -e . 'jax[tpu]'"
TC='p=$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -1); [ -n "$p" ] && export LD_PRELOAD=$p;'
run "${G[@]}" ssh "$NAME" "${P[@]}" --worker=all --command \
  "cd limits && $TC python -m launch.train --distributed --config=$CONFIG --workdir=$WORKDIR ${EXTRA[*]:-}"
run "${G[@]}" scp --recurse "$NAME":limits/"$WORKDIR" "$(dirname "$WORKDIR")/" "${P[@]}" --worker=0
