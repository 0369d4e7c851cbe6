"""A trained or constructed model read on given strings: what `launch.predict` prints.

`predict(setup, state, strings)` runs one population member on strings written in the
language's own symbols (without EOS) and returns one `records.Record` per string, beside
the language's exact membership. Strings are padded to multiples of `BUCKET` symbols (one
compiled program per bucket) and batched as many per call as fit the memory budget.
Recognition log-odds are computed from the logits in float64 (`log_odds`); for
constructions whose logits shrink with n, evaluate in float64 (`float64=True`, after
`jax.config.update("jax_enable_x64", True)`). `decode_lines` and `valid_prefix` read
stdin's bytes into the strings up to the first bad line, and that line's one error.

Letters: S strings in a call, P padded length, C classes (or next symbols).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from limits import memory, population, records
from limits import setup as setup_lib
from limits.languages import tokens as tokens_lib
from limits.models import positional

BUCKET = 64  # strings are padded to multiples of this: one compiled program per bucket


def log_odds(logits_C: Any) -> float:
  """log p(class 1) - log p(any other class), float64, from one string's logits."""
  x = np.asarray(logits_C, np.float64)
  if x.shape[-1] == 2:
    return float(x[1] - x[0])
  return float(x[1] - np.logaddexp.reduce(np.delete(x, 1)))


def decode_lines(data: bytes) -> tuple[list[str], str | None]:
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


def valid_prefix(lines: Sequence[str], lang: Any,
                 check: Callable[[int], None]) -> tuple[list[str], str | None]:
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


def check_length(setup: setup_lib.Setup, n: int, limit: float) -> None:
  """ValueError unless one string of length n fits the model's positions and `limit` bytes."""
  model = setup.exp.model
  if model.kind == "transformer":
    positional.check_length(model.positional, model.max_positions, n + 1)
  need = memory.eval_bytes(model, setup.task, 1, n + 2)
  if need > limit:
    fit = memory.max_tokens(model, setup.task, 1, limit) - 2
    raise ValueError(f"length {n} needs about {memory.gib(need)} for one string (attention "
                     f"grows with the square of the length), over the {memory.gib(limit)} "
                     f"available; at most ~{fit} symbols fit (or set --max_memory)")


def chunks(setup: setup_lib.Setup, strings: Sequence[str],
           per_call: float) -> list[tuple[int, list[int]]]:
  """(padded length, string indices) per call: by bucket, as many as fit `per_call` bytes
  (at least one: `check_length` made sure one string at each length fits)."""
  by_bucket: dict[int, list[int]] = {}
  for i, s in enumerate(strings):
    by_bucket.setdefault(-(-max(len(s), 1) // BUCKET) * BUCKET, []).append(i)
  out = []
  for padded, idx in sorted(by_bucket.items()):
    size = max(1, int(per_call // memory.eval_bytes(setup.exp.model, setup.task, 1, padded + 2)))
    out += [(padded, idx[i:i + size]) for i in range(0, len(idx), size)]
  return out


def predict(setup: setup_lib.Setup, state: Any, strings: Sequence[str], member: int = 0,
            limit: float = memory.EVAL_BYTES, float64: bool = False) -> list[records.Record]:
  """One record per string: the model's label, p_member and log-odds (recognition) or its
  next-symbol distribution after each prefix t = 0..n (prediction), and `member` = the
  language's exact membership. Member `member` of the population; `limit` bytes per call."""
  params = jax.tree.map(lambda x: x[member], state.params)
  if float64:
    params = jax.tree.map(lambda x: x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating)
                          else x, params)
  arch_M = setup.member_masks()
  arch = None if arch_M is None else jax.tree.map(lambda x: x[member], arch_M)
  lang, task = setup.language, setup.task
  apply = jax.jit(lambda p, t, r: population.apply(setup.model, p, t, r, arch))
  accepts = jax.jit(lang.accepts)   # the exact membership printed beside the model's outputs
  layout = tokens_lib.recognition_tokens if task == "recognition" else tokens_lib.prediction_tokens
  outputs: dict[int, np.ndarray] = {}
  is_member: dict[int, bool] = {}
  for padded, idx in chunks(setup, strings, min(limit, memory.EVAL_BYTES)):
    sym_SxP = np.zeros((len(idx), padded), np.int32)
    for row, i in enumerate(idx):
      ids = lang.encode(strings[i])
      sym_SxP[row, :len(ids)] = ids
    readout_S = jnp.asarray([len(strings[i]) for i in idx], jnp.int32)
    toks = layout(sym_SxP, readout_S, lang.n_symbols)
    logits = np.asarray(apply(params, jnp.asarray(toks), readout_S), np.float64)
    member_S = np.asarray(accepts(jnp.asarray(sym_SxP), readout_S))
    for row, i in enumerate(idx):
      outputs[i] = logits[row]
      is_member[i] = bool(member_S[row])
  names = symbols(setup)
  recs = []
  for i, s in enumerate(strings):
    logit = outputs[i]
    p = np.exp(logit - np.logaddexp.reduce(logit, axis=-1, keepdims=True))
    if task == "recognition":
      lo = log_odds(logit)
      recs.append(records.Record(string=s, task=task, member=is_member[i], label=int(lo > 0),
                                 p_member=float(p[1]), log_odds=float(lo)))
    else:
      recs.append(records.Record(string=s, task=task, member=is_member[i], symbols=names,
                                 next=tuple(tuple(float(x) for x in p[t])
                                            for t in range(len(s) + 1))))
  return recs


def symbols(setup: setup_lib.Setup) -> tuple[str, ...]:
  """The next-symbol names, in the order of a prediction's distribution: alphabet, EOS."""
  return tuple(setup.language.alphabet) + (records.EOS,)
