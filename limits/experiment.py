"""One experiment end to end: train (resuming if possible), checkpoint, evaluate, write.

`run(exp, workdir)` is what `python -m launch.train` calls, and what a notebook calls.
Workdir layout: config.json, metrics.jsonl, tensorboard/, checkpoints/, results.csv,
plots/*.png. Only process 0 writes files other than checkpoints.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import jax

from limits import checkpoint, evaluate, plots, results
from limits import config as config_lib
from limits import train as train_lib


def run(exp: config_lib.Experiment, workdir: str, log: Callable[[str], None] = print,
        stop_after: int | None = None) -> list[dict[str, Any]]:
  """Trains `exp` in `workdir` (resuming from its latest checkpoint) and evaluates it.

  Returns the result rows (one per evaluated length). `stop_after` ends training after
  that step without evaluating (tests use it to simulate an interrupted run).
  Raises ValueError if `workdir` holds a different config's run.
  """
  is_main = jax.process_index() == 0
  checkpoint.check_or_write_config(workdir, exp.to_dict(), write=is_main)
  setup = train_lib.make_setup(exp)
  k_init, k_train = jax.random.split(jax.random.key(exp.train.seed))
  state = train_lib.init_state(setup, k_init)
  mngr = checkpoint.manager(workdir, exp.train.keep_checkpoints)
  try:
    restored = checkpoint.restore_latest(mngr, state)
    if restored is not None:
      state = restored
      log(f"resumed from {workdir}/checkpoints at step {int(state.step)}")
    start = int(state.step)
    metrics_log = results.MetricsLog(os.path.join(workdir, "metrics.jsonl"), start) if is_main else None
    tb = _tensorboard(workdir) if is_main else None
    progress = train_lib.Progress(start, exp.train.steps)

    def on_metrics(step: int, m: dict[str, float]) -> None:
      m = {**m, "steps_per_sec": progress.rate(step)}
      if metrics_log is not None:
        metrics_log.write(step, m)
      if tb is not None:
        for k, v in m.items():
          tb.add_scalar(f"train/{k}", v, step)
      log(progress.line(step, m))

    def on_step(step: int, st: train_lib.TrainState) -> None:
      if step % exp.train.checkpoint_every == 0:
        checkpoint.save(mngr, step, st)
      if stop_after is not None and step >= stop_after:
        raise _Stop()

    try:
      state = train_lib.train_loop(setup, state, k_train, on_metrics=on_metrics, on_step=on_step)
    except _Stop:
      return []
    finally:
      if tb is not None:
        tb.close()
    if mngr.latest_step() != int(state.step):
      checkpoint.save(mngr, int(state.step), state, force=True)
    mngr.wait_until_finished()
  finally:
    mngr.close()

  per_length = evaluate.Evaluator(setup)(state.params)
  rows = results.result_rows(exp, int(state.step), per_length)
  if is_main:
    results.write_csv(os.path.join(workdir, "results.csv"), rows)
    title = f"{exp.data.language} {exp.data.task}: depth {exp.model.depth}, heads {exp.model.heads}"
    plots.length_curves(rows, exp.data.train_lengths, os.path.join(workdir, "plots"), title)
  return rows


class _Stop(Exception):
  pass


def _tensorboard(workdir: str):
  from tensorboardX import SummaryWriter  # imported lazily: only process 0 writes
  return SummaryWriter(os.path.join(workdir, "tensorboard"))
