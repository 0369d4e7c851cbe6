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

import json
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


def summary_lines(result: dict) -> list[str]:
  """One line per member: the numbers a person wants to see first."""
  lines = []
  for m in result["members"]:
    who = f"member {m['member']} (L={m['depth']} H={m['heads']} {m['kind']} {m['attention']})"
    if result["probe"] == "sensitivity":
      ci = m.get("slope_ci")
      ci_s = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
      slope = f"{m['slope']:.3f}" if m["slope"] is not None else "none (no change)"
      last = m["per_n"][-1]
      b = last.get("bound")
      tight = last.get("tightness")
      lines.append(f"{who}: slope {slope}{ci_s}; n*change trend {m.get('n_change_trend')}; "
                   f"at n={last['n']} change mean {last['mean_change']:.3g} max "
                   f"{last['max_change']:.3g}, bound {b if b is None else f'{b:.3g}'}"
                   + (f" (bound/measured {tight:.3g})" if tight else "")
                   + (f" ({m['bound_note']})" if m["bound_note"] else ""))
    elif result["probe"] == "restriction":
      lines.append(f"{who}: influential model/language/free, subcube error, verdict " + "; ".join(
          f"n={r['n']}: {r['influential']}/{r['language_influential']}/{r['free']}, "
          f"{r['subcube_error']:.3f}, {r['verdict']}" for r in m["per_n"]))
    elif result["probe"] == "xent":
      lines.append(f"{who}: xent_last - optimal " + ", ".join(
          f"n={r['n']}: {r['excess_last_bits']:.3f}" for r in m["per_n"]))
    elif result["probe"] == "function_sensitivity":
      lines.append(f"{who}: sharpness {m['sharpness_bits']:.4f} bits; avg sensitivity " + ", ".join(
          f"n={r['n']}: {r['avg_sensitivity']:.2f}" for r in m["per_n"]))
    elif result["probe"] == "attention":
      lines.append(f"{who}: normalized entropy " + ", ".join(
          f"n={r['n']}: {r['mean_normalized_entropy']:.3f}" for r in m["per_n"]) if m["per_n"]
          else f"{who}: {m.get('note', '')}")
  return lines


def write(result: dict, outdir: str, name: str) -> list[str]:
  """NAME.json, NAME.csv and the figures into outdir; returns the paths."""
  import csv
  from limits import atomic
  from limits.probes import common as probe_common, figures
  os.makedirs(outdir, exist_ok=True)
  path = os.path.join(outdir, f"{name}.json")
  atomic.write_text(path, json.dumps(probe_common.jsonable(result), indent=1))
  rows = probe_common.jsonable(probe_common.rows(result))
  flat = [{k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()}
          for r in rows]
  csv_path = os.path.join(outdir, f"{name}.csv")
  columns = list(dict.fromkeys(k for r in flat for k in r))
  with atomic.atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=columns)
    w.writeheader()
    w.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in flat)
  return [path, csv_path] + figures.draw(result, outdir, name)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  if not _WORKDIR.value or not _PROBE.value:
    common.fail("--workdir and --probe are required")
  import jax
  from limits import probes

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
      paths = write(result, out, _PROBE.value)
    except OSError as e:
      common.fail(common.os_error_line(e), status=common.WRITE_FAILED)
    for line in summary_lines(result):
      print(line)
    print(f"analysis: {paths[0]}")


if __name__ == "__main__":
  app.run(main, flags_parser=parse)
