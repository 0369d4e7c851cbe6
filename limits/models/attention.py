"""Multi-head scaled dot-product attention, as f_att in Hahn (2020) §3, with every
attention rule the literature compares.

Letters: B batch, T positions (queries and keys), H heads, K head width, D model width.

Kinds (`model.attention`):
  soft          softmax_j(temperature * a_ij) (the paper's soft attention, Lemma 5).
  hard_unique   UHAT: all weight on argmax_j a_ij, ties to the leftmost (first) position
                (Hahn 2020 §2, footnote 1). This is the model of Theorem 1.
  hard_average  AHAT: weight spread uniformly over every j attaining the maximum
                (Hao, Angluin & Frank 2022); strictly stronger than UHAT.
  scaled        softmax_j(temperature * log(n_i) * a_ij), n_i = number of keys query i may
                attend to (the string length in recognition): Chiang & Cholak (2022).

Hard kinds are trained with a straight-through estimator: the forward pass is exactly
hard, the backward pass is the gradient of softmax(temperature * a). `saturate=True`
evaluates a soft (or scaled) model with AHAT, the temperature -> infinity limit of
softmax ("saturated" attention, Merrill et al. 2021), using the same parameters.

Head masks (`model.head_masks`, one entry per head, default all `all`): `past` lets query
i see keys j < i only, `future` keys j > i only (Yao et al. 2021's positional masking,
used by their hard-attention Dyck-(k,D) recogniser). A query with no key it may attend to
gets the zero vector.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

ATTENTION = ("soft", "hard_unique", "hard_average", "scaled")
HEAD_MASKS = ("all", "past", "future")


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


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def soft_attention(q_BxTxHxK, k_BxTxHxK, v_BxTxHxK, mask_BxHxTxT, scale: float):
  """b = softmax(scale * q k^T) v over the keys the mask allows: [B, T, H, K].

  Same values as `attention_weights(..., "soft")` followed by the weighted sum; its VJP
  uses <g_w, w>_s = <g_b, b>_k (FlashAttention's D = rowsum(dO o O)), so the gradient
  of the [B, H, T, T] weights needs no reduction over keys, which XLA:CPU fuses badly
  into the batched dot that produces it.
  """
  return _soft_fwd(q_BxTxHxK, k_BxTxHxK, v_BxTxHxK, mask_BxHxTxT, scale)[0]


def _soft_fwd(q, k, v, mask, scale):
  w = _softmax(scale * jnp.einsum("bqhk,bshk->bhqs", q, k), mask)
  b = jnp.einsum("bhqs,bshk->bqhk", w, v)
  return b, (q, k, v, w, b, mask)


def _soft_bwd(scale, res, g_b):
  q, k, v, w, b, mask = res
  g_v = jnp.einsum("bhqs,bqhk->bshk", w, g_b)
  g_w = jnp.einsum("bqhk,bshk->bhqs", g_b, v)
  # D[b, h, q] = sum_k g_b b, as a matmul with the 0/1 head-membership matrix [H*K, H]:
  # XLA:CPU reduces a minor axis of K = 8 several times slower than it multiplies.
  B, T, H, K = b.shape
  heads = jnp.repeat(jnp.eye(H, dtype=b.dtype), K, axis=0)
  d = ((g_b * b).reshape(B * T, H * K) @ heads).reshape(B, T, H).transpose(0, 2, 1)[..., None]
  g_s = scale * w * (g_w - d)
  return (jnp.einsum("bhqs,bshk->bqhk", g_s, k), jnp.einsum("bhqs,bqhk->bshk", g_s, q),
          g_v, None)


soft_attention.defvjp(_soft_fwd, _soft_bwd)


def head_masks(kinds: tuple[str, ...], heads: int, t: int) -> jax.Array:
  """bool[H, T, T] per-head query x key masks (`all` / `past` / `future`)."""
  kinds = tuple(kinds) + ("all",) * (heads - len(kinds))
  q = jnp.arange(t)[:, None]
  k = jnp.arange(t)[None, :]
  table = {"all": jnp.ones((t, t), bool), "past": k < q, "future": k > q}
  return jnp.stack([table[kinds[h]] for h in range(heads)])


def rotary(x_BxTxHxK: jax.Array, positions_BxT: jax.Array, base: float = 10000.0) -> jax.Array:
  """Rotary position embedding (Su et al. 2021): rotate pairs of head dims by pos * theta_k.

  The first K - K % 2 dims are rotated in pairs (k, k + K/2); an odd last dim is unchanged.
  """
  k = x_BxTxHxK.shape[-1]
  half = k // 2
  if half == 0:
    return x_BxTxHxK
  inv_freq = 1.0 / (base ** (jnp.arange(half, dtype=jnp.float32) * 2.0 / (2 * half)))
  ang_BxTxK = positions_BxT[..., None].astype(jnp.float32) * inv_freq
  cos = jnp.cos(ang_BxTxK)[:, :, None, :].astype(x_BxTxHxK.dtype)
  sin = jnp.sin(ang_BxTxK)[:, :, None, :].astype(x_BxTxHxK.dtype)
  x1, x2, rest = x_BxTxHxK[..., :half], x_BxTxHxK[..., half:2 * half], x_BxTxHxK[..., 2 * half:]
  return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], axis=-1)


class MultiHeadAttention(nn.Module):
  """H heads of scaled dot-product attention b_{i,h} combined by an output projection.

  Scores a_ij = <q_i, k_j> / sqrt(K). Parameter names (`query`, `key`, `value`, `out`)
  are part of the checkpoint format and of the population masks: keep them.
  """

  heads: int
  head_dim: int
  width: int
  kind: str = "soft"
  temperature: float = 1.0
  saturate: bool = False
  head_mask_kinds: tuple[str, ...] = ()
  use_rotary: bool = False

  @nn.compact
  def __call__(self, y_BxTxD: jax.Array, mask_BxTxT: jax.Array,
               positions_BxT: jax.Array | None = None) -> jax.Array:
    proj = lambda name: nn.DenseGeneral((self.heads, self.head_dim), name=name)
    q_BxTxHxK, k_BxTxHxK, v_BxTxHxK = (proj(n)(y_BxTxD) for n in ("query", "key", "value"))
    if self.use_rotary:
      q_BxTxHxK = rotary(q_BxTxHxK, positions_BxT)
      k_BxTxHxK = rotary(k_BxTxHxK, positions_BxT)
    scores_BxHxTxT = jnp.einsum("bqhk,bshk->bhqs", q_BxTxHxK, k_BxTxHxK) / jnp.sqrt(
        jnp.asarray(self.head_dim, q_BxTxHxK.dtype))
    mask_BxHxTxT = mask_BxTxT[:, None]
    if any(m != "all" for m in self.head_mask_kinds):
      mask_BxHxTxT = mask_BxHxTxT & head_masks(self.head_mask_kinds, self.heads,
                                               y_BxTxD.shape[1])[None]
    att_BxHxTxT = attention_weights(scores_BxHxTxT, mask_BxHxTxT, self.kind,
                                    self.temperature, self.saturate)
    self.sow("intermediates", "attention", att_BxHxTxT)
    if self.kind == "soft" and not self.saturate:
      # The same weights, with the cheaper VJP (the sown copy is dead code unless asked).
      mask = jnp.broadcast_to(mask_BxHxTxT, scores_BxHxTxT.shape)
      b_BxTxHxK = soft_attention(q_BxTxHxK, k_BxTxHxK, v_BxTxHxK, mask,
                                 float(self.temperature) / float(self.head_dim) ** 0.5)
    else:
      b_BxTxHxK = jnp.einsum("bhqs,bshk->bqhk", att_BxHxTxT, v_BxTxHxK)
    return nn.DenseGeneral(self.width, axis=(-2, -1), name="out")(b_BxTxHxK)
