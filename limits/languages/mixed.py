"""Many regular languages in one compiled program: the automaton as data.

A population whose members learn different languages (`sweep.languages`) holds one
`MixedDFA`: the languages' sampling tables (automaton.py's fixed-point thresholds for
uniform members/non-members and for generator prefixes, transitions, accepting states,
generator) padded to a common state count and stacked on a leading language axis
(`DFATables`). Member m's step reads row languages[m] of them (`member_tables`), and
`bind(tables)` is a `Language` whose samplers take those (traced) arrays, so one vmapped,
jitted step trains member m on its own language.

Bit-exactness: a bound language draws the same uniforms as the language alone
(`threefry.uniform_ints` on the same key) and compares them with the same integer thresholds;
padded states are never reached. So a member's batches equal those of its language's
own sampler, symbol for symbol (tested). `parity`, whose own class samples recognition
strings bit by bit, joins as its DFA (`Parity.as_dfa`: the same distributions and
prediction prefixes, other recognition draws; equal to `mod:m=2`'s batches).

Letters: K languages, L max length, S padded states, C combined states (2S for
recognition: label x state), A symbols.
"""

from __future__ import annotations

from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from limits.languages import automaton, base
from limits.languages import threefry

FULL = 1 << threefry.UNIFORM_BITS   # a threshold no uniform reaches: always the first symbol


@flax.struct.dataclass
class DFATables:
  """One language's (or, stacked, K languages') sampling tables at one max length L."""

  count_th: jax.Array     # int32[(K,) L, 2S, A-1]: member/non-member thresholds
  count_nx: jax.Array     # int32[(K,) 2S, A]: next combined state label * S + s
  prefix_th: jax.Array    # int32[(K,) L, S, A-1]: generator-prefix thresholds
  delta: jax.Array        # int32[(K,) S, A]
  accept: jax.Array       # bool[(K,) S]
  gen: jax.Array          # float32[(K,) S, A+1]: generator q(. | state)
  start: jax.Array        # int32[(K,)]
  non_members: jax.Array  # bool[(K,) L+1]: a non-member of length n exists


class MixedDFA(base.Language):
  """K regular languages over one alphabet; samplers are per member (`bind`)."""

  def __init__(self, langs: Sequence[automaton.AutomatonLanguage]):
    # PARITY has its own sampler class; in a mixed population it runs as its DFA.
    langs = tuple(l.as_dfa() if hasattr(l, "as_dfa") else l for l in langs)
    if not langs:
      raise ValueError("sweep.languages: no language given")
    for lang in langs:
      if not isinstance(lang, automaton.DFALanguage):
        raise ValueError(f"sweep.languages: {lang.name!r} is not a regular language given "
                         f"by a DFA (mixed populations take the regular specs and "
                         f"dfa:path=...)")
      if lang.alphabet != langs[0].alphabet:
        raise ValueError(f"sweep.languages: every language needs the same alphabet; "
                         f"{langs[0].name!r} has {' '.join(langs[0].alphabet)}, "
                         f"{lang.name!r} has {' '.join(lang.alphabet)}")
    super().__init__(langs[0].p)
    self.languages = langs
    self.alphabet = langs[0].alphabet
    self.name = "mixed:" + ";".join(l.name for l in langs)
    self.near_miss_fraction = langs[0].near_miss_fraction
    self.targets = langs[0].targets

  def tables(self, max_length: int) -> DFATables:
    """The K languages' tables at this max length, stacked (cached, device arrays)."""
    cache = self.__dict__.setdefault("_tables", {})
    if max_length not in cache:
      S = max(l.automaton(max_length).delta.shape[0] for l in self.languages)
      rows = [_padded(l, max_length, S) for l in self.languages]
      with jax.ensure_compile_time_eval():
        cache[max_length] = jax.tree.map(lambda *x: jnp.asarray(np.stack(x)), *rows)
    return cache[max_length]

  def member_tables(self, max_length: int, index_M) -> DFATables:
    """Row index_M[m] of the stacked tables for every member m (leading axis M)."""
    idx = np.asarray(index_M)
    return jax.tree.map(lambda x: x[idx], self.tables(max_length))

  def bind(self, tables: DFATables) -> "BoundDFA":
    return BoundDFA(self, tables)

  # The population's language has no single sampler: each member binds its own.
  def _per_member(self, *args, **kwargs):
    raise ValueError(f"{self.name}: a mixed population samples per member "
                     f"(MixedDFA.bind(member tables))")

  sample_symbols = sample_prefixes = next_symbol_distribution = accepts = _per_member
  prefix_entropies_bits = prefix_mean_distributions = _per_member


