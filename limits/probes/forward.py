"""The transformer's forward pass with attention in query chunks, and what it measures.

Lemma 5 probes need y_n^(L) (Hahn 2020 §3) at n up to thousands, and the attention
logits, weights and activation norms that enter the lemma's constants. The Flax module
materialises every T x T attention matrix; here each layer's queries are processed in
chunks of `chunk` rows under `lax.map`, so memory is O(chunk * T) per head, and the last
layer computes only the query at the readout position (all that y_n^(L) needs). The
arithmetic mirrors `limits.models.Transformer` exactly (same parameters, same
`attention.attention_weights`); tests/test_probes.py checks it against `model.apply`.

One unpadded string at a time (vmap or `lax.map` over strings outside). Supported:
every attention kind, head masks, causal masks, layer norm none/pre/post/final, and the
positional encodings none/sinusoidal/learned/cc/rotary (randomized positions depend on
the batch row inside the module, so they have no per-string mirror).

Letters: T positions, D width, H heads, K head width, C query chunk, F FFN width.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from limits.models import attention as attention_lib
from limits.models import positional
from limits.models.transformer import ModelConfig

SUPPORTED_POSITIONAL = ("none", "sinusoidal", "learned", "cc", "rotary")


def check_supported(cfg: ModelConfig) -> None:
  """ValueError if the chunked forward cannot mirror this model."""
  if cfg.kind != "transformer":
    raise ValueError(f"model.kind: {cfg.kind} has no attention; this probe needs a transformer")
  if cfg.positional not in SUPPORTED_POSITIONAL:
    raise ValueError(f"model.positional: {cfg.positional} is not supported by the chunked "
                     f"forward; supported: {', '.join(SUPPORTED_POSITIONAL)}")


def layer_norm(p: dict, x_TxD: jax.Array, eps: float) -> tuple[jax.Array, jax.Array]:
  """(LN(x), gain_T) as flax.linen.LayerNorm computes it; gain = 1/sqrt(var + eps)."""
  mean = jnp.mean(x_TxD, -1, keepdims=True)
  var = jnp.maximum(0.0, jnp.mean(x_TxD * x_TxD, -1, keepdims=True) - mean * mean)
  gain = jax.lax.rsqrt(var + eps)
  return (x_TxD - mean) * (gain * p["scale"]) + p["bias"], gain[..., 0]


def embed(cfg: ModelConfig, params: dict, tokens_T: jax.Array) -> jax.Array:
  """y^(0)_TxD: word + positional embedding (no padding: every token is valid)."""
  p = params["params"]
  t = tokens_T.shape[0]
  y_TxD = p["embed"]["embedding"][tokens_T]
  if cfg.positional == "sinusoidal":
    y_TxD = y_TxD + positional.sinusoidal(t, cfg.width).astype(y_TxD.dtype)
  elif cfg.positional == "cc":
    y_TxD = y_TxD + positional.cc(jnp.ones((1, t), bool), cfg.width, y_TxD.dtype)[0]
  elif cfg.positional == "learned":
    if t > cfg.max_positions:
      raise ValueError(f"model.max_positions: learned positions cover {cfg.max_positions}, "
                       f"a string needs {t}")
    y_TxD = y_TxD + p["pos_embed"]["embedding"][:t]
  return y_TxD


def _attend(cfg: ModelConfig, att: dict, h_TxD: jax.Array, rows: jax.Array, row_ok: jax.Array,
            causal: bool):
  """Multi-head attention output for query positions `rows` (int32[R]), and its stats.

  Returns (out_RxD, stats) with stats per head (float32[H]): max |logit| (the softmax's
  input, temperature and log n scaling included), max weight, summed row entropy (nats),
  and the max norms of the queries, keys and values that entered.
  """
  t = h_TxD.shape[0]
  k_dim = att["query"]["kernel"].shape[-1]
  proj = lambda name, x: jnp.einsum("td,dhk->thk", x, att[name]["kernel"]) + att[name]["bias"]
  k_TxHxK, v_TxHxK = proj("key", h_TxD), proj("value", h_TxD)
  positions_T = jnp.arange(t)
  if cfg.positional == "rotary":
    k_TxHxK = attention_lib.rotary(k_TxHxK[None], positions_T[None])[0]
  kinds = tuple(cfg.head_masks) + ("all",) * (cfg.heads - len(cfg.head_masks))
  scale = 1.0 / jnp.sqrt(jnp.asarray(k_dim, h_TxD.dtype))

  def chunk(args):
    rows_C, ok_C = args
    q_CxHxK = proj("query", h_TxD[rows_C])
    if cfg.positional == "rotary":
      q_CxHxK = attention_lib.rotary(q_CxHxK[None], rows_C[None])[0]
    scores_HxCxT = jnp.einsum("chk,thk->hct", q_CxHxK, k_TxHxK) * scale
    qi, kj = rows_C[:, None], positions_T[None, :]
    base_CxT = (kj <= qi) if causal else jnp.ones((rows_C.shape[0], t), bool)
    table = {"all": base_CxT, "past": base_CxT & (kj < qi), "future": base_CxT & (kj > qi)}
    mask_HxCxT = jnp.stack([table[kinds[h]] for h in range(cfg.heads)])
    w_HxCxT = attention_lib.attention_weights(scores_HxCxT, mask_HxCxT, cfg.attention,
                                              cfg.temperature, cfg.saturate)
    out_CxD = jnp.einsum("chk,hkd->cd", jnp.einsum("hct,thk->chk", w_HxCxT, v_TxHxK),
                         att["out"]["kernel"]) + att["out"]["bias"]
    logit_HxCxT = scores_HxCxT * cfg.temperature
    if cfg.attention == "scaled":
      n_keys = jnp.maximum(jnp.sum(mask_HxCxT, -1, keepdims=True), 1).astype(logit_HxCxT.dtype)
      logit_HxCxT = logit_HxCxT * jnp.log(n_keys)
    use_HxCxT = mask_HxCxT & ok_C[None, :, None]
    ent_HxC = -jnp.sum(jnp.where(w_HxCxT > 0, w_HxCxT * jnp.log(jnp.maximum(w_HxCxT, 1e-30)), 0.0), -1)
    stats = {"max_logit": jnp.max(jnp.where(use_HxCxT, jnp.abs(logit_HxCxT), 0.0), axis=(1, 2)),
             "max_weight": jnp.max(jnp.where(use_HxCxT, w_HxCxT, 0.0), axis=(1, 2)),
             "entropy_sum": jnp.sum(jnp.where(ok_C[None], ent_HxC, 0.0), 1),
             "q_norm": jnp.max(jnp.where(ok_C[:, None], jnp.linalg.norm(q_CxHxK, axis=-1), 0.0), 0)}
    return out_CxD, stats

  out_NxCxD, stats = jax.lax.map(chunk, (rows, row_ok))
  stats = {k: (jnp.sum(v, 0) if k == "entropy_sum" else jnp.max(v, 0)) for k, v in stats.items()}
  stats["k_norm"] = jnp.max(jnp.linalg.norm(k_TxHxK, axis=-1), 0)
  stats["v_norm"] = jnp.max(jnp.linalg.norm(v_TxHxK, axis=-1), 0)
  stats["rows"] = jnp.sum(row_ok).astype(jnp.float32) * jnp.ones((cfg.heads,))
  return out_NxCxD.reshape(-1, out_NxCxD.shape[-1]), stats


def readout_activation(cfg: ModelConfig, params: Any, tokens_T: jax.Array, chunk: int = 128,
                       causal: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
  """(y_n^(L) as float[D], stats) for one unpadded string read at its last position.

  stats: per layer (leading axis L) and head: `max_logit` (A of Lemma 5 for the rows
  computed), `max_weight`, `entropy_sum`/`rows` (mean attention entropy in nats), and
  `q_norm`/`k_norm`/`v_norm` (largest norms); `ln_gain` float[L, 2] (largest 1/sqrt(var
  + eps) of the layer's two layer norms, 1 without) and `final_ln_gain`. Layers below L
  compute every query (chunked); layer L only the readout query.
  """
  check_supported(cfg)
  p = params["params"]
  t = tokens_T.shape[0]
  c = max(1, min(chunk, t))
  padded = -(-t // c) * c
  all_rows = jnp.minimum(jnp.arange(padded), t - 1).reshape(-1, c)
  all_ok = (jnp.arange(padded) < t).reshape(-1, c)
  last_rows, last_ok = jnp.full((1, 1), t - 1), jnp.ones((1, 1), bool)
  y_TxD = embed(cfg, params, tokens_T)
  per_layer = []
  one = jnp.ones((), y_TxD.dtype)
  for l in range(cfg.depth):
    blk = p[f"layer_{l}"]
    last = l == cfg.depth - 1
    rows, ok = (last_rows, last_ok) if last else (all_rows, all_ok)
    gains = [one, one]
    h = y_TxD
    if cfg.layer_norm == "pre":
      h, g = layer_norm(blk["ln_att"], y_TxD, cfg.ln_eps)
      gains[0] = jnp.max(g)
    out_RxD, st = _attend(cfg, blk["attention"], h, rows, ok, causal)
    z_RxD = y_TxD[rows.reshape(-1)] + out_RxD
    if cfg.layer_norm == "post":
      z_RxD, g = layer_norm(blk["ln_att"], z_RxD, cfg.ln_eps)
      gains[0] = jnp.max(jnp.where(ok.reshape(-1), g, 0.0))
    h = z_RxD
    if cfg.layer_norm == "pre":
      h, g = layer_norm(blk["ln_ffn"], z_RxD, cfg.ln_eps)
      gains[1] = jnp.max(jnp.where(ok.reshape(-1), g, 0.0))
    f = jax.nn.relu(h @ blk["ffn_in"]["kernel"] + blk["ffn_in"]["bias"])
    z_RxD = z_RxD + f @ blk["ffn_out"]["kernel"] + blk["ffn_out"]["bias"]
    if cfg.layer_norm == "post":
      z_RxD, g = layer_norm(blk["ln_ffn"], z_RxD, cfg.ln_eps)
      gains[1] = jnp.max(jnp.where(ok.reshape(-1), g, 0.0))
    y_TxD = z_RxD if last else z_RxD[:t]
    per_layer.append({**st, "ln_gain": jnp.stack(gains)})
  y_D = y_TxD[-1] if cfg.depth else y_TxD[t - 1]
  final_gain = one
  if cfg.layer_norm in ("pre", "final"):
    y_1xD, g = layer_norm(p["final_ln"], y_D[None], cfg.ln_eps)
    y_D, final_gain = y_1xD[0], g[0]
  stats = {k: jnp.stack([s[k] for s in per_layer]) for k in per_layer[0]} if per_layer else {}
  stats["final_ln_gain"] = final_gain
  return y_D, stats


def batched(cfg: ModelConfig, params: Any, tokens_BxT: jax.Array, chunk: int = 128,
            causal: bool = False, batch: int = 8) -> tuple[jax.Array, dict[str, jax.Array]]:
  """`readout_activation` over strings (y_BxD, stats with a leading B), `batch` at a time."""
  fn = lambda tok: readout_activation(cfg, params, tok, chunk, causal)
  return jax.lax.map(fn, tokens_BxT, batch_size=min(batch, tokens_BxT.shape[0]))
