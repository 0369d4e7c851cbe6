r"""Train one experiment, evaluate it over lengths, write results and plots.

  python -m launch.train                                   # the default: configs/sweep.py
  python -m launch.train --config=configs/parity.py:smoke --workdir=/tmp/p
  python -m launch.train --config=configs/parity.py --config.model.heads=2 --config.train.steps=500
  python -m launch.train --validate_only --config=configs/sweep.py:paper   # check only: exit 0 or 2

Rerunning the same command resumes from the workdir's latest checkpoint (a damaged one is
reported in one line and the previous one used).

Exit status: 0 done; 2 bad input or an unusable workdir (unwritable, too little space,
every checkpoint damaged), found before training; 3 done, but some members diverged
(NaN/Inf; they are marked in results.csv); 74 a write failed during the run (e.g. disk
full; nothing partial is left); 143 preempted by SIGTERM after saving a checkpoint
(rerun to resume). Every failure is one line `error: ...` on stderr.
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

import os
import sys

from absl import app, flags
from ml_collections import config_flags

from launch import common

DEFAULT_CONFIG = "configs/sweep.py"
DIVERGED, WRITE_FAILED, PREEMPTED = 3, 74, 143  # exit statuses (74: EX_IOERR; 143: 128 + SIGTERM)
_CONFIG = config_flags.DEFINE_config_file(
    "config", os.path.join(common.REPO, DEFAULT_CONFIG),
    "Config file, optionally with a variant: configs/parity.py:smoke.")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Output directory (default: workdir/<config>[_<variant>]).")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False, "Call jax.distributed.initialize() first (multi-host runs); on TPU "
    "pods and SLURM the coordinator is auto-detected, elsewhere give the three flags below.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "host:port of process 0.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (hosts).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index, 0-based.")
_MAX_MEMORY = flags.DEFINE_string("max_memory", None, "Memory budget per device, e.g. 8G "
                                  "(default: 90% of the machine's).")
_VALIDATE_ONLY = flags.DEFINE_bool(
    "validate_only", False, "Validate the config (and --workdir's spelling) and exit: 0 if it "
    "would run, 2 with one line if not; compiles, trains and writes nothing (the pod and GPU "
    "scripts run this locally before they start machines).")


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
  if _WORKDIR.value is not None and not _WORKDIR.value.strip():
    common.fail("--workdir: empty; name a directory (or leave the flag out for the "
                "config's default workdir)")
  if _WORKDIR.value and "://" in _WORKDIR.value:
    common.fail(f"--workdir: {_WORKDIR.value}: URL workdirs are not supported yet (results, "
                f"metrics and plots are written with local file I/O); use a path on a "
                f"filesystem every host mounts at the same place (NFS, Filestore, or the "
                f"bucket through gcsfuse)")
  if _VALIDATE_ONLY.value:
    print(f"config ok: {exp.data.language} {exp.data.task}, {len(exp.members)} member"
          f"{'s' if len(exp.members) > 1 else ''}, {exp.train.steps} steps", flush=True)
    return
  if _DISTRIBUTED.value or _COORDINATOR.value:
    from limits import parallel
    parallel.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  config_arg = flags.FLAGS["config"].serialize().partition("=")[2] or DEFAULT_CONFIG
  workdir = _WORKDIR.value or default_workdir(config_arg)
  print(f"workdir: {os.path.abspath(workdir)}", flush=True)
  print(f"allocator: {startup.allocator()} (LIMITS_ALLOCATOR=glibc|mimalloc|tcmalloc chooses)",
        flush=True)
  from limits import checkpoint, memory
  import jax as _jax

  def check_memory():
    limit = memory.budget(_MAX_MEMORY.value)
    for _, part in exp.parts():    # sweep.kinds: each kind's population runs on its own
      memory.check_train(part, _jax.local_device_count(), limit)
      memory.check_eval(part, limit)
  common.user_errors(check_memory)  # before config.json is written or anything compiles
  common.user_errors(lambda: checkpoint.check_or_write_config(workdir, exp.to_dict(), write=False))
  common.user_errors(lambda: checkpoint.check_writable(workdir))  # before anything compiles

  try:
    rows = experiment.run(exp, workdir, log=lambda s: print(s, flush=True))
  except checkpoint.WorkdirError as e:
    common.fail(str(e))
  except experiment.Preempted as e:
    common.fail(str(e), status=PREEMPTED)
  except OSError as e:
    common.fail(common.os_error_line(e), status=WRITE_FAILED)
  import jax
  if jax.process_index() != 0:  # process 0 prints the report (and wrote every file)
    sys.exit(DIVERGED if any(r["diverged"] for r in rows) else 0)
  print()
  from limits import population
  parts = [part for _, part in exp.parts()]
  members = [m for part in parts for m in part.members]
  desc = []
  for part in parts:
    m = part.model
    desc.append(f"{m.kind} ({m.attention} attention, width {m.width}, head width "
                f"{population.head_width(m, part.members)})" if m.kind == "transformer"
                else f"{m.kind} ({m.depth} layer{'s' if m.depth > 1 else ''}, width {m.width})")
  langs = exp.sweep.languages or (exp.data.language,)
  print(f"{' and '.join(langs)} {exp.data.task}, {' and '.join(desc)}, {len(members)} "
        f"member{'s' if len(members) > 1 else ''}:")
  if len(members) == 1:
    print(results.format_table(rows, ("length", "accuracy", "xent_bits", "optimal_xent_bits",
                                      "chance_xent_bits"), max_rows=25))
    if len(rows) > 25:
      print(f"(a selection of the {len(rows)} lengths; all are in results.csv)")
  else:
    print(results.report(rows))
  print(f"results: {os.path.join(workdir, 'results.csv')}")
  print(f"plots:   {os.path.join(workdir, 'plots')}/")
  diverged = sorted({r["member"] for r in rows if r["diverged"]})
  if diverged:
    print(f"{len(diverged)} of {len(members)} members diverged (NaN/Inf): {diverged}; "
          f"their rows are marked diverged=1")
    sys.exit(DIVERGED)


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
