"""Checkpoints with orbax `CheckpointManager`: saves with a digest, restores that skip
damaged steps.

Faults (tests/test_reliability.py): orbax writes a step into a temporary directory and
renames it when complete, so a kill mid-save never leaves a loadable half checkpoint.
After the rename, `save` writes `checkpoints/<step>/state.sha256`, a digest of the saved
state; `restore_latest` recomputes it, and a step that fails to restore or does not match
(truncated, corrupted, or silently wrong files) is reported in one line and skipped for
the previous step. A step without a digest (killed between the rename and the digest)
is trusted: orbax's rename already made it complete. A failed write raises `WriteError`
(an OSError) after removing what it had written.

The workdir's config fingerprint, lock and checks before training live in
`limits.workdir`; their names are re-exported here.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sys
from typing import Any, Callable

import jax
import numpy as np
import orbax.checkpoint as ocp

from limits import atomic, parallel
from limits.workdir import (CONFIG_FILE, HISTORY_FILE, SAFE_TO_CHANGE, WorkdirError,
                            WorkdirLock, _one_line, check_or_write_config, check_space,
                            check_writable, has_checkpoint, latest_checkpoint_step,
                            read_config, state_bytes)

DIGEST_FILE = "state.sha256"
DAMAGED_DIR = "damaged_checkpoints"


class WriteError(OSError):
  """A write into the workdir failed during the run (e.g. disk full); nothing partial
  is left behind."""


def _os_error(e: BaseException) -> tuple[int, str] | None:
  """(errno, strerror) of the OS error inside a tensorstore/orbax error, if it names one
  (tensorstore writes `[os_error_code='27']`)."""
  code = getattr(e, "errno", None)
  if not code:
    m = re.search(r"os_error_code='?(\d+)", str(e))
    code = int(m.group(1)) if m else (errno.ENOSPC if "No space left" in str(e) else None)
  return (code, os.strerror(code)) if code else None


class _DropOrbaxErrors(logging.Filter):
  """Drops orbax's own ERROR logs (each with a traceback) while a save runs: the failure
  reaches `save` as an exception and is reported once, as one line."""

  def filter(self, record: logging.LogRecord) -> bool:
    return not (record.levelno >= logging.ERROR
                and "/orbax/" in record.pathname.replace(os.sep, "/"))


@contextlib.contextmanager
def _quiet_orbax_errors():
  """While a save runs: orbax's ERROR logs are dropped, and what reaches sys.stderr (the
  tracebacks tensorstore's callbacks print when a failed write's event loop is gone) is
  held back: written out after a save that succeeds, dropped after one that fails (its
  one-line WriteError says what happened)."""
  drop = _DropOrbaxErrors()
  targets = [logging.getLogger("absl"), *logging.getLogger().handlers,
             *logging.getLogger("absl").handlers]
  for t in targets:
    t.addFilter(drop)
  real, held = sys.stderr, io.StringIO()
  sys.stderr = held
  failed = False
  try:
    yield
  except BaseException:
    failed = True
    raise
  finally:
    sys.stderr = real
    for t in targets:
      t.removeFilter(drop)
    if not failed and held.getvalue():
      real.write(held.getvalue())
      real.flush()


def state_digest(state: Any) -> str | None:
  """sha256 over every leaf's path, dtype, shape and bytes; None on several processes
  (leaves are not fully addressable there, and the digest is skipped)."""
  if jax.process_count() > 1:
    return None
  h = hashlib.sha256()
  leaves, _ = jax.tree_util.tree_flatten_with_path(state)
  for path, leaf in leaves:
    a = np.ascontiguousarray(parallel.fetch(leaf))
    h.update(f"{jax.tree_util.keystr(path)}|{a.dtype}|{a.shape}|".encode())
    h.update(a.tobytes())
  return h.hexdigest()


def manager(workdir: str, keep: int, read_only: bool = False) -> ocp.CheckpointManager:
  """CheckpointManager over `workdir/checkpoints` keeping the last `keep` steps.

  Callers decide when to save (every `train.checkpoint_every` steps and at the end).
  Saves are synchronous, so a failed write surfaces at the save that failed and a
  preempted run has its checkpoint on disk when `save` returns. The writer removes
  temporary directories left by a run killed mid-save; `read_only` managers (predict,
  evaluate: callers never save with them) remove nothing, so they can read a workdir
  being trained.
  """
  directory = os.path.abspath(os.path.join(workdir, "checkpoints"))
  if read_only:  # (not orbax's read_only option, which logs warnings on every use)
    options = ocp.CheckpointManagerOptions(create=False)
  else:
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                           cleanup_tmp_directories=True,
                                           enable_async_checkpointing=False)
  return ocp.CheckpointManager(directory, options=options)


def _step_dir(mngr: ocp.CheckpointManager, step: int) -> str:
  return os.path.join(str(mngr.directory), str(step))


def save(mngr: ocp.CheckpointManager, step: int, state: Any, force: bool = False) -> bool:
  """Saves `state` at `step` with its digest; WriteError (nothing partial left) on failure."""
  digest = state_digest(state)
  try:
    with _quiet_orbax_errors():
      try:
        saved = mngr.save(step, args=ocp.args.StandardSave(state), force=force)
        mngr.wait_until_finished()
        if saved and digest is not None and jax.process_index() == 0:
          atomic.write_text(os.path.join(_step_dir(mngr, step), DIGEST_FILE),
                            json.dumps({"step": step, "sha256": digest}))
      except Exception:
        for tmp in glob.glob(os.path.join(str(mngr.directory), f"{step}.orbax-checkpoint-tmp*")):
          shutil.rmtree(tmp, ignore_errors=True)
        raise
  except Exception as e:
    os_error = _os_error(e)
    why = f"{os_error[1]}: {_one_line(e)}" if os_error else _one_line(e)
    raise WriteError(os_error[0] if os_error else errno.EIO,
                     f"writing checkpoint step {step} to {mngr.directory} failed ({why})") from e
  return saved


def _verify(mngr: ocp.CheckpointManager, step: int, state: Any) -> str | None:
  """Why the restored `state` of `step` does not match its digest, or None if it does."""
  path = os.path.join(_step_dir(mngr, step), DIGEST_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      expected = json.load(f)["sha256"]
  except (OSError, ValueError, KeyError, TypeError) as e:
    return f"unreadable {DIGEST_FILE}: {_one_line(e)}"
  actual = state_digest(state)
  if actual is not None and actual != expected:
    return f"sha256 of the restored state {actual[:12]} != saved {str(expected)[:12]}"
  return None


def _stderr(line: str) -> None:
  print(line, file=sys.stderr, flush=True)


def restore_latest(mngr: ocp.CheckpointManager, like: Any, warn: Callable[[str], None] = _stderr,
                   quarantine: str | None = None) -> Any | None:
  """The latest intact state with the structure of `like`, or None if there is none.

  A step that fails to restore or to match its digest is reported in one line through
  `warn` and the previous step is tried. With `quarantine` (the training run) a damaged
  step is moved into that directory, never deleted, so training can write the step anew;
  without it (readers) nothing is moved. WorkdirError if every step is damaged.
  """
  steps = sorted(mngr.all_steps(), reverse=True)
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
  for i, step in enumerate(steps):
    try:
      state = mngr.restore(step, args=ocp.args.StandardRestore(abstract))
      problem = _verify(mngr, step, state)
    except Exception as e:  # orbax/tensorstore raise many types for damaged files
      problem = _one_line(e)
    if problem is None:
      return state
    older = f"using step {steps[i + 1]}" if i + 1 < len(steps) else "no older checkpoint"
    moved = ""
    if quarantine is not None:
      dest = os.path.join(quarantine, str(step))
      n = 1
      while os.path.exists(dest):
        dest, n = os.path.join(quarantine, f"{step}.{n}"), n + 1
      os.makedirs(quarantine, exist_ok=True)
      shutil.move(_step_dir(mngr, step), dest)
      mngr.reload()
      moved = f"; moved to {dest}"
    warn(f"warning: checkpoint step {step} in {mngr.directory} is damaged ({problem}); "
         f"{older}{moved}")
  if steps:
    raise WorkdirError(f"every checkpoint in {mngr.directory} is damaged (steps "
                       f"{', '.join(map(str, steps))}); move them away to start over")
  return None
