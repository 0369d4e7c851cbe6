"""Checkpoints with orbax `CheckpointManager`, and the workdir's config fingerprint.

`workdir/config.json` records the experiment; a workdir holding another config's run
refuses to resume (ValueError naming the first differing fields), so nothing saved is
overwritten by a different experiment.

Faults (tests/test_reliability.py): orbax writes a step into a temporary directory and
renames it when complete, so a kill mid-save never leaves a loadable half checkpoint.
After the rename, `save` writes `checkpoints/<step>/state.sha256`, a digest of the saved
state; `restore_latest` recomputes it, and a step that fails to restore or does not match
(truncated, corrupted, or silently wrong files) is reported in one line and skipped for
the previous step. A step without a digest (killed between the rename and the digest)
is trusted: orbax's rename already made it complete. A failed write raises `WriteError`
(an OSError) after removing what it had written.
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

CONFIG_FILE = "config.json"
DIGEST_FILE = "state.sha256"
DAMAGED_DIR = "damaged_checkpoints"


class WorkdirError(ValueError):
  """The workdir cannot hold this run (unwritable, too little space, every checkpoint
  damaged); found before training, so `launch/` reports it like a bad flag (exit 2)."""


class WriteError(OSError):
  """A write into the workdir failed during the run (e.g. disk full); nothing partial
  is left behind."""


def _one_line(e: BaseException) -> str:
  """The first line of an error (tensorstore appends a many-line spec), kept short."""
  lines = [l.strip() for l in str(e).splitlines() if l.strip()]
  text = lines[0].split(" See full TensorStore details")[0] if lines else type(e).__name__
  return text if len(text) <= 160 else text[:157] + "..."


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


def check_writable(workdir: str, flag: str = "--workdir") -> None:
  """WorkdirError (naming `flag`) unless `workdir` (created if missing) accepts a file."""
  probe = os.path.join(workdir, f".write_probe_{os.getpid()}")
  try:
    os.makedirs(workdir, exist_ok=True)
    with open(probe, "w") as f:
      f.write("probe")
      f.flush()
      os.fsync(f.fileno())
  except OSError as e:
    raise WorkdirError(f"{flag}: cannot write to {workdir} ({e.strerror or _one_line(e)})") from None
  finally:
    if os.path.exists(probe):
      os.remove(probe)


def state_bytes(state: Any) -> int:
  return sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(state))


def check_space(workdir: str, state: Any, keep: int) -> None:
  """WorkdirError if the disk cannot hold `keep` + 1 checkpoints of `state`.

  (Orbax writes the new step before deleting the oldest.) A rough lower bound: a disk
  that fills up later still fails cleanly on the write, with `WriteError`.
  """
  need = state_bytes(state) * (keep + 1) + (1 << 20)
  free = shutil.disk_usage(workdir).free
  if free < need:
    raise WorkdirError(f"--workdir: {workdir} has {free / 1e6:.1f} MB free; "
                       f"{keep + 1} checkpoints of this model need about {need / 1e6:.1f} MB "
                       f"(train.keep_checkpoints={keep})")


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


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(d, dict):
    out: dict[str, Any] = {}
    for k, v in d.items():
      out.update(_flatten(v, f"{prefix}{k}."))
    return out
  return {prefix[:-1]: list(d) if isinstance(d, tuple) else d}


# Fields a rerun may change on a workdir that holds a run: training further (train.steps,
# only upwards) and how the run logs, checkpoints and is evaluated. Anything else would
# resume a different experiment from this one's parameters.
SAFE_TO_CHANGE = ("train.steps", "train.log_every", "train.checkpoint_every",
                  "train.keep_checkpoints", "eval.batch_size", "eval.bucket", "eval.group",
                  "data.eval_lengths")
HISTORY_FILE = "config_history.jsonl"


def latest_checkpoint_step(workdir: str) -> int | None:
  """The largest finished step in `workdir/checkpoints` (orbax's step directories)."""
  d = os.path.join(workdir, "checkpoints")
  steps = ([int(e) for e in os.listdir(d) if e.isdigit() and os.path.isdir(os.path.join(d, e))]
           if os.path.isdir(d) else [])
  return max(steps) if steps else None


def has_checkpoint(workdir: str) -> bool:
  return latest_checkpoint_step(workdir) is not None


def check_or_write_config(workdir: str, config: dict[str, Any], write: bool = True) -> bool:
  """Returns True if `workdir` already holds this config; raises if it holds another.

  Writes `config.json` when the workdir has none (and `write`). A config that differs only
  in `SAFE_TO_CHANGE` fields (train.steps raised: training further) is accepted and
  recorded (config.json rewritten, the change appended to config_history.jsonl). A
  workdir whose config has no checkpoint at all (the run died before its first save)
  takes the new config: nothing of the old run is left to protect.
  """
  path = os.path.join(workdir, CONFIG_FILE)
  fresh = json.loads(json.dumps(config))
  if os.path.exists(path):
    with open(path) as f:
      try:
        old = json.load(f)
      except json.JSONDecodeError:
        raise ValueError(f"{path} is not valid JSON; move it away or use a new --workdir") from None
    a, b = _flatten(old), _flatten(fresh)
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if not diff:
      return True
    unsafe = [k for k in diff if k not in SAFE_TO_CHANGE]
    if not has_checkpoint(workdir):
      if write:
        _record(workdir, path, fresh, {k: [a.get(k), b.get(k)] for k in diff},
                "no checkpoint: the earlier run left nothing to resume")
      return False
    if unsafe:
      shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in unsafe[:3])
      raise ValueError(f"workdir {workdir} holds a run of a different config ({shown}"
                       f"{', ...' if len(unsafe) > 3 else ''}); use a new --workdir or the same "
                       f"config (to train further, raise train.steps only)")
    if "train.steps" in diff:
      at = latest_checkpoint_step(workdir) or 0
      if int(b["train.steps"]) < at:
        raise ValueError(f"train.steps: the run in {workdir} is already at step {at}; it can "
                         f"be raised (training further), not lowered to {b['train.steps']}")
    if write:
      _record(workdir, path, fresh, {k: [a.get(k), b.get(k)] for k in diff}, "safe change")
    return True
  if write:
    os.makedirs(workdir, exist_ok=True)
    atomic.write_text(path, json.dumps(fresh, indent=2, sort_keys=True))
  return False


