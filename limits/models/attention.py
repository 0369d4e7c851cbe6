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

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from limits.models.weighting import ATTENTION, attention_weights, soft_attention  # noqa: F401

HEAD_MASKS = ("all", "past", "future")

def alibi_slopes(heads: int) -> jnp.ndarray:
  """float32[H]: ALiBi slopes m_h = 2^-(h+1): Press et al. (2022)'s (and Delétang et al.'s)
  sequence for 8 heads, continued geometrically; independent of the head count (theirs
  is not) so that a population member with h heads has the slopes of the standalone
  h-head model."""
  return 2.0 ** -(jnp.arange(heads, dtype=jnp.float32) + 1.0)


def alibi_bias(positions_BxT: jax.Array, heads: int,
               query_positions_BxQ: jax.Array | None = None) -> jax.Array:
  """float32[B, H, Q, T]: -m_h (|i - j| - 1/2 [j < i]), bidirectional ALiBi as Delétang et
  al. (2023) define it for an unmasked encoder (the 1/2 on keys left of the query breaks
  the left/right symmetry |i - j| alone would have). Queries at `query_positions`
  (default: every key's position, Q = T)."""
  q_BxQ = positions_BxT if query_positions_BxQ is None else query_positions_BxQ
  d_BxTxT = (q_BxQ[:, :, None] - positions_BxT[:, None, :]).astype(jnp.float32)
  dist_BxTxT = jnp.abs(d_BxTxT) - 0.5 * (d_BxTxT > 0)
  return -alibi_slopes(heads)[None, :, None, None] * dist_BxTxT[:, None]


def head_masks(kinds: tuple[str, ...], heads: int, t: int) -> jax.Array:
  """bool[H, T, T] per-head query x key masks (`all` / `past` / `future`)."""
  return row_head_masks(kinds, heads, jnp.arange(t), t)


def row_head_masks(kinds: tuple[str, ...], heads: int, rows_Q: jax.Array, t: int) -> jax.Array:
  """bool[..., H, Q, T]: `head_masks` for the queries at indices `rows` (int[..., Q])."""
  kinds = tuple(kinds) + ("all",) * (heads - len(kinds))
  q = rows_Q[..., :, None]
  k = jnp.arange(t)
  table = {"all": jnp.ones(q.shape[:-1] + (t,), bool), "past": k < q, "future": k > q}
  return jnp.stack([table[kinds[h]] for h in range(heads)], axis=-3)


