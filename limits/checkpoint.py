"""Checkpoints with orbax `CheckpointManager`, and the workdir's config fingerprint.

`workdir/config.json` records the experiment; a workdir holding another config's run
refuses to resume (ValueError naming the first differing fields), so nothing saved is
overwritten by a different experiment.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import orbax.checkpoint as ocp

CONFIG_FILE = "config.json"


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(d, dict):
    out: dict[str, Any] = {}
    for k, v in d.items():
      out.update(_flatten(v, f"{prefix}{k}."))
    return out
  return {prefix[:-1]: list(d) if isinstance(d, tuple) else d}


def check_or_write_config(workdir: str, config: dict[str, Any], write: bool = True) -> bool:
  """Returns True if `workdir` already holds this config; raises if it holds another.

  Writes `config.json` when the workdir has none (and `write`).
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
    if diff:
      shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in diff[:3])
      raise ValueError(f"workdir {workdir} holds a run of a different config ({shown}"
                       f"{', ...' if len(diff) > 3 else ''}); use a new --workdir or the same config")
    return True
  if write:
    os.makedirs(workdir, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      json.dump(fresh, f, indent=2, sort_keys=True)
    os.replace(tmp, path)
  return False


def manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  """CheckpointManager over `workdir/checkpoints` keeping the last `keep` steps.

  Callers decide when to save (every `train.checkpoint_every` steps and at the end).
  """
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
  return ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, "checkpoints")),
                               options=options)


def save(mngr: ocp.CheckpointManager, step: int, state: Any, force: bool = False) -> bool:
  return mngr.save(step, args=ocp.args.StandardSave(state), force=force)


def restore_latest(mngr: ocp.CheckpointManager, like: Any) -> Any | None:
  """The latest saved state with the structure of `like`, or None if there is none."""
  step = mngr.latest_step()
  if step is None:
    return None
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
  return mngr.restore(step, args=ocp.args.StandardRestore(abstract))


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


def load_workdir(workdir: str, overrides: dict[str, dict[str, Any]] | None = None):
  """(Experiment, TrainState) of a trained or constructed workdir, at its latest step.

  `overrides` (e.g. {"model": {"attention": "hard_average"}}) change fields that leave
  the parameter tree unchanged, such as evaluating a soft checkpoint with hard attention.
  ValueError if the workdir has no config or no checkpoint.
  """
  import ml_collections  # local: keeps this module's import light

  from limits import config as config_lib
  from limits import train as train_lib

  raw = read_config(workdir)
  for section, fields in (overrides or {}).items():
    raw.setdefault(section, {}).update(fields)
  exp = config_lib.validate(ml_collections.ConfigDict(raw))
  setup = train_lib.make_setup(exp)
  like = train_lib.init_state(setup, jax.random.key(0))
  mngr = manager(workdir, exp.train.keep_checkpoints)
  try:
    state = restore_latest(mngr, like)
  finally:
    mngr.close()
  if state is None:
    raise ValueError(f"--workdir: {workdir} has a config but no checkpoint yet")
  return exp, state
