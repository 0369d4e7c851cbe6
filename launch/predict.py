r"""Run a trained or constructed model on strings read from stdin, one per line.

  printf '0110\n111\n' | python -m launch.predict --workdir=workdir/cc_parity
  printf '0110\n' | python -m launch.predict --workdir=workdir/parity_prediction --format=jsonl

Output starts with a header line (`--format=tsv`, numbers to 6 significant digits;
JSONL keeps every digit). Recognition prints
`string<TAB>p_member<TAB>label<TAB>log_odds`: log_odds is
log p(class 1) - log p(other classes) computed from the logits in float64 (two classes:
logit_1 - logit_0), and label = 1 (member) iff log_odds > 0. The label comes from the
log-odds, not from p_member > 0.5: an exact construction whose confidence shrinks with n
(Chiang & Cholak's PARITY: log-odds +-2/(n+1)^2) has p_member rounded to exactly 0.5 in
float32 from n ~ 5800 on (|log-odds| < 2^-24 * 4), while the sign of its float32 logits
stayed right at every tested n up to 12000. `--float64` evaluates the model in float64
(parameters cast, jax_enable_x64): there the cc_parity log-odds match 2/(n+1)^2; in
float32 they are off by up to 40% at n = 8000 (measured on CPU).
Next-symbol prediction prints `string<TAB>next[0/1/EOS]`: the model's distribution over
the next symbol after each prefix t = 0..n, space-separated, each slash-separated in the
order the header names. `--format=jsonl` (the default for prediction) prints one JSON
object per string in the schema shared with `launch.sample` and `launch.export`
(`limits/records.py`): string, length, task, member (the language's exact membership,
beside the model's outputs), then label, p_member, log_odds (recognition) or symbols and
next (prediction). Strings are written in the language's
own symbols, without EOS. A symbol outside the alphabet is an error naming the line and
the symbol (exit status 2), printed after every valid line before it. A population
workdir is read at member `--member` (default 0).
"""

from __future__ import annotations

from launch import startup

if __name__ == "__main__":   # before any import that may bring in JAX (launch/startup.py)
  startup.ensure()

import sys

from absl import app, flags

from launch import common

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained or constructed workdir.")
_FORMAT = flags.DEFINE_enum("format", None, ["tsv", "jsonl"],
                            "Output format (default: tsv for recognition, jsonl for prediction).")
_MEMBER = flags.DEFINE_integer("member", 0, "Population member to read.")
_ATTENTION = flags.DEFINE_string("attention", None,
                                 "Override model.attention, e.g. hard_average (saturated).")
_MAX_MEMORY = flags.DEFINE_string("max_memory", None, "Memory budget, e.g. 8G (default: 90% "
                                  "of the machine's).")
_FLOAT64 = flags.DEFINE_bool("float64", False,
                             "Evaluate in float64 (for constructions whose logits shrink with n).")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  if not _WORKDIR.value:
    common.fail("--workdir is required")
  import jax
  if _FLOAT64.value:
    jax.config.update("jax_enable_x64", True)
  from limits import experiment, memory, predict, records

  overrides = {"model": {"attention": _ATTENTION.value}} if _ATTENTION.value else None
  setup, state = common.user_errors(lambda: experiment.load(_WORKDIR.value, overrides))
  if not 0 <= _MEMBER.value < setup.num_members:
    common.fail(f"--member: must be in 0..{setup.num_members - 1}, got {_MEMBER.value}")
  task = setup.task
  fmt = _FORMAT.value or ("tsv" if task == "recognition" else "jsonl")
  lines, decode_error = predict.decode_lines(sys.stdin.buffer.read())
  limit = common.user_errors(lambda: memory.budget(_MAX_MEMORY.value))
  strings, error = predict.valid_prefix(lines, setup.language,
                                        lambda n: predict.check_length(setup, n, limit))
  error = error or decode_error
  recs = predict.predict(setup, state, strings, _MEMBER.value, limit, _FLOAT64.value)
  if fmt == "jsonl":
    lines = [records.to_json(r) for r in recs]
  else:
    columns = (["string", "p_member", "label", "log_odds"] if task == "recognition"
               else ["string", "next"])
    lines = list(records.tsv_lines(recs, columns, predict.symbols(setup), digits=6))   # JSONL: every digit
  sys.stdout.write("".join(line + "\n" for line in lines))
  sys.stdout.flush()
  if error is not None:
    common.fail(error)

if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
