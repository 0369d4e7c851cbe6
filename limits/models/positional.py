"""Positional encodings p_i added to the word embedding at layer 0 (Hahn 2020 §3).

Positions count from the start of the string: the first token (the first symbol in
recognition, BOS in prediction) is position 0, the EOS of an n-symbol string is position
n. Padding never changes the encoding of a valid position (padded = unpadded).

Kinds (`model.positional`):
  none        p_i = 0.
  sinusoidal  Vaswani et al. (2017), unbounded positions, bounded values.
  learned     a trained table of `max_positions` rows (parameter `pos_embed`); a string
              needing more positions is refused by `check_length` (and poisoned with NaN
              inside the model, so nothing beyond the table is silently wrong).
  cc          Chiang & Cholak (2022): dims 0 and 1 hold [i/N, (-1)^i], N = number of
              non-padding tokens of the string (n + 1 in recognition: symbols and EOS);
              the other dims are 0. Depends on the whole length, so recognition only.
  randomized  Ruoss et al. (2023): the positions of a string are a sorted uniform random
              subset of {0 .. max_positions-1}, fed to the sinusoidal table. Drawn from the
              `positions` rng when the caller passes one (training), else from a fixed key
              (evaluation is deterministic). Needs n + 1 <= max_positions.
  rotary      Su et al. (2021): nothing added here; queries and keys are rotated by the
              position inside attention (relative positions only).
  alibi       Press et al. (2022): nothing added here; each head's scores get
              -m_h (|i - j| - 1/2 [j < i]) (bidirectional, as Delétang et al. 2023;
              m_h = 2^-(h+1): attention.alibi_slopes).
  relative    Transformer-XL (Dai et al. 2019): nothing added here; scores get
              u.k_j + (q_i + v).W_r R_{i-j} with R the sinusoidal encoding of the signed
              distance i - j (attention.MultiHeadAttention._relative_scores).

Letters: B batch, T positions, D width, L max_positions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

POSITIONAL = ("none", "sinusoidal", "learned", "cc", "randomized", "rotary", "alibi", "relative")
ATTENTION_ONLY = ("rotary", "alibi", "relative")   # nothing added to the embedding
BOUNDED = ("learned", "randomized")  # need max_positions
# Encodings one population's max model can hold side by side, gated per member
# (sweep.positionals); cc and randomized depend on the string's length or a random draw.
MIXABLE = ("none", "sinusoidal", "learned", "rotary", "alibi", "relative")


def sinusoidal_table(num_positions: int, width: int) -> np.ndarray:
  """float32[T, D] sinusoidal encoding of Vaswani et al. (2017), positions 0..T-1."""
  pos_T1 = np.arange(num_positions)[:, None]
  i = np.arange(width // 2 + width % 2)
  inv_freq = 1.0 / (10000.0 ** (2 * i / width))
  angles = pos_T1 * inv_freq[None, :]
  pe = np.zeros((num_positions, width), np.float32)
  pe[:, 0::2] = np.sin(angles)[:, : (width + 1) // 2]
  pe[:, 1::2] = np.cos(angles)[:, : width // 2]
  return pe


def sinusoidal_signed(span: int, width: int) -> jnp.ndarray:
  """float32[2 span + 1, D]: the sinusoidal encoding of the distances -span..span."""
  pos_T1 = np.arange(-span, span + 1)[:, None]
  i = np.arange(width // 2 + width % 2)
  angles = pos_T1 * (1.0 / (10000.0 ** (2 * i / width)))[None, :]
  pe = np.zeros((2 * span + 1, width), np.float32)
  pe[:, 0::2] = np.sin(angles)[:, : (width + 1) // 2]
  pe[:, 1::2] = np.cos(angles)[:, : width // 2]
  return jnp.asarray(pe)


def sinusoidal(num_positions: int, width: int) -> jnp.ndarray:
  """float32[T, D] sinusoidal encoding, positions 0..T-1."""
  return jnp.asarray(sinusoidal_table(num_positions, width))


def encoding(kind: str, num_positions: int, width: int) -> jnp.ndarray:
  """float32[T, D] encoding of a length-independent `kind` (none, sinusoidal)."""
  if kind == "sinusoidal":
    return sinusoidal(num_positions, width)
  if kind == "none":
    return jnp.zeros((num_positions, width), jnp.float32)
  raise ValueError(f"model.positional: {kind!r} is not a fixed table; fixed tables: "
                   "none, sinusoidal")


def cc(valid_BxT: jax.Array, width: int, dtype=jnp.float32) -> jax.Array:
  """[B, T, D] Chiang & Cholak's [i/N, (-1)^i, 0, ...], N = valid tokens per string."""
  t = valid_BxT.shape[1]
  i_T = jnp.arange(t, dtype=dtype)
  n_B1 = jnp.maximum(jnp.sum(valid_BxT, axis=1, keepdims=True), 1).astype(dtype)
  frac_BxT = i_T[None, :] / n_B1
  sign_BxT = jnp.broadcast_to(jnp.where(jnp.arange(t) % 2 == 0, 1.0, -1.0).astype(dtype),
                              frac_BxT.shape)
  pe = jnp.stack([frac_BxT, sign_BxT], axis=-1)
  return jnp.pad(pe, ((0, 0), (0, 0), (0, width - 2)))


def randomized_positions(key: jax.Array, valid_BxT: jax.Array, max_positions: int) -> jax.Array:
  """int32[B, T]: a sorted uniform subset of {0..L-1} of size N_b per string.

  Depends only on the key, the batch row and N_b (not on T), so padded = unpadded.
  Padding positions get L - 1 (they are masked anyway).
  """
  b, t = valid_BxT.shape
  u_BxL = jax.random.uniform(key, (b, max_positions))
  chosen_BxT = jnp.argsort(u_BxL, axis=1)[:, :t]  # the T smallest draws' indices
  if t > max_positions:  # padding beyond the table (strings that fit are checked elsewhere)
    chosen_BxT = jnp.pad(chosen_BxT, ((0, 0), (0, t - max_positions)),
                         constant_values=max_positions)
  n_B1 = jnp.sum(valid_BxT, axis=1, keepdims=True)
  rank_T = jnp.arange(t)[None, :]
  chosen_BxT = jnp.where(rank_T < n_B1, chosen_BxT, max_positions)
  return jnp.minimum(jnp.sort(chosen_BxT, axis=1), max_positions - 1).astype(jnp.int32)


def check_length(kind: str, max_positions: int, tokens: int) -> None:
  """ValueError if a string of `tokens` tokens (symbols + EOS/BOS) cannot be encoded."""
  if kind in BOUNDED and tokens > max_positions:
    raise ValueError(
        f"model.max_positions: {kind} positional encoding covers {max_positions} positions, "
        f"but a string needs {tokens} (its symbols plus EOS/BOS); raise model.max_positions "
        f"or use shorter lengths")
