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

Sampling is one right-aligned scan over positions (`_walk`): the depth walk by inverse
CDF from one integer uniform per symbol, and the open types on a stack in the carry, so
closing types need no search. The oracle and the targets resolve the top bracket after
t symbols without a stack (`top_positions`): it is the open symbol right after the last
time u < t at which the depth was depth_t - 1 (a predecessor search in sorted keys).
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
  def _too_deep(self, d_B):
    return (d_B >= self.depth) if self.depth is not None else jnp.zeros(d_B.shape, bool)

  def _walk(self, key, lengths_B, max_length, log_weights, table):
    """Right-aligned forward walk over depth with the stack of open types in the carry.

    At step j every row has r = L - 1 - j symbols to go (a string of length n occupies
    steps L - n .. L - 1), so the scan reads one row table[j + 1] (log counts at r) and no
    per-row table index. log_weights(row, d_B, dead_B, lab_B) -> float32[B, 4]: log weight
    of the groups 0 open (uniform type), 1 close the top, 2 wrong close, 3 any symbol
    (dead prefixes only). One integer uniform picks the group by inverse CDF; groups of
    weight 0 are never taken. Returns int32[B, L] symbols.
    """
    B, L, k = lengths_B.shape[0], max_length, self.k
    W = self.dcap(L) + 1
    k_u, k_open, k_off, k_any = jax.random.split(key, 4)
    u_LxB = base.uniform_ints(k_u, (L, B)).astype(jnp.float32) * (2.0 ** -base.UNIFORM_BITS)
    open_LxB = base.uniform_symbols(k_open, L, B, k)
    off_LxB = base.uniform_symbols(k_off, L, B, max(k - 1, 1)) + 1
    any_LxB = base.uniform_symbols(k_any, L, B, 2 * k)
    first_B = L - lengths_B
    rows = jnp.arange(B)

    def step(carry, inp):
      d_B, dead_B, stack_BxW = carry
      j, u_B, open_B, off_B, any_B = inp
      logw = log_weights(jax.lax.dynamic_index_in_dim(table, j + 1, keepdims=False),
                         d_B, dead_B)
      w = jnp.exp(logw - jnp.max(logw, axis=1, keepdims=True))
      cum = jnp.cumsum(w, axis=1)
      x = u_B * cum[:, -1]
      # The last group of positive weight whose interval starts at or below x.
      grp = jnp.zeros((B,), jnp.int32)
      for g in range(1, 4):
        grp = jnp.where((w[:, g] > 0) & (cum[:, g - 1] <= x), g, grp)
      grp = jnp.where(dead_B, 3, grp)
      has_top = d_B > 0
      top = stack_BxW[rows, jnp.clip(d_B - 1, 0, W - 1)]
      wrong = jnp.where(has_top, (top + off_B) % k, open_B)
      sym = jnp.select([grp == 0, grp == 1, grp == 2],
                       [2 * open_B, 2 * top + 1, 2 * wrong + 1], any_B)
      active = j >= first_B
      kill = (grp >= 2) | ((grp == 0) & self._too_deep(d_B))
      push = active & (grp == 0) & ~kill
      stack_BxW = stack_BxW.at[rows, jnp.clip(d_B, 0, W - 1)].set(
          jnp.where(push, open_B, stack_BxW[rows, jnp.clip(d_B, 0, W - 1)]))
      d_new = jnp.where(grp == 0, d_B + 1, jnp.where(grp == 1, d_B - 1, d_B))
      d_B = jnp.where(active & ~kill, d_new, d_B)
      return (d_B, dead_B | (active & kill), stack_BxW), sym.astype(jnp.int32)

    init = (jnp.zeros((B,), jnp.int32), jnp.zeros((B,), bool), jnp.zeros((B, W), jnp.int32))
    _, sym_LxB = jax.lax.scan(step, init, (jnp.arange(L), u_LxB, open_LxB, off_LxB, any_LxB))
    src = jnp.clip(jnp.arange(L)[None, :] + first_B[:, None], 0, L - 1)
    return sym_LxB[src, rows[:, None]]

  @functools.lru_cache(maxsize=None)
  def _step_tables(self, max_length: int):
    """Tables in step order (row i at r = L - i) for `_walk`: recognition rows hold both
    labels' log counts and the log dead count, float32[L+1, 2W+1]; prefix rows the log
    survival weights, float32[L+1, W]."""
    count, dead, log_w = self.np_tables(max_length)
    rec = np.concatenate([count[:, ::-1].transpose(1, 0, 2).reshape(count.shape[1], -1),
                          dead[::-1, None]], axis=1)
    with jax.ensure_compile_time_eval():
      return jnp.asarray(rec, jnp.float32), jnp.asarray(log_w[::-1], jnp.float32)

  def sample_symbols(self, key, labels_B, lengths_B, max_length):
    table = self._step_tables(max_length)[0]
    W = (table.shape[1] - 1) // 2
    lk = math.log(self.k)
    lk1 = math.log(self.k - 1) if self.k > 1 else -jnp.inf
    lab = labels_B.astype(jnp.int32)

    def log_weights(row, d_B, dead_B):
      del dead_B
      die = jnp.where(lab == 0, row[-1], -jnp.inf)
      at = lambda dd: row[lab * W + jnp.clip(dd, 0, W - 1)]
      up = lk + jnp.where(self._too_deep(d_B), die, at(d_B + 1))
      down = jnp.where(d_B > 0, at(d_B - 1), -jnp.inf)
      bad = jnp.where(d_B > 0, lk1, lk) + die
      return jnp.stack([up, down, bad, jnp.full_like(up, -jnp.inf)], -1)

    return self._walk(key, lengths_B, max_length, log_weights, table)

  def sample_prefixes(self, key, lengths_B, max_length):
    _, _, _, (e_open, e_close, _) = self._dev(max_length)
    lo, lc = jnp.log(e_open), jnp.log(e_close)
    dc = e_open.shape[0] - 1
    table = self._step_tables(max_length)[1]
    W = table.shape[1]

    def log_weights(row, d_B, dead_B):
      del dead_B
      at = lambda dd: row[jnp.clip(dd, 0, W - 1)]
      dd = jnp.clip(d_B, 0, dc)
      up = lo[dd] + at(d_B + 1)
      down = jnp.where(d_B > 0, lc[dd] + at(d_B - 1), -jnp.inf)
      none = jnp.full_like(up, -jnp.inf)
      return jnp.stack([up, down, none, none], -1)

    return self._walk(key, lengths_B, max_length, log_weights, table)

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
