"""The restriction probe's settings (`Config`) and what it measures on the subcube of
a restriction rho (Theorem 1, `limits.probes.restriction`): the language's exact decision,
completions of rho's free positions (uniform and planted members), and the jitted
programs for flip rates, errors and the greedy choice of fixed values.

Letters: K completions, N string length n, V alphabet size, R candidate positions,
A anchors (planted members), B strings.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from limits.probes import common
from limits.probes import members as members_lib


@dataclasses.dataclass(frozen=True)
class Config:
  min_length: int = 8
  max_length: int = 128
  points: int = 5
  fraction: float = 0.5         # C: at least ceil(C n) positions stay free
  completions: int = 32         # K completions per influence estimate (half planted)
  greedy_rounds: int = 8
  random_restrictions: int = 8
  white_box_rounds: int = 16    # head commitments tried (hard attention only)
  threshold: float = 0.0        # influential: flip rate > threshold
  few: int = 2                  # "depends on few inputs": at most this many (Theorem 1's c)
  batch: int = 512              # strings per model call inside the program
  seed: int = 0
  members: str = ""

  def validate(self) -> "Config":
    common.check_fields(self, "restriction")
    if not 0.0 < self.fraction < 1.0:
      raise ValueError(f"probe.fraction: C must lie in (0, 1), got {self.fraction}")
    if self.threshold >= 1.0:
      raise ValueError(f"probe.threshold: must lie in [0, 1), got {self.threshold}")
    if self.completions < 2:
      raise ValueError(f"probe.completions: need >= 2 (half uniform, half planted), "
                       f"got {self.completions}")
    common.log_grid(self.min_length, self.max_length, self.points)
    common.parse_members(self.members)
    return self


# The language's side -------------------------------------------------------------
def language_decision(lang, task: str) -> Callable[[jax.Array], jax.Array]:
  """`f(sym_BxN) -> int32[B]`: the language's exact decision (the target of the model's).

  Recognition: the class (`classify` for multi-class tasks, else membership). Prediction:
  the first argmax of the exact next-symbol distribution after x_n (the Bayes decision).
  """
  if task == "recognition":
    if hasattr(lang, "classify"):
      return lambda s: lang.classify(s, jnp.full(s.shape[:1], s.shape[1], jnp.int32))
    return lambda s: lang.accepts(s, jnp.full(s.shape[:1], s.shape[1], jnp.int32)).astype(jnp.int32)
  return lambda s: jnp.argmax(lang.next_symbol_distribution(s)[:, -1], -1).astype(jnp.int32)


def prediction_correct(lang) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """`ok(sym_BxN, symbol_B) -> bool[B]`: whether the predicted next symbol is right, i.e.
  has q's largest probability (ties are all right: in PARITY's odd state 0 and 1 are
  equally good). Recognition needs no such rule: the decision is right iff it equals the
  language's (`language_decision`)."""
  def ok(s, d):
    q = lang.next_symbol_distribution(s)[:, -1]
    best = jnp.max(q, -1)
    return jnp.take_along_axis(q, d[:, None], -1)[:, 0] >= best * (1 - 1e-6)
  return ok


def anchors(lang, task: str, key: jax.Array, n: int, count: int) -> tuple[jax.Array, bool]:
  """(int32[A, N], planted): exact uniform members of length n (prediction: generator
  prefixes), or uniform strings (planted False) where the language has no member of
  length n or no member sampler (multi-class tasks)."""
  lengths = jnp.full((count,), n, jnp.int32)
  try:
    if task == "prediction":
      return lang.sample_prefixes(key, lengths, n)[:, :n].astype(jnp.int32), True
    if not hasattr(lang, "classify"):
      lang.check_length(n)
      return lang.sample_class(key, 1, lengths, n)[:, :n].astype(jnp.int32), True
  except ValueError:
    pass
  return jax.random.randint(key, (count, n), 0, lang.n_symbols, jnp.int32), False


# Programs -------------------------------------------------------------------------
def _complete(key, fixed_N, vals_N, anchors_AxN, k: int, v: int) -> jax.Array:
  """int32[K, N]: K//2 uniform completions of rho, then K - K//2 planted ones."""
  k1, k2 = jax.random.split(key)
  n = fixed_N.shape[0]
  u = k // 2
  z_uniform = jax.random.randint(k1, (u, n), 0, v, jnp.int32)
  z_planted = anchors_AxN[jax.random.randint(k2, (k - u,), 0, anchors_AxN.shape[0])]
  z = jnp.concatenate([z_uniform, z_planted])
  return jnp.where(fixed_N[None], vals_N[None], z)


def _other(key, z, v: int) -> jax.Array:
  return 1 - z if v == 2 else (z + jax.random.randint(key, z.shape, 1, v)) % v


def _chunked(fn, sym_BxN: jax.Array, batch: int) -> jax.Array:
  """fn over B strings, `batch` at a time (members_lib's chunking), results [B, ...]."""
  s, _ = members_lib._chunks(sym_BxN, batch)
  out = jax.lax.map(fn, s)
  return out.reshape((-1,) + out.shape[2:])[:sym_BxN.shape[0]]


def make_programs(mem: members_lib.Member, lang, task: str, n: int, cfg: Config, r: int):
  """(measure, choose): jitted influence/error estimate and greedy value choice at n."""
  v, k = lang.n_symbols, cfg.completions
  lang_f = language_decision(lang, task)

  @jax.jit
  def measure(params, fixed_N, vals_N, anchors_AxN, key):
    """Per position flip rates of model and language, and per completion errors."""
    k1, k2 = jax.random.split(key)
    z_KxN = _complete(k1, fixed_N, vals_N, anchors_AxN, k, v)
    new_KxN = _other(k2, z_KxN, v)
    eye_NxN = jnp.eye(n, dtype=bool)
    pert = jnp.where(eye_NxN[None], new_KxN[:, None, :], z_KxN[:, None, :]).reshape(k * n, n)
    every = jnp.concatenate([z_KxN, pert])
    dec = members_lib.decide(mem, lang, task, params, every, cfg.batch)
    target = _chunked(lang_f, every, cfg.batch)
    model_rate = jnp.mean(dec[k:].reshape(k, n) != dec[:k, None], axis=0)
    lang_rate = jnp.mean(target[k:].reshape(k, n) != target[:k, None], axis=0)
    # Recognition: wrong iff the decision differs from the language's (already computed).
    wrong_K = (dec[:k] != target[:k] if task == "recognition"
               else ~prediction_correct(lang)(z_KxN, dec[:k]))
    return model_rate, lang_rate, wrong_K, target[:k], z_KxN

  @jax.jit
  def choose(params, fixed_N, vals_N, anchors_AxN, cand_R, key):
    """int[R]: per candidate position, the symbol making the decision most constant."""
    z = _complete(key, fixed_N, vals_N, anchors_AxN, k, v)           # [K, N]
    sym = jnp.arange(v)
    hit = jnp.arange(n)[None, None, None, :] == cand_R[:, None, None, None]
    s = jnp.where(hit, sym[None, :, None, None], z[None, None])    # [R, V, K, N]
    dec = members_lib.decide(mem, lang, task, params, s.reshape(-1, n), cfg.batch).reshape(r, v, k)
    counts = jnp.sum(jax.nn.one_hot(dec, max(v, 2) + 2), axis=2)    # [R, V, classes]
    return jnp.argmax(jnp.max(counts, -1), axis=1)

  return measure, choose
