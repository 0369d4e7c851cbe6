"""One experiment end to end: train (resuming if possible), checkpoint, evaluate, write.

`run(exp, workdir)` is what `python -m launch.train` calls, and what a notebook calls.
Workdir layout: config.json, metrics.jsonl, tensorboard/ (its hparams/: one HParams session
per member, `limits.hparams`), checkpoints/, results.csv, plots/*.png. Only process 0
writes files other than checkpoints.

Faults: SIGTERM (preemption) during training saves a checkpoint after the current step
and raises `Preempted`; a damaged latest checkpoint is reported and the previous one used
(moved aside into `damaged_checkpoints/`); before anything is written the workdir must
accept a file and have room for the checkpoints (`checkpoint.WorkdirError`); a failing
write raises `checkpoint.WriteError` (an OSError).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from typing import Any, Callable, Iterator

import jax
import ml_collections

from limits import checkpoint, evaluate, hparams, parallel, plots, results
from limits import config as config_lib
from limits import progress as progress_lib
from limits import setup as setup_lib
from limits import train as train_lib


def run(exp: config_lib.Experiment, workdir: str, log: Callable[[str], None] = print,
        stop_after: int | None = None) -> list[dict[str, Any]]:
  """Trains `exp` in `workdir` (resuming from its latest checkpoint) and evaluates it.

  Returns the result rows (one per evaluated length). `stop_after` ends training after
  that step without evaluating (tests use it to simulate an interrupted run).
  Raises ValueError if `workdir` holds a different config's run.
  """
  is_main = jax.process_index() == 0
  checkpoint.check_or_write_config(workdir, exp.to_dict(), write=False)  # refuse before writing
  if is_main:
    checkpoint.check_writable(workdir)
  # One writer per workdir (process 0 of a multi-process run stands for all of them).
  lock = checkpoint.WorkdirLock(workdir)
  if is_main:
    lock.acquire()
  try:
    if len(exp.parts()) > 1:
      return _run_parts(exp, workdir, log, stop_after, is_main)
    return _run_locked(exp, workdir, log, stop_after, is_main)
  finally:
    lock.release()


def _run_parts(exp: config_lib.Experiment, workdir: str, log: Callable[[str], None],
               stop_after: int | None, is_main: bool) -> list[dict[str, Any]]:
  """`sweep.kinds`: each kind's population trained and evaluated in `workdir/<kind>/` (a
  workdir of its own, which every entry point reads), one after another on the same
  batches; their rows joined, members numbered on, into `workdir/results.csv` and plots."""
  if is_main:
    checkpoint.check_or_write_config(workdir, exp.to_dict())
  rows: list[dict[str, Any]] = []
  for name, part in exp.parts():
    sub = os.path.join(workdir, name)
    log(f"{name}: {len(part.members)} member{'s' if len(part.members) > 1 else ''} in "
        f"{sub}")
    part_rows = run(part, sub, log=log, stop_after=stop_after)
    release_training_memory()          # its evaluation programs, before the next part
    offset = 1 + max((r["member"] for r in rows), default=-1)
    rows += [{**r, "member": r["member"] + offset} for r in part_rows]
  if stop_after is not None or not rows:
    return rows
  if is_main:
    results.write_csv(os.path.join(workdir, "results.csv"), rows)
    plots.length_curves(rows, os.path.join(workdir, "plots"),
                        f"{exp.data.language} {exp.data.task}")
  return rows


def _run_locked(exp: config_lib.Experiment, workdir: str, log: Callable[[str], None],
                stop_after: int | None, is_main: bool) -> list[dict[str, Any]]:
  setup = setup_lib.make_setup(exp)
  state = setup_lib.init_state(setup)
  if is_main:
    checkpoint.check_space(workdir, state, exp.train.keep_checkpoints)
  checkpoint.check_or_write_config(workdir, exp.to_dict(), write=is_main)
  mngr = checkpoint.manager(workdir, exp.train.keep_checkpoints)
  try:
    restored = checkpoint.restore_latest(mngr, state,
                                         quarantine=os.path.join(workdir, checkpoint.DAMAGED_DIR))
    if restored is not None:
      state = restored
      log(f"resumed from {workdir}/checkpoints at step {int(state.step)}")
    elif os.path.isdir(os.path.join(workdir, checkpoint.DAMAGED_DIR)):
      log(f"no intact checkpoint (the damaged ones are in {workdir}/"
          f"{checkpoint.DAMAGED_DIR}): training starts over at step 0")
    start = int(state.step)
    metrics_log = results.MetricsLog(os.path.join(workdir, "metrics.jsonl"), start) if is_main else None
    tb = _tensorboard(workdir) if is_main else None
    progress = progress_lib.Progress(start, exp.train.steps)

    def on_metrics(step: int, m: dict[str, list[float]]) -> None:
      if metrics_log is not None:
        metrics_log.write(step, {**m, "steps_per_sec": progress.rate(step)})
      if tb is not None:
        for k, values in m.items():
          for i, v in enumerate(values):
            if not math.isfinite(v):
              continue  # a diverged member: marked in metrics.jsonl; tensorboardX would warn
            tb.add_scalar(f"train/{k}" if len(values) == 1 else f"member_{i}/{k}", v, step)
      log(progress.line(step, m))

    def on_step(step: int, st: setup_lib.TrainState) -> None:
      if step % exp.train.checkpoint_every == 0:
        checkpoint.save(mngr, step, st)
      if sigterm.is_set():
        if mngr.latest_step() != step:
          checkpoint.save(mngr, step, st, force=True)
        raise Preempted(step, workdir)
      if stop_after is not None and step >= stop_after:
        raise _Stop()

    with _catch_sigterm() as sigterm:
      try:
        state = train_lib.train_loop(setup, state, on_metrics=on_metrics, on_step=on_step)
      except _Stop:
        return []
      finally:
        if tb is not None:
          tb.close()
      if mngr.latest_step() != int(state.step):
        checkpoint.save(mngr, int(state.step), state, force=True)
    # From here SIGTERM kills at once: the final checkpoint is on disk and results.csv is
    # written atomically, so a rerun only re-evaluates.
  finally:
    mngr.close()

  release_training_memory()
  rows = evaluate_and_write(setup, state, workdir, log=log)[0]
  if is_main:
    try:
      hparams.write(os.path.join(workdir, "tensorboard"), setup.exp, setup.members, rows,
                    int(state.step))
    except OSError as e:  # derived from results.csv, already written: warn, do not fail
      log(f"warning: TensorBoard HParams not written ({e.strerror or e})")
  return rows


def release_training_memory() -> None:
  """Drops the training programs and returns freed heap to the OS before evaluation, so
  the run's peak is the larger phase, not their sum (the default sweep: training alone
  peaked at 1.2 GB resident, evaluation alone at 1.6 GB, one after the other at 2.8 GB)."""
  import ctypes
  import gc
  jax.clear_caches()
  gc.collect()
  try:
    ctypes.CDLL("libc.so.6").malloc_trim(0)   # glibc keeps freed pages otherwise
  except (OSError, AttributeError):
    pass                                      # another libc, or not Linux


def evaluate_and_write(setup: setup_lib.Setup, state: setup_lib.TrainState, outdir: str,
                       title: str | None = None, log: Callable[[str], None] | None = None
                       ) -> tuple[list[dict[str, Any]], int]:
  """Evaluates every member over `data.eval_lengths` (progress lines to `log`); process 0
  writes results.csv and plots to `outdir`. Returns (rows, number of compiled evaluation
  programs)."""
  exp = setup.exp
  evaluator = evaluate.Evaluator(setup, log=log if parallel.is_main() else None)
  per_member = evaluator(state.params)
  rows = results.result_rows(exp, int(state.step), setup.members, per_member,
                             [int(x) for x in parallel.fetch(state.diverged_step_M)],
                             None if state.stopped_step_M is None else
                             [int(x) for x in parallel.fetch(state.stopped_step_M)])
  if parallel.is_main():
    results.write_csv(os.path.join(outdir, "results.csv"), rows)
    plots.length_curves(rows, os.path.join(outdir, "plots"), title or run_title(setup))
  return rows, evaluator.num_programs


def run_title(setup: setup_lib.Setup) -> str:
  """The plots' title: language and task, and a single member's own depth and heads
  (which `sweep.depths`/`sweep.heads` may set instead of `model.*`)."""
  exp = setup.exp
  title = f"{exp.data.language} {exp.data.task}"
  if len(setup.members) == 1:
    mem = setup.members[0]
    title += f": depth {mem.depth}, heads {mem.heads}"
  return title


class _Stop(Exception):
  pass


class Preempted(Exception):
  """Training stopped by SIGTERM after saving a checkpoint at `step`; rerun to resume."""

  def __init__(self, step: int, workdir: str):
    super().__init__(f"preempted (SIGTERM) at step {step}: checkpoint saved in "
                     f"{workdir}/checkpoints; rerun the same command to resume")
    self.step = step


@contextlib.contextmanager
def _catch_sigterm() -> Iterator[threading.Event]:
  """An event set by SIGTERM while the block runs (the training loop checks it after
  every step). Outside the main thread (where handlers cannot be installed) it never
  fires and SIGTERM keeps its previous meaning."""
  event = threading.Event()
  if threading.current_thread() is not threading.main_thread():
    yield event
    return
  previous = signal.signal(signal.SIGTERM, lambda signum, frame: event.set())
  try:
    yield event
  finally:
    signal.signal(signal.SIGTERM, previous)


def _tensorboard(workdir: str) -> "_Board":
  from tensorboardX import SummaryWriter  # imported lazily: only process 0 writes
  return _Board(SummaryWriter(os.path.join(workdir, "tensorboard")))


class _Board:
  """A SummaryWriter whose write failures (a full disk) stop it quietly instead of hiding
  the run's own error under tracebacks: its events only copy metrics.jsonl."""

  def __init__(self, writer):
    self.writer = writer

  def add_scalar(self, *args) -> None:
    if self.writer is not None:
      try:
        self.writer.add_scalar(*args)
      except OSError:
        self._drop()

  def close(self) -> None:
    if self.writer is not None:
      try:
        self.writer.close()
        self.writer = None
      except OSError:
        self._drop()

  def _drop(self) -> None:
    ew = getattr(getattr(self.writer, "file_writer", None), "event_writer", None)
    self.writer = None
    if ew is not None and not getattr(ew, "_closed", True):
      ew._closed = True  # else tensorboardX retries the failing flush at exit
      try:
        ew._worker.stop()
      except Exception:  # noqa: BLE001  best effort: the worker may be gone already
        pass


