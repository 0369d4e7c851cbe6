"""The transformer of Hahn (2020) §3, as a pure Flax linen module.

y^(0)_i = word embedding(x_i) + positional embedding(i); L layers, each H heads of
attention followed by f_act, a feed-forward net, each with a residual connection.
No causal mask and no layer norm by default (the paper's model). The decision is read
from y_n^(L), the last position.

Switches (all in `ModelConfig`, see attention.py and positional.py for the definitions):
  attention    soft | hard_unique (UHAT) | hard_average (AHAT) | scaled (log n logits)
  temperature  inverse temperature of soft/scaled (and of the hard kinds' backward pass)
  saturate     evaluate soft/scaled parameters with AHAT (saturated attention)
  positional   none | sinusoidal | learned | cc | randomized | rotary | alibi | relative
               (+ max_positions)
  layer_norm   none | pre | post | final, with ln_eps >= 0 (0 is allowed: Chiang &
               Cholak's escape). `final` normalises only y^(L) before the readout, the
               one place their construction needs it.
  head_masks   per-head key masks all | past | future (Yao et al. 2021)

Letters: B batch, T positions, D width, C output classes.

Tasks:
  recognition: logits_BxC read at each string's EOS position (`Batch.readout_B`).
  prediction:  logits_BxTxC at every prefix. With `causal=True` one pass with a causal
    mask; with `causal=False` the paper's literal form: each prefix is re-read by the
    unmasked encoder and its last position is read out (T passes' worth of work).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from limits.models import attention, positional

LAYER_NORM = ("none", "pre", "post", "final")
KINDS = ("transformer", "lstm")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Static architecture (frozen: hashable, safe to close over in jit)."""

  depth: int = 2
  heads: int = 4
  width: int = 64
  mlp_width: int = 256
  attention: str = "soft"
  layer_norm: str = "none"
  ln_eps: float = 1e-5
  positional: str = "sinusoidal"
  causal: bool = False   # the paper's model; True: a causal decoder (a labelled extra)
  kind: str = "transformer"
  temperature: float = 1.0
  saturate: bool = False
  max_positions: int = 512
  head_masks: tuple[str, ...] = ()
  key_dim: int = 0  # head width K; 0 means width // heads (populations fix K, see population.py)

  @property
  def head_dim(self) -> int:
    return self.key_dim or self.width // self.heads


class Block(nn.Module):
  """One layer: y <- y + Attn(y); y <- y + FFN(y) (f_act with residual)."""

  cfg: ModelConfig

  @nn.compact
  def __call__(self, y_BxTxD: jax.Array, mask_BxTxT: jax.Array,
               positions_BxT: jax.Array | None = None) -> jax.Array:
    c = self.cfg
    norm = lambda name: nn.LayerNorm(epsilon=c.ln_eps, name=name)
    h = norm("ln_att")(y_BxTxD) if c.layer_norm == "pre" else y_BxTxD
    y_BxTxD = y_BxTxD + attention.MultiHeadAttention(
        c.heads, c.head_dim, c.width, c.attention, c.temperature, c.saturate,
        tuple(c.head_masks), c.positional == "rotary",
        c.positional if c.positional in ("alibi", "relative") else "", name="attention")(
            h, mask_BxTxT, positions_BxT)
    if c.layer_norm == "post":
      y_BxTxD = norm("ln_att")(y_BxTxD)
    h = norm("ln_ffn")(y_BxTxD) if c.layer_norm == "pre" else y_BxTxD
    h = nn.Dense(c.width, name="ffn_out")(nn.relu(nn.Dense(c.mlp_width, name="ffn_in")(h)))
    y_BxTxD = y_BxTxD + h
    if c.layer_norm == "post":
      y_BxTxD = norm("ln_ffn")(y_BxTxD)
    return y_BxTxD


