r"""Print samples of a language, to export data to any other framework.

  python -m launch.sample --language=parity --task=recognition --length=8 --count=5 --seed=0
  python -m launch.sample --language=tomita3 --task=prediction --length=6 --count=2 --format=jsonl

One line per string after a header line (`--format=tsv`): recognition prints
`string<TAB>label` (label 1 = member; Delétang et al.'s tasks: the class), prediction
`string<TAB>next[0/1/EOS]`, the exact next-symbol distribution after each prefix
t = 0..n, space-separated, each slash-separated in the order the header names.
`--format=jsonl` prints one JSON object per string in the schema shared with
`launch.export` and `launch.predict` (`limits/records.py`: string, length, task, member,
label, symbols, next, next_symbols). Strings are in the language's own symbols, no EOS.
For whole datasets (splits, manifest, FLaRe's layout) use `launch.export`.
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

import sys

from absl import app, flags

from launch import common

_LANGUAGE = flags.DEFINE_string("language", "parity", "Language spec, e.g. parity or parity:odd.")
_TASK = flags.DEFINE_string("task", "recognition", "recognition or prediction.")
_LENGTH = flags.DEFINE_integer("length", 8, "Number of symbols per string (>= 1).")
_COUNT = flags.DEFINE_integer("count", 10, "Number of strings.")
_SEED = flags.DEFINE_integer("seed", 0, "PRNG seed.")
_P = flags.DEFINE_float("p", 0.5, "The generator's stop probability p (prediction).")
_FORMAT = flags.DEFINE_enum("format", "tsv", ["tsv", "jsonl"], "Output format.")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  from limits import languages

  lang = common.user_errors(lambda: languages.make_language(_LANGUAGE.value, _P.value))
  if _TASK.value not in languages.TASKS:
    common.fail(f"--task: unknown task {_TASK.value!r}; allowed: {', '.join(languages.TASKS)}")
  supported = getattr(lang, "supported_tasks", languages.TASKS)
  if _TASK.value not in supported:
    common.fail(f"--task: {_LANGUAGE.value} supports only {', '.join(supported)}, got {_TASK.value!r}")
  if _COUNT.value < 1:
    common.fail(f"--count: must be >= 1, got {_COUNT.value}")
  if not -2 ** 63 <= _SEED.value < 2 ** 63:
    common.fail(f"--seed: must fit in 64 bits (|seed| < 2^63), got {_SEED.value}")
  common.user_errors(lambda: lang.check_length(_LENGTH.value))

  import jax

  from limits import export, records

  recs = export.sample_records(lang, _TASK.value, jax.random.key(_SEED.value), _LENGTH.value,
                               _COUNT.value)
  if _FORMAT.value == "jsonl":
    lines = (records.to_json(r) for r in recs)
  else:
    columns = ["string", "label"] if _TASK.value == "recognition" else ["string", "next"]
    lines = records.tsv_lines(recs, columns, list(lang.alphabet) + [records.EOS])
  sys.stdout.write("".join(line + "\n" for line in lines))


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
