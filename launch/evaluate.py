r"""Evaluate any workdir (trained or constructed) over a grid of lengths.

  python -m launch.evaluate --workdir=workdir/cc_parity --lengths=1-1000
  python -m launch.evaluate --workdir=workdir/parity --attention=hard_average --out=/tmp/sat

Writes `results.csv` and `plots/` into `--out` (default: the workdir) and prints the
table. Lengths default to the config's `data.eval_lengths`; they are bucketed by padded
size (`eval.bucket`), so 1000 lengths compile only a handful of programs.
`--attention` evaluates the same parameters with another attention rule (a soft
checkpoint with hard_average = saturated attention, or hard_unique).
"""

from __future__ import annotations

import os

from absl import app, flags

from launch import common

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained or constructed workdir.")
_LENGTHS = flags.DEFINE_string("lengths", None, "Lengths, e.g. 1-1000 or 1-200:5,500.")
_ATTENTION = flags.DEFINE_string("attention", None, "Override model.attention.")
_BATCH = flags.DEFINE_integer("batch_size", None, "Override eval.batch_size.")
_OUT = flags.DEFINE_string("out", None, "Output directory (default: the workdir).")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  if not _WORKDIR.value:
    common.fail("--workdir is required")

  from limits import checkpoint, experiment, results
  from limits import train as train_lib

  overrides: dict = {}
  if _ATTENTION.value:
    overrides["model"] = {"attention": _ATTENTION.value}
  if _LENGTHS.value:
    overrides["data"] = {"eval_lengths": _LENGTHS.value}
  if _BATCH.value:
    overrides["eval"] = {"batch_size": _BATCH.value}
  exp, state = common.user_errors(lambda: checkpoint.load_workdir(_WORKDIR.value, overrides))
  setup = train_lib.make_setup(exp)
  out = _OUT.value or _WORKDIR.value
  rows, programs = experiment.evaluate_and_write(
      setup, state, out, f"{exp.data.language}: {exp.model.attention} attention")
  print(results.format_table(rows, ("length", "accuracy", "xent_bits"), max_rows=25))
  worst = min(r["accuracy"] for r in rows)
  print(f"{len(rows)} rows, {programs} compiled programs, min accuracy {worst:.4f}")
  print(f"results: {os.path.join(out, 'results.csv')}")


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
