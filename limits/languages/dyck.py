"""k-DYCK and bounded-depth Dyck-(k, D): well-bracketed strings over k bracket types.

Letters: B batch, L max length, T1 = L + 1 prefix times, W depth columns.

Definitions. k-DYCK (Hahn 2020 §4; 2DYCK is k = 2 over `( ) [ ]`): strings of k bracket
types in which every bracket is closed by the matching type, properly nested. Dyck-(k, D)
(Yao et al. 2021, "Self-Attention Networks Can Process Bounded Hierarchical Languages"):
the members of k-DYCK whose nesting depth never exceeds D. Symbols: for k <= 4 the pairs
`( ) [ ] { } < >` in that order; for 4 < k <= 26, type j opens with the j-th lowercase
letter and closes with the j-th uppercase letter. Symbol id 2j opens type j, 2j+1 closes it.

Recognition. Members of length n are uniform: the depth path is drawn forward with
ballot-number counts M_r(d) = number of completions of length r from depth d (each open
counts k times for its type), and the open types are uniform, so every member has
probability 1 / (#members). Non-members are uniform too: a live prefix at depth d has
N_r(d) non-member completions (mismatched closes and, for Dyck-(k, D), too-deep opens
lead to a dead state with (2k)^r completions). No member of odd length exists: a
ValueError says so.

Generator (prediction): the PCFG of Hahn (2020) §4, S -> (S)S | [S]S | ... with
probability p/k per type and S -> eps with 1 - p, read left to right: at depth 0 open
each type with p/k or end (EOS) with 1 - p; at depth d > 0 open each type with p/k or
close the top bracket with 1 - p. Dyck-(k, D) caps depth: at depth D the top bracket
closes with probability 1. Note p here is the probability to *continue* (the PCFG's p),
unlike PARITY's stop probability. q depends on the depth and on the top bracket's type;
its entropy only on the depth, so exact cross-entropies are a DP over depth.

Closing types are resolved after the scan without a stack: the top bracket after t
symbols is the open symbol right after the last time u < t at which the depth was
depth_t - 1 (a predecessor search in the sorted (depth, time) keys).
"""

from __future__ import annotations

import functools
import math
import string

import jax
import jax.numpy as jnp
import numpy as np

from limits.languages import automaton, base

BRACKETS = "()[]{}<>"
NEG_INF = -np.inf


def bracket_alphabet(k: int) -> tuple[str, ...]:
  if k <= 4:
    return tuple(BRACKETS[:2 * k])
  return tuple(c for j in range(k) for c in (string.ascii_lowercase[j], string.ascii_uppercase[j]))


