"""Languages given by a deterministic automaton: exact counting, sampling and DP.

Letters: B batch, L max length, R remaining steps (0..L), S states, A symbols.

An `AutomatonLanguage` supplies `automaton(max_length)`: a transition table delta[S, A],
accepting states and a start state. The state set may depend on the maximum length (a
counter clipped at +-L, e.g. MAJORITY) or not (every regular language). From it:

- Recognition. Backward counts N_r(s) = number of strings of length r leading from s to
  an accepting (member table) or rejecting (non-member table) state, in float64 log space
  (no overflow at n = 4096), stored as float32. A member (non-member) of length n is
  drawn forward with P(x_t = a | s) = N_{n-t-1}(delta(s, a)) / N_{n-t}(s): uniform over
  its class (to 2^-24, see threefry.UNIFORM_BITS). One right-aligned `lax.scan` over positions
  (`_forward`) whose body is a gather, a compare and a transition; the uniforms and the
  per-step fixed-point thresholds (float64 on the host) come in as the scan's xs.
- Generator (next-symbol prediction; generalises the paper's PARITY automaton): in an
  accepting state emit EOS with probability p and each *live* symbol (one from whose
  target an accepting state is still reachable) with probability (1-p)/#live; in a
  rejecting state each live symbol with probability 1/#live. An accepting state with no
  live symbol emits EOS with probability 1. For the PARITY DFA this is exactly Hahn
  (2020) §4's automaton.
- Prediction prefixes of length m are drawn from the generator conditioned on emitting
  no EOS in its first m steps (global conditioning, base.py): backward survival weights
  W_r(s) = sum_a G(s, a) W_{r-1}(delta(s, a)), W_0 = 1, and forward sampling with
  P(a | s) proportional to G(s, a) W_{m-t-1}(delta(s, a)).
- Exact cross-entropies: the state marginal at t given survival to n is proportional to
  alpha_t(s) W_{n-t}(s) (alpha = forward generator mass without EOS), so E[H(q_t)] and
  E[q_t] are exact sums over states. Cost O(n S A) per length n.

Tables are built lazily in numpy for each requested maximum length and cached.
"""

from __future__ import annotations

import abc
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from limits.languages import base
from limits.languages import threefry

NEG_INF = -np.inf
# Combined states x symbols up to which the sampler's body selects instead of gathering.
SELECT_MAX = 64


class Automaton(NamedTuple):
  """delta: int[S, A] next state; accept: bool[S]; start: int."""

  delta: np.ndarray
  accept: np.ndarray
  start: int


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
  """log(sum(exp(x))) along axis, -inf where every term is -inf (float64)."""
  m = np.max(x, axis=axis, keepdims=True)
  safe = np.where(np.isfinite(m), m, 0.0)
  with np.errstate(divide="ignore"):
    out = np.log(np.sum(np.exp(x - safe), axis=axis, keepdims=True)) + safe
  return np.squeeze(np.where(np.isfinite(m), out, NEG_INF), axis)


def coreachable(delta: np.ndarray, accept: np.ndarray) -> np.ndarray:
  """bool[S]: states from which some accepting state can be reached."""
  live = accept.copy()
  while True:
    new = live | live[delta].any(axis=1)
    if (new == live).all():
      return live
    live = new


