"""Languages given by a deterministic automaton: exact counting, sampling and DP.

Letters: B batch, L max length, R remaining steps (0..L), S states, A symbols.

An `AutomatonLanguage` supplies `automaton(max_length)`: a transition table delta[S, A],
accepting states and a start state. The state set may depend on the maximum length (a
counter clipped at +-L, e.g. MAJORITY) or not (every regular language). From it:

- Recognition. Backward counts N_r(s) = number of strings of length r leading from s to
  an accepting (member table) or rejecting (non-member table) state, in float64 log space
  (no overflow at n = 4096), stored as float32. A member (non-member) of length n is
  drawn forward with P(x_t = a | s) = N_{n-t-1}(delta(s, a)) / N_{n-t}(s): exactly uniform
  over its class. One `lax.scan` over positions; the Gumbel noise is drawn up front.
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

NEG_INF = -np.inf


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


def bucket(n: int) -> int:
  """Table size used for a length n: the next power of two >= max(n, 16)."""
  return max(16, 1 << (max(n, 1) - 1).bit_length())


class Tables(NamedTuple):
  auto: Automaton
  log_count: np.ndarray   # float64[2, L+1, S]: [0] non-members, [1] members
  gen: np.ndarray         # float64[S, A+1]: generator q(. | state)
  log_w: np.ndarray       # float64[L+1, S]: log survival weight W_r(s)


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
    """Device copies (float32 log tables, int32 transitions) for jitted samplers."""
    cache = self.__dict__.setdefault("_dev_cache", {})
    if max_length not in cache:
      t = self.np_tables(max_length)
      with jax.ensure_compile_time_eval():   # concrete arrays even when called under jit
        cache[max_length] = dict(
            delta=jnp.asarray(t.auto.delta, jnp.int32), accept=jnp.asarray(t.auto.accept),
            count=jnp.asarray(t.log_count, jnp.float32), gen=jnp.asarray(t.gen, jnp.float32),
            log_g=jnp.asarray(np.log(np.maximum(t.gen[:, :-1], 1e-300)) +
                              np.where(t.gen[:, :-1] > 0, 0.0, NEG_INF), jnp.float32),
            log_w=jnp.asarray(t.log_w, jnp.float32), start=t.auto.start)
    return cache[max_length]

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
    d = self._dev(max_length)
    return jnp.isfinite(d["count"][0, jnp.clip(lengths_B, 0, max_length), d["start"]])

  # Samplers -------------------------------------------------------------------
  def _forward(self, key, table_B_fn, edge_SxA, lengths_B, max_length):
    """Forward scan: at step t pick a with score edge(s, a) + table(r, delta(s, a))."""
    d = self._dev(max_length)
    delta = d["delta"]
    B, A = lengths_B.shape[0], delta.shape[1]
    g_LxBxA = jax.random.gumbel(key, (max_length, B, A))

    def step(s_B, inp):
      t, g_BxA = inp
      r_B = jnp.clip(lengths_B - t - 1, 0, max_length)
      nxt_BxA = delta[s_B]
      score = edge_SxA[s_B] + table_B_fn(r_B, nxt_BxA)
      a_B = jnp.argmax(score + g_BxA, axis=-1).astype(jnp.int32)
      s_new = jnp.take_along_axis(nxt_BxA, a_B[:, None], 1)[:, 0]
      return jnp.where(t < lengths_B, s_new, s_B), a_B

    s0 = jnp.full((B,), d["start"], jnp.int32)
    _, sym_LxB = jax.lax.scan(step, s0, (jnp.arange(max_length), g_LxBxA))
    return sym_LxB.T

  def sample_symbols(self, key, labels_B, lengths_B, max_length):
    count = self._dev(max_length)["count"]
    zero = jnp.zeros(self._dev(max_length)["delta"].shape, jnp.float32)
    table = lambda r_B, nxt: count[labels_B[:, None], r_B[:, None], nxt]
    return self._forward(key, table, zero, lengths_B, max_length)

  def sample_prefixes(self, key, lengths_B, max_length):
    d = self._dev(max_length)
    log_w = d["log_w"]
    table = lambda r_B, nxt: log_w[r_B[:, None], nxt]
    return self._forward(key, table, d["log_g"], lengths_B, max_length)

  def _states(self, symbols_BxL, max_length: int | None = None) -> jax.Array:
    """int32[B, L+1]: the state after t symbols, t = 0..L."""
    L = symbols_BxL.shape[1]
    d = self._dev(max_length or max(L, 1))
    delta = d["delta"]
    s0 = jnp.full((symbols_BxL.shape[0],), d["start"], jnp.int32)

    def step(s_B, x_B):
      s = delta[s_B, x_B]
      return s, s

    _, s_LxB = jax.lax.scan(step, s0, symbols_BxL.T.astype(jnp.int32))
    return jnp.concatenate([s0[:, None], s_LxB.T], axis=1)

  def accepts(self, symbols_BxL, lengths_B):
    L = symbols_BxL.shape[1]
    states = self._states(symbols_BxL)
    final = jnp.take_along_axis(states, jnp.clip(lengths_B, 0, L)[:, None], 1)[:, 0]
    return self._dev(max(L, 1))["accept"][final]

  def next_symbol_distribution(self, symbols_BxL):
    return self._dev(max(symbols_BxL.shape[1], 1))["gen"][self._states(symbols_BxL)]

  # Exact cross-entropies --------------------------------------------------------
  @functools.lru_cache(maxsize=None)
  def _prefix_stats(self, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = self.np_tables(bucket(n))
    delta, gen, log_w = t.auto.delta, t.gen, t.log_w
    S, A = delta.shape
    h_S = np.array([base.entropy_bits(g) for g in gen])
    alpha = np.zeros(S)
    alpha[t.auto.start] = 1.0
    ent, mean = np.zeros(n + 1), np.zeros((n + 1, A + 1))
    for step in range(n + 1):
      with np.errstate(divide="ignore"):
        log_pi = np.log(alpha) + log_w[n - step]
      if not np.isfinite(log_pi).any():
        raise ValueError(f"{self.name}: the generator cannot produce a prefix of length {n}")
      pi = np.exp(log_pi - log_pi.max())
      pi /= pi.sum()
      ent[step], mean[step] = pi @ h_S, pi @ gen
      alpha = np.bincount(delta.ravel(), weights=(alpha[:, None] * gen[:, :A]).ravel(),
                          minlength=S)
      alpha /= max(alpha.sum(), 1e-300)
    return ent, mean

  def prefix_entropies_bits(self, n):
    return self._prefix_stats(n)[0]

  def prefix_mean_distributions(self, n):
    return self._prefix_stats(n)[1]


class DFALanguage(AutomatonLanguage):
  """A regular language from an explicit DFA (its state set does not depend on length)."""

  def __init__(self, name: str, alphabet: tuple[str, ...], delta, accept, start: int,
               p: float = 0.5):
    super().__init__(p)
    self.name, self.alphabet = name, tuple(alphabet)
    self._auto = Automaton(np.asarray(delta, np.int64), np.asarray(accept, bool), int(start))

  def automaton(self, max_length):
    return self._auto
