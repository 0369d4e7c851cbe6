"""Delétang et al. (2023)'s four regular string-classification tasks.

"Neural Networks and the Chomsky Hierarchy" (ICLR 2023), regular level. Each string of
length n is drawn uniformly (every position uniform over the symbols allowed there) and
labelled with one of `n_classes` classes, exactly as in their generators:

  even_pairs          0 1; class 1 iff the number of `01` and `10` pairs is odd (i.e. the
                      first and last symbols differ), 2 classes.
  parity_check        0 1; class = number of 1s mod 2, 2 classes.
  cycle_navigation    0 1 2 = move -1, stay, +1 on a cycle of 5 starting at 0; class =
                      final position, 5 classes.
  modular_arithmetic  0 1 2 3 4 + - *, numbers at even positions and operators at odd ones
                      (so n must be odd); class = the value mod 5 with the usual precedence
                      (* before + and -), 5 classes. E.g. 1+2*3 -> 2, 1-1-1 -> 4.

Classes are not balanced (their sampling is uniform over strings, not over classes). The
task is recognition (classification) only: these tasks have no generator. `accepts` means
"class 0". Each task is a small automaton whose state determines the class, so labels
come from one scan and the exact class distribution at length n (hence the chance
cross-entropy) from dynamic programming over states.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from limits.languages import base
from limits.languages import tokens


class ClassificationTask(base.Recogniser):
  """Uniform strings labelled by an automaton: delta[S, N], class of each state."""

  supports_near_misses = False   # classes of uniform strings, not members / non-members

  def __init__(self, name: str, alphabet: tuple[str, ...], delta: np.ndarray, start: int,
               state_class: np.ndarray, n_classes: int, position_symbols: tuple[tuple[int, ...], ...],
               odd_only: bool = False):
    super().__init__(0.5)
    self.name, self.alphabet = name, alphabet
    self.delta = np.asarray(delta, np.int32)
    self.start, self.n_classes = start, n_classes
    self.state_class = np.asarray(state_class, np.int32)
    # Allowed symbols cycle with the position: position t uses position_symbols[t % len].
    self.position_symbols = position_symbols
    self.odd_only = odd_only

  def num_classes(self, task: str) -> int:
    return self.n_classes

  def check_length(self, n: int) -> None:
    super().check_length(n)
    if self.odd_only and n % 2 == 0:
      raise ValueError(f"{self.name} strings have odd length (number op number ...), got {n}")

  def _uniform(self, key: jax.Array, batch: int, max_length: int) -> jax.Array:
    period = len(self.position_symbols)
    sizes = np.array([len(s) for s in self.position_symbols])
    table = np.full((period, sizes.max()), -1, np.int32)
    for i, s in enumerate(self.position_symbols):
      table[i, :len(s)] = s
    u = jax.random.uniform(key, (batch, max_length))
    phase = jnp.arange(max_length) % period
    idx = jnp.floor(u * jnp.asarray(sizes)[phase][None, :]).astype(jnp.int32)
    return jnp.asarray(table)[phase[None, :], idx]

  def classify(self, symbols_BxL: jax.Array, lengths_B: jax.Array) -> jax.Array:
    """int32[B]: the class of each string (padding positions are ignored)."""
    delta = jnp.asarray(self.delta)
    valid_LxB = (jnp.arange(symbols_BxL.shape[1])[:, None] < lengths_B[None, :])

    def step(state_B, xs):
      sym_B, ok_B = xs
      return jnp.where(ok_B, delta[state_B, jnp.clip(sym_B, 0, self.n_symbols - 1)], state_B), None

    state_B = jnp.full(symbols_BxL.shape[:1], self.start, jnp.int32)
    state_B, _ = jax.lax.scan(step, state_B, (symbols_BxL.T, valid_LxB))
    return jnp.asarray(self.state_class)[state_B]

  def accepts(self, symbols_BxL, lengths_B):
    return self.classify(symbols_BxL, lengths_B) == 0

  def recognition(self, key, lengths_B, max_length):
    sym = self._uniform(key, lengths_B.shape[0], max_length)
    labels = self.classify(sym, lengths_B)
    return tokens.Batch(tokens_BxT=tokens.recognition_tokens(sym, lengths_B, self.n_symbols),
                        lengths_B=lengths_B.astype(jnp.int32), labels_B=labels.astype(jnp.int32))

  def class_distribution(self, n: int) -> np.ndarray:
    """float64[n_classes]: exact class probabilities of a uniform string of length n."""
    dist = np.zeros(len(self.delta))
    dist[self.start] = 1.0
    for t in range(n):
      allowed = self.position_symbols[t % len(self.position_symbols)]
      nxt = np.zeros_like(dist)
      for a in allowed:
        np.add.at(nxt, self.delta[:, a], dist / len(allowed))
      dist = nxt
    out = np.zeros(self.n_classes)
    np.add.at(out, self.state_class, dist)
    return out

  def chance_xent_bits(self, task: str, n: int) -> float:
    """Entropy of the class distribution at length n (the best input-ignoring guess)."""
    return base.entropy_bits(self.class_distribution(n))


def even_pairs(p: float = 0.5) -> ClassificationTask:
  # States: 0 start, 1 + 2*first + last (first, last in {0, 1}).
  delta = np.zeros((5, 2), np.int32)
  for a in (0, 1):
    delta[0, a] = 1 + 2 * a + a
    for first in (0, 1):
      for last in (0, 1):
        delta[1 + 2 * first + last, a] = 1 + 2 * first + a
  cls = np.array([0] + [int(f != l) for f in (0, 1) for l in (0, 1)])
  return ClassificationTask("even_pairs", ("0", "1"), delta, 0, cls, 2, ((0, 1),))


def parity_check(p: float = 0.5) -> ClassificationTask:
  delta = np.array([[0, 1], [1, 0]])
  return ClassificationTask("parity_check", ("0", "1"), delta, 0, np.array([0, 1]), 2, ((0, 1),))


def cycle_navigation(p: float = 0.5) -> ClassificationTask:
  delta = np.array([[(s + a - 1) % 5 for a in range(3)] for s in range(5)])
  return ClassificationTask("cycle_navigation", ("0", "1", "2"), delta, 0, np.arange(5), 5,
                            ((0, 1, 2),))


def modular_arithmetic(p: float = 0.5) -> ClassificationTask:
  """States: number states (acc, term) -> id acc*5+term; operator states (acc, m) -> 25 +
  acc*5+m, where the next number d makes term = m*d. Start: operator state (0, 1)."""
  m5 = 5
  delta = np.zeros((50, 8), np.int32)
  for acc in range(m5):
    for x in range(m5):
      num, op = acc * m5 + x, 25 + acc * m5 + x
      for d in range(m5):  # reading a number in an operator state (acc, m=x)
        delta[op, d] = acc * m5 + (x * d) % m5
      for o, sym in enumerate((5, 6, 7)):  # + - * in a number state (acc, term=x)
        delta[num, sym] = 25 + {0: ((acc + x) % m5) * m5 + 1,
                                1: ((acc + x) % m5) * m5 + (m5 - 1),
                                2: acc * m5 + x}[o]
  cls = np.array([(acc + x) % m5 for acc in range(m5) for x in range(m5)] + [0] * 25)
  return ClassificationTask("modular_arithmetic", ("0", "1", "2", "3", "4", "+", "-", "*"),
                            delta, 25 + 1, cls, 5, ((0, 1, 2, 3, 4), (5, 6, 7)), odd_only=True)
