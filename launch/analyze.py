r"""Run a probe (limits/probes) on every member of a trained, constructed or fresh model.

  python -m launch.analyze --workdir=workdir/parity --probe=sensitivity
  python -m launch.analyze --workdir=workdir/hard_one --probe=restriction --probe.max_length=256
  python -m launch.analyze --config=configs/parity.py:smoke --init --workdir=/tmp/init \
      --probe=sensitivity --probe.max_length=1024

Writes `DIR/analysis/NAME.json` (all data), `DIR/analysis/NAME.csv` (one row per member x
n) and `DIR/analysis/NAME*.png`, and prints a per-member summary. Probes: sensitivity,
xent, restriction, function_sensitivity, attention; `--probe.<field>=value` sets any
field of the probe's config (unknown fields and bad values: one line, exit status 2).
`--init` analyses freshly initialised parameters of `--config` (each member from its own
seed) instead of a checkpoint; nothing but `analysis/` is written then.
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

import os

from absl import app, flags
from ml_collections import config_flags

from launch import common

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained/constructed workdir (or output dir with --init).")
_PROBE = flags.DEFINE_string("probe", None, "Probe name: sensitivity, xent, restriction, "
                             "function_sensitivity, attention.")
_INIT = flags.DEFINE_bool("init", False, "Analyse freshly initialised parameters of --config.")
_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (with --init).",
                                          lock_config=False)
_OUT = flags.DEFINE_string("out", None, "Output directory (default: DIR/analysis).")


def split_probe_fields(argv: list[str]) -> tuple[list[str], dict[str, str]]:
  """Separates `--probe.<field>=value` arguments (absl cannot declare them in advance)."""
  rest, fields = [], {}
  for a in argv:
    if a.startswith("--probe."):
      key, eq, value = a[len("--probe."):].partition("=")
      if not eq or not key:
        common.fail(f"{a}: write probe fields as --probe.<field>=value")
      fields[key] = value
    else:
      rest.append(a)
  return rest, fields


FIELDS: dict[str, str] = {}


def parse(argv: list[str]) -> list[str]:
  rest, fields = split_probe_fields(argv)
  FIELDS.update(fields)
  return common.parse_flags(rest)


def load(workdir: str, init: bool):
  """(setup, params_M, step) of the workdir's checkpoint or of a fresh init of --config."""
  from limits import config as config_lib, experiment
  from limits import setup as setup_lib
  if init:
    if _CONFIG.value is None:
      common.fail("--init needs --config=FILE[:variant]")
    exp = common.user_errors(lambda: config_lib.validate(_CONFIG.value))
    setup = setup_lib.make_setup(exp)
    return setup, setup_lib.init_state(setup).params, 0
  setup, state = common.user_errors(lambda: experiment.load(workdir))
  return setup, state.params, int(state.step)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  if not _WORKDIR.value or not _PROBE.value:
    common.fail("--workdir and --probe are required")
  import jax
  from limits import probes
  from limits.probes import report

  cfg = common.user_errors(lambda: probes.make_config(_PROBE.value, FIELDS))
  out = _OUT.value if _OUT.value is not None else os.path.join(_WORKDIR.value, "analysis")
  if _INIT.value and os.path.exists(_WORKDIR.value) and not os.path.isdir(_WORKDIR.value):
    common.fail(f"--workdir: {_WORKDIR.value} is a file, not a directory")
  setup, params_M, step = load(_WORKDIR.value, _INIT.value)
  if jax.process_index() == 0:  # before the probe runs: a bad --out costs nothing
    common.writable_dir(out, "--out" if _OUT.value is not None else "--workdir")
  result = common.user_errors(lambda: probes.PROBES[_PROBE.value].run(setup, params_M, cfg))
  result.update(workdir=os.path.abspath(_WORKDIR.value), step=step, init=bool(_INIT.value))
  if jax.process_index() == 0:
    try:
      paths = report.write(result, out, _PROBE.value)
    except OSError as e:
      common.fail(common.os_error_line(e), status=common.WRITE_FAILED)
    for line in report.summary_lines(result):
      print(line)
    print(f"analysis: {paths[0]}")


if __name__ == "__main__":
  app.run(main, flags_parser=parse)
