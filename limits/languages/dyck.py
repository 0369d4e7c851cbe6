"""k-DYCK and bounded-depth Dyck-(k, D): well-bracketed strings over k bracket types.

Letters: B batch, L max length, W depth columns.

Definitions. k-DYCK (Hahn 2020 §4; 2DYCK is k = 2 over `( ) [ ]`): strings of k bracket
types in which every bracket is closed by the matching type, properly nested. Dyck-(k, D)
(Yao et al. 2021, "Self-Attention Networks Can Process Bounded Hierarchical Languages"):
the members of k-DYCK whose nesting depth never exceeds D. Symbols: for k <= 4 the pairs
`( ) [ ] { } < >` in that order; for 4 < k <= 26, type j opens with the j-th lowercase
letter and closes with the j-th uppercase letter. Symbol id 2j opens type j, 2j+1 closes it.

Recognition. Members of length n are uniform: the depth path is drawn forward with
ballot-number counts M_r(d) = number of completions of length r from depth d (each open
counts k times for its type), and the open types are uniform, so every member has
probability 1 / (#members). Non-members are uniform by rejection from uniform strings
(almost every string is one). No member of odd length exists: a ValueError says so.

Generator (prediction): the PCFG of Hahn (2020) §4, S -> (S)S | [S]S | ... with
probability p/k per type and S -> eps with 1 - p, read left to right: at depth 0 open
each type with p/k or end (EOS) with 1 - p; at depth d > 0 open each type with p/k or
close the top bracket with 1 - p. Dyck-(k, D) caps depth: at depth D the top bracket
closes with probability 1. Note p here is the probability to *continue* (the PCFG's p),
unlike PARITY's stop probability. q depends on the depth and on the top bracket's type;
its entropy only on the depth, so exact cross-entropies are a DP over depth.

Sampling. Members: one right-aligned scan over positions (`_walk`): the depth walk by
fixed-point thresholds from one 24-bit uniform per symbol, the open types on a
bit-packed stack in the carry, so a close pops its type and needs no search; the stack
first holds ~3 sqrt(L) slots and the walk is redone with the full stack (same uniforms,
same result) in the rare case a row goes deeper. Non-members: uniform strings by
rejection. The oracle (`accepts`) is one left-to-right pass with the same stack that
stops once every row has failed or ended; the prediction targets read the depth and
top type after every prefix from one scan (`_depths_and_tops`).
"""

from __future__ import annotations

import functools
import math
import string

import jax
import jax.numpy as jnp
import numpy as np

from limits.languages import automaton, base
from limits.languages import sampling
from limits.languages import stack as stack_lib
from limits.languages import threefry

BRACKETS = "()[]{}<>"
NEG_INF = -np.inf
NEGATIVES = ("mixed", "uniform")
# Recognition negatives of `negatives=mixed` (the default): shares of type mismatches
# (Dyck-1 projection balanced, bracket types wrong), one-substitution edits of a member,
# and uniform non-members. Chosen so that the counting heuristics score <= ~0.6: on 2DYCK,
# even lengths 2-40, "#open = #close" 0.564 and "the Dyck-1 projection is balanced" 0.572,
# where uniform negatives let them score 0.900 and 0.985 (tests/test_languages.py).
MIXED_SHARES = (0.8, 0.1, 0.1)


def bracket_alphabet(k: int) -> tuple[str, ...]:
  if k <= 4:
    return tuple(BRACKETS[:2 * k])
  return tuple(c for j in range(k) for c in (string.ascii_lowercase[j], string.ascii_uppercase[j]))