def _pack_transitions(nx: np.ndarray):
  """The next-state table nx[C, A] as bit fields of uint32 words (`_unpack_transition`):
  state c's successor on symbol a sits at bits [b (c % per), b (c % per + 1)) of word
  words[a][c // per], b = bits per state. None where it would take over 4 words."""
  C, A = nx.shape
  bits = max(1, (C - 1).bit_length())
  per = 32 // bits
  nw = -(-C // per)
  if nw > 4:
    return None
  words = np.zeros((A, nw), np.uint64)
  for c in range(C):
    for a in range(A):
      words[a, c // per] |= np.uint64(int(nx[c, a])) << np.uint64(bits * (c % per))
  return bits, per, tuple(tuple(int(w) for w in row) for row in words)


def _unpack_transition(packed, c_B: jax.Array, a_B: jax.Array) -> jax.Array:
  """int32[B]: nx[c, a] read from the packed words: a few selects and a shift per row
  instead of a select over all C x A entries."""
  bits, per, words = packed

  def word_of(row):
    w = jnp.full(c_B.shape, row[0], jnp.uint32)
    for i in range(1, len(row)):
      w = jnp.where(c_B // per == i, jnp.uint32(row[i]), w)
    return w

  w = word_of(words[0])
  for a in range(1, len(words)):
    w = jnp.where(a_B == a, word_of(words[a]), w)
  shift = (bits * (c_B % per)).astype(jnp.uint32)
  return ((w >> shift) & jnp.uint32((1 << bits) - 1)).astype(jnp.int32)


def bucket(n: int) -> int:
  """Table size used for a length n: the next power of two >= max(n, 16)."""
  return max(16, 1 << (max(n, 1) - 1).bit_length())


class Tables(NamedTuple):
  auto: Automaton
  log_count: np.ndarray   # float64[2, L+1, S]: [0] non-members, [1] members
  gen: np.ndarray         # float64[S, A+1]: generator q(. | state)
  log_w: np.ndarray       # float64[L+1, S]: log survival weight W_r(s)


def state_walk(delta_SxA: jax.Array, s0_B: jax.Array, symbols_BxL: jax.Array) -> jax.Array:
  """int32[B, L+1]: the states visited from s0 reading each row, t = 0..L (a scan)."""
  def step(s_B, x_B):
    s = delta_SxA[s_B, x_B]
    return s, s

  _, s_LxB = jax.lax.scan(step, s0_B, symbols_BxL.T.astype(jnp.int32))
  return jnp.concatenate([s0_B[:, None], s_LxB.T], axis=1)


class AutomatonLanguage(base.Language):
  """Base class: subclasses implement `automaton(max_length)` (and set name/alphabet)."""

  @abc.abstractmethod
  def automaton(self, max_length: int) -> Automaton:
    """The automaton deciding membership of every string of length <= max_length."""

  # Tables ---------------------------------------------------------------------
  def generator(self, auto: Automaton) -> np.ndarray:
    """float64[S, A+1]: the generator's next-symbol distribution in each state."""
    delta, accept = auto.delta, auto.accept
    S, A = delta.shape
    live = coreachable(delta, accept)[delta]           # [S, A]
    n_live = live.sum(1, keepdims=True)
    g = np.zeros((S, A + 1))
    cont = np.where(accept[:, None], 1.0 - self.p, 1.0)
    g[:, :A] = np.where(live, cont / np.maximum(n_live, 1), 0.0)
    g[:, A] = np.where(accept, np.where(n_live[:, 0] > 0, self.p, 1.0), 0.0)
    dead = g.sum(1) == 0                                # unreachable by the generator
    g[dead, :A] = 1.0 / A
    return g

  def np_tables(self, max_length: int) -> Tables:
    """Count and survival tables for strings up to max_length (cached)."""
    cache = self.__dict__.setdefault("_np_cache", {})
    if max_length not in cache:
      auto = self.automaton(max_length)
      delta = np.asarray(auto.delta, np.int64)
      acc = np.asarray(auto.accept, bool)
      S, A = delta.shape
      L = max_length
      count = np.full((2, L + 1, S), NEG_INF)
      count[1, 0] = np.where(acc, 0.0, NEG_INF)
      count[0, 0] = np.where(acc, NEG_INF, 0.0)
      gen = self.generator(Automaton(delta, acc, auto.start))
      with np.errstate(divide="ignore"):
        log_g = np.log(gen[:, :A])
      log_w = np.zeros((L + 1, S))
      for r in range(1, L + 1):
        count[:, r] = logsumexp(count[:, r - 1][:, delta], axis=2)
        log_w[r] = logsumexp(log_g + log_w[r - 1][delta], axis=1)
      cache[max_length] = Tables(Automaton(delta, acc, int(auto.start)), count, gen, log_w)
    return cache[max_length]

  def _dev(self, max_length: int):
    """Device copies (int32 transitions, accepting states, generator) for jitted code."""
    cache = self.__dict__.setdefault("_dev_cache", {})
    if max_length not in cache:
      t = self.np_tables(max_length)
      with jax.ensure_compile_time_eval():   # concrete arrays even when called under jit
        cache[max_length] = dict(
            delta=jnp.asarray(t.auto.delta, jnp.int32), accept=jnp.asarray(t.auto.accept),
            gen=jnp.asarray(t.gen, jnp.float32), start=t.auto.start,
            non_members=jnp.asarray(np.isfinite(t.log_count[0, :, t.auto.start])))
    return cache[max_length]

  def _step_tables(self, max_length: int, kind: str):
    """Per-step fixed-point thresholds for the right-aligned forward sampler (cached).

    Rows are combined states c = label * S + s ("count": [0] non-members, [1] members) or
    c = s ("prefix"). Returns (th int32[L, C, A-1]: cumulative P(symbol < a + 1 | c) at
    step j, where r = L - 1 - j symbols follow; nx int32[C, A]: next combined state).
    """
    cache = self.__dict__.setdefault("_step_cache", {})
    if (max_length, kind) not in cache:
      t = self.np_tables(max_length)
      delta = t.auto.delta
      S, A = delta.shape
      L = max_length
      if kind == "count":
        log_next = lambda r: t.log_count[:, r][:, :, delta]             # [2, R, S, A]
        log_here = lambda r: t.log_count[:, r + 1][..., None]            # [2, R, S, 1]
        nx = (np.arange(2)[:, None, None] * S + delta[None]).reshape(2 * S, A)
      else:
        with np.errstate(divide="ignore"):
          log_g = np.log(t.gen[:, :A])
        log_next = lambda r: (log_g + t.log_w[r][:, delta])[None]
        log_here = lambda r: t.log_w[r + 1][None, :, :, None]
        nx = delta
      th = np.zeros((L, nx.shape[0], max(A - 1, 0)), np.int32)
      for lo in range(0, L, 256):            # chunks bound the float64 temporaries
        r = np.arange(lo, min(L, lo + 256))
        with np.errstate(invalid="ignore"):
          p = np.exp(log_next(r) - log_here(r))                          # [G, R, S, A]
        p = np.where(np.isfinite(p), p, 0.0)
        cum = np.cumsum(p, axis=-1)
        tot = cum[..., -1:]
        # Unreachable (label, state, r): any choice (the row is inactive or absent).
        cum = np.where(tot > 0, cum / np.where(tot > 0, tot, 1.0), 1.0)
        thr = threefry.fixed_point(cum[..., :-1])                            # [G, R, S, A-1]
        th[L - 1 - r] = np.moveaxis(thr, 1, 0).reshape(len(r), nx.shape[0], max(A - 1, 0))
      with jax.ensure_compile_time_eval():
        cache[(max_length, kind)] = (jnp.asarray(th), jnp.asarray(nx, jnp.int32))
    return cache[(max_length, kind)]

  # Lengths --------------------------------------------------------------------
  def members_exist(self, n: int) -> bool:
    t = self.np_tables(bucket(n))
    return bool(np.isfinite(t.log_count[1, n, t.auto.start]))

  def check_length(self, n: int) -> None:
    super().check_length(n)
    if not self.members_exist(n):
      ok = [m for m in range(1, 41) if self.members_exist(m)]
      hint = f"lengths with members: {', '.join(map(str, ok[:12]))}" if ok else "no member up to 40"
      raise ValueError(f"{self.name}: no member of length {n} exists ({hint})")

  def class_exists(self, lengths_B, max_length):
    return self._dev(max_length)["non_members"][jnp.clip(lengths_B, 0, max_length)]

  # Samplers -------------------------------------------------------------------
  def _forward(self, key, kind, c0_B, lengths_B, max_length):
    """Right-aligned forward sampling: int32[B, L] symbols, each row uniform in its class.

    A string of length n is generated at steps j = L - n .. L - 1, so at step j every row
    has r = L - 1 - j symbols to go and reads the same threshold slice th[j] (the scan's
    xs: no per-step table lookup by r). The body is one small gather, a compare against
    an integer uniform and a transition; rows are shifted back to start at 0 at the end.
    """
    th, nx = self._step_tables(max_length, kind)
    B, L = lengths_B.shape[0], max_length
    u_LxB = threefry.uniform_ints(key, (L, B))
    first_B = L - lengths_B

    C, A = nx.shape
    small = C * A <= SELECT_MAX

    def pick(table, i_B):
      # For a few rows a chain of selects beats XLA:CPU's scalar gather loop.
      if not small:
        return table[i_B]
      out = jnp.broadcast_to(table[0], i_B.shape + table.shape[1:])
      for i in range(1, table.shape[0]):
        hit = (i_B == i).reshape(i_B.shape + (1,) * (table.ndim - 1))
        out = jnp.where(hit, table[i], out)
      return out

    nx_flat = nx.reshape(-1)
    packed = _pack_transitions(np.asarray(nx)) if small else None

    def step(c_B, inp):
      j, th_CxK, u_B = inp
      a_B = jnp.sum(u_B[:, None] >= pick(th_CxK, c_B), axis=1, dtype=jnp.int32)
      c_new = _unpack_transition(packed, c_B, a_B) if packed else pick(nx_flat, c_B * A + a_B)
      return jnp.where(j >= first_B, c_new, c_B), a_B

    _, sym_LxB = jax.lax.scan(step, c0_B, (jnp.arange(L), th, u_LxB))
    return threefry.left_align(sym_LxB, first_B)

  def sample_symbols(self, key, labels_B, lengths_B, max_length):
    d = self._dev(max_length)
    S = d["delta"].shape[0]
    c0 = (labels_B.astype(jnp.int32) * S + d["start"]).astype(jnp.int32)
    return self._forward(key, "count", c0, lengths_B, max_length)

  def sample_prefixes(self, key, lengths_B, max_length):
    c0 = jnp.full(lengths_B.shape, self._dev(max_length)["start"], jnp.int32)
    return self._forward(key, "prefix", c0, lengths_B, max_length)

  def _states(self, symbols_BxL, max_length: int | None = None) -> jax.Array:
    """int32[B, L+1]: the state after t symbols, t = 0..L."""
    L = symbols_BxL.shape[1]
    d = self._dev(max_length or max(L, 1))
    s0 = jnp.full((symbols_BxL.shape[0],), d["start"], jnp.int32)
    return state_walk(d["delta"], s0, symbols_BxL)

  def accepts(self, symbols_BxL, lengths_B):
    L = symbols_BxL.shape[1]
    states = self._states(symbols_BxL)
    final = jnp.take_along_axis(states, jnp.clip(lengths_B, 0, L)[:, None], 1)[:, 0]
    return self._dev(max(L, 1))["accept"][final]

  def next_symbol_distribution(self, symbols_BxL):
    return self._dev(max(symbols_BxL.shape[1], 1))["gen"][self._states(symbols_BxL)]

  # Exact cross-entropies --------------------------------------------------------
  @functools.lru_cache(maxsize=None)
  def _prefix_stats(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = self.np_tables(bucket(n))
    delta, gen, log_w = t.auto.delta, t.gen, t.log_w
    S, A = delta.shape
    h_S = np.array([base.entropy_bits(g) for g in gen])
    alpha = np.zeros(S)
    alpha[t.auto.start] = 1.0
    ent, mean, allowed = np.zeros(n + 1), np.zeros((n + 1, A + 1)), np.zeros((n + 1, A + 1))
    for step in range(n + 1):
      with np.errstate(divide="ignore"):
        log_pi = np.log(alpha) + log_w[n - step]
      if not np.isfinite(log_pi).any():
        raise ValueError(f"{self.name}: the generator cannot produce a prefix of length {n}")
      pi = np.exp(log_pi - log_pi.max())
      pi /= pi.sum()
      ent[step], mean[step], allowed[step] = pi @ h_S, pi @ gen, pi @ (gen > 0)
      alpha = np.bincount(delta.ravel(), weights=(alpha[:, None] * gen[:, :A]).ravel(),
                          minlength=S)
      alpha /= max(alpha.sum(), 1e-300)
    return ent, mean, allowed

  def prefix_entropies_bits(self, n):
    return self._prefix_stats(n)[0]

  def prefix_mean_distributions(self, n):
    return self._prefix_stats(n)[1]

  def prefix_allowed_rates(self, n):
    return self._prefix_stats(n)[2]


class DFALanguage(AutomatonLanguage):
  """A regular language from an explicit DFA (its state set does not depend on length)."""

  def __init__(self, name: str, alphabet: tuple[str, ...], delta, accept, start: int,
               p: float = 0.5):
    super().__init__(p)
    self.name, self.alphabet = name, tuple(alphabet)
    self._auto = Automaton(np.asarray(delta, np.int64), np.asarray(accept, bool), int(start))

  def automaton(self, max_length):
    return self._auto
