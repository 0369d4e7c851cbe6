"""Shuffle-k-Dyck (Bhattamishra et al. 2020, "On the Ability and Limitations of Transformers
to Recognize Formal Languages", §4): interleavings of k Dyck-1 words, one per bracket type.

Letters: B batch, L max length, K types.

A string is a member iff, for every type j separately, the brackets of type j are
balanced and no prefix has more closes than opens of type j (types need not nest with
each other: `([)]` is a member). Symbols as in `dyck.py` (`( ) [ ] ...`).

Recognition. Members are in bijection with (assignment of the n positions to types,
one Dyck-1 word per type), so a uniform member is: type sizes (n_1..n_k) drawn with
probability multinomial(n; n_1..n_k) prod Cat(n_j / 2) / #members (exact float64 tables,
stored normalised as float32 log-probabilities), a uniform Dyck-1 word per type (ballot
sampler of `dyck.py`), and a uniform interleaving (a random permutation). Non-members
are uniform by rejection. Odd n has no member (ValueError).

Generator (prediction), documented here: with total open count s = sum_j c_j, open a
uniform type with probability p (p/k each); otherwise (1 - p) close a uniform type among
those with c_j > 0, or emit EOS if s = 0. Survival depends only on the path of s, which is
the Dyck-1 PCFG's, so prefixes conditioned on m steps without EOS are drawn by a scan with
carry (s, c_1..c_k) and the Dyck-1 survival table. The entropy of q depends on the
number z of open types: exact cross-entropies by DP over count vectors while
(N+1)^k * N <= EXACT_BUDGET (N = table length >= n; k = 2 exact up to n = 256), and
otherwise a Monte-Carlo estimate from MC_SAMPLES prefixes of the sampler (seed 0);
`xent_is_exact(n)` says which.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from limits.languages import automaton, base, dyck
from limits.languages import sampling
from limits.languages import threefry

EXACT_BUDGET = 5e7
MC_SAMPLES = 4096


class ShuffleDyck(base.SplitClasses):
  """Shuffle of k Dyck-1 languages."""

  def __init__(self, p: float = 0.5, k: int = 2):
    super().__init__(p)
    if not 1 <= k <= 26:
      raise ValueError(f"data.language: shuffle_dyck needs 1 <= k <= 26, got k={k}")
    self.k = int(k)
    self.alphabet = dyck.bracket_alphabet(self.k)
    self.name = f"shuffle_dyck:k={k}"
    self._dyck1 = dyck.Dyck(p, k=1)

  def check_length(self, n):
    super().check_length(n)
    if n % 2:
      raise ValueError(f"{self.name}: no member of length {n} exists (members have even length)")

  # Oracle -----------------------------------------------------------------------
  def _counts(self, symbols_BxL, lengths_B=None):
    """int32[B, L+1, K]: open minus close count of each type after t symbols."""
    L = symbols_BxL.shape[1]
    step = jax.nn.one_hot(symbols_BxL // 2, self.k, dtype=jnp.int32)
    step = step * jnp.where(symbols_BxL % 2 == 0, 1, -1)[..., None]
    if lengths_B is not None:
      step = jnp.where((jnp.arange(L)[None, :] < lengths_B[:, None])[..., None], step, 0)
    return jnp.pad(jnp.cumsum(step, axis=1), ((0, 0), (1, 0), (0, 0)))

  def accepts(self, symbols_BxL, lengths_B):
    return self.accepts_time_major(symbols_BxL.T, lengths_B)

  def accepts_time_major(self, x_LxB, lengths_B):
    """Membership of [L, B] strings: one pass over positions with the k counts, stopping
    once every row has failed or ended (`sampling.until_all_fail`)."""
    k = self.k

    def step(c_KxB, x_B, live):
      hit_KxB = (jnp.arange(k)[:, None] == (x_B // 2)[None, :]) & live[None, :]
      c_KxB = c_KxB + jnp.where(hit_KxB, jnp.where(x_B % 2 == 0, 1, -1)[None, :], 0)
      return c_KxB, jnp.all(c_KxB >= 0, axis=0)

    c_KxB, ok_B = sampling.until_all_fail(x_LxB, lengths_B, jnp.zeros((k, x_LxB.shape[1]), jnp.int32),
                                      step)
    return ok_B & jnp.all(c_KxB == 0, axis=0)

  # Members ----------------------------------------------------------------------
  @functools.lru_cache(maxsize=None)
  def _composition(self, max_length: int) -> jax.Array:
    """float32[k-1, L+1, L+1]: log P(first of j+2 types gets a | m symbols), row m."""
    L = max_length
    m = np.arange(L + 1)
    lf = special.gammaln(m + 1.0)
    with np.errstate(divide="ignore"):
      # log Cat(m/2) = log(m! / ((m/2)! (m/2+1)!)) for even m
      cat = np.where(m % 2 == 0, lf - special.gammaln(m // 2 + 1.0) - special.gammaln(m // 2 + 2.0),
                     -np.inf)
    shuf = [cat]
    a = m[None, :]
    mm = m[:, None]
    valid = a <= mm
    out = []
    for _ in range(self.k - 1):
      prev = shuf[-1]
      logc = np.where(valid, lf[mm] - lf[a] - lf[np.maximum(mm - a, 0)], -np.inf)
      logits = logc + cat[a] + np.where(valid, prev[np.maximum(mm - a, 0)], -np.inf)
      tot = automaton.logsumexp(logits, axis=1)
      shuf.append(tot)
      with np.errstate(invalid="ignore"):
        out.append(np.where(np.isfinite(tot)[:, None], logits - tot[:, None], -np.inf))
    with jax.ensure_compile_time_eval():   # concrete even when first called under jit
      return jnp.asarray(np.stack(out[::-1]) if out else np.zeros((0, L + 1, L + 1)), jnp.float32)

  def _sample_members(self, key, lengths_B, max_length):
    """int32[B, L] uniform members: the composition (n_1..n_k) from its exact law, then
    one scan that interleaves uniformly and walks each type's Dyck-1 word uniformly.

    At each position with r_j symbols of type j left (r = sum r_j), type j comes next with
    probability r_j / r (a uniform interleaving, drawn sequentially), and its bracket opens
    with the ballot probability (r_j - c_j)(c_j + 2) / (2 r_j (c_j + 1)) at depth c_j (a
    uniform Dyck-1 word). Both are fixed-point thresholds against 24-bit uniforms,
    computed in float32 from integers (exact to about 2^-24, as `threefry.fixed_point`).
    """
    B, L, k = lengths_B.shape[0], max_length, self.k
    comp = self._composition(L)             # comp[j] splits among k - j types
    keys = jax.random.split(key, k + 1)
    rem, parts = lengths_B, []
    for j in range(k - 1):
      a = jax.random.categorical(keys[j], comp[j][rem], axis=-1).astype(jnp.int32)
      parts.append(a)
      rem = rem - a
    r0_KxB = jnp.stack(parts + [rem], axis=0)
    u_2xLxB = threefry.uniform_ints(keys[k], (2, L, B))
    scale = float(1 << threefry.UNIFORM_BITS)
    fix = lambda num, den: jnp.round(num * scale / jnp.maximum(den, 1.0)).astype(jnp.int32)

    def step(carry, inp):
      r_KxB, c_KxB = carry
      t, u_type, u_open = inp
      rf = r_KxB.astype(jnp.float32)
      cum = jnp.cumsum(rf, axis=0)
      typ = jnp.sum(u_type[None, :] >= fix(cum[:-1], cum[-1][None, :]), axis=0)
      hit = jnp.arange(k)[:, None] == typ[None, :]
      r = jnp.sum(jnp.where(hit, rf, 0.0), axis=0)
      c = jnp.sum(jnp.where(hit, c_KxB, 0), axis=0).astype(jnp.float32)
      is_open = u_open < fix((r - c) * (c + 2.0), 2.0 * r * (c + 1.0))
      live = (t < lengths_B)[None, :] & hit
      r_KxB = r_KxB - live.astype(jnp.int32)
      c_KxB = c_KxB + jnp.where(live, jnp.where(is_open, 1, -1)[None, :], 0)
      return (r_KxB, c_KxB), (2 * typ + jnp.where(is_open, 0, 1)).astype(jnp.int32)

    init = (r0_KxB, jnp.zeros((k, B), jnp.int32))
    _, sym_LxB = jax.lax.scan(step, init, (jnp.arange(L), u_2xLxB[0], u_2xLxB[1]))
    return sym_LxB.T

  def sample_class(self, key, label, lengths_B, max_length):
    if label == 1:
      return self._sample_members(key, lengths_B, max_length)
    return self.reject_non_members(key, lengths_B, max_length, time_major=True)

  # Generator ----------------------------------------------------------------------
  def sample_prefixes(self, key, lengths_B, max_length):
    log_w = self._dyck1.log_survival(max_length)
    B, L, k = lengths_B.shape[0], max_length, self.k
    lo, lc = math.log(self.p), math.log(1 - self.p)
    g_LxBx2 = jax.random.gumbel(key, (L, B, 2))
    g_LxBxK = jax.random.gumbel(jax.random.fold_in(key, 1), (L, B, k))

    def step(carry, inp):
      s_B, c_BxK = carry
      t, g2, gk = inp
      r_B = jnp.clip(lengths_B - t - 1, 0, L)
      at = lambda d: log_w[r_B, jnp.clip(d, 0, log_w.shape[1] - 1)]
      score = jnp.stack([lo + at(s_B + 1), jnp.where(s_B > 0, lc + at(s_B - 1), -jnp.inf)], -1)
      close = jnp.argmax(score + g2, -1) == 1
      typ_open = jnp.argmax(gk, -1)
      typ_close = jnp.argmax(jnp.where(c_BxK > 0, gk, -jnp.inf), -1)
      typ = jnp.where(close, typ_close, typ_open)
      active = t < lengths_B
      delta = jax.nn.one_hot(typ, k, dtype=jnp.int32) * jnp.where(close, -1, 1)[:, None]
      c_new = jnp.where(active[:, None], c_BxK + delta, c_BxK)
      s_new = jnp.where(active, s_B + jnp.where(close, -1, 1), s_B)
      return (s_new, c_new), (2 * typ + close).astype(jnp.int32)

    init = (jnp.zeros((B,), jnp.int32), jnp.zeros((B, k), jnp.int32))
    _, sym = jax.lax.scan(step, init, (jnp.arange(L), g_LxBx2, g_LxBxK))
    return sym.T

  def next_symbol_distribution(self, symbols_BxL):
    c = self._counts(symbols_BxL)
    pos = c > 0
    z = jnp.sum(pos, axis=-1, keepdims=True)
    closes = jnp.where(pos, (1 - self.p) / jnp.maximum(z, 1), 0.0)
    opens = jnp.full(closes.shape, self.p / self.k)
    q = jnp.stack([opens, closes], axis=-1).reshape(*closes.shape[:2], 2 * self.k)
    eos = jnp.where(z == 0, 1 - self.p, 0.0)
    return jnp.concatenate([q, eos], axis=-1)

  # Cross-entropies ------------------------------------------------------------------
  def xent_is_exact(self, n: int) -> bool:
    N = automaton.bucket(n)
    return (N + 1) ** self.k * N <= EXACT_BUDGET

  @functools.lru_cache(maxsize=None)
  def _forward_aggregates(self, N: int):
    """Per t <= N and total s: sums of alpha_t(c) * (1, H, close mass, EOS mass)."""
    k, p = self.k, self.p
    shape = (N + 1,) * k
    grid = np.indices(shape)
    tot = grid.sum(0)
    z = (grid > 0).sum(0)
    h = np.array([base.entropy_bits(np.r_[[p / k] * k, [(1 - p) / max(zz, 1)] * max(zz, 1)])
                  for zz in range(k + 1)])[z]   # z = 0: the 1 - p goes to EOS
    close_w = np.where(z > 0, (1 - p) / np.maximum(z, 1), 0.0)
    agg = np.zeros((N + 1, 4, N + 1))
    alpha = np.zeros(shape)
    alpha[(0,) * k] = 1.0
    for t in range(N + 1):
      s = tot.ravel()
      for i, v in enumerate((alpha, alpha * h, alpha * close_w * z / k, alpha * (z == 0) * (1 - p))):
        agg[t, i] = np.bincount(s, weights=v.ravel(), minlength=N + 1)[:N + 1]
      nxt = np.zeros(shape)
      for j in range(k):
        up = [slice(None)] * k
        dn = [slice(None)] * k
        up[j], dn[j] = slice(1, None), slice(None, -1)
        nxt[tuple(up)] += alpha[tuple(dn)] * p / k
        nxt[tuple(dn)] += (alpha * close_w)[tuple(up)]
      alpha = nxt / nxt.sum()
    return agg

  @functools.lru_cache(maxsize=None)
  def _prefix_stats(self, n: int):
    k = self.k
    ent, mean = np.zeros(n + 1), np.zeros((n + 1, 2 * k + 1))
    if not self.xent_is_exact(n):
      sym = self.sample_prefixes(jax.random.key(0), jnp.full((MC_SAMPLES,), n, jnp.int32), n)
      q = np.asarray(jax.device_get(self.next_symbol_distribution(sym)), np.float64)
      with np.errstate(divide="ignore", invalid="ignore"):
        hq = -np.sum(np.where(q > 0, q * np.log2(q), 0.0), axis=-1)
      return hq.mean(0), q.mean(0)
    N = automaton.bucket(n)
    agg = self._forward_aggregates(N)
    log_w = self._dyck1.np_tables(N)[1]
    for t in range(n + 1):
      lw = log_w[n - t, :N + 1]
      w = np.exp(lw - lw[np.isfinite(lw)].max())
      w = np.where(np.isfinite(lw), w, 0.0)
      a = agg[t] @ w
      ent[t] = a[1] / a[0]
      mean[t, 0:2 * k:2] = self.p / k
      mean[t, 1:2 * k:2] = a[2] / a[0]
      mean[t, 2 * k] = a[3] / a[0]
    return ent, mean

  def prefix_entropies_bits(self, n):
    return self._prefix_stats(n)[0]

  def prefix_mean_distributions(self, n):
    return self._prefix_stats(n)[1]

  def describe(self):
    return {**super().describe(), "k": self.k}
