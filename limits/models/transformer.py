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
  # Set only on a population's max model whose members differ in `positional`
  # (sweep.positionals): every encoding listed is built and each member uses its own
  # (`Transformer.positional_choice`, replaced per member by population.py). Never in a
  # config file: population.max_model_config sets it.
  positional_mix: tuple[str, ...] = ()

  @property
  def head_dim(self) -> int:
    return self.key_dim or self.width // self.heads

  @property
  def encodings(self) -> tuple[str, ...]:
    """Every positional encoding this model builds (one, or a population's mix)."""
    return self.positional_mix or (self.positional,)


class Block(nn.Module):
  """One layer: y <- y + Attn(y); y <- y + FFN(y) (f_act with residual)."""

  cfg: ModelConfig
  query_chunk: int = 0   # attention in query chunks of this many rows (KeyMask path only)

  @nn.compact
  def __call__(self, y_BxTxD: jax.Array, mask_BxTxT: jax.Array | attention.KeyMask,
               positions_BxT: jax.Array | None = None,
               gates: dict[str, jax.Array] | None = None,
               rows_BxR: jax.Array | None = None) -> jax.Array:
    """y^(l+1)_BxTxD. With an `attention.KeyMask`: the rows `rows_BxR` only ([B, R, D],
    default every row), and each of the two layer norms' largest gain 1/sqrt(var + eps)
    over valid rows sown as `ln_gain` (float32[B, 2]; 1 where no layer norm acts)."""
    c = self.cfg
    by_rows = isinstance(mask_BxTxT, attention.KeyMask)
    if by_rows:
      ok_BxT = mask_BxTxT.ok_BxT
      ok_BxR = ok_BxT if rows_BxR is None else jnp.take_along_axis(ok_BxT, rows_BxR, 1)
      gain_2 = [jnp.ones(y_BxTxD.shape[:1], jnp.float32)] * 2

    def norm(name, x, ok=None, slot=0):
      if by_rows:
        gain_2[slot] = layer_norm_gain(x, c.ln_eps, ok)
      return nn.LayerNorm(epsilon=c.ln_eps, name=name)(x)

    h = norm("ln_att", y_BxTxD, ok_BxT if by_rows else None) if c.layer_norm == "pre" else y_BxTxD
    att = attention.MultiHeadAttention(
        c.heads, c.head_dim, c.width, c.attention, c.temperature, c.saturate,
        tuple(c.head_masks),
        tuple(k for k in c.encodings if k in positional.ATTENTION_ONLY), self.query_chunk,
        name="attention")
    if by_rows:
      if rows_BxR is not None:
        y_BxTxD = jnp.take_along_axis(y_BxTxD, rows_BxR[:, :, None], 1)
      y_BxTxD = y_BxTxD + att(h, mask_BxTxT, positions_BxT, gates, rows_BxR)
    else:
      y_BxTxD = y_BxTxD + att(h, mask_BxTxT, positions_BxT, gates)
    ok = ok_BxR if by_rows else None
    if c.layer_norm == "post":
      y_BxTxD = norm("ln_att", y_BxTxD, ok)
    h = norm("ln_ffn", y_BxTxD, ok, 1) if c.layer_norm == "pre" else y_BxTxD
    h = nn.Dense(c.width, name="ffn_out")(nn.relu(nn.Dense(c.mlp_width, name="ffn_in")(h)))
    y_BxTxD = y_BxTxD + h
    if c.layer_norm == "post":
      y_BxTxD = norm("ln_ffn", y_BxTxD, ok, 1)
    if by_rows:
      self.sow("intermediates", "ln_gain", jnp.stack(gain_2, -1))
    return y_BxTxD


def layer_norm_gain(x_BxTxD: jax.Array, eps: float, ok_BxT: jax.Array) -> jax.Array:
  """float32[B]: the largest 1/sqrt(var + eps) over the valid rows, var as
  flax.linen.LayerNorm computes it (the factor that multiplies a row's deviations)."""
  mean = jnp.mean(x_BxTxD, -1)
  var = jnp.maximum(0.0, jnp.mean(x_BxTxD * x_BxTxD, -1) - mean * mean)
  return jnp.max(jnp.where(ok_BxT, jax.lax.rsqrt(var + eps), 0.0), -1).astype(jnp.float32)