def _record(workdir: str, path: str, fresh: dict, changed: dict, why: str) -> None:
  """Rewrites config.json and appends what changed to config_history.jsonl."""
  import time
  line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "why": why,
                     "changed": changed}, sort_keys=True)
  with open(os.path.join(workdir, HISTORY_FILE), "a") as f:
    f.write(line + "\n")
  atomic.write_text(path, json.dumps(fresh, indent=2, sort_keys=True))


class WorkdirLock:
  """`workdir/.lock` held by one writer: pid, host and start time inside.

  Taken with O_EXCL, so two `launch.train` processes on one workdir cannot both write.
  A lock whose holder is on this host and no longer running is stale (a killed run) and
  is taken over; a lock from another host cannot be checked and is refused with what to
  do. `WorkdirError` (one line, exit 2 from launch) when the workdir is held.
  """

  NAME = ".lock"

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, self.NAME)
    self.held = False

  def _holder(self) -> dict[str, Any]:
    try:
      with open(self.path) as f:
        return json.load(f)
    except (OSError, ValueError):
      return {}

  def acquire(self) -> "WorkdirLock":
    import socket
    import time
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
    for _ in range(2):
      try:
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
      except FileExistsError:
        h = self._holder()
        stale = h.get("host") == me["host"] and not _alive(h.get("pid"))
        if not h or stale:  # unreadable (killed mid-write) or its process is gone
          try:
            os.remove(self.path)
          except FileNotFoundError:
            pass
          continue
        raise WorkdirError(f"--workdir: {os.path.dirname(self.path)} is in use by pid "
                         f"{h.get('pid')} on {h.get('host')} since {h.get('since')}; wait for "
                         f"it, or delete {self.path} if that run is gone") from None
      with os.fdopen(fd, "w") as f:
        json.dump(me, f)
      self.held = True
      return self
    raise WorkdirError(f"--workdir: cannot take the lock {self.path}; delete it if no run "
                       f"uses it")

  def release(self) -> None:
    if self.held:
      try:
        os.remove(self.path)
      except FileNotFoundError:
        pass
      self.held = False

  def __enter__(self) -> "WorkdirLock":
    return self.acquire()

  def __exit__(self, *exc) -> None:
    self.release()


def _alive(pid: Any) -> bool:
  try:
    os.kill(int(pid), 0)
  except (TypeError, ValueError, ProcessLookupError):
    return False
  except PermissionError:  # exists, owned by someone else
    return True
  return True


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


def read_config(workdir: str) -> dict[str, Any]:
  """The workdir's `config.json` as a dict; ValueError if missing or unreadable."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise ValueError(f"--workdir: {workdir} has no {CONFIG_FILE} (not a run or construction)")
  with open(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError:
      raise ValueError(f"{path} is not valid JSON") from None
