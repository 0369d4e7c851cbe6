r"""The regular-language atlas: theory's verdict per language, tested by trained populations.

  python -m launch.atlas --languages=tomita --scale=smoke --workdir=/tmp/atlas_smoke
  python -m launch.atlas --scale=small --workdir=workdir/atlas_small
  python -m launch.atlas --languages=all_binary_3 --scale=paper --workdir=workdir/atlas_paper
  python -m launch.atlas --languages=tomita+my_specs.txt --kinds=soft,lstm --workdir=DIR

--languages: named sets (all_binary_2, all_binary_3, tomita, deletang_regular, named) or
files with one spec per line, joined by `+`; empty = the scale's default. Writes
DIR/atlas.csv, DIR/atlas.md, DIR/plots/ and one resumable run per population under
DIR/runs/ (limits/atlas/). A bad set, scale or kind is one error line and exit 2.
--estimate prints the expected training time from a step rate measured here.

On CPU the atlas runs on one JAX device unless LIMITS_CPU_DEVICES says otherwise: its
tiny members train 3-4x faster vmapped on one device than split over two (measured on
the 2-core CPU, 33-36 members of the small scale).
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

import os

from absl import app, flags

from launch import common

if "LIMITS_CPU_DEVICES" not in os.environ:   # before JAX starts (launch/__init__ set it)
  os.environ["JAX_NUM_CPU_DEVICES"] = "1"

_LANGUAGES = flags.DEFINE_string("languages", "", "Set(s) or spec file(s), joined by +.")
_SCALE = flags.DEFINE_string("scale", "smoke", "smoke, small or paper.")
_WORKDIR = flags.DEFINE_string("workdir", "workdir/atlas", "Output directory.")
_KINDS = flags.DEFINE_string("kinds", "", "Model kinds (soft,uhat,lstm); empty = the scale's.")
_ESTIMATE = flags.DEFINE_bool("estimate", False, "Only print the expected training time "
                              "from a step rate measured on this machine.")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  from limits import atlas
  kinds = [k.strip() for k in _KINDS.value.split(",") if k.strip()] or None
  fn = atlas.estimate if _ESTIMATE.value else atlas.run
  common.user_errors(lambda: fn(_LANGUAGES.value or None, _SCALE.value, _WORKDIR.value, kinds))


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