class Transformer(nn.Module):
  """Encoder + readout. `task` selects recognition or next-symbol prediction."""

  cfg: ModelConfig
  vocab_size: int
  num_classes: int
  pad_id: int
  task: str = "recognition"
  query_chunk: int = 0   # `readout_features`: attention in query chunks of this many rows

  def setup(self):
    c = self.cfg
    self.embed = nn.Embed(self.vocab_size, c.width, name="embed")
    self.blocks = [Block(c, self.query_chunk, name=f"layer_{l}") for l in range(c.depth)]
    self.final_ln = (nn.LayerNorm(epsilon=c.ln_eps) if c.layer_norm in ("pre", "final")
                     else None)
    if "learned" in c.encodings:
      self.pos_embed = nn.Embed(c.max_positions, c.width, name="pos_embed")
    self.readout = nn.Dense(self.num_classes, name="readout")

  def positional_choice(self) -> jax.Array:
    """int32[]: which entry of `cfg.positional_mix` this call uses. Always the first here;
    a population replaces the call with each member's own (population._interceptor)."""
    return jnp.zeros((), jnp.int32)

  def positional_gates(self) -> dict[str, jax.Array] | None:
    """For a mixed model, one bool[] per encoding (True for the one in use); else None."""
    mix = self.cfg.positional_mix
    if not mix:
      return None
    choice = self.positional_choice()
    return {kind: choice == i for i, kind in enumerate(mix)}

  def embed_positions(self, tokens_BxT: jax.Array, valid_BxT: jax.Array,
                      gates: dict[str, jax.Array] | None = None) -> tuple[jax.Array, jax.Array]:
    """(y^(0)_BxTxD, positions_BxT): word + positional embedding, positions from 0."""
    c = self.cfg
    b, t = tokens_BxT.shape
    x_BxTxD = self.embed(tokens_BxT)
    positions_BxT = jnp.broadcast_to(jnp.arange(t, dtype=jnp.int32), (b, t))
    if gates is not None:   # a population's mix (none, sinusoidal, learned, rotary, alibi, relative)
      for kind in ("sinusoidal", "learned"):
        if kind in gates:
          p_BxTxD = self._added(kind, x_BxTxD, positions_BxT, valid_BxT)
          x_BxTxD = x_BxTxD + jnp.where(gates[kind], p_BxTxD, 0.0)
      return x_BxTxD, positions_BxT
    if c.positional in ("none", "sinusoidal") + positional.ATTENTION_ONLY:
      if c.positional == "sinusoidal":
        x_BxTxD = x_BxTxD + self._added("sinusoidal", x_BxTxD, positions_BxT, valid_BxT)
      return x_BxTxD, positions_BxT
    if c.positional == "cc":
      return x_BxTxD + positional.cc(valid_BxT, c.width, x_BxTxD.dtype), positions_BxT
    if c.positional == "learned":
      return x_BxTxD + self._added("learned", x_BxTxD, positions_BxT, valid_BxT), positions_BxT
    if c.positional == "randomized":
      key = (self.make_rng("positions") if self.has_rng("positions") else jax.random.key(0))
      positions_BxT = positional.randomized_positions(key, valid_BxT, c.max_positions)
      table = positional.sinusoidal(c.max_positions, c.width).astype(x_BxTxD.dtype)
      return x_BxTxD + table[positions_BxT], positions_BxT
    raise ValueError(f"model.positional: unknown encoding {c.positional!r}; allowed: "
                     f"{', '.join(positional.POSITIONAL)}")

  def _added(self, kind: str, x_BxTxD: jax.Array, positions_BxT: jax.Array,
             valid_BxT: jax.Array) -> jax.Array:
    """The term a position-table encoding (sinusoidal, learned) adds to the embedding."""
    c = self.cfg
    if kind == "sinusoidal":
      return positional.sinusoidal(x_BxTxD.shape[1], c.width)[None].astype(x_BxTxD.dtype)
    if kind == "learned":
      p_BxTxD = self.pos_embed(jnp.minimum(positions_BxT, c.max_positions - 1))
      beyond_BxT = (positions_BxT >= c.max_positions) & valid_BxT
      return jnp.where(beyond_BxT[..., None], jnp.nan, p_BxTxD)
    raise ValueError(f"positional table {kind!r}: only sinusoidal and learned add a table")

  def encode(self, tokens_BxT: jax.Array, mask_BxTxT: jax.Array) -> jax.Array:
    """y^(L)_BxTxD given a query x key mask (True = may attend)."""
    valid_BxT = tokens_BxT != self.pad_id
    gates = self.positional_gates()
    y_BxTxD, positions_BxT = self.embed_positions(tokens_BxT, valid_BxT, gates)
    for block in self.blocks:
      y_BxTxD = block(y_BxTxD, mask_BxTxT, positions_BxT, gates)
    if self.final_ln is not None:
      y_BxTxD = self.final_ln(y_BxTxD)
    return y_BxTxD

  def readout_features(self, tokens_BxT: jax.Array, readout_B: jax.Array) -> jax.Array:
    """y^(L)_BxD at `readout_B` (y_n^(L) in Hahn 2020 §3 when read at EOS): what `readout`
    maps to the logits `__call__` gives there (prediction: those of position readout_B).

    Layers below L compute every query, layer L only the readout query, each in chunks of
    `query_chunk` rows with masks never built as T x T (`attention.KeyMask`), so memory
    is linear in T: the probes' forward pass at n in the thousands. Sows the attention
    statistics and layer-norm gains (`MultiHeadAttention`, `Block`) and `final_ln_gain`
    (float32[B]) into `intermediates`.
    """
    b, t = tokens_BxT.shape
    valid_BxT = tokens_BxT != self.pad_id
    causal = self.task == "prediction" and self.cfg.causal
    ok_BxT = valid_BxT
    if self.task == "prediction" and not causal:   # the prefix copy read at readout_B
      ok_BxT = valid_BxT & (jnp.arange(t)[None, :] <= readout_B[:, None])
    mask = attention.KeyMask(ok_BxT, causal)
    gates = self.positional_gates()
    y_BxTxD, positions_BxT = self.embed_positions(tokens_BxT, valid_BxT, gates)
    for l, block in enumerate(self.blocks):
      last = l == len(self.blocks) - 1
      y_BxTxD = block(y_BxTxD, mask, positions_BxT, gates, readout_B[:, None] if last else None)
    y_BxD = y_BxTxD[:, 0] if self.blocks else jnp.take_along_axis(
        y_BxTxD, readout_B[:, None, None], axis=1)[:, 0]
    if self.final_ln is not None:
      self.sow("intermediates", "final_ln_gain",
               layer_norm_gain(y_BxD[:, None], self.cfg.ln_eps, jnp.ones((b, 1), bool)))
      y_BxD = self.final_ln(y_BxD)
    return y_BxD

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
