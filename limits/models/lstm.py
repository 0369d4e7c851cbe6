"""LSTM baseline: recogniser and next-symbol predictor reading the same `Batch` layout.

`model.width` is the hidden size and `model.depth` the number of stacked LSTM layers
(parameters `layer_{l}`); the transformer-only fields are ignored. The LSTM reads left to
right, so the state at position t depends on tokens 0..t only: padding after a string
never changes its outputs (padded = unpadded), and `seq_lengths` stops each string's
carry at its last token.

Recognition: logits_BxC from the state at `readout_B` (the EOS position, like y_n^(L)).
Prediction: logits_BxTxC at every position (BOS predicts x_1), causal by construction.

Letters: B batch, T positions, D hidden size, C classes.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from limits.models.transformer import ModelConfig


class LSTM(nn.Module):
  """Embedding, `depth` LSTM layers of `width` units, linear readout."""

  cfg: ModelConfig
  vocab_size: int
  num_classes: int
  pad_id: int
  task: str = "recognition"

  @nn.compact
  def __call__(self, tokens_BxT: jax.Array, readout_B: jax.Array) -> jax.Array:
    c = self.cfg
    lengths_B = jnp.sum(tokens_BxT != self.pad_id, axis=1).astype(jnp.int32)
    h_BxTxD = nn.Embed(self.vocab_size, c.width, name="embed")(tokens_BxT)
    for l in range(c.depth):
      # parent=None: the cell belongs to its RNN, so params nest under layer_{l}/cell.
      cell = nn.OptimizedLSTMCell(c.width, parent=None)
      h_BxTxD = nn.RNN(cell, name=f"layer_{l}")(
          h_BxTxD, seq_lengths=lengths_B)
    readout = nn.Dense(self.num_classes, name="readout")
    if self.task == "recognition":
      h_BxD = jnp.take_along_axis(h_BxTxD, readout_B[:, None, None], axis=1)[:, 0]
      return readout(h_BxD)
    return readout(h_BxTxD)