class Dyck(base.SplitClasses):
  """k-DYCK, or Dyck-(k, D) when `depth` is given."""

  STACK_SQRT = 3.0       # the walk's first try keeps ~STACK_SQRT * sqrt(L) stack slots

  def __init__(self, p: float = 0.5, k: int = 2, depth: int | None = None,
               negatives: str = "mixed"):
    super().__init__(p)
    if not 1 <= k <= 26:
      raise ValueError(f"data.language: dyck needs 1 <= k <= 26 bracket types, got k={k}")
    if depth is not None and depth < 1:
      raise ValueError(f"data.language: dyck_bounded needs depth >= 1, got depth={depth}")
    if negatives not in NEGATIVES:
      raise ValueError(f"data.language: dyck negatives must be one of {', '.join(NEGATIVES)}, "
                       f"got {negatives!r}")
    self.k, self.depth, self.negatives = int(k), depth, negatives
    self.alphabet = bracket_alphabet(self.k)
    self.stack = stack_lib.PackedStack(self.k)   # the open types, bit-packed
    self.name = f"dyck:k={k}" if depth is None else f"dyck_bounded:k={k},depth={depth}"
    if negatives != "mixed":
      self.name += f",negatives={negatives}"

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
    """(log member counts [L+1, W], log survival weights [L+1, W]), W = dcap + 2.

    count[r, d] = log M_r(d), the number of member completions of r symbols from depth d
    (each open counts k times for its type); log_w[r, d] = log probability that the
    generator emits r more symbols from depth d without EOS. Column dcap + 1 is a -inf
    sentinel (depth out of range)."""
    L, k, dc = max_length, self.k, self.dcap(max_length)
    W = dc + 2
    count = np.full((L + 1, W), NEG_INF)
    count[0, 0] = 0.0
    e_open, e_close, _ = self.emissions(dc)
    with np.errstate(divide="ignore"):
      lo, lc = np.log(e_open), np.log(e_close)
    log_w = np.full((L + 1, W), NEG_INF)
    log_w[0, :dc + 1] = 0.0
    d = np.arange(dc + 1)
    up = np.minimum(d + 1, dc + 1)
    for r in range(1, L + 1):
      prev = count[r - 1]
      count[r, :dc + 1] = np.logaddexp(math.log(k) + prev[up],
                                        np.where(d > 0, prev[d - 1], NEG_INF))
      w = log_w[r - 1]
      log_w[r, :dc + 1] = np.logaddexp(lo + w[up], np.where(d > 0, lc + w[d - 1], NEG_INF))
    return count, log_w

  @functools.lru_cache(maxsize=None)
  def log_survival(self, max_length: int) -> jax.Array:
    """float32[L+1, W]: `np_tables`' log survival weights as a concrete device array."""
    with jax.ensure_compile_time_eval():   # concrete even when called under jit
      return jnp.asarray(self.np_tables(max_length)[1], jnp.float32)

  def check_length(self, n):
    super().check_length(n)
    if n % 2:
      raise ValueError(f"{self.name}: no member of length {n} exists (members have even "
                       f"length; use even lengths such as {n - 1 if n > 1 else 2} or {n + 1})")

  # Sampling ---------------------------------------------------------------------
  @functools.lru_cache(maxsize=None)
  def _thresholds(self, max_length: int, kind: str) -> jax.Array:
    """int32[L, W]: fixed-point P(open | depth d) when r symbols follow (row r).

    kind "member": uniform members (open weight k M_r(d+1), close M_r(d-1)); "prefix":
    the generator conditioned on m steps without EOS (open e_open(d) S_r(d+1), close
    e_close(d) S_r(d-1), S the survival weight)."""
    L = max_length
    count, log_w = self.np_tables(L)
    dc = self.dcap(L)
    d = np.arange(min(dc, L // 2 if kind == "member" else L) + 1)
    up = np.minimum(d + 1, dc + 1)          # column dc + 1 is the -inf sentinel
    with np.errstate(divide="ignore"):
      if kind == "member":
        lo = math.log(self.k) + count[:, up]
        lc = np.where(d > 0, count[:, np.maximum(d - 1, 0)], NEG_INF)
      else:
        e_open, e_close, _ = self.emissions(dc)
        lo = np.log(e_open[d]) + log_w[:, up]
        lc = np.where(d > 0, np.log(e_close[d]) + log_w[:, np.maximum(d - 1, 0)], NEG_INF)
    with np.errstate(invalid="ignore"):
      p = np.exp(lo - np.logaddexp(lo, lc))
    p = np.where(np.isfinite(p), p, 1.0)      # unreachable (r, d): any choice
    th = threefry.fixed_point(p[:L])              # row r: r symbols follow this one
    with jax.ensure_compile_time_eval():
      return jnp.asarray(np.ascontiguousarray(th), jnp.int32)

  def _walk(self, key, lengths_B, max_length, kind):
    """Right-aligned forward walk over depth, open types on a bit-packed stack.

    At step j every row has r = L - 1 - j symbols to go (a string of length n occupies
    steps L - n .. L - 1), so the scan reads one threshold row th[r] (`_thresholds`) for
    all rows. One 24-bit uniform per symbol decides open / close; an open pushes a
    uniform type (b = ceil(log2 k) bits, 32 // b per stack word) and a close pops the
    top, so it always matches. Rows are shifted back to start at 0 at the end. Returns
    int32[B, L] symbols.
    """
    th = self._thresholds(max_length, kind)[::-1]     # step order: row j has r = L - 1 - j
    B, L, W = lengths_B.shape[0], max_length, th.shape[1]
    k_u, k_t = jax.random.split(key)
    u_LxB = threefry.uniform_ints(k_u, (L, B))
    t_LxB = threefry.uniform_symbols(k_t, L, B, self.k).astype(jnp.uint32)
    first_B = L - lengths_B

    def run(slots):
      def step(carry, inp):
        d_B, deepest_B, st = carry
        j, th_W, u_B, t_B = inp
        active = j >= first_B
        is_open = u_B < th_W[jnp.minimum(d_B, W - 1)]
        sym = jnp.where(is_open, 2 * t_B, 2 * self.stack.read(st, d_B - 1) + 1).astype(jnp.int32)
        st = self.stack.write(st, d_B, t_B, is_open & active)
        d_B = jnp.where(active, jnp.where(is_open, d_B + 1, d_B - 1), d_B)
        return (d_B, jnp.maximum(deepest_B, d_B), st), sym

      z = jnp.zeros((B,), jnp.int32)
      (_, deepest_B, _), sym_LxB = jax.lax.scan(step, (z, z, self.stack.empty(slots, B)),
                                            (jnp.arange(L), th, u_LxB, t_LxB))
      return sym_LxB, jnp.max(deepest_B) > slots

    # A stack of ~3 sqrt(L) slots rarely overflows (the height of a random walk bridge is
    # ~ sqrt(L)); if a row does, the walk is redone with the full stack from the same
    # uniforms, so the result is exactly the full-stack walk either way.
    per = self.stack.per
    small = W if self.k == 1 else min(W, per * max(1, round(self.STACK_SQRT * math.sqrt(L) / per)))
    sym_LxB, overflow = run(small)
    if small < W:
      sym_LxB = jax.lax.cond(overflow, lambda: run(W)[0], lambda: sym_LxB)
    return threefry.left_align(sym_LxB, first_B)

  def sample_class(self, key, label, lengths_B, max_length):
    if label == 1:
      return self._walk(key, lengths_B, max_length, "member")
    return self.reject_non_members(key, lengths_B, max_length, time_major=True)

  def sample_prefixes(self, key, lengths_B, max_length):
    return self._walk(key, lengths_B, max_length, "prefix")

  def type_mismatches(self, key, lengths_B, max_length, members_BxL=None):
    """int32[B, L]: uniform strings whose Dyck-1 projection (types ignored) is a member
    (of Dyck-1, or of Dyck-(1, D)) but which are not members: the depth path of a
    uniform member with every bracket's type redrawn uniformly, redrawn again (types
    only) while the row is still a member. Exactly uniform: every projection has k^n
    typings of which k^(n/2) are members, so the projection stays uniform and the
    accepted typing is uniform among its non-members. k = 1 (none exist) and n = 0 keep
    the first draw."""
    k_mem, k_typ = jax.random.split(key)
    if members_BxL is None:
      members_BxL = self._walk(k_mem, lengths_B, max_length, "member")
    close = members_BxL % 2
    B, L = members_BxL.shape
    draw = lambda i: 2 * threefry.uniform_symbols(jax.random.fold_in(k_typ, i), B, L, self.k) + close
    skip = (lengths_B == 0) | (self.k == 1)
    x0 = draw(0)
    bad0 = self.accepts(x0, lengths_B) & ~skip

    def body(carry):
      i, x, bad = carry
      cand = draw(i)
      return i + 1, jnp.where(bad[:, None], cand, x), bad & self.accepts(cand, lengths_B)

    def cond(carry):
      i, _, bad = carry
      return (i < sampling.REJECTION_ROUNDS) & jnp.any(bad)

    _, x, _ = jax.lax.while_loop(cond, body, (jnp.int32(1), x0, bad0))
    return x

  def sample_negatives(self, key, lengths_B, max_length):
    """Recognition negatives. `negatives=uniform`: uniform non-members. `mixed` (default):
    each row independently a type mismatch (`type_mismatches`, exactly uniform in its
    class), a one-substitution edit of a uniform member (`near_misses`: uniform position
    and symbol among the substitutions that leave the language; not uniform over the
    strings one edit away, which would weight each by its member neighbours), or a
    uniform non-member, with shares MIXED_SHARES. At a fixed even length a single
    insertion or deletion cannot reach a member (members have even length), so
    substitutions are the only one-edit negatives."""
    uniform = self.sample_class(jax.random.fold_in(key, 0), 0, lengths_B, max_length)
    if self.negatives == "uniform" or self.k == 1:
      return uniform
    members = self._walk(jax.random.fold_in(key, 1), lengths_B, max_length, "member")
    mismatch = self.type_mismatches(jax.random.fold_in(key, 2), lengths_B, max_length, members)
    edit, ok_B = self.near_misses(jax.random.fold_in(key, 3), members, lengths_B)
    edit = jnp.where(ok_B[:, None], edit, uniform)
    u_B = jax.random.uniform(jax.random.fold_in(key, 4), lengths_B.shape)
    a, b, _ = MIXED_SHARES
    pick = jnp.where(u_B < a, 0, jnp.where(u_B < a + b, 1, 2))[:, None]
    return jnp.where(pick == 0, mismatch, jnp.where(pick == 1, edit, uniform))

  # Oracle and targets -------------------------------------------------------------
  def _depths_and_tops(self, symbols_BxL):
    """(int32[B, L+1] depth after t symbols, int32[B, L+1] type on top after t symbols)
    of bracket prefixes, by one scan with the stack (prefixes may go as deep as L, or D
    for Dyck-(k, D); a close at depth 0 leaves depth 0)."""
    B, L = symbols_BxL.shape

    def step(carry, x_B):
      d_B, st = carry
      is_open = x_B % 2 == 0
      st = self.stack.write(st, d_B, x_B // 2, is_open)
      d_B = jnp.where(is_open, d_B + 1, jnp.maximum(d_B - 1, 0))
      return (d_B, st), (d_B, self.stack.read(st, d_B - 1).astype(jnp.int32))

    init = (jnp.zeros((B,), jnp.int32), self.stack.empty(max(self.dcap(L), 1), B))
    _, (dep_LxB, top_LxB) = jax.lax.scan(step, init, symbols_BxL.T)
    pad = lambda x_LxB: jnp.concatenate([jnp.zeros((1, B), jnp.int32), x_LxB]).T
    return pad(dep_LxB), pad(top_LxB)

  def accepts(self, symbols_BxL, lengths_B):
    return self.accepts_time_major(symbols_BxL.T, lengths_B)

  def accepts_time_major(self, x_LxB, lengths_B):
    """Membership of strings given as [L, B], by one left-to-right pass with the stack,
    stopping as soon as every row has failed or ended (`sampling.until_all_fail`)."""
    L, B = x_LxB.shape
    cap = max(L // 2, 1) if self.depth is None else min(max(L // 2, 1), self.depth)

    def step(state, x_B, live):
      d_B, st = state
      is_open = x_B % 2 == 0
      typ = (x_B // 2).astype(jnp.uint32)
      good = jnp.where(is_open, d_B < cap, (d_B > 0) & (self.stack.read(st, d_B - 1) == typ))
      st = self.stack.write(st, d_B, typ, live & is_open)
      d_B = jnp.where(live, jnp.where(is_open, d_B + 1, d_B - 1), d_B)
      return (d_B, st), good

    init = (jnp.zeros((B,), jnp.int32), self.stack.empty(cap, B))
    (d_B, _), ok_B = sampling.until_all_fail(x_LxB, lengths_B, init, step)
    return ok_B & (d_B == 0)

  def theorem6_p0(self, n: int, samples: int, key: jax.Array) -> float:
    """P_0 of Theorem 6: the share of `samples` generator prefixes of length n that are
    unbalanced and end in a closing bracket (openers are even symbols, closers odd)."""
    sym = self.sample_prefixes(key, jnp.full((samples,), n, jnp.int32), n)
    depth = jnp.sum(jnp.where(sym % 2 == 0, 1, -1), axis=1)
    return float(jnp.mean((depth > 0) & (sym[:, -1] % 2 == 1)))

  def next_symbol_distribution(self, symbols_BxL):
    B, L = symbols_BxL.shape
    e_open, e_close, e_eos = (jnp.asarray(x, jnp.float32) for x in self.emissions(self.dcap(L)))
    dep, top_t = self._depths_and_tops(symbols_BxL)
    dd = jnp.clip(dep, 0, e_open.shape[0] - 1)
    has_top = dep > 0
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
    _, log_w = self.np_tables(L)
    dc = self.dcap(L)
    e_open, e_close, e_eos = self.emissions(dc)
    k = self.k
    h = np.array([base.entropy_bits(np.r_[[e_open[d] / k] * k, e_close[d], e_eos[d]])
                  for d in range(dc + 1)])
    alpha = np.zeros(dc + 1)
    alpha[0] = 1.0
    ent, mean, allowed = np.zeros(n + 1), np.zeros((n + 1, 2 * k + 1)), np.zeros((n + 1, 2 * k + 1))
    for t in range(n + 1):
      with np.errstate(divide="ignore"):
        lp = np.log(alpha) + log_w[n - t, :dc + 1]
      pi = np.exp(lp - lp.max())
      pi /= pi.sum()
      ent[t] = pi @ h
      mean[t, 0:2 * k:2] = (pi @ e_open) / k
      mean[t, 1:2 * k:2] = (pi @ e_close) / k    # the top's type is uniform
      mean[t, 2 * k] = pi @ e_eos
      allowed[t, 0:2 * k:2] = pi @ (e_open > 0)
      allowed[t, 1:2 * k:2] = (pi @ (e_close > 0)) / k
      allowed[t, 2 * k] = pi @ (e_eos > 0)
      nxt = np.zeros(dc + 1)
      nxt[1:] += (alpha * e_open)[:-1]
      nxt[:-1] += (alpha * e_close)[1:]
      alpha = nxt / nxt.sum()
    return ent, mean, allowed

  def prefix_entropies_bits(self, n):
    return self._prefix_stats(n)[0]

  def prefix_mean_distributions(self, n):
    return self._prefix_stats(n)[1]

  def prefix_allowed_rates(self, n):
    return self._prefix_stats(n)[2]

  def describe(self):
    return {**super().describe(), "k": self.k, "depth": self.depth}
