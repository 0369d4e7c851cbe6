"""PARITY (Hahn 2020 §4): bit strings with an even number of 1s.

Convention: the paper's, member iff the number of 1s is even. `parity:odd` switches to
the convention of Chiang & Cholak (2022) and Delétang et al. (2023): member iff odd.

Recognition: members and non-members of exact length n, each uniform over its class
(n-1 uniform bits, then the last bit fixes the parity).

Generator (next-symbol prediction, Hahn 2020 §4): a 2-state automaton tracking the parity
of the 1s read so far. In the even state it emits EOS with probability p and 0 or 1 with
probability (1-p)/2 each; in the odd state 0 or 1 with probability 1/2 each. (EOS is
emitted from the even state under both conventions: the generator is the paper's; `odd`
only changes recognition labels.)

Prediction prefixes (default, the paper's): the generator conditioned on emitting no EOS
in its first t steps, i.e. the prefix of a generated string of length >= t. These are
exactly the prefixes of `mod:m=2` (the same DFA on the engine of automaton.py: same
batches for the same key, same exact cross-entropies; tested); they are not uniform
bits (P(x_1 = 1) = 1/(2-p) at t = 2; conditioned on surviving, prefixes dwell in the
odd state, which cannot stop): at n = 128, p = 0.5 the optimal cross-entropy is 1.1699
bits, where uniform bits give 1.2519.
`parity:prefixes=uniform` keeps the earlier variant: t uniform bits, the generator with
EOS skipped step by step (each step conditioned on not stopping *at that step*), whose
cross-entropies are closed-form. Optimal/chance are computed for the prefixes actually
sampled.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from limits.languages import automaton, base
from limits.languages import threefry

PREFIXES = ("generator", "uniform")


class Parity(base.Language):
  """PARITY over symbols `0 1`; `odd=True` labels odd counts as members; `prefixes`
  "generator" (the paper's conditioned generator) or "uniform" (uniform bits)."""

  alphabet = ("0", "1")

  def __init__(self, p: float = 0.5, odd: bool = False, prefixes: str = "generator"):
    super().__init__(p)
    if prefixes not in PREFIXES:
      raise ValueError(f"data.language: parity prefixes must be one of {', '.join(PREFIXES)}, "
                       f"got {prefixes!r}")
    self.odd, self.prefixes = bool(odd), prefixes
    flags = (["odd"] if self.odd else []) + (["prefixes=uniform"] if prefixes == "uniform" else [])
    self.name = "parity" + (":" + ",".join(flags) if flags else "")
    # The paper's generator is the even-accepting parity DFA's (EOS from the even state
    # under both labelling conventions): its prefixes and exact DP come from the engine.
    self._generator = automaton.DFALanguage("mod:m=2", self.alphabet, [[0, 1], [1, 0]],
                                            [True, False], 0, p)

  def as_dfa(self) -> automaton.DFALanguage:
    """This language on automaton.py's engine (the even-accepting 2-state DFA), as a mixed
    population (`sweep.languages`) samples it: the same distributions as this class's
    samplers (its prediction prefixes are exactly these), other recognition draws.
    `odd` and `prefixes=uniform` have no such twin (their labels or generator differ)."""
    if self.odd or self.prefixes != "generator":
      raise ValueError(f"sweep.languages: {self.name} has no DFA twin with the same generator; "
                       f"a mixed population takes plain `parity` (or a dfa:path=... file)")
    dfa = automaton.DFALanguage("parity", self.alphabet, [[0, 1], [1, 0]], [True, False], 0,
                                self.p)
    return dfa.configure(near_miss_fraction=self.near_miss_fraction, targets=self.targets)

  def members_exist(self, n: int) -> bool:
    return n >= 0   # 0^n has no 1s (and 0^(n-1) 1 an odd count): both classes, every n >= 1

  def _member_parity(self) -> int:
    return 1 if self.odd else 0

  def accepts(self, symbols_BxL, lengths_B):
    valid = jnp.arange(symbols_BxL.shape[1])[None, :] < lengths_B[:, None]
    ones = jnp.sum(jnp.where(valid, symbols_BxL == 1, False), axis=1)
    return (ones % 2) == self._member_parity()

  def sample_symbols(self, key, labels_B, lengths_B, max_length):
    bits = threefry.uniform_symbols(key, lengths_B.shape[0], max_length, 2)   # 32 bits a word
    pos = jnp.arange(max_length)[None, :]
    n = lengths_B[:, None]
    head = jnp.where(pos < n - 1, bits, 0)
    # Members have (#1s % 2) == member parity; the last symbol makes it so.
    want = jnp.where(labels_B == 1, self._member_parity(), 1 - self._member_parity())
    last = (want - jnp.sum(head, axis=1)) % 2
    return jnp.where(pos == n - 1, last[:, None], head)

  def sample_prefixes(self, key, lengths_B, max_length):
    if self.prefixes == "generator":
      return self._generator.sample_prefixes(key, lengths_B, max_length)
    return threefry.uniform_symbols(key, lengths_B.shape[0], max_length, 2)

  def _q(self):
    even = np.array([(1 - self.p) / 2, (1 - self.p) / 2, self.p])
    odd = np.array([0.5, 0.5, 0.0])
    return even, odd

  def next_symbol_distribution(self, symbols_BxL):
    even, odd = (jnp.asarray(v, jnp.float32) for v in self._q())
    ones = jnp.pad(jnp.cumsum(symbols_BxL == 1, axis=1), ((0, 0), (1, 0)))  # t = 0..L
    is_even = (ones % 2 == 0)[..., None]
    return jnp.where(is_even, even, odd)

  def prefix_entropies_bits(self, n):
    if self.prefixes == "generator":
      return self._generator.prefix_entropies_bits(n)
    even, odd = self._q()
    h_even, h_odd = base.entropy_bits(even), base.entropy_bits(odd)
    # t = 0: the empty prefix is even; t >= 1: uniform bits are even w.p. 1/2.
    return np.array([h_even] + [(h_even + h_odd) / 2] * n)

  def prefix_mean_distributions(self, n):
    if self.prefixes == "generator":
      return self._generator.prefix_mean_distributions(n)
    even, odd = self._q()
    return np.stack([even] + [(even + odd) / 2] * n)

  def prefix_allowed_rates(self, n):
    if self.prefixes == "generator":
      return self._generator.prefix_allowed_rates(n)
    # 0 and 1 are always allowed; EOS in the even state (t = 0, then half the prefixes).
    return np.stack([[1.0, 1.0, 1.0]] + [[1.0, 1.0, 0.5]] * n)
