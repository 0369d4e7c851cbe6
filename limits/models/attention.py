"""Multi-head scaled dot-product attention, as f_att in Hahn (2020) §3.

Letters: B batch, T positions (queries and keys), H heads, K head width, D model width.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

ATTENTION = ("soft",)


def attention_weights(scores_BxHxTxT: jax.Array, mask_BxTxT: jax.Array, kind: str) -> jax.Array:
  """Attention weights from scores a_ij; masked keys get weight exactly 0.

  `soft`: softmax over keys j. A large finite negative (not -inf) keeps rows with no
  valid key finite; exp of it underflows to exactly 0, so masked keys never contribute.
  """
  neg = jnp.finfo(scores_BxHxTxT.dtype).min
  scores = jnp.where(mask_BxTxT[:, None], scores_BxHxTxT, neg)
  if kind == "soft":
    return jax.nn.softmax(scores, axis=-1)
  raise ValueError(f"model.attention: unknown kind {kind!r}; allowed: {', '.join(ATTENTION)}")


class MultiHeadAttention(nn.Module):
  """H heads of scaled dot-product attention b_{i,h} combined by an output projection."""

  heads: int
  head_dim: int
  width: int
  kind: str = "soft"

  @nn.compact
  def __call__(self, y_BxTxD: jax.Array, mask_BxTxT: jax.Array) -> jax.Array:
    proj = lambda name: nn.DenseGeneral((self.heads, self.head_dim), name=name)
    q_BxTxHxK, k_BxTxHxK, v_BxTxHxK = (proj(n)(y_BxTxD) for n in ("query", "key", "value"))
    scores_BxHxTxT = jnp.einsum("bqhk,bshk->bhqs", q_BxTxHxK, k_BxTxHxK) / jnp.sqrt(
        jnp.float32(self.head_dim))
    att_BxHxTxT = attention_weights(scores_BxHxTxT, mask_BxTxT, self.kind)
    self.sow("intermediates", "attention", att_BxHxTxT)
    b_BxTxHxK = jnp.einsum("bhqs,bshk->bqhk", att_BxHxTxT, v_BxTxHxK)
    return nn.DenseGeneral(self.width, axis=(-2, -1), name="out")(b_BxTxHxK)
