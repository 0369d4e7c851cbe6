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


def alibi_slopes(heads: int) -> jnp.ndarray:
  """float32[H]: ALiBi slopes m_h = 2^-(h+1): Press et al. (2022)'s (and Delétang et al.'s)
  sequence for 8 heads, continued geometrically; independent of the head count (theirs
  is not) so that a population member with h heads has the slopes of the standalone
  h-head model."""
  return 2.0 ** -(jnp.arange(heads, dtype=jnp.float32) + 1.0)


def alibi_bias(positions_BxT: jax.Array, heads: int) -> jax.Array:
  """float32[B, H, T, T]: -m_h (|i - j| - 1/2 [j < i]), bidirectional ALiBi as Delétang et
  al. (2023) define it for an unmasked encoder (the 1/2 on keys left of the query breaks
  the left/right symmetry |i - j| alone would have)."""
  d_BxTxT = (positions_BxT[:, :, None] - positions_BxT[:, None, :]).astype(jnp.float32)
  dist_BxTxT = jnp.abs(d_BxTxT) - 0.5 * (d_BxTxT > 0)
  return -alibi_slopes(heads)[None, :, None, None] * dist_BxTxT[:, None]


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
  relative: str = ""      # "", "alibi", or "relative" (Transformer-XL; see positional.py)

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
    bias_BxHxTxT = None
    if self.relative == "alibi":
      bias_BxHxTxT = alibi_bias(positions_BxT, self.heads).astype(scores_BxHxTxT.dtype)
    elif self.relative == "relative":
      bias_BxHxTxT = self._relative_scores(y_BxTxD, q_BxTxHxK, k_BxTxHxK, positions_BxT)
    if bias_BxHxTxT is not None:
      scores_BxHxTxT = scores_BxHxTxT + bias_BxHxTxT
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
                                 float(self.temperature) / float(self.head_dim) ** 0.5,
                                 None if bias_BxHxTxT is None
                                 else float(self.temperature) * bias_BxHxTxT)
    else:
      b_BxTxHxK = jnp.einsum("bhqs,bshk->bqhk", att_BxHxTxT, v_BxTxHxK)
    return nn.DenseGeneral(self.width, axis=(-2, -1), name="out")(b_BxTxHxK)

  def _relative_scores(self, y_BxTxD, q_BxTxHxK, k_BxTxHxK, positions_BxT):
    """Transformer-XL's position terms (Dai et al. 2019, eq. 3 terms b-d without the
    content term a): u.k_j + (q_i + v).W_r R_{i-j}, R the sinusoidal encoding of the
    signed distance i - j (keys on both sides: an unmasked encoder), scaled like a_ij."""
    from limits.models import positional
    B, T, H, K = q_BxTxHxK.shape
    d_BxTxT = positions_BxT[:, :, None] - positions_BxT[:, None, :]
    span = T - 1
    table = positional.sinusoidal_signed(span, y_BxTxD.shape[-1]).astype(y_BxTxD.dtype)
    r_RxHxK = nn.DenseGeneral((self.heads, self.head_dim), use_bias=False,
                              name="relative")(table)                   # R = 2T - 1 distances
    u_HxK = self.param("relative_u", nn.initializers.zeros, (self.heads, self.head_dim))
    v_HxK = self.param("relative_v", nn.initializers.zeros, (self.heads, self.head_dim))
    content_BxHxT = jnp.einsum("hk,bshk->bhs", u_HxK.astype(k_BxTxHxK.dtype), k_BxTxHxK)
    pos_BxHxTxR = jnp.einsum("bqhk,rhk->bhqr", q_BxTxHxK + v_HxK.astype(q_BxTxHxK.dtype),
                             r_RxHxK)
    idx_BxTxT = jnp.clip(d_BxTxT + span, 0, 2 * span)
    pos_BxHxTxT = jnp.take_along_axis(
        pos_BxHxTxR, jnp.broadcast_to(idx_BxTxT[:, None], (B, H, T, T)), axis=-1)
    return (content_BxHxT[:, :, None, :] + pos_BxHxTxT) / jnp.sqrt(
        jnp.asarray(self.head_dim, q_BxTxHxK.dtype))
