"""Straightforward vectorised NumPy samplers of each language's recognition distribution.

Letters: B batch, n length, S states, A symbols.

These are what a user would write without `limits`: the same distributions as the
library's `recognition` samplers (half the rows members, half non-members, each uniform
over its class of exact length n; Delétang et al.'s tasks uniform over strings), vectorised
over the batch with one NumPy loop over positions where the distribution needs one. The
sampler benchmark (`python -m launch.benchmark samplers`) measures the library against
them; they share no code with the library's samplers. Tables (path counts, ballot
numbers) are log-space float64, built once per length by `reference_sampler`, so the
returned closure only samples.

`reference_sampler(lang, n)` -> `sample(rng, B) -> (symbols int32[B, n], labels int32[B])`.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

Sampler = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


def _labels(B: int) -> np.ndarray:
  return (np.arange(B) < (B + 1) // 2).astype(np.int32)   # first half members


def _walk(rng: np.random.Generator, logw_RxS: np.ndarray, delta_SxA: np.ndarray,
          start_B: np.ndarray, n: int) -> np.ndarray:
  """Symbols of a uniform walk: at step t from state s, symbol a with probability
  proportional to exp(logw[n-t-1, delta[s, a]]) (completions of the rest)."""
  B = start_B.shape[0]
  s_B, out = start_B.copy(), np.empty((B, n), np.int32)
  for t in range(n):
    lw_BxA = logw_RxS[n - t - 1][delta_SxA[s_B]]
    p_BxA = np.exp(lw_BxA - lw_BxA.max(1, keepdims=True))
    c_BxA = np.cumsum(p_BxA, 1)
    a_B = (rng.random(B)[:, None] * c_BxA[:, -1:] >= c_BxA).sum(1)
    a_B = np.minimum(a_B, delta_SxA.shape[1] - 1)
    out[:, t] = a_B
    s_B = delta_SxA[s_B, a_B]
  return out


def _automaton(delta_SxA: np.ndarray, accept_S: np.ndarray, start: int, n: int) -> Sampler:
  """Uniform member / non-member of a DFA by log-space path counting."""
  delta_SxA = np.asarray(delta_SxA, np.int64)
  logw = {}
  with np.errstate(divide="ignore"):
    for label in (0, 1):
      lw = np.empty((n + 1, delta_SxA.shape[0]))
      lw[0] = np.log((np.asarray(accept_S, bool) == bool(label)).astype(float))
      for r in range(1, n + 1):
        prev = lw[r - 1][delta_SxA]
        m = prev.max(1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        lw[r] = m[:, 0] + np.log(np.exp(prev - m).sum(1))
      logw[label] = lw
  exists = {label: np.isfinite(logw[label][n][start]) for label in (0, 1)}

  def sample(rng, B):
    labels = _labels(B)
    if not exists[1]:
      labels[:] = 0
    if not exists[0]:
      labels[:] = 1
    out = np.empty((B, n), np.int32)
    for label in (0, 1):
      rows = labels == label
      out[rows] = _walk(rng, logw[label], delta_SxA, np.full(rows.sum(), start), n)
    return out, labels
  return sample


def _parity(lang, n: int) -> Sampler:
  want = 1 if getattr(lang, "odd", False) else 0      # member parity of the count of 1s

  def sample(rng, B):
    labels = _labels(B)
    bits = rng.integers(0, 2, (B, n), dtype=np.int32)
    par = bits[:, :-1].sum(1) % 2
    bits[:, -1] = (np.where(labels == 1, want, 1 - want) - par) % 2
    return bits, labels
  return sample


def _log_ballot(n: int, k: int, depth: int | None) -> np.ndarray:
  """log M[r, d]: ways to close from depth d in r symbols with k types (depth <= D)."""
  D = n if depth is None else depth
  lm = np.full((n + 1, n + 2), -np.inf)
  lm[0, 0] = 0.0
  lk = math.log(k)
  for r in range(1, n + 1):
    up = np.full(n + 2, -np.inf)
    up[:D] = lk + lm[r - 1, 1:D + 1]
    down = np.full(n + 2, -np.inf)
    down[1:] = lm[r - 1, :-1]
    lm[r] = np.logaddexp(up, down)
  return lm


def _uniform_rejected(rng, B, n, A, is_member) -> np.ndarray:
  """Uniform strings over A symbols that `is_member` rejects (rejection sampling)."""
  out = np.empty((0, n), np.int32)
  while out.shape[0] < B:
    s = rng.integers(0, A, (2 * (B - out.shape[0]) + 8, n), dtype=np.int32)
    out = np.concatenate([out, s[~is_member(s)]])
  return out[:B]


def _dyck_members(rng, B, n, k, lm, D) -> np.ndarray:
  """Uniform Dyck-(k, D) words by the ballot walk with an explicit per-row stack."""
  d_B, stack = np.zeros(B, np.int64), np.zeros((B, n + 1), np.int32)
  out, rows = np.empty((B, n), np.int32), np.arange(B)
  with np.errstate(invalid="ignore"):
    for t in range(n):
      r = n - t - 1
      up = math.log(k) + lm[r, np.minimum(d_B + 1, n + 1)]
      up = np.where(d_B < D, up, -np.inf)
      down = np.where(d_B > 0, lm[r, np.maximum(d_B - 1, 0)], -np.inf)
      p_up = 1.0 / (1.0 + np.exp(down - up))
      opening = rng.random(B) < p_up
      j_B = rng.integers(0, k, B, dtype=np.int32)
      top = stack[rows, np.maximum(d_B - 1, 0)]
      out[:, t] = np.where(opening, 2 * j_B, 2 * top + 1)
      stack[rows, d_B] = np.where(opening, j_B, stack[rows, d_B])
      d_B = d_B + np.where(opening, 1, -1)
  return out


def dyck_accepts(s_BxN: np.ndarray, k: int, depth: int | None = None) -> np.ndarray:
  """Vectorised stack check of k-Dyck (depth <= `depth`): bool[B]."""
  B, n = s_BxN.shape
  D = n if depth is None else depth
  d_B, stack = np.zeros(B, np.int64), np.zeros((B, n + 1), np.int32)
  bad, rows = np.zeros(B, bool), np.arange(B)
  for t in range(n):
    x = s_BxN[:, t]
    opening = x % 2 == 0
    top = stack[rows, np.maximum(d_B - 1, 0)]
    bad |= ~opening & ((d_B == 0) | (top != x // 2))
    stack[rows, d_B] = np.where(opening, x // 2, stack[rows, d_B])
    d_B = np.maximum(d_B + np.where(opening, 1, -1), 0)
    bad |= d_B > D
  return ~bad & (d_B == 0)


def _dyck(lang, n: int) -> Sampler:
  k, D = lang.k, lang.depth
  lm = _log_ballot(n, k, D)

  def sample(rng, B):
    labels = _labels(B)
    m = int(labels.sum())
    out = np.concatenate([_dyck_members(rng, m, n, k, lm, n if D is None else D),
                          _uniform_rejected(rng, B - m, n, 2 * k,
                                            lambda s: dyck_accepts(s, k, D))])
    return out, labels
  return sample


def shuffle_accepts(s_BxN: np.ndarray, k: int) -> np.ndarray:
  """Shuffle-k-Dyck membership (every type's prefix counts >= 0, ending at 0): bool[B]."""
  ok = np.ones(s_BxN.shape[0], bool)
  for j in range(k):
    c = np.cumsum((s_BxN == 2 * j).astype(np.int32) - (s_BxN == 2 * j + 1), axis=1)
    ok &= (c.min(1) >= 0) & (c[:, -1] == 0)
  return ok


def _log_composition(n: int, k: int) -> np.ndarray:
  """log g_m[a] = log sum over (a_1..a_m) with sum a of prod Cat(a_j/2) / a_j! (m = 0..k):
  type sizes of a uniform member have probability n! prod f(a_j) / #members."""
  f = np.full(n + 1, -np.inf)
  for a in range(0, n + 1, 2):
    f[a] = -math.lgamma(a // 2 + 1) - math.lgamma(a // 2 + 2)     # Cat(a/2) / a!
  g = [np.where(np.arange(n + 1) == 0, 0.0, -np.inf)]
  for _ in range(k):
    prev, nxt = g[-1], np.full(n + 1, -np.inf)
    for a in range(0, n + 1, 2):      # nxt[a + b] += f[a] g[b]
      nxt[a:] = np.logaddexp(nxt[a:], f[a] + prev[:n + 1 - a])
    g.append(nxt)
  return np.stack(g), f


def _shuffle(lang, n: int) -> Sampler:
  """Uniform Shuffle-k-Dyck members: type sizes by exact (log-space) counts for any k,
  a uniform interleaving (a random permutation), a ballot Dyck-1 word per type."""
  k = lang.k
  g, f = _log_composition(n, k)
  lm1 = _log_ballot(n, 1, None)

  def members(rng, B):
    left_B = np.full(B, n)
    sizes = np.zeros((B, k), np.int64)
    for j in range(k - 1):            # a_j given what is left: f[a] g_{k-j-1}[left - a]
      a = np.arange(n + 1)
      lw_BxA = f[a][None, :] + g[k - j - 1][np.clip(left_B[:, None] - a[None, :], 0, n)]
      lw_BxA = np.where(a[None, :] <= left_B[:, None], lw_BxA, -np.inf)
      p = np.exp(lw_BxA - lw_BxA.max(1, keepdims=True))
      c = np.cumsum(p, 1)
      sizes[:, j] = np.minimum((rng.random(B)[:, None] * c[:, -1:] >= c).sum(1), n)
      left_B = left_B - sizes[:, j]
    sizes[:, k - 1] = left_B
    ends_BxK = np.cumsum(sizes, 1)
    types_BxN = (np.arange(n)[None, :, None] >= ends_BxK[:, None, :-1]).sum(2)
    types_BxN = rng.permuted(types_BxN, axis=1)
    out = np.empty((B, n), np.int32)
    for j in range(k):                # ballot walk of each row's type-j word, in its slots
      mine = types_BxN == j
      rank = np.cumsum(mine, 1) - 1
      word = np.zeros((B, n), np.int32)
      d_B = np.zeros(B, np.int64)
      with np.errstate(invalid="ignore"):
        for t in range(int(sizes[:, j].max(initial=0))):
          r = sizes[:, j] - t - 1
          live = r >= 0
          rr = np.maximum(r, 0)
          up = lm1[rr, np.minimum(d_B + 1, n + 1)]
          down = np.where(d_B > 0, lm1[rr, np.maximum(d_B - 1, 0)], -np.inf)
          opening = rng.random(B) < 1.0 / (1.0 + np.exp(down - up))
          word[:, t] = np.where(opening, 0, 1)
          d_B = np.where(live, d_B + np.where(opening, 1, -1), d_B)
      out = np.where(mine, 2 * j + np.take_along_axis(word, np.maximum(rank, 0), 1), out)
    return out

  def sample(rng, B):
    labels = _labels(B)
    m = int(labels.sum())
    return np.concatenate([members(rng, m), _uniform_rejected(
        rng, B - m, n, 2 * k, lambda s: shuffle_accepts(s, k))]), labels
  return sample


def _counter(lang, n: int) -> Sampler:
  l = lang.letters
  member = np.minimum(np.arange(n) // max(n // l, 1), l - 1).astype(np.int32)

  def sample(rng, B):
    labels = _labels(B)
    m = int(labels.sum())
    non = _uniform_rejected(rng, B - m, n, l, lambda s: np.all(s == member[None], 1))
    return np.concatenate([np.repeat(member[None], m, 0), non]), labels
  return sample


def _classification(lang, n: int) -> Sampler:
  """Delétang et al.'s tasks: uniform symbols per position, class from an automaton scan."""
  period = len(lang.position_symbols)
  delta = np.asarray(lang.delta)

  def sample(rng, B):
    out = np.empty((B, n), np.int32)
    for t in range(n):
      allowed = np.asarray(lang.position_symbols[t % period])
      out[:, t] = allowed[rng.integers(0, len(allowed), B)]
    s = np.full(B, lang.start)
    for t in range(n):
      s = delta[s, out[:, t]]
    return out, np.asarray(lang.state_class)[s].astype(np.int32)
  return sample


def reference_sampler(lang, n: int) -> Sampler:
  """The vectorised NumPy sampler of `lang`'s recognition distribution at length n."""
  from limits.languages import automaton, counter, deletang, dyck, parity, shuffle_dyck
  if isinstance(lang, parity.Parity):
    return _parity(lang, n)
  if isinstance(lang, deletang.ClassificationTask):
    return _classification(lang, n)
  if isinstance(lang, automaton.AutomatonLanguage):
    auto = lang.automaton(n)
    return _automaton(auto.delta, auto.accept, auto.start, n)
  if isinstance(lang, dyck.Dyck):
    return _dyck(lang, n)
  if isinstance(lang, shuffle_dyck.ShuffleDyck):
    return _shuffle(lang, n)
  if isinstance(lang, counter.Counter):
    return _counter(lang, n)
  raise ValueError(f"no NumPy reference sampler for {lang.name}")
