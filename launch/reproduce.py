r"""Run every experiment of the paper's claims and write DIR/report.md.

  python -m launch.reproduce --scale=smoke --workdir=/tmp/repro     # about a minute
  python -m launch.reproduce --scale=small --workdir=workdir/repro  # ~50 min, busy 2-core CPU
  python -m launch.reproduce --scale=paper --workdir=workdir/paper  # accelerator

The experiments (limits/reproduce/): Lemma 5 slopes, Chiang & Cholak's PARITY,
Theorem 6 cross-entropies, Theorem 1 restrictions, the depth x heads sweep. `--only=`
runs a comma-separated subset. Rerunning resumes finished training runs from their
checkpoints.
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

from absl import app, flags

from launch import common

_SCALE = flags.DEFINE_string("scale", "small", "smoke | small | paper")
_WORKDIR = flags.DEFINE_string("workdir", "workdir/reproduce", "Output directory.")
_ONLY = flags.DEFINE_string("only", "", "Comma-separated experiments (default: all).")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  from limits import reproduce

  only = tuple(s.strip() for s in _ONLY.value.split(",") if s.strip())
  path = common.user_errors(lambda: reproduce.run(
      _SCALE.value, _WORKDIR.value, log=lambda s: print(s, flush=True), only=only))
  print(f"report: {path}")


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
