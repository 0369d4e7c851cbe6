"""The token layout every model reads, its one builder, and `Batch`.

Token layout (ids), for an alphabet of N symbols:
  0 .. N-1  the language's symbols, in the order of `Language.alphabet`
  N         EOS, the end-of-sequence symbol x_n of Hahn (2020) §3
  N + 1     BOS, read at position 0 by next-symbol prediction (predicts x_1)
  N + 2     PAD, masked out of attention and out of every loss and readout

Recognition input of a string of m symbols:  x_1 .. x_m EOS PAD ...   (readout at m)
Prediction input of a prefix of m symbols:   BOS x_1 .. x_m PAD ...    (readout at 0..m)
In prediction, output class c < N means symbol c and class N means EOS, so a class id is
the token id of what comes next.
Letters: B batch, L symbols (max length), T = L + 1 positions, C classes.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


def special_ids(n_symbols: int) -> tuple[int, int, int]:
  """(EOS, BOS, PAD) for an alphabet of `n_symbols`; the vocabulary has n_symbols + 3."""
  return n_symbols, n_symbols + 1, n_symbols + 2


def recognition_tokens(symbols_BxL, lengths_B, n_symbols: int) -> jax.Array:
  """int32[B, L + 1]: x_1 .. x_m EOS PAD ... for strings of m = lengths_B symbols
  (symbols at positions >= m are ignored); the readout is at m."""
  eos, _, pad = special_ids(n_symbols)
  L = symbols_BxL.shape[1]
  t = jnp.arange(L + 1)[None, :]
  sym = jnp.pad(jnp.asarray(symbols_BxL), ((0, 0), (0, 1)))
  n = jnp.asarray(lengths_B)[:, None]
  return jnp.where(t < n, sym, jnp.where(t == n, eos, pad)).astype(jnp.int32)


def prediction_tokens(symbols_BxL, lengths_B, n_symbols: int) -> jax.Array:
  """int32[B, L + 1]: BOS x_1 .. x_m PAD ... for prefixes of m = lengths_B symbols (the
  prediction at position t is of x_{t+1}, at m of what follows x_m)."""
  _, bos, pad = special_ids(n_symbols)
  L = symbols_BxL.shape[1]
  t = jnp.arange(L + 1)[None, :]
  n = jnp.asarray(lengths_B)[:, None]
  sym_shift = jnp.pad(jnp.asarray(symbols_BxL), ((0, 0), (1, 0)))  # BOS goes in front
  return jnp.where(t == 0, bos, jnp.where(t <= n, sym_shift, pad)).astype(jnp.int32)


@flax.struct.dataclass
class Batch:
  """A padded batch of strings, shapes static, built on device.

  tokens_BxT: int32 token ids (layout in the module docstring).
  lengths_B: int32 number of symbols m of each string (EOS/BOS not counted).
  labels_B: int32 class of each string (recognition: 1 = member), or None.
  targets_BxTxC: float32 exact next-symbol distribution q(. | prefix) at each position
    (prediction), or None. Rows at padding positions are zero. When `multilabel` is
    True the rows are instead the multi-hot set of allowed next symbols (support of q,
    Bhattamishra et al. 2020), not normalised.
  multilabel: static flag, True for `targets="allowed"` batches (metrics.losses then uses
    per-class sigmoid binary cross-entropy).
  """

  tokens_BxT: jax.Array
  lengths_B: jax.Array
  labels_B: jax.Array | None = None
  targets_BxTxC: jax.Array | None = None
  multilabel: bool = flax.struct.field(pytree_node=False, default=False)

  @property
  def readout_B(self) -> jax.Array:
    """Index of the last position y_n^(L) of each string (its EOS in recognition)."""
    return self.lengths_B

  @property
  def valid_BxT(self) -> jax.Array:
    """True at every non-padding position."""
    t = jnp.arange(self.tokens_BxT.shape[1])
    return t[None, :] <= self.lengths_B[:, None]
