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

Prediction prefixes: t uniform bits, i.e. the generator with EOS skipped step by step
(each step conditioned on not stopping *at that step*), so the exact cross-entropies
below are closed-form. This differs from the DFA engine's prefixes (automaton.py:
conditioned on no EOS in the first t steps, where P(x_1 = 1) = 1/(2-p) at t = 2), so
`parity` and `mod:m=2` give different, each exactly scored, prediction batches. Both
prefix distributions cover every string, and optimal/chance are computed for the one
actually sampled.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from limits.languages import base


class Parity(base.Language):
  """PARITY over symbols `0 1`; `odd=True` labels odd counts as members."""

  alphabet = ("0", "1")

  def __init__(self, p: float = 0.5, odd: bool = False):
    super().__init__(p)
    self.odd = bool(odd)
    self.name = "parity:odd" if self.odd else "parity"

  def _member_parity(self) -> int:
    return 1 if self.odd else 0

  def accepts(self, symbols_BxL, lengths_B):
    valid = jnp.arange(symbols_BxL.shape[1])[None, :] < lengths_B[:, None]
    ones = jnp.sum(jnp.where(valid, symbols_BxL == 1, False), axis=1)
    return (ones % 2) == self._member_parity()

  def sample_symbols(self, key, labels_B, lengths_B, max_length):
    bits = base.uniform_symbols(key, lengths_B.shape[0], max_length, 2)   # 32 bits a word
    pos = jnp.arange(max_length)[None, :]
    n = lengths_B[:, None]
    head = jnp.where(pos < n - 1, bits, 0)
    # Members have (#1s % 2) == member parity; the last symbol makes it so.
    want = jnp.where(labels_B == 1, self._member_parity(), 1 - self._member_parity())
    last = (want - jnp.sum(head, axis=1)) % 2
    return jnp.where(pos == n - 1, last[:, None], head)

  def sample_prefixes(self, key, lengths_B, max_length):
    return base.uniform_symbols(key, lengths_B.shape[0], max_length, 2)

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
    even, odd = self._q()
    h_even, h_odd = base.entropy_bits(even), base.entropy_bits(odd)
    # t = 0: the empty prefix is even; t >= 1: uniform bits are even w.p. 1/2.
    return np.array([h_even] + [(h_even + h_odd) / 2] * n)

  def prefix_mean_distributions(self, n):
    even, odd = self._q()
    return np.stack([even] + [(even + odd) / 2] * n)