class Transformer(nn.Module):
  """Encoder + readout. `task` selects recognition or next-symbol prediction."""

  cfg: ModelConfig
  vocab_size: int
  num_classes: int
  pad_id: int
  task: str = "recognition"

  def setup(self):
    c = self.cfg
    self.embed = nn.Embed(self.vocab_size, c.width, name="embed")
    self.blocks = [Block(c, name=f"layer_{l}") for l in range(c.depth)]
    self.final_ln = (nn.LayerNorm(epsilon=c.ln_eps) if c.layer_norm in ("pre", "final")
                     else None)
    if c.positional == "learned":
      self.pos_embed = nn.Embed(c.max_positions, c.width, name="pos_embed")
    self.readout = nn.Dense(self.num_classes, name="readout")

  def embed_positions(self, tokens_BxT: jax.Array, valid_BxT: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(y^(0)_BxTxD, positions_BxT): word + positional embedding, positions from 0."""
    c = self.cfg
    b, t = tokens_BxT.shape
    x_BxTxD = self.embed(tokens_BxT)
    positions_BxT = jnp.broadcast_to(jnp.arange(t, dtype=jnp.int32), (b, t))
    if c.positional in ("none", "sinusoidal") + positional.ATTENTION_ONLY:
      if c.positional == "sinusoidal":
        x_BxTxD = x_BxTxD + positional.sinusoidal(t, c.width)[None].astype(x_BxTxD.dtype)
      return x_BxTxD, positions_BxT
    if c.positional == "cc":
      return x_BxTxD + positional.cc(valid_BxT, c.width, x_BxTxD.dtype), positions_BxT
    if c.positional == "learned":
      p_BxTxD = self.pos_embed(jnp.minimum(positions_BxT, c.max_positions - 1))
      beyond_BxT = (positions_BxT >= c.max_positions) & valid_BxT
      return x_BxTxD + jnp.where(beyond_BxT[..., None], jnp.nan, p_BxTxD), positions_BxT
    if c.positional == "randomized":
      key = (self.make_rng("positions") if self.has_rng("positions") else jax.random.key(0))
      positions_BxT = positional.randomized_positions(key, valid_BxT, c.max_positions)
      table = positional.sinusoidal(c.max_positions, c.width).astype(x_BxTxD.dtype)
      return x_BxTxD + table[positions_BxT], positions_BxT
    raise ValueError(f"model.positional: unknown encoding {c.positional!r}; allowed: "
                     f"{', '.join(positional.POSITIONAL)}")

  def encode(self, tokens_BxT: jax.Array, mask_BxTxT: jax.Array) -> jax.Array:
    """y^(L)_BxTxD given a query x key mask (True = may attend)."""
    valid_BxT = tokens_BxT != self.pad_id
    y_BxTxD, positions_BxT = self.embed_positions(tokens_BxT, valid_BxT)
    for block in self.blocks:
      y_BxTxD = block(y_BxTxD, mask_BxTxT, positions_BxT)
    if self.final_ln is not None:
      y_BxTxD = self.final_ln(y_BxTxD)
    return y_BxTxD

  def __call__(self, tokens_BxT: jax.Array, readout_B: jax.Array) -> jax.Array:
    """Recognition: logits_BxC at `readout_B`; prediction: logits_BxTxC."""
    b, t = tokens_BxT.shape
    key_ok_BxT = tokens_BxT != self.pad_id
    if self.task == "recognition":
      mask_BxTxT = jnp.broadcast_to(key_ok_BxT[:, None, :], (b, t, t))
      y_BxTxD = self.encode(tokens_BxT, mask_BxTxT)
      y_BxD = jnp.take_along_axis(y_BxTxD, readout_B[:, None, None], axis=1)[:, 0]
      return self.readout(y_BxD)
    if self.cfg.causal:
      causal_TxT = jnp.tril(jnp.ones((t, t), bool))
      y_BxTxD = self.encode(tokens_BxT, causal_TxT[None] & key_ok_BxT[:, None, :])
      return self.readout(y_BxTxD)
    # Paper's literal form: copy p of each string sees keys 0..p only, read at p.
    prefix_TxT = jnp.tril(jnp.ones((t, t), bool))  # [p, j]: key j inside prefix p
    mask_BTxTxT = (prefix_TxT[None, :, None, :] & key_ok_BxT[:, None, None, :])
    mask_BTxTxT = jnp.broadcast_to(mask_BTxTxT, (b, t, t, t)).reshape(b * t, t, t)
    tokens_BTxT = jnp.repeat(tokens_BxT, t, axis=0)
    y_BxTxTxD = self.encode(tokens_BTxT, mask_BTxTxT).reshape(b, t, t, -1)
    y_BxTxD = jnp.einsum("bppd->bpd", y_BxTxTxD)  # diagonal: prefix p read at p
    return self.readout(y_BxTxD)
