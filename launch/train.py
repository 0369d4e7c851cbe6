r"""Train one experiment, evaluate it over lengths, write results and plots.

  python -m launch.train                                   # the default experiment
  python -m launch.train --config=configs/parity.py:smoke --workdir=/tmp/p
  python -m launch.train --config.model.heads=2 --config.train.steps=500

Rerunning the same command resumes from the workdir's latest checkpoint.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags
from ml_collections import config_flags

from launch import common

DEFAULT_CONFIG = "configs/parity.py"
_CONFIG = config_flags.DEFINE_config_file(
    "config", os.path.join(common.REPO, DEFAULT_CONFIG),
    "Config file, optionally with a variant: configs/parity.py:smoke.")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Output directory (default: workdir/<config>[_<variant>]).")


def default_workdir(config_arg: str) -> str:
  path, _, variant = config_arg.partition(":")
  name = os.path.splitext(os.path.basename(path))[0]
  return os.path.join("workdir", f"{name}_{variant}" if variant else name)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  from limits import config as config_lib  # after flag parsing: keeps --help fast
  from limits import experiment, results

  exp = common.user_errors(lambda: config_lib.validate(_CONFIG.value))
  config_arg = flags.FLAGS["config"].serialize().partition("=")[2] or DEFAULT_CONFIG
  workdir = _WORKDIR.value or default_workdir(config_arg)
  print(f"workdir: {os.path.abspath(workdir)}", flush=True)
  from limits import checkpoint
  common.user_errors(lambda: checkpoint.check_or_write_config(workdir, exp.to_dict(), write=False))

  rows = experiment.run(exp, workdir, log=lambda s: print(s, flush=True))
  members = exp.members
  print()
  print(f"{exp.data.language} {exp.data.task}, {exp.model.kind} ({exp.model.attention} attention, "
        f"width {exp.model.width}), {len(members)} member{'s' if len(members) > 1 else ''}:")
  if len(members) == 1:
    print(results.format_table(rows, ("length", "accuracy", "xent_bits", "optimal_xent_bits",
                                      "chance_xent_bits"), max_rows=25))
    if len(rows) > 25:
      print(f"(a selection of the {len(rows)} lengths; all are in results.csv)")
  else:
    table = results.summary(rows)
    print(results.format_table(table, ("train_length", "depth", "heads", "members",
                                       "mean_ood_accuracy", "best_ood_accuracy", "diverged")))
    print("(accuracy: mean over evaluated lengths beyond each member's training lengths; "
          "mean and best over seeds and learning rates)")
  print(f"results: {os.path.join(workdir, 'results.csv')}")
  print(f"plots:   {os.path.join(workdir, 'plots')}/")
  diverged = sorted({r["member"] for r in rows if r["diverged"]})
  if diverged:
    print(f"{len(diverged)} of {len(members)} members diverged (NaN/Inf): {diverged}; "
          f"their rows are marked diverged=1")
    sys.exit(3)


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