def _padded(lang: automaton.AutomatonLanguage, L: int, S: int) -> DFATables:
  """numpy tables of one language with its states padded to S (padding never reached)."""
  t = lang.np_tables(L)
  delta = np.asarray(t.auto.delta, np.int64)
  s, A = delta.shape
  th, _ = lang._step_tables(L, "count")
  th = np.asarray(th)
  count_th = np.full((L, 2 * S, max(A - 1, 0)), FULL, np.int32)
  count_nx = np.tile(np.arange(2 * S)[:, None], (1, A)).astype(np.int32)
  for label in (0, 1):
    count_th[:, label * S:label * S + s] = th[:, label * s:(label + 1) * s]
    count_nx[label * S:label * S + s] = label * S + delta
  pth, _ = lang._step_tables(L, "prefix")
  prefix_th = np.full((L, S, max(A - 1, 0)), FULL, np.int32)
  prefix_th[:, :s] = np.asarray(pth)
  pad_delta = np.tile(np.arange(S)[:, None], (1, A)).astype(np.int32)
  pad_delta[:s] = delta
  accept = np.zeros(S, bool)
  accept[:s] = t.auto.accept
  gen = np.zeros((S, A + 1), np.float32)
  gen[:, 0] = 1.0
  gen[:s] = t.gen
  return DFATables(count_th=count_th, count_nx=count_nx, prefix_th=prefix_th,
                   delta=pad_delta, accept=accept, gen=gen,
                   start=np.int32(t.auto.start),
                   non_members=np.isfinite(t.log_count[0, :, t.auto.start]))


class BoundDFA(base.Language):
  """One member's language: the samplers of automaton.py reading `tables` (traced)."""

  def __init__(self, mixed: MixedDFA, tables: DFATables):
    super().__init__(mixed.p)
    self.name, self.alphabet, self.tables = mixed.name, mixed.alphabet, tables
    self.near_miss_fraction, self.targets = mixed.near_miss_fraction, mixed.targets

  def _check(self, max_length: int) -> None:
    if self.tables.count_th.shape[0] != max_length:
      raise ValueError(f"{self.name}: tables built for max length "
                       f"{self.tables.count_th.shape[0]}, sampled at {max_length}")

  def _forward(self, key, th, nx, c0_B, lengths_B, max_length):
    """automaton.AutomatonLanguage._forward with gathers (the tables are data)."""
    B, L = lengths_B.shape[0], max_length
    A = nx.shape[1]
    u_LxB = threefry.uniform_ints(key, (L, B))
    first_B = L - lengths_B
    nx_flat = nx.reshape(-1)

    def step(c_B, inp):
      j, th_CxK, u_B = inp
      a_B = jnp.sum(u_B[:, None] >= th_CxK[c_B], axis=1, dtype=jnp.int32)
      c_new = nx_flat[c_B * A + a_B]
      return jnp.where(j >= first_B, c_new, c_B), a_B

    _, sym_LxB = jax.lax.scan(step, c0_B, (jnp.arange(L), th, u_LxB))
    return threefry.left_align(sym_LxB, first_B)

  def sample_symbols(self, key, labels_B, lengths_B, max_length):
    self._check(max_length)
    t = self.tables
    S = t.delta.shape[0]
    c0 = (labels_B.astype(jnp.int32) * S + t.start).astype(jnp.int32)
    return self._forward(key, t.count_th, t.count_nx, c0, lengths_B, max_length)

  def sample_prefixes(self, key, lengths_B, max_length):
    self._check(max_length)
    t = self.tables
    c0 = jnp.broadcast_to(t.start, lengths_B.shape).astype(jnp.int32)
    return self._forward(key, t.prefix_th, t.delta, c0, lengths_B, max_length)

  def class_exists(self, lengths_B, max_length):
    return self.tables.non_members[jnp.clip(lengths_B, 0, max_length)]

  def _states(self, symbols_BxL):
    s0 = jnp.broadcast_to(self.tables.start, symbols_BxL.shape[:1]).astype(jnp.int32)
    return automaton.state_walk(self.tables.delta, s0, symbols_BxL)

  def accepts(self, symbols_BxL, lengths_B):
    L = symbols_BxL.shape[1]
    final = jnp.take_along_axis(self._states(symbols_BxL),
                                jnp.clip(lengths_B, 0, L)[:, None], 1)[:, 0]
    return self.tables.accept[final]

  def next_symbol_distribution(self, symbols_BxL):
    return self.tables.gen[self._states(symbols_BxL)]

  def _host_only(self, *args, **kwargs):
    raise ValueError(f"{self.name}: exact statistics are per language on the host "
                     f"(MixedDFA.languages[i])")

  prefix_entropies_bits = prefix_mean_distributions = _host_only