def load_config(workdir: str, overrides: dict[str, dict[str, Any]] | None = None
                ) -> config_lib.Experiment:
  """The workdir's validated Experiment with `overrides` applied (no checkpoint read)."""
  raw = checkpoint.read_config(workdir)
  for section, fields in (overrides or {}).items():
    raw.setdefault(section, {}).update(fields)
  return config_lib.validate(ml_collections.ConfigDict(raw))


def load(workdir: str, overrides: dict[str, dict[str, Any]] | None = None
         ) -> tuple[setup_lib.Setup, setup_lib.TrainState]:
  """(Setup, TrainState) of a trained or constructed workdir, at its latest intact step:
  the one way a workdir becomes a model and its state.

  `overrides` (e.g. {"model": {"attention": "hard_average"}}) change fields that leave
  the parameter tree unchanged, such as evaluating a soft checkpoint with hard attention.
  ValueError if the workdir has no config or no checkpoint.
  """
  exp = load_config(workdir, overrides)
  setup = setup_lib.make_setup(exp)
  like = setup_lib.init_state(setup, jax.random.key(0))
  if not os.path.isdir(os.path.join(workdir, "checkpoints")):
    raise ValueError(f"--workdir: {workdir} has a config but no checkpoint yet")
  mngr = checkpoint.manager(workdir, exp.train.keep_checkpoints, read_only=True)
  try:
    state = checkpoint.restore_latest(mngr, like)
  finally:
    mngr.close()
  if state is None:
    raise ValueError(f"--workdir: {workdir} has a config but no checkpoint yet")
  return setup, state