def top_positions(depth_BxT1: jax.Array) -> tuple[jax.Array, jax.Array]:
  """For each time t: index u of the open symbol on top of the stack after t symbols.

  depth_BxT1: depth after t = 0..L symbols of a valid bracket prefix. Returns (int32[B, T1]
  symbol index, bool[B, T1] valid); valid is False where the depth is 0.
  """
  T1 = depth_BxT1.shape[1]
  dep = jnp.clip(depth_BxT1, 0, T1).astype(jnp.int32)
  u = jnp.arange(T1, dtype=jnp.int32)[None, :]
  keys = jnp.sort(dep * T1 + u, axis=1)
  query = (dep - 1) * T1 + u
  idx = jax.vmap(lambda s, q: jnp.searchsorted(s, q, side="left"))(keys, query) - 1
  pred = jnp.take_along_axis(keys, jnp.clip(idx, 0, T1 - 1), axis=1)
  valid = (idx >= 0) & (pred // T1 == dep - 1) & (dep > 0)
  return pred % T1, valid


class Dyck(base.Language):
  """k-DYCK, or Dyck-(k, D) when `depth` is given."""

  def __init__(self, p: float = 0.5, k: int = 2, depth: int | None = None):
    super().__init__(p)
    if not 1 <= k <= 26:
      raise ValueError(f"data.language: dyck needs 1 <= k <= 26 bracket types, got k={k}")
    if depth is not None and depth < 1:
      raise ValueError(f"data.language: dyck_bounded needs depth >= 1, got depth={depth}")
    self.k, self.depth = int(k), depth
    self.alphabet = bracket_alphabet(self.k)
    self.name = f"dyck:k={k}" if depth is None else f"dyck_bounded:k={k},depth={depth}"

  # Depth-indexed quantities -------------------------------------------------------
  def dcap(self, max_length: int) -> int:
    return max_length if self.depth is None else min(self.depth, max_length)

  def emissions(self, dcap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64[dcap+1] each: generator P(open any type), P(close top), P(EOS) by depth."""
    d = np.arange(dcap + 1)
    e_open = np.full(dcap + 1, self.p)
    e_close = np.where(d > 0, 1 - self.p, 0.0)
    if self.depth is not None:
      e_open = np.where(d >= self.depth, 0.0, e_open)
      e_close = np.where(d >= self.depth, 1.0, e_close)
    e_eos = np.where(d == 0, 1 - self.p, 0.0)
    return e_open, e_close, e_eos

  @functools.lru_cache(maxsize=None)
  def np_tables(self, max_length: int):
    """log counts [2, L+1, W] (non-members, members), log dead [L+1], log survival [L+1, W]."""
    L, k, dc = max_length, self.k, self.dcap(max_length)
    W = dc + 2                                 # column dc + 1 is a -inf sentinel
    lk, lk1 = math.log(k), (math.log(k - 1) if k > 1 else NEG_INF)
    dead = np.arange(L + 1) * math.log(2 * k)
    count = np.full((2, L + 1, W), NEG_INF)
    count[1, 0, 0] = 0.0
    count[0, 0, 1:dc + 1] = 0.0
    e_open, e_close, _ = self.emissions(dc)
    with np.errstate(divide="ignore"):
      lo, lc = np.log(e_open), np.log(e_close)
    log_w = np.full((L + 1, W), NEG_INF)
    log_w[0, :dc + 1] = 0.0
    d = np.arange(dc + 1)
    too_deep = (d >= self.depth) if self.depth is not None else np.zeros(dc + 1, bool)
    for r in range(1, L + 1):
      for lab in (0, 1):
        prev = count[lab, r - 1]
        die = dead[r - 1] if lab == 0 else NEG_INF
        up = lk + np.where(too_deep, die, prev[d + 1])
        down = np.where(d > 0, prev[d - 1], NEG_INF)
        bad = np.where(d > 0, lk1, lk) + die
        count[lab, r, :dc + 1] = np.logaddexp(np.logaddexp(up, down), bad)
      w = log_w[r - 1]
      log_w[r, :dc + 1] = np.logaddexp(lo + w[np.minimum(d + 1, dc + 1)],
                                       np.where(d > 0, lc + w[d - 1], NEG_INF))
    return count, dead, log_w

  @functools.lru_cache(maxsize=None)
  def _dev(self, max_length: int):
    count, dead, log_w = self.np_tables(max_length)
    e = self.emissions(self.dcap(max_length))
    with jax.ensure_compile_time_eval():   # concrete arrays even when called under jit
      return (jnp.asarray(count, jnp.float32), jnp.asarray(dead, jnp.float32),
              jnp.asarray(log_w, jnp.float32), tuple(jnp.asarray(x, jnp.float32) for x in e))

  def check_length(self, n):
    super().check_length(n)
    if n % 2:
      raise ValueError(f"{self.name}: no member of length {n} exists (members have even "
                       f"length; use even lengths such as {n - 1 if n > 1 else 2} or {n + 1})")

  # Sampling ---------------------------------------------------------------------
  def _scan(self, key, lengths_B, max_length, score_fn, n_groups):
    """Forward scan over depth: returns (group int32[B, L], depth before each symbol)."""
    B = lengths_B.shape[0]
    g_LxBxG = jax.random.gumbel(key, (max_length, B, n_groups))

    def step(carry, inp):
      d_B, dead_B = carry
      t, g = inp
      r_B = jnp.clip(lengths_B - t - 1, 0, max_length)
      grp = jnp.argmax(score_fn(d_B, dead_B, r_B) + g, axis=-1).astype(jnp.int32)
      kill = (grp >= 2) | ((grp == 0) & self._too_deep(d_B))
      d_new = jnp.where(grp == 0, d_B + 1, jnp.where(grp == 1, d_B - 1, d_B))
      active = t < lengths_B
      d_new = jnp.where(active & ~dead_B & ~kill, d_new, d_B)
      return (d_new, jnp.where(active, dead_B | kill, dead_B)), (grp, d_B)

    init = (jnp.zeros((B,), jnp.int32), jnp.zeros((B,), bool))
    _, (grp, dep) = jax.lax.scan(step, init, (jnp.arange(max_length), g_LxBxG))
    return grp.T, dep.T

  def _too_deep(self, d_B):
    return (d_B >= self.depth) if self.depth is not None else jnp.zeros(d_B.shape, bool)

  def _assemble(self, key, grp_BxL, dep_BxL):
    """Symbols from groups: 0 open (uniform type), 1 close the top, 2 wrong close, 3 any."""
    B, L = grp_BxL.shape
    k = self.k
    k_open, k_off, k_any = jax.random.split(key, 3)
    open_t = jax.random.randint(k_open, (B, L), 0, k)
    off = jax.random.randint(k_off, (B, L), 1, max(k, 2))
    anything = jax.random.randint(k_any, (B, L), 0, 2 * k)
    depth_after = jnp.concatenate([dep_BxL, dep_BxL[:, -1:] + 1], axis=1)  # last unused
    pos, has_top = top_positions(depth_after)
    top_t = jnp.take_along_axis(open_t, jnp.clip(pos[:, :L], 0, L - 1), axis=1)
    has_top = has_top[:, :L]
    wrong = jnp.where(has_top, (top_t + off) % k, open_t)
    return jnp.select([grp_BxL == 0, grp_BxL == 1, grp_BxL == 2],
                      [2 * open_t, 2 * top_t + 1, 2 * wrong + 1], anything).astype(jnp.int32)

  def sample_symbols(self, key, labels_B, lengths_B, max_length):
    count, dead, _, _ = self._dev(max_length)
    lk = math.log(self.k)
    lk1 = math.log(self.k - 1) if self.k > 1 else -jnp.inf

    def score(d_B, dead_B, r_B):
      die = jnp.where(labels_B == 0, dead[r_B], -jnp.inf)
      at = lambda dd: count[labels_B, r_B, jnp.clip(dd, 0, count.shape[2] - 1)]
      up = lk + jnp.where(self._too_deep(d_B), die, at(d_B + 1))
      down = jnp.where(d_B > 0, at(d_B - 1), -jnp.inf)
      bad = jnp.where(d_B > 0, lk1, lk) + die
      live = jnp.stack([up, down, bad, jnp.full_like(up, -jnp.inf)], -1)
      return jnp.where(dead_B[:, None], jnp.array([-jnp.inf] * 3 + [0.0]), live)

    k_scan, k_sym = jax.random.split(key)
    grp, dep = self._scan(k_scan, lengths_B, max_length, score, 4)
    return self._assemble(k_sym, grp, dep)

  def sample_prefixes(self, key, lengths_B, max_length):
    _, _, log_w, (e_open, e_close, _) = self._dev(max_length)
    lo, lc = jnp.log(e_open), jnp.log(e_close)
    dc = e_open.shape[0] - 1

    def score(d_B, dead_B, r_B):
      at = lambda dd: log_w[r_B, jnp.clip(dd, 0, log_w.shape[1] - 1)]
      dd = jnp.clip(d_B, 0, dc)
      up = lo[dd] + at(d_B + 1)
      down = jnp.where(d_B > 0, lc[dd] + at(d_B - 1), -jnp.inf)
      return jnp.stack([up, down], -1)

    k_scan, k_sym = jax.random.split(key)
    grp, dep = self._scan(k_scan, lengths_B, max_length, score, 2)
    return self._assemble(k_sym, grp, dep)

  # Oracle and targets -------------------------------------------------------------
  def _depths(self, symbols_BxL, lengths_B=None):
    L = symbols_BxL.shape[1]
    step = jnp.where(symbols_BxL % 2 == 0, 1, -1)
    if lengths_B is not None:
      step = jnp.where(jnp.arange(L)[None, :] < lengths_B[:, None], step, 0)
    return jnp.pad(jnp.cumsum(step, axis=1), ((0, 0), (1, 0)))    # [B, L+1]

  def accepts(self, symbols_BxL, lengths_B):
    B, L = symbols_BxL.shape
    dep = self._depths(symbols_BxL, lengths_B)
    ok = (jnp.min(dep, 1) >= 0) & (jnp.take_along_axis(dep, lengths_B[:, None], 1)[:, 0] == 0)
    if self.depth is not None:
      ok &= jnp.max(dep, 1) <= self.depth
    pos, _ = top_positions(dep)
    top_sym = jnp.take_along_axis(symbols_BxL, jnp.clip(pos[:, :L], 0, L - 1), axis=1)
    closes = (symbols_BxL % 2 == 1) & (jnp.arange(L)[None, :] < lengths_B[:, None])
    return ok & jnp.all(~closes | (top_sym // 2 == symbols_BxL // 2), axis=1)

  def next_symbol_distribution(self, symbols_BxL):
    B, L = symbols_BxL.shape
    e_open, e_close, e_eos = (jnp.asarray(x, jnp.float32) for x in self.emissions(self.dcap(L)))
    dep = self._depths(symbols_BxL)
    dd = jnp.clip(dep, 0, e_open.shape[0] - 1)
    pos, has_top = top_positions(dep)
    top_t = jnp.take_along_axis(symbols_BxL, jnp.clip(pos, 0, L - 1), axis=1) // 2
    cls = jnp.arange(2 * self.k + 1)
    is_open = (cls % 2 == 0) & (cls < 2 * self.k)
    q = jnp.where(is_open[None, None, :], (e_open[dd] / self.k)[..., None], 0.0)
    close_top = has_top[..., None] & (cls[None, None, :] == 2 * top_t[..., None] + 1)
    q = jnp.where(close_top, e_close[dd][..., None], q)
    return q.at[..., 2 * self.k].set(e_eos[dd])

  # Exact cross-entropies: DP over depth ---------------------------------------------
  @functools.lru_cache(maxsize=None)
  def _prefix_stats(self, n: int):
    L = automaton.bucket(n)
    _, _, log_w = self.np_tables(L)
    dc = self.dcap(L)
    e_open, e_close, e_eos = self.emissions(dc)
    k = self.k
    h = np.array([base.entropy_bits(np.r_[[e_open[d] / k] * k, e_close[d], e_eos[d]])
                  for d in range(dc + 1)])
    alpha = np.zeros(dc + 1)
    alpha[0] = 1.0
    ent, mean = np.zeros(n + 1), np.zeros((n + 1, 2 * k + 1))
    for t in range(n + 1):
      with np.errstate(divide="ignore"):
        lp = np.log(alpha) + log_w[n - t, :dc + 1]
      pi = np.exp(lp - lp.max())
      pi /= pi.sum()
      ent[t] = pi @ h
      mean[t, 0:2 * k:2] = (pi @ e_open) / k
      mean[t, 1:2 * k:2] = (pi @ e_close) / k    # the top's type is uniform
      mean[t, 2 * k] = pi @ e_eos
      nxt = np.zeros(dc + 1)
      nxt[1:] += (alpha * e_open)[:-1]
      nxt[:-1] += (alpha * e_close)[1:]
      alpha = nxt / nxt.sum()
    return ent, mean

  def prefix_entropies_bits(self, n):
    return self._prefix_stats(n)[0]

  def prefix_mean_distributions(self, n):
    return self._prefix_stats(n)[1]

  def describe(self):
    return {**super().describe(), "k": self.k, "depth": self.depth}
