"""Positional encodings p_i added to the word embedding at layer 0 (Hahn 2020 §3).

Positions count from the start of the string: the first symbol (or BOS) is position 0.
Letters: T positions, D width.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

POSITIONAL = ("sinusoidal", "none")


def sinusoidal(num_positions: int, width: int) -> jnp.ndarray:
  """float32[T, D] sinusoidal encoding of Vaswani et al. (2017), positions 0..T-1."""
  pos_T1 = np.arange(num_positions)[:, None]
  i = np.arange(width // 2 + width % 2)
  inv_freq = 1.0 / (10000.0 ** (2 * i / width))
  angles = pos_T1 * inv_freq[None, :]
  pe = np.zeros((num_positions, width), np.float32)
  pe[:, 0::2] = np.sin(angles)[:, : (width + 1) // 2]
  pe[:, 1::2] = np.cos(angles)[:, : width // 2]
  return jnp.asarray(pe)


def encoding(kind: str, num_positions: int, width: int) -> jnp.ndarray:
  """float32[T, D] encoding of `kind`; ValueError names an unknown kind."""
  if kind == "sinusoidal":
    return sinusoidal(num_positions, width)
  if kind == "none":
    return jnp.zeros((num_positions, width), jnp.float32)
  raise ValueError(f"model.positional: unknown encoding {kind!r}; allowed: {', '.join(POSITIONAL)}")
