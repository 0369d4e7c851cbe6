r"""Print samples of a language, to export data to any other framework.

  python -m launch.sample --language=parity --task=recognition --length=8 --count=5 --seed=0

Recognition prints `string<TAB>label` (label 1 = member; string in the language's own
symbols, no EOS). Prediction prints `prefix<TAB>next-symbol distribution` with
`--format=tsv`, or one JSON object per prefix with `--format=jsonl`.
"""

from __future__ import annotations

import json
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
  if _COUNT.value < 1:
    common.fail(f"--count: must be >= 1, got {_COUNT.value}")
  if not -2 ** 63 <= _SEED.value < 2 ** 63:
    common.fail(f"--seed: must fit in 64 bits (|seed| < 2^63), got {_SEED.value}")
  common.user_errors(lambda: lang.check_length(_LENGTH.value))

  import jax
  import jax.numpy as jnp
  import numpy as np

  n = _LENGTH.value
  batch = jax.device_get(lang.sample(_TASK.value, jax.random.key(_SEED.value),
                                     jnp.full((_COUNT.value,), n, jnp.int32), n))
  out = sys.stdout
  for b in range(_COUNT.value):
    if _TASK.value == "recognition":
      s = lang.decode(batch.tokens_BxT[b, :n])
      label = int(batch.labels_B[b])
      out.write(json.dumps({"string": s, "label": label}) + "\n" if _FORMAT.value == "jsonl"
                else f"{s}\t{label}\n")
    else:
      s = lang.decode(batch.tokens_BxT[b, 1:n + 1])
      names = list(lang.alphabet) + ["EOS"]
      q = np.asarray(batch.targets_BxTxC[b, :n + 1], np.float64)
      if _FORMAT.value == "jsonl":
        out.write(json.dumps({"string": s, "next": [dict(zip(names, map(float, row))) for row in q]}) + "\n")
      else:
        dists = " ".join("/".join(f"{v:.3g}" for v in row) for row in q)
        out.write(f"{s}\t{dists}\n")


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
