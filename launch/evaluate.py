r"""Evaluate any workdir (trained or constructed) over a grid of lengths.

  python -m launch.evaluate --workdir=workdir/cc_parity --lengths=1-1000
  python -m launch.evaluate --workdir=workdir/parity --attention=hard_average --out=/tmp/sat

Writes `results.csv`, `plots/` and `evaluated.json` (what was evaluated, from which
workdir) into `--out`, by default `WORKDIR/eval/<what>` (e.g. `eval/lengths_1-1000`,
`eval/hard_average_lengths_1-40`), so a training run's own `results.csv` is never
replaced; an `--out` holding another run (a `config.json`, or an evaluation of another
workdir) is refused; `--out=WORKDIR` writes into the run itself, as asked. Prints the
table. Lengths default to the config's `data.eval_lengths`; they are bucketed by padded
size (`eval.bucket`), so 1000 lengths compile only a handful of programs.
`--attention` evaluates the same parameters with another attention rule (a soft
checkpoint with hard_average = saturated attention, or hard_unique).
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

import json
import os
import re

from absl import app, flags

from launch import common

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained or constructed workdir.")
_LENGTHS = flags.DEFINE_string("lengths", None, "Lengths, e.g. 1-1000 or 1-200:5,500.")
_ATTENTION = flags.DEFINE_string("attention", None, "Override model.attention.")
_BATCH = flags.DEFINE_integer("batch_size", None, "Override eval.batch_size.")
_OUT = flags.DEFINE_string("out", None, "Output directory (default: WORKDIR/eval/<what>).")
_MAX_MEMORY = flags.DEFINE_string("max_memory", None, "Memory budget, e.g. 8G (default: 90% "
                                  "of the machine's).")



def default_out(workdir: str, attention: str | None, lengths: str) -> str:
  """WORKDIR/eval/<attention_>lengths_<lengths>, the name made filesystem-safe."""
  tag = (f"{attention}_" if attention else "") + f"lengths_{lengths}"
  return os.path.join(workdir, "eval", re.sub(r"[^A-Za-z0-9.+_-]+", "_", tag))


def check_out(out: str, workdir: str) -> None:
  """Refuses an output directory that belongs to another run (one line, exit 2)."""
  marker = os.path.join(out, MARKER)
  if os.path.exists(os.path.join(out, "config.json")) and (
      os.path.realpath(out) != os.path.realpath(workdir) or _OUT.value is None):
    common.fail(f"--out: {out} holds another run (its config.json); choose a new directory")
  if os.path.exists(marker):
    try:
      with open(marker) as f:
        owner = json.load(f).get("workdir")
    except (OSError, ValueError):
      owner = None
    if owner != os.path.abspath(workdir):
      common.fail(f"--out: {out} holds an evaluation of another workdir ({owner}); "
                  f"choose a new directory")


MARKER = "evaluated.json"


def _span(lengths) -> str:
  """'lo-hi' for the config's eval lengths (with ':k' for an evenly spaced grid)."""
  ls = sorted(int(n) for n in lengths)
  steps = {b - a for a, b in zip(ls, ls[1:])}
  if len(ls) == 1:
    return str(ls[0])
  return f"{ls[0]}-{ls[-1]}" + (f":{steps.pop()}" if len(steps) == 1 and 1 not in steps else
                                "" if steps == {1} else f"_{len(ls)}")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  if not _WORKDIR.value:
    common.fail("--workdir is required")
  if _BATCH.value is not None and _BATCH.value < 1:
    common.fail(f"--batch_size: must be >= 1, got {_BATCH.value}")
  if _LENGTHS.value is not None and not _LENGTHS.value.strip():
    common.fail("--lengths: empty; give lengths like 1-1000 or 1-200:5,500 (or leave it out "
                "for the config's data.eval_lengths)")

  from limits import atomic, experiment, results

  overrides: dict = {}
  if _ATTENTION.value:
    overrides["model"] = {"attention": _ATTENTION.value}
  if _LENGTHS.value:
    overrides["data"] = {"eval_lengths": _LENGTHS.value}
  if _BATCH.value:
    overrides["eval"] = {"batch_size": _BATCH.value}
  from limits import memory
  exp0 = common.user_errors(lambda: experiment.load_config(_WORKDIR.value, overrides))
  common.user_errors(lambda: memory.check_eval(exp0, memory.budget(_MAX_MEMORY.value)))
  setup, state = common.user_errors(lambda: experiment.load(_WORKDIR.value, overrides))
  exp = setup.exp
  out = _OUT.value if _OUT.value is not None else default_out(
      _WORKDIR.value, _ATTENTION.value, _LENGTHS.value or _span(exp.data.eval_lengths))
  check_out(out, _WORKDIR.value)
  common.writable_dir(out, "--out")
  title = f"{exp.data.language}: {exp.model.attention} attention"
  try:
    rows, programs = experiment.evaluate_and_write(setup, state, out, title)
    atomic.write_text(os.path.join(out, MARKER), json.dumps(
        {"workdir": os.path.abspath(_WORKDIR.value), "step": int(state.step),
         "attention": exp.model.attention, "lengths": _LENGTHS.value,
         "batch_size": _BATCH.value}, indent=1))
  except OSError as e:
    common.fail(common.os_error_line(e), status=common.WRITE_FAILED)
  print(results.format_table(rows, ("length", "accuracy", "xent_bits"), max_rows=25))
  worst = min(r["accuracy"] for r in rows)
  print(f"{len(rows)} rows, {programs} compiled programs, min accuracy {worst:.4f}")
  print(f"results: {os.path.join(out, 'results.csv')}")


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
