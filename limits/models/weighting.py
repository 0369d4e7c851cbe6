"""The attention weightings of Hahn (2020) and its follow-ups as pure functions of the
scores, with their gradients: masked softmax (soft), unique and average hard attention
with a straight-through gradient, and the soft attention product b = softmax(a) v with a
custom VJP that keeps only what the backward pass needs. `attention.MultiHeadAttention`
is the module that builds the scores and calls these.

Letters: B batch, T positions (queries and keys), H heads, K head width.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

ATTENTION = ("soft", "hard_unique", "hard_average", "scaled")


def _masked(scores: jax.Array, mask: jax.Array) -> jax.Array:
  # A large finite negative (not -inf) keeps rows without a valid key finite.
  return jnp.where(mask, scores, jnp.finfo(scores.dtype).min)


@jax.custom_vjp
def _softmax(scores: jax.Array, mask: jax.Array) -> jax.Array:
  """softmax over the last axis of the keys `mask` allows; exactly 0 on masked keys and
  on rows with no key. Its VJP is the textbook w * (g - <g, w>) (one reduction), which
  XLA:CPU runs several times faster than the autodiff of exp / sum."""
  s = _masked(scores, mask)
  e = jnp.exp(s - jnp.max(s, axis=-1, keepdims=True))
  w = e / jnp.sum(e, axis=-1, keepdims=True)
  return jnp.where(mask, w, 0.0)


def _softmax_fwd(scores, mask):
  w = _softmax(scores, mask)
  return w, (w, mask)


def _softmax_bwd(res, g):
  w, mask = res
  # Masked keys have w = 0, so their gradient is 0 too, as for the masked forward.
  return w * (g - jnp.sum(g * w, axis=-1, keepdims=True)), None


_softmax.defvjp(_softmax_fwd, _softmax_bwd)


def _hard(scores: jax.Array, mask: jax.Array, kind: str) -> jax.Array:
  s = _masked(scores, mask)
  any_key = jnp.any(mask, axis=-1, keepdims=True)
  if kind == "hard_unique":
    # jnp.argmax returns the first maximal index: ties go to the leftmost key.
    w = jax.nn.one_hot(jnp.argmax(s, axis=-1), s.shape[-1], dtype=scores.dtype)
    return jnp.where(any_key, w, 0.0)
  tied = (s == jnp.max(s, axis=-1, keepdims=True)) & mask
  count = jnp.maximum(jnp.sum(tied, axis=-1, keepdims=True), 1)
  return tied.astype(scores.dtype) / count.astype(scores.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _hard_straight_through(scores, mask, kind, temperature):
  return _hard(scores, mask, kind)


def _hst_fwd(scores, mask, kind, temperature):
  return _hard(scores, mask, kind), (_softmax(temperature * scores, mask), mask)


def _hst_bwd(kind, temperature, res, g):
  p, mask = res
  # VJP of softmax(temperature * s): temperature * p * (g - <g, p>).
  ds = temperature * p * (g - jnp.sum(g * p, axis=-1, keepdims=True))
  return jnp.where(mask, ds, 0.0), None


_hard_straight_through.defvjp(_hst_fwd, _hst_bwd)


def attention_weights(scores_BxHxTxT: jax.Array, mask_BxHxTxT: jax.Array, kind: str,
                      temperature: float = 1.0, saturate: bool = False) -> jax.Array:
  """Attention weights from scores a_ij (any shape [..., T_q, T_k]); masked keys get 0.

  `mask` broadcasts against `scores` (True = may attend). Rows without a valid key are 0.
  """
  if kind not in ATTENTION:
    raise ValueError(f"model.attention: unknown kind {kind!r}; allowed: {', '.join(ATTENTION)}")
  mask = jnp.broadcast_to(mask_BxHxTxT, scores_BxHxTxT.shape)
  scores = scores_BxHxTxT
  if kind == "scaled":
    n = jnp.maximum(jnp.sum(mask, axis=-1, keepdims=True), 1).astype(scores.dtype)
    scores = scores * jnp.log(n)
  if saturate and kind in ("soft", "scaled"):
    kind = "hard_average"
  if kind in ("hard_unique", "hard_average"):
    return _hard_straight_through(scores, mask, kind, float(temperature))
  return _softmax(temperature * scores, mask)


def soft_attention(q_BxTxHxK, k_BxTxHxK, v_BxTxHxK, mask_BxHxTxT, scale: float,
                   bias_BxHxTxT: jax.Array | None = None):
  """b = softmax(scale * q k^T + bias) v over the keys the mask allows: [B, T, H, K].

  Same values as `attention_weights(..., "soft")` followed by the weighted sum; its VJP
  uses <g_w, w>_s = <g_b, b>_k (FlashAttention's D = rowsum(dO o O)), so the gradient
  of the [B, H, T, T] weights needs no reduction over keys, which XLA:CPU fuses badly
  into the batched dot that produces it. `bias` (ALiBi, relative positions; already
  multiplied by the temperature) is added to the scaled scores.
  """
  if bias_BxHxTxT is None:
    return _soft_attention(q_BxTxHxK, k_BxTxHxK, v_BxTxHxK, mask_BxHxTxT, scale)
  bias = jnp.broadcast_to(bias_BxHxTxT, mask_BxHxTxT.shape).astype(q_BxTxHxK.dtype)
  return _soft_attention_bias(q_BxTxHxK, k_BxTxHxK, v_BxTxHxK, mask_BxHxTxT, bias, scale)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _soft_attention(q, k, v, mask, scale):
  return _soft_fwd(q, k, v, mask, scale)[0]


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _soft_attention_bias(q, k, v, mask, bias, scale):
  return _soft_fwd(q, k, v, mask, scale, bias)[0]


def _soft_fwd(q, k, v, mask, scale, bias=None):
  s = scale * jnp.einsum("bqhk,bshk->bhqs", q, k)
  w = _softmax(s if bias is None else s + bias, mask)
  b = jnp.einsum("bhqs,bshk->bqhk", w, v)
  return b, (q, k, v, w, b, mask)


def _soft_bias_fwd(q, k, v, mask, bias, scale):
  return _soft_fwd(q, k, v, mask, scale, bias)


def _soft_bias_bwd(scale, res, g_b):
  g_q, g_k, g_v, g_bias = _soft_grads(scale, res, g_b)
  return g_q, g_k, g_v, None, g_bias


def _soft_bwd(scale, res, g_b):
  return _soft_grads(scale, res, g_b)[:3] + (None,)


def _soft_grads(scale, res, g_b):
  q, k, v, w, b, mask = res
  g_v = jnp.einsum("bhqs,bqhk->bshk", w, g_b)
  g_w = jnp.einsum("bqhk,bshk->bhqs", g_b, v)
  # D[b, h, q] = sum_k g_b b, as a matmul with the 0/1 head-membership matrix [H*K, H]:
  # XLA:CPU reduces a minor axis of K = 8 several times slower than it multiplies.
  B, T, H, K = b.shape
  heads = jnp.repeat(jnp.eye(H, dtype=b.dtype), K, axis=0)
  d = ((g_b * b).reshape(B * T, H * K) @ heads).reshape(B, T, H).transpose(0, 2, 1)[..., None]
  g_bias = w * (g_w - d)
  g_s = scale * g_bias
  return (jnp.einsum("bhqs,bshk->bqhk", g_s, k), jnp.einsum("bhqs,bqhk->bshk", g_s, q),
          g_v, g_bias)


_soft_attention.defvjp(_soft_fwd, _soft_bwd)
_soft_attention_bias.defvjp(_soft_bias_fwd, _soft_bias_bwd)