class KeyMask(NamedTuple):
  """A query x key mask by its factors, never built as T x T (probes read n in the
  thousands): query i may attend to key j iff `ok_BxT[b, j]`, and j <= i if `causal`.
  Passing one instead of a bool mask selects `MultiHeadAttention`'s query-row path."""

  ok_BxT: jax.Array
  causal: bool = False


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

  Given a `KeyMask` instead of a bool mask, attention runs on query rows (`rows_BxR`,
  default every position) in chunks of `query_chunk` rows (0: all at once) under
  `lax.map`, so memory is O(chunk x T) per head, never T x T; the arithmetic is the same
  per row. That path also sows, per head (float32[B, H]), what Lemma 5's constants need:
  `max_logit` (|softmax input|, temperature, bias and log n scaling included),
  `max_weight`, `entropy_sum` (nats, summed over rows) and `rows`, and the largest
  `q_norm`/`k_norm`/`v_norm`.
  """

  heads: int
  head_dim: int
  width: int
  kind: str = "soft"
  temperature: float = 1.0
  saturate: bool = False
  head_mask_kinds: tuple[str, ...] = ()
  # Position terms applied inside attention: any of "rotary", "alibi", "relative"
  # (Transformer-XL; see positional.py). One entry for a model of one encoding; several in
  # a population whose members differ in `model.positional` (then `gates` says which).
  encodings: tuple[str, ...] = ()
  query_chunk: int = 0

  @nn.compact
  def __call__(self, y_BxTxD: jax.Array, mask_BxTxT: jax.Array | KeyMask,
               positions_BxT: jax.Array | None = None,
               gates: dict[str, jax.Array] | None = None,
               rows_BxR: jax.Array | None = None) -> jax.Array:
    """Output [B, T, D] (with a `KeyMask`: [B, R, D], the rows `rows_BxR` only).

    `gates` (one bool scalar per entry of `encodings`) switches each position term on
    or off for this call; None applies every one (a model of one encoding)."""
    gated = lambda kind, x, off: x if gates is None else jnp.where(gates[kind], x, off)
    proj = lambda name: nn.DenseGeneral((self.heads, self.head_dim), name=name)
    q_BxTxHxK, k_BxTxHxK, v_BxTxHxK = (proj(n)(y_BxTxD) for n in ("query", "key", "value"))
    if "rotary" in self.encodings:
      q_BxTxHxK = gated("rotary", rotary(q_BxTxHxK, positions_BxT), q_BxTxHxK)
      k_BxTxHxK = gated("rotary", rotary(k_BxTxHxK, positions_BxT), k_BxTxHxK)
    if isinstance(mask_BxTxT, KeyMask):
      rel = self._relative_params(y_BxTxD) if "relative" in self.encodings else None
      b_BxRxHxK = self._attend_rows(q_BxTxHxK, k_BxTxHxK, v_BxTxHxK, mask_BxTxT, positions_BxT,
                                    gates, rows_BxR, rel)
      return nn.DenseGeneral(self.width, axis=(-2, -1), name="out")(b_BxRxHxK)
    scores_BxHxTxT = jnp.einsum("bqhk,bshk->bhqs", q_BxTxHxK, k_BxTxHxK) / jnp.sqrt(
        jnp.asarray(self.head_dim, q_BxTxHxK.dtype))
    biases = []
    if "alibi" in self.encodings:
      biases.append(gated("alibi", alibi_bias(positions_BxT, self.heads).astype(
          scores_BxHxTxT.dtype), 0.0))
    if "relative" in self.encodings:
      biases.append(gated("relative", self._relative_scores(
          y_BxTxD, q_BxTxHxK, k_BxTxHxK, positions_BxT), 0.0))
    bias_BxHxTxT = sum(biases[1:], biases[0]) if biases else None
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

  def _relative_params(self, y_BxTxD):
    """(W_r R over the 2T - 1 signed distances -(T-1)..T-1 [R, H, K], u [H, K], v [H, K])."""
    from limits.models import positional
    span = y_BxTxD.shape[1] - 1
    table = positional.sinusoidal_signed(span, y_BxTxD.shape[-1]).astype(y_BxTxD.dtype)
    r_RxHxK = nn.DenseGeneral((self.heads, self.head_dim), use_bias=False,
                              name="relative")(table)                   # R = 2T - 1 distances
    u_HxK = self.param("relative_u", nn.initializers.zeros, (self.heads, self.head_dim))
    v_HxK = self.param("relative_v", nn.initializers.zeros, (self.heads, self.head_dim))
    return r_RxHxK, u_HxK, v_HxK

  def _relative_scores(self, y_BxTxD, q_BxTxHxK, k_BxTxHxK, positions_BxT):
    """Transformer-XL's position terms (Dai et al. 2019, eq. 3 terms b-d without the
    content term a): u.k_j + (q_i + v).W_r R_{i-j}, R the sinusoidal encoding of the
    signed distance i - j (keys on both sides: an unmasked encoder), scaled like a_ij."""
    return relative_scores(q_BxTxHxK, k_BxTxHxK, positions_BxT, positions_BxT,
                           self._relative_params(y_BxTxD))

  def _attend_rows(self, q_BxTxHxK, k_BxTxHxK, v_BxTxHxK, mask: KeyMask, positions_BxT,
                   gates, rows_BxR, rel):
    """b [B, R, H, K] for the query rows `rows_BxR` (default all), `query_chunk` rows at a
    time; sows the per-head statistics (class docstring)."""
    B, T, H, K = q_BxTxHxK.shape
    gated = lambda kind, x, off: x if gates is None else jnp.where(gates[kind], x, off)
    if rows_BxR is None:
      rows_BxR = jnp.broadcast_to(jnp.arange(T, dtype=jnp.int32), (B, T))
    r = rows_BxR.shape[1]
    c = min(self.query_chunk or r, r)
    n = -(-r // c)
    pad_BxR = jnp.pad(rows_BxR, ((0, 0), (0, n * c - r)), mode="edge")  # repeats, not counted
    real_BxR = (jnp.arange(n * c) < r)[None] & jnp.take_along_axis(mask.ok_BxT, pad_BxR, 1)
    split = lambda x: jnp.moveaxis(x.reshape(B, n, c), 1, 0)               # [N, B, C]
    scale = jnp.sqrt(jnp.asarray(self.head_dim, q_BxTxHxK.dtype))
    head_kinds = tuple(self.head_mask_kinds)

    def chunk(args):
      rows_BxC, real_BxC = args
      q_BxCxHxK = jnp.take_along_axis(q_BxTxHxK, rows_BxC[:, :, None, None], 1)
      qpos_BxC = jnp.take_along_axis(positions_BxT, rows_BxC, 1)
      scores_BxHxCxT = jnp.einsum("bqhk,bshk->bhqs", q_BxCxHxK, k_BxTxHxK) / scale
      if "alibi" in self.encodings:
        scores_BxHxCxT = scores_BxHxCxT + gated("alibi", alibi_bias(
            positions_BxT, self.heads, qpos_BxC).astype(scores_BxHxCxT.dtype), 0.0)
      if rel is not None:
        scores_BxHxCxT = scores_BxHxCxT + gated("relative", relative_scores(
            q_BxCxHxK, k_BxTxHxK, qpos_BxC, positions_BxT, rel), 0.0)
      mask_BxCxT = jnp.broadcast_to(mask.ok_BxT[:, None, :], (B, c, T))
      if mask.causal:
        mask_BxCxT = mask_BxCxT & (jnp.arange(T)[None, None, :] <= rows_BxC[:, :, None])
      mask_BxHxCxT = mask_BxCxT[:, None]
      if any(m != "all" for m in head_kinds):
        mask_BxHxCxT = mask_BxHxCxT & row_head_masks(head_kinds, self.heads, rows_BxC, T)
      w_BxHxCxT = attention_weights(scores_BxHxCxT, mask_BxHxCxT, self.kind, self.temperature,
                                    self.saturate)
      b_BxCxHxK = jnp.einsum("bhqs,bshk->bqhk", w_BxHxCxT, v_BxTxHxK)
      logit_BxHxCxT = scores_BxHxCxT * self.temperature
      if self.kind == "scaled":
        keys = jnp.sum(jnp.broadcast_to(mask_BxHxCxT, logit_BxHxCxT.shape), -1, keepdims=True)
        logit_BxHxCxT = logit_BxHxCxT * jnp.log(jnp.maximum(keys, 1).astype(logit_BxHxCxT.dtype))
      use = mask_BxHxCxT & real_BxC[:, None, :, None]
      ent_BxHxC = -jnp.sum(jnp.where(w_BxHxCxT > 0, w_BxHxCxT * jnp.log(
          jnp.maximum(w_BxHxCxT, 1e-30)), 0.0), -1)
      stats = {"max_logit": jnp.max(jnp.where(use, jnp.abs(logit_BxHxCxT), 0.0), (2, 3)),
               "max_weight": jnp.max(jnp.where(use, w_BxHxCxT, 0.0), (2, 3)),
               "entropy_sum": jnp.sum(jnp.where(real_BxC[:, None], ent_BxHxC, 0.0), 2),
               "q_norm": jnp.max(jnp.where(real_BxC[..., None], jnp.linalg.norm(q_BxCxHxK, axis=-1),
                                           0.0), 1)}
      return b_BxCxHxK, stats

    b_NxBxCxHxK, stats = jax.lax.map(chunk, (split(pad_BxR), split(real_BxR)))
    for name, v_NxBxH in stats.items():
      self.sow("intermediates", name, jnp.sum(v_NxBxH, 0) if name == "entropy_sum"
               else jnp.max(v_NxBxH, 0))
    key_norm = lambda x: jnp.max(jnp.where(mask.ok_BxT[..., None], jnp.linalg.norm(x, axis=-1),
                                           0.0), 1)
    self.sow("intermediates", "k_norm", key_norm(k_BxTxHxK))
    self.sow("intermediates", "v_norm", key_norm(v_BxTxHxK))
    self.sow("intermediates", "rows", jnp.broadcast_to(
        jnp.sum(real_BxR, 1, dtype=jnp.float32)[:, None], (B, H)))
    return jnp.moveaxis(b_NxBxCxHxK, 0, 1).reshape(B, n * c, H, K)[:, :r]


def relative_scores(q_BxQxHxK, k_BxTxHxK, qpos_BxQ, kpos_BxT, rel) -> jax.Array:
  """[B, H, Q, T]: Transformer-XL's position terms (`MultiHeadAttention._relative_scores`)
  for queries at positions `qpos`; `rel` = (W_r R [2T - 1, H, K], u, v)."""
  r_RxHxK, u_HxK, v_HxK = rel
  B, Q, H, K = q_BxQxHxK.shape
  T = k_BxTxHxK.shape[1]
  span = T - 1
  d_BxQxT = qpos_BxQ[:, :, None] - kpos_BxT[:, None, :]
  content_BxHxT = jnp.einsum("hk,bshk->bhs", u_HxK.astype(k_BxTxHxK.dtype), k_BxTxHxK)
  pos_BxHxQxR = jnp.einsum("bqhk,rhk->bhqr", q_BxQxHxK + v_HxK.astype(q_BxQxHxK.dtype),
                           r_RxHxK)
  idx_BxQxT = jnp.clip(d_BxQxT + span, 0, 2 * span)
  pos_BxHxQxT = jnp.take_along_axis(
      pos_BxHxQxR, jnp.broadcast_to(idx_BxQxT[:, None], (B, H, Q, T)), axis=-1)
  return (content_BxHxT[:, :, None, :] + pos_BxHxQxT) / jnp.sqrt(
      jnp.asarray(K, q_BxQxHxK.dtype))
