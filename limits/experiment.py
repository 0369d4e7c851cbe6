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
  state = train_lib.init_state(setup)
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

    def on_metrics(step: int, m: dict[str, list[float]]) -> None:
      if metrics_log is not None:
        metrics_log.write(step, {**m, "steps_per_sec": progress.rate(step)})
      if tb is not None:
        for k, values in m.items():
          for i, v in enumerate(values):
            tb.add_scalar(f"train/{k}" if len(values) == 1 else f"member_{i}/{k}", v, step)
      log(progress.line(step, m))

    def on_step(step: int, st: train_lib.TrainState) -> None:
      if step % exp.train.checkpoint_every == 0:
        checkpoint.save(mngr, step, st)
      if stop_after is not None and step >= stop_after:
        raise _Stop()

    try:
      state = train_lib.train_loop(setup, state, on_metrics=on_metrics, on_step=on_step)
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

  per_member = evaluate.Evaluator(setup)(state.params)
  rows = results.result_rows(exp, int(state.step), setup.members, per_member,
                             [int(x) for x in jax.device_get(state.diverged_step_M)])
  if is_main:
    results.write_csv(os.path.join(workdir, "results.csv"), rows)
    title = f"{exp.data.language} {exp.data.task}"
    if len(setup.members) == 1:
      title += f": depth {exp.model.depth}, heads {exp.model.heads}"
    plots.length_curves(rows, os.path.join(workdir, "plots"), title)
  return rows


class _Stop(Exception):
  pass


def _tensorboard(workdir: str):
  from tensorboardX import SummaryWriter  # imported lazily: only process 0 writes
  return SummaryWriter(os.path.join(workdir, "tensorboard"))
