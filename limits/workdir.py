"""The workdir around a run's checkpoints: its config fingerprint, its lock, and the
checks made before training.

`workdir/config.json` records the experiment; a workdir holding another config's run
refuses to resume (ValueError naming the first differing fields), so nothing saved is
overwritten by a different experiment. `WorkdirLock` keeps one writer per workdir;
`check_writable` and `check_space` refuse a workdir that cannot hold the run
(`WorkdirError`). The checkpoints themselves: `limits.checkpoint`, which re-exports
its public names.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import jax
import numpy as np

from limits import atomic

CONFIG_FILE = "config.json"


class WorkdirError(ValueError):
  """The workdir cannot hold this run (unwritable, too little space, every checkpoint
  damaged); found before training, so `launch/` reports it like a bad flag (exit 2)."""


def _one_line(e: BaseException) -> str:
  """The first line of an error (tensorstore appends a many-line spec), kept short."""
  lines = [l.strip() for l in str(e).splitlines() if l.strip()]
  text = lines[0].split(" See full TensorStore details")[0] if lines else type(e).__name__
  return text if len(text) <= 160 else text[:157] + "..."


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
