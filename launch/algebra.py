r"""Print what the algebra of a regular language predicts for each kind of model.

  python -m launch.algebra --language=tomita3
  python -m launch.algebra --language=dfa:path=configs/dfa_example.json --format=json

Text: the minimal DFA, syntactic monoid (size, idempotents, maximal subgroups), the
classes (aperiodic with a counter word, quasi-aperiodic with a witness length, R-trivial,
R^omega, C-RASP), the exact average sensitivity at n = 8, 16, 32, and one prediction per
model kind with its source (`limits/languages/algebra.py`). A language that is not
regular, or a monoid above --max_monoid elements, is one error line and exit status 2.
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

import json

from absl import app, flags

from launch import common

_LANGUAGE = flags.DEFINE_string("language", "parity", "A regular language spec.")
_FORMAT = flags.DEFINE_enum("format", "text", ["text", "json"], "Output format.")
_MAX = flags.DEFINE_integer("max_monoid", 50_000, "Refuse monoids larger than this.")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  from limits.languages import algebra

  v = common.user_errors(lambda: algebra.analyse(_LANGUAGE.value, max_size=_MAX.value))
  if _FORMAT.value == "json":
    out = v.summary()
    out["predictions"] = {k: {"predicted": ok, "reason": why}
                          for k, (ok, why) in v.predictions().items()}
    print(json.dumps(out, indent=1))
  else:
    print(v.report())


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
