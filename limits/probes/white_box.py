"""The restriction probe's white box (`limits.probes.restriction`), hard attention only:
the readout's dependency cone under each completion, and inputs fixed one at a time until
every head in the cone attends to the same position on every completion ("committed").

Letters: K completions, N string length n, V alphabet size, A anchors (planted members),
B strings, T tokens, H heads, L layers.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from limits.probes import members as members_lib
from limits.probes.subcube import Config, _chunked, _complete


def white_box_applies(mem: members_lib.Member, task: str) -> bool:
  return (mem.is_transformer and mem.cfg.attention in ("hard_unique", "hard_average")
          and task == "recognition")


def _attention(mem: members_lib.Member, lang, params, sym_BxN: jax.Array) -> jax.Array:
  """bool[B, L, H, T, T]: which keys each head's query attends to (weight > 0)."""
  tokens, readout, _ = members_lib.task_tokens(lang, "recognition", sym_BxN)
  _, state = mem.module.apply(params, tokens, readout, mutable=["intermediates"])
  inter = state["intermediates"]
  att = [inter[f"layer_{l}"]["attention"]["attention"][0] for l in range(mem.cfg.depth)]
  return jnp.stack(att, 1) > 0


def _cone(att_BxLxHxTxT: jax.Array, readout: int) -> tuple[jax.Array, jax.Array]:
  """(queries bool[B, L, T], tokens bool[B, T]): per layer, the positions whose layer-l
  output the readout y_n^(L) depends on (through residuals and attended keys), and the
  input tokens it depends on given the attention pattern."""
  b, depth, _, t, _ = att_BxLxHxTxT.shape
  cone = jnp.zeros((b, t), bool).at[:, readout].set(True)
  queries = []
  for l in reversed(range(depth)):
    queries.append(cone)
    reach = jnp.einsum("bq,bhqs->bs", cone.astype(jnp.float32),
                       att_BxLxHxTxT[:, l].astype(jnp.float32)) > 0
    cone = cone | reach
  return jnp.stack(queries[::-1], 1), cone


def make_white_box(mem: members_lib.Member, lang, n: int, cfg: Config):
  """(pattern, commit): the attention pattern over completions, and candidate scores."""
  v, k = lang.n_symbols, cfg.completions
  readout = n  # recognition: x_1..x_n EOS, read at EOS

  def edges_of(params, z_KxN):
    att = _chunked(lambda s: _attention(mem, lang, params, s), z_KxN, max(1, cfg.batch // 8))
    queries, tokens = _cone(att, readout)
    edges = att & queries[:, :, None, :, None]          # [K, L, H, T, T], cone queries only
    return edges, queries, tokens

  @jax.jit
  def pattern(params, fixed_N, vals_N, anchors_AxN, key):
    """(committed, varying (l, h, q) bool[L, H, T], stable queries bool[L, T], cone
    token union bool[T], completions): a head varies when its attended keys differ across
    completions; a query is stable when it is in the cone of every completion."""
    z = _complete(key, fixed_N, vals_N, anchors_AxN, k, v)
    edges, queries, tokens = edges_of(params, z)
    same = jnp.all(edges == edges[:1], axis=0)          # [L, H, T, T]
    varying = ~jnp.all(same, axis=-1)                    # [L, H, T]
    return ~jnp.any(varying), varying, jnp.all(queries, 0), jnp.any(tokens, 0), z

  @jax.jit
  def commit_rate(params, z_KxN, layer, head, query):
    """float[N, V]: fraction of completions on which head (layer, head) at `query`
    attends only position j after x_j := a."""
    sym = jnp.arange(v)
    s = jnp.where(jnp.eye(n, dtype=bool)[:, None, None, :], sym[None, :, None, None],
                  z_KxN[None, None])                     # [N, V, K, N]
    def row(x):
      att = _attention(mem, lang, params, x)             # [b, L, H, T, T]
      return jnp.take(jnp.take(jnp.take(att, layer, 1), head, 1), query, 1)  # [b, T]
    att_q = _chunked(row, s.reshape(-1, n), max(1, cfg.batch // 8)).reshape(n, v, k, -1)
    only = att_q[..., :n] & (jnp.sum(att_q, -1, keepdims=True) == 1)
    return jnp.mean(only[jnp.arange(n), :, :, jnp.arange(n)], axis=-1)  # [N, V]

  return pattern, commit_rate


def white_box(mem, lang, n: int, cfg: Config, anchors_AxN, key) -> dict[str, Any]:
  """Fix inputs until the readout's attention pattern is committed (or budget spent)."""
  pattern, commit_rate = make_white_box(mem, lang, n, cfg)
  budget = n - math.ceil(cfg.fraction * n)
  fixed, vals = np.zeros(n, bool), np.zeros(n, np.int32)
  committed, rounds = False, 0
  for rnd in range(cfg.white_box_rounds + 1):
    kr = jax.random.fold_in(key, rnd)
    ok, varying, stable, cone, z = pattern(mem.params, fixed, vals, anchors_AxN, kr)
    committed, rounds = bool(ok), rnd
    if committed or rnd == cfg.white_box_rounds or fixed.sum() >= budget:
      break
    # Top down: commit a head whose query the readout always depends on (the readout's own
    # heads first), so that the cone below it stops moving; then the layers under it.
    var = np.asarray(varying) & np.asarray(stable)[:, None, :]   # [L, H, T]
    var = var if var.any() else np.asarray(varying)
    ls, hs, qs = np.nonzero(var)
    i = int(np.lexsort((qs, hs, -ls))[0])                # highest layer, then head, query
    l, h, q = int(ls[i]), int(hs[i]), int(qs[i])
    rate = np.array(commit_rate(mem.params, z, l, h, q))  # [N, V]
    rate[fixed] = -1.0
    if rate.max() <= 0:  # no single input commits this head: give up (not committed)
      break
    j, a = np.unravel_index(int(np.argmax(rate)), rate.shape)  # ties: leftmost, first symbol
    fixed[j], vals[j] = True, a
  cone = np.asarray(cone)[:n]
  return {"fixed": fixed, "vals": vals, "committed": committed, "rounds": rounds,
          "cone_free": int(np.sum(cone & ~fixed))}
