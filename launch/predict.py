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
_BUCKET = 64  # strings are padded to multiples of this: one compiled program per bucket


def _decode_lines(data: bytes) -> tuple[list[str], str | None]:
  """(lines, error): stdin's UTF-8 lines up to the first undecodable one, and its error.

  Read as bytes, so random bytes or another encoding are one error naming the line,
  after every valid line before it, rather than a traceback.
  """
  out = []
  for i, raw in enumerate(data.splitlines(), start=1):
    try:
      out.append(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
      return out, (f"line {i}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at column "
                   f"{e.start + 1}); write strings in the language's own symbols")
  return out, None


def _valid_prefix(lines, lang, check):
  """(strings, error): the lines up to the first bad one, and that line's error."""
  out = []
  for i, line in enumerate(lines, start=1):
    try:
      lang.encode(line)
      check(len(line))
    except ValueError as e:
      return out, f"line {i}: {e}"
    out.append(line)
  return out, None


def log_odds(logits_C) -> float:
  """log p(class 1) - log p(any other class), float64, from one string's logits."""
  import numpy as np
  x = np.asarray(logits_C, np.float64)
  if x.shape[-1] == 2:
    return float(x[1] - x[0])
  return float(x[1] - np.logaddexp.reduce(np.delete(x, 1)))


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    common.fail(f"unexpected arguments {argv[1:]}; use --flag=value")
  if not _WORKDIR.value:
    common.fail("--workdir is required")
  import jax
  if _FLOAT64.value:
    jax.config.update("jax_enable_x64", True)
  import jax.numpy as jnp
  import numpy as np

  from limits import experiment, memory, population, records
  from limits.languages import tokens as tokens_lib
  from limits.models import positional

  overrides = {"model": {"attention": _ATTENTION.value}} if _ATTENTION.value else None
  setup, state = common.user_errors(lambda: experiment.load(_WORKDIR.value, overrides))
  exp = setup.exp
  if not 0 <= _MEMBER.value < setup.num_members:
    common.fail(f"--member: must be in 0..{setup.num_members - 1}, got {_MEMBER.value}")
  m = _MEMBER.value
  params = jax.tree.map(lambda x: x[m], state.params)
  if _FLOAT64.value:
    params = jax.tree.map(lambda x: x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating)
                          else x, params)
  arch_M = setup.member_masks()
  arch = None if arch_M is None else jax.tree.map(lambda x: x[m], arch_M)
  lang, task = setup.language, setup.task
  fmt = _FORMAT.value or ("tsv" if task == "recognition" else "jsonl")
  apply = jax.jit(lambda p, t, r: population.apply(setup.model, p, t, r, arch))
  accepts = jax.jit(lang.accepts)   # the exact membership printed beside the model's outputs

  lines, decode_error = _decode_lines(sys.stdin.buffer.read())
  limit = common.user_errors(lambda: memory.budget(_MAX_MEMORY.value))
  per_call = min(limit, memory.EVAL_BYTES)

  def check(n):
    if exp.model.kind == "transformer":
      positional.check_length(exp.model.positional, exp.model.max_positions, n + 1)
    need = memory.eval_bytes(exp.model, task, 1, n + 2)
    if need > limit:
      fit = memory.max_tokens(exp.model, task, 1, limit) - 2
      raise ValueError(f"length {n} needs about {memory.gib(need)} for one string (attention "
                       f"grows with the square of the length), over the {memory.gib(limit)} "
                       f"available; at most ~{fit} symbols fit (or set --max_memory)")
  strings, error = _valid_prefix(lines, lang, check)
  error = error or decode_error
  by_bucket: dict[int, list[int]] = {}
  for i, s in enumerate(strings):
    by_bucket.setdefault(-(-max(len(s), 1) // _BUCKET) * _BUCKET, []).append(i)
  outputs: dict[int, np.ndarray] = {}
  member: dict[int, bool] = {}
  chunks = []
  for padded, idx in sorted(by_bucket.items()):
    # As many strings per call as fit the per-call budget (at least one: `check` made sure
    # one string at this length fits the machine).
    size = max(1, int(per_call // memory.eval_bytes(exp.model, task, 1, padded + 2)))
    chunks += [(padded, idx[i:i + size]) for i in range(0, len(idx), size)]
  for padded, idx in chunks:
    sym = np.zeros((len(idx), padded), np.int32)
    for row, i in enumerate(idx):
      ids = lang.encode(strings[i])
      sym[row, :len(ids)] = ids
    readout = jnp.asarray([len(strings[i]) for i in idx], jnp.int32)
    layout = (tokens_lib.recognition_tokens if task == "recognition"
              else tokens_lib.prediction_tokens)
    toks = layout(sym, readout, lang.n_symbols)
    logits = np.asarray(apply(params, jnp.asarray(toks), readout), np.float64)
    is_member = np.asarray(accepts(jnp.asarray(sym), readout))
    for row, i in enumerate(idx):
      outputs[i] = logits[row]
      member[i] = bool(is_member[row])
  names = tuple(lang.alphabet) + (records.EOS,)
  recs = []
  for i, s in enumerate(strings):
    logit = outputs[i]
    p = np.exp(logit - np.logaddexp.reduce(logit, axis=-1, keepdims=True))
    if task == "recognition":
      lo = log_odds(logit)
      recs.append(records.Record(string=s, task=task, member=member[i], label=int(lo > 0),
                                 p_member=float(p[1]), log_odds=float(lo)))
    else:
      recs.append(records.Record(string=s, task=task, member=member[i], symbols=names,
                                 next=tuple(tuple(float(x) for x in p[t])
                                            for t in range(len(s) + 1))))
  if fmt == "jsonl":
    lines = [records.to_json(r) for r in recs]
  else:
    columns = (["string", "p_member", "label", "log_odds"] if task == "recognition"
               else ["string", "next"])
    lines = list(records.tsv_lines(recs, columns, names, digits=6))   # JSONL: every digit
  sys.stdout.write("".join(line + "\n" for line in lines))
  sys.stdout.flush()
  if error is not None:
    common.fail(error)


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
