"""Counter languages a^n b^n and a^n b^n c^n, over `a b` and `a b c`.

Definitions. anbn = {a^i b^i : i >= 0}, a positive control of Hahn (2020) §5 (hard
attention can recognise it) and a standard counter language (Bhattamishra et al. 2020;
Weiss et al. 2018). anbncn = {a^i b^i c^i : i >= 0} (Bhattamishra et al. 2020): not
context-free, still a counter language.

Recognition. Length n has exactly one member if n is a multiple of the number of letters
l (2 or 3), else none (ValueError). Non-members are uniform by rejection (the member has
probability l^-n).

Generator (prediction), documented here: at the start emit EOS with probability p or
`a` with 1 - p; while only a's have been read, `a` or `b` with probability 1/2 each;
after the first b (with i a's read) the rest b^(i-1) c^i is forced, then EOS with
probability 1. Unconditionally the first b follows exactly i >= 1 a's with probability
(1 - p) 2^-i. Conditioned on no EOS in the first m steps, either i is in
[ceil(m/l), m-1] (weight 2^-i) or the first m symbols are all a's (weight 2^-(m-1)):
sampled in one categorical draw, no scan. Exact cross-entropies enumerate i.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from limits.languages import base


class Counter(base.SplitClasses):
  """a^n b^n (letters=2) or a^n b^n c^n (letters=3)."""

  def __init__(self, p: float = 0.5, letters: int = 2):
    super().__init__(p)
    self.letters = int(letters)
    self.alphabet = ("a", "b", "c")[:self.letters]
    self.name = "anbn" if self.letters == 2 else "anbncn"

  def check_length(self, n):
    super().check_length(n)
    if n % self.letters:
      word = "even" if self.letters == 2 else "a multiple of 3"
      raise ValueError(f"{self.name}: no member of length {n} exists (the length must be {word})")

  def _member(self, lengths_B, max_length):
    i = jnp.maximum(lengths_B // self.letters, 1)[:, None]
    return jnp.minimum(jnp.arange(max_length)[None, :] // i, self.letters - 1).astype(jnp.int32)

  def accepts(self, symbols_BxL, lengths_B):
    L = symbols_BxL.shape[1]
    valid = jnp.arange(L)[None, :] < lengths_B[:, None]
    same = jnp.all(~valid | (symbols_BxL == self._member(lengths_B, L)), axis=1)
    return same & (lengths_B % self.letters == 0)

  def sample_class(self, key, label, lengths_B, max_length):
    if label == 1:
      return self._member(lengths_B, max_length)
    return self.reject_non_members(key, lengths_B, max_length)

  def sample_prefixes(self, key, lengths_B, max_length):
    i = jnp.arange(max_length + 1)[None, :]
    m = lengths_B[:, None]
    lo = (m + self.letters - 1) // self.letters
    logit = jnp.where(i == m, -(m - 1.0), -i.astype(jnp.float32)) * math.log(2.0)
    logit = jnp.where((i >= lo) & (i <= m), logit, -jnp.inf)
    n_a = jnp.maximum(jax.random.categorical(key, logit, axis=-1), 1)[:, None]
    t = jnp.arange(max_length)[None, :]
    return jnp.minimum(t // n_a, self.letters - 1).astype(jnp.int32)

  def next_symbol_distribution(self, symbols_BxL):
    B, L = symbols_BxL.shape
    l = self.letters
    lead = jnp.argmax(jnp.pad(symbols_BxL != 0, ((0, 0), (0, 1)), constant_values=True), axis=1)
    t = jnp.arange(L + 1)[None, :]
    i = jnp.maximum(lead, 1)[:, None]
    letter = jnp.where(t < l * i, jnp.minimum(t // i, l - 1), l)
    forced = jax.nn.one_hot(letter, l + 1)
    a_phase = jnp.zeros(l + 1).at[0].set(0.5).at[1].set(0.5)
    start = jnp.zeros(l + 1).at[0].set(1 - self.p).at[l].set(self.p)
    q = jnp.where((t <= lead[:, None])[..., None], a_phase, forced)
    return jnp.where((t == 0)[..., None], start, q)

  @functools.lru_cache(maxsize=None)
  def _prefix_stats(self, n: int):
    l, p = self.letters, self.p
    ent, mean = np.zeros(n + 1), np.zeros((n + 1, l + 1))
    ent[0] = base.entropy_bits([p, 1 - p])
    mean[0, 0], mean[0, l] = 1 - p, p
    if n == 0:
      return ent, mean
    i = np.arange(-(-n // l), n + 1)
    w = np.where(i == n, 2.0 ** -(n - 1.0 - n + 1), 2.0 ** -(i - n + 1.0))  # scaled by 2^(n-1)
    w /= w.sum()
    for t in range(1, n + 1):
      a = i >= t
      ent[t] = w[a].sum()
      mean[t, 0] += 0.5 * w[a].sum()
      mean[t, 1] += 0.5 * w[a].sum()
      letter = np.where(t < l * i, np.minimum(t // i, l - 1), l)
      np.add.at(mean[t], letter[~a], w[~a])
    return ent, mean

  def prefix_entropies_bits(self, n):
    return self._prefix_stats(n)[0]

  def prefix_mean_distributions(self, n):
    return self._prefix_stats(n)[1]
